//! The Prometheus exposition: sluice's internal metrics through the
//! `metrics` facade and `metrics-exporter-prometheus`, followed by the
//! derived log-based metrics, as one text document.
//!
//! Component counters live in [`Telemetry`] (atomics shared with
//! `summary.json`); at each scrape they are copied into the recorder as
//! absolute values, so the two views can never disagree. Only the sink
//! request latency is recorded through the facade directly
//! ([`record_request_latency`]), because a histogram needs every sample.
//!
//! Every family is described (HELP) so `promtool check metrics` is clean.

use std::sync::Arc;

use metrics::Unit;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::Telemetry;

const RECEIVED: &str = "component_received_events_total";
const SENT: &str = "component_sent_events_total";
const DISCARDED: &str = "component_discarded_events_total";
const ERRORS: &str = "component_errors_total";
const RECEIVED_BYTES: &str = "component_received_event_bytes_total";
const SENT_BYTES: &str = "component_sent_event_bytes_total";
const DEAD_LETTERS: &str = "dead_letter_events_total";
const DEAD_LETTER_WRITE_ERRORS: &str = "dead_letter_write_errors_total";
const REDACTIONS: &str = "redactions_total";
const OVERFLOW: &str = "log_metrics_overflow_events_total";
const SOURCE_LAG: &str = "source_lag_bytes";
const SOURCE_LAG_MESSAGES: &str = "source_lag_messages";
const BUFFER: &str = "component_buffer_batches";
const BUFFER_MAX: &str = "component_buffer_max_batches";
const READY: &str = "pipeline_ready";
const STATE_WRITE_ERRORS: &str = "source_checkpoint_write_errors_total";
const STATE_CORRUPT: &str = "source_checkpoint_corrupt_total";
const INVALID_UTF8: &str = "source_invalid_utf8_lines_total";
const CLOSED_EARLY: &str = "archive_objects_closed_early_total";
const RELOADS: &str = "config_reloads_total";
const SINK_REQUEST_FAILURES: &str = "sink_request_failures_total";
const LAST_RELOAD_OK: &str = "config_last_reload_successful";
/// Sink request latency, recorded by [`record_request_latency`].
pub(crate) const REQUEST_DURATION: &str = "component_request_duration_seconds";

/// Every internal family name; derived metrics may not reuse them.
const INTERNAL: &[&str] = &[
    RECEIVED,
    SENT,
    DISCARDED,
    ERRORS,
    RECEIVED_BYTES,
    SENT_BYTES,
    DEAD_LETTERS,
    DEAD_LETTER_WRITE_ERRORS,
    REDACTIONS,
    OVERFLOW,
    SOURCE_LAG,
    SOURCE_LAG_MESSAGES,
    BUFFER,
    BUFFER_MAX,
    READY,
    STATE_WRITE_ERRORS,
    STATE_CORRUPT,
    INVALID_UTF8,
    CLOSED_EARLY,
    REQUEST_DURATION,
    RELOADS,
    SINK_REQUEST_FAILURES,
    LAST_RELOAD_OK,
];

/// True when `name` (or its histogram series) is an internal metric.
pub(crate) fn is_internal_name(name: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    INTERNAL.contains(&name) || INTERNAL.contains(&base)
}

/// Bucket bounds of the request latency histogram, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Records one sink request's duration (call once per request, e.g. per
/// BigQuery insert or GCS upload). A no-op unless `sluice run` installed
/// the exporter, so sinks may call it unconditionally.
pub(crate) fn record_request_latency(component: &str, seconds: f64) {
    metrics::histogram!(REQUEST_DURATION, "component_id" => component.to_string()).record(seconds);
}

/// Renders `/metrics`.
pub(crate) struct Exporter {
    handle: PrometheusHandle,
    /// Set when another recorder was already global (a second exporter in
    /// one process, as in tests): the sync then goes to this local one.
    local: Option<PrometheusRecorder>,
    telemetry: Arc<Telemetry>,
}

impl Exporter {
    /// Installs the global recorder (the first call in a process) and
    /// describes every internal metric.
    pub(crate) fn install(telemetry: Arc<Telemetry>) -> Exporter {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), LATENCY_BUCKETS)
                .expect("the latency bucket list is not empty")
        };
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        let local = match metrics::set_global_recorder(recorder) {
            Ok(()) => None,
            Err(_) => {
                tracing::warn!("a metrics recorder is already installed; sink request latency will not be exported by this endpoint");
                let r = builder().build_recorder();
                Some(r)
            }
        };
        let handle = match &local {
            Some(r) => r.handle(),
            None => handle,
        };
        let e = Exporter {
            handle,
            local,
            telemetry,
        };
        e.with_recorder(describe);
        e
    }

    pub(crate) fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    fn with_recorder(&self, f: impl FnOnce()) {
        match &self.local {
            Some(r) => metrics::with_local_recorder(r, f),
            None => f(),
        }
    }

    /// The full exposition: internal metrics, then derived metrics.
    pub(crate) fn render(&self) -> String {
        self.with_recorder(|| sync(&self.telemetry));
        self.handle.run_upkeep();
        let mut out = self.handle.render();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        self.telemetry.render_derived(&mut out);
        out
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(RECEIVED, Unit::Count, "Events a component received");
    describe_counter!(
        SENT,
        Unit::Count,
        "Events a component sent downstream (or wrote, for a sink)"
    );
    describe_counter!(
        DISCARDED,
        Unit::Count,
        "Events a component dropped on purpose (filtered out)"
    );
    describe_counter!(
        ERRORS,
        Unit::Count,
        "Events a component failed on or sent to the dead-letter output"
    );
    describe_counter!(
        RECEIVED_BYTES,
        Unit::Bytes,
        "Input bytes of the events a component received"
    );
    describe_counter!(
        SENT_BYTES,
        Unit::Bytes,
        "Input bytes of the events a component sent"
    );
    describe_counter!(
        DEAD_LETTERS,
        Unit::Count,
        "Records written to the dead-letter output"
    );
    describe_counter!(
        DEAD_LETTER_WRITE_ERRORS,
        Unit::Count,
        "Failed appends to the dead-letter file; each is retried, holding its events' acknowledgement"
    );
    describe_counter!(REDACTIONS, Unit::Count, "Values redacted, by detector");
    describe_counter!(
        OVERFLOW,
        Unit::Count,
        "Entries folded into a log-based metric's __overflow__ series by the cardinality guard"
    );
    describe_gauge!(
        SOURCE_LAG,
        Unit::Bytes,
        "How far a source is behind its input, in bytes"
    );
    describe_gauge!(
        SOURCE_LAG_MESSAGES,
        Unit::Count,
        "Messages a broker source has received and not yet acknowledged or committed (Kafka: high watermark minus committed offset; Pub/Sub: outstanding)"
    );
    describe_gauge!(
        BUFFER,
        Unit::Count,
        "Batches queued in a component's input channel"
    );
    describe_gauge!(
        BUFFER_MAX,
        Unit::Count,
        "Capacity of a component's input channel, in batches"
    );
    describe_gauge!(
        READY,
        Unit::Count,
        "1 when every source and sink task is running and every component that reports its own readiness (the file source, once its checkpoints are saved) is ready"
    );
    describe_counter!(
        STATE_WRITE_ERRORS,
        Unit::Count,
        "Failed attempts to save a source's checkpoints (the source is not ready while they fail)"
    );
    describe_counter!(
        STATE_CORRUPT,
        Unit::Count,
        "Checkpoint files found unreadable, moved aside and started without"
    );
    describe_counter!(
        INVALID_UTF8,
        Unit::Count,
        "Text lines that were not valid UTF-8 (replaced with U+FFFD or dead-lettered, per invalid_utf8)"
    );
    describe_counter!(
        CLOSED_EARLY,
        Unit::Count,
        "Archive objects closed before batch_max_bytes or batch_max_age_secs to keep the open ones under max_buffered_bytes"
    );
    describe_counter!(
        SINK_REQUEST_FAILURES,
        Unit::Count,
        "Requests a sink's destination failed or did not answer, each retried; the sink is not ready until one succeeds"
    );
    describe_counter!(
        RELOADS,
        Unit::Count,
        "Requests to reload the pipeline (SIGHUP, --watch-config), by outcome: applied, or rejected with the previous pipeline kept"
    );
    describe_gauge!(
        LAST_RELOAD_OK,
        "1 unless the last reload request was rejected"
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Duration of a sink's requests to its destination"
    );
}

/// Copies telemetry into the recorder as absolute values.
fn sync(t: &Telemetry) {
    for (name, s) in t.components() {
        let labels = [
            ("component_id", name),
            ("component_kind", s.kind.to_string()),
            ("component_type", s.type_name.to_string()),
        ];
        metrics::counter!(RECEIVED, &labels).absolute(s.events_in);
        metrics::counter!(SENT, &labels).absolute(s.events_out);
        metrics::counter!(DISCARDED, &labels).absolute(s.dropped);
        metrics::counter!(ERRORS, &labels).absolute(s.errors);
        metrics::counter!(RECEIVED_BYTES, &labels).absolute(s.bytes_in);
        metrics::counter!(SENT_BYTES, &labels).absolute(s.bytes_out);
        if let Some(lag) = s.lag {
            metrics::gauge!(SOURCE_LAG_MESSAGES, "component_id" => labels[0].1.clone())
                .set(lag as f64);
        }
    }
    metrics::counter!(DEAD_LETTERS).absolute(t.dead_letter_count());
    metrics::counter!(DEAD_LETTER_WRITE_ERRORS).absolute(t.dead_letter_write_error_count());
    for (detector, n) in t.redactions() {
        metrics::counter!(REDACTIONS, "detector" => detector).absolute(n);
    }
    for (metric, n) in t.overflow_counts() {
        metrics::counter!(OVERFLOW, "metric" => metric).absolute(n);
    }
    for (component, lag) in t.source_lags() {
        metrics::gauge!(SOURCE_LAG, "component_id" => component).set(lag as f64);
    }
    for (component, used, cap) in t.channel_fill() {
        metrics::gauge!(BUFFER, "component_id" => component.clone()).set(used as f64);
        metrics::gauge!(BUFFER_MAX, "component_id" => component).set(cap as f64);
    }
    for (component, n) in t.state_write_errors() {
        metrics::counter!(STATE_WRITE_ERRORS, "component_id" => component).absolute(n);
    }
    for (component, n) in t.state_corrupt_counts() {
        metrics::counter!(STATE_CORRUPT, "component_id" => component).absolute(n);
    }
    for (component, n) in t.invalid_utf8_counts() {
        metrics::counter!(INVALID_UTF8, "component_id" => component).absolute(n);
    }
    for (component, n) in t.archive_closed_early_counts() {
        metrics::counter!(CLOSED_EARLY, "component_id" => component).absolute(n);
    }
    for (component, n) in t.sink_request_failures() {
        metrics::counter!(SINK_REQUEST_FAILURES, "component_id" => component).absolute(n);
    }
    let (reloads, last_ok) = t.reloads();
    for (outcome, n) in reloads {
        metrics::counter!(RELOADS, "outcome" => outcome.as_str()).absolute(n);
    }
    metrics::gauge!(LAST_RELOAD_OK).set(if last_ok { 1.0 } else { 0.0 });
    metrics::gauge!(READY).set(if t.is_ready() { 1.0 } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_internal_and_derived_metrics() {
        let t = Telemetry::new();
        let st = t.component("in", "source", "stdin");
        st.received(3, 300);
        st.sent(3, 300);
        let broker = t.component("bus", "source", "kafka");
        broker.set_lag(7);
        t.add_redactions([("email", 2)]);
        t.set_source_lag("in", 42);
        t.watch_channel("out", Box::new(|| (1, 4)));
        let e = Exporter::install(t.clone());
        record_request_latency("out", 0.2);
        let text = e.render();
        for want in [
            "component_received_events_total{component_id=\"in\",component_kind=\"source\",component_type=\"stdin\"} 3",
            "component_sent_event_bytes_total{component_id=\"in\",component_kind=\"source\",component_type=\"stdin\"} 300",
            "redactions_total{detector=\"email\"} 2",
            "source_lag_bytes{component_id=\"in\"} 42",
            "source_lag_messages{component_id=\"bus\"} 7",
            "component_buffer_batches{component_id=\"out\"} 1",
            "dead_letter_events_total 0",
            "pipeline_ready 0",
            "# HELP component_errors_total",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        assert!(is_internal_name("component_errors_total"));
        assert!(is_internal_name(
            "component_request_duration_seconds_bucket"
        ));
        assert!(!is_internal_name("http_errors_total"));
    }

    /// A derived metric may not take the name of a family sluice writes
    /// itself: every family in a scrape that exercised them all is known
    /// as internal (the last three were missing, so a log-based metric
    /// could have been named `sink_request_failures_total`).
    #[test]
    fn every_family_sluice_writes_is_reserved() {
        let t = Telemetry::new();
        let st = t.component("out", "sink", "bigquery");
        st.received(1, 10);
        st.errored(1);
        t.set_source_lag("out", 1);
        t.watch_channel("out", Box::new(|| (1, 4)));
        t.sink_request_failed("out");
        t.record_reload(crate::telemetry::ReloadOutcome::Applied);
        let e = Exporter::install(t.clone());
        record_request_latency("out", 0.2);
        let text = e.render();
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        for want in [
            "sink_request_failures_total",
            "config_reloads_total",
            "config_last_reload_successful",
        ] {
            assert!(
                families.contains(&want),
                "{want} not in the scrape:\n{text}"
            );
        }
        for f in families {
            assert!(
                is_internal_name(f),
                "{f} is written by sluice but not reserved"
            );
        }
    }
}
