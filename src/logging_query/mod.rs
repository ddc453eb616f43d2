//! The Cloud Logging query language: parser and in-memory evaluator.
//!
//! Sinks, exclusions and log-based metrics are configured with filters
//! written in the language Google documents at
//! <https://cloud.google.com/logging/docs/view/logging-query-language>.
//! [`Query::parse`] compiles such a filter once; [`Query::matches`] then tests
//! LogEntry objects (as `serde_json::Value`) without allocating.
//!
//! # Supported
//! - Comparisons `=`, `!=`, `<`, `<=`, `>`, `>=`, `:` (has), `=~`, `!~`
//!   (RE2 syntax via the `regex` crate, unanchored search).
//! - `AND`, `OR`, `NOT` (upper case only; lower-case words are search terms),
//!   `-` as a NOT prefix, parentheses, implicit `AND` between adjacent terms.
//!   Precedence is Google's: NOT, then OR, then AND, so `a OR b AND c` means
//!   `(a OR b) AND c`.
//! - Value groups: `resource.type = ("gce_instance" OR "k8s_container")`.
//! - Field paths with dotted and quoted segments (`labels."k8s-pod/app"`).
//!   Array-valued fields match when any element matches.
//! - Field types from the LogEntry reference, resolved at parse time
//!   (`fields`): a path that is not a LogEntry field (`operation.thud`,
//!   `textPayload.thud`, `foo`) is a [`ParseError`] at its column. The
//!   literal is converted to the field's type: string fields compare as
//!   text only (`trace > 100` is lexicographic), numeric fields
//!   numerically (int64 may be a JSON string), booleans as booleans,
//!   `httpRequest.latency` as a Duration (`"1s" > "999ms"`), `timestamp` /
//!   `receiveTimestamp` as instants (RFC 3339, or a bare date / zone-less
//!   time read as UTC), `severity` by level (names or numbers). Payload
//!   values (`jsonPayload.*`, `protoPayload.*`) are typed by their JSON
//!   value: a JSON number numerically, a JSON string as text.
//! - Defaults: an unset proto3 scalar of LogEntry (`trace`, `spanId`,
//!   `insertId`, `httpRequest.status`, `operation.first`, `severity`…)
//!   compares as its default (`""`, `0`, `false`, `DEFAULT`), so
//!   `trace != "x"` matches entries with no trace. Payload fields, map
//!   entries (`labels.*`, `resource.labels.*`), `textPayload` and message
//!   fields (timestamps, `latency`) keep the missing-field rule: every
//!   comparison is false (`NOT f = x` matches entries without `f`); `f:*`
//!   tests presence. `f = NULL_VALUE` matches an explicit JSON null.
//! - Case-insensitive string comparison for `=`, `!=`, `:` and ordering, per
//!   Google's note that the language is case-insensitive except for regular
//!   expressions and the boolean operators. `:` is a substring test and, on
//!   an object, searches every value beneath it.
//! - Global restrictions: a bare word or string alone matches when any value
//!   in the entry contains it, case-insensitively.
//! - `--` comments to the end of the line.
//! - Functions, names in any case: `log_id("name")`,
//!   `ip_in_net(field, "cidr")`, `SEARCH([field,] "query")` (tokens as
//!   BigQuery's LOG_ANALYZER cuts them, backquoted phrases),
//!   `sample(field, fraction)` (FNV-1a of the value), `source(projects/p)`
//!   (by `logName`), `cast(field, STRING[, TIMEZONE("America/New_York")])`
//!   (IANA names, UTC or `±HH:MM`), `cast(field, INT64 | FLOAT64 | BOOL)`
//!   (a value that does not convert does not match) and
//!   `regexp_extract(field, "re")` on the left of a comparison.
//! - An empty filter (or only comments) matches everything, like an empty
//!   sink filter.
//!
//! # Not supported
//! - `cast` to types other than STRING, INT64, FLOAT64 and BOOL (refused,
//!   not approximated).
//! - `source()` of a folder, organization or billing account matches only
//!   entries whose `logName` is under it: the resource hierarchy of a
//!   project is not known here.
//! - `:` and global restrictions are plain substring tests (Google's
//!   index can be token-based), so they can match where Google's would not.
//! - Relative time expressions and the Logs Explorer's time-range controls.
//! - Field-name aliases (`http_request` for `httpRequest`) and automatic
//!   `protoPayload` type handling; payload paths are looked up verbatim.

mod ast;
mod eval;
mod fields;
mod lexer;
mod parser;
mod search;
#[cfg(test)]
mod tests;

/// Duration text (`"1.5s"`, `"150ms"`) to nanoseconds; shared with the
/// agent shaping of `httpRequest.latency`.
pub(crate) use self::ast::parse_duration;
pub(crate) use self::ast::FieldPath;

/// A syntax or compile error in a filter, located by 1-based char column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub(crate) message: String,
}

impl ParseError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        ParseError {
            column,
            message: message.into(),
        }
    }
}

/// A compiled Logging query.
#[derive(Debug, Clone)]
pub struct Query {
    source: String,
    root: ast::Node,
}

impl Query {
    pub fn parse(src: &str) -> Result<Query, ParseError> {
        Ok(Query {
            source: src.to_string(),
            root: parser::parse(src)?,
        })
    }

    /// Whether `entry` (a LogEntry as a JSON object) passes the filter.
    pub(crate) fn matches(&self, entry: &serde_json::Value) -> bool {
        self.root.eval(entry)
    }

    /// The filter text this query was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True for the empty filter, which matches every entry.
    #[cfg(test)]
    pub(crate) fn is_match_all(&self) -> bool {
        matches!(self.root, ast::Node::True)
    }
}

impl std::str::FromStr for Query {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Query::parse(s)
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}
