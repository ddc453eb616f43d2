//! `type = "gcs"`: the archive. Every event, as NDJSON LogEntries,
//! compressed, in objects keyed by event time and node
//! (`logs/%Y/%m/%d/%H/{node}-{uuid}.ndjson.gz` by default).
//!
//! Events are grouped by their rendered key without the `{uuid}` (so with
//! the default layout one object holds one hour of one node), appended to
//! that group's open object (compressed in members, see `encoder.rs`), and
//! the object is closed when it reaches `batch_max_bytes` or its first
//! event is `batch_max_age_secs` old, or when the input ends.
//!
//! Memory is bounded whatever the spread of timestamps (a node catching up
//! after downtime, or a backfill of a month, can have hundreds of hourly
//! objects open): when the open objects hold more than
//! `max_buffered_bytes`, their pending text is compressed early, largest
//! first, and if that is not enough the oldest objects are closed early
//! (counted in `archive_objects_closed_early_total`).
//!
//! A closed object is uploaded (create-only,
//! multipart when large, retried; see `upload.rs`) while new batches keep
//! arriving, up to `max_in_flight` at once. Its events are acknowledged
//! `Delivered` only once the object is finalized; an upload that fails for
//! good settles them `Errored` and stops the pipeline, so no source
//! checkpoint passes data that is not in the archive.
//!
//! The bucket can be a local folder (`file:///DIR`), through the same code
//! (object_store's local filesystem, with fsync). In a dry run objects go to
//! `DIR/gcs/BUCKET/KEY`, byte for byte what would be uploaded; only the
//! object metadata (`Content-Type`, `Content-Encoding`, `Cache-Control`)
//! has no place in a folder.

pub(crate) mod config;
pub mod encoder;
pub mod upload;

pub(crate) use config::Config;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use self::encoder::{Compression, MemberCompressor, ObjectEncoder};
use self::upload::{Object, UploadError, UploadPlan};
use super::{encode_ndjson, Sink};
use crate::component::{BuildContext, BuildError, ComponentError, SinkContext, SinkInput};
use crate::event::finalization::Finalizers;
use crate::event::log_entry::parse_rfc3339;
use crate::event::{Batch, EventStatus};
use crate::gcs::key::{self, KeyTemplate};
use crate::gcs::store::{self, Opened};

/// Everything the sink needs at run time, resolved from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    pub template: KeyTemplate,
    pub node: String,
    pub compression: Compression,
    pub level: i32,
    pub max_bytes: u64,
    pub max_age: Duration,
    pub max_in_flight: usize,
    /// Bytes all open objects may hold (compressed bodies and pending text).
    pub max_buffered_bytes: usize,
    pub plan: UploadPlan,
}

pub(crate) struct GcsSink {
    settings: Settings,
    target: Opened,
}

impl GcsSink {
    /// Builds against GCS or the local folder the bucket names.
    pub(crate) fn build(
        cfg: &Config,
        name: &str,
        cx: &BuildContext,
    ) -> Result<GcsSink, BuildError> {
        let loc = cfg
            .location()
            .map_err(|m| BuildError::new("sink", name, format!("bucket {m}")))?;
        let target = store::open(&loc, &cfg.connection(), true)
            .map_err(|e| BuildError::new("sink", name, e))?;
        Self::with_config(cfg, name, cx, target)
    }

    /// The dry-run stand-in: the same sink over the folder
    /// `OUT/gcs/BUCKET` (no socket is opened).
    pub(crate) fn build_dry_run(
        cfg: &Config,
        name: &str,
        cx: &BuildContext,
        out_dir: &std::path::Path,
    ) -> Result<GcsSink, BuildError> {
        let loc = cfg
            .location()
            .map_err(|m| BuildError::new("sink", name, format!("bucket {m}")))?;
        let target = store::open_local(&out_dir.join("gcs").join(loc.dry_run_name()), true)
            .map_err(|e| BuildError::new("sink", name, e))?;
        Self::with_config(cfg, name, cx, target)
    }

    fn with_config(
        cfg: &Config,
        name: &str,
        cx: &BuildContext,
        target: Opened,
    ) -> Result<GcsSink, BuildError> {
        let template = KeyTemplate::parse(&cfg.key_template())
            .map_err(|m| BuildError::new("sink", name, format!("key {m}")))?;
        let settings = Settings {
            template,
            node: cx.node.node_or_default().to_string(),
            compression: cfg.compression,
            level: cfg.level(),
            max_bytes: cfg.batch_max_bytes,
            max_age: Duration::from_secs(cfg.batch_max_age_secs),
            max_in_flight: cfg.max_in_flight.max(1),
            max_buffered_bytes: usize::try_from(cfg.max_buffered_bytes).unwrap_or(usize::MAX),
            plan: cfg.upload_plan(),
        };
        Ok(GcsSink { settings, target })
    }

    /// A sink over any store (tests, benchmarks).
    #[cfg(test)]
    pub(crate) fn with_target(settings: Settings, target: Opened) -> GcsSink {
        GcsSink { settings, target }
    }
}

/// One object being filled.
struct Open {
    encoder: ObjectEncoder,
    fins: Finalizers,
    events: u64,
    /// A time inside the group, to render the final key.
    time: DateTime<Utc>,
    opened: Instant,
    /// Closed at the next `close` to bring memory under the bound.
    early: bool,
}

/// An upload's outcome, with what it carried.
struct Done {
    result: Result<u32, UploadError>,
    fins: Finalizers,
    object: crate::telemetry::outputs::Object,
}

/// The grouping and encoding half of the sink, without IO.
pub struct Batcher {
    settings: Settings,
    compressor: MemberCompressor,
    open: HashMap<String, Open>,
    /// Objects closed early for memory since the last `take_closed_early`.
    closed_early: u64,
    /// `YYYY-MM-DDTHH:MM` -> group, so most events skip rendering a key.
    buckets: HashMap<String, (String, DateTime<Utc>)>,
    /// Per-batch scratch: group -> (NDJSON, finalizers, events, a time).
    scratch: HashMap<String, (Vec<u8>, Finalizers, u64, DateTime<Utc>)>,
}

impl Batcher {
    /// Fails only for a level outside the codec's range.
    pub fn new(settings: Settings) -> std::io::Result<Batcher> {
        Ok(Batcher {
            compressor: MemberCompressor::new(settings.compression, settings.level)?,
            settings,
            closed_early: 0,
            open: HashMap::new(),
            buckets: HashMap::new(),
            scratch: HashMap::new(),
        })
    }

    fn group_of(&mut self, ts: Option<&str>) -> (String, DateTime<Utc>) {
        if let Some(b) = ts.and_then(key::fast_bucket) {
            if let Some(g) = self.buckets.get(b) {
                return g.clone();
            }
            let t = ts.and_then(parse_rfc3339).unwrap_or_else(Utc::now);
            let g = self.settings.template.render(t, &self.settings.node, "");
            if self.buckets.len() > 4096 {
                self.buckets.clear();
            }
            self.buckets.insert(b.to_string(), (g.clone(), t));
            return (g, t);
        }
        // Not canonical UTC (or missing): parse, or file it under now.
        let t = ts.and_then(parse_rfc3339).unwrap_or_else(Utc::now);
        (self.settings.template.render(t, &self.settings.node, ""), t)
    }

    /// Encodes a batch into the open objects.
    pub fn add(&mut self, batch: Batch) -> std::io::Result<()> {
        for mut e in batch.events {
            let ts = e.log.get("timestamp").and_then(|v| v.as_str());
            let (group, t) = self.group_of(ts);
            let s = self
                .scratch
                .entry(group)
                // Grown as needed: a batch spread over hundreds of windows
                // must not reserve a large buffer for each.
                .or_insert_with(|| (Vec::new(), Finalizers::default(), 0, t));
            encode_ndjson(&mut s.0, &e.log);
            s.1.push(e.take_finalizer());
            s.2 += 1;
        }
        for (group, (buf, fins, n, t)) in self.scratch.drain() {
            let o = match self.open.entry(group) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(Open {
                    encoder: ObjectEncoder::new(),
                    fins: Finalizers::default(),
                    events: 0,
                    time: t,
                    opened: Instant::now(),
                    early: false,
                }),
            };
            o.encoder.write(&mut self.compressor, &buf)?;
            o.fins.extend(fins);
            o.events += n;
        }
        self.relieve()
    }

    /// Memory held by the open objects.
    pub(crate) fn held_bytes(&self) -> usize {
        self.open.values().map(|o| o.encoder.held_bytes()).sum()
    }

    /// Brings the open objects under `max_buffered_bytes`: compress pending
    /// text early (largest first; a member under 16 KiB would cost ratio
    /// for little memory), then mark the oldest objects to close early.
    fn relieve(&mut self) -> std::io::Result<()> {
        const MIN_EARLY_MEMBER: usize = 16 * 1024;
        let limit = self.settings.max_buffered_bytes;
        let mut held = self.held_bytes();
        if held <= limit {
            return Ok(());
        }
        let mut by_pending: Vec<(usize, &String)> = self
            .open
            .iter()
            .filter(|(_, o)| o.encoder.pending_len() >= MIN_EARLY_MEMBER)
            .map(|(k, o)| (o.encoder.pending_len(), k))
            .collect();
        by_pending.sort_unstable_by_key(|(n, _)| std::cmp::Reverse(*n));
        let keys: Vec<String> = by_pending.into_iter().map(|(_, k)| k.clone()).collect();
        for k in keys {
            if held <= limit {
                return Ok(());
            }
            let o = self.open.get_mut(&k).expect("key listed above");
            let before = o.encoder.held_bytes();
            o.encoder.seal(&mut self.compressor)?;
            held = held - before + o.encoder.held_bytes();
        }
        if held <= limit {
            return Ok(());
        }
        // Still over: close whole objects, oldest window first, until what
        // stays open fits in half the bound (so the next batch does not
        // land here again at once).
        let mut by_time: Vec<(DateTime<Utc>, &String, usize)> = self
            .open
            .iter()
            .filter(|(_, o)| !o.early)
            .map(|(k, o)| (o.time, k, o.encoder.held_bytes()))
            .collect();
        by_time.sort_unstable_by_key(|(t, _, _)| *t);
        let marked: Vec<String> = by_time
            .into_iter()
            .take_while(|(_, _, bytes)| {
                let go = held > limit / 2;
                held = held.saturating_sub(*bytes);
                go
            })
            .map(|(_, k, _)| k.clone())
            .collect();
        for k in marked {
            self.open.get_mut(&k).expect("key listed above").early = true;
        }
        Ok(())
    }

    /// Objects closed early for memory since the last call.
    pub(crate) fn take_closed_early(&mut self) -> u64 {
        std::mem::take(&mut self.closed_early)
    }

    /// When the oldest open object must close.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.open
            .values()
            .map(|o| o.opened + self.settings.max_age)
            .min()
    }

    /// Closes objects that are full or old enough (all of them when
    /// `all`), returning them ready to upload with their finalizers.
    /// The third item of each is the object's events, the fourth its
    /// NDJSON size before compression.
    #[allow(clippy::type_complexity)]
    pub fn close(&mut self, all: bool) -> std::io::Result<Vec<(Object, Finalizers, u64, u64)>> {
        let now = Instant::now();
        let due: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| {
                all || o.early
                    || o.encoder.raw_len() >= self.settings.max_bytes
                    || now >= o.opened + self.settings.max_age
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for g in due {
            let o = self.open.remove(&g).expect("collected from the map above");
            if o.early && !all {
                self.closed_early += 1;
            }
            let id = uuid::Uuid::new_v4().to_string();
            let key = self
                .settings
                .template
                .render(o.time, &self.settings.node, &id);
            let raw = o.encoder.raw_len();
            let body = Bytes::from(o.encoder.finish(&mut self.compressor)?);
            out.push((
                Object {
                    key,
                    body,
                    content_encoding: self.settings.compression.content_encoding(),
                },
                o.fins,
                o.events,
                raw,
            ));
        }
        Ok(out)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[async_trait]
impl Sink for GcsSink {
    async fn run(
        self: Box<Self>,
        mut input: SinkInput,
        cx: SinkContext,
    ) -> Result<(), ComponentError> {
        let GcsSink { settings, target } = *self;
        let max_in_flight = settings.max_in_flight;
        let plan = Arc::new(settings.plan.clone());
        let io_err =
            |e: std::io::Error| ComponentError::new(format!("sink {}: compress", cx.name), e);
        let mut batcher = Batcher::new(settings).map_err(io_err)?;
        let mut inflight: FuturesUnordered<BoxFuture<'static, Done>> = FuturesUnordered::new();
        let mut input_open = true;
        while input_open || !batcher.is_empty() || !inflight.is_empty() {
            if input_open {
                let deadline = batcher.next_deadline();
                tokio::select! {
                    biased;
                    Some(done) = inflight.next(), if !inflight.is_empty() => {
                        settle(done, &cx)?;
                        continue;
                    }
                    b = input.next() => match b {
                        Some(batch) => {
                            batcher.add(batch).map_err(io_err)?;
                        }
                        None => input_open = false,
                    },
                    _ = sleep_until(deadline), if deadline.is_some() => {}
                }
            }
            let closing = batcher.close(!input_open).map_err(io_err)?;
            let early = batcher.take_closed_early();
            if early > 0 {
                cx.telemetry.archive_closed_early(&cx.name, early);
                tracing::warn!(component = %cx.name, objects = early, "archive objects closed early to stay under max_buffered_bytes");
            }
            for (obj, fins, events, raw_bytes) in closing {
                while inflight.len() >= max_in_flight {
                    let done = inflight.next().await.expect("the set is not empty");
                    settle(done, &cx)?;
                }
                let target = target.clone();
                let plan = plan.clone();
                let name = cx.name.clone();
                inflight.push(Box::pin(async move {
                    let started = std::time::Instant::now();
                    let result = upload::upload(&target, &obj, &plan).await;
                    // One sample per object, retries included.
                    crate::telemetry::record_request_latency(
                        &name,
                        started.elapsed().as_secs_f64(),
                    );
                    let object = crate::telemetry::outputs::Object {
                        bytes: obj.body.len() as u64,
                        key: obj.key,
                        raw_bytes,
                        events,
                    };
                    Done {
                        result,
                        fins,
                        object,
                    }
                }));
            }
            if !input_open {
                while let Some(done) = inflight.next().await {
                    settle(done, &cx)?;
                }
            }
        }
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn settle(done: Done, cx: &SinkContext) -> Result<(), ComponentError> {
    let Done {
        result,
        fins,
        object,
    } = done;
    let events = object.events;
    match result {
        Ok(attempts) => {
            fins.settle(EventStatus::Delivered);
            cx.stats.sent(events, object.bytes);
            cx.telemetry.record_object(&cx.name, object);
            if attempts > 1 {
                tracing::info!(component = %cx.name, attempts, "archive object uploaded after retries");
            }
            Ok(())
        }
        Err(e) => {
            fins.settle(EventStatus::Errored);
            cx.stats.errored(events);
            Err(ComponentError::new(format!("sink {}", cx.name), e))
        }
    }
}

#[cfg(test)]
mod tests;
