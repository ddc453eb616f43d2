//! `[sources.NAME] type = "file"`: the settings, their defaults, and the
//! checks `validate` makes.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::discovery::{self, Globs};
use crate::component::FieldError;
use crate::decode::{Format, InvalidUtf8};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReadFrom {
    /// Read files with no checkpoint from their first byte.
    #[default]
    Beginning,
    /// Skip what files with no checkpoint hold at start-up.
    End,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Glob patterns of files to tail, e.g. `/var/log/containers/*.log`.
    /// Required and non-empty.
    pub(crate) include: Vec<String>,
    /// Glob patterns of paths to leave out (matched against the path the
    /// include glob produced, e.g. `/var/log/containers/*_sluice_*.log`).
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    /// Where to start in a file found at start-up that has no checkpoint:
    /// `beginning` (default) or `end`. Files created later are always
    /// read from the beginning.
    #[serde(default)]
    pub(crate) read_from: ReadFrom,
    /// Framing of the lines: `auto` (default, detected per file), `cri`,
    /// `docker`, `ndjson`.
    #[serde(default)]
    pub(crate) format: Format,
    /// Lines longer than this go to the dead-letter output. Default 256 KiB.
    #[serde(default = "default_max_line_bytes")]
    pub(crate) max_line_bytes: usize,
    /// Text lines that are not valid UTF-8: `replace` (default, U+FFFD,
    /// as Google's agent does) or `deadletter`. Counted either way in
    /// `source_invalid_utf8_lines_total`.
    #[serde(default)]
    pub(crate) invalid_utf8: InvalidUtf8,
    /// How often the globs are evaluated again to find new files.
    #[serde(default = "default_glob_interval_ms")]
    pub(crate) glob_interval_ms: u64,
    /// How long to wait before reading again when no file had new data.
    #[serde(default = "default_poll_interval_ms")]
    pub(crate) poll_interval_ms: u64,
    /// How often changed checkpoints are written to disk (and always at
    /// shutdown).
    #[serde(default = "default_checkpoint_interval_ms")]
    pub(crate) checkpoint_interval_ms: u64,
    /// Most bytes read from one file before moving to the next, so a busy
    /// file cannot starve the others.
    #[serde(default = "default_max_read_bytes")]
    pub(crate) max_read_bytes: usize,
    /// Folder under `global.data_dir` for this source's checkpoints.
    /// Default `checkpoints/NAME`. Two sources must not share one.
    #[serde(default)]
    pub(crate) data_subdir: Option<String>,
    /// How long checkpoints may fail to save (read-only or full data_dir)
    /// before the source stops the process with an error naming the path.
    /// While they fail the source is not ready and every failed attempt
    /// is counted in `source_checkpoint_write_errors_total`.
    #[serde(default = "default_checkpoint_failure_timeout_secs")]
    pub(crate) checkpoint_failure_timeout_secs: u64,
}

pub(crate) fn default_max_line_bytes() -> usize {
    256 * 1024
}
fn default_glob_interval_ms() -> u64 {
    1000
}
fn default_poll_interval_ms() -> u64 {
    250
}
fn default_checkpoint_interval_ms() -> u64 {
    1000
}
fn default_max_read_bytes() -> usize {
    1024 * 1024
}
fn default_checkpoint_failure_timeout_secs() -> u64 {
    60
}

impl Config {
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if self.include.is_empty() {
            e.push(FieldError::new(
                "include",
                "must list at least one glob, e.g. [\"/var/log/containers/*.log\"]",
            ));
        } else if self.include.iter().any(|p| p.trim().is_empty()) {
            e.push(FieldError::new("include", "patterns must not be empty"));
        }
        if let Err(m) = discovery::check(&self.include) {
            e.push(FieldError::new("include", m));
        }
        if let Err(m) = discovery::check(&self.exclude) {
            e.push(FieldError::new("exclude", m));
        }
        if self.max_line_bytes < 64 {
            e.push(FieldError::new("max_line_bytes", "must be at least 64"));
        }
        for (field, v) in [
            ("glob_interval_ms", self.glob_interval_ms),
            ("poll_interval_ms", self.poll_interval_ms),
            ("checkpoint_interval_ms", self.checkpoint_interval_ms),
        ] {
            if v < 10 {
                e.push(FieldError::new(field, "must be at least 10"));
            }
        }
        if self.checkpoint_failure_timeout_secs == 0 {
            e.push(FieldError::new(
                "checkpoint_failure_timeout_secs",
                "must be at least 1",
            ));
        }
        if self.max_read_bytes < 4096 {
            e.push(FieldError::new("max_read_bytes", "must be at least 4096"));
        }
        if let Some(d) = &self.data_subdir {
            let p = Path::new(d);
            if d.is_empty()
                || p.is_absolute()
                || p.components().any(|c| !matches!(c, Component::Normal(_)))
            {
                e.push(FieldError::new(
                    "data_subdir",
                    "must be a relative folder inside data_dir (no `..`)",
                ));
            }
        }
        e
    }

    /// The files the globs match at this moment, sorted (a dry run reads
    /// these once instead of tailing).
    pub(crate) fn matched_now(&self) -> Vec<PathBuf> {
        match Globs::new(&self.include, &self.exclude) {
            Ok(g) => g.scan().into_iter().map(|f| f.path).collect(),
            // Refused by `validate` before any build.
            Err(_) => Vec::new(),
        }
    }
}
