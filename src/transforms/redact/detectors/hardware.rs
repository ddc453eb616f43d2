//! Hardware identifiers: MAC addresses in colon, dash and Cisco dot forms.
//! (IMEI is a digit run and lives with the other number validators in
//! `numeric.rs`, see [`imei_valid`].)

use super::{at, is_hex, is_ident, luhn, Det, Sink};

/// MAC at a word start `i` (first byte is a hex digit).
pub(crate) fn mac_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Mac) {
        return None;
    }
    let sep = at(b, i + 2);
    let end = if sep == b':' || sep == b'-' {
        if b.len() < i + 17 {
            return None;
        }
        for g in 0..6 {
            let k = i + g * 3;
            if !is_hex(b[k]) || !is_hex(b[k + 1]) || (g < 5 && b[k + 2] != sep) {
                return None;
            }
        }
        let e = i + 17;
        if e < b.len() && (is_ident(b[e]) || (b[e] == sep && is_hex(at(b, e + 1)))) {
            return None;
        }
        e
    } else if at(b, i + 4) == b'.' {
        if b.len() < i + 14 {
            return None;
        }
        for g in 0..3 {
            let k = i + g * 5;
            if !b[k..k + 4].iter().all(|&c| is_hex(c)) || (g < 2 && b[k + 4] != b'.') {
                return None;
            }
        }
        let e = i + 14;
        if e < b.len() && (is_ident(b[e]) || (b[e] == b'.' && is_ident(at(b, e + 1)))) {
            return None;
        }
        e
    } else {
        return None;
    };
    if i > 0 && matches!(b[i - 1], b'.' | b':' | b'-') {
        return None;
    }
    // All-zero and broadcast addresses identify nobody.
    let hexes = b[i..end].iter().filter(|c| is_hex(**c));
    let mut zero = true;
    let mut ff = true;
    for &c in hexes {
        zero &= c == b'0';
        ff &= c == b'f' || c == b'F';
    }
    if zero || ff {
        return Some(end);
    }
    sink.push(Det::Mac, i, end, false);
    Some(end)
}

/// Type Allocation Code reporting-body prefixes seen on real IMEIs.
const IMEI_PREFIXES: &[&[u8]] = &[
    b"01", b"10", b"30", b"33", b"35", b"44", b"45", b"49", b"50", b"51", b"52", b"53", b"54",
    b"86", b"91", b"98", b"99",
];

/// 15 digits, Luhn-valid, and either a known TAC prefix or an `imei` keyword
/// nearby.
pub(crate) fn imei_valid(digits: &[u8], context: bool) -> bool {
    digits.len() == 15
        && luhn(digits)
        && (context || IMEI_PREFIXES.iter().any(|p| digits.starts_with(p)))
}
