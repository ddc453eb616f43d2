//! Writes events as JSON text, byte for byte what `serde_json::to_writer`
//! writes, faster.
//!
//! Every encoder (archive NDJSON, BigQuery rows, file, console) spends most
//! of its time escaping strings. serde_json looks each byte up in a table;
//! log text almost never needs escaping, so this scans 8 bytes at a time
//! for the three things that do (a control byte, `"`, `\`) and copies the
//! clean run in one go. Numbers still go through serde_json, so their
//! spelling cannot drift; the differential test in this file holds the two
//! writers to the same bytes.

use serde_json::Value;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in the first byte of `w` (little-endian
/// order) that needs escaping, and possibly in later bytes (the borrow of
/// the subtraction can flag bytes after a real one, never before), or 0.
#[inline]
fn special(w: u64) -> u64 {
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGHS
}

/// Where the next byte that needs escaping is, from `from`.
#[inline]
fn next_special(s: &[u8], mut i: usize) -> usize {
    while i + 8 <= s.len() {
        let w = u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        let m = special(w);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() {
        let c = s[i];
        if c < 0x20 || c == b'"' || c == b'\\' {
            return i;
        }
        i += 1;
    }
    i
}

/// Appends `s` as a JSON string, quotes included.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let i = next_special(b, start);
        out.extend_from_slice(&b[start..i]);
        if i == b.len() {
            break;
        }
        let c = b[i];
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.push(b'"');
}

/// Appends `v` as compact JSON, keys in the map's order.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            serde_json::to_writer(&mut *out, n).expect("a number serializes into memory")
        }
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, x);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, x);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn same_as_serde(v: &Value) {
        let mut ours = Vec::new();
        write_value(&mut ours, v);
        let theirs = serde_json::to_vec(v).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[test]
    fn every_byte_that_needs_escaping_at_every_offset_matches_serde_json() {
        for c in (0u8..0x20).chain([b'"', b'\\', 0x7f, b'/', b'a']) {
            for pre in 0..17 {
                for post in [0, 1, 7, 8, 9] {
                    let s = format!("{}{}{}", "x".repeat(pre), char::from(c), "é".repeat(post));
                    same_as_serde(&Value::String(s));
                }
            }
        }
    }

    #[test]
    fn log_entries_of_the_fixtures_match_serde_json() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/ndjson");
        let mut text = String::new();
        for f in std::fs::read_dir(dir).unwrap() {
            text.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap_or_default());
        }
        let mut n = 0;
        for l in text.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(l) {
                same_as_serde(&v);
                n += 1;
            }
        }
        assert!(n > 10, "{n} fixture lines");
        same_as_serde(
            &json!({"a": [1, -2, 3.5, 1e300, null, true, false, {}], "b": {"c": "d\u{1}"},
            "n": u64::MAX, "f": -0.0, "e": [], "s": "\u{2028}\u{10ffff}"}),
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[\\x00-\\x7f]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_value_writes_as_serde_json_writes_it(v in json_value()) {
            same_as_serde(&v);
        }
    }
}
