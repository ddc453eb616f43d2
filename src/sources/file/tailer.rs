//! Reading one file: positioned reads from an offset, line splitting,
//! decoding, and the offsets that say where a restart may resume.
//!
//! Three offsets move forward as bytes are read:
//! - `read_offset`: the next byte to read from the file;
//! - `pos`: the end of the last complete line handed to the decoder (the
//!   splitter may hold an unfinished line between the two);
//! - `safe`: where a restart may resume without losing or splitting an
//!   entry. It equals `pos`, except while a CRI `P` (or docker partial)
//!   line waits for its end: then it stays at the start of the first part,
//!   so a checkpoint never lands inside a partial line.
//!
//! Each decoded entry is tagged with `safe` as of the line that produced
//! it; a batch's end offset is the tag of its last entry.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::time::Instant;

use super::checkpoint::AckQueue;
use super::fingerprint::{self, Fingerprint};
use crate::decode::{Decoded, Decoder, Format, InvalidUtf8, LineSplitter, Piece};
use crate::event::log_entry::Origin;

/// An open file handle. It keeps a renamed or deleted file readable.
pub(crate) struct Open {
    pub(crate) file: File,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// Size at the last fingerprint check; re-checked when it changes.
    checked_size: u64,
}

impl Open {
    pub(crate) fn new(file: File) -> std::io::Result<Open> {
        let md = file.metadata()?;
        Ok(Open {
            file,
            dev: md.dev(),
            ino: md.ino(),
            checked_size: u64::MAX,
        })
    }
}

/// What one read call found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// `n` bytes were read and decoded.
    Data(usize),
    /// Nothing new.
    Eof,
    /// The file is shorter than what was read, or no longer starts with
    /// the fingerprinted bytes: it was truncated (copytruncate).
    Truncated,
}

/// One file's content, identified by its fingerprint; it outlives its
/// open handle (the acknowledgements and the checkpoint stay).
pub(crate) struct Tailer {
    /// The path the file was first found at: the source of its labels
    /// and of its insertId identity, kept across renames.
    pub(crate) path: PathBuf,
    pub(crate) fp: Option<Fingerprint>,
    pub(crate) open: Option<Open>,
    /// Device and inode last seen (kept after the handle closes).
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) read_offset: u64,
    pos: u64,
    safe: u64,
    partial_start: Option<u64>,
    splitter: LineSplitter,
    decoder: Decoder,
    format: Format,
    max_line_bytes: usize,
    invalid_utf8: InvalidUtf8,
    scratch: Vec<Decoded>,
    pub(crate) acks: AckQueue,
    /// File size at the last read (for the lag figure).
    pub(crate) size: u64,
    /// Unix seconds when discovery last found this file.
    pub(crate) seen: u64,
    /// Found by the current scan.
    pub(crate) reachable: bool,
    /// Since when reads found nothing new.
    pub(crate) idle_since: Option<Instant>,
    /// After a failed batch: not read again before this time.
    pub(crate) retry_at: Option<Instant>,
    pub(crate) failures: u32,
    /// Its file was truncated under it (copytruncate): a copy of what it
    /// read may appear under another inode (see `fingerprint`).
    pub(crate) truncated: bool,
}

impl Tailer {
    pub(crate) fn new(
        path: PathBuf,
        origin: Origin,
        format: Format,
        max_line_bytes: usize,
        offset: u64,
    ) -> Tailer {
        Tailer {
            path,
            fp: None,
            open: None,
            dev: 0,
            ino: 0,
            read_offset: offset,
            pos: offset,
            safe: offset,
            partial_start: None,
            splitter: LineSplitter::new(max_line_bytes),
            decoder: Decoder::new(format, origin, max_line_bytes),
            format,
            max_line_bytes,
            invalid_utf8: InvalidUtf8::Replace,
            scratch: Vec::new(),
            acks: AckQueue::new(offset),
            size: offset,
            seen: 0,
            reachable: false,
            idle_since: None,
            retry_at: None,
            failures: 0,
            truncated: false,
        }
    }

    /// Sets what happens to text lines that are not valid UTF-8.
    pub(crate) fn with_invalid_utf8(mut self, mode: InvalidUtf8) -> Tailer {
        self.invalid_utf8 = mode;
        self.decoder = Decoder::new(
            self.format,
            self.decoder.origin().clone(),
            self.max_line_bytes,
        )
        .with_invalid_utf8(mode);
        self
    }

    /// Lines that were not valid UTF-8 since the last call.
    pub(crate) fn take_invalid_utf8(&mut self) -> u64 {
        self.decoder.take_invalid_utf8()
    }

    pub(crate) fn attach(&mut self, open: Open) {
        self.truncated = false;
        self.dev = open.dev;
        self.ino = open.ino;
        self.open = Some(open);
        self.idle_since = None;
    }

    /// Where a restart may resume now (see the module doc).
    pub(crate) fn safe(&self) -> u64 {
        self.safe
    }

    /// Bytes of the file not yet delivered.
    pub(crate) fn lag(&self) -> u64 {
        self.size.saturating_sub(self.acks.delivered())
    }

    /// Forgets everything read after `offset` and reads again from there
    /// (after a failed batch, `offset` is the checkpoint).
    pub(crate) fn rewind(&mut self, offset: u64) {
        self.read_offset = offset;
        self.pos = offset;
        self.safe = offset;
        self.partial_start = None;
        self.splitter = LineSplitter::new(self.max_line_bytes);
        let origin = self.decoder.origin().clone();
        self.decoder = Decoder::new(self.format, origin, self.max_line_bytes)
            .with_invalid_utf8(self.invalid_utf8);
    }

    /// Reads at most `buf.len()` new bytes and decodes them into `out`,
    /// each entry with the safe offset after it.
    pub(crate) fn read(
        &mut self,
        buf: &mut [u8],
        out: &mut Vec<(Decoded, u64)>,
    ) -> std::io::Result<Step> {
        let Some(open) = self.open.as_mut() else {
            return Ok(Step::Eof);
        };
        let size = open.file.metadata()?.len();
        self.size = size;
        if size < self.read_offset {
            return Ok(Step::Truncated);
        }
        if size != open.checked_size {
            // Cheap (one 256-byte read per change) and catches a truncated
            // file that grew back past our offset before we looked.
            if let Some(fp) = &self.fp {
                if !fingerprint::matches(&open.file, fp)? {
                    return Ok(Step::Truncated);
                }
            }
            open.checked_size = size;
        }
        if size == self.read_offset {
            return Ok(Step::Eof);
        }
        let want = buf.len().min((size - self.read_offset) as usize);
        let n = open.file.read_at(&mut buf[..want], self.read_offset)?;
        if n == 0 {
            return Ok(Step::Eof);
        }
        self.read_offset += n as u64;
        self.feed(&buf[..n], out);
        Ok(Step::Data(n))
    }

    fn feed(&mut self, chunk: &[u8], out: &mut Vec<(Decoded, u64)>) {
        let received = chrono::Utc::now();
        let decoder = &mut self.decoder;
        let pos = &mut self.pos;
        let safe = &mut self.safe;
        let partial_start = &mut self.partial_start;
        let scratch = &mut self.scratch;
        self.splitter.push(chunk, |piece| {
            let start = *pos;
            match piece {
                Piece::Line(l) => {
                    *pos += l.len() as u64 + 1;
                    // The byte offset: a re-read after a restart or a
                    // rename gives the same insertId, a repeat elsewhere
                    // in the file another.
                    decoder.at(start);
                    decoder.push_line(l, received, scratch);
                }
                Piece::Oversize { prefix, total } => {
                    *pos += total as u64 + 1;
                    decoder.push_oversize(prefix, total, scratch);
                }
            }
            if decoder.has_partial() {
                *safe = *partial_start.get_or_insert(start);
            } else {
                *partial_start = None;
                *safe = *pos;
            }
            out.extend(scratch.drain(..).map(|d| (d, *safe)));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::NodeInfo;
    use std::io::Write;

    fn tailer_on(path: &std::path::Path, max: usize) -> Tailer {
        let origin = crate::decode::k8s::origin_for_file(path, &NodeInfo::default());
        let mut t = Tailer::new(path.into(), origin, Format::Auto, max, 0);
        t.attach(Open::new(File::open(path).unwrap()).unwrap());
        t
    }

    fn read_all(t: &mut Tailer) -> Vec<(String, u64)> {
        let mut buf = vec![0u8; 7]; // tiny reads: lines span chunks
        let mut out = Vec::new();
        while let Step::Data(_) = t.read(&mut buf, &mut out).unwrap() {}
        out.into_iter()
            .map(|(d, safe)| match d {
                Decoded::Entry { log, .. } => (log["textPayload"].as_str().unwrap().into(), safe),
                Decoded::Reject { reason, .. } => (format!("reject: {reason}"), safe),
            })
            .collect()
    }

    #[test]
    fn safe_offset_stays_before_the_first_partial_part() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let l1 = "2025-11-30T12:00:00.000000001Z stdout F one\n";
        let p1 = "2025-11-30T12:00:00.000000002Z stdout P tw\n";
        let p2 = "2025-11-30T12:00:00.000000003Z stdout P o-\n";
        std::fs::write(&p, format!("{l1}{p1}{p2}")).unwrap();
        let mut t = tailer_on(&p, 1024);
        let got = read_all(&mut t);
        assert_eq!(got, vec![("one".to_string(), l1.len() as u64)]);
        // Both P parts were read, but a restart must resume at the first.
        assert_eq!(t.read_offset, (l1.len() + p1.len() + p2.len()) as u64);
        assert_eq!(t.safe(), l1.len() as u64);
        let f = "2025-11-30T12:00:00.000000004Z stdout F end\n";
        let mut w = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        w.write_all(f.as_bytes()).unwrap();
        // An unfinished line (no newline) is not consumed either.
        w.write_all(b"2025-11-30T12:00:00.000000005Z stdout F unfini")
            .unwrap();
        let end = (l1.len() + p1.len() + p2.len() + f.len()) as u64;
        assert_eq!(read_all(&mut t), vec![("two-end".to_string(), end)]);
        assert_eq!(t.safe(), end);
    }

    #[test]
    fn oversize_and_malformed_lines_become_rejects_at_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.log");
        let ok = "2025-11-30T12:00:00Z stdout F fine\n";
        let big = format!("2025-11-30T12:00:00Z stdout F {}\n", "x".repeat(200));
        let bad = "not a cri line\n";
        std::fs::write(&p, format!("{ok}{big}{bad}")).unwrap();
        let mut t = tailer_on(&p, 100);
        let got = read_all(&mut t);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("fine".into(), ok.len() as u64));
        assert!(got[1].0.contains("exceeds max_line_bytes"), "{got:?}");
        assert_eq!(got[1].1, (ok.len() + big.len()) as u64);
        assert!(got[2].0.contains("malformed CRI"), "{got:?}");
        assert_eq!(got[2].1, (ok.len() + big.len() + bad.len()) as u64);
    }

    #[test]
    fn truncation_is_detected_even_after_regrowth() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let line = |i: u32| format!("2025-11-30T12:00:00.{i:09}Z stdout F line {i}\n");
        let first: String = (0..10).map(line).collect();
        std::fs::write(&p, &first).unwrap();
        let mut t = tailer_on(&p, 1024);
        t.fp = fingerprint::compute(&t.open.as_ref().unwrap().file).unwrap();
        assert_eq!(read_all(&mut t).len(), 10);
        // copytruncate, then more than we had read is written again.
        let again: String = (100..120).map(line).collect();
        std::fs::write(&p, &again).unwrap();
        let mut out = Vec::new();
        assert_eq!(t.read(&mut [0u8; 64], &mut out).unwrap(), Step::Truncated);
        assert!(out.is_empty());
    }

    fn ids(t: &mut Tailer) -> Vec<String> {
        let mut buf = vec![0u8; 7];
        let mut out = Vec::new();
        while let Step::Data(_) = t.read(&mut buf, &mut out).unwrap() {}
        out.into_iter()
            .map(|(d, _)| match d {
                Decoded::Entry { log, .. } => log["insertId"].as_str().unwrap().to_string(),
                Decoded::Reject { reason, .. } => panic!("{reason}"),
            })
            .collect()
    }

    #[test]
    fn issue13_4_identical_lines_get_distinct_insert_ids_that_a_re_read_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("same.log");
        // No timestamp in the framing: only the position tells them apart.
        std::fs::write(&p, "same line\nsame line\nsame line\n").unwrap();
        let mut t = tailer_on(&p, 1024);
        let first = ids(&mut t);
        assert_eq!(first.len(), 3);
        let distinct: std::collections::HashSet<&String> = first.iter().collect();
        assert_eq!(distinct.len(), 3, "repeats merged: {first:?}");
        // A replay from the start (restart, failed batch) keeps the ids.
        t.rewind(0);
        assert_eq!(ids(&mut t), first);
        // So does a fresh read of the same file (another run).
        assert_eq!(ids(&mut tailer_on(&p, 1024)), first);
        // A replay from the middle gives the middle lines their ids.
        t.rewind(10);
        assert_eq!(ids(&mut t), first[1..]);
    }

    #[test]
    fn rewind_reads_again_from_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.log");
        std::fs::write(&p, "a\nb\nc\n").unwrap();
        let mut t = tailer_on(&p, 1024);
        assert_eq!(read_all(&mut t).len(), 3);
        t.rewind(2);
        let got: Vec<String> = read_all(&mut t).into_iter().map(|(s, _)| s).collect();
        assert_eq!(got, vec!["b", "c"]);
    }
}
