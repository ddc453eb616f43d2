//! `type = "pubsub"`: streaming pull from a Pub/Sub subscription, acking a
//! message only once every sink has made its event durable.
//!
//! Delivery: at least once. Each message gets its own
//! [`BatchNotifier`](crate::event::BatchNotifier); when it resolves
//! `Delivered` the message's ack id is acked, otherwise it is nacked
//! (`modifyAckDeadline`) so Pub/Sub redelivers it: at once after a single
//! failure, then with a growing delay (up to 10 s) while failures continue,
//! so a sink outage does not become a hot redelivery loop. Redelivered application lines get the same `insertId`
//! (the subscription path and message id are the identity, see
//! [`MessageShaper`]), LogEntries keep theirs, so BigQuery de-duplicates.
//! A poison message (not a JSON object, malformed JSON) goes to the
//! dead-letter output with its reason and is acked once written there.
//!
//! Flow control: `max_outstanding_messages`/`max_outstanding_bytes` are
//! sent to the server on the stream (it stops sending at the limit) and
//! also enforced here (the source stops reading). Outstanding messages
//! (received, not yet acked or nacked) get their ack deadline extended
//! every half deadline, so slow sinks do not cause redeliveries; their
//! count is exported as the source's lag.
//!
//! Message attributes go to `labels`. The publish time is the entry's
//! `timestamp` when the payload has none.
//!
//! Client: `gcloud-pubsub` (see the commit that added it for why). The
//! emulator is used when `endpoint` is set or `PUBSUB_EMULATOR_HOST` is in
//! the environment; no credentials are used then.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use gcloud_gax::conn::Environment;
use gcloud_googleapis::pubsub::v1::{AcknowledgeRequest, ModifyAckDeadlineRequest};
use gcloud_pubsub::apiv1::subscriber_client::SubscriberClient;
use gcloud_pubsub::client::{Client, ClientConfig};
use gcloud_pubsub::subscriber::{ReceivedMessage, SubscriberConfig};
use gcloud_pubsub::subscription::SubscribeConfig;
use serde::Deserialize;
use serde_json::json;

use super::message::MessageShaper;
use super::{send_read, Source};
use crate::component::FieldError;
use crate::component::{BuildContext, ComponentError, SourceContext};
use crate::decode::Decoded;
use crate::event::log_entry::format_ts;
use crate::event::{BatchNotifier, BatchStatus, Event};
use crate::node::NodeInfo;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Google Cloud project of the subscription.
    pub(crate) project: String,
    /// Subscription id, or its full name `projects/PROJECT/subscriptions/ID`.
    pub(crate) subscription: String,
    /// Service-account key file. Without it: application default
    /// credentials (Workload Identity on GKE). Unused with an emulator.
    pub(crate) key_file: Option<PathBuf>,
    /// `host:port` of a Pub/Sub emulator. Defaults to `PUBSUB_EMULATOR_HOST`
    /// when that is set; otherwise Google's endpoint.
    pub(crate) endpoint: Option<String>,
    /// Ack deadline requested for the stream, and the extension given to
    /// outstanding messages (10 to 600 s).
    #[serde(default = "default_ack_deadline_secs")]
    pub(crate) ack_deadline_secs: u32,
    /// Most messages received and not yet acked or nacked.
    #[serde(default = "default_max_outstanding_messages")]
    pub(crate) max_outstanding_messages: usize,
    /// Most payload bytes received and not yet acked or nacked.
    #[serde(default = "default_max_outstanding_bytes")]
    pub(crate) max_outstanding_bytes: usize,
    /// On shutdown, how long to wait for outstanding messages to be
    /// delivered before nacking them.
    #[serde(default = "default_drain_timeout_secs")]
    pub(crate) drain_timeout_secs: u64,
}

fn default_ack_deadline_secs() -> u32 {
    60
}
fn default_max_outstanding_messages() -> usize {
    10_000
}
fn default_max_outstanding_bytes() -> usize {
    100 << 20
}
fn default_drain_timeout_secs() -> u64 {
    10
}

impl Config {
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if self.project.trim().is_empty() {
            e.push(FieldError::new("project", "must not be empty"));
        }
        let sub = self.subscription.trim();
        let full_ok = |(prefix, id): (&str, &str)| {
            prefix == format!("projects/{}", self.project) && !id.is_empty() && !id.contains('/')
        };
        if sub.is_empty() {
            e.push(FieldError::new("subscription", "must not be empty"));
        } else if let Some(parts) = sub.split_once("/subscriptions/") {
            if !full_ok(parts) {
                e.push(FieldError::new(
                    "subscription",
                    "a full name must be `projects/PROJECT/subscriptions/ID` with this source's `project`",
                ));
            }
        } else if sub.contains('/') {
            e.push(FieldError::new(
                "subscription",
                "must be an id or `projects/PROJECT/subscriptions/ID`",
            ));
        }
        if !(10..=600).contains(&self.ack_deadline_secs) {
            e.push(FieldError::new(
                "ack_deadline_secs",
                "must be between 10 and 600",
            ));
        }
        if self.max_outstanding_messages == 0 {
            e.push(FieldError::new(
                "max_outstanding_messages",
                "must be positive",
            ));
        }
        if self.max_outstanding_bytes == 0 {
            e.push(FieldError::new("max_outstanding_bytes", "must be positive"));
        }
        if self.endpoint.as_deref().is_some_and(|h| h.contains("://")) {
            e.push(FieldError::new(
                "endpoint",
                "must be `host:port` (the emulator speaks plain gRPC)",
            ));
        }
        e
    }

    /// `projects/PROJECT/subscriptions/ID`.
    pub(crate) fn full_name(&self) -> String {
        if self.subscription.starts_with("projects/") {
            self.subscription.clone()
        } else {
            format!(
                "projects/{}/subscriptions/{}",
                self.project, self.subscription
            )
        }
    }
}

pub(crate) struct Pubsub {
    cfg: Config,
    node: NodeInfo,
}

impl Pubsub {
    pub(crate) fn new(cfg: Config, cx: &BuildContext) -> Self {
        Pubsub {
            cfg,
            node: cx.node.clone(),
        }
    }

    async fn client(&self) -> Result<Client, String> {
        // tonic's TLS (rustls) needs a process-wide crypto provider; another
        // component may have installed one already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut cc = ClientConfig::default();
        if let Some(host) = &self.cfg.endpoint {
            cc.environment = Environment::Emulator(host.clone());
        }
        cc.project_id = Some(self.cfg.project.clone());
        let cc = match (&cc.environment, &self.cfg.key_file) {
            (Environment::Emulator(_), _) => cc,
            (_, Some(path)) => {
                let creds = gcloud_pubsub::client::google_cloud_auth::credentials::CredentialsFile::new_from_file(
                    path.to_string_lossy().into_owned(),
                )
                .await
                .map_err(|e| format!("key_file {}: {e}", path.display()))?;
                cc.with_credentials(creds)
                    .await
                    .map_err(|e| format!("key_file {}: {e}", path.display()))?
            }
            (_, None) => cc
                .with_auth()
                .await
                .map_err(|e| format!("application default credentials: {e}"))?,
        };
        Client::new(cc).await.map_err(|e| e.to_string())
    }
}

/// Ack ids per acknowledge/modifyAckDeadline request (the API allows
/// requests up to 512 KB; ack ids are a few hundred bytes at most).
const IDS_PER_REQUEST: usize = 1000;
/// How often acks and nacks are sent.
const ACK_FLUSH: Duration = Duration::from_millis(100);
/// Redelivery delay asked for a failed message: 1 s doubling to 10 s.
const NACK_DELAY: crate::backoff::Backoff =
    crate::backoff::Backoff::new(Duration::from_secs(1), Duration::from_secs(10));

/// One message's outcome: its ack id and its event's status.
type Pending = BoxFuture<'static, (String, BatchStatus)>;

/// Redelivery delay after `failures` earlier consecutive failures.
fn nack_delay(failures: u32) -> i32 {
    // At most 10: fits.
    NACK_DELAY.delay(failures).as_secs() as i32
}

/// Ack bookkeeping of the source loop.
struct Acks {
    client: SubscriberClient,
    subscription: String,
    deadline_secs: i32,
    /// Received and not yet acked/nacked: ack id -> payload bytes.
    outstanding: HashMap<String, usize>,
    outstanding_bytes: usize,
    to_ack: Vec<String>,
    /// Ack ids to hand back, with the redelivery delay (seconds).
    to_nack: Vec<(String, i32)>,
    /// Failures since the last delivered message: sets the delay.
    failures: u32,
    name: std::sync::Arc<str>,
}

impl Acks {
    fn received(&mut self, ack_id: String, bytes: usize) {
        self.outstanding_bytes += bytes;
        self.outstanding.insert(ack_id, bytes);
    }

    fn resolved(&mut self, ack_id: String, status: BatchStatus) {
        if let Some(b) = self.outstanding.remove(&ack_id) {
            self.outstanding_bytes -= b;
        }
        if status == BatchStatus::Delivered {
            self.failures = 0;
            self.to_ack.push(ack_id);
        } else {
            // 0 s for the first failure (a blip), then 1, 2, 4, 8, 10 s:
            // a failing sink gets its messages back at a bounded rate
            // instead of in a hot loop, and the source keeps reading (a
            // stalled reader would let buffered messages expire and come
            // back twice).
            self.to_nack.push((ack_id, nack_delay(self.failures)));
            self.failures = self.failures.saturating_add(1);
        }
    }

    async fn flush(&mut self) {
        for ids in std::mem::take(&mut self.to_ack).chunks(IDS_PER_REQUEST) {
            let req = AcknowledgeRequest {
                subscription: self.subscription.clone(),
                ack_ids: ids.to_vec(),
            };
            if let Err(e) = self.client.acknowledge(req, None).await {
                // The messages come back after their deadline; the insertId
                // makes the second delivery harmless.
                tracing::warn!(component = %self.name, messages = ids.len(), code = ?e.code(), "acknowledge failed; Pub/Sub will redeliver");
            }
        }
        let mut nacks = std::mem::take(&mut self.to_nack);
        nacks.sort_by_key(|n| n.1);
        for group in nacks.chunk_by(|a, b| a.1 == b.1) {
            let ids: Vec<String> = group.iter().map(|n| n.0.clone()).collect();
            self.modify(&ids, group[0].1).await;
        }
    }

    /// Extends the deadline of every outstanding message.
    async fn extend(&mut self) {
        let ids: Vec<String> = self.outstanding.keys().cloned().collect();
        self.modify(&ids, self.deadline_secs).await;
    }

    async fn modify(&self, ids: &[String], secs: i32) {
        for ids in ids.chunks(IDS_PER_REQUEST) {
            let req = ModifyAckDeadlineRequest {
                subscription: self.subscription.clone(),
                ack_ids: ids.to_vec(),
                ack_deadline_seconds: secs,
            };
            if let Err(e) = self.client.modify_ack_deadline(req, None).await {
                tracing::warn!(component = %self.name, messages = ids.len(), deadline_secs = secs, code = ?e.code(), "modifyAckDeadline failed");
            }
        }
    }
}

#[async_trait]
impl Source for Pubsub {
    async fn run(self: Box<Self>, mut cx: SourceContext) -> Result<(), ComponentError> {
        let fail =
            |what: &str, e: String| ComponentError::new(format!("source {}: {what}", cx.name), e);
        let client = self.client().await.map_err(|e| fail("connect", e))?;
        let full_name = self.cfg.full_name();
        let subscription = client.subscription(&full_name);
        let sub_cfg = SubscriberConfig {
            stream_ack_deadline_seconds: self.cfg.ack_deadline_secs as i32,
            max_outstanding_messages: self.cfg.max_outstanding_messages as i64,
            max_outstanding_bytes: self.cfg.max_outstanding_bytes as i64,
            ..Default::default()
        };
        let mut stream = subscription
            .subscribe(Some(
                SubscribeConfig::default()
                    .with_subscriber_config(sub_cfg)
                    .with_channel_capacity(cx.batch_max_events.max(1)),
            ))
            .await
            .map_err(|e| fail("streaming pull", format!("{:?}", e.code())))?;
        tracing::info!(component = %cx.name, "pubsub streaming pull started");

        let mut acks = Acks {
            client: subscription.get_client(),
            subscription: full_name.clone(),
            deadline_secs: self.cfg.ack_deadline_secs as i32,
            outstanding: HashMap::new(),
            outstanding_bytes: 0,
            to_ack: Vec::new(),
            to_nack: Vec::new(),
            failures: 0,
            name: cx.name.clone(),
        };
        let mut pending: FuturesUnordered<Pending> = FuturesUnordered::new();
        let mut shaper = MessageShaper::new(&self.node);
        let mut flush_tick = tokio::time::interval(ACK_FLUSH);
        flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Extend at half the deadline, so one failed call still leaves time.
        let mut extend_tick = tokio::time::interval(Duration::from_secs(
            u64::from(self.cfg.ack_deadline_secs / 2).max(1),
        ));
        extend_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        extend_tick.reset();
        let mut ended = false;

        loop {
            let room = acks.outstanding.len() < self.cfg.max_outstanding_messages
                && acks.outstanding_bytes < self.cfg.max_outstanding_bytes;
            let can_read = room && !ended;
            tokio::select! {
                biased;
                _ = cx.shutdown.cancelled() => break,
                Some((id, status)) = pending.next(), if !pending.is_empty() => {
                    acks.resolved(id, status);
                    if acks.to_ack.len() + acks.to_nack.len() >= IDS_PER_REQUEST {
                        acks.flush().await;
                    }
                }
                _ = flush_tick.tick() => {
                    acks.flush().await;
                    cx.stats.set_lag(acks.outstanding.len() as u64);
                }
                _ = extend_tick.tick() => acks.extend().await,
                m = stream.next(), if can_read => {
                    let Some(first) = m else {
                        ended = true;
                        tracing::error!(component = %cx.name, "streaming pull ended; draining and stopping");
                        break;
                    };
                    let mut msgs = vec![first];
                    while msgs.len() < cx.batch_max_events {
                        match stream.next().now_or_never() {
                            Some(Some(m)) => msgs.push(m),
                            _ => break,
                        }
                    }
                    self.emit(msgs, &full_name, &mut shaper, &mut acks, &mut pending, &mut cx).await?;
                }
            }
        }

        // Shutdown (or the stream ended): nack what the client buffered but
        // we never read, then wait (bounded) for what is in flight.
        let unread = stream.dispose().await;
        tracing::info!(component = %cx.name, unread, "pubsub stream closed");
        // Close our outputs first: a sink that finishes on end of input (a
        // GCS object) can then deliver, and its acknowledgements arrive.
        // Waiting with them open nacked messages whose object was uploaded
        // right after: duplicates after every rollout.
        drop(cx.out);
        drop(cx.dead_letter);
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.cfg.drain_timeout_secs);
        while !pending.is_empty() {
            tokio::select! {
                Some((id, status)) = pending.next() => { acks.resolved(id, status); }
                _ = flush_tick.tick() => acks.flush().await,
                _ = extend_tick.tick() => acks.extend().await,
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(component = %cx.name, messages = pending.len(), "shutdown: outstanding messages not delivered in time; nacking them");
                    break;
                }
            }
        }
        let left: Vec<String> = acks.outstanding.keys().cloned().collect();
        acks.to_nack.extend(left.into_iter().map(|id| (id, 0)));
        acks.outstanding.clear();
        acks.flush().await;
        cx.stats.set_lag(0);
        if ended {
            return Err(ComponentError(format!(
                "source {}: the streaming pull ended (subscription missing or permission denied?)",
                cx.name
            )));
        }
        Ok(())
    }
}

impl Pubsub {
    /// Shapes messages into one batch, one notifier per message, and sends
    /// it downstream (waiting while downstream is full).
    async fn emit(
        &self,
        msgs: Vec<ReceivedMessage>,
        full_name: &str,
        shaper: &mut MessageShaper,
        acks: &mut Acks,
        pending: &mut FuturesUnordered<Pending>,
        cx: &mut SourceContext,
    ) -> Result<(), ComponentError> {
        let received = chrono::Utc::now();
        let mut events = Vec::with_capacity(msgs.len());
        let mut rejects = Vec::new();
        let mut bytes = 0u64;
        for mut m in msgs {
            let msg = &mut m.message;
            let time = msg.publish_time.as_ref().and_then(|t| {
                chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
                    .map(format_ts)
            });
            let attributes = std::mem::take(&mut msg.attributes);
            let d = shaper.shape(
                format_args!("{full_name}/{}", msg.message_id),
                &msg.data,
                time.as_deref(),
                attributes,
                received,
            );
            let (notifier, rx) = BatchNotifier::new_with_receiver();
            let size = msg.data.len();
            bytes += size as u64;
            match d {
                Decoded::Entry { log, size } => {
                    events.push(Event::with_notifier(log, size, &notifier))
                }
                Decoded::Reject {
                    reason,
                    sample,
                    size,
                } => {
                    let log = json!({"raw": sample, "raw_bytes": size,
                        "pubsub": {"subscription": full_name, "message_id": msg.message_id}});
                    rejects.push((Event::with_notifier(log, size, &notifier), reason));
                }
            }
            let ack_id = std::mem::take(&mut m.ack_id);
            acks.received(ack_id.clone(), size);
            pending.push(async move { (ack_id, rx.wait().await) }.boxed());
        }
        let received = (events.len() + rejects.len()) as u64;
        send_read(cx, events, rejects, received, bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn validate_names_fields() {
        let c = cfg(r#"
            project = "p"
            subscription = "projects/other/subscriptions/s"
            ack_deadline_secs = 5
            endpoint = "http://127.0.0.1:8085"
        "#);
        let fields: Vec<String> = c.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["subscription", "ack_deadline_secs", "endpoint"]);
    }

    #[test]
    fn nack_delay_grows_and_is_bounded() {
        let d: Vec<i32> = (0..8).map(nack_delay).collect();
        assert_eq!(d, [0, 1, 2, 4, 8, 10, 10, 10]);
    }

    #[test]
    fn subscription_id_or_full_name() {
        let c = cfg("project = \"p\"\nsubscription = \"s\"\n");
        assert!(c.validate().is_empty());
        assert_eq!(c.full_name(), "projects/p/subscriptions/s");
        let c = cfg("project = \"p\"\nsubscription = \"projects/p/subscriptions/s\"\n");
        assert!(c.validate().is_empty());
        assert_eq!(c.full_name(), "projects/p/subscriptions/s");
    }
}
