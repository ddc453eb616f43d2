//! `[sources.NAME] type = "archive"`: the settings, and the selection
//! (`from`, `start`, `end`, `shard`) that `sluice backfill` fills in and
//! `validate` checks.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;

use super::progress::Progress;
use super::select::{Range, Shard};
use crate::component::FieldError;
use crate::event::log_entry::{format_ts, parse_rfc3339};
use crate::gcs::store::{Connection, Location};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `gs://BUCKET/PREFIX`, `file:///DIR` or a path. `sluice backfill
    /// --from` sets it; empty means "given on the command line".
    #[serde(default)]
    pub(crate) from: String,
    /// Earliest event time to replay (RFC 3339, inclusive).
    #[serde(default)]
    pub(crate) start: Option<String>,
    /// Event time to stop before (RFC 3339, exclusive).
    #[serde(default)]
    pub(crate) end: Option<String>,
    /// `I/N`: read only the objects whose key hashes to I mod N.
    #[serde(default)]
    pub(crate) shard: Option<String>,
    /// Where resume files live; default `DATA_DIR/backfill` (in a dry run
    /// the topology points `DATA_DIR` at `OUT/state`, so a dry run never
    /// marks real work done).
    #[serde(default)]
    pub(crate) state_dir: Option<PathBuf>,
    /// Lines longer than this go to the dead-letter output.
    #[serde(default = "default_max_line")]
    pub(crate) max_line_bytes: usize,
    /// Objects downloaded ahead of the one being decoded.
    #[serde(default = "default_prefetch")]
    pub(crate) prefetch: usize,
    /// Objects up to this size are downloaded whole while prefetching;
    /// larger ones are streamed when their turn comes.
    #[serde(default = "default_prefetch_max")]
    pub(crate) prefetch_max_object_bytes: u64,
    /// Base URL of a GCS emulator or test server (OAuth disabled).
    #[serde(default)]
    pub(crate) endpoint: Option<String>,
    /// A service-account key file (default: Application Default
    /// Credentials or the metadata server).
    /// Spelled `key_file`, like every credentials setting in sluice.
    #[serde(default)]
    pub(crate) key_file: Option<PathBuf>,
    /// Set by `sluice backfill` to watch the run; not part of the file.
    #[serde(skip)]
    pub progress: Option<Arc<Progress>>,
}

pub(super) fn default_max_line() -> usize {
    1024 * 1024
}
pub(super) fn default_prefetch() -> usize {
    4
}
pub(super) fn default_prefetch_max() -> u64 {
    32 * 1024 * 1024
}

/// The validated selection.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub(crate) location: Location,
    pub(crate) range: Range,
    pub(crate) shard: Shard,
}

impl Selection {
    /// What the state file is keyed by.
    pub(crate) fn identity(&self) -> String {
        let t = |t: Option<chrono::DateTime<Utc>>| t.map(format_ts).unwrap_or_else(|| "-".into());
        format!(
            "from={} start={} end={} shard={}",
            self.location,
            t(self.range.start),
            t(self.range.end),
            self.shard
        )
    }
}

impl Config {
    pub(super) fn connection(&self) -> Connection {
        Connection {
            endpoint: self.endpoint.clone(),
            key_file: self.key_file.clone(),
        }
    }

    fn time(field: &str, v: &Option<String>) -> Result<Option<chrono::DateTime<Utc>>, FieldError> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => parse_rfc3339(s).map(Some).ok_or_else(|| {
                FieldError::new(field, "must be an RFC 3339 time, e.g. 2025-11-30T00:00:00Z")
            }),
        }
    }

    /// The selection, or every problem with it. `from` may be empty here
    /// (the command line fills it); `build` insists.
    pub(crate) fn selection(&self) -> Result<Option<Selection>, Vec<FieldError>> {
        let mut errs = Vec::new();
        let location = if self.from.trim().is_empty() {
            None
        } else {
            match Location::parse(&self.from) {
                Ok(l) => Some(l),
                Err(m) => {
                    errs.push(FieldError::new("from", m));
                    None
                }
            }
        };
        let start = Self::time("start", &self.start)
            .map_err(|e| errs.push(e))
            .ok()
            .flatten();
        let end = Self::time("end", &self.end)
            .map_err(|e| errs.push(e))
            .ok()
            .flatten();
        if let (Some(s), Some(e)) = (start, end) {
            if s >= e {
                errs.push(FieldError::new("end", "must be after start"));
            }
        }
        let shard = match self.shard.as_deref().filter(|s| !s.trim().is_empty()) {
            None => Shard::default(),
            Some(s) => Shard::parse(s).unwrap_or_else(|m| {
                errs.push(FieldError::new("shard", m));
                Shard::default()
            }),
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(location.map(|location| Selection {
            location,
            range: Range { start, end },
            shard,
        }))
    }

    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = self.selection().err().unwrap_or_default();
        if self.max_line_bytes < 64 {
            e.push(FieldError::new("max_line_bytes", "must be at least 64"));
        }
        if self.prefetch == 0 {
            e.push(FieldError::new("prefetch", "must be at least 1"));
        }
        e.extend(self.connection().validate(""));
        e
    }
}
