//! `sluice audit PATH...`: scan NDJSON files, gzip files and folders with
//! the default redaction detectors and report residual personal data by
//! class and location. Exit 1 when anything is found.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::transforms::redact::{RedactConfig, Redactor};

pub fn run(paths: &[PathBuf]) -> Result<u8> {
    let redactor =
        Redactor::new(&RedactConfig::default(), None).context("building the default detectors")?;
    let report = crate::audit::audit_paths(paths, &redactor).context("scanning")?;
    print!("{}", report.render_text());
    Ok(if report.is_clean() { 0 } else { 1 })
}
