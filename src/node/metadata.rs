//! The GCE/GKE metadata server: project, cluster location, cluster name and
//! node name, read once at start-up of `sluice run`.
//!
//! Google documents the server at `http://metadata.google.internal/computeMetadata/v1/`;
//! every request must carry `Metadata-Flavor: Google` and every genuine
//! answer carries the same header back. The paths used:
//!
//! | label          | path                                  |
//! |----------------|---------------------------------------|
//! | `project_id`   | `project/project-id`                  |
//! | `location`     | `instance/attributes/cluster-location`|
//! | `cluster_name` | `instance/attributes/cluster-name`    |
//! | `node_name`    | `instance/name` (else the first label of `instance/hostname`) |
//!
//! Which server, if any, is decided by [`Endpoint::from_lookup`]: an explicit
//! `SLUICE_METADATA_URL` wins (`none` turns the lookup off), then Google's
//! own `GCE_METADATA_HOST`, and otherwise the real server is tried only
//! inside a Kubernetes pod (`KUBERNETES_SERVICE_HOST` is set), so a
//! developer's laptop never sends a request anywhere.
//!
//! The client is a minimal HTTP/1.1 GET over a tokio `TcpStream` rather than
//! an HTTP crate: the server speaks plain HTTP on the node, the answers are a
//! few bytes, and a hand-written request cannot pick up `HTTP_PROXY` from the
//! environment (metadata requests must never go through a proxy) nor pull a
//! TLS stack into a path that needs none.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Overrides the metadata server: `http://HOST[:PORT]`, `HOST[:PORT]`, or
/// `none` to never contact one.
pub const ENV_METADATA_URL: &str = "SLUICE_METADATA_URL";
/// Google's client libraries' override (`HOST[:PORT]`), honoured too.
pub(crate) const ENV_GCE_METADATA_HOST: &str = "GCE_METADATA_HOST";
/// Total time budget for the start-up lookup, in milliseconds.
pub(crate) const ENV_METADATA_TIMEOUT_MS: &str = "SLUICE_METADATA_TIMEOUT_MS";
/// Set by the kubelet in every pod; its presence enables the default server.
pub(crate) const ENV_KUBERNETES: &str = "KUBERNETES_SERVICE_HOST";

pub(crate) const DEFAULT_HOST: &str = "metadata.google.internal";
/// Long enough for the GKE metadata server to come up on a booting node,
/// short enough that a pod without one starts promptly.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt; a refused or silent server is retried until the budget ends.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1000);
/// The answers are project ids and names; anything larger is not the server.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const MAX_VALUE_BYTES: usize = 253;

pub(crate) const PATH_PROJECT: &str = "project/project-id";
pub(crate) const PATH_LOCATION: &str = "instance/attributes/cluster-location";
pub(crate) const PATH_CLUSTER: &str = "instance/attributes/cluster-name";
pub(crate) const PATH_NAME: &str = "instance/name";
pub(crate) const PATH_HOSTNAME: &str = "instance/hostname";

/// Where (and whether) to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Server {
        host: String,
        port: u16,
    },
    /// Not contacted; the reason is logged.
    Disabled(&'static str),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error("{var} must be `none`, `http://HOST[:PORT]` or `HOST[:PORT]` (the metadata server speaks plain HTTP)")]
    Invalid { var: &'static str },
}

impl Endpoint {
    /// Decides from environment variables (`lookup` is `std::env::var` in
    /// the binary, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Endpoint, EndpointError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = get(ENV_METADATA_URL) {
            if matches!(v.to_ascii_lowercase().as_str(), "none" | "off" | "disabled") {
                return Ok(Endpoint::Disabled("SLUICE_METADATA_URL turns it off"));
            }
            return parse_server(&v).ok_or(EndpointError::Invalid {
                var: ENV_METADATA_URL,
            });
        }
        if let Some(v) = get(ENV_GCE_METADATA_HOST) {
            return parse_server(&v).ok_or(EndpointError::Invalid {
                var: ENV_GCE_METADATA_HOST,
            });
        }
        if get(ENV_KUBERNETES).is_some() {
            return Ok(Endpoint::Server {
                host: DEFAULT_HOST.into(),
                port: 80,
            });
        }
        Ok(Endpoint::Disabled(
            "not in a Kubernetes pod (KUBERNETES_SERVICE_HOST unset) and SLUICE_METADATA_URL unset",
        ))
    }

    pub(crate) fn from_env() -> Result<Endpoint, EndpointError> {
        Endpoint::from_lookup(|k| std::env::var(k).ok())
    }
}

/// The lookup's time budget from `SLUICE_METADATA_TIMEOUT_MS`, else the default.
pub(crate) fn timeout_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Duration {
    lookup(ENV_METADATA_TIMEOUT_MS)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn parse_server(v: &str) -> Option<Endpoint> {
    let rest = match v.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return None,
        None => v,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '@', '?', '#', ' ']) {
        return None;
    }
    // `[::1]:8080`, `host:8080`, `host`.
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 80,
            None => return None,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), 80),
        }
    };
    if host.is_empty() || port == 0 {
        return None;
    }
    Some(Endpoint::Server { host, port })
}

/// Why a value could not be read. Never carries the server's body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Io(std::io::Error),
    #[error("malformed HTTP answer ({0})")]
    Malformed(&'static str),
    #[error("the answer lacks `Metadata-Flavor: Google`; not a metadata server")]
    NotMetadataServer,
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("the value is empty, too long or not printable")]
    BadValue,
}

impl FetchError {
    /// Errors worth a retry while the budget lasts: the server may still
    /// be starting (GKE's metadata server is itself a pod on the node).
    fn transient(&self) -> bool {
        match self {
            FetchError::Connect(_) | FetchError::Timeout(_) | FetchError::Io(_) => true,
            FetchError::Status(s) => *s >= 500,
            _ => false,
        }
    }
}

/// `Ok(None)` when the server says the value does not exist (404).
pub(crate) async fn get_value(
    host: &str,
    port: u16,
    path: &str,
    budget: Duration,
) -> Result<Option<String>, FetchError> {
    let deadline = tokio::time::Instant::now() + budget;
    let schedule = crate::backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    let mut failures = 0;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let attempt = left.min(ATTEMPT_TIMEOUT);
        let result = match tokio::time::timeout(attempt, get_once(host, port, path)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(attempt)),
        };
        match result {
            Ok(v) => return Ok(v),
            Err(e) if e.transient() => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                failures += 1;
                let wait = schedule.delay(failures);
                if left <= wait {
                    return Err(e);
                }
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn get_once(host: &str, port: u16, path: &str) -> Result<Option<String>, FetchError> {
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(FetchError::Connect)?;
    let host_header = match (host.contains(':'), port) {
        (false, 80) => host.to_string(),
        (false, p) => format!("{host}:{p}"),
        (true, p) => format!("[{host}]:{p}"),
    };
    let request = format!(
        "GET /computeMetadata/v1/{path} HTTP/1.1\r\nHost: {host_header}\r\nMetadata-Flavor: Google\r\n\
         User-Agent: sluice/{}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        crate::VERSION
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(FetchError::Io)?;
    let mut raw = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.map_err(FetchError::Io)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE_BYTES {
            return Err(FetchError::Malformed("answer too large"));
        }
        // A complete Content-Length body ends the read early, so a server
        // that keeps the connection open despite `Connection: close` is fine.
        if let Some(done) = complete_len(&raw) {
            raw.truncate(done);
            break;
        }
    }
    let resp = parse_response(&raw)?;
    match resp.status {
        200 => {}
        404 => return Ok(None),
        s => return Err(FetchError::Status(s)),
    }
    if !resp.google {
        return Err(FetchError::NotMetadataServer);
    }
    let text = std::str::from_utf8(&resp.body)
        .map_err(|_| FetchError::BadValue)?
        .trim();
    if text.is_empty() || text.len() > MAX_VALUE_BYTES || text.chars().any(|c| c.is_control()) {
        return Err(FetchError::BadValue);
    }
    Ok(Some(text.to_string()))
}

struct Response {
    status: u16,
    google: bool,
    body: Vec<u8>,
}

fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The total length of the message when its headers are in and it has a
/// `Content-Length` body that has fully arrived.
fn complete_len(raw: &[u8]) -> Option<usize> {
    let end = header_end(raw)?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    })?;
    (raw.len() >= end + len).then_some(end + len)
}

fn parse_response(raw: &[u8]) -> Result<Response, FetchError> {
    let end = header_end(raw).ok_or(FetchError::Malformed("no end of headers"))?;
    let head =
        std::str::from_utf8(&raw[..end]).map_err(|_| FetchError::Malformed("headers not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(FetchError::Malformed("not HTTP/1.x"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(FetchError::Malformed("bad status line"))?;
    let (mut google, mut chunked, mut length) = (false, false, None);
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or(FetchError::Malformed("bad header line"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("metadata-flavor") {
            google = v == "Google";
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        } else if k.eq_ignore_ascii_case("content-length") {
            length = Some(
                v.parse::<usize>()
                    .map_err(|_| FetchError::Malformed("bad Content-Length"))?,
            );
        }
    }
    let rest = &raw[end..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or(FetchError::Malformed("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        google,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(FetchError::Malformed("truncated chunk size"))?;
        let size_text = std::str::from_utf8(&rest[..eol])
            .map_err(|_| FetchError::Malformed("bad chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| FetchError::Malformed("bad chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest
            .get(..size)
            .ok_or(FetchError::Malformed("truncated chunk"))?;
        body.extend_from_slice(chunk);
        rest = rest
            .get(size + 2..)
            .ok_or(FetchError::Malformed("truncated chunk"))?;
    }
}

#[cfg(test)]
mod tests;
