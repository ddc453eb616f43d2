//! Digit-group runs: one parse feeds the card, SSN, phone and IMEI
//! validators.
//!
//! A run is up to eight digit groups joined by single separators (space,
//! `-`, `.`, `/`, `)` after a parenthesised first group). Every
//! group-aligned window of the run is tried, longest first, so a card number
//! after an unrelated number (`port 8080 4111 1111 1111 1111`) is still
//! found, while the windows' own shape rules keep dates, times, versions and
//! ids out.

use super::{
    at, card, context_before, hardware, inside_pseudonym, is_digit, is_ident, luhn, phone, ssn,
    Det, Sink,
};

const MAX_GROUPS: usize = 8;
const MAX_GROUP_LEN: usize = 19;

struct Run {
    n: usize,
    start: [usize; MAX_GROUPS],
    end: [usize; MAX_GROUPS],
    /// `sep[k]`: separator before group `k` (k >= 1).
    sep: [u8; MAX_GROUPS],
    /// Offset of each group's digits in `digits`.
    off: [usize; MAX_GROUPS + 1],
    digits: [u8; MAX_GROUPS * MAX_GROUP_LEN],
}

const SSN_CONTEXT: &[&[u8]] = &[b"ssn", b"social security", b"social_security"];
const IMEI_CONTEXT: &[&[u8]] = &[b"imei"];

/// `i`: first digit. `plus`/`paren`: the run is preceded by `+` / `(`.
/// Returns the end of the last hit pushed.
pub(crate) fn numeric_at(
    b: &[u8],
    i: usize,
    plus: bool,
    paren: bool,
    sink: &mut Sink<'_>,
) -> Option<usize> {
    if !(sink.on(Det::Card) || sink.on(Det::Phone) || sink.on(Det::Ssn) || sink.on(Det::Imei)) {
        return None;
    }
    if !plus && !paren && i > 0 {
        let p = b[i - 1];
        if p == b'_' || p == b'.' {
            return None;
        }
        // `blk_-123...`, `abc-123`: part of an identifier.
        if p == b'-' && i > 1 && is_ident(b[i - 2]) {
            return None;
        }
        if p == b':' && inside_pseudonym(b, i) {
            return None;
        }
    }
    // Fast reject without building the run: fewer than 8 digits in the
    // whole separator-joined run (UUID pieces, counters, times, versions).
    if !plus {
        let mut k = i;
        let mut digits = 0;
        loop {
            while k < b.len() && is_digit(b[k]) {
                k += 1;
                digits += 1;
            }
            if digits >= 8 {
                break;
            }
            let c = at(b, k);
            if matches!(c, b' ' | b'-' | b'.' | b'/' | b')') && is_digit(at(b, k + 1)) {
                k += 1;
            } else if c == b')' && at(b, k + 1) == b' ' && is_digit(at(b, k + 2)) {
                k += 2;
            } else {
                return None;
            }
        }
    }
    let mut r = Run {
        n: 0,
        start: [0; MAX_GROUPS],
        end: [0; MAX_GROUPS],
        sep: [0; MAX_GROUPS],
        off: [0; MAX_GROUPS + 1],
        digits: [0; MAX_GROUPS * MAX_GROUP_LEN],
    };
    let mut paren = paren;
    let mut k = i;
    let mut total = 0usize;
    loop {
        let gs = k;
        while k < b.len() && is_digit(b[k]) {
            k += 1;
        }
        let len = k - gs;
        if len > MAX_GROUP_LEN {
            if r.n == 0 {
                return None;
            }
            break;
        }
        r.start[r.n] = gs;
        r.end[r.n] = k;
        r.digits[total..total + len].copy_from_slice(&b[gs..k]);
        total += len;
        r.n += 1;
        r.off[r.n] = total;
        if r.n == MAX_GROUPS {
            break;
        }
        let c = at(b, k);
        if paren && r.n == 1 {
            if c == b')' {
                let mut j = k + 1;
                if at(b, j) == b' ' {
                    j += 1;
                }
                if is_digit(at(b, j)) {
                    r.sep[r.n] = b')';
                    k = j;
                    continue;
                }
            }
            paren = false;
        }
        // `+44 (0)20 7946 0958`: the national trunk prefix in parentheses.
        if plus && r.n == 1 && c == b' ' && b[k..].starts_with(b" (0)") {
            let j = k + 4 + usize::from(at(b, k + 4) == b' ');
            if is_digit(at(b, j)) {
                r.sep[r.n] = b' ';
                k = j;
                continue;
            }
        }
        if matches!(c, b' ' | b'-' | b'.' | b'/') && is_digit(at(b, k + 1)) {
            r.sep[r.n] = c;
            k += 1;
            continue;
        }
        break;
    }
    if paren && r.n < 2 {
        paren = false;
    }
    // A last group glued to letters (`1.0.0-rc1`, `123abc`) is not a number.
    let last_end = r.end[r.n - 1];
    if last_end < b.len() && is_ident(b[last_end]) {
        r.n -= 1;
        if r.n == 0 {
            return None;
        }
    }
    if total < 8 && !plus {
        return None;
    }
    let mut found_end = None;
    let mut a = 0;
    while a < r.n {
        if a > 0 && r.sep[a] != b' ' {
            a += 1;
            continue;
        }
        let mut hit = None;
        for z in (a..r.n).rev() {
            if z + 1 < r.n && r.sep[z + 1] != b' ' {
                continue;
            }
            if let Some(h) = window(b, &r, a, z, plus && a == 0, paren && a == 0, sink) {
                hit = Some((z, h));
                break;
            }
        }
        match hit {
            Some((z, (det, ctx))) => {
                let mut s = r.start[a];
                if a == 0 && (plus || paren) {
                    s -= 1;
                }
                sink.push(det, s, r.end[z], ctx);
                found_end = Some(r.end[z]);
                a = z + 1;
            }
            None => a += 1,
        }
    }
    found_end
}

fn window(
    b: &[u8],
    r: &Run,
    a: usize,
    z: usize,
    plus: bool,
    paren: bool,
    sink: &Sink<'_>,
) -> Option<(Det, bool)> {
    let d = &r.digits[r.off[a]..r.off[z + 1]];
    let total = d.len();
    if total < 8 {
        return None;
    }
    let mut lens = [0u8; MAX_GROUPS];
    for g in a..=z {
        lens[g - a] = (r.end[g] - r.start[g]) as u8;
    }
    let lens = &lens[..=z - a];
    let seps = &r.sep[a + 1..=z];
    let single = a == z;
    let uni = seps
        .first()
        .filter(|f| seps.iter().all(|s| s == *f))
        .copied();
    let start = r.start[a];

    if sink.on(Det::Card)
        && !plus
        && !paren
        && (13..=19).contains(&total)
        && (single || (matches!(uni, Some(b' ' | b'-')) && card::grouping_ok(lens)))
        && card::card_valid(d)
    {
        return Some((Det::Card, false));
    }
    if sink.on(Det::Ssn) && !plus && !paren && total == 9 && ssn::ssn_valid(d) {
        if lens == [3, 2, 4] && matches!(uni, Some(b'-')) {
            return Some((Det::Ssn, false));
        }
        if (single || (lens == [3, 2, 4] && uni == Some(b' ')))
            && context_before(b, start, 32, SSN_CONTEXT)
        {
            return Some((Det::Ssn, true));
        }
    }
    if sink.on(Det::Imei) && !plus && !paren {
        let shaped = single || (lens == [2, 6, 6, 1] && uni == Some(b'-'));
        if shaped && total == 15 && luhn(d) {
            let ctx = context_before(b, start, 32, IMEI_CONTEXT);
            if hardware::imei_valid(d, ctx) {
                return Some((Det::Imei, ctx));
            }
        }
    }
    if sink.on(Det::Phone) {
        if phone::phone_shape(lens, seps, d, plus, paren) {
            return Some((Det::Phone, false));
        }
        if single
            && !plus
            && (8..=13).contains(&total)
            && context_before(b, start, 32, phone::CONTEXT)
        {
            return Some((Det::Phone, true));
        }
    }
    None
}
