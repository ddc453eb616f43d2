//! Access tokens, `tabledata.insertAll`, and retry classification.
//!
//! insertAll is called with `reqwest` directly rather than through
//! `gcp-bigquery-client`'s `insert_all`: that one takes typed rows and
//! serializes them at send time, while sluice's encoder has already built
//! the exact body bytes in one pass (and dry-run must write those same
//! bytes); and it folds the HTTP status into an error body parse, while
//! retrying needs the status itself (429 and 5xx, including non-JSON
//! proxy errors). The crate is used for tokens' trait and table management.
//!
//! Retries: 408, 429, 5xx, 401 (token refresh), 403 `rateLimitExceeded` /
//! `quotaExceeded` and network errors are retried with exponential backoff
//! (0.5 s doubling to 30 s, with jitter) until `max_retry_secs`. Per-row
//! `insertErrors` with reason `backendError`, `internalError`, `timeout`,
//! `rateLimitExceeded` or `stopped` (a valid row held back by an invalid
//! one), or "no such field" (a column added by `tables.patch` that the
//! streaming backend does not see yet) are retried the same way; other row
//! errors are final and the row goes to dead-letter with BigQuery's reason.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::yup_oauth2;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::config::{Auth, Config};

const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

/// A fixed token (emulators).
#[derive(Clone)]
struct StaticToken(String);

#[async_trait]
impl Authenticator for StaticToken {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok(self.0.clone())
    }
}

/// yup-oauth2 (service-account key, or ADC) with its own token cache.
#[derive(Clone)]
struct Yup(yup_oauth2::authenticator::DefaultAuthenticator);

#[async_trait]
impl Authenticator for Yup {
    async fn access_token(&self) -> Result<String, BQError> {
        let t = self.0.token(&[SCOPE]).await?;
        t.token().map(str::to_string).ok_or(BQError::NoToken)
    }
}

/// The metadata server (GKE workload identity), with the token cached
/// until a minute before it expires. The crate's own workload-identity
/// authenticator fetches a new token for every call.
#[derive(Clone)]
struct Metadata {
    http: reqwest::Client,
    url: String,
    cache: Arc<Mutex<Option<(String, Instant)>>>,
}

#[derive(Deserialize)]
struct MetadataToken {
    access_token: String,
    expires_in: u64,
}

#[async_trait]
impl Authenticator for Metadata {
    async fn access_token(&self) -> Result<String, BQError> {
        let mut c = self.cache.lock().await;
        if let Some((t, until)) = c.as_ref() {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let r: MetadataToken = self
            .http
            .get(&self.url)
            .header("Metadata-Flavor", "Google")
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let until = Instant::now() + Duration::from_secs(r.expires_in.saturating_sub(60));
        *c = Some((r.access_token.clone(), until));
        Ok(r.access_token)
    }
}

/// The HTTP client of every BigQuery call: the request timeout from the
/// config, a short connect timeout.
pub(crate) fn http_client(cfg: &Config) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(cfg.request_timeout_secs))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// Builds the token source the config asks for. Opens no connection
/// itself (tokens are fetched on first use).
pub(crate) async fn authenticator(cfg: &Config) -> Result<Arc<dyn Authenticator>, String> {
    Ok(match cfg.auth {
        Auth::Token => Arc::new(StaticToken(
            cfg.token.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        )),
        Auth::KeyFile => {
            let path = cfg.key_file.clone().unwrap_or_default();
            let key = yup_oauth2::read_service_account_key(&path)
                .await
                .map_err(|e| format!("key_file {}: {e}", path.display()))?;
            let a = yup_oauth2::ServiceAccountAuthenticator::builder(key)
                .build()
                .await
                .map_err(|e| format!("key_file {}: {e}", path.display()))?;
            Arc::new(Yup(a))
        }
        Auth::Adc => {
            let opts = yup_oauth2::ApplicationDefaultCredentialsFlowOpts::default();
            let a = match yup_oauth2::ApplicationDefaultCredentialsAuthenticator::builder(opts)
                .await
            {
                yup_oauth2::authenticator::ApplicationDefaultCredentialsTypes::ServiceAccount(
                    b,
                ) => b.build().await,
                yup_oauth2::authenticator::ApplicationDefaultCredentialsTypes::InstanceMetadata(
                    b,
                ) => b.build().await,
            }
            .map_err(|e| format!("application default credentials: {e}"))?;
            Arc::new(Yup(a))
        }
        Auth::Metadata => {
            let host = std::env::var("GCE_METADATA_HOST")
                .unwrap_or_else(|_| "metadata.google.internal".into());
            Arc::new(Metadata {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| format!("http client: {e}"))?,
                url: format!(
                    "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
                ),
                cache: Arc::new(Mutex::new(None)),
            })
        }
    })
}

/// Statuses worth retrying.
pub(crate) fn retriable_status(s: u16) -> bool {
    matches!(s, 401 | 408 | 429 | 500..=599)
}

/// Error reasons (in a 403 body or a row's `insertErrors`) worth retrying.
pub(crate) fn retriable_reason(reason: &str) -> bool {
    matches!(
        reason,
        "backendError"
            | "internalError"
            | "timeout"
            | "rateLimitExceeded"
            | "quotaExceeded"
            | "stopped"
    )
}

/// A whole-request failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    /// Try again later (429, 5xx, network...).
    Retriable(String),
    /// The body is too large for BigQuery: split the batch.
    TooLarge,
    /// The table vanished (deleted, or a shard expired): create it again.
    NotFound,
    /// Refused for good; the message is BigQuery's.
    Fatal(String),
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize, Default, Clone)]
pub(crate) struct ErrorItem {
    #[serde(default)]
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) location: String,
}

/// BigQuery's message up to its first `": "`: BigQuery appends the
/// offending value after it (`Cannot convert value to timestamp (bad
/// value): VALUE`), and dead-letter reasons are not redacted, so the value
/// must not reach them.
pub(crate) fn without_values(message: &str) -> &str {
    message.split(": ").next().unwrap_or("").trim()
}

/// Classifies a non-2xx insertAll response from its status and body.
pub(crate) fn classify_response(status: u16, body: &[u8]) -> SendError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let reason = parsed
        .error
        .errors
        .first()
        .map(|e| e.reason.clone())
        .unwrap_or_default();
    let msg = format!(
        "HTTP {status}{}{}",
        if reason.is_empty() { "" } else { " " },
        reason
    );
    let m = without_values(&parsed.error.message);
    let msg = if m.is_empty() {
        msg
    } else {
        format!("{msg}: {m}")
    };
    if status == 413 || (status == 400 && parsed.error.message.contains("too large")) {
        return SendError::TooLarge;
    }
    if status == 404 {
        return SendError::NotFound;
    }
    if retriable_status(status) || (status == 403 && retriable_reason(&reason)) {
        return SendError::Retriable(msg);
    }
    SendError::Fatal(msg)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct InsertResponse {
    #[serde(default)]
    insert_errors: Vec<InsertError>,
}

#[derive(Deserialize)]
struct InsertError {
    index: usize,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

/// One refused row of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowFailure {
    pub(crate) index: usize,
    pub(crate) retriable: bool,
    /// BigQuery's reason, location and message.
    pub(crate) reason: String,
}

/// Turns a 200 response's `insertErrors` into per-row outcomes.
pub(crate) fn row_failures(body: &[u8]) -> Result<Vec<RowFailure>, String> {
    let r: InsertResponse =
        serde_json::from_slice(body).map_err(|e| format!("unreadable insertAll response: {e}"))?;
    let mut out = Vec::with_capacity(r.insert_errors.len());
    for ie in r.insert_errors {
        // A row is final if any of its errors is final.
        let retriable = !ie.errors.is_empty()
            && ie
                .errors
                .iter()
                .all(|e| retriable_reason(&e.reason) || e.message.contains("no such field"));
        let reason = ie
            .errors
            .iter()
            .filter(|e| e.reason != "stopped" || ie.errors.len() == 1)
            .map(|e| {
                let mut s = format!(
                    "bigquery {}",
                    if e.reason.is_empty() {
                        "error"
                    } else {
                        e.reason.as_str()
                    }
                );
                if !e.location.is_empty() {
                    s.push_str(&format!(" at `{}`", e.location));
                }
                let m = without_values(&e.message);
                if !m.is_empty() {
                    s.push_str(": ");
                    s.push_str(m);
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(RowFailure {
            index: ie.index,
            retriable,
            reason: if reason.is_empty() {
                "bigquery refused the row".into()
            } else {
                reason
            },
        });
    }
    Ok(out)
}

/// Sends insertAll requests.
pub(crate) struct Api {
    http: reqwest::Client,
    auth: Arc<dyn Authenticator>,
    base: String,
    compression: bool,
}

impl Api {
    pub(crate) fn new(cfg: &Config, auth: Arc<dyn Authenticator>, http: reqwest::Client) -> Api {
        Api {
            http,
            auth,
            base: format!(
                "{}/projects/{}/datasets/{}/tables/",
                cfg.base_url(),
                cfg.project,
                cfg.dataset
            ),
            compression: cfg.compression,
        }
    }

    /// One insertAll call. `Ok` carries the refused rows (empty when all
    /// landed).
    pub(crate) async fn insert_all(
        &self,
        table: &str,
        body: bytes::Bytes,
    ) -> Result<Vec<RowFailure>, SendError> {
        let token = self
            .auth
            .access_token()
            .await
            .map_err(|e| SendError::Retriable(format!("access token: {e}")))?;
        let url = format!("{}{table}/insertAll", self.base);
        let mut req = self
            .http
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        req = if self.compression {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            enc.write_all(&body)
                .and_then(|_| enc.finish())
                .map(|z| {
                    req.header(reqwest::header::CONTENT_ENCODING, "gzip")
                        .body(z)
                })
                .map_err(|e| SendError::Fatal(format!("gzip: {e}")))?
        } else {
            req.body(body)
        };
        let resp = req
            .send()
            .await
            .map_err(|e| SendError::Retriable(format!("insertAll: {}", describe_reqwest(&e))))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| {
            SendError::Retriable(format!("insertAll response: {}", describe_reqwest(&e)))
        })?;
        if !(200..300).contains(&status) {
            return Err(classify_response(status, &bytes));
        }
        row_failures(&bytes).map_err(SendError::Retriable)
    }
}

/// reqwest's error without the URL (which is harmless, but long).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body"
    } else {
        "request failed"
    };
    let mut s = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// BigQuery's retry schedule: 0.5 s doubling to 30 s, jittered, within
/// `max_retry_secs`.
pub(crate) const RETRY: crate::backoff::Backoff =
    crate::backoff::Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
