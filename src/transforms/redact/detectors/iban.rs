//! IBAN: country code, two check digits, BBAN; compact or printed in groups
//! of four. Validated by the country's length (when known) and ISO 7064
//! mod-97.

use super::{at, is_digit, is_word, Det, Sink};

/// ISO 13616 IBAN length per country (SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// ISO 7064 mod 97-10 over an IBAN (upper-case letters and digits).
pub(crate) fn mod97_ok(chars: &[u8]) -> bool {
    if chars.len() < 5 {
        return false;
    }
    let mut r = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        r = if c.is_ascii_digit() {
            (r * 10 + u32::from(c - b'0')) % 97
        } else if c.is_ascii_uppercase() {
            (r * 100 + u32::from(c - b'A' + 10)) % 97
        } else {
            return false;
        };
    }
    r == 1
}

fn ibanc(c: u8) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase()
}

pub(crate) fn iban_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Iban) {
        return None;
    }
    if !(at(b, i + 1).is_ascii_uppercase() && is_digit(at(b, i + 2)) && is_digit(at(b, i + 3))) {
        return None;
    }
    let cc = [b[i], b[i + 1]];
    let want = LENGTHS.iter().find(|(c, _)| **c == cc).map(|(_, l)| *l);
    let mut buf = [0u8; 34];
    let mut n = 0;
    let mut k = i;
    let mut group = 0;
    // end position after each collected char
    let mut ends = [0usize; 34];
    while k < b.len() && n < 34 {
        let c = b[k];
        if ibanc(c) {
            buf[n] = c;
            n += 1;
            group += 1;
            k += 1;
            ends[n - 1] = k;
            if want == Some(n) {
                break;
            }
        } else if c == b' ' && group == 4 && ibanc(at(b, k + 1)) {
            group = 0;
            k += 1;
        } else {
            break;
        }
    }
    let len = match want {
        Some(l) => l,
        None => n,
    };
    if n < len || !(15..=34).contains(&len) {
        return None;
    }
    let end = ends[len - 1];
    if end < b.len() && (is_word(b[end]) || b[end] == b'_') {
        return None;
    }
    if !mod97_ok(&buf[..len]) {
        return None;
    }
    sink.push(Det::Iban, i, end, false);
    Some(end)
}
