//! `type = "file"`: NDJSON files, optionally gzip, with a path template
//! rendered from each event's `timestamp` (`strftime` specifiers, UTC),
//! e.g. `/var/log/sluice/%Y-%m-%d/%H.ndjson.gz`.
//!
//! Each batch is written and flushed before its events are acknowledged.
//! A failed write settles the batch's events as `Errored` (their sources
//! deliver them again) and the sink carries on with the next batch.
//! Gzip files are written as one gzip member per batch, so every flushed
//! batch is a complete, readable member (gzip readers concatenate members).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::Deserialize;

use super::{encode_ndjson, Sink};
use crate::config::FieldError;
use crate::event::finalization::Finalizers;
use crate::event::log_entry::parse_rfc3339;
use crate::event::EventStatus;
use crate::topology::{ComponentError, SinkContext, SinkInput};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Path template; `%Y %m %d %H %M` from the event's timestamp (UTC).
    pub path: String,
    /// Compress with gzip (one member per batch).
    #[serde(default)]
    pub gzip: bool,
}

impl Config {
    pub fn validate(&self) -> Vec<FieldError> {
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

pub struct FileSink {
    cfg: Config,
}

impl FileSink {
    pub fn new(cfg: Config) -> Self {
        FileSink { cfg }
    }
}

/// Renders the template for one event timestamp.
pub fn render_path(template: &str, ts: Option<&str>) -> PathBuf {
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
        let mut files: HashMap<PathBuf, std::fs::File> = HashMap::new();
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
                match write_group(&mut files, &path, &buf, self.cfg.gzip) {
                    Ok(w) => {
                        written += w;
                        delivered += n;
                        fins.settle(EventStatus::Delivered);
                    }
                    Err(e) => {
                        // A full disk or a missing directory is an outage,
                        // not a reason to stop the pipeline: the sources
                        // deliver these events again (re-read, nack, retry).
                        tracing::warn!(sink = %cx.name, path = %path.display(), error = %e, events = n, "write failed; events not acknowledged");
                        cx.stats.errored(n);
                        fins.settle(EventStatus::Errored);
                        files.remove(&path);
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

fn write_group(
    files: &mut HashMap<PathBuf, std::fs::File>,
    path: &PathBuf,
    buf: &[u8],
    gzip: bool,
) -> std::io::Result<u64> {
    let f = match files.get_mut(path) {
        Some(f) => f,
        None => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            files.entry(path.clone()).or_insert(f)
        }
    };
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(buf.len() / 4),
            flate2::Compression::default(),
        );
        enc.write_all(buf)?;
        let z = enc.finish()?;
        f.write_all(&z)?;
        f.flush()?;
        Ok(z.len() as u64)
    } else {
        f.write_all(buf)?;
        f.flush()?;
        Ok(buf.len() as u64)
    }
}
