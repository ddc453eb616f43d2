//! E-mail addresses, anchored on `@` or URL-encoded `%40`.
//!
//! The local part is read backwards from the anchor (`[A-Za-z0-9._+-]`, a
//! leading `%XX` escape is skipped), the domain forwards (labels of
//! `[A-Za-z0-9-]`, at least two, alphabetic TLD of 2..=24 letters that is
//! not a file extension such as `png`). URL userinfo (`scheme://user:pw@`)
//! is left to the URL password detector.

use super::{at, is_digit, is_hex, is_ident, Det, Sink};

const FILE_EXT: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"css", b"js", b"json", b"html", b"htm",
    b"txt", b"log", b"yaml", b"yml", b"ico", b"woff", b"woff2", b"map",
];

#[inline]
fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-')
}

/// `anchor` is the index of `@` (or of `%` in `%40`); the domain starts at
/// `dom`. Returns the end of the address when one was pushed.
pub(crate) fn email_at(b: &[u8], anchor: usize, dom: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Email) {
        return None;
    }
    let (start, end) = find(b, anchor, dom)?;
    sink.push(Det::Email, start, end, false);
    // `Name <addr>` / `Name (addr)`: the display name is personal too.
    if start > 0 && matches!(b[start - 1], b'<' | b'(') {
        super::names::before_email(b, start - 1, sink);
    }
    Some(end)
}

pub(crate) fn find(b: &[u8], anchor: usize, dom: usize) -> Option<(usize, usize)> {
    // Local part.
    let mut s = anchor;
    while s > 0 && anchor - s < 64 && local_char(b[s - 1]) {
        s -= 1;
    }
    // `%20john@` -> skip the escape's two hex digits.
    if s > 0 && b[s - 1] == b'%' && anchor - s > 2 && is_hex(b[s]) && is_hex(b[s + 1]) {
        s += 2;
    }
    while s < anchor && !b[s].is_ascii_alphanumeric() {
        s += 1;
    }
    if s >= anchor {
        return None;
    }
    // URL userinfo `scheme://user:pass@host`: not an address.
    if s > 0 && b[s - 1] == b':' && in_url_authority(b, s - 1) {
        return None;
    }
    // Domain.
    let mut e = dom;
    let mut last_dot = None;
    let mut labels = 0usize;
    let mut label_len = 0usize;
    while e < b.len() && e - dom < 253 {
        let c = b[e];
        if c.is_ascii_alphanumeric() || c == b'-' {
            label_len += 1;
        } else if c == b'.' {
            if label_len == 0
                || !b[e + 1..]
                    .first()
                    .is_some_and(|x| x.is_ascii_alphanumeric())
            {
                break;
            }
            labels += 1;
            label_len = 0;
            last_dot = Some(e);
        } else {
            break;
        }
        e += 1;
    }
    // Trim trailing hyphens of the last label.
    while e > dom && b[e - 1] == b'-' {
        e -= 1;
    }
    let last_dot = last_dot?;
    if labels == 0 || e <= last_dot + 1 {
        return None;
    }
    if b[dom] == b'-' || b[dom] == b'.' {
        return None;
    }
    let tld = &b[last_dot + 1..e];
    if tld.len() < 2 || tld.len() > 24 || !tld.iter().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    if tld.len() <= 5 {
        let mut low = [0u8; 5];
        for (d, c) in low.iter_mut().zip(tld) {
            *d = c.to_ascii_lowercase();
        }
        if FILE_EXT.contains(&&low[..tld.len()]) {
            return None;
        }
    }
    if e < b.len() && (is_ident(b[e]) || (b[e] == b'-' && is_digit(at(b, e + 1)))) {
        return None;
    }
    Some((s, e))
}

/// Is the `:` at `colon` inside `scheme://...` authority (no `/` or space
/// between `//` and it)?
fn in_url_authority(b: &[u8], colon: usize) -> bool {
    let mut k = colon;
    while k >= 2 && colon - k < 256 {
        let c = b[k - 1];
        if c == b'/' {
            return b[k - 2] == b'/';
        }
        if c.is_ascii_whitespace() || c == b'"' || c == b'@' {
            return false;
        }
        k -= 1;
    }
    false
}
