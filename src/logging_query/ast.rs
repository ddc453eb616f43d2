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
pub(crate) struct FieldPath {
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses a path written as in a query (`jsonPayload."a.b".c`).
    pub(crate) fn parse(s: &str) -> Result<FieldPath, ParseError> {
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
        Self::from_pieces_with_cols(pieces, col).map(|(p, _)| p)
    }

    /// Like `from_pieces`, also returning each segment's 1-based column
    /// (for errors that name one segment).
    pub(super) fn from_pieces_with_cols(
        pieces: &[Piece],
        col: usize,
    ) -> Result<(FieldPath, Vec<usize>), ParseError> {
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
        let mut cols = Vec::new();
        let mut want_seg = true;
        let mut last_col = col;
        for (item, c) in items {
            last_col = c;
            match (item, want_seg) {
                (Item::Seg(s), true) => {
                    segments.push(s);
                    cols.push(c);
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
        Ok((FieldPath { segments }, cols))
    }

    pub(crate) fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Looks the path up in `v`. Arrays met on the way are searched in order
    /// and the first element that has the rest of the path wins, which is the
    /// natural single-valued reading needed by `EXTRACT(field)`.
    pub(crate) fn lookup<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        lookup_in(v, &self.segments)
    }

    /// Calls `f` on every non-null value the path reaches, expanding arrays
    /// (at any depth) into their elements; stops at the first `true`.
    pub(super) fn any<'a>(&self, v: &'a Value, f: &mut dyn FnMut(&'a Value) -> bool) -> bool {
        visit(v, &self.segments, f)
    }

    /// True when the path reaches an explicit JSON `null` (for
    /// `NULL_VALUE`), looking through arrays like `any`.
    pub(super) fn reaches_null(&self, v: &Value) -> bool {
        reaches_null(v, &self.segments)
    }
}

fn reaches_null(v: &Value, segs: &[String]) -> bool {
    match (v, segs.split_first()) {
        (Value::Null, None) => true,
        (Value::Array(a), _) => a.iter().any(|e| reaches_null(e, segs)),
        (Value::Object(m), Some((first, rest))) => {
            m.get(first).is_some_and(|c| reaches_null(c, rest))
        }
        _ => false,
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
pub(crate) struct Lit {
    /// Lowercased per char, matching how field text is lowercased during
    /// comparison.
    pub(crate) lower: String,
    pub(crate) num: Option<f64>,
}

impl Lit {
    pub(crate) fn new(raw: &str) -> Lit {
        let lower = raw.chars().flat_map(char::to_lowercase).collect();
        let num = parse_number(raw);
        Lit { lower, num }
    }
}

/// What a comparison's right-hand side compiled to: the literal already
/// converted to the type of the field ("Values and conversions").
#[derive(Debug, Clone)]
pub(crate) enum Rhs {
    /// `field:*`
    Present,
    /// `= NULL_VALUE` / `!= NULL_VALUE`: an explicit JSON null.
    Null,
    /// Ordering/equality on `severity`, by its numeric level.
    Severity(i64),
    /// Ordering/equality on a Timestamp field, as instants.
    Time(DateTime<FixedOffset>),
    /// Ordering/equality on a Duration field, in nanoseconds.
    Duration(i128),
    /// Ordering/equality on a numeric LogEntry field.
    Num(f64),
    /// Ordering/equality on a boolean LogEntry field.
    Bool(bool),
    /// Ordering/equality on a string LogEntry field: text only, never
    /// numbers (`"10" < "9"`). Lowercased like `Lit::lower`.
    Text(String),
    /// `=~` / `!~`
    Regex(Regex),
    /// Payload values (typed by what is found) and `:`.
    Value(Lit),
}

/// The types `cast` converts to (the query language reference's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CastTo {
    String,
    Int64,
    Float64,
    Bool,
}

/// The left-hand side of a comparison.
#[derive(Debug, Clone)]
pub(crate) enum Lhs {
    Path(FieldPath),
    /// `cast(field, STRING[, TIMEZONE("America/New_York")])`: the field's
    /// text; a timestamp is re-written in the given zone. `cast(field,
    /// INT64 | FLOAT64 | BOOL)`: the field converted to that type.
    Cast {
        path: FieldPath,
        to: CastTo,
        tz: Option<Zone>,
    },
    /// `regexp_extract(field, "re")`: the capture group (or the whole
    /// match when the regex has no group).
    Extract {
        path: FieldPath,
        re: Captures,
    },
}

impl Lhs {
    pub(crate) fn path(&self) -> &FieldPath {
        match self {
            Lhs::Path(p) | Lhs::Cast { path: p, .. } | Lhs::Extract { path: p, .. } => p,
        }
    }
}

/// The zone of `TIMEZONE()`: a fixed UTC offset or an IANA zone.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

/// A regex with a reusable capture-position buffer, so that extracting a
/// group does not allocate. Each clone of a query gets its own buffer; if
/// one query is shared between threads and the buffer is busy, the match
/// falls back to an allocating search rather than waiting.
#[derive(Debug)]
pub(crate) struct Captures {
    pub(crate) re: Regex,
    pub(crate) locs: std::sync::Mutex<regex::CaptureLocations>,
}

impl Captures {
    pub(crate) fn new(re: Regex) -> Captures {
        let locs = std::sync::Mutex::new(re.capture_locations());
        Captures { re, locs }
    }

    /// The extracted span of `s`, or `None` when the regex does not match.
    pub(crate) fn extract<'s>(&self, s: &'s str) -> Option<&'s str> {
        if self.re.captures_len() == 1 {
            return self.re.find(s).map(|m| m.as_str());
        }
        match self.locs.try_lock() {
            Ok(mut locs) => {
                self.re.captures_read(&mut locs, s)?;
                locs.get(1).map(|(a, b)| &s[a..b])
            }
            Err(_) => self.re.captures(s)?.get(1).map(|m| m.as_str()),
        }
    }
}

impl Clone for Captures {
    fn clone(&self) -> Self {
        Captures::new(self.re.clone())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cmp {
    pub(crate) lhs: Lhs,
    pub(crate) op: CmpOp,
    pub(crate) rhs: Rhs,
    /// For a LogEntry field with a default: the result of the (positive)
    /// comparison on that default, used when the field is absent. `None`
    /// keeps the missing-field rule (no match).
    pub(crate) absent: Option<bool>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cidr {
    pub(crate) addr: std::net::IpAddr,
    pub(crate) prefix: u8,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
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
    /// `SEARCH([field,] "query")`: every term's tokens found in some text
    /// value (of the field, or of the whole entry).
    Search {
        path: Option<FieldPath>,
        terms: Vec<Vec<String>>,
    },
    /// `sample(field, fraction)`: a stable hash of the field's value below
    /// `fraction` of the hash range.
    Sample {
        path: FieldPath,
        below: u64,
    },
    /// `source(projects/p)`: `logName` lies under the resource.
    Source {
        prefix: String,
    },
}

/// LogSeverity levels from the LogEntry reference.
pub(crate) const SEVERITIES: [(&str, i64); 9] = [
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

pub(crate) fn severity_level(s: &str) -> Option<i64> {
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
pub(crate) fn parse_number(s: &str) -> Option<f64> {
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
pub(crate) fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
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

pub(crate) fn parse_cidr(s: &str) -> Option<Cidr> {
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

/// A Duration literal or field value, in nanoseconds: one or more
/// `NUMBER UNIT` parts with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`
/// (`"1.5s"`, `"150ms"`, `"1m30s"`), or a bare number of seconds (the
/// proto3 JSON form is `"0.153s"`). Exact: no floating point.
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, r) = rest.split_at(int_len);
        let (frac_part, r) = match r.strip_prefix('.') {
            Some(r) => {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                r.split_at(n)
            }
            None => ("", r),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = r
            .char_indices()
            .find(|(_, c)| !c.is_alphabetic())
            .map_or(r.len(), |(i, _)| i);
        let (unit, r) = r.split_at(unit_len);
        let mult: i128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" if parts == 0 && r.is_empty() => 1_000_000_000,
            _ => return None,
        };
        let int: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut frac: i128 = 0;
        let mut scale: i128 = 1;
        // Digits past nanosecond precision of the largest unit cannot
        // change the result.
        for d in frac_part.bytes().take(18) {
            frac = frac * 10 + i128::from(d - b'0');
            scale *= 10;
        }
        total = total.checked_add(int.checked_mul(mult)?.checked_add(frac * mult / scale)?)?;
        parts += 1;
        rest = r;
    }
    Some(if neg { -total } else { total })
}
