//! `[sinks.NAME]` with `type = "gcs"`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::encoder::Compression;
use super::upload::UploadPlan;
use crate::component::FieldError;
use crate::gcs::key::{KeyTemplate, DATE_LAYOUT, HIVE_LAYOUT};
use crate::gcs::store::{Connection, Location};

/// GCS's smallest multipart part (all but the last).
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The bucket (`my-archive` or `gs://my-archive`), or a local folder
    /// as `file:///var/lib/sluice/archive`.
    pub(crate) bucket: String,
    /// Object key template: `%Y %m %d %H %M` from the event's timestamp
    /// (UTC), `{node}`, and `{uuid}` (required). Defaults to the `layout`'s
    /// template plus the compression's extension.
    #[serde(default)]
    pub(crate) key: Option<String>,
    /// `date` (`logs/%Y/%m/%d/%H/{node}-{uuid}.ndjson.gz`) or `hive`
    /// (`logs/dt=%Y-%m-%d/hour=%H/{node}-{uuid}.ndjson.gz`). Ignored when
    /// `key` is set.
    #[serde(default)]
    pub(crate) layout: Layout,
    /// `gzip` (default), `zstd` or `none`.
    #[serde(default)]
    pub(crate) compression: Compression,
    /// Compression level: gzip 1-12 (default 5; libdeflate's levels, 10-12
    /// much slower for ~3% smaller objects), zstd 1-19 (default 3).
    #[serde(default)]
    pub(crate) compression_level: Option<i32>,
    /// An object is closed once it holds this many uncompressed bytes.
    #[serde(default = "default_max_bytes")]
    pub(crate) batch_max_bytes: u64,
    /// ... or once its first event has waited this long. Events are
    /// acknowledged only when their object is finalized, so this bounds
    /// how long a source waits for the archive.
    #[serde(default = "default_max_age")]
    pub(crate) batch_max_age_secs: u64,
    /// Memory all open objects of this sink may hold, compressed and
    /// pending (at least 1 MiB). Over it, pending text is compressed early
    /// and then the oldest objects are closed early (counted in
    /// `archive_objects_closed_early_total`).
    #[serde(default = "default_max_buffered")]
    pub(crate) max_buffered_bytes: u64,
    /// Objects being uploaded at once.
    #[serde(default = "default_in_flight")]
    pub(crate) max_in_flight: usize,
    /// Objects at least this large (compressed) are sent as multipart uploads.
    #[serde(default = "default_multipart_threshold")]
    pub(crate) multipart_threshold_bytes: u64,
    /// Part size of multipart uploads (at least 5 MiB, GCS's minimum).
    #[serde(default = "default_part")]
    pub(crate) multipart_part_bytes: u64,
    /// Attempts per object before the sink fails (object_store also
    /// retries each request a few times within an attempt).
    #[serde(default = "default_attempts")]
    pub(crate) retry_max_attempts: u32,
    /// First wait between attempts; doubles up to 60 s.
    #[serde(default = "default_backoff_ms")]
    pub(crate) retry_initial_backoff_ms: u64,
    /// Base URL of a GCS emulator or test server (OAuth disabled).
    #[serde(default)]
    pub(crate) endpoint: Option<String>,
    /// A service-account key file (default: Application Default
    /// Credentials or the metadata server).
    /// Spelled `key_file`, like every credentials setting in sluice.
    #[serde(default)]
    pub(crate) key_file: Option<PathBuf>,
}

/// Built-in key layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Layout {
    #[default]
    Date,
    Hive,
}

fn default_max_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_max_age() -> u64 {
    300
}
fn default_max_buffered() -> u64 {
    32 * 1024 * 1024
}
fn default_in_flight() -> usize {
    4
}
fn default_multipart_threshold() -> u64 {
    32 * 1024 * 1024
}
fn default_part() -> u64 {
    16 * 1024 * 1024
}
fn default_attempts() -> u32 {
    8
}
fn default_backoff_ms() -> u64 {
    1000
}

impl Config {
    /// The bucket as a location (`gs://NAME` for a bare name).
    pub(crate) fn location(&self) -> Result<Location, String> {
        let b = self.bucket.trim();
        if b.contains("://") {
            let loc = Location::parse(b)?;
            if let Location::Gcs { prefix, .. } = &loc {
                if !prefix.is_empty() {
                    return Err("takes a bucket only; put a prefix in `key`".into());
                }
            }
            Ok(loc)
        } else {
            Location::parse(&format!("gs://{b}"))
        }
    }

    /// The key template in force.
    pub(crate) fn key_template(&self) -> String {
        match &self.key {
            Some(k) => k.clone(),
            None => {
                let base = match self.layout {
                    Layout::Date => DATE_LAYOUT,
                    Layout::Hive => HIVE_LAYOUT,
                };
                format!("{base}{}", self.compression.extension())
            }
        }
    }

    pub(crate) fn level(&self) -> i32 {
        self.compression_level
            .unwrap_or_else(|| self.compression.default_level())
    }

    pub(crate) fn connection(&self) -> Connection {
        Connection {
            endpoint: self.endpoint.clone(),
            key_file: self.key_file.clone(),
        }
    }

    pub(crate) fn upload_plan(&self) -> UploadPlan {
        UploadPlan {
            multipart_threshold: usize::try_from(self.multipart_threshold_bytes)
                .unwrap_or(usize::MAX),
            part_size: usize::try_from(self.multipart_part_bytes).unwrap_or(usize::MAX),
            max_attempts: self.retry_max_attempts.max(1),
            initial_backoff: Duration::from_millis(self.retry_initial_backoff_ms),
            max_backoff: Duration::from_secs(60),
        }
    }

    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if let Err(m) = self.location() {
            e.push(FieldError::new("bucket", m));
        }
        if let Err(m) = KeyTemplate::parse(&self.key_template()) {
            e.push(FieldError::new("key", m));
        }
        if let Some(l) = self.compression_level {
            let r = self.compression.level_range();
            if !r.contains(&l) {
                e.push(FieldError::new(
                    "compression_level",
                    format!(
                        "must be between {} and {} for {:?}",
                        r.start(),
                        r.end(),
                        self.compression
                    ),
                ));
            }
        }
        if self.batch_max_bytes == 0 {
            e.push(FieldError::new("batch_max_bytes", "must be greater than 0"));
        }
        if self.batch_max_age_secs == 0 {
            e.push(FieldError::new(
                "batch_max_age_secs",
                "must be greater than 0",
            ));
        }
        if self.max_buffered_bytes < 1024 * 1024 {
            e.push(FieldError::new(
                "max_buffered_bytes",
                "must be at least 1048576 (1 MiB)",
            ));
        }
        if self.max_in_flight == 0 {
            e.push(FieldError::new("max_in_flight", "must be at least 1"));
        }
        if self.multipart_part_bytes < MIN_PART_BYTES {
            e.push(FieldError::new(
                "multipart_part_bytes",
                "must be at least 5242880 (5 MiB, GCS's smallest part)",
            ));
        }
        if self.multipart_threshold_bytes < self.multipart_part_bytes {
            e.push(FieldError::new(
                "multipart_threshold_bytes",
                "must be at least multipart_part_bytes",
            ));
        }
        if self.retry_max_attempts == 0 {
            e.push(FieldError::new("retry_max_attempts", "must be at least 1"));
        }
        e.extend(self.connection().validate(""));
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Config {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_follow_layout_and_compression() {
        let c = parse(r#"bucket = "arch""#);
        assert!(c.validate().is_empty());
        assert_eq!(c.key_template(), "logs/%Y/%m/%d/%H/{node}-{uuid}.ndjson.gz");
        assert_eq!(c.level(), 5);
        assert_eq!(c.max_buffered_bytes, 32 * 1024 * 1024);
        let c = parse(
            r#"bucket = "gs://arch"
layout = "hive"
compression = "zstd""#,
        );
        assert_eq!(
            c.key_template(),
            "logs/dt=%Y-%m-%d/hour=%H/{node}-{uuid}.ndjson.zst"
        );
        assert_eq!(c.location().unwrap().to_string(), "gs://arch");
        let c = parse(r#"bucket = "file:///tmp/arch""#);
        assert!(c.validate().is_empty());
    }

    #[test]
    fn validation_names_fields() {
        let c = parse(
            r#"bucket = "gs://arch/prefix"
key = "logs/%Y/x"
compression_level = 13
max_buffered_bytes = 4096
multipart_part_bytes = 1000
endpoint = "127.0.0.1:4443""#,
        );
        let fields: Vec<String> = c.validate().into_iter().map(|e| e.field).collect();
        for f in [
            "bucket",
            "key",
            "compression_level",
            "max_buffered_bytes",
            "multipart_part_bytes",
            "endpoint",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
        }
        assert!(toml::from_str::<Config>("bucket = \"a\"\nbogus = 1").is_err());
    }
}
