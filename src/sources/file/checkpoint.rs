//! Checkpoints: how far each file has been *delivered*, and where that is
//! kept between runs.
//!
//! The rule: a file's checkpoint is the end offset of the longest prefix of
//! its batches, in the order they were sent, whose acknowledgements all
//! resolved `Delivered` ([`AckQueue`]). A batch still in flight, or one that
//! failed, holds the checkpoint at its start, whatever happens to the
//! batches after it. End offsets are always line boundaries and never
//! inside a CRI/docker partial line, so a restart resumes on a line start.
//!
//! On disk: `checkpoints.json` in the source's state folder, one entry per
//! file fingerprint, written atomically (temp file, fsync, rename, fsync of
//! the folder) so a crash leaves either the old or the new file, never a
//! torn one.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::event::{BatchStatus, BatchStatusReceiver};

/// Bumped when the on-disk shape changes incompatibly.
const VERSION: u32 = 1;
pub(crate) const FILE_NAME: &str = "checkpoints.json";

/// One file's saved position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// `LEN:HASH` of the file's first bytes (see `fingerprint`).
    pub(crate) fingerprint: String,
    /// Bytes delivered from the start of the file.
    pub(crate) offset: u64,
    /// The path the file was first found at (labels and insertIds keep
    /// using it after a rename).
    pub(crate) path: PathBuf,
    /// Device and inode when last seen: a hint, and required to match for
    /// short fingerprints.
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// Unix seconds when the file was last found by discovery.
    pub(crate) seen: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Doc {
    version: u32,
    files: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("cannot read checkpoints {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("checkpoints {path} are not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write checkpoints {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Loads the entries; an absent file means a first start.
pub(crate) fn load(path: &Path) -> Result<Vec<Entry>, Error> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: path.into(),
                source,
            })
        }
    };
    let doc: Doc = serde_json::from_slice(&text).map_err(|e| Error::Parse {
        path: path.into(),
        message: e.to_string(),
    })?;
    if doc.version != VERSION {
        return Err(Error::Parse {
            path: path.into(),
            message: format!("version {} (this sluice reads {VERSION})", doc.version),
        });
    }
    Ok(doc.files)
}

/// Renames an unreadable checkpoint file to `NAME.corrupt-UNIXSECS` (next
/// to it, so an operator finds it) and returns the new path.
pub(crate) fn move_aside(path: &Path) -> Result<PathBuf, Error> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".corrupt-{secs}"));
    let aside = path.with_file_name(name);
    std::fs::rename(path, &aside).map_err(|source| Error::Write {
        path: aside.clone(),
        source,
    })?;
    Ok(aside)
}

/// Replaces the file atomically: write `NAME.tmp`, fsync, rename, fsync dir.
pub(crate) fn save(path: &Path, files: Vec<Entry>) -> Result<(), Error> {
    let err = |source| Error::Write {
        path: path.into(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = path.with_extension("json.tmp");
    let doc = Doc {
        version: VERSION,
        files,
    };
    let bytes = serde_json::to_vec_pretty(&doc).expect("checkpoint entries always serialize");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(&bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)?;
    // The rename is durable only once the folder is synced.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)?;
    Ok(())
}

/// One batch sent from a file and not yet resolved.
struct Pending {
    end: u64,
    events: usize,
    /// `None` for a stretch that produced no events (blank lines): it is
    /// delivered as soon as everything before it is.
    rx: Option<BatchStatusReceiver>,
}

/// A batch that did not resolve `Delivered`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) status: BatchStatus,
    /// Events in the failed batch.
    pub(crate) events: usize,
    /// Batches sent after it whose outcome no longer matters.
    pub(crate) discarded: usize,
}

/// The in-order acknowledgement queue of one file.
pub(crate) struct AckQueue {
    pending: VecDeque<Pending>,
    delivered: u64,
}

impl AckQueue {
    pub(crate) fn new(delivered: u64) -> Self {
        AckQueue {
            pending: VecDeque::new(),
            delivered,
        }
    }

    /// The checkpoint: end of the contiguous delivered prefix.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// End offset of the last batch queued (or the checkpoint).
    pub(crate) fn last_end(&self) -> u64 {
        self.pending.back().map_or(self.delivered, |p| p.end)
    }

    /// Queues a batch (in the order batches are sent). `end` must not go
    /// backwards.
    pub(crate) fn push(&mut self, end: u64, events: usize, rx: Option<BatchStatusReceiver>) {
        debug_assert!(end >= self.last_end(), "batch end offsets only grow");
        self.pending.push_back(Pending { end, events, rx });
    }

    /// Advances over resolved batches at the front. Returns `Err` when the
    /// front batch failed: the queue is then emptied, the checkpoint stays
    /// at that batch's start, and the caller re-reads from there.
    pub(crate) fn poll(&mut self) -> Result<bool, Failed> {
        let before = self.delivered;
        while let Some(front) = self.pending.front_mut() {
            let status = match front.rx.as_mut() {
                None => BatchStatus::Delivered,
                Some(rx) => match rx.try_recv() {
                    None => break,
                    Some(s) => s,
                },
            };
            let p = self.pending.pop_front().expect("front exists");
            if status != BatchStatus::Delivered {
                let discarded = self.pending.len();
                self.pending.clear();
                return Err(Failed {
                    status,
                    events: p.events,
                    discarded,
                });
            }
            self.delivered = p.end;
        }
        Ok(self.delivered != before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{BatchNotifier, Event, EventStatus};
    use serde_json::json;

    fn batch() -> (Event, BatchStatusReceiver) {
        let (n, rx) = BatchNotifier::new_with_receiver();
        (Event::with_notifier(json!({}), 1, &n), rx)
    }

    #[test]
    fn advances_only_over_the_contiguous_delivered_prefix() {
        let mut q = AckQueue::new(10);
        let (e1, r1) = batch();
        let (e2, r2) = batch();
        let (e3, r3) = batch();
        q.push(20, 1, Some(r1));
        q.push(25, 0, None);
        q.push(30, 1, Some(r2));
        q.push(40, 1, Some(r3));
        // The later batches resolve first: nothing moves.
        e2.finalize(EventStatus::Delivered);
        e3.finalize(EventStatus::Delivered);
        assert_eq!(q.poll(), Ok(false));
        assert_eq!(q.delivered(), 10);
        e1.finalize(EventStatus::Delivered);
        assert_eq!(q.poll(), Ok(true));
        assert_eq!(q.delivered(), 40);
        assert!(q.is_empty());
    }

    #[test]
    fn a_failed_batch_holds_the_checkpoint_at_its_start() {
        let mut q = AckQueue::new(0);
        let (e1, r1) = batch();
        let (e2, r2) = batch();
        let (e3, r3) = batch();
        q.push(10, 1, Some(r1));
        q.push(20, 1, Some(r2));
        q.push(30, 1, Some(r3));
        e1.finalize(EventStatus::Delivered);
        e2.finalize(EventStatus::Errored);
        e3.finalize(EventStatus::Delivered);
        assert_eq!(
            q.poll(),
            Err(Failed {
                status: BatchStatus::Errored,
                events: 1,
                discarded: 1
            })
        );
        assert_eq!(q.delivered(), 10);
        assert!(q.is_empty());
        // An event dropped without a status fails its batch too.
        let (e4, r4) = batch();
        q.push(50, 1, Some(r4));
        drop(e4);
        assert!(q.poll().is_err());
        assert_eq!(q.delivered(), 10);
    }

    #[test]
    fn save_is_atomic_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        assert_eq!(load(&path).unwrap(), Vec::new());
        let e = Entry {
            fingerprint: "256:00000000deadbeef".into(),
            offset: 1234,
            path: "/var/log/containers/a.log".into(),
            dev: 1,
            ino: 2,
            seen: 3,
        };
        save(&path, vec![e.clone()]).unwrap();
        assert_eq!(load(&path).unwrap(), vec![e.clone()]);
        assert!(!path.with_extension("json.tmp").exists());
        // A stale temp file from a crash does not disturb the next save.
        std::fs::write(path.with_extension("json.tmp"), b"{torn").unwrap();
        save(&path, vec![]).unwrap();
        assert_eq!(load(&path).unwrap(), Vec::new());
        std::fs::write(&path, b"{torn").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("not valid"), "{err}");
    }
}
