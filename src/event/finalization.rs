//! End-to-end acknowledgements.
//!
//! A source creates one [`BatchNotifier`] per read (a chunk of a file, a
//! Pub/Sub pull, a Kafka poll) and attaches an [`EventFinalizer`] to every
//! event it emits. Each copy of an event (fan-out clones) owns its own
//! finalizer; sinks settle them once a write is durable. When the last
//! finalizer of a batch is dropped, the notifier sends the merged status to
//! the source.
//!
//! Status merges by severity: `Rejected > Errored > Delivered > Dropped`.
//! A finalizer dropped without an explicit status counts as `Errored`: a sink
//! that crashes or forgets an event holds the checkpoint back instead of
//! advancing it over data that never landed. An intentional drop (a filter
//! that does not match) is `Dropped` and does not fail the batch.
//!
//! What the batch status means per source:
//! - file: `Delivered` advances the checkpoint past the batch; anything else
//!   keeps it, so the lines are read again after a restart (the insertId is
//!   deterministic, so BigQuery de-duplicates them);
//! - Pub/Sub: ack on `Delivered`, nack otherwise; Kafka: commit contiguous
//!   `Delivered` offsets only.
//!
//! A write to the dead-letter output counts as `Delivered`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;

/// The outcome of one copy of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum EventStatus {
    /// Intentionally not delivered (filtered out). Does not fail a batch.
    Dropped = 0,
    /// Durable at its destination (or in the dead-letter output).
    Delivered = 1,
    /// A transient failure: the source should deliver it again.
    Errored = 2,
    /// A permanent failure that could not even be dead-lettered.
    Rejected = 3,
}

impl EventStatus {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => EventStatus::Dropped,
            1 => EventStatus::Delivered,
            2 => EventStatus::Errored,
            _ => EventStatus::Rejected,
        }
    }
}

/// The merged outcome of a batch, as a source sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchStatus {
    /// Every copy of every event was delivered or intentionally dropped.
    Delivered,
    /// At least one copy failed transiently.
    Errored,
    /// At least one copy failed permanently.
    Rejected,
}

impl From<EventStatus> for BatchStatus {
    fn from(s: EventStatus) -> Self {
        match s {
            EventStatus::Dropped | EventStatus::Delivered => BatchStatus::Delivered,
            EventStatus::Errored => BatchStatus::Errored,
            EventStatus::Rejected => BatchStatus::Rejected,
        }
    }
}

/// Receives a batch's status once every finalizer is settled.
///
/// If the notifier side vanishes without sending (it cannot: `Drop` always
/// sends), the receiver yields `Errored`.
pub(crate) struct BatchStatusReceiver(oneshot::Receiver<BatchStatus>);

impl BatchStatusReceiver {
    /// Waits for the batch to resolve.
    pub(crate) async fn wait(self) -> BatchStatus {
        self.0.await.unwrap_or(BatchStatus::Errored)
    }

    /// Non-blocking check, for sources that poll many batches in order.
    pub(crate) fn try_recv(&mut self) -> Option<BatchStatus> {
        match self.0.try_recv() {
            Ok(s) => Some(s),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(BatchStatus::Errored),
        }
    }
}

/// Shared by every event of one source batch; reports when the last
/// reference is dropped.
#[derive(Debug)]
pub(crate) struct BatchNotifier {
    status: AtomicU8,
    tx: Option<oneshot::Sender<BatchStatus>>,
}

impl BatchNotifier {
    pub(crate) fn new_with_receiver() -> (Arc<BatchNotifier>, BatchStatusReceiver) {
        let (tx, rx) = oneshot::channel();
        let n = BatchNotifier {
            status: AtomicU8::new(EventStatus::Dropped as u8),
            tx: Some(tx),
        };
        (Arc::new(n), BatchStatusReceiver(rx))
    }

    fn merge(&self, s: EventStatus) {
        self.status.fetch_max(s as u8, Ordering::AcqRel);
    }
}

impl Drop for BatchNotifier {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let s = EventStatus::from_u8(self.status.load(Ordering::Acquire));
            // The source may have stopped listening (shutdown); nothing to do then.
            let _ = tx.send(s.into());
        }
    }
}

/// One copy of one event's link to its batch.
#[derive(Debug)]
pub(crate) struct EventFinalizer {
    notifier: Arc<BatchNotifier>,
    status: Option<EventStatus>,
}

impl EventFinalizer {
    pub(crate) fn new(notifier: Arc<BatchNotifier>) -> Self {
        EventFinalizer {
            notifier,
            status: None,
        }
    }

    /// Records the outcome; the worst outcome recorded wins.
    pub(crate) fn update(&mut self, s: EventStatus) {
        self.status = Some(self.status.map_or(s, |old| old.max(s)));
    }
}

impl Clone for EventFinalizer {
    /// A clone is a new copy of the event that must be settled on its own.
    fn clone(&self) -> Self {
        EventFinalizer::new(self.notifier.clone())
    }
}

impl Drop for EventFinalizer {
    fn drop(&mut self) {
        self.notifier
            .merge(self.status.unwrap_or(EventStatus::Errored));
    }
}

/// Finalizers of the events a sink has encoded into one request; settled
/// together when the request's outcome is known.
#[derive(Debug, Default)]
pub struct Finalizers(Vec<EventFinalizer>);

impl Finalizers {
    pub(crate) fn push(&mut self, f: Option<EventFinalizer>) {
        if let Some(f) = f {
            self.0.push(f);
        }
    }

    pub(crate) fn extend(&mut self, other: Finalizers) {
        self.0.extend(other.0);
    }

    /// Settles every finalizer with `status` and releases them.
    pub(crate) fn settle(self, status: EventStatus) {
        for mut f in self.0 {
            f.update(status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn all_copies_must_settle() {
        let (n, rx) = BatchNotifier::new_with_receiver();
        let mut a = EventFinalizer::new(n.clone());
        let mut b = a.clone();
        drop(n);
        a.update(EventStatus::Delivered);
        drop(a);
        b.update(EventStatus::Delivered);
        drop(b);
        assert_eq!(rx.wait().await, BatchStatus::Delivered);
    }

    #[tokio::test]
    async fn unsettled_copy_fails_the_batch() {
        let (n, rx) = BatchNotifier::new_with_receiver();
        let mut a = EventFinalizer::new(n.clone());
        let b = a.clone();
        drop(n);
        a.update(EventStatus::Delivered);
        drop(a);
        drop(b); // a sink lost it
        assert_eq!(rx.wait().await, BatchStatus::Errored);
    }

    #[tokio::test]
    async fn dropped_does_not_fail_and_rejected_wins() {
        let (n, rx) = BatchNotifier::new_with_receiver();
        let mut a = EventFinalizer::new(n.clone());
        a.update(EventStatus::Dropped);
        drop(a);
        drop(n);
        assert_eq!(rx.wait().await, BatchStatus::Delivered);

        let (n, rx) = BatchNotifier::new_with_receiver();
        let mut a = EventFinalizer::new(n.clone());
        let mut b = EventFinalizer::new(n);
        a.update(EventStatus::Rejected);
        b.update(EventStatus::Errored);
        drop((a, b));
        assert_eq!(rx.wait().await, BatchStatus::Rejected);
    }
}
