//! The resume file: which objects of one backfill are finished.
//!
//! One file per (location, start, end, shard), named by a hash of those,
//! in the state folder (`DATA_DIR/backfill/` by default). It opens with a
//! comment line naming what it is for, then holds one JSON string (the
//! object key) per line, appended and synced only after every event of
//! that object was acknowledged `Delivered`. A line cut short by a crash
//! does not parse and is ignored, so the worst a crash costs is reading one
//! object again, whose events carry the same insertIds.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors name the state file, never keys.
#[derive(Debug, thiserror::Error)]
#[error("backfill state {}: {source}", path.display())]
pub(crate) struct StateError {
    pub(crate) path: PathBuf,
    pub(crate) source: std::io::Error,
}

pub(crate) struct State {
    path: PathBuf,
    file: std::fs::File,
    done: HashSet<String>,
}

/// The state file for one backfill identity.
pub(crate) fn path_for(dir: &Path, identity: &str) -> PathBuf {
    let h = xxhash_rust::xxh3::xxh3_128(identity.as_bytes());
    dir.join(format!("archive-{h:032x}.state"))
}

impl State {
    /// Opens (creating if needed) and loads the finished keys.
    pub(crate) fn open(path: &Path, identity: &str) -> Result<State, StateError> {
        let err = |source| StateError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut done = HashSet::new();
        let existing = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(err(e)),
        };
        let mut needs_newline = false;
        for line in existing.split(|b| *b == b'\n') {
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            match serde_json::from_slice::<String>(line) {
                Ok(k) => {
                    done.insert(k);
                }
                // A torn last line from a crash; the object is read again.
                Err(_) => needs_newline = true,
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        if existing.is_empty() {
            // The identity, for a person wondering what the file is.
            let header = format!("# sluice backfill state: {}\n", identity.replace('\n', " "));
            file.write_all(header.as_bytes()).map_err(err)?;
        } else if needs_newline || existing.last() != Some(&b'\n') {
            // Keep the next record on a line of its own.
            file.write_all(b"\n").map_err(err)?;
        }
        Ok(State {
            path: path.to_path_buf(),
            file,
            done,
        })
    }

    pub(crate) fn is_done(&self, key: &str) -> bool {
        self.done.contains(key)
    }

    pub(crate) fn done_count(&self) -> usize {
        self.done.len()
    }

    /// Records a finished object durably.
    pub(crate) fn record(&mut self, key: &str) -> Result<(), StateError> {
        let mut line = serde_json::to_string(key).expect("a string always serializes");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|source| StateError {
                path: self.path.clone(),
                source,
            })?;
        self.done.insert(key.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = path_for(dir.path(), "gs://b/p|start|end|0/1");
        assert_ne!(p, path_for(dir.path(), "gs://b/p|start|end|1/2"));
        let mut s = State::open(&p, "id").unwrap();
        s.record("logs/a\nb").unwrap();
        s.record("logs/c").unwrap();
        drop(s);
        // A crash mid-write leaves a torn line.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"\"logs/d").unwrap();
        drop(f);
        let mut s = State::open(&p, "id").unwrap();
        assert!(s.is_done("logs/a\nb") && s.is_done("logs/c") && !s.is_done("logs/d"));
        s.record("logs/d").unwrap();
        drop(s);
        let s = State::open(&p, "id").unwrap();
        assert_eq!(s.done_count(), 3);
        assert!(s.is_done("logs/d"));
    }
}
