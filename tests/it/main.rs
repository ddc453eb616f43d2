//! The integration test binary: one binary for every end-to-end test
//! (faster to build than one per file). Each module drives the real
//! `sluice` binary or the library against fixtures and, where an issue
//! says so, real services on 127.0.0.1 started by `scripts/test-services.sh`.

mod support;

mod brokers;
mod config_cli;
mod kafka;
mod pubsub;
