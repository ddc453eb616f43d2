//! File identity that survives renames, restarts and copies.
//!
//! A file is identified by a hash (xxh3-64) of its first bytes:
//! - `FULL_LEN` (256) bytes once the file has that many. For CRI and docker
//!   files the first line carries the runtime's nanosecond timestamp, so
//!   two different container logs practically never share a prefix.
//! - While the file is shorter than that, the first complete line
//!   (including its `\n`). A file with no complete line yet has no
//!   fingerprint and is not read (there is nothing complete to read).
//!   When such a file grows past `FULL_LEN`, its fingerprint is upgraded
//!   (see `upgrade`); a file only grows at the end, so the short prefix
//!   still matches and the upgrade is safe.
//!
//! The device and inode are kept beside it as a hint: an open file is
//! recognised by inode without hashing, and a *short* fingerprint only
//! matches a file with the same inode (two plain-text files can easily
//! start with the same short line, e.g. `starting server`).
//!
//! A copy of a file shorter than 256 bytes (copytruncate of a small log)
//! has another inode, so it is recognised otherwise: by the same log name
//! with a rotation suffix and the same first line, once the file it copies
//! has been truncated (the source holds such a copy back for up to a
//! second while the original is still open, waiting for the truncate).
//!
//! Limits: two files whose first 256 bytes are equal are taken to be the
//! same file (the second is not read until the first is gone); a short
//! copy truncated more than a second after it appeared (or found after a
//! restart in between) is read again, delivered twice to sinks that do
//! not de-duplicate (file, GCS). Its entries keep their insertIds, because
//! the id hashes the log's name without the rotation suffix
//! (`k8s::base_log_name`), the byte offset and the line, so BigQuery drops
//! the repeats (`issue13_5_*` test); a file truncated and rewritten with
//! the same first bytes is not noticed.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;

use xxhash_rust::xxh3::xxh3_64;

/// Bytes hashed once a file is long enough.
pub(crate) const FULL_LEN: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint {
    /// How many leading bytes were hashed.
    pub(crate) len: u64,
    pub(crate) hash: u64,
}

impl Fingerprint {
    /// True when this covers `FULL_LEN` bytes (not just a short first line).
    pub(crate) fn is_full(&self) -> bool {
        self.len >= FULL_LEN
    }

    /// Parses the `LEN:HASH` form written in checkpoints.
    pub(crate) fn parse(s: &str) -> Option<Fingerprint> {
        let (len, hash) = s.split_once(':')?;
        Some(Fingerprint {
            len: len.parse().ok()?,
            hash: u64::from_str_radix(hash, 16).ok()?,
        })
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:016x}", self.len, self.hash)
    }
}

/// Reads up to `FULL_LEN` bytes from the start of `file` into `buf`.
fn read_prefix(file: &File, buf: &mut [u8; FULL_LEN as usize]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = file.read_at(&mut buf[got..], got as u64)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// The fingerprint of a file as it is now; `None` while it has neither
/// `FULL_LEN` bytes nor a complete first line.
pub(crate) fn compute(file: &File) -> std::io::Result<Option<Fingerprint>> {
    let mut buf = [0u8; FULL_LEN as usize];
    let got = read_prefix(file, &mut buf)?;
    Ok(of_prefix(&buf[..got]))
}

/// The fingerprint of a file whose first bytes are `prefix` (at most
/// `FULL_LEN` of them).
pub(crate) fn of_prefix(prefix: &[u8]) -> Option<Fingerprint> {
    let len = if prefix.len() as u64 >= FULL_LEN {
        FULL_LEN as usize
    } else {
        memchr::memchr(b'\n', prefix)? + 1
    };
    Some(Fingerprint {
        len: len as u64,
        hash: xxh3_64(&prefix[..len]),
    })
}

/// Does `file` still start with the bytes `fp` was computed from?
/// `false` when the file is now shorter than the fingerprint.
pub(crate) fn matches(file: &File, fp: &Fingerprint) -> std::io::Result<bool> {
    let mut buf = [0u8; FULL_LEN as usize];
    let got = read_prefix(file, &mut buf)? as u64;
    Ok(got >= fp.len && xxh3_64(&buf[..fp.len as usize]) == fp.hash)
}

/// For a short fingerprint whose file has grown past `FULL_LEN`: the full
/// fingerprint, if the file still starts with the short one's bytes.
pub(crate) fn upgrade(file: &File, fp: &Fingerprint) -> std::io::Result<Option<Fingerprint>> {
    if fp.is_full() {
        return Ok(None);
    }
    let mut buf = [0u8; FULL_LEN as usize];
    let got = read_prefix(file, &mut buf)?;
    if (got as u64) < FULL_LEN || xxh3_64(&buf[..fp.len as usize]) != fp.hash {
        return Ok(None);
    }
    Ok(of_prefix(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(content: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut t = tempfile::NamedTempFile::new().unwrap();
        t.write_all(content).unwrap();
        t.flush().unwrap();
        let f = File::open(t.path()).unwrap();
        (t, f)
    }

    #[test]
    fn no_fingerprint_without_a_complete_line() {
        let (_t, f) = file_with(b"");
        assert_eq!(compute(&f).unwrap(), None);
        let (_t, f) = file_with(b"2025-11-30T12:34:56Z stdout F no newline yet");
        assert_eq!(compute(&f).unwrap(), None);
    }

    #[test]
    fn short_file_uses_first_line_and_upgrades_as_it_grows() {
        let (mut t, f) = file_with(b"first line\nsecond");
        let short = compute(&f).unwrap().unwrap();
        assert_eq!(short.len, 11);
        assert!(!short.is_full());
        // Appending does not change the short fingerprint.
        t.write_all(b" more\nthird\n").unwrap();
        t.flush().unwrap();
        assert_eq!(compute(&f).unwrap(), Some(short));
        assert!(matches(&f, &short).unwrap());
        assert_eq!(upgrade(&f, &short).unwrap(), None, "not yet 256 bytes");
        t.write_all(&[b'x'; 300]).unwrap();
        t.flush().unwrap();
        let full = upgrade(&f, &short).unwrap().unwrap();
        assert!(full.is_full());
        assert_eq!(compute(&f).unwrap(), Some(full));
        assert!(matches(&f, &short).unwrap() && matches(&f, &full).unwrap());
    }

    #[test]
    fn different_content_and_truncation_do_not_match() {
        let (_a, fa) = file_with(&[b'a'; 400]);
        let (_b, fb) = file_with(&[b'b'; 400]);
        let fpa = compute(&fa).unwrap().unwrap();
        assert!(!matches(&fb, &fpa).unwrap());
        let (t, f) = file_with(&[b'a'; 400]);
        assert!(
            matches(&f, &fpa).unwrap(),
            "same first bytes, same identity"
        );
        t.as_file().set_len(10).unwrap();
        assert!(!matches(&f, &fpa).unwrap(), "shorter than the fingerprint");
    }

    #[test]
    fn text_form_round_trips() {
        let fp = Fingerprint {
            len: 256,
            hash: 0xdead_beef,
        };
        assert_eq!(fp.to_string(), "256:00000000deadbeef");
        assert_eq!(Fingerprint::parse(&fp.to_string()), Some(fp));
        assert_eq!(Fingerprint::parse("x"), None);
    }
}
