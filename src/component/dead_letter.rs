//! The dead-letter port every component holds: where events nothing else
//! will take are sent, with a reason. The writer behind it belongs to the
//! topology (`topology::dead_letter`).

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::event::Event;
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
