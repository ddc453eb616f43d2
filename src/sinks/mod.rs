//! Sinks: where events leave the pipeline. One module per `type`.
//!
//! A sink is an async loop: take a batch, encode it, write it, and settle
//! each event's finalizer with the outcome once the write is durable
//! (flushed to the file, accepted by BigQuery, object finalized). Rows a
//! destination refuses go to the dead-letter output, which counts as
//! delivered. A sink returns when its input ends, after flushing.

pub(crate) mod append;
pub mod bigquery;
pub(crate) mod blackhole;
pub(crate) mod console;
pub(crate) mod file;
pub mod gcs;

use serde::Deserialize;

use crate::component::FieldError;
use crate::component::Sink;
use crate::component::{BuildContext, BuildError};

/// `[sinks.NAME]` tables, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SinkConfig {
    Bigquery(bigquery::Config),
    Blackhole(blackhole::Config),
    Console(console::Config),
    File(file::Config),
    Gcs(gcs::Config),
}

impl SinkConfig {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            SinkConfig::Bigquery(_) => "bigquery",
            SinkConfig::Blackhole(_) => "blackhole",
            SinkConfig::Console(_) => "console",
            SinkConfig::File(_) => "file",
            SinkConfig::Gcs(_) => "gcs",
        }
    }

    pub(crate) fn validate(&self) -> Vec<FieldError> {
        match self {
            SinkConfig::Blackhole(_) | SinkConfig::Console(_) => Vec::new(),
            SinkConfig::File(c) => c.validate(),
            SinkConfig::Bigquery(c) => c.validate(),
            SinkConfig::Gcs(c) => c.validate(),
        }
    }

    /// The live sink.
    pub(crate) fn build(&self, name: &str, cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        Ok(match self {
            SinkConfig::Bigquery(c) => c.build(name)?,
            SinkConfig::Blackhole(_) => Box::new(blackhole::Blackhole),
            SinkConfig::Console(_) => Box::new(console::Console),
            SinkConfig::File(c) => Box::new(file::FileSink::new(c.clone())),
            SinkConfig::Gcs(c) => Box::new(gcs::GcsSink::build(c, name, cx)?),
        })
    }

    /// What stands in for the sink in a dry run: a sink that would reach
    /// the network writes exactly what it would send under `out_dir`
    /// (through the same encoder and row checks); local sinks run as
    /// configured. The match is exhaustive on purpose: a new sink type
    /// must say what it does in a dry run before it compiles.
    pub(crate) fn build_dry_run(
        &self,
        name: &str,
        cx: &BuildContext,
        out_dir: &std::path::Path,
    ) -> Result<Box<dyn Sink>, BuildError> {
        match self {
            SinkConfig::Bigquery(c) => c.build_dry_run(name, out_dir),
            SinkConfig::Gcs(c) => Ok(Box::new(gcs::GcsSink::build_dry_run(c, name, cx, out_dir)?)),
            SinkConfig::Blackhole(_) | SinkConfig::Console(_) | SinkConfig::File(_) => {
                self.build(name, cx)
            }
        }
    }
}

/// Appends `event` as one NDJSON line.
pub fn encode_ndjson(buf: &mut Vec<u8>, log: &serde_json::Value) {
    crate::event::json_out::write_value(buf, log);
    buf.push(b'\n');
}
