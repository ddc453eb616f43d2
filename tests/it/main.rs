//! The integration test binary: one binary for every end-to-end test
//! (faster to build than one per file). Each module drives the real
//! `sluice` binary or the library against fixtures and, where an issue
//! says so, real services on 127.0.0.1 started by `scripts/test-services.sh`.

mod support;

mod alerting;
mod architecture;
mod archive;
mod bigquery;
mod brokers;
mod browser;
mod config_cli;
mod deploy;
mod dry_run;
mod dry_run_offline;
mod durability;
mod file_source;
mod gcs_xml_server;
mod kafka;
mod log_metrics;
mod node_metadata;
mod pubsub;
mod reload;
mod report;
