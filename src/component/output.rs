//! Fan-out from one producer to its consumers.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::event::Batch;
use crate::telemetry::ComponentStats;

/// Sends each batch to every consumer. The last consumer gets the
/// original and the others clones: the entries are shared, not copied
/// (`Event::log`), and each clone's events carry their own finalizers, so
/// the source waits for every copy.
pub(crate) struct Output {
    senders: Vec<mpsc::Sender<Batch>>,
    stats: Arc<ComponentStats>,
}

/// Every consumer has gone away (they only do so after a failure).
#[derive(Debug, thiserror::Error)]
#[error("all downstream components have stopped")]
pub(crate) struct Closed;

impl Output {
    pub(crate) fn new(senders: Vec<mpsc::Sender<Batch>>, stats: Arc<ComponentStats>) -> Self {
        Output { senders, stats }
    }

    /// Sends a batch downstream, waiting while consumers are full
    /// (backpressure). Counts `events_out`/`bytes_out` for the producer.
    pub(crate) async fn send(&mut self, batch: Batch) -> Result<(), Closed> {
        if batch.is_empty() {
            return Ok(());
        }
        self.stats.sent(batch.len() as u64, batch.bytes());
        let n = self.senders.len();
        let mut delivered = 0;
        let mut batch = Some(batch);
        for (i, tx) in self.senders.iter().enumerate() {
            let b = if i + 1 == n {
                batch
                    .take()
                    .expect("the original is taken only by the last consumer")
            } else {
                batch
                    .as_ref()
                    .expect("still present before the last consumer")
                    .clone()
            };
            if tx.send(b).await.is_ok() {
                delivered += 1;
            }
        }
        if delivered == 0 && n > 0 {
            return Err(Closed);
        }
        Ok(())
    }

    /// How many consumers this output feeds.
    pub(crate) fn fan_out(&self) -> usize {
        self.senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{BatchNotifier, BatchStatus, Event, EventStatus};
    use serde_json::json;

    /// Fan-out shares each entry between the copies, and a consumer that
    /// changes its copy does not change the other's.
    #[tokio::test]
    async fn fan_out_shares_entries_and_a_change_stays_in_its_copy() {
        let (tx1, mut rx1) = mpsc::channel(1);
        let (tx2, mut rx2) = mpsc::channel(1);
        let t = crate::telemetry::Telemetry::new();
        let mut out = Output::new(vec![tx1, tx2], t.component("x", "transform", "test"));
        let (n, status) = BatchNotifier::new_with_receiver();
        let events = (0..3)
            .map(|i| Event::with_notifier(json!({"insertId": i, "m": "hi"}), 10, &n))
            .collect();
        drop(n);
        out.send(Batch::new(events)).await.unwrap();
        let mut a = rx1.recv().await.unwrap();
        let b = rx2.recv().await.unwrap();
        for (x, y) in a.events.iter().zip(&b.events) {
            assert!(Arc::ptr_eq(&x.log, &y.log), "shared, not copied");
        }
        a.events[0].log_mut()["m"] = json!("changed");
        assert_eq!(a.events[0].log["m"], "changed");
        assert_eq!(
            b.events[0].log["m"], "hi",
            "the other consumer's copy is untouched"
        );
        assert!(!Arc::ptr_eq(&a.events[1].log, &a.events[0].log));
        for e in a.events.into_iter().chain(b.events) {
            e.finalize(EventStatus::Delivered);
        }
        assert_eq!(status.wait().await, BatchStatus::Delivered);
    }
}
