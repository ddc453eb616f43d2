//! Evaluation of a compiled [`Node`] against one LogEntry.
//!
//! Nothing here allocates: text is lowercased char by char on the fly,
//! numbers are formatted into a stack buffer when they must be read as text,
//! and all literals were prepared by the parser.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::Value;

use super::ast::{Cidr, Cmp, Lit, Node, Rhs};

use super::ast::{parse_number, parse_time, severity_level};
use super::lexer::CmpOp;

impl Node {
    pub fn eval(&self, e: &Value) -> bool {
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
        }
    }
}

fn eval_cmp(c: &Cmp, e: &Value) -> bool {
    // `!=` and `!~` mean "present, and no value matches" so that an array
    // field is excluded when any element equals the literal, and a missing
    // field never matches a comparison (use `NOT f = x` to include it).
    let (positive, negated) = match c.op {
        CmpOp::Ne => (CmpOp::Eq, true),
        CmpOp::NotRe => (CmpOp::Re, true),
        op => (op, false),
    };
    let test_one = &mut |v| test(positive, &c.rhs, v);
    if !negated && !matches!(c.rhs, Rhs::Severity(_)) {
        return c.path.any(e, test_one);
    }
    let present = c.path.any(e, &mut |_| true);
    if !present {
        // LogEntry.severity defaults to DEFAULT (0) when unset, and Google
        // compares the defaulted value rather than treating it as missing.
        if let Rhs::Severity(lvl) = c.rhs {
            return ord_ok(positive, 0i64.cmp(&lvl)) != negated;
        }
        return false;
    }
    let hit = c.path.any(e, test_one);
    hit != negated
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

fn test(op: CmpOp, rhs: &Rhs, v: &Value) -> bool {
    match rhs {
        Rhs::Present => true,
        Rhs::Severity(lvl) => severity_of(v).is_some_and(|s| ord_ok(op, s.cmp(lvl))),
        Rhs::Time(t) => v
            .as_str()
            .and_then(parse_time)
            .is_some_and(|ft| ord_ok(op, ft.cmp(t))),
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

/// Numeric when both sides are numbers (or numeric strings), otherwise a
/// case-insensitive comparison of the text forms.
fn compare(v: &Value, lit: &Lit) -> Option<Ordering> {
    if let Some(n) = lit.num {
        let field_num = match v {
            Value::Number(x) => x.as_f64(),
            Value::String(s) => parse_number(s.trim()),
            _ => None,
        };
        if let Some(f) = field_num {
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
