//! What `/metrics` and `/health/ready` need beyond the component counters:
//! derived (log-based) metrics, their overflow counts, source lag, channel
//! fill, and the readiness registry.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Telemetry;

/// Metrics rendered as-is into the Prometheus text output (the
/// `log_metrics` transform's registries).
pub(crate) trait DerivedMetrics: Send + Sync {
    /// Appends complete families (HELP, TYPE, samples).
    fn render(&self, out: &mut String);
    /// The family names it renders, to refuse collisions.
    fn names(&self) -> Vec<String>;
}

/// Current and maximum fill of a channel, in batches.
pub(crate) type FillProbe = Box<dyn Fn() -> (usize, usize) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Extras {
    derived: Mutex<Vec<(String, Arc<dyn DerivedMetrics>)>>,
    overflow: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    source_lag: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    channels: Mutex<Vec<(String, FillProbe)>>,
    readiness: Mutex<Readiness>,
    /// Failures to save a source's state (checkpoints), by source.
    state_write_errors: Mutex<BTreeMap<String, u64>>,
    /// State files found unreadable and moved aside, by source.
    state_corrupt: Mutex<BTreeMap<String, u64>>,
    /// Text lines that were not valid UTF-8, by source.
    invalid_utf8: Mutex<BTreeMap<String, u64>>,
    /// Archive objects closed before their time to bound memory, by sink.
    archive_closed_early: Mutex<BTreeMap<String, u64>>,
    /// Configuration reloads by outcome, and whether the last one applied.
    reloads: Mutex<Reloads>,
    /// Requests a sink's destination failed (each retried), by sink.
    sink_request_failures: Mutex<BTreeMap<String, u64>>,
}

/// How a request to reload the pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReloadOutcome {
    /// The new pipeline is running.
    Applied,
    /// The new pipeline was refused; the previous one kept running.
    Rejected,
}

impl ReloadOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Applied => "applied",
            ReloadOutcome::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Default)]
struct Reloads {
    applied: u64,
    rejected: u64,
    last: Option<ReloadOutcome>,
}

#[derive(Default)]
struct Readiness {
    expected: BTreeSet<String>,
    /// Components that report readiness themselves (`mark_ready`) instead
    /// of being ready as soon as their task starts.
    deferred: BTreeSet<String>,
    ready: BTreeSet<String>,
}

impl fmt::Debug for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extras").finish_non_exhaustive()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Telemetry holds plain counters; a panic elsewhere leaves them usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Telemetry {
    /// Registers a component's derived metrics for `/metrics` and
    /// `metrics.prom`. Refuses a family name another component already
    /// renders, so the text output never repeats a family.
    pub(crate) fn add_derived_metrics(
        &self,
        component: &str,
        metrics: Arc<dyn DerivedMetrics>,
    ) -> Result<(), String> {
        let mut all = lock(&self.extras.derived);
        let new = metrics.names();
        for (other, m) in all.iter() {
            if let Some(n) = m.names().iter().find(|n| new.contains(n)) {
                return Err(format!(
                    "metric `{n}` is already defined by transform `{other}`"
                ));
            }
        }
        all.push((component.to_string(), metrics));
        Ok(())
    }

    /// Appends every derived metric, Prometheus text format.
    pub(crate) fn render_derived(&self, out: &mut String) {
        for (_, m) in lock(&self.extras.derived).iter() {
            m.render(out);
        }
    }

    /// The shared count of entries folded into a derived metric's
    /// `__overflow__` series.
    pub(crate) fn log_metric_overflow(&self, metric: &str) -> Arc<AtomicU64> {
        lock(&self.extras.overflow)
            .entry(metric.to_string())
            .or_default()
            .clone()
    }

    pub(crate) fn overflow_counts(&self) -> Vec<(String, u64)> {
        lock(&self.extras.overflow)
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }

    /// How far a source is behind its input, in bytes (file: size minus
    /// read offset, summed over files).
    pub(crate) fn set_source_lag(&self, component: &str, bytes: u64) {
        let mut map = lock(&self.extras.source_lag);
        match map.get(component) {
            Some(g) => g.store(bytes, Ordering::Relaxed),
            None => {
                map.insert(component.to_string(), Arc::new(AtomicU64::new(bytes)));
            }
        }
    }

    /// Every source's lag in bytes, by source name.
    pub(crate) fn source_lags(&self) -> std::collections::BTreeMap<String, u64> {
        lock(&self.extras.source_lag)
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }

    /// Registers a probe of the input channel of `consumer`.
    pub(crate) fn watch_channel(&self, consumer: &str, probe: FillProbe) {
        lock(&self.extras.channels).push((consumer.to_string(), probe));
    }

    /// `(consumer, queued batches, capacity)` for every watched channel.
    pub(crate) fn channel_fill(&self) -> Vec<(String, usize, usize)> {
        lock(&self.extras.channels)
            .iter()
            .map(|(n, p)| {
                let (used, cap) = p();
                (n.clone(), used, cap)
            })
            .collect()
    }

    /// The topology calls this for every source and sink: the pipeline is
    /// ready once each of them is.
    pub(crate) fn expect_ready(&self, component: &str) {
        lock(&self.extras.readiness)
            .expected
            .insert(component.to_string());
    }

    /// Called by a component's `build` when it will call [`mark_ready`]
    /// itself (e.g. a sink, once it has connected). Otherwise a component
    /// is ready as soon as its task is running.
    ///
    /// [`mark_ready`]: Telemetry::mark_ready
    pub(crate) fn defer_ready(&self, component: &str) {
        lock(&self.extras.readiness)
            .deferred
            .insert(component.to_string());
    }

    pub(crate) fn mark_ready(&self, component: &str) {
        lock(&self.extras.readiness)
            .ready
            .insert(component.to_string());
    }

    /// The topology calls this when a component's task starts.
    pub(crate) fn component_started(&self, component: &str) {
        let mut r = lock(&self.extras.readiness);
        if !r.deferred.contains(component) {
            r.ready.insert(component.to_string());
        }
    }

    /// Withdraws readiness (e.g. a source that cannot save its
    /// checkpoints): `/health/ready` fails until `mark_ready` again.
    pub(crate) fn mark_not_ready(&self, component: &str) {
        lock(&self.extras.readiness).ready.remove(component);
    }

    /// Counts one failed attempt to save `component`'s state file.
    pub(crate) fn state_write_failed(&self, component: &str) {
        *lock(&self.extras.state_write_errors)
            .entry(component.to_string())
            .or_default() += 1;
    }

    pub(crate) fn state_write_errors(&self) -> BTreeMap<String, u64> {
        lock(&self.extras.state_write_errors).clone()
    }

    /// Counts a state file of `component` that could not be read and was
    /// moved aside.
    pub(crate) fn state_corrupt(&self, component: &str) {
        *lock(&self.extras.state_corrupt)
            .entry(component.to_string())
            .or_default() += 1;
    }

    pub(crate) fn state_corrupt_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.extras.state_corrupt).clone()
    }

    /// Counts `n` text lines of `component` that were not valid UTF-8.
    pub(crate) fn invalid_utf8(&self, component: &str, n: u64) {
        if n > 0 {
            *lock(&self.extras.invalid_utf8)
                .entry(component.to_string())
                .or_default() += n;
        }
    }

    pub(crate) fn invalid_utf8_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.extras.invalid_utf8).clone()
    }

    /// Counts `n` archive objects `sink` closed early (`max_buffered_bytes`).
    pub(crate) fn archive_closed_early(&self, sink: &str, n: u64) {
        if n > 0 {
            *lock(&self.extras.archive_closed_early)
                .entry(sink.to_string())
                .or_default() += n;
        }
    }

    pub(crate) fn archive_closed_early_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.extras.archive_closed_early).clone()
    }

    /// Counts one failed request to a sink's destination (to be retried)
    /// and withdraws the sink's readiness until [`Telemetry::sink_request_succeeded`]:
    /// an outage shows on `/metrics` and `/health/ready` while it lasts.
    pub(crate) fn sink_request_failed(&self, sink: &str) {
        *lock(&self.extras.sink_request_failures)
            .entry(sink.to_string())
            .or_default() += 1;
        self.mark_not_ready(sink);
    }

    /// A request to a sink's destination succeeded: the sink is ready.
    pub(crate) fn sink_request_succeeded(&self, sink: &str) {
        self.mark_ready(sink);
    }

    pub(crate) fn sink_request_failures(&self) -> BTreeMap<String, u64> {
        lock(&self.extras.sink_request_failures).clone()
    }

    /// Counts a reload request's outcome.
    pub(crate) fn record_reload(&self, outcome: ReloadOutcome) {
        let mut r = lock(&self.extras.reloads);
        match outcome {
            ReloadOutcome::Applied => r.applied += 1,
            ReloadOutcome::Rejected => r.rejected += 1,
        }
        r.last = Some(outcome);
    }

    /// `(outcome, count)` for both outcomes, and whether the last reload
    /// (if any) was applied.
    pub(crate) fn reloads(&self) -> ([(ReloadOutcome, u64); 2], bool) {
        let r = lock(&self.extras.reloads);
        (
            [
                (ReloadOutcome::Applied, r.applied),
                (ReloadOutcome::Rejected, r.rejected),
            ],
            r.last != Some(ReloadOutcome::Rejected),
        )
    }

    /// Forgets what a drained pipeline registered (its derived metrics,
    /// channel probes and readiness) before the next one is built;
    /// counters are kept, so they stay monotonic across a reload.
    pub(crate) fn forget_topology(&self) {
        lock(&self.extras.derived).clear();
        lock(&self.extras.channels).clear();
        *lock(&self.extras.readiness) = Readiness::default();
    }

    /// Ready: at least one component registered and all of them ready.
    pub(crate) fn is_ready(&self) -> bool {
        let r = lock(&self.extras.readiness);
        !r.expected.is_empty() && r.expected.iter().all(|c| r.ready.contains(c))
    }

    /// Components not ready yet (for `/health/ready`'s body).
    pub(crate) fn not_ready(&self) -> Vec<String> {
        let r = lock(&self.extras.readiness);
        r.expected
            .iter()
            .filter(|c| !r.ready.contains(*c))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_waits_for_every_component() {
        let t = Telemetry::new();
        assert!(!t.is_ready(), "nothing registered is not ready");
        t.expect_ready("src");
        t.expect_ready("bq");
        t.defer_ready("bq");
        t.component_started("src");
        t.component_started("bq");
        assert!(!t.is_ready());
        assert_eq!(t.not_ready(), ["bq"]);
        t.mark_ready("bq");
        assert!(t.is_ready());
    }

    #[test]
    fn source_lag_is_a_gauge() {
        let t = Telemetry::new();
        t.set_source_lag("files", 10);
        t.set_source_lag("files", 4);
        assert_eq!(
            t.source_lags().into_iter().collect::<Vec<_>>(),
            vec![("files".to_string(), 4)]
        );
    }
}
