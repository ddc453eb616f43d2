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
//! - A comparison on a missing field is false (`NOT f = x` matches entries
//!   without `f`); `f:*` tests presence. `severity` is the exception: unset
//!   means `DEFAULT`, as in the LogEntry reference.
//! - Case-insensitive string comparison for `=`, `!=`, `:` and ordering, per
//!   Google's note that the language is case-insensitive except for regular
//!   expressions and the boolean operators. `:` is a substring test and, on
//!   an object, searches every value beneath it.
//! - Numeric comparison whenever the literal and the field value are both
//!   numbers (JSON numbers or numeric strings, quoted literal or not).
//! - `severity` compared by level (names case-insensitively, or numbers);
//!   `timestamp` / `receiveTimestamp` compared as instants (RFC 3339, or a
//!   bare date / zone-less time read as UTC).
//! - Global restrictions: a bare word or string alone matches when any value
//!   in the entry contains it, case-insensitively.
//! - `--` comments to the end of the line.
//! - Functions `log_id("name")` and `ip_in_net(field, "cidr")`.
//! - An empty filter (or only comments) matches everything, like an empty
//!   sink filter.
//!
//! # Not supported
//! - `SEARCH()`, `sample()`, `cast()`, `regexp_extract()` (rejected with a
//!   [`ParseError`] rather than approximated).
//! - Google's token-based full-text indexing: `:` and global restrictions
//!   are plain substring tests, so they can match where Google's would not.
//! - Relative time expressions and the Logs Explorer's time-range controls.
//! - Field-name aliases (`http_request` for `httpRequest`) and automatic
//!   `protoPayload` type handling; paths are looked up verbatim in the JSON.

mod ast;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

pub use self::ast::FieldPath;

/// A syntax or compile error in a filter, located by 1-based char column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
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
    pub fn matches(&self, entry: &serde_json::Value) -> bool {
        self.root.eval(entry)
    }

    /// The filter text this query was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True for the empty filter, which matches every entry.
    pub fn is_match_all(&self) -> bool {
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
