//! Events, batches and end-to-end acknowledgements.
//!
//! An [`Event`] is a Cloud Logging `LogEntry` held as a `serde_json::Value`
//! object, plus the finalizer that tells its source when every sink that
//! received it has made it durable. Events travel in [`Batch`]es; nothing in
//! the topology moves single events through a channel.
//!
//! This module does no IO and uses no tokio runtime features beyond the
//! `oneshot` channel that carries a batch's final status (architecture
//! invariant, see ARCHITECTURE.md).

mod batch;
pub(crate) mod finalization;
pub mod insert_id;
pub mod json_out;
pub mod log_entry;
pub(crate) mod severity;

pub use batch::Batch;
pub(crate) use finalization::{
    BatchNotifier, BatchStatus, BatchStatusReceiver, EventFinalizer, EventStatus,
};

use std::sync::Arc;

use serde_json::Value;

/// One log entry moving through the pipeline.
///
/// Cloning an event (fan-out to several consumers) shares its entry and
/// gives the clone its own finalizer on the same batch: the batch resolves
/// only when every copy has been finalized or dropped.
#[derive(Debug, Clone)]
pub struct Event {
    /// The `LogEntry` object (`timestamp`, `severity`, `jsonPayload`, ...),
    /// shared by the copies fan-out makes (a deep copy of every event for
    /// every consumer but the last cost as much as parsing it again). Change
    /// it through [`Event::log_mut`], which copies only while it is shared.
    pub log: Arc<Value>,
    /// Size of the input this event was decoded from, in bytes. Used for
    /// `bytes_in`/`bytes_out` accounting without re-encoding the event.
    pub size: u32,
    finalizer: Option<EventFinalizer>,
}

impl Event {
    /// An event with no acknowledgement (tests, synthetic events).
    pub fn new(log: Value, size: usize) -> Self {
        Event {
            log: Arc::new(log),
            size: u32::try_from(size).unwrap_or(u32::MAX),
            finalizer: None,
        }
    }

    /// An event acknowledged through `notifier`.
    pub(crate) fn with_notifier(
        log: Value,
        size: usize,
        notifier: &std::sync::Arc<BatchNotifier>,
    ) -> Self {
        Event {
            log: Arc::new(log),
            size: u32::try_from(size).unwrap_or(u32::MAX),
            finalizer: Some(EventFinalizer::new(notifier.clone())),
        }
    }

    /// Records this copy's outcome and releases it. An event dropped without
    /// a status counts as `Errored`, so a lost event can never advance a
    /// checkpoint.
    pub(crate) fn finalize(mut self, status: EventStatus) {
        if let Some(f) = self.finalizer.as_mut() {
            f.update(status);
        }
    }

    /// Detaches the finalizer so a sink can encode the event and settle the
    /// finalizer once the write is durable.
    pub(crate) fn take_finalizer(&mut self) -> Option<EventFinalizer> {
        self.finalizer.take()
    }

    /// The entry, to change: copied first if another consumer shares it.
    pub(crate) fn log_mut(&mut self) -> &mut Value {
        Arc::make_mut(&mut self.log)
    }

    /// The `insertId` of this entry, if set.
    pub(crate) fn insert_id(&self) -> Option<&str> {
        self.log.get("insertId").and_then(Value::as_str)
    }
}
