//! One module per subcommand. These are the edge of the program: they use
//! `anyhow` for errors and return the process exit code.

pub mod audit;
pub mod backfill;
pub mod bigquery_views;
pub mod dry_run;
pub mod run;
pub mod validate;

use std::path::Path;

use anyhow::Result;

use crate::config::PipelineConfig;

/// Loads and validates a pipeline, printing every error.
pub(crate) fn load(path: &Path) -> Result<PipelineConfig> {
    crate::config::load_file(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A multi-threaded runtime sized to the machine.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
