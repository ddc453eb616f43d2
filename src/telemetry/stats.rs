use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Counters of one component. Updated once per batch, not per event.
#[derive(Debug)]
pub struct ComponentStats {
    pub(crate) kind: &'static str,
    pub(crate) type_name: &'static str,
    events_in: AtomicU64,
    events_out: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Messages a broker source has not yet committed/acknowledged
    /// (Kafka: high watermark - committed; Pub/Sub: outstanding). -1: none.
    lag: AtomicI64,
}

/// A point-in-time copy, in the shape `summary.json` documents.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub(crate) type_name: &'static str,
    pub events_in: u64,
    pub events_out: u64,
    pub(crate) dropped: u64,
    pub(crate) errors: u64,
    pub bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// Source lag, for sources that report one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
}

impl ComponentStats {
    fn new(kind: &'static str, type_name: &'static str) -> Self {
        ComponentStats {
            kind,
            type_name,
            events_in: AtomicU64::new(0),
            events_out: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            lag: AtomicI64::new(-1),
        }
    }

    pub(crate) fn received(&self, events: u64, bytes: u64) {
        self.events_in.fetch_add(events, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, events: u64, bytes: u64) {
        self.events_out.fetch_add(events, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Intentionally not forwarded (filtered out).
    pub(crate) fn dropped(&self, events: u64) {
        self.dropped.fetch_add(events, Ordering::Relaxed);
    }

    /// Failed or sent to the dead-letter output.
    pub(crate) fn errored(&self, events: u64) {
        self.errors.fetch_add(events, Ordering::Relaxed);
    }

    /// Sets the source's current lag (a gauge, not a counter).
    pub(crate) fn set_lag(&self, messages: u64) {
        self.lag.store(
            i64::try_from(messages).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn lag(&self) -> Option<u64> {
        u64::try_from(self.lag.load(Ordering::Relaxed)).ok()
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            kind: self.kind,
            type_name: self.type_name,
            events_in: self.events_in.load(Ordering::Relaxed),
            events_out: self.events_out.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            lag: self.lag(),
        }
    }
}

/// Everything the process counts, shared by all components.
#[derive(Debug, Default)]
pub struct Telemetry {
    components: Mutex<BTreeMap<String, Arc<ComponentStats>>>,
    redactions: Mutex<BTreeMap<String, u64>>,
    dead_letters: AtomicU64,
    /// Failed appends to the dead-letter file (each retried).
    dead_letter_write_errors: AtomicU64,
    /// Derived metrics, gauges and readiness (see `extras.rs`).
    pub(super) extras: super::extras::Extras,
    /// What was sent where (see `outputs.rs`).
    pub(super) outputs: Mutex<super::outputs::Outputs>,
    /// The dry-run report's sample of redacted entries, when asked for.
    pub(super) sample: std::sync::OnceLock<Arc<super::sample::Sampler>>,
}

impl Telemetry {
    pub fn new() -> Arc<Telemetry> {
        Arc::new(Telemetry::default())
    }

    /// Registers (or returns) a component's counters.
    pub(crate) fn component(
        &self,
        name: &str,
        kind: &'static str,
        type_name: &'static str,
    ) -> Arc<ComponentStats> {
        let mut map = self.components.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(ComponentStats::new(kind, type_name)))
            .clone()
    }

    /// Adds redaction counts by detector name.
    pub(crate) fn add_redactions<'a>(&self, counts: impl IntoIterator<Item = (&'a str, u64)>) {
        let mut map = self.redactions.lock().unwrap_or_else(|p| p.into_inner());
        for (k, v) in counts {
            if v > 0 {
                *map.entry(k.to_string()).or_default() += v;
            }
        }
    }

    pub(crate) fn dead_lettered(&self, n: u64) {
        self.dead_letters.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn dead_letter_count(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }

    /// Counts one failed append to the dead-letter file.
    pub(crate) fn dead_letter_write_failed(&self) {
        self.dead_letter_write_errors
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dead_letter_write_error_count(&self) -> u64 {
        self.dead_letter_write_errors.load(Ordering::Relaxed)
    }

    pub fn components(&self) -> BTreeMap<String, StatsSnapshot> {
        let map = self.components.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(k, v)| (k.clone(), v.snapshot())).collect()
    }

    pub(crate) fn redactions(&self) -> BTreeMap<String, u64> {
        self.redactions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
