//! Appending whole records to a local file, durably: what the `file` sink
//! and the dead-letter writer share.
//!
//! Two promises, because both writers acknowledge what they wrote:
//! - **Whole records only.** A write that fails part way (a full disk
//!   gives a short write, then `ENOSPC`) is cut back to where the file
//!   ended before it, so the retry that follows never lands after a torn
//!   record. A plain NDJSON file opened after a crash has a torn last line
//!   cut off the same way.
//! - **On disk before acknowledged.** Every append ends with
//!   `fdatasync`; a new file's folder is synced too, so the file itself
//!   survives a node crash. Callers append once per batch, so the sync is
//!   paid per batch, not per record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A failed open or append, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {path}: {source}")]
pub(crate) struct AppendError {
    pub(crate) op: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) source: std::io::Error,
}

/// An open file appended to in whole, synced records.
pub(crate) struct AppendFile {
    path: PathBuf,
    file: File,
    /// Where the last good append ended: the file is cut back here after
    /// a failed one.
    len: u64,
    /// A regular file. A FIFO or device (`/dev/stdout`) cannot be synced
    /// or cut back; what was written to it is passed on.
    regular: bool,
}

impl AppendFile {
    /// Opens `path` for appending, creating it and its folders. With
    /// `lines`, a last line without its newline (a crash mid-write) is cut
    /// off, so the file holds whole NDJSON records only.
    pub(crate) fn open(path: &Path, lines: bool) -> Result<AppendFile, AppendError> {
        let err = |op| {
            move |source| AppendError {
                op,
                path: path.to_path_buf(),
                source,
            }
        };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(err("create the folder of"))?;
        }
        let existed = path.exists();
        // Write-only: opening a FIFO for reading too would make us its
        // reader. Regular files are read through a second handle.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err("open"))?;
        let md = file.metadata().map_err(err("stat"))?;
        let regular = md.is_file();
        if !existed && regular {
            // The new directory entry is durable only once its folder is.
            File::open(dir.unwrap_or(Path::new(".")))
                .and_then(|d| d.sync_all())
                .map_err(err("sync the folder of"))?;
        }
        let mut len = md.len();
        if lines && regular && len > 0 {
            let whole = File::open(path)
                .and_then(|r| end_of_last_line(&r, len))
                .map_err(err("read"))?;
            if whole < len {
                tracing::warn!(path = %path.display(), cut_bytes = len - whole,
                    "cutting off a torn last line left by a crash");
                file.set_len(whole).map_err(err("truncate"))?;
                file.sync_data().map_err(err("sync"))?;
                len = whole;
            }
        }
        Ok(AppendFile {
            path: path.to_path_buf(),
            file,
            len,
            regular,
        })
    }

    /// Appends `buf` (whole records) and syncs it to disk. On failure the
    /// file is cut back to its previous end, and the error names the path.
    pub(crate) fn append(&mut self, buf: &[u8]) -> Result<(), AppendError> {
        let regular = self.regular;
        let written = self
            .file
            .write_all(buf)
            .map_err(|e| ("write", e))
            .and_then(|()| match self.file.sync_data() {
                Err(e) if regular => Err(("sync", e)),
                _ => Ok(()),
            });
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err((op, source)) => {
                if !self.regular {
                    // Nothing to cut back: the reader has the bytes.
                } else if let Err(e) = self.file.set_len(self.len) {
                    // The caller drops this handle; the next open cuts a
                    // torn NDJSON line off.
                    tracing::error!(path = %self.path.display(), error = %e,
                        "cannot cut a failed append back; the file may end in a partial record");
                }
                Err(AppendError {
                    op,
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }
}

/// Offset just past the last `\n` in the first `len` bytes (0 if none).
fn end_of_last_line(file: &File, len: u64) -> std::io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let part = &mut buf[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(i) = memchr::memrchr(b'\n', part) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_off_on_open() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/out.ndjson");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let mut f = AppendFile::open(&p, true).unwrap();
        f.append(b"{\"a\":3}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
        // Binary (gzip) files are left as they are.
        std::fs::write(&p, b"\x1f\x8b\x08").unwrap();
        AppendFile::open(&p, false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"\x1f\x8b\x08");
    }
}
