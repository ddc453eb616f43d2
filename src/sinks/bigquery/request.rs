//! What runs against BigQuery outside the sink's main loop: one insertAll
//! request task per batch (`deliver`, which settles every row it carries)
//! and the retry of table calls (`retrying`), with what they share.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::encoder::{append_row, BODY_HEAD, BODY_TAIL};
use super::service::{self, Api, SendError, RETRY};
use super::sink::Row;
use super::table::ApiError;
use crate::component::DeadLetterSender;
use crate::event::EventStatus;
use crate::telemetry::ComponentStats;

/// What each request task needs.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) api: Arc<Api>,
    pub(super) name: Arc<str>,
    pub(super) dead_letter: DeadLetterSender,
    pub(super) stats: Arc<ComponentStats>,
    pub(super) max_retry: Duration,
    /// Tables an insert found missing; the main loop creates them again.
    pub(super) missing: Arc<Mutex<HashSet<String>>>,
    pub(super) telemetry: Arc<crate::telemetry::Telemetry>,
}

/// Runs a table call until it succeeds, fails for good, or retrying for
/// `max_retry_secs` did not help; each transient failure is counted and
/// makes the sink unready.
pub(super) async fn retrying<T, F, Fut>(
    shared: &Shared,
    table: &str,
    warning: &str,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut backoff = RETRY.within(shared.max_retry);
    loop {
        match call().await {
            Err(ApiError::Retriable(m)) => match backoff.next_delay() {
                Some(d) => {
                    shared.telemetry.sink_request_failed(&shared.name);
                    tracing::warn!(component = %shared.name, table, error = %m, "{warning}");
                    tokio::time::sleep(d).await;
                }
                None => return Err(ApiError::Retriable(m)),
            },
            other => return other,
        }
    }
}

/// Builds an insertAll body from rows.
pub(crate) fn body(rows: &[Row]) -> bytes::Bytes {
    let n: usize = rows.iter().map(Row::wire_len).sum();
    let mut b = Vec::with_capacity(n + BODY_HEAD.len() + BODY_TAIL.len());
    b.extend_from_slice(BODY_HEAD);
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        append_row(&mut b, r.event.insert_id(), &r.json);
    }
    b.extend_from_slice(BODY_TAIL);
    bytes::Bytes::from(b)
}

/// Sends rows until each has an outcome; settles every event.
pub(super) async fn deliver(shared: Shared, table: String, rows: Vec<Row>) {
    let mut backoff = RETRY.within(shared.max_retry);
    // Work queue: a batch BigQuery finds too large is split in two.
    let mut queue: Vec<Vec<Row>> = vec![rows];
    while let Some(rows) = queue.pop() {
        let mut rows = rows;
        loop {
            let started = Instant::now();
            let n = rows.len();
            let body = body(&rows);
            let body_len = body.len() as u64;
            let result = shared.api.insert_all(&table, body).await;
            crate::telemetry::record_request_latency(&shared.name, started.elapsed().as_secs_f64());
            tracing::debug!(component = %shared.name, table = %table, rows = n, bytes = body_len,
                latency_ms = started.elapsed().as_millis() as u64, "insertAll request");
            let retry: Vec<Row> = match result {
                Ok(failures) => {
                    shared.telemetry.sink_request_succeeded(&shared.name);
                    let mut by_index: HashMap<usize, service::RowFailure> =
                        failures.into_iter().map(|f| (f.index, f)).collect();
                    let mut retry = Vec::new();
                    let mut sent = 0u64;
                    let mut sent_bytes = 0u64;
                    for (i, r) in rows.into_iter().enumerate() {
                        match by_index.remove(&i) {
                            None => {
                                sent += 1;
                                sent_bytes += r.json.len() as u64;
                                r.event.finalize(EventStatus::Delivered);
                            }
                            Some(f) if f.retriable => retry.push(r),
                            Some(f) => {
                                shared.stats.errored(1);
                                shared
                                    .dead_letter
                                    .send(&shared.name, r.event, f.reason)
                                    .await;
                            }
                        }
                    }
                    shared.stats.sent(sent, sent_bytes);
                    retry
                }
                Err(SendError::TooLarge) if rows.len() > 1 => {
                    let tail = rows.split_off(rows.len() / 2);
                    queue.push(tail);
                    queue.push(rows);
                    break;
                }
                Err(SendError::TooLarge) => {
                    for r in rows {
                        shared.stats.errored(1);
                        shared
                            .dead_letter
                            .send(
                                &shared.name,
                                r.event,
                                "bigquery: the row is too large for insertAll",
                            )
                            .await;
                    }
                    Vec::new()
                }
                Err(SendError::Fatal(m)) => {
                    for r in rows {
                        shared.stats.errored(1);
                        shared
                            .dead_letter
                            .send(&shared.name, r.event, format!("bigquery insertAll: {m}"))
                            .await;
                    }
                    Vec::new()
                }
                Err(SendError::NotFound) => {
                    shared
                        .missing
                        .lock()
                        .expect("never poisoned: no panics while held")
                        .insert(table.clone());
                    tracing::warn!(component = %shared.name, table = %table, "BigQuery table not found; it will be created again");
                    rows
                }
                Err(SendError::Retriable(m)) => {
                    shared.telemetry.sink_request_failed(&shared.name);
                    tracing::warn!(component = %shared.name, table = %table, rows = n, error = %m,
                        "insertAll failed; retrying");
                    rows
                }
            };
            if retry.is_empty() {
                break;
            }
            match backoff.next_delay() {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    rows = retry;
                }
                None => {
                    tracing::error!(component = %shared.name, table = %table, rows = retry.len(),
                        "insertAll kept failing past max_retry_secs; the rows are reported as not delivered");
                    shared.stats.errored(retry.len() as u64);
                    for r in retry {
                        r.event.finalize(EventStatus::Errored);
                    }
                    break;
                }
            }
        }
    }
}
