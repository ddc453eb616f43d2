//! `type = "bigquery"`: Cloud Logging's BigQuery export, done by sluice.
//!
//! Entries become rows of Cloud Logging's BigQuery export schema
//! ([`schema`]: field names normalized as Cloud Logging does, new payload
//! fields added as NULLABLE columns), encoded in one pass ([`encoder`]),
//! into tables named after the log id (`stdout`, `stderr`), day-partitioned
//! on `timestamp` or date-sharded, expiring after 90 days by default
//! ([`table`]). Rows are streamed with `tabledata.insertAll` with the
//! entry's deterministic `insertId`, so retries and replays do not
//! duplicate ([`service`], [`sink`]); refused rows go to dead-letter with
//! BigQuery's reason; rows BigQuery did not answer for are never
//! acknowledged. Each table gets a view, `dedup_TABLE`, that reads every
//! entry once ([`views`]). In a dry run, [`dry_run`] writes the rows to
//! `DIR/bigquery/DATASET/TABLE.ndjson` instead, with no network.
//!
//! ```toml
//! [sinks.bigquery]
//! type = "bigquery"
//! inputs = ["redact"]
//! project = "coditect-cloud-infra"
//! dataset = "coditect_logs"
//! # table = "{log_id}"   partitioning = "day"   expiration_days = 90
//! ```

pub(crate) mod config;
pub(crate) mod dry_run;
pub mod encoder;
mod request;
pub mod schema;
pub(crate) mod service;
pub(crate) mod sink;
pub(crate) mod table;
pub(crate) mod views;

#[cfg(test)]
mod tests;

pub(crate) use config::Config;

use super::Sink;
use crate::component::BuildError;

impl Config {
    fn template(&self, name: &str) -> Result<table::TableTemplate, BuildError> {
        table::TableTemplate::parse(&self.table)
            .map_err(|m| BuildError::new("sink", name, format!("table: {m}")))
    }

    /// The live sink.
    pub(crate) fn build(&self, name: &str) -> Result<Box<dyn Sink>, BuildError> {
        Ok(Box::new(sink::BigQuery::new(
            self.clone(),
            self.template(name)?,
        )))
    }

    /// The dry-run writer, under `OUT/bigquery/DATASET/`.
    pub(crate) fn build_dry_run(
        &self,
        name: &str,
        out_dir: &std::path::Path,
    ) -> Result<Box<dyn Sink>, BuildError> {
        Ok(Box::new(dry_run::DryRun::new(
            self.clone(),
            self.template(name)?,
            out_dir,
        )))
    }
}
