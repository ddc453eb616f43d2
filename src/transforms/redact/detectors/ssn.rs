//! US social security numbers: `AAA-GG-SSSS` (or bare nine digits after an
//! `ssn` / `social security` keyword). Area 001..=899 except 666, group
//! 01..=99, serial 0001..=9999.

/// Validates nine ASCII digits.
pub(crate) fn ssn_valid(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        d[r].iter()
            .fold(0u32, |a, &c| a * 10 + u32::from(c.wrapping_sub(b'0')))
    };
    let area = num(0..3);
    let group = num(3..5);
    let serial = num(5..9);
    (1..=899).contains(&area) && area != 666 && group != 0 && serial != 0
}
