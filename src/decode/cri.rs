//! CRI log framing, as written by containerd and CRI-O:
//! `2025-11-30T12:34:56.789012345Z stdout F message`.
//! (kubernetes/cri-api "CRI logging format"; `P` marks a partial line.)

use crate::event::log_entry::Stream;

pub struct CriLine<'a> {
    pub time: &'a str,
    pub stream: Stream,
    pub(crate) partial: bool,
    pub message: &'a [u8],
}

/// Splits a CRI line, or `None` if it is not CRI framed.
pub fn split(line: &[u8]) -> Option<CriLine<'_>> {
    let sp1 = memchr::memchr(b' ', line)?;
    let time = std::str::from_utf8(&line[..sp1]).ok()?;
    // Cheap shape check before trusting it as a timestamp.
    if time.len() < 20 || !time.as_bytes()[0].is_ascii_digit() || time.as_bytes()[4] != b'-' {
        return None;
    }
    let rest = &line[sp1 + 1..];
    let sp2 = memchr::memchr(b' ', rest)?;
    let stream = Stream::parse(&rest[..sp2])?;
    let rest = &rest[sp2 + 1..];
    let (tag, message) = match memchr::memchr(b' ', rest) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        // An empty message: `TIME stdout F`.
        None => (rest, &rest[rest.len()..]),
    };
    let partial = match tag {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(CriLine {
        time,
        stream,
        partial,
        message,
    })
}
