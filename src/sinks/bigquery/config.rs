//! `[sinks.NAME] type = "bigquery"` options.

use serde::Deserialize;

use super::table::TableTemplate;
use crate::component::FieldError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Google Cloud project that owns the dataset.
    pub(crate) project: String,
    /// Dataset; created (in `location`) when missing.
    pub(crate) dataset: String,
    /// Table name or template. `{log_id}` is the entry's log id (the last
    /// segment of `logName`, URL-decoded: `stdout`, `stderr`), as Cloud
    /// Logging names its export tables; `{a.b.c}` is any field of the
    /// entry. Characters BigQuery does not allow in table names become `_`.
    #[serde(default = "default_table")]
    pub(crate) table: String,
    /// Dataset location used when the dataset is created.
    #[serde(default = "default_location")]
    pub(crate) location: String,
    /// `day`: one table partitioned by day on `timestamp`, each partition
    /// expiring after `expiration_days`. `sharded`: one table per day,
    /// `TABLE_YYYYMMDD` (from the entry's `timestamp`, UTC), each table
    /// expiring `expiration_days` after its day.
    #[serde(default)]
    pub(crate) partitioning: Partitioning,
    /// Retention in days (partition or table expiration); 0 keeps data forever.
    #[serde(default = "default_expiration_days")]
    pub(crate) expiration_days: u32,
    /// `add_fields`: new payload fields become NULLABLE columns
    /// (`tables.patch`). `reject`: rows with unknown fields go to dead-letter.
    #[serde(default)]
    pub(crate) schema_update: SchemaUpdate,
    /// Create the dataset and tables when they do not exist.
    #[serde(default = "default_true")]
    pub(crate) create_tables: bool,
    /// With each table sluice creates, create the view `dedup_TABLE` that
    /// keeps one row per `insertId` (for sharded tables, one view over all
    /// shards). Needs no permission beyond creating tables.
    #[serde(default = "default_true")]
    pub(crate) dedup_views: bool,
    /// How to get access tokens.
    #[serde(default)]
    pub(crate) auth: Auth,
    /// Service-account key file, for `auth = "key_file"`.
    pub(crate) key_file: Option<std::path::PathBuf>,
    /// Bearer token, for `auth = "token"` (emulators). Prefer `${ENV}`.
    pub(crate) token: Option<Secret>,
    /// Base URL of the BigQuery API, for emulators: `http://127.0.0.1:9050`
    /// (the `/bigquery/v2` path is appended).
    pub(crate) endpoint: Option<String>,
    /// Most rows in one insertAll request (BigQuery recommends 500).
    #[serde(default = "default_batch_max_rows")]
    pub(crate) batch_max_rows: usize,
    /// Most bytes in one request body; BigQuery refuses bodies over 10 MB.
    #[serde(default = "default_batch_max_bytes")]
    pub(crate) batch_max_bytes: usize,
    /// Send a partial batch after this long.
    #[serde(default = "default_batch_timeout_ms")]
    pub(crate) batch_timeout_ms: u64,
    /// Most insertAll requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub(crate) concurrency: usize,
    /// Retry 429, 5xx and network errors with exponential backoff for at
    /// most this long; then the rows are reported `Errored` to their source
    /// (which delivers them again), never dropped.
    #[serde(default = "default_max_retry_secs")]
    pub(crate) max_retry_secs: u64,
    /// Timeout of one HTTP request.
    #[serde(default = "default_request_timeout_secs")]
    pub(crate) request_timeout_secs: u64,
    /// Gzip request bodies. Off by default: emulators refuse gzip bodies.
    #[serde(default)]
    pub(crate) compression: bool,
}

/// A string that never prints.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Partitioning {
    #[default]
    Day,
    Sharded,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SchemaUpdate {
    #[default]
    AddFields,
    Reject,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Auth {
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`,
    /// else the metadata server.
    #[default]
    Adc,
    /// A service-account key file (`key_file`).
    KeyFile,
    /// The GCE/GKE metadata server (workload identity), tokens cached
    /// until shortly before they expire. `GCE_METADATA_HOST` overrides
    /// the host.
    Metadata,
    /// A fixed bearer token (`token`), for emulators.
    Token,
}

fn default_table() -> String {
    "{log_id}".into()
}
fn default_location() -> String {
    "US".into()
}
fn default_expiration_days() -> u32 {
    90
}
fn default_true() -> bool {
    true
}
fn default_batch_max_rows() -> usize {
    500
}
fn default_batch_max_bytes() -> usize {
    5_000_000
}
fn default_batch_timeout_ms() -> u64 {
    1000
}
fn default_concurrency() -> usize {
    4
}
fn default_max_retry_secs() -> u64 {
    300
}
fn default_request_timeout_secs() -> u64 {
    30
}

/// BigQuery's request body limit for insertAll.
pub(crate) const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

impl Config {
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if !valid_id(&self.project, true) {
            e.push(FieldError::new(
                "project",
                "must be a project id (letters, digits, `-`, `:` and `.`)",
            ));
        }
        if !valid_id(&self.dataset, false) {
            e.push(FieldError::new(
                "dataset",
                "must be 1-1024 letters, digits or `_`",
            ));
        }
        if let Err(m) = TableTemplate::parse(&self.table) {
            e.push(FieldError::new("table", m));
        }
        if self.batch_max_rows == 0 || self.batch_max_rows > 50_000 {
            e.push(FieldError::new("batch_max_rows", "must be 1..=50000"));
        }
        if self.batch_max_bytes < 1024 || self.batch_max_bytes > MAX_REQUEST_BYTES - 64 * 1024 {
            e.push(FieldError::new(
                "batch_max_bytes",
                "must be between 1024 and 10420224 (BigQuery refuses requests over 10 MB)",
            ));
        }
        if self.concurrency == 0 {
            e.push(FieldError::new("concurrency", "must be at least 1"));
        }
        if self.request_timeout_secs == 0 {
            e.push(FieldError::new(
                "request_timeout_secs",
                "must be at least 1",
            ));
        }
        match self.auth {
            Auth::KeyFile
                if self
                    .key_file
                    .as_ref()
                    .is_none_or(|p| p.as_os_str().is_empty()) =>
            {
                e.push(FieldError::new(
                    "key_file",
                    "is required with auth = \"key_file\"",
                ))
            }
            Auth::Token if self.token.as_ref().is_none_or(|t| t.0.is_empty()) => e.push(
                FieldError::new("token", "is required with auth = \"token\""),
            ),
            _ => {}
        }
        if let Some(ep) = &self.endpoint {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                e.push(FieldError::new(
                    "endpoint",
                    "must be an http:// or https:// URL",
                ));
            }
        }
        e
    }

    /// `https://bigquery.googleapis.com/bigquery/v2`, or the emulator's.
    pub(crate) fn base_url(&self) -> String {
        match &self.endpoint {
            Some(ep) => format!("{}/bigquery/v2", ep.trim_end_matches('/')),
            None => "https://bigquery.googleapis.com/bigquery/v2".into(),
        }
    }
}

fn valid_id(s: &str, project: bool) -> bool {
    !s.is_empty()
        && s.len() <= 1024
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric() || c == b'_' || (project && matches!(c, b'-' | b':' | b'.'))
        })
}
