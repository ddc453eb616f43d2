//! Which Kafka offsets may be committed.
//!
//! Messages of a partition are emitted in offset order, in chunks (the part
//! of one batch that belongs to one partition). A chunk is acknowledged when
//! its batch resolves `Delivered`; batches resolve in any order, so the
//! committable position of a partition is one past the last chunk of the
//! longest acknowledged prefix. A failed batch is emitted again (its chunks
//! stay pending meanwhile), so the prefix never skips over it.
//!
//! Each assignment of a partition gets a new generation: acknowledgements
//! and retries of a generation that was revoked are ignored, because the
//! partition's new owner reads those messages again from the committed
//! offset.
//!
//! Pure bookkeeping, no IO: the source and the rebalance callback share it
//! behind a mutex.

use std::collections::{HashMap, VecDeque};

use crate::event::{BatchStatus, BatchStatusReceiver};

/// A topic and partition.
pub(crate) type Tp = (String, i32);

/// One Kafka record copied out of librdkafka's buffer, kept until its
/// batch is acknowledged so a failed batch can be emitted again.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) payload: Vec<u8>,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    /// Create/append time in milliseconds since the epoch, when known.
    pub(crate) timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkRef {
    pub(crate) tp: Tp,
    pub(crate) generation: u64,
    pub(crate) first: i64,
    pub(crate) last: i64,
}

#[derive(Debug)]
struct Chunk {
    first: i64,
    last: i64,
    acked: bool,
}

#[derive(Debug, Default)]
struct Partition {
    generation: u64,
    pending: VecDeque<Chunk>,
    /// One past the last message of the acknowledged prefix.
    committable: Option<i64>,
    /// What was last sent in a commit.
    committed: Option<i64>,
}

/// A batch waiting for its status.
pub(crate) struct InFlight {
    pub(crate) chunks: Vec<ChunkRef>,
    pub(crate) records: Vec<Record>,
    pub(crate) bytes: usize,
    pub(crate) attempts: u32,
    pub(crate) rx: BatchStatusReceiver,
}

/// A failed batch to emit again.
pub(crate) struct Retry {
    pub(crate) chunks: Vec<ChunkRef>,
    pub(crate) records: Vec<Record>,
    pub(crate) bytes: usize,
    pub(crate) attempts: u32,
}

#[derive(Default)]
pub(crate) struct Tracker {
    parts: HashMap<Tp, Partition>,
    generation: u64,
    inflight: Vec<InFlight>,
    /// Failed batches the rebalance callback collected, for the source
    /// loop to emit again.
    pub(crate) retries: Vec<Retry>,
    /// Records emitted (or waiting to be emitted again) and not yet
    /// acknowledged, with their payload bytes.
    pub(crate) messages: usize,
    pub(crate) bytes: usize,
}

impl Tracker {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A new assignment: fresh state, a new generation.
    pub(crate) fn assign(&mut self, tps: impl IntoIterator<Item = Tp>) {
        for tp in tps {
            self.generation += 1;
            self.parts.insert(
                tp,
                Partition {
                    generation: self.generation,
                    ..Default::default()
                },
            );
        }
    }

    /// Forgets revoked partitions; returns the offsets still to commit.
    pub(crate) fn revoke(&mut self, tps: &[Tp]) -> Vec<(Tp, i64)> {
        let mut out = Vec::new();
        for tp in tps {
            if let Some(p) = self.parts.remove(tp) {
                if let Some(c) = p.committable.filter(|c| Some(*c) > p.committed) {
                    out.push((tp.clone(), c));
                }
            }
        }
        out
    }

    /// Registers the chunks of a new batch, in emission order, and counts
    /// its records as in flight. `ranges` are `(tp, first, last)`.
    pub(crate) fn emitted(&mut self, ranges: Vec<(Tp, i64, i64)>) -> Vec<ChunkRef> {
        let mut out = Vec::with_capacity(ranges.len());
        for (tp, first, last) in ranges {
            let generation = match self.parts.get(&tp) {
                Some(p) => p.generation,
                None => {
                    // A record before its assignment callback: track it anyway.
                    self.assign([tp.clone()]);
                    self.generation
                }
            };
            let p = self.parts.get_mut(&tp).expect("inserted above");
            p.pending.push_back(Chunk {
                first,
                last,
                acked: false,
            });
            out.push(ChunkRef {
                tp,
                generation,
                first,
                last,
            });
        }
        out
    }

    pub(crate) fn add_in_flight(&mut self, messages: usize, bytes: usize) {
        self.messages += messages;
        self.bytes += bytes;
    }

    fn sub_in_flight(&mut self, messages: usize, bytes: usize) {
        self.messages = self.messages.saturating_sub(messages);
        self.bytes = self.bytes.saturating_sub(bytes);
    }

    pub(crate) fn push(&mut self, f: InFlight) {
        self.inflight.push(f);
    }

    /// Batches still waiting for their status.
    pub(crate) fn pending_batches(&self) -> usize {
        self.inflight.len()
    }

    /// Collects resolved batches: acknowledges delivered chunks and returns
    /// failed batches (restricted to partitions still owned) to emit again.
    pub(crate) fn poll(&mut self) -> (usize, Vec<Retry>) {
        let mut retries = Vec::new();
        let mut delivered = 0;
        let mut i = 0;
        while i < self.inflight.len() {
            let Some(status) = self.inflight[i].rx.try_recv() else {
                i += 1;
                continue;
            };
            let f = self.inflight.swap_remove(i);
            match status {
                BatchStatus::Delivered => {
                    delivered += f.records.len();
                    for c in &f.chunks {
                        self.ack(c);
                    }
                    self.sub_in_flight(f.records.len(), f.bytes);
                }
                BatchStatus::Errored | BatchStatus::Rejected => {
                    let live: Vec<ChunkRef> =
                        f.chunks.into_iter().filter(|c| self.is_live(c)).collect();
                    let (keep, gone): (Vec<Record>, Vec<Record>) =
                        f.records.into_iter().partition(|r| {
                            live.iter()
                                .any(|c| c.tp.1 == r.partition && c.tp.0 == r.topic)
                        });
                    let gone_bytes: usize = gone.iter().map(|r| r.payload.len()).sum();
                    self.sub_in_flight(gone.len(), gone_bytes);
                    if !keep.is_empty() {
                        retries.push(Retry {
                            chunks: live,
                            bytes: f.bytes - gone_bytes,
                            records: keep,
                            attempts: f.attempts + 1,
                        });
                    }
                }
            }
        }
        (delivered, retries)
    }

    /// Forgets a retry that will not be emitted (shutdown).
    pub(crate) fn abandon(&mut self, r: &Retry) {
        self.sub_in_flight(r.records.len(), r.bytes);
    }

    fn is_live(&self, c: &ChunkRef) -> bool {
        self.parts
            .get(&c.tp)
            .is_some_and(|p| p.generation == c.generation)
    }

    fn ack(&mut self, c: &ChunkRef) {
        let Some(p) = self.parts.get_mut(&c.tp) else {
            return;
        };
        if p.generation != c.generation {
            return;
        }
        // Chunks are pushed in offset order, so `first` is sorted.
        if let Ok(i) = p.pending.binary_search_by_key(&c.first, |ch| ch.first) {
            p.pending[i].acked = true;
        }
        while p.pending.front().is_some_and(|ch| ch.acked) {
            let ch = p.pending.pop_front().expect("front exists");
            p.committable = Some(ch.last + 1);
        }
    }

    /// Whether any of `tps` still has unacknowledged chunks.
    pub(crate) fn has_pending(&self, tps: &[Tp]) -> bool {
        tps.iter()
            .any(|tp| self.parts.get(tp).is_some_and(|p| !p.pending.is_empty()))
    }

    /// Offsets that advanced since the last commit; marks them committed.
    pub(crate) fn take_commits(&mut self) -> Vec<(Tp, i64)> {
        let mut out = Vec::new();
        for (tp, p) in &mut self.parts {
            if let Some(c) = p.committable.filter(|c| Some(*c) > p.committed) {
                p.committed = Some(c);
                out.push((tp.clone(), c));
            }
        }
        out
    }

    /// A commit failed: send these partitions' offsets again next time.
    pub(crate) fn commit_failed(&mut self, tps: &[Tp]) {
        for tp in tps {
            if let Some(p) = self.parts.get_mut(tp) {
                p.committed = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::BatchNotifier;
    use std::sync::Arc;

    fn tp(p: i32) -> Tp {
        ("t".to_string(), p)
    }

    fn rec(p: i32, offset: i64) -> Record {
        Record {
            topic: "t".into(),
            partition: p,
            offset,
            payload: b"{}".to_vec(),
            key: None,
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// Emits a batch of `offsets` on partition `p`; returns its notifier.
    fn emit(t: &mut Tracker, p: i32, first: i64, last: i64) -> Arc<BatchNotifier> {
        let (n, rx) = BatchNotifier::new_with_receiver();
        let chunks = t.emitted(vec![(tp(p), first, last)]);
        let records: Vec<Record> = (first..=last).map(|o| rec(p, o)).collect();
        t.add_in_flight(records.len(), records.len() * 2);
        t.push(InFlight {
            chunks,
            bytes: records.len() * 2,
            records,
            attempts: 0,
            rx,
        });
        n
    }

    fn settle(n: Arc<BatchNotifier>, ok: bool) {
        let mut f = crate::event::EventFinalizer::new(n);
        f.update(if ok {
            crate::event::EventStatus::Delivered
        } else {
            crate::event::EventStatus::Errored
        });
    }

    #[test]
    fn commits_only_the_contiguous_acknowledged_prefix() {
        let mut t = Tracker::new();
        t.assign([tp(0)]);
        let a = emit(&mut t, 0, 0, 9);
        let b = emit(&mut t, 0, 10, 19);
        let c = emit(&mut t, 0, 20, 29);
        settle(b, true);
        settle(c, true);
        t.poll();
        assert!(t.take_commits().is_empty(), "0..9 is not acknowledged yet");
        settle(a, true);
        let (delivered, retries) = t.poll();
        assert_eq!((delivered, retries.len()), (10, 0));
        assert_eq!(t.take_commits(), vec![(tp(0), 30)]);
        assert!(t.take_commits().is_empty(), "nothing new");
        assert_eq!((t.messages, t.bytes), (0, 0));
    }

    #[test]
    fn failed_batch_is_retried_and_holds_the_commit() {
        let mut t = Tracker::new();
        t.assign([tp(0)]);
        let a = emit(&mut t, 0, 0, 4);
        let b = emit(&mut t, 0, 5, 9);
        settle(a, false);
        settle(b, true);
        let (_, retries) = t.poll();
        assert_eq!(retries.len(), 1);
        assert_eq!(retries[0].records.len(), 5);
        assert_eq!(retries[0].attempts, 1);
        assert!(t.take_commits().is_empty());
        assert_eq!(t.messages, 5, "the failed records are still in flight");
        // Emit the retry again, same chunks.
        let r = retries.into_iter().next().unwrap();
        let (n, rx) = BatchNotifier::new_with_receiver();
        t.push(InFlight {
            chunks: r.chunks,
            records: r.records,
            bytes: r.bytes,
            attempts: r.attempts,
            rx,
        });
        settle(n, true);
        t.poll();
        assert_eq!(t.take_commits(), vec![(tp(0), 10)]);
        assert_eq!(t.messages, 0);
    }

    #[test]
    fn revoked_partitions_commit_and_ignore_late_acks() {
        let mut t = Tracker::new();
        t.assign([tp(0), tp(1)]);
        let a = emit(&mut t, 0, 0, 4);
        let b = emit(&mut t, 1, 0, 4);
        let c = emit(&mut t, 0, 5, 9);
        settle(a, true);
        t.poll();
        assert!(t.has_pending(&[tp(0)]));
        assert_eq!(t.revoke(&[tp(0)]), vec![(tp(0), 5)]);
        // Re-assigned: a new generation starts empty.
        t.assign([tp(0)]);
        settle(c, true); // late ack of the old generation
        settle(b, false);
        let (_, retries) = t.poll();
        assert!(t.take_commits().iter().all(|(p, _)| p != &tp(0)));
        assert_eq!(retries.len(), 1, "partition 1 is still owned");
        assert_eq!(retries[0].records[0].partition, 1);
        assert_eq!(t.messages, 5, "only partition 1's records remain");
    }
}
