//! Telephone numbers. Shapes accepted without context (digits grouped the
//! way people write numbers; bare digit runs need a keyword like `phone`):
//!
//! * E.164: `+` then 9..=15 digits in any grouping;
//! * US/NANP: `(NXX) NXX-XXXX`, `NXX-NXX-XXXX`, `NXX.NXX.XXXX`,
//!   `NXX NXX XXXX`, `1-NXX-NXX-XXXX` (N = 2..9);
//! * trunk-prefix national forms starting `0[1-9]`: UK `020 7946 0958`,
//!   `01632 960001`, `07700 900123`; DE `030 12345678`, `0151/23456789`;
//!   FR `01 23 45 67 89` (five pairs); JP `03-1234-5678`, `090-1234-5678`;
//! * BR `(11) 91234-5678`, `(11) 1234-5678`, `11 91234-5678`.
//!
//! Dates (`2025-11-30`, `30/11/2025`), clock times, versions and counters
//! do not fit any of these shapes.

/// Keywords that make a bare digit run a phone number.
pub(crate) const CONTEXT: &[&[u8]] = &[
    b"phone",
    b"tel",
    b"mobile",
    b"cell",
    b"fax",
    b"sms",
    b"whatsapp",
];

fn nxx(c: u8) -> bool {
    (b'2'..=b'9').contains(&c)
}

fn uniform(seps: &[u8]) -> Option<u8> {
    let f = *seps.first()?;
    seps.iter().all(|&s| s == f).then_some(f)
}

/// `lens`: digit-group lengths; `seps[k]`: separator before group `k+1`
/// (`)` after a parenthesised first group); `d`: all digits.
pub(crate) fn phone_shape(lens: &[u8], seps: &[u8], d: &[u8], plus: bool, paren: bool) -> bool {
    let total = d.len();
    if plus {
        return (9..=15).contains(&total) && d[0] != b'0';
    }
    if lens.len() < 2 {
        return false;
    }
    // US / NANP.
    if lens == [3, 3, 4] && nxx(d[0]) && nxx(d[3]) {
        if paren {
            return seps[0] == b')' && matches!(seps[1], b'-' | b' ' | b'.');
        }
        return matches!(uniform(seps), Some(b'-' | b'.' | b' '));
    }
    if lens == [1, 3, 3, 4] && d[0] == b'1' && nxx(d[1]) && !paren {
        return matches!(uniform(seps), Some(b'-' | b'.' | b' '));
    }
    // Brazil.
    if paren {
        return (lens == [2, 5, 4] || lens == [2, 4, 4])
            && seps[0] == b')'
            && matches!(seps[1], b'-' | b' ');
    }
    if lens == [2, 5, 4] && d[2] == b'9' && seps[0] == b' ' && seps[1] == b'-' && d[0] != b'0' {
        return true;
    }
    // Trunk-prefix national numbers.
    if d[0] != b'0' || d[1] == b'0' {
        return false;
    }
    match lens.len() {
        2 => {
            (3..=5).contains(&lens[0])
                && (5..=8).contains(&lens[1])
                && (10..=12).contains(&total)
                && matches!(seps[0], b' ' | b'/' | b'-')
        }
        3 => {
            matches!(uniform(seps), Some(b' ' | b'-' | b'.'))
                && (10..=11).contains(&total)
                && matches!(
                    lens,
                    [2, 4, 4]
                        | [3, 4, 4]
                        | [3, 3, 4]
                        | [4, 2, 4]
                        | [4, 3, 4]
                        | [4, 3, 3]
                        | [5, 3, 3]
                        | [3, 4, 3]
                        | [2, 3, 4]
                )
        }
        5 => {
            lens.iter().all(|&l| l == 2)
                && total == 10
                && matches!(uniform(seps), Some(b' ' | b'.' | b'-'))
        }
        _ => false,
    }
}
