//! Splits a byte stream into lines, enforcing a maximum line length.
//!
//! Readers hand it chunks as they arrive; it yields complete lines and
//! keeps the unfinished tail. A line longer than the limit is not
//! buffered: its first bytes are kept as a sample, the rest is skipped up
//! to the next newline, and it comes out as [`Piece::Oversize`].

/// One unit of output.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line, without its `\n`.
    Line(&'a [u8]),
    /// A line over the limit: a prefix and the total length.
    Oversize { prefix: &'a [u8], total: usize },
}

#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    tail: Vec<u8>,
    /// While skipping an oversize line: its sample and length so far.
    skipping: Option<(Vec<u8>, usize)>,
}

impl LineSplitter {
    pub fn new(max_line_bytes: usize) -> Self {
        LineSplitter {
            max: max_line_bytes.max(1),
            tail: Vec::new(),
            skipping: None,
        }
    }

    /// Feeds a chunk; calls `f` for every complete piece.
    pub fn push(&mut self, mut chunk: &[u8], mut f: impl FnMut(Piece<'_>)) {
        while !chunk.is_empty() {
            let nl = memchr::memchr(b'\n', chunk);
            if let Some((sample, total)) = self.skipping.as_mut() {
                match nl {
                    Some(i) => {
                        *total += i;
                        let (s, t) = self.skipping.take().expect("checked above");
                        f(Piece::Oversize {
                            prefix: &s,
                            total: t,
                        });
                        chunk = &chunk[i + 1..];
                    }
                    None => {
                        let _ = sample;
                        *total += chunk.len();
                        return;
                    }
                }
                continue;
            }
            match nl {
                Some(i) => {
                    let line_len = self.tail.len() + i;
                    if line_len > self.max {
                        let mut s = std::mem::take(&mut self.tail);
                        let need = super::REJECT_KEEP_BYTES.saturating_sub(s.len());
                        s.extend_from_slice(&chunk[..i.min(need)]);
                        f(Piece::Oversize {
                            prefix: &s,
                            total: line_len,
                        });
                    } else if self.tail.is_empty() {
                        f(Piece::Line(&chunk[..i]));
                    } else {
                        self.tail.extend_from_slice(&chunk[..i]);
                        let line = std::mem::take(&mut self.tail);
                        f(Piece::Line(&line));
                    }
                    chunk = &chunk[i + 1..];
                }
                None => {
                    if self.tail.len() + chunk.len() > self.max {
                        let total = self.tail.len() + chunk.len();
                        let mut s = std::mem::take(&mut self.tail);
                        let need = super::REJECT_KEEP_BYTES.saturating_sub(s.len());
                        s.extend_from_slice(&chunk[..chunk.len().min(need)]);
                        self.skipping = Some((s, total));
                    } else {
                        self.tail.extend_from_slice(chunk);
                    }
                    return;
                }
            }
        }
    }

    /// At end of input: the unfinished last line, if any (a file that does
    /// not end in a newline still has a last line).
    pub(crate) fn finish(&mut self, mut f: impl FnMut(Piece<'_>)) {
        if let Some((s, total)) = self.skipping.take() {
            f(Piece::Oversize { prefix: &s, total });
        } else if !self.tail.is_empty() {
            let line = std::mem::take(&mut self.tail);
            f(Piece::Line(&line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(max: usize, chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut push = |p: Piece<'_>| match p {
            Piece::Line(l) => out.push(String::from_utf8_lossy(l).into_owned()),
            Piece::Oversize { total, .. } => out.push(format!("<oversize {total}>")),
        };
        for c in chunks {
            s.push(c, &mut push);
        }
        s.finish(&mut push);
        out
    }

    #[test]
    fn splits_across_chunks() {
        assert_eq!(
            collect(100, &[b"ab", b"c\nd", b"ef\n", b"g"]),
            vec!["abc", "def", "g"]
        );
    }

    #[test]
    fn oversize_skipped_to_newline() {
        let out = collect(4, &[b"ok\n123456", b"789\nfine\n"]);
        assert_eq!(out, vec!["ok", "<oversize 9>", "fine"]);
        let out = collect(4, &[b"123456789\nok\n"]);
        assert_eq!(out, vec!["<oversize 9>", "ok"]);
    }
}
