//! `sluice bigquery-views PIPELINE [--create]`: the views that read each
//! entry once (`dedup_TABLE`, one row per `insertId`) over the tables each
//! `bigquery` sink of the pipeline writes.
//!
//! The sinks create these views with the tables they create
//! (`dedup_views`, on by default). This command covers tables that existed
//! before, or were created by another writer: it lists each sink's dataset
//! with the sink's own endpoint and credentials and prints one
//! `CREATE OR REPLACE VIEW` per table (per set of day shards) for an
//! operator to review and run with `bq query`; with `--create` it creates
//! the views that are missing itself.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::sinks::bigquery::{service, table::Tables};
use crate::sinks::SinkConfig;

pub fn run(path: &Path, create: bool) -> Result<u8> {
    let cfg = super::load(path)?;
    let sinks: Vec<_> = cfg
        .sinks
        .iter()
        .filter_map(|(name, s)| match &s.inner {
            SinkConfig::Bigquery(c) => Some((name, c)),
            _ => None,
        })
        .collect();
    if sinks.is_empty() {
        bail!("{}: no sink has type = \"bigquery\"", path.display());
    }
    super::runtime()?.block_on(async {
        for (name, c) in sinks {
            let what = || format!("sink {name}");
            let auth = service::authenticator(c)
                .await
                .map_err(anyhow::Error::msg)
                .with_context(what)?;
            let http = service::http_client(c)
                .map_err(anyhow::Error::msg)
                .with_context(what)?;
            let tables = Tables::connect(c, auth, http)
                .await
                .map_err(anyhow::Error::msg)
                .with_context(what)?;
            let bases = tables.bases().await.with_context(what)?;
            println!(
                "-- sink {name}: dataset {}, {} table(s)",
                tables.dataset(),
                bases.len()
            );
            for base in bases {
                println!("{}", tables.view_ddl(&base));
                if create {
                    let made = tables.create_view(&base).await.with_context(what)?;
                    eprintln!(
                        "{} view {}",
                        if made { "created" } else { "kept the existing" },
                        crate::sinks::bigquery::views::view_name(&base)
                    );
                }
            }
        }
        Ok(0)
    })
}
