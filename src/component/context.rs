//! What each kind of component is given to run.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{DeadLetterSender, Output};
use crate::event::{Batch, Event};
use crate::telemetry::{ComponentStats, Telemetry};

/// A component failed; the topology stops and the process exits non-zero.
/// Messages name files, keys and counts, never event content.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ComponentError(pub String);

impl ComponentError {
    pub(crate) fn new(context: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        ComponentError(format!("{context}: {err}"))
    }
}

pub struct SourceContext {
    pub(crate) name: Arc<str>,
    pub(crate) out: Output,
    /// Cancelled on shutdown: stop reading, flush what was read, wait
    /// (bounded) for acknowledgements, persist state, return.
    pub(crate) shutdown: CancellationToken,
    pub(crate) dead_letter: DeadLetterSender,
    pub(crate) stats: Arc<ComponentStats>,
    pub(crate) telemetry: Arc<Telemetry>,
    pub(crate) batch_max_events: usize,
}

/// Per-batch scratch space for synchronous transforms.
#[derive(Default)]
pub struct TransformContext {
    /// Events to send to the dead-letter output, with the reason.
    pub rejects: Vec<(Event, String)>,
    /// Redaction counts (detector name, count) from this batch.
    pub redactions: Vec<(String, u64)>,
    /// The same counts by (field path, detector name, count).
    pub(crate) redactions_by_field: Vec<(String, String, u64)>,
}

impl TransformContext {
    #[cfg(test)]
    pub(crate) fn reject(&mut self, event: Event, reason: impl Into<String>) {
        self.rejects.push((event, reason.into()));
    }
}

/// A sink's input: batches from every upstream, in arrival order. `None`
/// means every upstream is finished: flush and return. It counts what the
/// sink received (`events_in`, `bytes_in`), so no sink does.
pub struct SinkInput {
    rx: mpsc::Receiver<Batch>,
    stats: Arc<ComponentStats>,
}

impl SinkInput {
    pub(crate) fn new(rx: mpsc::Receiver<Batch>, stats: Arc<ComponentStats>) -> Self {
        SinkInput { rx, stats }
    }

    pub(crate) async fn next(&mut self) -> Option<Batch> {
        let batch = self.rx.recv().await?;
        self.stats.received(batch.len() as u64, batch.bytes());
        Some(batch)
    }
}

pub struct SinkContext {
    pub(crate) name: Arc<str>,
    pub(crate) dead_letter: DeadLetterSender,
    pub(crate) stats: Arc<ComponentStats>,
    pub(crate) telemetry: Arc<Telemetry>,
}
