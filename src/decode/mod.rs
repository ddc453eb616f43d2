//! Container-runtime framing: turns raw lines from a log file into
//! `LogEntry` events.
//!
//! Three framings, chosen per file (or detected from its first line):
//! - CRI (`cri.rs`): `TIME STREAM P|F MESSAGE`, as containerd writes
//!   `/var/log/containers/*.log` on GKE. `P` lines are partial and are
//!   joined with the following lines up to an `F`.
//! - docker json-file (`docker.rs`): `{"log":"...","stream":"...","time":"..."}`,
//!   where a `log` without a trailing newline is a partial line.
//! - NDJSON / plain text: the line is the application's output.
//!
//! The [`Decoder`] is synchronous and does no IO; the file source, stdin
//! and dry-run inputs all feed it lines. Lines it cannot turn into entries
//! come out as [`Decoded::Reject`] with a reason, for the dead-letter output.

pub mod cri;
mod lines;
pub use lines::{LineSplitter, Piece};
mod docker;
pub mod k8s;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::event::log_entry::{self, Line, Origin, Stream};

/// How a file's lines are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Detect from the first non-empty line.
    #[default]
    Auto,
    Cri,
    Docker,
    Ndjson,
}

impl Format {
    /// Guesses the framing of a line. CRI lines start with an RFC 3339 time
    /// followed by ` stdout ` or ` stderr `; docker lines are JSON objects
    /// with a `"log"` key; anything else is NDJSON/plain.
    pub(crate) fn detect(line: &[u8]) -> Format {
        if cri::split(line).is_some() {
            Format::Cri
        } else if line.starts_with(b"{\"log\":")
            || (line.starts_with(b"{") && docker::looks_like(line))
        {
            Format::Docker
        } else {
            Format::Ndjson
        }
    }
}

/// What to do with a text line that is not valid UTF-8. Either way the
/// line is counted (`source_invalid_utf8_lines_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InvalidUtf8 {
    /// Deliver it with U+FFFD in place of the bad bytes, as Google's agent
    /// does.
    #[default]
    Replace,
    /// Send it to the dead-letter output instead.
    Deadletter,
}

/// The longest prefix of a rejected line kept in the dead-letter record.
pub const REJECT_SAMPLE_BYTES: usize = 4096;

/// How much of a rejected line is kept until the dead-letter output has
/// redacted it: more than [`REJECT_SAMPLE_BYTES`], so that a value crossing
/// the final cut is still whole when the detectors see it.
pub(crate) const REJECT_KEEP_BYTES: usize = REJECT_SAMPLE_BYTES + 1024;

/// What one input line turned into.
#[derive(Debug)]
pub enum Decoded {
    Entry {
        log: Value,
        size: usize,
    },
    Reject {
        reason: String,
        sample: String,
        size: usize,
    },
}

/// Per-file decoding state (partial lines in progress).
#[derive(Debug)]
pub struct Decoder {
    format: Format,
    origin: Origin,
    max_line_bytes: usize,
    partial: Partial,
    /// Position of the next line pushed (see [`Decoder::at`]).
    position: Option<u64>,
    invalid_utf8: InvalidUtf8,
    /// Lines seen that were not valid UTF-8, since the last `take`.
    invalid_utf8_lines: u64,
}

#[derive(Debug, Default)]
struct Partial {
    payload: Vec<u8>,
    raw: Vec<u8>,
    time: String,
    stream: Option<Stream>,
    active: bool,
    /// Position of the first part: the joined entry's position.
    position: Option<u64>,
}

impl Decoder {
    pub fn new(format: Format, origin: Origin, max_line_bytes: usize) -> Decoder {
        Decoder {
            format,
            origin,
            max_line_bytes,
            partial: Partial::default(),
            position: None,
            invalid_utf8: InvalidUtf8::Replace,
            invalid_utf8_lines: 0,
        }
    }

    /// Sets what happens to text lines that are not valid UTF-8.
    pub(crate) fn with_invalid_utf8(mut self, mode: InvalidUtf8) -> Decoder {
        self.invalid_utf8 = mode;
        self
    }

    /// Lines that were not valid UTF-8 since the last call (for the
    /// source's counter).
    pub(crate) fn take_invalid_utf8(&mut self) -> u64 {
        std::mem::take(&mut self.invalid_utf8_lines)
    }

    /// Sets the position of the next line pushed: where it starts in its
    /// stream (a byte offset or a line number, as the caller counts). It
    /// goes into the entry's `insertId`, so identical lines at different
    /// positions get different ids and a re-read gets the same ones.
    pub(crate) fn at(&mut self, position: u64) {
        self.position = Some(position);
    }

    pub(crate) fn origin(&self) -> &Origin {
        &self.origin
    }

    /// True while a partial (`P`) line is waiting for its end.
    pub(crate) fn has_partial(&self) -> bool {
        self.partial.active
    }

    /// Reports a line the reader cut because it exceeded the limit.
    pub fn push_oversize(&mut self, prefix: &[u8], total: usize, out: &mut Vec<Decoded>) {
        self.partial = Partial::default();
        out.push(Decoded::Reject {
            reason: format!(
                "line of {total} bytes exceeds max_line_bytes ({})",
                self.max_line_bytes
            ),
            sample: sample(prefix, true),
            size: total,
        });
    }

    /// Decodes one complete line (with or without its trailing newline).
    pub fn push_line(&mut self, line: &[u8], received: DateTime<Utc>, out: &mut Vec<Decoded>) {
        let line = trim_newline(line);
        if line.is_empty() {
            return;
        }
        if self.format == Format::Auto {
            self.format = Format::detect(line);
        }
        match self.format {
            Format::Cri => self.push_cri(line, received, out),
            Format::Docker => self.push_docker(line, received, out),
            Format::Ndjson | Format::Auto => {
                let l = Line {
                    payload: line,
                    time: None,
                    stream: None,
                    raw: line,
                    position: self.position,
                };
                self.emit(l, line.len(), received, out);
            }
        }
    }

    fn push_cri(&mut self, line: &[u8], received: DateTime<Utc>, out: &mut Vec<Decoded>) {
        let Some(c) = cri::split(line) else {
            out.push(Decoded::Reject {
                reason: "malformed CRI line: expected `TIME STREAM P|F MESSAGE`".into(),
                sample: sample(line, false),
                size: line.len(),
            });
            return;
        };
        self.join(c.time, c.stream, c.partial, c.message, line, received, out);
    }

    fn push_docker(&mut self, line: &[u8], received: DateTime<Utc>, out: &mut Vec<Decoded>) {
        match docker::parse(line) {
            Ok(d) => {
                let partial = !d.log.ends_with('\n');
                let msg = d.log.as_bytes();
                let msg = if partial { msg } else { &msg[..msg.len() - 1] };
                self.join(&d.time, d.stream, partial, msg, line, received, out);
            }
            Err(reason) => out.push(Decoded::Reject {
                reason,
                sample: sample(line, false),
                size: line.len(),
            }),
        }
    }

    /// Accumulates partial lines; emits on the final part.
    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        time: &str,
        stream: Stream,
        partial: bool,
        msg: &[u8],
        raw: &[u8],
        received: DateTime<Utc>,
        out: &mut Vec<Decoded>,
    ) {
        if !partial && !self.partial.active {
            let l = Line {
                payload: msg,
                time: Some(time),
                stream: Some(stream),
                raw,
                position: self.position,
            };
            self.emit(l, raw.len(), received, out);
            return;
        }
        let p = &mut self.partial;
        if !p.active {
            p.active = true;
            p.time.clear();
            p.time.push_str(time);
            p.stream = Some(stream);
            p.position = self.position;
        }
        p.payload.extend_from_slice(msg);
        p.raw.extend_from_slice(raw);
        if p.payload.len() > self.max_line_bytes {
            let total = p.raw.len();
            let prefix = std::mem::take(&mut p.payload);
            self.push_oversize(&prefix, total, out);
            return;
        }
        if !partial {
            let p = std::mem::take(&mut self.partial);
            let l = Line {
                payload: &p.payload,
                time: Some(&p.time),
                stream: p.stream,
                raw: &p.raw,
                position: p.position,
            };
            self.emit(l, p.raw.len(), received, out);
        }
    }

    fn emit(&mut self, l: Line<'_>, size: usize, received: DateTime<Utc>, out: &mut Vec<Decoded>) {
        // JSON lines with bad UTF-8 fail to parse and are dead-lettered as
        // malformed; text lines would silently get U+FFFD.
        let text = l.payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{');
        // Only text lines are checked here: a JSON line is validated by its
        // parser, and checking it twice would cost every line a scan.
        if let Some(e) = text.then(|| std::str::from_utf8(l.payload).err()).flatten() {
            self.invalid_utf8_lines += 1;
            if self.invalid_utf8 == InvalidUtf8::Deadletter {
                out.push(Decoded::Reject {
                    reason: format!(
                        "line is not valid UTF-8: invalid UTF-8 at byte {} (invalid_utf8 = \"deadletter\")",
                        e.valid_up_to()
                    ),
                    sample: sample(l.payload, false),
                    size,
                });
                return;
            }
        }
        match log_entry::shape(l, &self.origin, received) {
            Ok(log) => out.push(Decoded::Entry { log, size }),
            Err(e) => out.push(Decoded::Reject {
                reason: e.to_string(),
                sample: sample(l.payload, false),
                size,
            }),
        }
    }
}

fn trim_newline(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// A lossy, bounded copy of a rejected line for the dead-letter record.
/// It is redacted by the dead-letter output like any event, and cut to
/// [`REJECT_SAMPLE_BYTES`] after that. `cut_short`: `b` is already a cut
/// of a longer line (over `max_line_bytes`), so its end is a cut too.
pub(crate) fn sample(b: &[u8], cut_short: bool) -> String {
    let end = safe_cut(b, REJECT_KEEP_BYTES, cut_short);
    let mut s = String::from_utf8_lossy(&b[..end]).into_owned();
    // Each invalid byte became a 3-byte U+FFFD: bound the result in bytes
    // too.
    if s.len() > REJECT_KEEP_BYTES {
        let cut = safe_cut(s.as_bytes(), REJECT_KEEP_BYTES, false);
        s.truncate(cut);
    }
    s
}

/// Where to end a copy of `b` of at most `max` bytes so that no part of a
/// value survives the cut: never inside a UTF-8 sequence, the token the
/// cut goes through is left out whole (back to whitespace, a quote or a
/// bracket), and when the cut goes through a number the digit groups
/// before it go too (`4111 1111 1111` of a card cut after 12 digits is
/// still 12 digits of it, and no longer passes the card check that would
/// redact it). `more_follows`: `b` itself was cut from something longer,
/// so its end is a cut even when it is shorter than `max`.
pub(crate) fn safe_cut(b: &[u8], max: usize, more_follows: bool) -> usize {
    let mut end = max.min(b.len());
    if end == b.len() && !more_follows {
        return end;
    }
    while end > 0 && end < b.len() && (b[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    let edge = |c: u8| {
        c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b',' | b'{' | b'}' | b'[' | b']')
    };
    let numberish =
        |c: u8| c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+');
    // A number continues across the cut: the first byte after it, past
    // separators, is a digit (unknown after a cut line: assume it is).
    let after = b[end..]
        .iter()
        .position(|c| !matches!(c, b' ' | b'-' | b'.'));
    let mut number = match after {
        Some(k) => b[end + k].is_ascii_digit(),
        None => more_follows,
    };
    if end == b.len() || !edge(b[end]) {
        while end > 0 && !edge(b[end - 1]) {
            end -= 1;
            number |= b[end].is_ascii_digit();
        }
    }
    if number {
        let mut j = end;
        while j > 0 && numberish(b[j - 1]) {
            j -= 1;
        }
        // Keep the space that separated the number from what precedes it.
        while j < end && b[j] == b' ' {
            j += 1;
        }
        if b[j..end].iter().any(u8::is_ascii_digit) {
            end = j;
        }
    }
    end
}

#[cfg(test)]
mod tests;
