//! The dry-run stand-in: `DIR/bigquery/DATASET/TABLE.ndjson`.
//!
//! Each line is exactly the `json` object of one insertAll row as the live
//! sink would send it (normalized names, converted values, nulls left
//! out), under the table name the live sink would use (with the
//! `_YYYYMMDD` suffix when sharded). The `insertId` insertAll carries
//! beside each row is the row's own `insertId` column, so it is in the
//! line. Rows go through the live sink's own [`encode_row`], so the schema
//! evolves exactly as live (tables start with the Cloud Logging schema) and
//! type conflicts, `schema_update = "reject"` and oversize rows send the
//! same rows to dead-letter. No network connection is opened.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;

use super::config::{Config, Partitioning};
use super::schema::Schema;
use super::sink::encode_row;
use super::table::{self, TableTemplate};
use crate::component::Sink;
use crate::component::{ComponentError, SinkContext, SinkInput};
use crate::event::finalization::Finalizers;
use crate::event::EventStatus;
use crate::telemetry::outputs::{Column, Table};

pub(crate) struct DryRun {
    cfg: Config,
    template: TableTemplate,
    dir: PathBuf,
}

impl DryRun {
    pub(crate) fn new(cfg: Config, template: TableTemplate, out_dir: &std::path::Path) -> Self {
        let dir = out_dir.join("bigquery").join(&cfg.dataset);
        DryRun { cfg, template, dir }
    }
}

#[async_trait]
impl Sink for DryRun {
    async fn run(
        self: Box<Self>,
        mut input: SinkInput,
        cx: SinkContext,
    ) -> Result<(), ComponentError> {
        let ctx = |what: String| format!("sink {}: {what}", cx.name);
        let mut schemas: HashMap<String, Schema> = HashMap::new();
        // Rows and bytes written per table.
        let mut written: HashMap<String, (u64, u64)> = HashMap::new();
        let mut files: HashMap<String, std::io::BufWriter<std::fs::File>> = HashMap::new();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| ComponentError::new(ctx(self.dir.display().to_string()), e))?;
        while let Some(batch) = input.next().await {
            let mut fins = Finalizers::default();
            let (mut sent, mut bytes) = (0u64, 0u64);
            for e in batch.events {
                let (name, _) = table::route(&self.template, self.cfg.partitioning, &e.log);
                let schema = schemas.entry(name.clone()).or_insert_with(Schema::logging);
                // Nothing to patch in a dry run: the working schema is the table's.
                let mut dirty = false;
                let mut row = match encode_row(e, schema, &self.cfg, &mut dirty) {
                    Ok(row) => row,
                    Err((e, reason)) => {
                        cx.stats.errored(1);
                        cx.dead_letter.send(&cx.name, e, reason).await;
                        continue;
                    }
                };
                let f = match files.get_mut(&name) {
                    Some(f) => f,
                    None => {
                        let path = self.dir.join(format!("{name}.ndjson"));
                        let f = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&path)
                            .map_err(|err| {
                                ComponentError::new(ctx(path.display().to_string()), err)
                            })?;
                        files
                            .entry(name.clone())
                            .or_insert(std::io::BufWriter::new(f))
                    }
                };
                row.json.push(b'\n');
                f.write_all(&row.json)
                    .map_err(|err| ComponentError::new(ctx(name.clone()), err))?;
                sent += 1;
                bytes += row.json.len() as u64;
                let w = written.entry(name).or_default();
                w.0 += 1;
                w.1 += row.json.len() as u64;
                fins.push(row.event.take_finalizer());
            }
            for (name, f) in files.iter_mut() {
                f.flush()
                    .map_err(|err| ComponentError::new(ctx(name.clone()), err))?;
            }
            fins.settle(EventStatus::Delivered);
            cx.stats.sent(sent, bytes);
        }
        for (table, (rows, bytes)) in written {
            let mut leaves = Vec::new();
            if let Some(s) = schemas.get(&table) {
                s.root.leaves("", &mut leaves);
            }
            cx.telemetry.record_table(Table {
                sink: cx.name.to_string(),
                dataset: self.cfg.dataset.clone(),
                table,
                rows,
                bytes,
                partitioning: match self.cfg.partitioning {
                    Partitioning::Day => "day",
                    Partitioning::Sharded => "sharded",
                },
                expiration_days: self.cfg.expiration_days,
                columns: leaves
                    .into_iter()
                    .map(|(name, ty, mode)| Column { name, ty, mode })
                    .collect(),
            });
        }
        Ok(())
    }
}
