//! The dead-letter port every component holds: where events nothing else
//! will take are sent, with a reason. The writer behind it belongs to the
//! topology (`topology::dead_letter`).

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::event::Event;
use crate::telemetry::Telemetry;

/// Rewrites a record in place before it is written; counts go to telemetry.
pub(crate) trait DeadLetterRedactor: Send + Sync {
    /// Redacts `value`, which sits at `path` in the record (`deadletter.event`):
    /// the redactions are counted under that path.
    fn redact(&self, path: &str, value: &mut Value, telemetry: &Telemetry);
}

pub(crate) struct DeadLetter {
    pub(crate) component: Arc<str>,
    pub(crate) reason: String,
    pub(crate) event: Event,
    /// More records of the same read follow at once (see `send_all`).
    pub(crate) more: bool,
}

/// Cloned into every component; bounded like every other channel.
#[derive(Clone)]
pub(crate) struct DeadLetterSender(pub(crate) mpsc::Sender<DeadLetter>);

impl DeadLetterSender {
    /// Sends one event with its reason. If the writer is gone (it outlives
    /// every component, so only after a crash), the event is dropped
    /// unsettled and its source treats it as not delivered.
    pub(crate) async fn send(&self, component: &Arc<str>, event: Event, reason: impl Into<String>) {
        let dl = DeadLetter {
            component: component.clone(),
            reason: reason.into(),
            event,
            more: false,
        };
        let _ = self.0.send(dl).await;
    }

    /// Sends the rejects of one source read so that the writer appends
    /// them in one write: if the disk fails, none of them is on disk and
    /// the source's re-read writes each once (not a prefix twice).
    /// Reads with more rejects than the channel holds go in parts.
    pub(crate) async fn send_all(&self, component: &Arc<str>, rejects: Vec<(Event, String)>) {
        let mut rejects = rejects.into_iter().peekable();
        while rejects.peek().is_some() {
            let n = rejects.len().min(self.0.max_capacity());
            let Ok(permits) = self.0.reserve_many(n).await else {
                // The writer is gone: the events drop unsettled.
                return;
            };
            let last = n - 1;
            for (i, (p, (event, reason))) in permits.zip(rejects.by_ref()).enumerate() {
                p.send(DeadLetter {
                    component: component.clone(),
                    reason,
                    event,
                    more: i < last,
                });
            }
        }
    }

    /// A sender with no writer, for tests and tools: everything sent is
    /// counted as not delivered.
    #[cfg(test)]
    pub(crate) fn disconnected() -> Self {
        let (tx, _) = mpsc::channel(1);
        DeadLetterSender(tx)
    }
}
