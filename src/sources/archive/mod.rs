//! `type = "archive"`: replays the archive the `gcs` sink writes (or any
//! folder of NDJSON LogEntries, compressed or not) into the pipeline.
//!
//! 1. List every object under `from` (`gs://BUCKET/PREFIX`, `file:///DIR`
//!    or a path), sorted by key.
//! 2. Keep those whose key's date (`%Y/%m/%d/%H` or `dt=...`/`hour=...`)
//!    meets `[start, end)`, that belong to this `shard`, and that the
//!    state file does not list as finished. Nothing else is downloaded.
//! 3. Download a few objects ahead (`prefetch`), decompress each as its
//!    bytes arrive (gzip, zstd or plain, by magic bytes) and decode its
//!    lines as NDJSON. Lines are LogEntries already: they keep their
//!    `insertId`, so a replay inserts nothing twice. In an object that
//!    straddles `start` or `end`, events outside the range are skipped.
//! 4. Once every event of an object is acknowledged `Delivered` by every
//!    sink, the object is recorded in the state file; a rerun after an
//!    interruption skips it. An object whose events were not all delivered
//!    is not recorded, and the source ends with an error naming how many.
//!
//! `sluice backfill` sets `from`, `start`, `end` and `shard` from its flags
//! and watches [`Progress`].

pub(crate) mod progress;
pub mod read;
pub(crate) mod select;
pub(crate) mod state;

mod config;
#[cfg(test)]
use self::config::{default_max_line, default_prefetch, default_prefetch_max};
pub(crate) use self::config::{Config, Selection};

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectStore};
use tokio::sync::mpsc;

pub use progress::Progress;
use read::Inflater;
use select::{Range, Verdict};
use state::State;

use super::{Emitter, Source};
use crate::component::{BuildContext, BuildError, ComponentError, SourceContext};
use crate::decode::{Decoded, Decoder, Format, LineSplitter, Piece};
use crate::event::log_entry::parse_rfc3339;
use crate::event::{BatchStatus, BatchStatusReceiver};
use crate::gcs::store::{self, Connection, Location};
use crate::node::NodeInfo;

/// Reads objects for the source: listing and downloads can use different
/// clients (see [`Archive::build`]).
#[derive(Debug, Clone)]
pub(crate) struct Stores {
    pub(crate) list: Arc<dyn ObjectStore>,
    pub(crate) get: Arc<dyn ObjectStore>,
    /// Listing prefix inside the store.
    pub(crate) prefix: String,
}

pub(crate) struct Archive {
    selection: Selection,
    stores: Stores,
    state_path: PathBuf,
    node: NodeInfo,
    max_line_bytes: usize,
    prefetch: usize,
    prefetch_max: u64,
    progress: Arc<Progress>,
}

impl Archive {
    pub(crate) fn build(
        cfg: &Config,
        name: &str,
        cx: &BuildContext,
    ) -> Result<Archive, BuildError> {
        let err = |m: String| BuildError::new("source", name, m);
        let selection = cfg
            .selection()
            .map_err(|e| {
                err(e
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "))
            })?
            .ok_or_else(|| {
                err(
                    "no archive location: set `from`, or run `sluice backfill PIPELINE --from ...`"
                        .into(),
                )
            })?;
        let stores =
            open_stores(&selection.location, &cfg.connection()).map_err(|e| err(e.to_string()))?;
        Ok(Archive {
            state_path: state_path(cfg, &selection, cx),
            selection,
            stores,
            node: cx.node.clone(),
            max_line_bytes: cfg.max_line_bytes,
            prefetch: cfg.prefetch.max(1),
            prefetch_max: cfg.prefetch_max_object_bytes,
            progress: cfg.progress.clone().unwrap_or_default(),
        })
    }

    /// A source over given stores (tests, benchmarks).
    #[cfg(test)]
    pub(crate) fn with_stores(
        selection: Selection,
        stores: Stores,
        state_path: PathBuf,
        progress: Arc<Progress>,
    ) -> Archive {
        Archive {
            selection,
            stores,
            state_path,
            node: NodeInfo::default(),
            max_line_bytes: default_max_line(),
            prefetch: default_prefetch(),
            prefetch_max: default_prefetch_max(),
            progress,
        }
    }
}

/// The resume file for a selection: under `state_dir`, else
/// `DATA_DIR/backfill`.
pub(crate) fn state_path(cfg: &Config, selection: &Selection, cx: &BuildContext) -> PathBuf {
    let dir = match &cfg.state_dir {
        Some(d) => d.clone(),
        None => cx.data_dir.join("backfill"),
    };
    state::path_for(&dir, &selection.identity())
}

/// Opens the stores for a location. For GCS, downloads ask for the bytes
/// as stored (`Accept-Encoding: gzip`), so an object uploaded with
/// `Content-Encoding: gzip` by another tool is not decompressed in transit
/// ("decompressive transcoding", which also drops Content-Length); listing
/// uses a client without that header, since its XML response is parsed.
pub(crate) fn open_stores(loc: &Location, conn: &Connection) -> Result<Stores, store::OpenError> {
    match loc {
        Location::Gcs { bucket, prefix } => {
            let wrap = |source| store::OpenError::Store {
                location: loc.to_string(),
                source,
            };
            let mut h = object_store::HeaderMap::new();
            h.insert(
                "accept-encoding",
                object_store::HeaderValue::from_static("gzip"),
            );
            Ok(Stores {
                list: Arc::new(store::gcs(bucket, conn, None).map_err(wrap)?),
                get: Arc::new(store::gcs(bucket, conn, Some(h)).map_err(wrap)?),
                prefix: prefix.clone(),
            })
        }
        Location::Local { dir } => {
            if !dir.is_dir() {
                return Err(store::OpenError::Folder {
                    dir: dir.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
                });
            }
            let s = store::open_local(dir, false)?.store;
            Ok(Stores {
                list: s.clone(),
                get: s,
                prefix: String::new(),
            })
        }
    }
}

/// One object chosen for reading.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) check_events: bool,
}

/// Lists and selects. Returns the objects to read, in key order.
pub(crate) async fn plan(
    stores: &Stores,
    selection: &Selection,
    state: &State,
    progress: &Progress,
) -> Result<Vec<Chosen>, object_store::Error> {
    let prefix = (!stores.prefix.is_empty()).then(|| ObjectPath::from(stores.prefix.as_str()));
    let mut listing = stores.list.list(prefix.as_ref());
    let mut chosen = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        let key = meta.location.to_string();
        match select::judge(&key, &selection.range, &selection.shard) {
            Verdict::Take { check_events } => {
                if state.is_done(&key) {
                    Progress::add(&progress.objects_skipped, 1);
                    continue;
                }
                Progress::add(&progress.objects_total, 1);
                Progress::add(&progress.bytes_total, meta.size);
                chosen.push(Chosen {
                    key,
                    size: meta.size,
                    check_events,
                });
            }
            Verdict::Undated => Progress::add(&progress.objects_undated, 1),
            Verdict::OutOfRange | Verdict::OtherShard => {}
        }
    }
    chosen.sort_by(|a, b| a.key.cmp(&b.key));
    progress
        .listed
        .store(true, std::sync::atomic::Ordering::Release);
    Ok(chosen)
}

/// An object's body: already downloaded (prefetched) or still streaming.
enum Body {
    Whole(Vec<Bytes>),
    Stream(BoxStream<'static, object_store::Result<Bytes>>),
}

async fn fetch(
    store: Arc<dyn ObjectStore>,
    c: Chosen,
    whole_max: u64,
) -> (Chosen, object_store::Result<Body>) {
    let path = ObjectPath::from(c.key.as_str());
    let res = async {
        // `get_opts`: the future must be `Send` (it runs in the prefetch task).
        let got = store.get_opts(&path, GetOptions::new()).await?;
        let mut stream = got.into_stream();
        if c.size > whole_max {
            return Ok(Body::Stream(stream));
        }
        let mut parts = Vec::new();
        while let Some(b) = stream.next().await {
            parts.push(b?);
        }
        Ok(Body::Whole(parts))
    }
    .await;
    (c, res)
}

/// Per-object decoding: lines -> events -> batches, keeping each batch's
/// acknowledgement receiver.
struct ObjectFeeder {
    splitter: LineSplitter,
    decoder: Decoder,
    emitter: Emitter,
    decoded: Vec<Decoded>,
    receivers: Vec<BatchStatusReceiver>,
    check: Option<Range>,
    out_of_range: u64,
    events: u64,
    /// Lines of the object split so far (the insertId position of an
    /// entry archived without one).
    lines: u64,
}

impl ObjectFeeder {
    fn new(key: &str, node: &NodeInfo, max_line: usize, check: Option<Range>) -> Self {
        // Lines are LogEntries and keep their insertId. One without one
        // gets an id from the object key and its bytes: stable across runs.
        let origin = node.generic_origin(format!("archive:{key}"));
        ObjectFeeder {
            splitter: LineSplitter::new(max_line),
            decoder: Decoder::new(Format::Ndjson, origin, max_line),
            emitter: Emitter::new(),
            decoded: Vec::new(),
            receivers: Vec::new(),
            check,
            out_of_range: 0,
            events: 0,
            lines: 0,
        }
    }

    fn split(&mut self, raw: &[u8], last: bool) {
        let received = Utc::now();
        let (decoder, decoded, lines) = (&mut self.decoder, &mut self.decoded, &mut self.lines);
        let mut f = |p: Piece<'_>| {
            *lines += 1;
            decoder.at(*lines);
            match p {
                Piece::Line(l) => decoder.push_line(l, received, decoded),
                Piece::Oversize { prefix, total } => decoder.push_oversize(prefix, total, decoded),
            }
        };
        self.splitter.push(raw, &mut f);
        if last {
            self.splitter.finish(&mut f);
        }
    }

    async fn feed(
        &mut self,
        raw: &[u8],
        last: bool,
        cx: &mut SourceContext,
    ) -> Result<(), ComponentError> {
        self.split(raw, last);
        for d in self.decoded.drain(..) {
            if let (Some(r), Decoded::Entry { log, .. }) = (&self.check, &d) {
                let t = log
                    .get("timestamp")
                    .and_then(|v| v.as_str())
                    .and_then(parse_rfc3339);
                if t.is_some_and(|t| !r.contains(t)) {
                    self.out_of_range += 1;
                    continue;
                }
            }
            self.emitter.push(d);
            if self.emitter.len() >= cx.batch_max_events {
                self.events += self.emitter.len() as u64;
                let rx = std::mem::take(&mut self.emitter).flush(cx).await?;
                self.receivers.push(rx);
            }
        }
        if last && !self.emitter.is_empty() {
            self.events += self.emitter.len() as u64;
            let rx = std::mem::take(&mut self.emitter).flush(cx).await?;
            self.receivers.push(rx);
        }
        Ok(())
    }
}

/// An object whose events are all sent, waiting for their acknowledgements.
struct Sent {
    key: String,
    receivers: Vec<BatchStatusReceiver>,
}

/// Records objects as their acknowledgements come in. Returns how many
/// were not delivered.
async fn recorder(
    mut state: State,
    mut rx: mpsc::Receiver<Sent>,
    progress: Arc<Progress>,
) -> Result<u64, state::StateError> {
    let mut waiting = futures::stream::FuturesUnordered::new();
    let mut failed = 0;
    let mut open = true;
    while open || !waiting.is_empty() {
        tokio::select! {
            msg = rx.recv(), if open => match msg {
                Some(Sent { key, receivers }) => waiting.push(async move {
                    let mut ok = true;
                    for r in receivers {
                        ok &= r.wait().await == BatchStatus::Delivered;
                    }
                    (key, ok)
                }),
                None => open = false,
            },
            Some((key, ok)) = waiting.next(), if !waiting.is_empty() => {
                if ok {
                    state.record(&key)?;
                    Progress::add(&progress.objects_done, 1);
                } else {
                    failed += 1;
                    Progress::add(&progress.objects_failed, 1);
                    tracing::warn!(object = %key, "archive object not fully delivered; it will be read again on the next run");
                }
            }
        }
    }
    Ok(failed)
}

#[async_trait]
impl Source for Archive {
    async fn run(self: Box<Self>, mut cx: SourceContext) -> Result<(), ComponentError> {
        let name = cx.name.clone();
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            ComponentError::new(format!("source {name}: {what}"), e)
        };
        let state = State::open(&self.state_path, &self.selection.identity())
            .map_err(|e| fail("state", &e))?;
        let resumed = state.done_count();
        let chosen = plan(&self.stores, &self.selection, &state, &self.progress)
            .await
            .map_err(|e| fail(&format!("listing {}", self.selection.location), &e))?;
        tracing::info!(
            source = %name,
            objects = chosen.len(),
            already_done = resumed,
            state = %self.state_path.display(),
            "archive listed"
        );

        let (sent_tx, sent_rx) = mpsc::channel::<Sent>(64);
        let recorder = tokio::spawn(recorder(state, sent_rx, self.progress.clone()));

        // Downloads run ahead in their own task so they overlap decoding
        // and downstream backpressure; the channel bounds how far ahead.
        let (body_tx, mut body_rx) = mpsc::channel(self.prefetch);
        let get = self.stores.get.clone();
        let whole_max = self.prefetch_max;
        let prefetch = self.prefetch;
        let fetcher = tokio::spawn(async move {
            let mut s = futures::stream::iter(chosen)
                .map(move |c| fetch(get.clone(), c, whole_max))
                .buffered(prefetch);
            while let Some(item) = s.next().await {
                if body_tx.send(item).await.is_err() {
                    break;
                }
            }
        });

        let mut read_failures = 0u64;
        let mut raw = Vec::with_capacity(1 << 20);
        'objects: loop {
            let next = tokio::select! {
                biased;
                _ = cx.shutdown.cancelled() => break,
                n = body_rx.recv() => n,
            };
            let Some((c, body)) = next else { break };
            let check = c.check_events.then_some(self.selection.range);
            let mut feeder = ObjectFeeder::new(&c.key, &self.node, self.max_line_bytes, check);
            let mut inflater = Inflater::new();
            let mut body = match body {
                Ok(b) => b,
                Err(e) => {
                    read_failures += 1;
                    Progress::add(&self.progress.objects_failed, 1);
                    tracing::warn!(object = %c.key, error = %e, "cannot download archive object; skipping it this run");
                    continue;
                }
            };
            let mut whole = match &mut body {
                Body::Whole(parts) => std::mem::take(parts).into_iter(),
                Body::Stream(_) => Vec::new().into_iter(),
            };
            let mut broken: Option<String> = None;
            loop {
                let chunk = match &mut body {
                    Body::Whole(_) => whole.next().map(Ok),
                    Body::Stream(s) => s.next().await,
                };
                let chunk = match chunk {
                    None => break,
                    Some(Ok(b)) => b,
                    Some(Err(e)) => {
                        broken = Some(format!("download: {e}"));
                        break;
                    }
                };
                Progress::add(&self.progress.bytes_read, chunk.len() as u64);
                raw.clear();
                if let Err(e) = inflater.push(&chunk, &mut raw) {
                    broken = Some(format!("decompress: {e}"));
                    break;
                }
                Progress::add(&self.progress.raw_bytes, raw.len() as u64);
                feeder.feed(&raw, false, &mut cx).await?;
                if cx.shutdown.is_cancelled() {
                    // Send what was read; the object is not recorded.
                    feeder.feed(&[], true, &mut cx).await?;
                    Progress::add(&self.progress.events, feeder.events);
                    break 'objects;
                }
            }
            if broken.is_none() {
                raw.clear();
                match inflater.finish(&mut raw) {
                    Ok(_) => Progress::add(&self.progress.raw_bytes, raw.len() as u64),
                    Err(e) => broken = Some(format!("decompress: {e}")),
                }
            }
            feeder.feed(&raw, true, &mut cx).await?;
            Progress::add(&self.progress.events, feeder.events);
            Progress::add(&self.progress.events_out_of_range, feeder.out_of_range);
            Progress::add(&self.progress.objects_read, 1);
            if let Some(why) = broken {
                // Events before the damage were sent (same insertIds when
                // read again); the object is not recorded.
                read_failures += 1;
                Progress::add(&self.progress.objects_failed, 1);
                tracing::warn!(object = %c.key, error = %why, "archive object unreadable; skipping it this run");
                continue;
            }
            if sent_tx
                .send(Sent {
                    key: c.key,
                    receivers: feeder.receivers,
                })
                .await
                .is_err()
            {
                return Err(fail("state", &"the state recorder stopped"));
            }
        }
        fetcher.abort();
        let _ = fetcher.await;
        drop(sent_tx);
        // Let downstream finish: without our output they can drain and
        // end, which is what settles the last acknowledgements.
        drop(cx);
        let not_delivered = recorder
            .await
            .map_err(|e| fail("state", &e))?
            .map_err(|e| fail("state", &e))?;
        let failed = read_failures + not_delivered;
        if failed > 0 {
            return Err(ComponentError(format!(
                "source {name}: {failed} archive object(s) were not fully read or delivered; run again to retry them"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
