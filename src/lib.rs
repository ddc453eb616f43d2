//! sluice: a log pipeline for GKE that redacts personal data before
//! anything leaves the node.
//!
//! Sources -> transforms -> sinks, built from a TOML pipeline file. See
//! ARCHITECTURE.md for the map of this crate and its invariants.

pub mod audit;
pub(crate) mod backoff;
pub mod commands;
pub mod component;
pub mod config;
pub mod decode;
pub mod event;
pub mod gcs;
pub mod logging_query;
pub mod node;
pub(crate) mod report;
pub mod sinks;
pub mod sources;
pub mod telemetry;
pub mod topology;
pub mod transforms;

/// The version `sluice --version` prints: `SLUICE_BUILD_VERSION` at compile
/// time (the container build passes its image tag), else Cargo's.
pub const VERSION: &str = match option_env!("SLUICE_BUILD_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};
