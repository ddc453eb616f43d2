//! `type = "file"`: NDJSON files, optionally gzip, with a path template
//! rendered from each event's `timestamp` (`strftime` specifiers, UTC),
//! e.g. `/var/log/sluice/%Y-%m-%d/%H.ndjson.gz`.
//!
//! Each batch is written and synced to disk (`fdatasync`, once per batch
//! and file) before its events are acknowledged. A failed write is cut
//! back to the file's previous end, so the file holds whole records only
//! (see `append`); it settles the batch's events as `Errored` (their
//! sources deliver them again) and the sink carries on with the next batch.
//! Gzip files are written as one gzip member per batch, so every flushed
//! batch is a complete, readable member (gzip readers concatenate members).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;

use super::append::{AppendError, AppendFile};
use super::{encode_ndjson, Sink};
use crate::component::FieldError;
use crate::component::{ComponentError, SinkContext, SinkInput};
use crate::event::finalization::Finalizers;
use crate::event::log_entry::parse_rfc3339;
use crate::event::EventStatus;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Path template; `%Y %m %d %H %M` from the event's timestamp (UTC).
    pub(crate) path: String,
    /// Compress with gzip (one member per batch).
    #[serde(default)]
    pub(crate) gzip: bool,
}

impl Config {
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if self.path.trim().is_empty() {
            e.push(FieldError::new("path", "must not be empty"));
        }
        if let Some(bad) = bad_specifier(&self.path) {
            e.push(FieldError::new(
                "path",
                format!("unsupported time specifier `%{bad}` (use %Y %m %d %H %M)"),
            ));
        }
        e
    }
}

fn bad_specifier(t: &str) -> Option<char> {
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('Y' | 'm' | 'd' | 'H' | 'M' | '%') => {}
                Some(o) => return Some(o),
                None => return Some(' '),
            }
        }
    }
    None
}

pub(crate) struct FileSink {
    cfg: Config,
}

impl FileSink {
    pub(crate) fn new(cfg: Config) -> Self {
        FileSink { cfg }
    }
}

/// Renders the template for one event timestamp.
pub(crate) fn render_path(template: &str, ts: Option<&str>) -> PathBuf {
    let t = ts.and_then(parse_rfc3339).unwrap_or_else(chrono::Utc::now);
    PathBuf::from(t.format(template).to_string())
}

#[async_trait]
impl Sink for FileSink {
    async fn run(
        self: Box<Self>,
        mut input: SinkInput,
        cx: SinkContext,
    ) -> Result<(), ComponentError> {
        let mut files: HashMap<PathBuf, AppendFile> = HashMap::new();
        let mut breaker = Breaker::default();
        let templated = self.cfg.path.contains('%');
        while let Some(batch) = input.next().await {
            let mut groups: HashMap<PathBuf, (Vec<u8>, Finalizers, u64)> = HashMap::new();
            for mut e in batch.events {
                let path = if templated {
                    render_path(
                        &self.cfg.path,
                        e.log.get("timestamp").and_then(|v| v.as_str()),
                    )
                } else {
                    PathBuf::from(&self.cfg.path)
                };
                let g = groups.entry(path).or_default();
                g.1.push(e.take_finalizer());
                g.2 += 1;
                encode_ndjson(&mut g.0, &e.log);
            }
            let (mut written, mut delivered) = (0u64, 0u64);
            for (path, (buf, fins, n)) in groups {
                // Blocking IO (write, fdatasync) runs off the async
                // workers: a write stuck on a hung mount or a FIFO must not
                // stall the rest of the process, and the shutdown deadline
                // can abandon it.
                if breaker.open(&path) {
                    cx.stats.errored(n);
                    fins.settle(EventStatus::Errored);
                    continue;
                }
                let open = files.remove(&path);
                let gzip = self.cfg.gzip;
                let job = tokio::task::spawn_blocking(move || {
                    let mut open = open;
                    let r = write_group(&mut open, &path, &buf, gzip);
                    (open, path, r)
                });
                let (open, path, r) = job
                    .await
                    .map_err(|e| ComponentError::new(format!("sink {}", cx.name), e))?;
                match r {
                    Ok(w) => {
                        written += w;
                        delivered += n;
                        fins.settle(EventStatus::Delivered);
                        if let Some(f) = open {
                            files.insert(path, f);
                        }
                    }
                    Err(e) => {
                        // A full disk or a missing directory is an outage,
                        // not a reason to stop the pipeline: the sources
                        // deliver these events again (re-read, nack, retry).
                        // The failed append was cut back, so the retry
                        // follows whole records.
                        tracing::warn!(sink = %cx.name, error = %e, events = n, "write failed; events not acknowledged");
                        breaker.trip(path);
                        cx.stats.errored(n);
                        fins.settle(EventStatus::Errored);
                    }
                }
            }
            cx.stats.sent(delivered, written);
            // Keep at most a handful of files open: old hours are done.
            if files.len() > 16 {
                files.clear();
            }
        }
        Ok(())
    }
}

/// After a failed write to a file, the batches already queued behind it
/// are refused too, for a moment. A file source that sees the failure
/// reads again from its checkpoint (after at least 1 s), so a later batch
/// written meanwhile would be written twice.
#[derive(Default)]
pub(crate) struct Breaker(HashMap<PathBuf, std::time::Instant>);

/// Shorter than the file source's first retry delay (1 s).
pub(crate) const BREAKER_HOLD: std::time::Duration = std::time::Duration::from_millis(500);

impl Breaker {
    pub(crate) fn trip(&mut self, path: PathBuf) {
        self.0.insert(path, std::time::Instant::now());
    }

    /// True while writes to `path` are refused.
    pub(crate) fn open(&mut self, path: &Path) -> bool {
        match self.0.get(path) {
            Some(at) if at.elapsed() < BREAKER_HOLD => true,
            Some(_) => {
                self.0.remove(path);
                false
            }
            None => false,
        }
    }
}

/// Appends one group's records to `path` as one synced append (one gzip
/// member when compressing). `open` is the cached handle, if any.
fn write_group(
    open: &mut Option<AppendFile>,
    path: &Path,
    buf: &[u8],
    gzip: bool,
) -> Result<u64, AppendError> {
    let f = match open {
        Some(f) => f,
        None => open.insert(AppendFile::open(path, !gzip)?),
    };
    let z;
    let bytes = if gzip {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(buf.len() / 4),
            flate2::Compression::default(),
        );
        // Compressing into memory cannot fail.
        enc.write_all(buf).expect("gzip into a Vec");
        z = enc.finish().expect("gzip into a Vec");
        &z[..]
    } else {
        buf
    };
    let r = f.append(bytes);
    if r.is_err() {
        // Reopened (and its tail checked) on the next batch.
        *open = None;
    }
    r.map(|()| bytes.len() as u64)
}
