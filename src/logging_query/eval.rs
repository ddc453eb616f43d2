//! Evaluation of a compiled [`Node`] against one LogEntry.
//!
//! Nothing here allocates: text is lowercased char by char on the fly,
//! numbers are formatted into a stack buffer when they must be read as text,
//! and all literals were prepared by the parser.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::Value;

use chrono::{Datelike, Offset, Timelike};

use super::ast::{CastTo, Cidr, Cmp, Lhs, Lit, Node, Rhs, Zone};

use super::ast::{parse_duration, parse_number, parse_time, severity_level};
use super::lexer::CmpOp;

impl Node {
    pub(crate) fn eval(&self, e: &Value) -> bool {
        match self {
            Node::True => true,
            Node::And(v) => v.iter().all(|n| n.eval(e)),
            Node::Or(v) => v.iter().any(|n| n.eval(e)),
            Node::Not(n) => !n.eval(e),
            Node::Cmp(c) => eval_cmp(c, e),
            Node::Global(lit) => any_leaf(e, &mut |s| contains_ci(s, &lit.lower)),
            Node::LogId { plain, encoded } => e
                .get("logName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.ends_with(plain.as_str()) || n.ends_with(encoded.as_str())),
            Node::IpInNet { path, net } => path.any(e, &mut |v| {
                v.as_str()
                    .and_then(|s| s.trim().parse::<IpAddr>().ok())
                    .is_some_and(|ip| in_net(ip, net))
            }),
            Node::Search { path, terms } => {
                let root = match path {
                    Some(p) => match p.lookup(e) {
                        Some(v) => v,
                        None => return false,
                    },
                    None => e,
                };
                terms
                    .iter()
                    .all(|t| any_leaf(root, &mut |s| super::search::text_has(s, t)))
            }
            Node::Sample { path, below } => {
                let mut hit = false;
                path.any(e, &mut |v| {
                    with_text(v, &mut |s| {
                        hit = fnv1a(s.as_bytes()) < *below;
                        true
                    })
                });
                hit
            }
            Node::Source { prefix } => e
                .get("logName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with(prefix.as_str())),
        }
    }
}

/// FNV-1a, 64 bits: stable across runs and builds, so `sample()` keeps the
/// same entries on every replay. Google does not document its hash.
fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn eval_cmp(c: &Cmp, e: &Value) -> bool {
    // `!=` and `!~` mean "present, and no value matches" so that an array
    // field is excluded when any element equals the literal, and a missing
    // field never matches a comparison (use `NOT f = x` to include it).
    // A LogEntry field with a default is never missing: when absent it
    // compares as its default (`c.absent`, computed at parse time).
    let (positive, negated) = match c.op {
        CmpOp::Ne => (CmpOp::Eq, true),
        CmpOp::NotRe => (CmpOp::Re, true),
        op => (op, false),
    };
    let path = c.lhs.path();
    if let Rhs::Null = c.rhs {
        let null = path.reaches_null(e);
        return if negated {
            !null && path.any(e, &mut |_| true)
        } else {
            null
        };
    }
    let test_one = &mut |v: &Value| match &c.lhs {
        Lhs::Path(_) => test(positive, &c.rhs, v),
        Lhs::Cast {
            to: CastTo::String,
            tz,
            ..
        } => cast_text(v, *tz, &mut |s| test_text(positive, &c.rhs, s)),
        Lhs::Cast { to, .. } => cast_value(v, *to).is_some_and(|x| test(positive, &c.rhs, &x)),
        Lhs::Extract { re, .. } => with_text(v, &mut |s| {
            re.extract(s)
                .is_some_and(|x| test_text(positive, &c.rhs, x))
        }),
    };
    if !negated {
        if path.any(e, test_one) {
            return true;
        }
        return match c.absent {
            Some(b) => b && !path.any(e, &mut |_| true),
            None => false,
        };
    }
    let present = path.any(e, &mut |_| true);
    if !present {
        return c.absent.is_some_and(|b| !b);
    }
    let hit = path.any(e, test_one);
    hit != negated
}

/// `cast(field, STRING[, TIMEZONE(z)])`: the value's text, with a timestamp
/// re-written in zone `tz` with its offset then
/// (`2025-11-30T07:34:56.789-05:00`). Formatted on the stack.
fn cast_text(v: &Value, tz: Option<Zone>, f: &mut dyn FnMut(&str) -> bool) -> bool {
    let (Some(tz), Some(t)) = (tz, v.as_str().and_then(parse_time)) else {
        return with_text(v, f);
    };
    let (local, off) = match tz {
        Zone::Fixed(z) => {
            let l = t.with_timezone(&z);
            (l.naive_local(), z.local_minus_utc())
        }
        Zone::Named(z) => {
            let l = t.with_timezone(&z);
            (l.naive_local(), l.offset().fix().local_minus_utc())
        }
    };
    let mut buf = StackBuf::new();
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let nanos = local.nanosecond() % 1_000_000_000;
    let ok = write!(
        buf,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    )
    .and_then(|()| match nanos {
        0 => Ok(()),
        n if n % 1_000_000 == 0 => write!(buf, ".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => write!(buf, ".{:06}", n / 1_000),
        n => write!(buf, ".{n:09}"),
    })
    .and_then(|()| write!(buf, "{sign}{:02}:{:02}", off / 3600, off % 3600 / 60));
    ok.is_ok() && f(buf.as_str())
}

/// `cast(field, INT64 | FLOAT64 | BOOL)`: the value converted, or none
/// when it does not convert (then the comparison is false, as for a
/// missing field). INT64 takes integers, numbers (rounded half away from
/// zero, as BigQuery casts FLOAT64) and integer strings; FLOAT64 numbers
/// and numeric strings; BOOL booleans and "true"/"false" in any case.
fn cast_value(v: &Value, to: CastTo) -> Option<Value> {
    match to {
        CastTo::String => None,
        CastTo::Int64 => match v {
            Value::Number(n) => n.as_i64().map(Value::from).or_else(|| {
                n.as_f64()
                    .filter(|x| x.is_finite() && x.abs() < 9.2e18)
                    .map(|x| Value::from(x.round() as i64))
            }),
            Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
            _ => None,
        },
        CastTo::Float64 => number_of(v).map(Value::from),
        CastTo::Bool => bool_of(v).map(Value::Bool),
    }
}

/// A comparison on a derived string (`cast`, `regexp_extract`).
fn test_text(op: CmpOp, rhs: &Rhs, s: &str) -> bool {
    match rhs {
        Rhs::Present => true,
        Rhs::Regex(re) => re.is_match(s),
        Rhs::Text(lower) => ord_ok(op, cmp_ci(s, lower)),
        Rhs::Value(lit) => match op {
            CmpOp::Has => contains_ci(s, &lit.lower),
            _ => ord_ok(op, cmp_ci(s, &lit.lower)),
        },
        _ => false,
    }
}

fn ord_ok(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
        _ => false,
    }
}

pub(super) fn test(op: CmpOp, rhs: &Rhs, v: &Value) -> bool {
    match rhs {
        Rhs::Present => true,
        Rhs::Null => v.is_null(),
        Rhs::Severity(lvl) => severity_of(v).is_some_and(|s| ord_ok(op, s.cmp(lvl))),
        Rhs::Time(t) => v
            .as_str()
            .and_then(parse_time)
            .is_some_and(|ft| ord_ok(op, ft.cmp(t))),
        Rhs::Duration(d) => duration_of(v).is_some_and(|x| ord_ok(op, x.cmp(d))),
        Rhs::Num(n) => number_of(v)
            .and_then(|x| x.partial_cmp(n))
            .is_some_and(|o| ord_ok(op, o)),
        Rhs::Bool(b) => bool_of(v).is_some_and(|x| ord_ok(op, x.cmp(b))),
        Rhs::Text(lower) => with_text(v, &mut |s| ord_ok(op, cmp_ci(s, lower))),
        Rhs::Regex(re) => with_text(v, &mut |s| re.is_match(s)),
        Rhs::Value(lit) => match op {
            CmpOp::Has => has(v, lit),
            _ => compare(v, lit).is_some_and(|o| ord_ok(op, o)),
        },
    }
}

fn severity_of(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => severity_level(s),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
}

/// JSON numbers and the proto3 JSON form of int64 (a numeric string).
fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(x) => x.as_f64(),
        Value::String(s) => parse_number(s.trim()),
        _ => None,
    }
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A Duration as proto3 JSON writes it (`"0.153s"`), or `{seconds, nanos}`.
fn duration_of(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => parse_duration(s),
        Value::Object(m) => {
            let part = |k: &str| match m.get(k) {
                None => Some(0i128),
                Some(x) => number_of(x).filter(|n| n.fract() == 0.0).map(|n| n as i128),
            };
            Some(part("seconds")? * 1_000_000_000 + part("nanos")?)
        }
        _ => None,
    }
}

/// A payload value compared by its own JSON type ("Values and
/// conversions": the literal is converted to the field's type): a number
/// numerically when the literal is numeric, anything else as text, so the
/// string `"12"` is lexicographically less than `9`.
fn compare(v: &Value, lit: &Lit) -> Option<Ordering> {
    if let (Some(n), Value::Number(x)) = (lit.num, v) {
        if let Some(f) = x.as_f64() {
            return f.partial_cmp(&n);
        }
    }
    let mut out = None;
    with_text(v, &mut |s| {
        out = Some(cmp_ci(s, &lit.lower));
        true
    });
    out
}

fn has(v: &Value, lit: &Lit) -> bool {
    match v {
        // `jsonPayload:"text"` searches the whole subtree, as Google's
        // examples for structured payloads rely on.
        Value::Object(_) | Value::Array(_) => any_leaf(v, &mut |s| contains_ci(s, &lit.lower)),
        _ => with_text(v, &mut |s| contains_ci(s, &lit.lower)),
    }
}

/// Calls `f` with the text form of a scalar; objects, arrays and null have
/// none.
fn with_text(v: &Value, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Value::String(s) => f(s),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let mut buf = StackBuf::new();
            match write!(buf, "{n}") {
                Ok(()) => f(buf.as_str()),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// Any scalar anywhere under `v` for which `f` holds.
fn any_leaf(v: &Value, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Value::Object(m) => m.values().any(|c| any_leaf(c, f)),
        Value::Array(a) => a.iter().any(|c| any_leaf(c, f)),
        _ => with_text(v, f),
    }
}

/// `needle` must already be lowercased per char (see `Lit::new`).
pub(super) fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() && hay.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        if n.len() > h.len() {
            return false;
        }
        let first = n[0];
        let last_start = h.len() - n.len();
        return memchr::memchr2_iter(first, first.to_ascii_uppercase(), &h[..=last_start])
            .any(|i| h[i..i + n.len()].eq_ignore_ascii_case(n));
    }
    hay.char_indices().any(|(i, _)| {
        let mut h = hay[i..].chars().flat_map(char::to_lowercase);
        needle.chars().all(|c| h.next() == Some(c))
    })
}

fn cmp_ci(a: &str, b_lower: &str) -> Ordering {
    // Field values are nearly always ASCII; comparing bytes avoids the
    // per-char Unicode lowercasing, the hottest part of a filter.
    if a.is_ascii() && b_lower.is_ascii() {
        let (x, y) = (a.as_bytes(), b_lower.as_bytes());
        for (p, q) in x.iter().zip(y) {
            match p.to_ascii_lowercase().cmp(q) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        return x.len().cmp(&y.len());
    }
    a.chars().flat_map(char::to_lowercase).cmp(b_lower.chars())
}

fn in_net(ip: IpAddr, net: &Cidr) -> bool {
    match (ip, net.addr) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(net.prefix))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Fixed-capacity formatting target; serde_json numbers print in at most a
/// few dozen bytes (floats use the shortest round-trip form).
struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 64],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended, so the prefix is valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
