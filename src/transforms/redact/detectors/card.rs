//! Payment card numbers: 13..=19 digits, issuer prefix and length, Luhn.
//! With separators, the grouping must be one cards are printed with
//! (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4, 4-4-4-1..4).

use super::luhn;

fn prefix_num(d: &[u8], n: usize) -> u32 {
    d.iter()
        .take(n)
        .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
}

/// Issuer identification: does this prefix issue cards of this length?
pub(crate) fn issuer_ok(d: &[u8]) -> bool {
    let len = d.len();
    if !(13..=19).contains(&len) {
        return false;
    }
    let p1 = prefix_num(d, 1);
    let p2 = prefix_num(d, 2);
    let p3 = prefix_num(d, 3);
    let p4 = prefix_num(d, 4);
    match p1 {
        4 => matches!(len, 13 | 16 | 19),              // Visa
        5 => (51..=55).contains(&p2) && len == 16,     // Mastercard
        2 => (2221..=2720).contains(&p4) && len == 16, // Mastercard 2-series
        3 => {
            ((p2 == 34 || p2 == 37) && len == 15) // Amex
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&len)) // JCB
                || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&len)) // Diners
        }
        6 => {
            ((p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && (16..=19).contains(&len)) // Discover
                || (p2 == 62 && (16..=19).contains(&len)) // UnionPay
                || ((56..=69).contains(&p2) && (12..=19).contains(&len)) // Maestro
        }
        _ => false,
    }
}

/// Printed groupings accepted when the number has separators.
pub(crate) fn grouping_ok(lens: &[u8]) -> bool {
    match lens {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [4, 4, 4, 4, 3] => true,
        [4, 4, 4, last] => (1..=4).contains(last),
        _ => false,
    }
}

/// Full validation of a digit string.
pub(crate) fn card_valid(digits: &[u8]) -> bool {
    issuer_ok(digits) && luhn(digits)
}
