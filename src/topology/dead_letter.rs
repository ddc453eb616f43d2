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

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::decode::REJECT_SAMPLE_BYTES;
use crate::event::log_entry::format_ts;
use crate::event::{Event, EventStatus};
use crate::telemetry::Telemetry;

/// Rewrites a record in place before it is written; counts go to telemetry.
pub trait DeadLetterRedactor: Send + Sync {
    fn redact(&self, record: &mut Value, telemetry: &Telemetry);
}

pub struct DeadLetter {
    pub component: Arc<str>,
    pub reason: String,
    pub event: Event,
}

/// Cloned into every component; bounded like every other channel.
#[derive(Clone)]
pub struct DeadLetterSender(pub(crate) mpsc::Sender<DeadLetter>);

impl DeadLetterSender {
    /// Sends one event with its reason. If the writer is gone (it outlives
    /// every component, so only after a crash), the event is dropped
    /// unsettled and its source treats it as not delivered.
    pub async fn send(&self, component: &Arc<str>, event: Event, reason: impl Into<String>) {
        let dl = DeadLetter {
            component: component.clone(),
            reason: reason.into(),
            event,
        };
        let _ = self.0.send(dl).await;
    }

    /// A sender with no writer, for tests and tools: everything sent is
    /// counted as not delivered.
    pub fn disconnected() -> Self {
        let (tx, _) = mpsc::channel(1);
        DeadLetterSender(tx)
    }
}

/// Builds the record written for one dead letter. The reason and the event
/// (with its `raw` sample of a rejected line) are redacted first, and only
/// then is the sample cut to [`REJECT_SAMPLE_BYTES`], so a secret that
/// spans the cut is still whole when the detectors see it; the token left
/// partial at the cut is masked, so no half-secret survives the cut.
pub(crate) fn build_record(
    now: &str,
    d: &mut DeadLetter,
    redactor: Option<&dyn DeadLetterRedactor>,
    telemetry: &Telemetry,
) -> Value {
    let mut record = json!({
        "time": now,
        "component": &*d.component,
        "reason": std::mem::take(&mut d.reason),
        "event": std::mem::take(&mut d.event.log),
    });
    if let Some(r) = redactor {
        // A reason can quote the input (a sink's error message, say).
        r.redact(&mut record["reason"], telemetry);
        r.redact(&mut record["event"], telemetry);
    }
    if let Some(Value::String(raw)) = record["event"].get_mut("raw") {
        cut_sample(raw, REJECT_SAMPLE_BYTES);
    }
    record
}

/// Marks the end of a sample that was cut.
pub const CUT_MARK: &str = "[CUT]";

/// Cuts `s` to at most `max` bytes (plus [`CUT_MARK`]) at a char boundary,
/// and drops the token the cut went through (back to the last whitespace
/// or quote), since the rest of it is gone and a partial value is no longer
/// recognisable as what it was.
pub(crate) fn cut_sample(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let b = s.as_bytes();
    let edge = |c: u8| {
        c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b',' | b'{' | b'}' | b'[' | b']')
    };
    if !edge(b[end]) {
        while end > 0 && !edge(b[end - 1]) {
            end -= 1;
        }
    }
    s.truncate(end);
    s.push_str(CUT_MARK);
}

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
                let record = build_record(&now, &mut d, self.redactor.as_deref(), &self.telemetry);
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

#[cfg(test)]
mod record_tests;
