//! `type = "kafka"`: a consumer group member that reads topics and commits
//! offsets only for messages every sink has made durable.
//!
//! Delivery: at least once. `enable.auto.commit` and
//! `enable.auto.offset.store` are off; the source commits, per partition,
//! one past the longest prefix of acknowledged messages (see `offsets.rs`).
//! A batch that fails downstream (`Errored`/`Rejected`) is emitted again
//! after a backoff, so a sink outage makes the source wait, never skip.
//! Records are shaped by [`MessageShaper`]; a record that is not a JSON
//! object goes to the dead-letter output and is then committed like any
//! delivered record. The message key and headers go to `labels`
//! (`kafka.key`, and each header by name).
//!
//! Rebalances: before partitions are revoked, the rebalance callback waits
//! (bounded by `rebalance_drain_ms`) for in-flight batches of those
//! partitions and synchronously commits what is acknowledged; what was not
//! acknowledged by then is read again by the partition's next owner.
//!
//! Flow control: at most `max_in_flight_messages`/`max_in_flight_bytes`
//! unacknowledged records; beyond that the assignment is paused while the
//! consumer keeps being polled (so the group membership and rebalances are
//! still served).
//!
//! Lag (`high watermark - committed`, summed over partitions) comes from
//! librdkafka's statistics every `statistics_interval_ms` and is exported
//! as the source's lag gauge.
//!
//! Shutdown: stop reading, wait for in-flight batches (bounded by
//! `drain_timeout_secs`), commit synchronously, then close the consumer on
//! a detached thread with a timeout, because closing a consumer has been
//! seen to block for more than 15 s.

mod offsets;

mod config;
pub(crate) use self::config::Config;

mod callbacks;
use self::callbacks::{tpl_of, Ctx};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use serde_json::json;

use self::offsets::{InFlight, Record, Retry, Tp, Tracker};
use super::message::MessageShaper;
use super::{send_read, Source};
use crate::backoff::Backoff;
use crate::component::{BuildContext, BuildError, ComponentError, SourceContext};
use crate::decode::Decoded;
use crate::event::log_entry::format_ts;
use crate::event::{BatchNotifier, Event};
use crate::node::NodeInfo;

pub(crate) struct Kafka {
    cfg: Config,
    node: NodeInfo,
}

impl Kafka {
    pub(crate) fn new(cfg: Config, cx: &BuildContext, name: &str) -> Result<Self, BuildError> {
        // Checks every librdkafka option name and value without creating
        // a client (which would connect); the consumer is created in `run`.
        cfg.client_config()
            .create_native_config()
            .map_err(|e| BuildError::new("source", name, e))?;
        Ok(Kafka {
            cfg,
            node: cx.node.clone(),
        })
    }
}

/// Wait before a failed message is delivered downstream again: 0.1 s
/// doubling to 5 s.
const REDELIVER: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

#[async_trait]
impl Source for Kafka {
    async fn run(self: Box<Self>, mut cx: SourceContext) -> Result<(), ComponentError> {
        let tracker = Arc::new(Mutex::new(Tracker::new()));
        let ctx = Ctx {
            tracker: tracker.clone(),
            stats: cx.stats.clone(),
            name: cx.name.clone(),
            rebalance_drain: Duration::from_millis(self.cfg.rebalance_drain_ms),
        };
        let consumer: StreamConsumer<Ctx> = self
            .cfg
            .client_config()
            .create_with_context(ctx)
            .map_err(|e| ComponentError::new(format!("source {}: create consumer", cx.name), e))?;
        let topics: Vec<&str> = self.cfg.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| ComponentError::new(format!("source {}: subscribe", cx.name), e))?;
        tracing::info!(component = %cx.name, topics = topics.len(), "kafka consumer subscribed");

        let mut shaper = MessageShaper::new(&self.node);
        let mut commit_tick =
            tokio::time::interval(Duration::from_millis(self.cfg.commit_interval_ms));
        commit_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Batches resolve on other tasks; checking them every few ms keeps
        // the commit latency low without a task per batch.
        let mut ack_tick = tokio::time::interval(Duration::from_millis(10));
        ack_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut waiting: Vec<(Instant, Retry)> = Vec::new();
        let mut paused = false;
        let lock = || tracker.lock().unwrap_or_else(|p| p.into_inner());

        loop {
            let (over, retries) = {
                let mut t = lock();
                let (_, mut retries) = t.poll();
                retries.append(&mut t.retries);
                (
                    t.messages >= self.cfg.max_in_flight_messages
                        || t.bytes >= self.cfg.max_in_flight_bytes,
                    retries,
                )
            };
            for r in retries {
                tracing::warn!(component = %cx.name, records = r.records.len(), attempt = r.attempts, "batch not delivered; emitting it again after a backoff");
                waiting.push((Instant::now() + REDELIVER.delay(r.attempts + 1), r));
            }
            // Failed batches whose backoff is over go out again first.
            let now = Instant::now();
            let mut i = 0;
            while i < waiting.len() {
                if waiting[i].0 <= now {
                    let (_, r) = waiting.swap_remove(i);
                    self.emit(r, &mut shaper, &tracker, &mut cx).await?;
                } else {
                    i += 1;
                }
            }
            if over != paused {
                set_paused(&consumer, over, &cx.name);
                paused = over;
            }

            tokio::select! {
                biased;
                _ = cx.shutdown.cancelled() => break,
                _ = commit_tick.tick() => {
                    let commits = lock().take_commits();
                    if !commits.is_empty() {
                        if let Err(e) = consumer.commit(&tpl_of(&commits), CommitMode::Async) {
                            tracing::warn!(component = %cx.name, error = %e, "offset commit failed; retrying with the next commit");
                            lock().commit_failed(&commits.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
                        }
                    }
                }
                _ = ack_tick.tick() => {}
                m = consumer.recv() => {
                    let first = match m {
                        Ok(m) => record_of(&m),
                        Err(e) => {
                            tracing::warn!(component = %cx.name, error = %e, "kafka consumer error");
                            continue;
                        }
                    };
                    let mut records = vec![first];
                    // Take what is already buffered, without waiting.
                    while records.len() < cx.batch_max_events {
                        match consumer.recv().now_or_never() {
                            Some(Ok(m)) => records.push(record_of(&m)),
                            Some(Err(e)) => {
                                tracing::warn!(component = %cx.name, error = %e, "kafka consumer error");
                                break;
                            }
                            None => break,
                        }
                    }
                    let bytes: usize = records.iter().map(|r| r.payload.len()).sum();
                    let ranges = ranges_of(&records);
                    let chunks = {
                        let mut t = lock();
                        t.add_in_flight(records.len(), bytes);
                        t.emitted(ranges)
                    };
                    self.emit(Retry { chunks, records, bytes, attempts: 0 }, &mut shaper, &tracker, &mut cx).await?;
                }
            }
        }

        // Shutdown: no new reads; close our outputs (so sinks that finish
        // on end of input deliver and acknowledge), wait for what is in
        // flight, commit, close.
        drop(cx.out);
        drop(cx.dead_letter);
        let deadline = Instant::now() + Duration::from_secs(self.cfg.drain_timeout_secs);
        loop {
            let done = {
                let mut t = lock();
                let (_, mut retries) = t.poll();
                retries.append(&mut t.retries);
                for r in &retries {
                    t.abandon(r);
                }
                let left = t.pending_batches();
                if left > 0 && Instant::now() >= deadline {
                    tracing::warn!(component = %cx.name, batches = left, "shutdown: batches still in flight are not committed and will be read again");
                }
                left == 0 || Instant::now() >= deadline
            };
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for (_, r) in waiting.drain(..) {
            lock().abandon(&r);
        }
        let commits = lock().take_commits();
        let name = cx.name.clone();
        close(consumer, commits, name).await;
        Ok(())
    }
}

impl Kafka {
    /// Shapes the records into one batch with one notifier, registers it,
    /// and sends it (waiting while downstream is full).
    async fn emit(
        &self,
        r: Retry,
        shaper: &mut MessageShaper,
        tracker: &Arc<Mutex<Tracker>>,
        cx: &mut SourceContext,
    ) -> Result<(), ComponentError> {
        let (notifier, rx) = BatchNotifier::new_with_receiver();
        let received = chrono::Utc::now();
        let mut events = Vec::with_capacity(r.records.len());
        let mut rejects = Vec::new();
        for rec in &r.records {
            let time = rec
                .timestamp_ms
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(format_ts);
            let mut labels = Vec::with_capacity(rec.headers.len() + 1);
            if let Some(k) = &rec.key {
                labels.push((
                    "kafka.key".to_string(),
                    String::from_utf8_lossy(k).into_owned(),
                ));
            }
            for (k, v) in &rec.headers {
                labels.push((k.clone(), String::from_utf8_lossy(v).into_owned()));
            }
            let d = shaper.shape(
                format_args!("kafka/{}/{}/{}", rec.topic, rec.partition, rec.offset),
                &rec.payload,
                time.as_deref(),
                labels,
                received,
            );
            match d {
                Decoded::Entry { log, size } => {
                    events.push(Event::with_notifier(log, size, &notifier))
                }
                Decoded::Reject {
                    reason,
                    sample,
                    size,
                } => {
                    let log = json!({"raw": sample, "raw_bytes": size, "kafka": {
                        "topic": rec.topic, "partition": rec.partition, "offset": rec.offset}});
                    rejects.push((Event::with_notifier(log, size, &notifier), reason));
                }
            }
        }
        drop(notifier);
        let (received, bytes) = (r.records.len() as u64, r.bytes as u64);
        tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(InFlight {
                chunks: r.chunks,
                records: r.records,
                bytes: r.bytes,
                attempts: r.attempts,
                rx,
            });
        send_read(cx, events, rejects, received, bytes).await
    }
}

fn record_of<M: Message>(m: &M) -> Record {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        payload: m.payload().unwrap_or_default().to_vec(),
        key: m.key().map(<[u8]>::to_vec),
        headers,
        timestamp_ms: m.timestamp().to_millis(),
    }
}

/// Contiguous per-partition ranges, in the order records were read.
fn ranges_of(records: &[Record]) -> Vec<(Tp, i64, i64)> {
    let mut out: Vec<(Tp, i64, i64)> = Vec::new();
    for r in records {
        match out
            .iter_mut()
            .find(|(tp, _, _)| tp.1 == r.partition && tp.0 == r.topic)
        {
            Some(range) => range.2 = range.2.max(r.offset),
            None => out.push(((r.topic.clone(), r.partition), r.offset, r.offset)),
        }
    }
    out
}

fn set_paused(consumer: &StreamConsumer<Ctx>, pause: bool, name: &str) {
    let Ok(assignment) = consumer.assignment() else {
        return;
    };
    let r = if pause {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    match r {
        Ok(()) => tracing::debug!(component = %name, paused = pause, "flow control"),
        Err(e) => {
            tracing::warn!(component = %name, error = %e, "cannot pause/resume the assignment")
        }
    }
}

/// How long the final commit and closing the consumer may take before they
/// are abandoned (with `drain_timeout_secs`, inside the default 20 s grace).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Commits synchronously and drops the consumer on a detached thread: a
/// blocking `Drop` must neither stall the runtime nor keep the process
/// from exiting.
async fn close(consumer: StreamConsumer<Ctx>, commits: Vec<(Tp, i64)>, name: Arc<str>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread_name = name.clone();
    let spawned = std::thread::Builder::new()
        .name("kafka-close".into())
        .spawn(move || {
            if !commits.is_empty() {
                if let Err(e) = consumer.commit(&tpl_of(&commits), CommitMode::Sync) {
                    tracing::warn!(component = %thread_name, error = %e, "final commit failed; those messages will be read again");
                }
            }
            consumer.unsubscribe();
            drop(consumer);
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        tracing::warn!(component = %name, error = %e, "cannot start the consumer close thread");
        return;
    }
    match tokio::time::timeout(CLOSE_TIMEOUT, rx).await {
        Ok(_) => tracing::info!(component = %name, "kafka consumer closed"),
        Err(_) => {
            tracing::warn!(component = %name, timeout_secs = CLOSE_TIMEOUT.as_secs(), "kafka consumer did not close in time; abandoning it")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml_text: &str) -> Config {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn validate_names_fields() {
        let c = cfg(r#"
            bootstrap_servers = ""
            topics = []
            group_id = "g"
            auto_offset_reset = "middle"
            librdkafka_options = { "enable.auto.commit" = "true", "security.protocol" = "ssl" }
        "#);
        let fields: Vec<String> = c.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "bootstrap_servers",
                "topics",
                "auto_offset_reset",
                "librdkafka_options.enable.auto.commit"
            ]
        );
    }

    #[test]
    fn options_pass_through_but_commit_stays_manual() {
        let c = cfg(r#"
            bootstrap_servers = "127.0.0.1:1"
            topics = ["t"]
            group_id = "g"
            librdkafka_options = { "sasl.mechanism" = "PLAIN", "session.timeout.ms" = "6000" }
        "#);
        assert!(c.validate().is_empty());
        let cc = c.client_config();
        assert_eq!(cc.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(cc.get("session.timeout.ms"), Some("6000"));
        assert_eq!(cc.get("enable.auto.commit"), Some("false"));
        assert_eq!(cc.get("enable.auto.offset.store"), Some("false"));
    }

    #[test]
    fn issue13_11_validate_checks_librdkafka_options_as_run_does() {
        let c = cfg(r#"
            bootstrap_servers = "127.0.0.1:1"
            topics = ["t"]
            group_id = "g"
            librdkafka_options = { "session.timeout.ms" = "s3cr3t-abc", "sasl.mechanism" = "PLAIN" }
        "#);
        let e = c.validate();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "librdkafka_options.session.timeout.ms");
        assert!(e[0].message.contains("librdkafka refuses"), "{e:?}");
        assert!(
            !e[0].message.contains("s3cr3t"),
            "the value is not echoed: {e:?}"
        );
        let c = cfg(r#"
            bootstrap_servers = "127.0.0.1:1"
            topics = ["t"]
            group_id = "g"
            librdkafka_options = { "no.such.option" = "1" }
        "#);
        let e = c.validate();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].field.starts_with("librdkafka_options"), "{e:?}");
    }

    #[test]
    fn ranges_group_by_partition() {
        let r = |p: i32, o: i64| Record {
            topic: "t".into(),
            partition: p,
            offset: o,
            payload: Vec::new(),
            key: None,
            headers: Vec::new(),
            timestamp_ms: None,
        };
        let got = ranges_of(&[r(0, 5), r(1, 7), r(0, 6), r(1, 8), r(0, 7)]);
        assert_eq!(
            got,
            vec![(("t".to_string(), 0), 5, 7), (("t".to_string(), 1), 7, 8)]
        );
    }
}
