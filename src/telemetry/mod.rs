//! sluice's own telemetry: per-component counters, redaction counts, the
//! dead-letter count, and the process's logs.
//!
//! One place records everything so `summary.json` (dry-run) and the
//! Prometheus endpoint (`sluice run`) can never disagree. Logs and metric
//! labels carry component names, kinds and counts, never event content.

pub mod logging;
mod stats;

pub use stats::{ComponentStats, StatsSnapshot, Telemetry};
