//! The dead-letter output: one JSON object a line,
//! `{"time", "component", "reason", "event"}`.
//!
//! It is the last stop for events nothing else will take: lines that do not
//! decode, lines over the size limit, rows a sink refused. Records are
//! redacted with the pipeline's `dead_letter.redact_with` transform before
//! they are written, because a line that failed to parse can still hold
//! personal data. A record counts as `Delivered` for its source once it is
//! written and synced to disk (whole records only: see `sinks::append`),
//! so a dead-lettered line never blocks a checkpoint. A failed write
//! leaves no partial record and settles its events as `Errored`, so their
//! sources deliver them again.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::component::{ComponentError, DeadLetter, DeadLetterRedactor};
use crate::decode::REJECT_SAMPLE_BYTES;
use crate::event::log_entry::format_ts;
use crate::event::EventStatus;
use crate::sinks::append::{AppendError, AppendFile};
use crate::telemetry::Telemetry;

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
        "event": std::mem::take(d.event.log_mut()),
    });
    if let Some(r) = redactor {
        // A reason can quote the input (a sink's error message, say).
        r.redact("deadletter.reason", &mut record["reason"], telemetry);
        r.redact("deadletter.event", &mut record["event"], telemetry);
    }
    if let Some(Value::String(raw)) = record["event"].get_mut("raw") {
        cut_sample(raw, REJECT_SAMPLE_BYTES);
    }
    record
}

/// Marks the end of a sample that was cut.
pub(crate) const CUT_MARK: &str = "[CUT]";

/// Cuts `s` to at most `max` bytes (plus [`CUT_MARK`]) where no part of a
/// value survives the cut (`decode::safe_cut`): the token the cut goes
/// through, and a number's digit groups before it, are left out.
pub(crate) fn cut_sample(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let end = crate::decode::safe_cut(s.as_bytes(), max, false);
    s.truncate(end);
    s.push_str(CUT_MARK);
}

/// First wait before writing dead letters again after a failed append;
/// doubles up to [`RETRY_MAX`].
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(200);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// One synced append of `out` to `path` off the async workers, opening the
/// file when `open` is `None`. Gives back the handle (when still usable),
/// the outcome and the bytes.
async fn append_blocking(
    path: PathBuf,
    open: Option<AppendFile>,
    out: Vec<u8>,
) -> Result<(Option<AppendFile>, Result<(), AppendError>, Vec<u8>), ComponentError> {
    tokio::task::spawn_blocking(move || {
        let mut open = match open {
            Some(f) => f,
            None => match AppendFile::open(&path, true) {
                Ok(f) => f,
                Err(e) => return (None, Err(e), out),
            },
        };
        let r = open.append(&out);
        (r.is_ok().then_some(open), r, out)
    })
    .await
    .map_err(|e| ComponentError::new("dead-letter", e))
}

pub(crate) struct Writer {
    pub(crate) path: PathBuf,
    pub(crate) redactor: Option<Arc<dyn DeadLetterRedactor>>,
    pub(crate) telemetry: Arc<Telemetry>,
}

impl Writer {
    /// Runs until every sender is dropped.
    pub(crate) async fn run(
        self,
        mut rx: mpsc::Receiver<DeadLetter>,
    ) -> Result<(), ComponentError> {
        let mut file: Option<AppendFile> = None;
        let mut buf: Vec<DeadLetter> = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut more = first.more;
            buf.push(first);
            // Up to 1000 records, and never part of a read: its other
            // records were already queued with it.
            while buf.len() < 1000 || more {
                let next = if more {
                    rx.recv().await
                } else {
                    rx.try_recv().ok()
                };
                match next {
                    Some(d) => {
                        more = d.more;
                        buf.push(d);
                    }
                    None => break,
                }
            }
            let mut out = Vec::new();
            let now = format_ts(chrono::Utc::now());
            let mut settled = Vec::with_capacity(buf.len());
            // (component, redacted reason, end of the record in `out`)
            let mut written_records = Vec::with_capacity(buf.len());
            for mut d in buf.drain(..) {
                let record = build_record(&now, &mut d, self.redactor.as_deref(), &self.telemetry);
                serde_json::to_writer(&mut out, &record)
                    .map_err(|e| ComponentError::new("dead-letter: encode", e))?;
                out.push(b'\n');
                let reason = record["reason"].as_str().unwrap_or_default().to_string();
                written_records.push((d.component.clone(), reason, out.len()));
                settled.push(d.event);
            }
            // One synced append per chunk (off the async workers): whole
            // records only, on disk before the sources move on. A failed
            // append is cut back, and these records alone are written again
            // until it succeeds: failing their events instead would make
            // the sources resend whole batches, every good event in them
            // included, to every sink. Meanwhile the sources wait for the
            // acknowledgement (no checkpoint passes them) and the channel
            // fills, so the pipeline slows to what the disk takes; a
            // shutdown that comes first ends the run non-zero when the
            // grace period runs out.
            let mut delay = RETRY_FIRST;
            let mut failures = 0u32;
            loop {
                let (open, written, back) =
                    append_blocking(self.path.clone(), file.take(), out).await?;
                file = open;
                out = back;
                let Err(e) = written else { break };
                failures += 1;
                self.telemetry.dead_letter_write_failed();
                if failures.is_power_of_two() {
                    tracing::error!(error = %e, records = settled.len(), attempts = failures,
                        "cannot write dead letters; retrying them, their events are not acknowledged");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
            }
            if failures > 0 {
                tracing::info!(
                    records = settled.len(),
                    attempts = failures + 1,
                    "dead letters written after retries"
                );
            }
            self.telemetry.dead_lettered(settled.len() as u64);
            let mut start = 0;
            for (component, reason, end) in written_records {
                self.telemetry
                    .record_dead_letter(&component, &reason, &out[start..end]);
                start = end;
            }
            for e in settled {
                e.finalize(EventStatus::Delivered);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod record_tests;
