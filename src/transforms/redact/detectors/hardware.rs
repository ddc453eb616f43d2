//! Hardware identifiers: MAC addresses in colon, dash and Cisco dot forms,
//! and serial numbers named by a keyword (`serial`, `serial number`, `S/N`,
//! `SN`, `sn:`) or carrying a vendor `SN-` prefix. (IMEI is a digit run and
//! lives with the other number validators in `numeric.rs`, see
//! [`imei_valid`].)

use super::{at, is_digit, is_hex, is_ident, luhn, Det, Sink};

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

/// Keywords naming a serial (lower-cased, longest first; `sn` is handled
/// apart because it needs `SN` upper-case or an explicit `:`/`=`).
const SERIAL_KEYS: &[&[u8]] = &[
    b"serial number",
    b"serial_number",
    b"serial-number",
    b"serialnumber",
    b"seriennummer",
    b"serial no.",
    b"serial no",
    b"serial_no",
    b"serialno",
    b"seriennr.",
    b"seriennr",
    b"serial #",
    b"serial#",
    b"serial",
    b"s\xc3\xa9rie",
    b"serie",
    b"s/n",
];

/// Case-insensitive `starts_with` on ASCII.
fn starts_ci(b: &[u8], i: usize, w: &[u8]) -> bool {
    b.len() >= i + w.len() && b[i..i + w.len()].eq_ignore_ascii_case(w)
}

/// Serial at a word start `i` (first byte `s` or `S`). Cheap rejection: the
/// second byte must be `e`, `N`, `n`, `/` or the lead byte of `é`, as in
/// every accepted form.
pub(crate) fn serial_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Serial) || !matches!(at(b, i + 1), b'e' | b'E' | b'N' | b'n' | b'/' | 0xC3) {
        return None;
    }
    // Vendor prefix: the whole `SN-...` token is the serial.
    if b[i] == b'S' && at(b, i + 1) == b'N' && at(b, i + 2) == b'-' {
        let end = serial_value(b, i + 3, 2)?;
        sink.push(Det::Serial, i, end, false);
        return Some(end);
    }
    let (key_end, strong) = if let Some(k) = SERIAL_KEYS.iter().find(|k| starts_ci(b, i, k)) {
        (i + k.len(), true)
    } else if b[i] == b'S' && at(b, i + 1) == b'N' {
        (i + 2, true)
    } else if at(b, i + 1) == b'n' && matches!(at(b, i + 2), b':' | b'=') {
        // Lower-case `sn` only with an explicit `:`/`=`.
        (i + 2, false)
    } else {
        return None;
    };
    let hash = b[key_end - 1] == b'#';
    if !hash && is_ident(at(b, key_end)) {
        // `serialize`, `SNMP`, `snapshot`.
        return None;
    }
    // Separator: spaces, `:`, `=`, `#`, quotes; at least one, at most a few.
    let mut k = key_end;
    while k < b.len()
        && k - key_end < 4
        && matches!(b[k], b' ' | b':' | b'=' | b'#' | b'"' | b'\'' | b'\t')
    {
        k += 1;
    }
    if (k == key_end && !hash) || (!strong && !matches!(b[key_end], b':' | b'=')) {
        return None;
    }
    // Named as a serial (`serial`, `S/N`, `serial no.`), the value is one
    // whatever its letters and digits: many vendors' serials are letters
    // with one digit or none. After a bare lower-case `sn:` it still needs
    // two digits.
    let end = serial_value(b, k, if strong { 0 } else { 2 })?;
    sink.push(Det::Serial, k, end, false);
    Some(end)
}

/// 8 to 20 upper-case letters and digits (single inner hyphens allowed,
/// `WD-WCC4N1234567`), at least `min_digits` digits, ending at a word
/// boundary.
fn serial_value(b: &[u8], start: usize, min_digits: usize) -> Option<usize> {
    let serial_char = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let mut k = start;
    let (mut n, mut digits) = (0usize, 0usize);
    while k < b.len() {
        let c = b[k];
        if serial_char(c) {
            n += 1;
            digits += usize::from(is_digit(c));
            k += 1;
        } else if c == b'-' && n > 0 && serial_char(at(b, k + 1)) {
            k += 1;
        } else {
            break;
        }
        if n > 20 {
            return None;
        }
    }
    if !(8..=20).contains(&n) || digits < min_digits || is_ident(at(b, k)) {
        return None;
    }
    // `serial 2025-11-30T...` or `SN 1234.5678` are not serials.
    if matches!(at(b, k), b'.' | b':' | b'/') && is_ident(at(b, k + 1)) {
        return None;
    }
    Some(k)
}
