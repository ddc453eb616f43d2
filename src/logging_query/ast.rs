//! Compiled query tree and field paths.
//!
//! Everything a match needs (lowercased text, parsed numbers, regexes,
//! instants) is computed here once at parse time so that evaluation never
//! allocates.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use regex::Regex;
use serde_json::Value;

use super::lexer::{CmpOp, Piece};

use super::ParseError;

/// A parsed field path such as `httpRequest.status` or `labels."k8s-pod/app"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses a path written as in a query (`jsonPayload."a.b".c`).
    pub fn parse(s: &str) -> Result<FieldPath, ParseError> {
        let toks = super::lexer::tokenize(s)?;
        match toks.as_slice() {
            [t, eof] if matches!(eof.kind, super::lexer::TokKind::Eof) => match &t.kind {
                super::lexer::TokKind::Term(pieces) => FieldPath::from_pieces(pieces, t.col),
                _ => Err(ParseError::new(
                    t.col,
                    format!("expected a field path, found {}", t.describe()),
                )),
            },
            [eof] => Err(ParseError::new(eof.col, "expected a field path")),
            [_, t, ..] => Err(ParseError::new(
                t.col,
                format!("unexpected {} after field path", t.describe()),
            )),
            [] => Err(ParseError::new(1, "expected a field path")),
        }
    }

    /// Builds a path from lexer pieces: bare pieces split on `.`, quoted
    /// pieces are whole segments, and segments must be separated by dots.
    pub(super) fn from_pieces(pieces: &[Piece], col: usize) -> Result<FieldPath, ParseError> {
        enum Item {
            Seg(String),
            Dot,
        }
        let mut items: Vec<(Item, usize)> = Vec::new();
        for p in pieces {
            if p.quoted {
                items.push((Item::Seg(p.text.clone()), p.col));
                continue;
            }
            let mut c = p.col;
            for (k, part) in p.text.split('.').enumerate() {
                if k > 0 {
                    items.push((Item::Dot, c));
                    c += 1;
                }
                if !part.is_empty() {
                    items.push((Item::Seg(part.to_string()), c));
                }
                c += part.chars().count();
            }
        }
        let mut segments = Vec::new();
        let mut want_seg = true;
        let mut last_col = col;
        for (item, c) in items {
            last_col = c;
            match (item, want_seg) {
                (Item::Seg(s), true) => {
                    segments.push(s);
                    want_seg = false;
                }
                (Item::Dot, false) => want_seg = true,
                (Item::Dot, true) => {
                    return Err(ParseError::new(c, "expected a field name before `.`"));
                }
                (Item::Seg(_), false) => {
                    return Err(ParseError::new(
                        c,
                        "expected `.` between field path segments",
                    ));
                }
            }
        }
        if want_seg {
            let c = if segments.is_empty() {
                col
            } else {
                last_col + 1
            };
            return Err(ParseError::new(c, "expected a field name after `.`"));
        }
        Ok(FieldPath { segments })
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Looks the path up in `v`. Arrays met on the way are searched in order
    /// and the first element that has the rest of the path wins, which is the
    /// natural single-valued reading needed by `EXTRACT(field)`.
    pub fn lookup<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        lookup_in(v, &self.segments)
    }

    /// True when the path names exactly `name` (a top-level LogEntry field).
    pub(super) fn is_single(&self, name: &str) -> bool {
        self.segments.len() == 1 && self.segments[0] == name
    }

    /// Calls `f` on every non-null value the path reaches, expanding arrays
    /// (at any depth) into their elements; stops at the first `true`.
    pub(super) fn any<'a>(&self, v: &'a Value, f: &mut dyn FnMut(&'a Value) -> bool) -> bool {
        visit(v, &self.segments, f)
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '@');
            if plain {
                f.write_str(s)?;
            } else {
                write!(f, "\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))?;
            }
        }
        Ok(())
    }
}

fn lookup_in<'a>(v: &'a Value, segs: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = segs.split_first() else {
        return if v.is_null() { None } else { Some(v) };
    };
    match v {
        Value::Object(m) => lookup_in(m.get(first)?, rest),
        Value::Array(a) => a.iter().find_map(|e| lookup_in(e, segs)),
        _ => None,
    }
}

fn visit<'a>(v: &'a Value, segs: &[String], f: &mut dyn FnMut(&'a Value) -> bool) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().any(|e| visit(e, segs, f)),
        _ => match segs.split_first() {
            None => f(v),
            Some((first, rest)) => match v {
                Value::Object(m) => m.get(first).is_some_and(|c| visit(c, rest, f)),
                _ => false,
            },
        },
    }
}

/// A literal from the query text, pre-digested for every way it may be
/// compared.
#[derive(Debug, Clone)]
pub struct Lit {
    /// Lowercased per char, matching how field text is lowercased during
    /// comparison.
    pub lower: String,
    pub num: Option<f64>,
}

impl Lit {
    pub fn new(raw: &str) -> Lit {
        let lower = raw.chars().flat_map(char::to_lowercase).collect();
        let num = parse_number(raw);
        Lit { lower, num }
    }
}

/// What a comparison's right-hand side compiled to.
#[derive(Debug, Clone)]
pub enum Rhs {
    /// `field:*`
    Present,
    /// Ordering/equality on `severity`, by its numeric level.
    Severity(i64),
    /// Ordering/equality on `timestamp`/`receiveTimestamp`, as instants.
    Time(DateTime<FixedOffset>),
    /// `=~` / `!~`
    Regex(Regex),
    Value(Lit),
}

#[derive(Debug, Clone)]
pub struct Cmp {
    pub path: FieldPath,
    pub op: CmpOp,
    pub rhs: Rhs,
}

#[derive(Debug, Clone)]
pub struct Cidr {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

#[derive(Debug, Clone)]
pub enum Node {
    /// The empty filter, which Cloud Logging treats as "everything".
    True,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cmp(Box<Cmp>),
    /// A bare value: case-insensitive substring of any leaf in the entry.
    Global(Lit),
    /// `log_id("x")`: `logName` ends in `/logs/x` (raw or URL-encoded).
    LogId {
        plain: String,
        encoded: String,
    },
    /// `ip_in_net(field, "cidr")`
    IpInNet {
        path: FieldPath,
        net: Cidr,
    },
}

/// LogSeverity levels from the LogEntry reference.
pub const SEVERITIES: [(&str, i64); 9] = [
    ("DEFAULT", 0),
    ("DEBUG", 100),
    ("INFO", 200),
    ("NOTICE", 300),
    ("WARNING", 400),
    ("ERROR", 500),
    ("CRITICAL", 600),
    ("ALERT", 700),
    ("EMERGENCY", 800),
];

pub fn severity_level(s: &str) -> Option<i64> {
    SEVERITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|&(_, v)| v)
        .or_else(|| {
            parse_number(s)
                .filter(|n| n.fract() == 0.0)
                .map(|n| n as i64)
        })
}

/// Strict decimal number syntax. `str::parse::<f64>` alone would also accept
/// `inf`, `NaN` and `infinity`, which must stay plain words.
pub fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// RFC 3339, plus the zone-less and date-only shorthands people type into
/// filters (read as UTC).
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let utc = FixedOffset::east_opt(0)?;
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return n.and_local_timezone(utc).single();
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0)?.and_local_timezone(utc).single();
    }
    None
}

pub fn parse_cidr(s: &str) -> Option<Cidr> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: std::net::IpAddr = a.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
        None => max,
    };
    Some(Cidr { addr, prefix })
}
