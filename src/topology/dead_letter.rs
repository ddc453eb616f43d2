//! The dead-letter output: one JSON object a line,
//! `{"time", "component", "reason", "event"}`.
//!
//! It is the last stop for events nothing else will take: lines that do not
//! decode, lines over the size limit, rows a sink refused. Records are
//! redacted with the pipeline's `dead_letter.redact_with` transform before
//! they are written, because a line that failed to parse can still hold
//! personal data. A record counts as `Delivered` for its source once it is
//! written and flushed, so a dead-lettered line never blocks a checkpoint.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;

use crate::component::{DeadLetter, DeadLetterRedactor};
use crate::event::log_entry::format_ts;
use crate::event::EventStatus;
use crate::telemetry::Telemetry;

pub(crate) struct Writer {
    pub path: PathBuf,
    pub redactor: Option<Arc<dyn DeadLetterRedactor>>,
    pub telemetry: Arc<Telemetry>,
}

impl Writer {
    /// Runs until every sender is dropped.
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<DeadLetter>,
    ) -> Result<(), super::ComponentError> {
        let mut file: Option<std::io::BufWriter<std::fs::File>> = None;
        let mut buf: Vec<DeadLetter> = Vec::new();
        while let Some(first) = rx.recv().await {
            buf.push(first);
            while buf.len() < 1000 {
                match rx.try_recv() {
                    Ok(d) => buf.push(d),
                    Err(_) => break,
                }
            }
            let f = match file.as_mut() {
                Some(f) => f,
                None => {
                    if let Some(dir) = self.path.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            super::ComponentError::new(
                                format!("dead-letter: cannot create {}", dir.display()),
                                e,
                            )
                        })?;
                    }
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)
                        .map_err(|e| {
                            super::ComponentError::new(
                                format!("dead-letter: cannot open {}", self.path.display()),
                                e,
                            )
                        })?;
                    file.insert(std::io::BufWriter::new(f))
                }
            };
            let now = format_ts(chrono::Utc::now());
            let mut settled = Vec::with_capacity(buf.len());
            for mut d in buf.drain(..) {
                let mut record = json!({
                    "time": now,
                    "component": &*d.component,
                    "reason": d.reason,
                    "event": std::mem::take(&mut d.event.log),
                });
                if let Some(r) = &self.redactor {
                    r.redact(&mut record["event"], &self.telemetry);
                }
                serde_json::to_writer(&mut *f, &record)
                    .map_err(|e| super::ComponentError::new("dead-letter: encode", e))?;
                f.write_all(b"\n")
                    .map_err(|e| super::ComponentError::new("dead-letter: write", e))?;
                settled.push(d.event);
            }
            f.flush()
                .map_err(|e| super::ComponentError::new("dead-letter: flush", e))?;
            self.telemetry.dead_lettered(settled.len() as u64);
            for e in settled {
                e.finalize(EventStatus::Delivered);
            }
        }
        Ok(())
    }
}
