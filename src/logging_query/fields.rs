//! The LogEntry type as the query language sees it: which paths exist,
//! what type each field has, and whether an absent field compares as its
//! default value.
//!
//! Source: the `LogEntry`, `HttpRequest`, `LogEntryOperation`,
//! `LogEntrySourceLocation`, `LogSplit` and `MonitoredResource` REST
//! references, and the "Logging query language" page (sections
//! "Comparisons", "Values and conversions", "Missing fields"). Paths are
//! resolved once, at parse time, so evaluation only looks values up.
//!
//! Presence follows proto3: scalar fields (strings, numbers, booleans,
//! enums) always have a value, their default when unset, while message
//! fields (`Timestamp`, `Duration`, `Struct`, `Any`), map entries and the
//! members of the payload `oneof` (`textPayload`) are either there or
//! missing. Inside `jsonPayload`, `protoPayload` and the `apphub*`
//! records the fields are the application's own and always follow the
//! missing-field rule.

use super::ParseError;

/// The type a comparison converts its value to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A payload value: typed by the JSON value found at run time.
    Dynamic,
    /// A message (or map) compared as a whole: `:` searches beneath it.
    Message,
    Str,
    Int,
    Bool,
    Duration,
    Timestamp,
    Severity,
}

impl Kind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Dynamic | Kind::Message => "a record",
            Kind::Str => "a string",
            Kind::Int => "a number",
            Kind::Bool => "a boolean",
            Kind::Duration => "a duration",
            Kind::Timestamp => "a timestamp",
            Kind::Severity => "a LogSeverity",
        }
    }
}

/// What a path resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) kind: Kind,
    /// Absent means "equal to the type's default" rather than missing.
    pub(crate) defaulted: bool,
}

impl Resolved {
    pub(crate) const DYNAMIC: Resolved = Resolved {
        kind: Kind::Dynamic,
        defaulted: false,
    };
}

#[derive(Debug, Clone, Copy)]
enum F {
    /// A proto3 scalar: has a default.
    Scalar(Kind),
    /// A field with presence (message-typed or in a oneof).
    Present(Kind),
    Msg(&'static [(&'static str, F)]),
    /// `map<string, string>`: any key, string values, no default.
    StringMap,
    /// Application-defined content.
    Dyn,
}

use Kind::{Bool, Duration, Int, Severity, Str, Timestamp};

const HTTP_REQUEST: &[(&str, F)] = &[
    ("requestMethod", F::Scalar(Str)),
    ("requestUrl", F::Scalar(Str)),
    ("requestSize", F::Scalar(Int)),
    ("status", F::Scalar(Int)),
    ("responseSize", F::Scalar(Int)),
    ("userAgent", F::Scalar(Str)),
    ("remoteIp", F::Scalar(Str)),
    ("serverIp", F::Scalar(Str)),
    ("referer", F::Scalar(Str)),
    ("latency", F::Present(Duration)),
    ("cacheLookup", F::Scalar(Bool)),
    ("cacheHit", F::Scalar(Bool)),
    ("cacheValidatedWithOriginServer", F::Scalar(Bool)),
    ("cacheFillBytes", F::Scalar(Int)),
    ("protocol", F::Scalar(Str)),
];

const OPERATION: &[(&str, F)] = &[
    ("id", F::Scalar(Str)),
    ("producer", F::Scalar(Str)),
    ("first", F::Scalar(Bool)),
    ("last", F::Scalar(Bool)),
];

const SOURCE_LOCATION: &[(&str, F)] = &[
    ("file", F::Scalar(Str)),
    ("line", F::Scalar(Int)),
    ("function", F::Scalar(Str)),
];

const SPLIT: &[(&str, F)] = &[
    ("uid", F::Scalar(Str)),
    ("index", F::Scalar(Int)),
    ("totalSplits", F::Scalar(Int)),
];

const RESOURCE: &[(&str, F)] = &[("type", F::Scalar(Str)), ("labels", F::StringMap)];

const ERROR_GROUP: &[(&str, F)] = &[("id", F::Scalar(Str))];

const LOG_ENTRY: &[(&str, F)] = &[
    ("logName", F::Scalar(Str)),
    ("resource", F::Msg(RESOURCE)),
    ("protoPayload", F::Dyn),
    ("textPayload", F::Present(Str)),
    ("jsonPayload", F::Dyn),
    ("timestamp", F::Present(Timestamp)),
    ("receiveTimestamp", F::Present(Timestamp)),
    ("severity", F::Scalar(Severity)),
    ("insertId", F::Scalar(Str)),
    ("httpRequest", F::Msg(HTTP_REQUEST)),
    ("labels", F::StringMap),
    ("operation", F::Msg(OPERATION)),
    ("trace", F::Scalar(Str)),
    ("spanId", F::Scalar(Str)),
    ("traceSampled", F::Scalar(Bool)),
    ("sourceLocation", F::Msg(SOURCE_LOCATION)),
    ("split", F::Msg(SPLIT)),
    ("errorGroups", F::Msg(ERROR_GROUP)),
    ("apphub", F::Dyn),
    ("apphubDestination", F::Dyn),
    ("apphubSource", F::Dyn),
];

/// Resolves `segments` (with the 1-based column of each) against LogEntry.
/// An undefined field is an error at its column, as Google refuses such a
/// query before running it.
pub(crate) fn resolve(segments: &[String], cols: &[usize]) -> Result<Resolved, ParseError> {
    let mut cur = F::Msg(LOG_ENTRY);
    let mut parent: &str = "LogEntry";
    for (i, seg) in segments.iter().enumerate() {
        let col = cols.get(i).copied().unwrap_or(1);
        cur = match cur {
            F::Msg(fields) => match fields.iter().find(|(n, _)| n == seg) {
                Some((_, f)) => *f,
                None => {
                    let hint = fields
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(seg))
                        .map(|(n, _)| format!("; did you mean `{n}`?"))
                        .unwrap_or_default();
                    return Err(ParseError::new(
                        col,
                        format!("`{parent}` has no field `{seg}`{hint}"),
                    ));
                }
            },
            F::StringMap => F::Present(Str),
            F::Dyn => return Ok(Resolved::DYNAMIC),
            F::Scalar(k) | F::Present(k) => {
                return Err(ParseError::new(
                    col,
                    format!("`{parent}` is {} and has no field `{seg}`", k.describe()),
                ));
            }
        };
        parent = seg;
    }
    Ok(match cur {
        F::Scalar(kind) => Resolved {
            kind,
            defaulted: true,
        },
        F::Present(kind) => Resolved {
            kind,
            defaulted: false,
        },
        F::Msg(_) | F::StringMap => Resolved {
            kind: Kind::Message,
            defaulted: false,
        },
        F::Dyn => Resolved::DYNAMIC,
    })
}
