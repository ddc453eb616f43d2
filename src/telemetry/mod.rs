//! sluice's own telemetry: per-component counters, redaction counts, the
//! dead-letter count, and the process's logs.
//!
//! One place records everything so `summary.json` (dry-run) and the
//! Prometheus endpoint (`sluice run`) can never disagree. Logs and metric
//! labels carry component names, kinds and counts, never event content.

pub(crate) mod exporter;
mod extras;
pub mod logging;
pub(crate) mod outputs;
mod sample;
pub(crate) mod server;
mod stats;

pub(crate) use exporter::{is_internal_name, record_request_latency, Exporter};
pub(crate) use extras::DerivedMetrics;
pub(crate) use extras::ReloadOutcome;
pub(crate) use sample::{Sampled, SampledSpan, Sampler};
pub use stats::{ComponentStats, StatsSnapshot, Telemetry};
