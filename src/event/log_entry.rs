//! Turns an application's log line into a Cloud Logging `LogEntry`, the way
//! Google's logging agent does on GKE.
//!
//! Reference: Cloud Logging "Structured logging" (special JSON fields) and
//! the `LogEntry` resource. Rules implemented:
//! - A line that is a JSON object becomes `jsonPayload`; anything else
//!   becomes `textPayload`. A line that starts with `{` but is not valid JSON
//!   is an error (the caller dead-letters it) rather than silently text.
//! - Lifted out of `jsonPayload`: `severity`, `time`/`timestamp` (RFC 3339
//!   string, or `{seconds, nanos}`), `timestampSeconds`+`timestampNanos`,
//!   `httpRequest`, `logging.googleapis.com/labels` (-> `labels`),
//!   `.../trace`, `.../spanId`, `.../trace_sampled` (-> `traceSampled`),
//!   `.../insertId`, `.../sourceLocation`, `.../operation`.
//! - `message` stays in `jsonPayload` (Google keeps it there and shows it as
//!   the summary line; the BigQuery export schema has no top-level message).
//! - `severity` normalized to a LogSeverity name; when absent, INFO for
//!   stdout and ERROR for stderr (GKE's behaviour), DEFAULT otherwise.
//! - `timestamp` from the payload, else the runtime's framing time, else the
//!   receive time; always RFC 3339 UTC with the original precision.
//! - A line that already is a LogEntry (has `jsonPayload`, `textPayload` or
//!   `protoPayload`, as archives and Cloud Logging Pub/Sub sinks carry) is
//!   kept as is, with only `severity`/`timestamp` normalized.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value};

use super::{insert_id, severity};

/// Which runtime stream a container line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn parse(s: &[u8]) -> Option<Stream> {
        match s {
            b"stdout" => Some(Stream::Stdout),
            b"stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Everything about where entries come from that shaping needs; built once
/// per file or source, not per line.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `resource` to set on entries that carry none.
    pub resource: Value,
    /// Extra `labels` (e.g. the container id) merged under the app's labels.
    pub labels: Map<String, Value>,
    /// `projects/PROJECT/logs/` prefix of `logName`.
    pub log_name_prefix: String,
    /// Stable identity hashed into `insertId` (e.g. the container log name).
    pub identity: String,
}

impl Origin {
    pub fn new(resource: Value, project_id: &str, identity: String) -> Origin {
        Origin {
            resource,
            labels: Map::new(),
            log_name_prefix: format!("projects/{project_id}/logs/"),
            identity,
        }
    }
}

/// One decoded line with its framing metadata.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The application's bytes (CRI/docker framing removed, partials joined).
    pub payload: &'a [u8],
    /// The runtime's timestamp, if the framing had one (RFC 3339).
    pub time: Option<&'a str>,
    pub stream: Option<Stream>,
    /// The bytes hashed for `insertId`: the framed line(s) as read.
    pub raw: &'a [u8],
}

/// Why a line could not become an entry (dead-lettered with this reason).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShapeError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
}

const LABELS_KEY: &str = "logging.googleapis.com/labels";
const LIFTED: [(&str, &str); 6] = [
    ("logging.googleapis.com/trace", "trace"),
    ("logging.googleapis.com/spanId", "spanId"),
    ("logging.googleapis.com/trace_sampled", "traceSampled"),
    ("logging.googleapis.com/insertId", "insertId"),
    ("logging.googleapis.com/sourceLocation", "sourceLocation"),
    ("logging.googleapis.com/operation", "operation"),
];

/// Shapes one line into a `LogEntry`.
pub fn shape(
    line: Line<'_>,
    origin: &Origin,
    received: DateTime<Utc>,
) -> Result<Value, ShapeError> {
    let payload = trim_line_end(line.payload);
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let mut entry = Map::new();
    let mut app_severity = None;
    let mut app_time = None;
    if first == Some(b'{') {
        let parsed: Map<String, Value> = serde_json::from_slice(payload)
            .map_err(|e| ShapeError::MalformedJson(crate::decode::json_error(&e)))?;
        if is_log_entry(&parsed) {
            return Ok(normalize_entry(parsed, line, origin, received));
        }
        let mut json = parsed;
        app_severity = json.remove("severity");
        app_time = take_time(&mut json);
        if let Some(h) = json.remove("httpRequest") {
            entry.insert("httpRequest".into(), h);
        }
        if let Some(Value::Object(l)) = json.remove(LABELS_KEY) {
            let mut labels = origin.labels.clone();
            labels.extend(l);
            entry.insert("labels".into(), Value::Object(labels));
        }
        for (from, to) in LIFTED {
            if let Some(v) = json.remove(from) {
                entry.insert(to.into(), v);
            }
        }
        entry.insert("jsonPayload".into(), Value::Object(json));
    } else {
        let text = String::from_utf8_lossy(payload).into_owned();
        entry.insert("textPayload".into(), Value::String(text));
    }

    let sev = app_severity
        .as_ref()
        .and_then(severity_name)
        .unwrap_or(match line.stream {
            Some(Stream::Stdout) => "INFO",
            Some(Stream::Stderr) => "ERROR",
            None => "DEFAULT",
        });
    entry.insert("severity".into(), Value::String(sev.into()));
    let ts = app_time
        .or_else(|| line.time.and_then(parse_rfc3339))
        .unwrap_or(received);
    entry.insert("timestamp".into(), Value::String(format_ts(ts)));
    entry.insert(
        "receiveTimestamp".into(),
        Value::String(format_ts(received)),
    );
    let stream = line.stream.map_or("default", Stream::as_str);
    entry.insert(
        "logName".into(),
        Value::String(format!("{}{}", origin.log_name_prefix, stream)),
    );
    entry.insert("resource".into(), origin.resource.clone());
    if !entry.contains_key("labels") && !origin.labels.is_empty() {
        entry.insert("labels".into(), Value::Object(origin.labels.clone()));
    }
    if !entry.contains_key("insertId") {
        let id = insert_id::compute(origin.identity.as_bytes(), line.raw);
        entry.insert("insertId".into(), Value::String(id));
    }
    Ok(Value::Object(entry))
}

fn trim_line_end(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &b[..end]
}

fn is_log_entry(m: &Map<String, Value>) -> bool {
    m.contains_key("jsonPayload") || m.contains_key("textPayload") || m.contains_key("protoPayload")
}

/// Keeps an existing LogEntry, filling only what is missing.
fn normalize_entry(
    mut m: Map<String, Value>,
    line: Line<'_>,
    origin: &Origin,
    received: DateTime<Utc>,
) -> Value {
    let sev = m
        .get("severity")
        .and_then(severity_name)
        .unwrap_or("DEFAULT");
    m.insert("severity".into(), Value::String(sev.into()));
    let ts = take_time(&mut m).unwrap_or(received);
    m.insert("timestamp".into(), Value::String(format_ts(ts)));
    if !m.contains_key("resource") {
        m.insert("resource".into(), origin.resource.clone());
    }
    if !m.contains_key("insertId") {
        let id = insert_id::compute(origin.identity.as_bytes(), line.raw);
        m.insert("insertId".into(), Value::String(id));
    }
    Value::Object(m)
}

fn severity_name(v: &Value) -> Option<&'static str> {
    match v {
        Value::String(s) => severity::normalize(s),
        Value::Number(n) => n.as_i64().and_then(severity::from_number),
        _ => None,
    }
}

/// Removes and parses the payload's time fields, in Google's precedence.
fn take_time(m: &mut Map<String, Value>) -> Option<DateTime<Utc>> {
    let mut found = None;
    if let Some(v) = m.remove("timestamp") {
        found = match &v {
            Value::String(s) => parse_rfc3339(s),
            Value::Object(o) => seconds_nanos(o.get("seconds"), o.get("nanos")),
            _ => None,
        };
        if found.is_none() {
            // Not a time we understand: keep it in the payload, lose nothing.
            m.insert("timestamp".into(), v);
        }
    }
    if found.is_none() {
        if let (Some(s), n) = (m.get("timestampSeconds"), m.get("timestampNanos")) {
            found = seconds_nanos(Some(s), n);
            if found.is_some() {
                m.remove("timestampSeconds");
                m.remove("timestampNanos");
            }
        }
    }
    if found.is_none() {
        if let Some(Value::String(s)) = m.get("time") {
            found = parse_rfc3339(s);
            if found.is_some() {
                m.remove("time");
            }
        }
    }
    found
}

fn seconds_nanos(s: Option<&Value>, n: Option<&Value>) -> Option<DateTime<Utc>> {
    let secs = s?.as_i64().or_else(|| s?.as_str()?.parse().ok())?;
    let nanos = n.and_then(Value::as_u64).unwrap_or(0);
    Utc.timestamp_opt(secs, u32::try_from(nanos).ok()?).single()
}

/// Parses RFC 3339 (with any offset) to UTC.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 in UTC with `Z`, keeping sub-second precision as needed.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> Origin {
        let mut o = Origin::new(
            json!({"type": "k8s_container", "labels": {"namespace_name": "coditect"}}),
            "proj",
            "license-api_coditect_django".into(),
        );
        o.labels.insert("k8s.io/container_id".into(), json!("abc"));
        o
    }

    fn line<'a>(payload: &'a [u8], stream: Option<Stream>) -> Line<'a> {
        Line {
            payload,
            time: Some("2025-11-30T12:34:56.789012345Z"),
            stream,
            raw: payload,
        }
    }

    #[test]
    fn lifts_special_fields() {
        let now = Utc::now();
        let l = br#"{"severity":"warn","message":"hi","time":"2025-11-30T12:00:00+01:00","httpRequest":{"status":503},"logging.googleapis.com/trace":"projects/p/traces/t","logging.googleapis.com/labels":{"a":"b"},"user_id":"u"}"#;
        let e = shape(line(l, Some(Stream::Stdout)), &origin(), now).unwrap();
        assert_eq!(e["severity"], "WARNING");
        assert_eq!(e["timestamp"], "2025-11-30T11:00:00Z");
        assert_eq!(e["httpRequest"]["status"], 503);
        assert_eq!(e["trace"], "projects/p/traces/t");
        assert_eq!(e["labels"]["a"], "b");
        assert_eq!(e["labels"]["k8s.io/container_id"], "abc");
        assert_eq!(e["jsonPayload"], json!({"message": "hi", "user_id": "u"}));
        assert_eq!(e["logName"], "projects/proj/logs/stdout");
        assert_eq!(e["resource"]["type"], "k8s_container");
        assert_eq!(e["insertId"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn text_and_stream_defaults() {
        let now = Utc::now();
        let e = shape(
            line(
                b"Traceback (most recent call last):\n",
                Some(Stream::Stderr),
            ),
            &origin(),
            now,
        )
        .unwrap();
        assert_eq!(e["textPayload"], "Traceback (most recent call last):");
        assert_eq!(e["severity"], "ERROR");
        assert_eq!(e["timestamp"], "2025-11-30T12:34:56.789012345Z");
    }

    #[test]
    fn malformed_json_is_an_error() {
        let err = shape(line(br#"{"severity":"INFO","#, None), &origin(), Utc::now()).unwrap_err();
        assert!(matches!(err, ShapeError::MalformedJson(_)));
    }

    #[test]
    fn existing_log_entry_kept() {
        let l = br#"{"insertId":"keep","severity":"INFO","timestamp":"2025-11-30T12:34:56.789Z","jsonPayload":{"x":1},"resource":{"type":"global"}}"#;
        let e = shape(line(l, None), &origin(), Utc::now()).unwrap();
        assert_eq!(e["insertId"], "keep");
        assert_eq!(e["resource"]["type"], "global");
        assert_eq!(e["jsonPayload"]["x"], 1);
    }

    #[test]
    fn insert_id_deterministic() {
        let now = Utc::now();
        let a = shape(line(b"{\"a\":1}", None), &origin(), now).unwrap();
        let b = shape(
            line(b"{\"a\":1}", None),
            &origin(),
            now + chrono::Duration::seconds(5),
        )
        .unwrap();
        assert_eq!(a["insertId"], b["insertId"]);
    }
}
