//! Where archive objects live, and how to reach them.
//!
//! A location is a GCS bucket (`gs://BUCKET[/PREFIX]`) or a local folder
//! (`file:///DIR` or a plain path). Both open as an `object_store`
//! `ObjectStore`, so the sink and the archive source run the same code
//! against GCS, a local folder, a dry-run folder or an in-memory store.
//!
//! Authentication is object_store's (Application Default Credentials,
//! `GOOGLE_SERVICE_ACCOUNT*` variables, the GCE metadata server), or a
//! service-account key file. `endpoint` points at an emulator or test
//! server instead: OAuth is then disabled (object_store's `disable_oauth`
//! key flag) so nothing ever asks the metadata server for a token, and
//! plain `http://` is allowed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::Deserialize;

/// A parsed location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    Gcs { bucket: String, prefix: String },
    Local { dir: PathBuf },
}

impl Location {
    /// True when reaching it needs the network.
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self, Location::Gcs { .. })
    }

    /// `gs://BUCKET[/PREFIX]`, `file:///DIR` or a plain path.
    pub(crate) fn parse(s: &str) -> Result<Location, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if let Some(rest) = s.strip_prefix("gs://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !valid_bucket(bucket) {
                return Err(
                    "has an invalid bucket name (3-63 characters: lowercase letters, digits, `-`, `_`, `.`)"
                        .into(),
                );
            }
            return Ok(Location::Gcs {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some(rest) = s.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err("a file:// URL needs an absolute path (file:///DIR)".into());
            }
            return Ok(Location::Local {
                dir: PathBuf::from(rest),
            });
        }
        if s.contains("://") {
            return Err(
                "unsupported scheme (use gs://BUCKET/PREFIX, file:///DIR or a path)".into(),
            );
        }
        Ok(Location::Local {
            dir: PathBuf::from(s),
        })
    }

    /// The name used for `DIR/gcs/NAME/` in a dry run.
    pub(crate) fn dry_run_name(&self) -> String {
        match self {
            Location::Gcs { bucket, .. } => bucket.clone(),
            Location::Local { dir } => dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "local".into()),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Gcs { bucket, prefix } if prefix.is_empty() => write!(f, "gs://{bucket}"),
            Location::Gcs { bucket, prefix } => write!(f, "gs://{bucket}/{prefix}"),
            Location::Local { dir } => write!(f, "file://{}", dir.display()),
        }
    }
}

/// GCS bucket naming rules (the subset that matters for a URL).
fn valid_bucket(b: &str) -> bool {
    (3..=222).contains(&b.len())
        && b.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
        && b.as_bytes()[0].is_ascii_alphanumeric()
        && b.as_bytes()[b.len() - 1].is_ascii_alphanumeric()
}

/// How to reach GCS (shared by the `gcs` sink and the `archive` source).
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// Base URL of a GCS emulator or test server, e.g.
    /// `http://127.0.0.1:4443`. OAuth is disabled for it. Empty means none.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// A service-account key file; without it, Application Default
    /// Credentials or the metadata server, as object_store finds them.
    /// Spelled `key_file`, like every credentials setting in sluice.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl Connection {
    /// The emulator endpoint, if one is set (an empty string, as
    /// `${VAR:-}` gives in a pipeline file, means none).
    pub(crate) fn endpoint(&self) -> Option<&str> {
        self.endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }

    pub(crate) fn validate(&self, prefix: &str) -> Vec<crate::component::FieldError> {
        let mut e = Vec::new();
        if let Some(ep) = self.endpoint() {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                e.push(crate::component::FieldError::new(
                    format!("{prefix}endpoint"),
                    "must be an http:// or https:// URL",
                ));
            }
        }
        e
    }
}

/// Errors opening a store; messages name the location, never credentials.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("cannot open {location}: {source}")]
    Store {
        location: String,
        source: object_store::Error,
    },
    #[error("cannot create folder {}: {source}", dir.display())]
    Folder {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// An opened store, and what it supports.
#[derive(Debug, Clone)]
pub struct Opened {
    pub store: Arc<dyn ObjectStore>,
    /// object_store's local filesystem refuses object attributes
    /// (`Content-Type`, ...); they are only sent to GCS.
    pub attributes: bool,
}

/// Opens a location for reading and writing.
///
/// `create` makes a local folder if missing (the sink); the source wants
/// a missing folder to be an error instead.
pub(crate) fn open(loc: &Location, conn: &Connection, create: bool) -> Result<Opened, OpenError> {
    match loc {
        Location::Gcs { bucket, .. } => Ok(Opened {
            store: Arc::new(gcs(bucket, conn, None).map_err(|source| OpenError::Store {
                location: loc.to_string(),
                source,
            })?),
            attributes: true,
        }),
        Location::Local { dir } => open_local(dir, create),
    }
}

/// A store over a local folder, with fsync so "finalized" means durable.
pub(crate) fn open_local(dir: &Path, create: bool) -> Result<Opened, OpenError> {
    if create {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Folder {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let fs = LocalFileSystem::new_with_prefix(dir)
        .map_err(|source| OpenError::Store {
            location: format!("file://{}", dir.display()),
            source,
        })?
        .with_fsync(true);
    Ok(Opened {
        store: Arc::new(fs),
        attributes: false,
    })
}

/// A GCS client for `bucket`. `default_headers` are sent with every
/// request (the archive source asks for stored gzip bytes with them).
pub fn gcs(
    bucket: &str,
    conn: &Connection,
    default_headers: Option<object_store::HeaderMap>,
) -> Result<object_store::gcp::GoogleCloudStorage, object_store::Error> {
    let mut options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(120));
    if let Some(h) = default_headers {
        options = options.with_default_headers(h);
    }
    // Transient failures (5xx, 429, connection resets) are retried inside
    // object_store with exponential backoff; the sink adds its own outer
    // retries on top for whole uploads.
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            base: 2.0,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(120),
    };
    let builder = match conn.endpoint() {
        Some(ep) => {
            // An emulator: a key that only carries the endpoint and turns
            // OAuth off, so no token is ever fetched (the fallback would be
            // the GCE metadata server, which is not a local address).
            let key = serde_json::json!({
                "gcs_base_url": ep.trim_end_matches('/'),
                "disable_oauth": true,
                "client_email": "",
                "private_key": "",
                "private_key_id": "",
            });
            options = options.with_allow_http(ep.starts_with("http://"));
            GoogleCloudStorageBuilder::new().with_service_account_key(key.to_string())
        }
        None => match &conn.key_file {
            Some(p) => GoogleCloudStorageBuilder::new()
                .with_service_account_path(p.to_string_lossy().into_owned()),
            None => GoogleCloudStorageBuilder::from_env(),
        },
    };
    builder
        .with_bucket_name(bucket)
        .with_client_options(options)
        .with_retry(retry)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            Location::parse("gs://my-archive/logs/2025/").unwrap(),
            Location::Gcs {
                bucket: "my-archive".into(),
                prefix: "logs/2025".into()
            }
        );
        assert_eq!(
            Location::parse("gs://my-archive").unwrap(),
            Location::Gcs {
                bucket: "my-archive".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            Location::parse("file:///var/archive").unwrap(),
            Location::Local {
                dir: "/var/archive".into()
            }
        );
        assert_eq!(
            Location::parse("./arch").unwrap(),
            Location::Local {
                dir: "./arch".into()
            }
        );
        assert!(Location::parse("gs://A_B").is_err());
        assert!(Location::parse("s3://x/y").is_err());
        assert!(Location::parse("file://rel").is_err());
        assert_eq!(Location::parse("gs://b-1/p").unwrap().dry_run_name(), "b-1");
        assert_eq!(
            Location::parse("file:///x/arch").unwrap().dry_run_name(),
            "arch"
        );
    }

    #[test]
    fn emulator_endpoint_builds_without_credentials() {
        let conn = Connection {
            endpoint: Some("http://127.0.0.1:1".into()),
            key_file: None,
        };
        // Building opens no connection; it must not need ADC or metadata.
        gcs("bucket", &conn, None).unwrap();
    }
}
