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
    pub(crate) fn parse(s: &[u8]) -> Option<Stream> {
        match s {
            b"stdout" => Some(Stream::Stdout),
            b"stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
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
    pub(crate) resource: Value,
    /// Extra `labels` (e.g. the container id) merged under the app's labels.
    pub(crate) labels: Map<String, Value>,
    /// `projects/PROJECT/logs/` prefix of `logName`.
    pub(crate) log_name_prefix: String,
    /// Stable identity hashed into `insertId` (e.g. the container log name).
    pub(crate) identity: String,
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
    /// Where the line starts in its stream (file: byte offset; stdin and
    /// archive objects: line number), hashed into `insertId` so identical
    /// lines at different positions stay distinct. `None` where the
    /// origin's identity already names the position (a broker message).
    pub position: Option<u64>,
}

/// Why a line could not become an entry (dead-lettered with this reason).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShapeError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
}

/// A serde_json error as a reason that quotes nothing of the input: what is
/// wrong and where. serde_json's own message can carry the value (`invalid
/// type: integer `4111111111111111`, expected a string`), and reasons are
/// written to the dead-letter output and logs. Valid JSON nested deeper than
/// serde_json's limit is named as such, not as a syntax error.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "read error",
        // serde_json reports its depth limit as a syntax error; the text of
        // that one message is fixed and quotes nothing.
        Category::Syntax if e.to_string().starts_with("recursion limit exceeded") => {
            "nesting deeper than 128 levels"
        }
        Category::Syntax => "syntax error",
        Category::Data => "unexpected value type",
        Category::Eof => "unexpected end of input",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
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
        let parsed: Map<String, Value> = serde_json::from_slice(payload).map_err(|e| {
            // Bad bytes are named by offset rather than as a syntax error.
            ShapeError::MalformedJson(match std::str::from_utf8(payload) {
                Err(u) => format!("invalid UTF-8 at byte {}", u.valid_up_to()),
                Ok(_) => json_error(&e),
            })
        })?;
        if is_log_entry(&parsed) {
            return Ok(normalize_entry(parsed, line, origin, received));
        }
        let mut json = parsed;
        app_severity = json.remove("severity");
        app_time = take_time(&mut json);
        if let Some(mut h) = json.remove("httpRequest") {
            shape_http_request(&mut h);
            entry.insert("httpRequest".into(), h);
        }
        if let Some(Value::Object(l)) = json.remove(LABELS_KEY) {
            let mut labels = origin.labels.clone();
            labels.extend(l);
            entry.insert("labels".into(), Value::Object(labels));
        }
        for (from, to) in LIFTED {
            if let Some(mut v) = json.remove(from) {
                if to == "operation" {
                    shape_operation(&mut v);
                }
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
        let id = insert_id::compute(origin.identity.as_bytes(), line.position, line.raw);
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
        let id = insert_id::compute(origin.identity.as_bytes(), line.position, line.raw);
        m.insert("insertId".into(), Value::String(id));
    }
    Value::Object(m)
}

fn severity_name(v: &Value) -> Option<&'static str> {
    match v {
        Value::String(s) => severity::normalize(s),
        Value::Number(n) => match n.as_i64() {
            Some(i) => severity::from_number(i),
            None => n.as_f64().and_then(severity::from_f64),
        },
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

/// `timestampSeconds`/`timestampNanos` (or `{seconds, nanos}`), each a
/// JSON number or a numeric string: proto3 JSON writes int64 as strings.
fn seconds_nanos(s: Option<&Value>, n: Option<&Value>) -> Option<DateTime<Utc>> {
    fn int(v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    let secs = int(s?)?;
    let nanos = match n {
        None => 0,
        Some(v) => int(v)?,
    };
    Utc.timestamp_opt(secs, u32::try_from(nanos).ok()?).single()
}

/// `LogEntryOperation.first` and `.last` are booleans; Google's
/// structured-logging example writes them as the strings `"true"` and
/// `"false"`, and the agent stores booleans. Anything else is kept.
fn shape_operation(op: &mut Value) {
    let Value::Object(m) = op else { return };
    for key in ["first", "last"] {
        if let Some(v) = m.get_mut(key) {
            let b = match v.as_str().map(str::trim) {
                Some(t) if t.eq_ignore_ascii_case("true") => true,
                Some(t) if t.eq_ignore_ascii_case("false") => false,
                _ => continue,
            };
            *v = Value::Bool(b);
        }
    }
}

/// Converts the typed `HttpRequest` fields to their LogEntry JSON form
/// (HttpRequest reference; proto3 JSON mapping): `status` (int32) a JSON
/// integer; `requestSize`, `responseSize`, `cacheFillBytes` (int64) a
/// decimal string; the cache flags booleans; `latency` (Duration) a
/// `"1.5s"` string. A value that does not convert is kept as written, so
/// nothing is lost (the sink reports it if its column refuses it).
fn shape_http_request(h: &mut Value) {
    let Value::Object(m) = h else { return };
    for (k, v) in m.iter_mut() {
        let new = match (k.as_str(), &*v) {
            ("status", Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
            ("status", Value::Number(n)) if !n.is_i64() => n
                .as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 1e15)
                .map(|x| Value::from(x as i64)),
            ("requestSize" | "responseSize" | "cacheFillBytes", Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|x| x.fract() == 0.0 && x.abs() < 1e15)
                        .map(|x| x as i64)
                })
                .map(|i| Value::String(i.to_string())),
            ("requestSize" | "responseSize" | "cacheFillBytes", Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .ok()
                .map(|i| i.to_string())
                .filter(|c| c != s)
                .map(Value::String),
            ("cacheLookup" | "cacheHit" | "cacheValidatedWithOriginServer", Value::String(s)) => {
                match s.trim() {
                    t if t.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
                    t if t.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
                    _ => None,
                }
            }
            ("latency", Value::Number(n)) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .map(|x| Value::String(format_duration((x * 1e9).round() as i128))),
            ("latency", Value::String(s)) => crate::logging_query::parse_duration(s)
                .map(format_duration)
                .filter(|f| f != s)
                .map(Value::String),
            _ => None,
        };
        if let Some(n) = new {
            *v = n;
        }
    }
}

/// proto3 JSON form of a Duration: seconds with 0, 3, 6 or 9 decimals.
fn format_duration(nanos: i128) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let (secs, frac) = (n / 1_000_000_000, n % 1_000_000_000);
    match frac {
        0 => format!("{sign}{secs}s"),
        f if f % 1_000_000 == 0 => format!("{sign}{secs}.{:03}s", f / 1_000_000),
        f if f % 1_000 == 0 => format!("{sign}{secs}.{:06}s", f / 1_000),
        f => format!("{sign}{secs}.{f:09}s"),
    }
}

/// Parses RFC 3339 (with any offset) to UTC.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 in UTC with `Z`, keeping sub-second precision as needed.
pub(crate) fn format_ts(t: DateTime<Utc>) -> String {
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
            position: None,
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

    /// Issue 22 (4): valid JSON nested too deep was reported as a syntax
    /// error. The reason names the depth and the position, and quotes no
    /// value in either case.
    #[test]
    fn json_nested_too_deep_is_named_as_such_not_as_a_syntax_error() {
        let deep = format!(
            "{{\"card\":\"4111111111111111\",\"a\":{}1{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let err = shape(line(deep.as_bytes(), None), &origin(), Utc::now()).unwrap_err();
        let reason = err.to_string();
        assert!(
            reason.starts_with("malformed JSON: nesting deeper than 128 levels at line 1 column"),
            "{reason}"
        );
        assert!(!reason.contains("4111"), "{reason}");
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(shape(line(ok.as_bytes(), None), &origin(), Utc::now()).is_ok());
        let bad = shape(
            line(br#"{"card":"4111111111111111" x}"#, None),
            &origin(),
            Utc::now(),
        );
        let reason = bad.unwrap_err().to_string();
        assert_eq!(reason, "malformed JSON: syntax error at line 1 column 28");
        let bad = shape(
            line(b"{\"m\":\"caf\xe9 4111\"}", None),
            &origin(),
            Utc::now(),
        );
        let reason = bad.unwrap_err().to_string();
        assert_eq!(reason, "malformed JSON: invalid UTF-8 at byte 9");
    }

    /// Issue 22 (12): Google's structured-logging example writes
    /// `"first": "true"` and shows the entry with `"first": true`.
    #[test]
    fn operation_first_and_last_become_booleans_as_the_agent_makes_them() {
        let l = br#"{"message":"op","logging.googleapis.com/operation":{"id":"get_data","producer":"github.com/MyProject/MyApplication","first":"true","last":"FALSE"}}"#;
        let e = shape(line(l, Some(Stream::Stdout)), &origin(), Utc::now()).unwrap();
        assert_eq!(
            e["operation"],
            json!({"id": "get_data", "producer": "github.com/MyProject/MyApplication", "first": true, "last": false})
        );
        let l = br#"{"logging.googleapis.com/operation":{"id":"x","first":"maybe","last":true}}"#;
        let e = shape(line(l, None), &origin(), Utc::now()).unwrap();
        assert_eq!(
            e["operation"],
            json!({"id": "x", "first": "maybe", "last": true})
        );
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

    /// Special JSON fields as Google's agent shapes them. "Structured
    /// logging" is <https://cloud.google.com/logging/docs/structured-logging>
    /// (section "Special JSON fields in messages"); HttpRequest is
    /// <https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest>.
    #[test]
    fn special_fields_as_google_documents() {
        let cases: &[(&str, &str, &str, Value)] = &[
            // Structured logging: `logging.googleapis.com/operation` becomes
            // `operation`, a LogEntryOperation whose `first`/`last` are
            // booleans; they are not turned into text.
            (
                "Structured logging: operation keeps its types",
                r#"{"logging.googleapis.com/operation":{"id":"op","producer":"p","first":true,"last":false}}"#,
                "/operation",
                json!({"id": "op", "producer": "p", "first": true, "last": false}),
            ),
            // Structured logging, `severity`: a number maps to the nearest
            // lower LogSeverity. The page says numbers are accepted; that a
            // numeric string is read the same way is what the agent's
            // examples show (the page is silent on strings).
            (
                "Structured logging: numeric severity",
                r#"{"severity":450}"#,
                "/severity",
                json!("WARNING"),
            ),
            (
                "Structured logging: numeric string severity",
                r#"{"severity":"450"}"#,
                "/severity",
                json!("WARNING"),
            ),
            (
                "Structured logging: severity above 800",
                r#"{"severity":900}"#,
                "/severity",
                json!("EMERGENCY"),
            ),
            (
                "Structured logging: exact level",
                r#"{"severity":500}"#,
                "/severity",
                json!("ERROR"),
            ),
            (
                "Structured logging: fractional severity",
                r#"{"severity":199.5}"#,
                "/severity",
                json!("DEBUG"),
            ),
            // Structured logging, `timestampSeconds`/`timestampNanos`:
            // proto3 JSON writes int64 as strings, so both forms are read.
            (
                "Structured logging: timestampSeconds/Nanos as strings",
                r#"{"timestampSeconds":"1764506096","timestampNanos":"789000001"}"#,
                "/timestamp",
                json!("2025-11-30T12:34:56.789000001Z"),
            ),
            (
                "Structured logging: timestampSeconds/Nanos as numbers",
                r#"{"timestampSeconds":1764506096,"timestampNanos":5}"#,
                "/timestamp",
                json!("2025-11-30T12:34:56.000000005Z"),
            ),
            (
                "Structured logging: timestamp {seconds, nanos} strings",
                r#"{"timestamp":{"seconds":"1764506096","nanos":"1000"}}"#,
                "/timestamp",
                json!("2025-11-30T12:34:56.000001Z"),
            ),
            // HttpRequest: `status` is int32.
            (
                "HttpRequest: status as a string",
                r#"{"httpRequest":{"status":"503"}}"#,
                "/httpRequest/status",
                json!(503),
            ),
            (
                "HttpRequest: status as a number",
                r#"{"httpRequest":{"status":404}}"#,
                "/httpRequest/status",
                json!(404),
            ),
            // HttpRequest: sizes are int64, a decimal string in proto3 JSON.
            (
                "HttpRequest: requestSize int64",
                r#"{"httpRequest":{"requestSize":1234}}"#,
                "/httpRequest/requestSize",
                json!("1234"),
            ),
            (
                "HttpRequest: responseSize int64",
                r#"{"httpRequest":{"responseSize":" 99 "}}"#,
                "/httpRequest/responseSize",
                json!("99"),
            ),
            (
                "HttpRequest: cacheFillBytes int64",
                r#"{"httpRequest":{"cacheFillBytes":"7"}}"#,
                "/httpRequest/cacheFillBytes",
                json!("7"),
            ),
            // HttpRequest: the cache flags are booleans.
            (
                "HttpRequest: cacheHit bool",
                r#"{"httpRequest":{"cacheHit":"true"}}"#,
                "/httpRequest/cacheHit",
                json!(true),
            ),
            (
                "HttpRequest: cacheLookup bool",
                r#"{"httpRequest":{"cacheLookup":"FALSE"}}"#,
                "/httpRequest/cacheLookup",
                json!(false),
            ),
            (
                "HttpRequest: cacheValidatedWithOriginServer bool",
                r#"{"httpRequest":{"cacheValidatedWithOriginServer":true}}"#,
                "/httpRequest/cacheValidatedWithOriginServer",
                json!(true),
            ),
            // HttpRequest: latency is a Duration, "0.153s" in JSON. A bare
            // number is read as seconds (the reference is silent on it).
            (
                "HttpRequest: latency Duration string",
                r#"{"httpRequest":{"latency":"0.153s"}}"#,
                "/httpRequest/latency",
                json!("0.153s"),
            ),
            (
                "HttpRequest: latency in ms",
                r#"{"httpRequest":{"latency":"153ms"}}"#,
                "/httpRequest/latency",
                json!("0.153s"),
            ),
            (
                "HttpRequest: latency as seconds",
                r#"{"httpRequest":{"latency":1.5}}"#,
                "/httpRequest/latency",
                json!("1.500s"),
            ),
            // What does not convert is kept as written (nothing lost).
            (
                "HttpRequest: unconvertible status kept",
                r#"{"httpRequest":{"status":"teapot"}}"#,
                "/httpRequest/status",
                json!("teapot"),
            ),
        ];
        let mut failures = Vec::new();
        for (doc, input, ptr, want) in cases {
            let e = shape(
                line(input.as_bytes(), Some(Stream::Stdout)),
                &origin(),
                Utc::now(),
            )
            .unwrap_or_else(|err| panic!("{doc}: {err}"));
            let got = e.pointer(ptr).cloned().unwrap_or(Value::Null);
            if &got != want {
                failures.push(format!("{doc}: {input} -> {ptr} = {got}, want {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
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
