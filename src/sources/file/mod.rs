//! `type = "file"`: tails log files, as a node agent tails
//! `/var/log/containers/*.log` on GKE.
//!
//! - `discovery`: include/exclude globs, evaluated every
//!   `glob_interval_ms`, so files created while running are found.
//! - `fingerprint`: a file is identified by a hash of its first 256 bytes
//!   (or its first line while shorter), with device/inode as a hint. A
//!   renamed file keeps its identity, so it is neither lost nor read again.
//! - `tailer`: reads one file from an offset and decodes its lines (CRI,
//!   docker json-file or NDJSON, `format`), tracking where a restart may
//!   resume.
//! - `checkpoint`: per-file acknowledgement queues and the atomic
//!   `checkpoints.json` under `global.data_dir`.
//!
//! All files are read by this one task with positioned reads into one
//! shared buffer; per-file memory is the unfinished last line and the
//! decoder's partial-line state. Reads are plain blocking `pread`s on
//! local files, bounded by `max_read_bytes` per file per pass.
//!
//! Acknowledgements: a file's checkpoint advances only to the end of
//! batches that resolved `Delivered`, in the order they were sent
//! (`checkpoint::AckQueue`). When a batch resolves `Errored` or `Rejected`
//! the file's unacknowledged batches are forgotten, a warning names the
//! file and the count, and the file is read again from its checkpoint
//! after a backoff (1 s doubling to 60 s): delivery is at least once, and
//! the repeated lines carry the same insertIds. Rotation:
//! - rename (kubelet, logrotate `create`): the open handle keeps reading
//!   the renamed file to its end while the new file at the path is read
//!   from its start; the old handle closes once it is idle, unreachable
//!   and fully acknowledged;
//! - copytruncate: the truncation is seen (size below the read offset, or
//!   first bytes changed); the file is read again from the start as new
//!   content, and if the copy is also matched by the globs it resumes
//!   where the original was left, so lines written between the last read
//!   and the copy are not lost. Without the copy in the globs those lines
//!   are lost: copytruncate races every tailer.
//!
//! `read_from` applies to files found by the first scan that have no
//! checkpoint; files that appear later are read from the start, since
//! everything in them was written after sluice started.
//!
//! Shutdown: stop reading, send what was read, close the outputs so that
//! sinks flush, wait for acknowledgements (at most a little less than
//! `global.shutdown_grace_secs`), save checkpoints, return. Lines not
//! acknowledged by then are read again on the next start.

mod checkpoint;
mod discovery;
mod fingerprint;
mod tailer;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{Emitter, Source};
use crate::backoff::Backoff;
use crate::component::{BuildContext, BuildError, ComponentError, SourceContext};
use crate::decode::{k8s, Decoded};
use crate::event::BatchStatusReceiver;
use crate::node::NodeInfo;
use crate::telemetry::Telemetry;

use discovery::Globs;
use fingerprint::Fingerprint;
use tailer::{Open, Step, Tailer};

mod config;
pub(crate) use self::config::{Config, ReadFrom};

/// Read size: one buffer shared by all files.
const READ_CHUNK: usize = 64 * 1024;
/// A file's checkpoint is forgotten this long after discovery last found
/// it (and once nothing about it is pending).
const FORGET_AFTER_SECS: u64 = 3600;

pub(crate) struct FileSource {
    cfg: Config,
    globs: Globs,
    node: NodeInfo,
    checkpoints: PathBuf,
    ack_wait: Duration,
}

impl FileSource {
    pub(crate) fn new(cfg: Config, name: &str, cx: &BuildContext) -> Result<Self, BuildError> {
        let globs = Globs::new(&cfg.include, &cfg.exclude)
            .map_err(|m| BuildError::new("source", name, m))?;
        let sub = cfg
            .data_subdir
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new("checkpoints").join(name));
        let checkpoints = cx.data_dir.join(sub).join(checkpoint::FILE_NAME);
        // Leave the topology time to drain the sinks after we return.
        let grace = cx.shutdown_grace;
        let ack_wait = grace.saturating_sub(Duration::from_secs(2)).max(grace / 2);
        // Ready only once the first checkpoint is on disk (see `run`).
        cx.telemetry.defer_ready(name);
        Ok(FileSource {
            cfg,
            globs,
            node: cx.node.clone(),
            checkpoints,
            ack_wait,
        })
    }
}

#[async_trait]
impl Source for FileSource {
    async fn run(self: Box<Self>, mut cx: SourceContext) -> Result<(), ComponentError> {
        let name = cx.name.clone();
        let mut st = State::load(&self, &name, &cx.telemetry)?;
        let shutdown = cx.shutdown.clone();
        let glob_interval = Duration::from_millis(self.cfg.glob_interval_ms);
        let persist_interval = Duration::from_millis(self.cfg.checkpoint_interval_ms);
        let poll_interval = Duration::from_millis(self.cfg.poll_interval_ms);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut next_scan = Instant::now();
        let mut next_persist = Instant::now() + persist_interval;
        let mut first_scan = true;
        let mut first_save = true;
        let mut saves = SaveHealth::new(
            Duration::from_secs(self.cfg.checkpoint_failure_timeout_secs),
            &self.checkpoints,
        );
        let result = loop {
            if shutdown.is_cancelled() {
                break Ok(());
            }
            let now = Instant::now();
            if now >= next_scan {
                st.scan(first_scan, glob_interval);
                first_scan = false;
                next_scan = now + glob_interval;
            }
            // Nothing is read before the starting positions are on disk:
            // with `read_from = "end"` a crash before the first save would
            // otherwise skip, on restart, everything written meanwhile.
            if !saves.started {
                // The first save doubles as the check that checkpoints can
                // be saved at all (written, synced, renamed): an unusable
                // data_dir fails the start at once, naming the path, so the
                // pod crash-loops visibly instead of running unready.
                let saved = st.persist();
                if let (true, Err(e)) = (std::mem::take(&mut first_save), &saved) {
                    cx.telemetry.state_write_failed(&cx.name);
                    break Err(ComponentError(format!(
                        "source {}: cannot save checkpoints, so nothing is read: {e}",
                        cx.name
                    )));
                }
                if let Err(e) = saves.record(saved, &cx) {
                    break Err(e);
                }
                if !saves.started {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(persist_interval) => {}
                    }
                    continue;
                }
                next_persist = Instant::now() + persist_interval;
            }
            let pass = st.read_pass(&mut cx, &mut buf, &shutdown).await;
            st.poll_acks();
            cx.telemetry.set_source_lag(&cx.name, st.lag());
            if Instant::now() >= next_persist {
                if st.dirty || saves.failing() {
                    if let Err(e) = saves.record(st.persist(), &cx) {
                        break Err(e);
                    }
                }
                next_persist = Instant::now() + persist_interval;
            }
            match pass {
                Err(e) => break Err(e),
                Ok(Pass::Abandoned) => break Ok(()),
                Ok(Pass::Read) => tokio::task::yield_now().await,
                Ok(Pass::Idle) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(poll_interval) => {}
                    }
                }
            }
        };

        // Closing our outputs lets sinks that write on end of input flush,
        // so their acknowledgements can still arrive.
        drop(cx.out);
        drop(cx.dead_letter);
        // One budget from the moment shutdown was seen, however many sends
        // waited on a stalled downstream before: the checkpoint is saved
        // before the topology's grace period abandons the sinks.
        let deadline = *st.stop_by.get_or_insert(Instant::now() + self.ack_wait);
        loop {
            st.poll_acks();
            let outstanding = st.outstanding();
            if outstanding == 0 {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(source = %cx.name, batches = outstanding,
                    "shutting down with unacknowledged batches; they will be read again on restart");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cx.telemetry.set_source_lag(&cx.name, st.lag());
        let saved = st
            .persist()
            .map_err(|e| ComponentError::new(format!("source {}", cx.name), e));
        result.and(saved)
    }
}

/// Whether checkpoints are being saved, once the first save (at start) has
/// shown they can be. A source that then cannot save them is
/// not ready (so a rollout stops at this node), counts every failure, and
/// after `timeout` of failing stops the process: running on without
/// checkpoints turns the next restart into silent loss (`read_from =
/// "end"`) or a flood of duplicates.
struct SaveHealth<'p> {
    timeout: Duration,
    path: &'p Path,
    /// The first save succeeded: reading may start.
    started: bool,
    failing_since: Option<Instant>,
}

impl<'p> SaveHealth<'p> {
    fn new(timeout: Duration, path: &'p Path) -> Self {
        SaveHealth {
            timeout,
            path,
            started: false,
            failing_since: None,
        }
    }

    fn failing(&self) -> bool {
        self.failing_since.is_some()
    }

    /// Accounts for one save attempt; `Err` once saves have failed for
    /// longer than the timeout.
    fn record(
        &mut self,
        saved: Result<(), checkpoint::Error>,
        cx: &SourceContext,
    ) -> Result<(), ComponentError> {
        match saved {
            Ok(()) => {
                if self.failing_since.take().is_some() {
                    tracing::info!(source = %cx.name, path = %self.path.display(), "checkpoints are being saved again");
                }
                if !self.started {
                    tracing::info!(source = %cx.name, path = %self.path.display(), "starting positions saved; reading");
                }
                self.started = true;
                cx.telemetry.mark_ready(&cx.name);
                Ok(())
            }
            Err(e) => {
                cx.telemetry.state_write_failed(&cx.name);
                cx.telemetry.mark_not_ready(&cx.name);
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                let left = self.timeout.saturating_sub(since.elapsed());
                if left.is_zero() {
                    return Err(ComponentError(format!(
                        "source {}: checkpoints could not be saved to {} for {} s: {e}",
                        cx.name,
                        self.path.display(),
                        self.timeout.as_secs()
                    )));
                }
                tracing::error!(source = %cx.name, error = %e, stop_in_secs = left.as_secs(),
                    "cannot save checkpoints; not ready, and stopping if this goes on");
                Ok(())
            }
        }
    }
}

/// How a read pass ended.
enum Pass {
    /// Some file had new data: read again at once.
    Read,
    /// Nothing new anywhere.
    Idle,
    /// Shutdown came while downstream was not taking a batch; stop.
    Abandoned,
}

/// Every file this source knows, open or only remembered.
struct State<'a> {
    src: &'a FileSource,
    name: &'a str,
    tailers: Vec<Tailer>,
    decoded: Vec<(Decoded, u64)>,
    dirty: bool,
    /// Set when shutdown is first seen: the end of the wait for
    /// downstream and acknowledgements.
    stop_by: Option<Instant>,
    /// Files that may be a copytruncate copy of a short file still open
    /// (same log name, same first line, another inode), by device and
    /// inode: when each was first seen. See [`COPY_GRACE`].
    maybe_copies: HashMap<(u64, u64), Instant>,
}

/// How long a file that may be a copy of a short open file waits for that
/// file's truncation (logrotate truncates right after copying) before it
/// is read as a file of its own.
const COPY_GRACE: Duration = Duration::from_secs(1);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long a file that failed to read waits before it is tried again:
/// 1 s doubling to a minute.
const REOPEN: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

impl<'a> State<'a> {
    fn load(
        src: &'a FileSource,
        name: &'a str,
        telemetry: &Telemetry,
    ) -> Result<State<'a>, ComponentError> {
        let entries = match checkpoint::load(&src.checkpoints) {
            Ok(entries) => entries,
            // A torn or foreign file must not crash-loop the pod: keep it
            // for a post-mortem and start as on a first start.
            Err(e @ checkpoint::Error::Parse { .. }) => {
                let aside = checkpoint::move_aside(&src.checkpoints)
                    .map_err(|e| ComponentError::new(format!("source {name}"), e))?;
                telemetry.state_corrupt(name);
                tracing::error!(source = name, error = %e, moved_to = %aside.display(),
                    "checkpoints are unreadable; moved them aside and starting as if there were none");
                Vec::new()
            }
            Err(e) => return Err(ComponentError::new(format!("source {name}"), e)),
        };
        let mut tailers = Vec::with_capacity(entries.len());
        for e in entries {
            let Some(fp) = Fingerprint::parse(&e.fingerprint) else {
                tracing::warn!(
                    source = name,
                    "skipping a checkpoint entry with a bad fingerprint"
                );
                continue;
            };
            let mut t = src.tailer(e.path, e.offset);
            t.fp = Some(fp);
            t.dev = e.dev;
            t.ino = e.ino;
            t.seen = e.seen;
            tailers.push(t);
        }
        tracing::info!(source = name, checkpoints = tailers.len(), path = %src.checkpoints.display(), "file source starting");
        Ok(State {
            src,
            name,
            tailers,
            decoded: Vec::new(),
            dirty: false,
            stop_by: None,
            maybe_copies: HashMap::new(),
        })
    }

    /// Finds files, matches them to what is known, opens new ones, closes
    /// finished ones and forgets old ones.
    fn scan(&mut self, first: bool, glob_interval: Duration) {
        let now_secs = unix_now();
        for t in &mut self.tailers {
            t.reachable = false;
        }
        for f in self.src.globs.scan() {
            if let Some(t) = self.tailers.iter_mut().find(|t| {
                t.open
                    .as_ref()
                    .is_some_and(|o| o.dev == f.dev && o.ino == f.ino)
            }) {
                t.reachable = true;
                t.seen = now_secs;
                continue;
            }
            let Ok(file) = File::open(&f.path) else {
                continue;
            };
            // No fingerprint yet (empty, or no complete line): next scan.
            let Ok(Some(fp)) = fingerprint::compute(&file) else {
                continue;
            };
            let Ok(open) = Open::new(file) else { continue };
            let known = self
                .tailers
                .iter()
                .position(|t| same_file(t, &fp, &open, &f.path));
            let copy_of_open = known.is_none()
                && !fp.is_full()
                && self
                    .tailers
                    .iter()
                    .any(|t| t.open.is_some() && t.fp == Some(fp) && same_log(&t.path, &f.path));
            if copy_of_open {
                let first_seen = *self
                    .maybe_copies
                    .entry((open.dev, open.ino))
                    .or_insert_with(Instant::now);
                if first_seen.elapsed() < COPY_GRACE {
                    // Probably a copy made just before a truncate: once the
                    // truncate is seen, it resumes the truncated file.
                    continue;
                }
            }
            self.maybe_copies.remove(&(open.dev, open.ino));
            match known {
                Some(i) => {
                    let t = &mut self.tailers[i];
                    if t.open.is_some() {
                        // Two files with the same first bytes: a copy being
                        // made before a truncate. Read one at a time.
                        continue;
                    }
                    if f.size < t.read_offset {
                        // A copy still being written: wait until it has
                        // reached where we were.
                        continue;
                    }
                    tracing::info!(source = self.name, file = %f.path.display(), offset = t.read_offset, "resuming a known file");
                    t.attach(open);
                    t.reachable = true;
                    t.seen = now_secs;
                    self.dirty = true;
                }
                None => {
                    let offset = if first && self.src.cfg.read_from == ReadFrom::End {
                        end_at_line_boundary(&open.file, f.size)
                    } else {
                        0
                    };
                    tracing::info!(source = self.name, file = %f.path.display(), offset, "new file");
                    let mut t = self.src.tailer(f.path, offset);
                    t.fp = Some(fp);
                    t.attach(open);
                    t.reachable = true;
                    t.seen = now_secs;
                    self.tailers.push(t);
                    self.dirty = true;
                }
            }
        }
        let now = Instant::now();
        for t in &mut self.tailers {
            if let (Some(open), Some(fp)) = (&t.open, &t.fp) {
                if !fp.is_full() {
                    if let Ok(Some(full)) = fingerprint::upgrade(&open.file, fp) {
                        t.fp = Some(full);
                        self.dirty = true;
                    }
                }
            }
            let idle = t
                .idle_since
                .is_some_and(|s| now.duration_since(s) >= glob_interval);
            if t.open.is_some() && !t.reachable && idle && t.acks.is_empty() {
                tracing::info!(source = self.name, file = %t.path.display(), "closing a rotated or deleted file read to its end");
                t.open = None;
            }
        }
        let before = self.tailers.len();
        self.tailers.retain(|t| {
            t.open.is_some()
                || t.reachable
                || !t.acks.is_empty()
                || now_secs.saturating_sub(t.seen) < FORGET_AFTER_SECS
        });
        self.dirty |= self.tailers.len() != before;
    }

    /// Reads every open file once (up to `max_read_bytes` each) and sends
    /// what was decoded.
    async fn read_pass(
        &mut self,
        cx: &mut SourceContext,
        buf: &mut [u8],
        shutdown: &CancellationToken,
    ) -> Result<Pass, ComponentError> {
        let mut any = false;
        let mut abandoned = false;
        let mut fresh = Vec::new();
        let now = Instant::now();
        let max_events = cx.batch_max_events;
        'files: for t in &mut self.tailers {
            if t.open.is_none() || t.retry_at.is_some_and(|at| now < at) {
                continue;
            }
            t.retry_at = None;
            if t.fp.is_none() {
                // Content after a truncation: read once it has an identity.
                let open = t.open.as_ref().expect("checked above");
                match fingerprint::compute(&open.file) {
                    Ok(Some(fp)) => {
                        t.fp = Some(fp);
                        self.dirty = true;
                    }
                    _ => continue,
                }
            }
            let mut budget = self.src.cfg.max_read_bytes;
            let mut emitter = Emitter::new();
            while budget > 0 {
                let n = buf.len().min(budget);
                match t.read(&mut buf[..n], &mut self.decoded) {
                    Ok(Step::Data(k)) => {
                        budget = budget.saturating_sub(k);
                        any = true;
                        t.idle_since = None;
                        for (d, safe) in self.decoded.drain(..) {
                            emitter.push(d);
                            if emitter.len() >= max_events {
                                let events = emitter.len();
                                let full = std::mem::take(&mut emitter);
                                match send(full, cx, shutdown, &mut self.stop_by, self.src.ack_wait)
                                    .await?
                                {
                                    Some(rx) => t.acks.push(safe, events, Some(rx)),
                                    None => {
                                        abandoned = true;
                                        break 'files;
                                    }
                                }
                            }
                        }
                    }
                    Ok(Step::Eof) => {
                        t.idle_since.get_or_insert(now);
                        break;
                    }
                    Ok(Step::Truncated) => {
                        tracing::warn!(source = self.name, file = %t.path.display(),
                            "file was truncated (copytruncate); reading it from the start as new content");
                        let open = t.open.take().expect("read only from open files");
                        t.truncated = true;
                        let mut nt = self.src.tailer(t.path.clone(), 0);
                        nt.attach(open);
                        nt.reachable = t.reachable;
                        nt.seen = t.seen;
                        t.reachable = false;
                        fresh.push(nt);
                        self.dirty = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(source = self.name, file = %t.path.display(), error = %e,
                            "cannot read file; closing it until the next scan finds it");
                        t.open = None;
                        break;
                    }
                }
            }
            cx.telemetry.invalid_utf8(&cx.name, t.take_invalid_utf8());
            // The lines decoded so far all belong to `emitter`, so its end
            // is the tailer's current safe offset.
            let end = t.safe();
            if !emitter.is_empty() {
                let events = emitter.len();
                match send(emitter, cx, shutdown, &mut self.stop_by, self.src.ack_wait).await? {
                    Some(rx) => t.acks.push(end, events, Some(rx)),
                    None => {
                        abandoned = true;
                        break 'files;
                    }
                }
            } else if end > t.acks.last_end() {
                // Blank lines or a finished partial with no entry.
                t.acks.push(end, 0, None);
            }
        }
        self.tailers.extend(fresh);
        Ok(if abandoned {
            Pass::Abandoned
        } else if any {
            Pass::Read
        } else {
            Pass::Idle
        })
    }

    fn poll_acks(&mut self) {
        let now = Instant::now();
        for t in &mut self.tailers {
            match t.acks.poll() {
                Ok(true) => {
                    self.dirty = true;
                    t.failures = 0;
                }
                Ok(false) => {}
                Err(f) => {
                    t.failures += 1;
                    let wait = REOPEN.delay(t.failures);
                    tracing::warn!(source = self.name, file = %t.path.display(), status = ?f.status,
                        events = f.events, later_batches = f.discarded, retry_in_secs = wait.as_secs(),
                        "a batch from this file was not delivered; reading again from its checkpoint");
                    t.rewind(t.acks.delivered());
                    t.retry_at = Some(now + wait);
                }
            }
        }
    }

    /// Batches sent and not yet resolved, over all files.
    fn outstanding(&self) -> usize {
        self.tailers.iter().map(|t| t.acks.len()).sum()
    }

    /// Bytes written to open files and not yet delivered.
    fn lag(&self) -> u64 {
        self.tailers
            .iter()
            .filter(|t| t.open.is_some())
            .map(Tailer::lag)
            .sum()
    }

    fn persist(&mut self) -> Result<(), checkpoint::Error> {
        let entries = self
            .tailers
            .iter()
            .filter_map(|t| {
                Some(checkpoint::Entry {
                    fingerprint: t.fp?.to_string(),
                    offset: t.acks.delivered(),
                    path: t.path.clone(),
                    dev: t.dev,
                    ino: t.ino,
                    seen: t.seen,
                })
            })
            .collect();
        checkpoint::save(&self.src.checkpoints, entries)?;
        self.dirty = false;
        Ok(())
    }
}

impl FileSource {
    /// A tailer for content first found at `path`; labels and insertIds
    /// come from that path (the kubelet's symlink name, not its target).
    fn tailer(&self, path: PathBuf, offset: u64) -> Tailer {
        let origin = k8s::origin_for_file(&path, &self.node);
        Tailer::new(
            path,
            origin,
            self.cfg.format,
            self.cfg.max_line_bytes,
            offset,
        )
        .with_invalid_utf8(self.cfg.invalid_utf8)
    }
}

/// Is the newly opened file (at `path`) the content `t` knows? Full
/// fingerprints compare by hash. Short ones need the same inode too, or
/// else to be the copytruncate copy of `t`'s file: `t` was truncated
/// under it and the new file has the same log name (with a rotation
/// suffix) and first line (see `fingerprint`).
fn same_file(t: &Tailer, fp: &Fingerprint, open: &Open, path: &Path) -> bool {
    let Some(known) = &t.fp else { return false };
    if known.is_full() {
        fp.is_full() && fp.hash == known.hash
    } else {
        let same_inode = t.dev == open.dev && t.ino == open.ino;
        let copy = t.truncated && t.open.is_none() && same_log(&t.path, path);
        (same_inode || copy) && fingerprint::matches(&open.file, known).unwrap_or(false)
    }
}

/// Same folder and same log name once rotation suffixes are removed
/// (`app.log`, `app.log.1`, `app.log-20251130`).
fn same_log(a: &Path, b: &Path) -> bool {
    fn base(p: &Path) -> Option<&str> {
        p.file_name()?
            .to_str()
            .map(crate::decode::k8s::base_log_name)
    }
    a.parent() == b.parent() && base(a).is_some_and(|x| base(b) == Some(x))
}

/// For `read_from = "end"`: the end of the last complete line, so the
/// first line read is a whole one.
fn end_at_line_boundary(file: &File, size: u64) -> u64 {
    let back = size.min(READ_CHUNK as u64);
    let mut buf = vec![0u8; back as usize];
    match file.read_exact_at(&mut buf, size - back) {
        Ok(()) => match memchr::memrchr(b'\n', &buf) {
            Some(i) => size - back + i as u64 + 1,
            None => size,
        },
        Err(_) => size,
    }
}

/// Sends one batch. When shutdown comes while downstream is full, waits
/// until `stop_by` (set to `wait` after shutdown is first seen); `None`
/// means the batch was abandoned (its lines stay after the checkpoint and
/// are read again on restart).
async fn send(
    emitter: Emitter,
    cx: &mut SourceContext,
    shutdown: &CancellationToken,
    stop_by: &mut Option<Instant>,
    wait: Duration,
) -> Result<Option<BatchStatusReceiver>, ComponentError> {
    let flush = emitter.flush(cx);
    tokio::pin!(flush);
    tokio::select! {
        r = &mut flush => r.map(Some),
        _ = shutdown.cancelled() => {
            let until = *stop_by.get_or_insert_with(|| Instant::now() + wait);
            match tokio::time::timeout_at(until.into(), flush).await {
                Ok(r) => r.map(Some),
                Err(_) => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests;
