//! What librdkafka calls back into: rebalances (drain and commit before
//! partitions are revoked), commit results, and statistics (the lag
//! gauge).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientContext;

use super::offsets::{Tp, Tracker};
use crate::telemetry::ComponentStats;

/// librdkafka callbacks: rebalance, commit results, statistics.
pub(super) struct Ctx {
    pub(super) tracker: Arc<Mutex<Tracker>>,
    pub(super) stats: Arc<ComponentStats>,
    pub(super) name: Arc<str>,
    pub(super) rebalance_drain: Duration,
}

impl Ctx {
    pub(super) fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for Ctx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        use RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error => {
                tracing::error!(component = %self.name, facility = fac, "librdkafka: {message}")
            }
            L::Warning => {
                tracing::warn!(component = %self.name, facility = fac, "librdkafka: {message}")
            }
            L::Notice | L::Info => {
                tracing::info!(component = %self.name, facility = fac, "librdkafka: {message}")
            }
            L::Debug => {
                tracing::debug!(component = %self.name, facility = fac, "librdkafka: {message}")
            }
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::warn!(component = %self.name, error = %error, "librdkafka: {reason}");
    }

    fn stats(&self, s: Statistics) {
        let mut lag = 0u64;
        let mut known = false;
        for t in s.topics.values() {
            for (id, p) in &t.partitions {
                // -1 is librdkafka's internal "unassigned" partition.
                if *id < 0 || p.hi_offset < 0 {
                    continue;
                }
                known = true;
                let committed = p.committed_offset.max(p.lo_offset).max(0);
                lag += u64::try_from(p.hi_offset - committed).unwrap_or(0);
            }
        }
        if known {
            self.stats.set_lag(lag);
        }
    }
}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, base: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let tps = tps_of(tpl);
                tracing::info!(component = %self.name, partitions = tps.len(), "partitions assigned");
                self.tracker().assign(tps);
            }
            Rebalance::Revoke(tpl) => {
                let tps = tps_of(tpl);
                let mut t = self.tracker();
                // Runs on the task that polls the consumer; batches resolve
                // on other tasks, so a short blocking wait is safe here.
                let deadline = Instant::now() + self.rebalance_drain;
                loop {
                    // Retries of revoked partitions are dropped by `poll`;
                    // the source loop emits the others again.
                    let (_, retries) = t.poll();
                    t.retries.extend(retries);
                    if !t.has_pending(&tps) || Instant::now() >= deadline {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                let commits = t.revoke(&tps);
                drop(t);
                tracing::info!(component = %self.name, partitions = tps.len(), commits = commits.len(), "partitions revoked");
                if !commits.is_empty() {
                    if let Err(e) = base.commit(&tpl_of(&commits), CommitMode::Sync) {
                        tracing::warn!(component = %self.name, error = %e, "commit on revoke failed; the next owner reads those messages again");
                    }
                }
            }
            Rebalance::Error(e) => {
                tracing::warn!(component = %self.name, error = %e, "rebalance error");
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(component = %self.name, error = %e, "offset commit failed; retrying with the next commit");
            self.tracker().commit_failed(&tps_of(offsets));
        }
    }
}

pub(super) fn tps_of(tpl: &TopicPartitionList) -> Vec<Tp> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

pub(super) fn tpl_of(commits: &[(Tp, i64)]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in commits {
        // Adding a partition with a valid offset cannot fail.
        let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset));
    }
    tpl
}
