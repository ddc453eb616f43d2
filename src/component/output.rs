//! Fan-out from one producer to its consumers.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::event::Batch;
use crate::telemetry::ComponentStats;

/// Sends each batch to every consumer. The last consumer gets the
/// original and the others clones (each clone's events carry their own
/// finalizers, so the source waits for every copy).
pub struct Output {
    senders: Vec<mpsc::Sender<Batch>>,
    stats: Arc<ComponentStats>,
}

/// Every consumer has gone away (they only do so after a failure).
#[derive(Debug, thiserror::Error)]
#[error("all downstream components have stopped")]
pub struct Closed;

impl Output {
    pub(crate) fn new(senders: Vec<mpsc::Sender<Batch>>, stats: Arc<ComponentStats>) -> Self {
        Output { senders, stats }
    }

    /// Sends a batch downstream, waiting while consumers are full
    /// (backpressure). Counts `events_out`/`bytes_out` for the producer.
    pub async fn send(&mut self, batch: Batch) -> Result<(), Closed> {
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
    pub fn fan_out(&self) -> usize {
        self.senders.len()
    }
}
