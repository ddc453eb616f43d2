//! The live sink: route each entry to its table, encode it against the
//! table's working schema, batch per table, send with bounded concurrency,
//! settle each event from its row's outcome.
//!
//! Outcomes per event:
//! - row accepted -> `Delivered`;
//! - row refused by BigQuery (`insertErrors`, final reason) or by the
//!   encoder (type conflict, unknown field with `schema_update = "reject"`)
//!   -> dead-letter with the reason (which counts as delivered);
//! - request still failing after `max_retry_secs` (BigQuery or the network
//!   down) -> `Errored`: the source keeps its checkpoint / nacks, and
//!   delivers the entry again later; the deterministic `insertId` makes
//!   that replay free of duplicates;
//! - the table BigQuery answers a create or patch with lacks a column the
//!   rows need -> `Errored` as well, counted and named (the rows would
//!   land without it).
//!
//! Tables are created by the first dispatch for them, with the columns
//! their pending rows need. Requests run in [`super::request`].
//!
//! Nothing is acknowledged before BigQuery answered for it. The main loop
//! owns the table states; each request runs as its own task (at most
//! `concurrency`), and the loop stops pulling input while all slots are
//! busy, so a slow BigQuery slows the sources instead of growing memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use tokio::task::JoinSet;

use super::config::{Config, SchemaUpdate};
use super::encoder::{self, row_overhead, BODY_HEAD, BODY_TAIL};
use super::request::{deliver, retrying, Shared};
use super::schema::{self, Schema};
use super::service::{self, Api};
use super::table::{self, ApiError, TableTemplate, Tables};
use crate::component::Sink;
use crate::component::{ComponentError, SinkContext, SinkInput};
use crate::event::{Event, EventStatus};

pub(crate) struct BigQuery {
    cfg: Config,
    template: TableTemplate,
}

impl BigQuery {
    pub(crate) fn new(cfg: Config, template: TableTemplate) -> Self {
        BigQuery { cfg, template }
    }
}

/// One encoded row and the event it came from (kept for dead-letter and
/// for its finalizer).
pub(crate) struct Row {
    pub(crate) event: Event,
    pub(crate) json: Vec<u8>,
}

impl Row {
    pub(super) fn wire_len(&self) -> usize {
        self.json.len() + row_overhead(self.event.insert_id()) + 1
    }
}

#[derive(Default)]
struct Pending {
    rows: Vec<Row>,
    bytes: usize,
    since: Option<Instant>,
}

struct TableState {
    schema: Schema,
    /// The table exists in BigQuery. A missing table is created by the
    /// first dispatch, with the columns its pending rows need.
    exists: bool,
    /// The working schema has columns BigQuery has not been told about.
    dirty: bool,
    day: Option<NaiveDate>,
    pending: Pending,
}

#[async_trait]
impl Sink for BigQuery {
    async fn run(
        self: Box<Self>,
        mut input: SinkInput,
        cx: SinkContext,
    ) -> Result<(), ComponentError> {
        let cfg = self.cfg;
        let err = |m: String| ComponentError::new(format!("sink {}", cx.name), m);
        let auth = service::authenticator(&cfg).await.map_err(err)?;
        let http = service::http_client(&cfg).map_err(err)?;
        let tables = Tables::connect(&cfg, auth.clone(), http.clone())
            .await
            .map_err(err)?;
        let shared = Shared {
            api: Arc::new(Api::new(&cfg, auth, http)),
            name: cx.name.clone(),
            dead_letter: cx.dead_letter.clone(),
            stats: cx.stats.clone(),
            max_retry: Duration::from_secs(cfg.max_retry_secs),
            missing: Arc::new(Mutex::new(HashSet::new())),
            telemetry: cx.telemetry.clone(),
        };
        let mut run = Run {
            cfg: &cfg,
            template: &self.template,
            tables: &tables,
            states: HashMap::new(),
            unreachable: HashMap::new(),
            inflight: JoinSet::new(),
            shared,
        };
        let tick = Duration::from_millis((cfg.batch_timeout_ms / 2).clamp(10, 1000));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                Some(done) = run.inflight.join_next(), if !run.inflight.is_empty() => {
                    done.map_err(|e| err(format!("request task failed: {e}")))?;
                }
                b = input.next(), if run.inflight.len() < cfg.concurrency => {
                    match b {
                        Some(batch) => {
                            run.recreate_missing().await;
                            for e in batch.events {
                                run.accept(e).await?;
                            }
                        }
                        None => break,
                    }
                }
                _ = ticker.tick() => {
                    run.recreate_missing().await;
                    run.flush(false).await?;
                }
            }
        }
        run.flush(true).await?;
        while let Some(done) = run.inflight.join_next().await {
            done.map_err(|e| err(format!("request task failed: {e}")))?;
        }
        Ok(())
    }
}

struct Run<'a> {
    cfg: &'a Config,
    template: &'a TableTemplate,
    tables: &'a Tables,
    states: HashMap<String, TableState>,
    /// Tables whose creation kept failing, until when events for them are
    /// reported `Errored` at once.
    unreachable: HashMap<String, Instant>,
    inflight: JoinSet<()>,
    shared: Shared,
}

impl Run<'_> {
    /// Routes, encodes and queues one event; sends full batches.
    async fn accept(&mut self, event: Event) -> Result<(), ComponentError> {
        let (table, day) = table::route(self.template, self.cfg.partitioning, &event.log);
        if !self.states.contains_key(&table) {
            // A table that just failed all its retries: fail fast for a
            // while instead of retrying for every event.
            if self
                .unreachable
                .get(&table)
                .is_some_and(|t| Instant::now() < *t)
            {
                self.shared.stats.errored(1);
                event.finalize(EventStatus::Errored);
                return Ok(());
            }
            match self.lookup(&table).await {
                Ok(found) => {
                    self.states.insert(
                        table.clone(),
                        TableState {
                            exists: found.is_some(),
                            schema: found.unwrap_or_else(Schema::logging),
                            dirty: false,
                            day,
                            pending: Pending::default(),
                        },
                    );
                }
                Err(ApiError::Fatal(m)) => {
                    self.dead_letter(event, format!("bigquery table {table}: {m}"))
                        .await;
                    return Ok(());
                }
                Err(ApiError::Retriable(m) | ApiError::NotApplied(m)) => {
                    tracing::warn!(component = %self.shared.name, table, error = %m,
                        "BigQuery table not reachable; the event is reported as not delivered");
                    self.unreachable
                        .insert(table.clone(), Instant::now() + Duration::from_secs(10));
                    self.shared.stats.errored(1);
                    event.finalize(EventStatus::Errored);
                    return Ok(());
                }
            }
        }
        let st = self.states.get_mut(&table).expect("inserted above");
        match encode_row(event, &mut st.schema, self.cfg, &mut st.dirty) {
            Ok(row) => {
                let len = row.wire_len();
                if st.pending.bytes + len + BODY_HEAD.len() + BODY_TAIL.len()
                    > self.cfg.batch_max_bytes
                {
                    self.dispatch(&table).await?;
                }
                let Some(st) = self.states.get_mut(&table) else {
                    // Creating the table kept failing in that dispatch and
                    // its state was dropped: the source sends this again.
                    self.shared.stats.errored(1);
                    row.event.finalize(EventStatus::Errored);
                    return Ok(());
                };
                st.pending.since.get_or_insert_with(Instant::now);
                st.pending.bytes += len;
                st.pending.rows.push(row);
                if st.pending.rows.len() >= self.cfg.batch_max_rows {
                    self.dispatch(&table).await?;
                }
            }
            Err((event, reason)) => self.dead_letter(event, reason).await,
        }
        Ok(())
    }

    async fn dead_letter(&self, event: Event, reason: String) {
        self.shared.stats.errored(1);
        self.shared
            .dead_letter
            .send(&self.shared.name, event, reason)
            .await;
    }

    /// `tables.get` with retries on transient failures.
    async fn lookup(&self, table: &str) -> Result<Option<Schema>, ApiError> {
        let tables = self.tables;
        retrying(
            &self.shared,
            table,
            "BigQuery table call failed; retrying",
            || tables.lookup(table),
        )
        .await
    }

    /// Creates the table with the working schema (the columns its rows need
    /// so far), with retries on transient failures, and checks the result.
    async fn create(&mut self, table: &str) -> Result<(), ApiError> {
        let st = self.states.get(table).expect("create of a known table");
        let (asked, day) = (st.schema.clone(), st.day);
        let tables = self.tables;
        let got = retrying(
            &self.shared,
            table,
            "BigQuery table creation failed; retrying",
            || tables.create(table, day, &asked),
        )
        .await?;
        let st = self.states.get_mut(table).expect("create of a known table");
        st.exists = true;
        // Another writer's table lacks some of ours: the patch adds them.
        st.dirty |= !schema::missing_columns(&asked.to_bq(), &got).is_empty();
        st.schema.merge_from(&Schema::from_bq(&got));
        Ok(())
    }

    /// Tables found missing by an insert (deleted, expired shard) are
    /// created again with the working schema, so in-flight retries land.
    async fn recreate_missing(&mut self) {
        let missing: Vec<String> = {
            let mut m = self
                .shared
                .missing
                .lock()
                .expect("never poisoned: no panics while held");
            m.drain().collect()
        };
        for table in missing {
            if !self.states.contains_key(&table) {
                continue;
            }
            if let Some(st) = self.states.get_mut(&table) {
                st.exists = false;
            }
            match self.prepare(&table).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(component = %self.shared.name, table, error = %e,
                        "could not recreate a missing BigQuery table");
                }
            }
        }
    }

    /// Sends every batch older than `batch_timeout_ms` (all, if `all`).
    async fn flush(&mut self, all: bool) -> Result<(), ComponentError> {
        let timeout = Duration::from_millis(self.cfg.batch_timeout_ms);
        let due: Vec<String> = self
            .states
            .iter()
            .filter(|(_, s)| {
                !s.pending.rows.is_empty()
                    && (all || s.pending.since.is_some_and(|t| t.elapsed() >= timeout))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for t in due {
            self.dispatch(&t).await?;
        }
        Ok(())
    }

    /// Makes the table hold the columns its pending rows need (created
    /// with them, or patched), then starts a request task for those rows
    /// (waiting for a free slot first).
    async fn dispatch(&mut self, table: &str) -> Result<(), ComponentError> {
        if let Err(reason) = self.prepare(table).await {
            let st = self
                .states
                .get_mut(table)
                .expect("dispatch of a known table");
            let rows = std::mem::take(&mut st.pending.rows);
            st.pending = Pending::default();
            if matches!(reason, ApiError::Retriable(_)) && !st.exists {
                // Creation kept failing: fail fast for a while, then look
                // the table up again.
                self.states.remove(table);
                self.unreachable
                    .insert(table.to_string(), Instant::now() + Duration::from_secs(10));
            }
            for r in rows {
                match &reason {
                    ApiError::Fatal(m) => {
                        self.dead_letter(r.event, format!("bigquery table {table}: {m}"))
                            .await
                    }
                    ApiError::Retriable(_) | ApiError::NotApplied(_) => {
                        self.shared.stats.errored(1);
                        r.event.finalize(EventStatus::Errored);
                    }
                }
            }
            return Ok(());
        }
        let st = self
            .states
            .get_mut(table)
            .expect("dispatch of a known table");
        let pending = std::mem::take(&mut st.pending);
        if pending.rows.is_empty() {
            return Ok(());
        }
        while self.inflight.len() >= self.cfg.concurrency {
            if let Some(done) = self.inflight.join_next().await {
                done.map_err(|e| {
                    ComponentError::new(
                        format!("sink {}", self.shared.name),
                        format!("request task failed: {e}"),
                    )
                })?;
            }
        }
        let shared = self.shared.clone();
        let table = table.to_string();
        self.inflight
            .spawn(async move { deliver(shared, table, pending.rows).await });
        Ok(())
    }

    /// Creates the table if it does not exist yet, then patches it if rows
    /// added columns since.
    async fn prepare(&mut self, table: &str) -> Result<(), ApiError> {
        if !self.states.get(table).is_some_and(|s| s.exists) {
            self.create(table).await?;
        }
        if self.states.get(table).is_some_and(|s| s.dirty) {
            self.patch(table).await?;
        }
        Ok(())
    }

    /// Sends the working schema with `tables.patch` and checks that the
    /// table BigQuery answers with holds every column asked for. When it
    /// does not, the rows waiting are not acknowledged (counted as a failed
    /// request, the sink unready) and the working schema falls back to what
    /// BigQuery has, so the next rows that need the columns ask again.
    async fn patch(&mut self, table: &str) -> Result<(), ApiError> {
        let st = self.states.get(table).expect("patch of a known table");
        let asked = st.schema.clone();
        let tables = self.tables;
        let result = retrying(
            &self.shared,
            table,
            "BigQuery schema update failed; retrying",
            || tables.patch(table, &asked),
        )
        .await;
        match result {
            Ok(got) => {
                let missing = schema::missing_columns(&asked.to_bq(), &got);
                let st = self.states.get_mut(table).expect("patch of a known table");
                st.dirty = false;
                if missing.is_empty() {
                    // Another writer may have added columns meanwhile.
                    st.schema.merge_from(&Schema::from_bq(&got));
                    tracing::debug!(component = %self.shared.name, table, columns = st.schema.columns,
                        "patched BigQuery table schema");
                    return Ok(());
                }
                st.schema = Schema::from_bq(&got);
                self.shared.telemetry.sink_request_failed(&self.shared.name);
                let m = format!(
                    "tables.patch answered without {} of the columns asked for ({}): the rows waiting are not acknowledged",
                    missing.len(),
                    list_some(&missing)
                );
                tracing::error!(component = %self.shared.name, table, error = %m,
                    "BigQuery did not apply the schema update");
                Err(ApiError::NotApplied(m))
            }
            Err(ApiError::Fatal(m)) => {
                // Start again from what BigQuery has.
                if let Ok(remote) = self.tables.fetch(table).await {
                    let st = self.states.get_mut(table).expect("patch of a known table");
                    st.schema = remote;
                    st.dirty = false;
                }
                Err(ApiError::Fatal(format!("schema update: {m}")))
            }
            Err(e) => Err(e),
        }
    }
}

/// Up to five names, then how many more.
fn list_some(names: &[String]) -> String {
    let mut s = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 5 {
        s.push_str(&format!(" and {} more", names.len() - 5));
    }
    s
}

/// Encodes `event` as a row against its table's working schema, with the
/// checks every row passes before it may be sent: the encoder's (type
/// conflicts; unknown fields under `schema_update = "reject"`) and the size
/// of one insertAll request. The live sink and the dry-run writer both call
/// this, so a dry run refuses exactly the rows the live sink would. Sets
/// `dirty` when the schema gained columns (even if the row is then refused:
/// the column is in the working schema either way). A refused event comes
/// back with the dead-letter reason.
pub(crate) fn encode_row(
    event: Event,
    schema: &mut Schema,
    cfg: &Config,
    dirty: &mut bool,
) -> Result<Row, (Event, String)> {
    let add = cfg.schema_update == SchemaUpdate::AddFields;
    let mut json = Vec::with_capacity(event.size as usize + 256);
    match encoder::encode(&event.log, schema, add, &mut json) {
        Ok(enc) => {
            *dirty |= enc.added_fields;
            let row = Row { event, json };
            let len = row.wire_len();
            if len + BODY_HEAD.len() + BODY_TAIL.len() > cfg.batch_max_bytes {
                let reason = format!(
                    "row is {len} bytes, more than batch_max_bytes ({})",
                    cfg.batch_max_bytes
                );
                return Err((row.event, reason));
            }
            Ok(row)
        }
        Err(e) => Err((event, format!("bigquery: {e}"))),
    }
}
