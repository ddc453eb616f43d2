//! IPv4 (dotted quad, leading zeros, optional port) and IPv6 (full,
//! compressed, IPv4-mapped, bracketed). Loopback, unspecified and broadcast
//! addresses stay, and so does a CIDR network whose host bits are zero
//! (`10.1.2.0/24`: a network, not a host — also the partial-mode output).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{at, is_digit, is_hex, is_ident, is_word, Det, Sink};

/// Parses a dotted quad starting at `i`. Returns (address, end).
pub(crate) fn parse_v4(b: &[u8], i: usize) -> Option<(u32, usize)> {
    let mut k = i;
    let mut addr = 0u32;
    for part in 0..4 {
        let s = k;
        let mut v = 0u32;
        while k < b.len() && k - s < 3 && is_digit(b[k]) {
            v = v * 10 + u32::from(b[k] - b'0');
            k += 1;
        }
        if k == s || v > 255 || (k < b.len() && is_digit(b[k])) {
            return None;
        }
        addr = (addr << 8) | v;
        if part < 3 {
            if at(b, k) != b'.' {
                return None;
            }
            k += 1;
        }
    }
    Some((addr, k))
}

/// Network with zero host bits followed by `/len`?
fn is_network_v4(b: &[u8], end: usize, addr: u32) -> bool {
    cidr_len(b, end, 32).is_some_and(|len| len > 0 && len < 32 && addr << len == 0)
}

fn cidr_len(b: &[u8], end: usize, max: u32) -> Option<u32> {
    if at(b, end) != b'/' {
        return None;
    }
    let mut k = end + 1;
    let mut v = 0u32;
    while k < b.len() && k - end <= 3 && is_digit(b[k]) {
        v = v * 10 + u32::from(b[k] - b'0');
        k += 1;
    }
    if k == end + 1 || v > max || (k < b.len() && is_word(b[k])) {
        return None;
    }
    Some(v)
}

pub(crate) fn ipv4_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Ipv4) {
        return None;
    }
    if i > 0 && matches!(b[i - 1], b'.' | b'_') {
        return None;
    }
    let (addr, end) = parse_v4(b, i)?;
    // Boundary: not part of a longer dotted/identifier token.
    if end < b.len() {
        let c = b[end];
        if is_ident(c) || (c == b'.' && is_digit(at(b, end + 1))) {
            return None;
        }
    }
    if is_network_v4(b, end, addr) {
        return Some(end);
    }
    let ip = Ipv4Addr::from(addr);
    if ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() {
        return Some(end);
    }
    sink.push(Det::Ipv4, i, end, false);
    Some(end)
}

/// IPv6 candidate at `i` (a hex digit starting a word, or the first `:` of
/// a leading `::`).
pub(crate) fn ipv6_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Ipv6) {
        return None;
    }
    // Quick reject: a ':' within the first five bytes, hex before it.
    let mut k = i;
    while k < b.len() && k - i < 5 && is_hex(b[k]) {
        k += 1;
    }
    if at(b, k) != b':' {
        return None;
    }
    if i > 0 && (is_ident(b[i - 1]) || b[i - 1] == b':' || b[i - 1] == b'.') {
        return None;
    }
    let mut e = i;
    let mut colons = 0;
    let mut digit = false;
    while e < b.len() && e - i < 46 {
        let c = b[e];
        if c == b':' {
            colons += 1;
        } else if is_digit(c) {
            digit = true;
        } else if !(is_hex(c) || c == b'.') {
            break;
        }
        e += 1;
    }
    // Trim trailing punctuation (`addr: msg`, sentence end), but keep `::`.
    while e > i + 2 && (b[e - 1] == b'.' || (b[e - 1] == b':' && b[e - 2] != b':')) {
        if b[e - 1] == b':' {
            colons -= 1;
        }
        e -= 1;
    }
    if colons < 2 || !(digit || colons >= 3) {
        return None;
    }
    if e < b.len() && is_ident(b[e]) {
        return None;
    }
    let text = std::str::from_utf8(&b[i..e]).ok()?;
    let ip: Ipv6Addr = text.parse().ok()?;
    if ip.is_loopback() || ip.is_unspecified() {
        return Some(e);
    }
    if let Some(len) = cidr_len(b, e, 128) {
        if len > 0 && len < 128 && (u128::from(ip) << len) == 0 {
            return Some(e);
        }
    }
    sink.push(Det::Ipv6, i, e, false);
    Some(e)
}
