//! Issue 17: the shipped alerts, end to end, on 127.0.0.1.
//!
//! The shipped node pipeline (`pipelines/gke-node.toml`, its BigQuery and
//! GCS sinks swapped for file sinks so nothing leaves loopback) tails
//! generated license-API traffic. A real Prometheus scrapes sluice's
//! `/metrics` and evaluates the shipped rules
//! (`deploy/prometheus/sluice-rules.yaml`) with their durations compressed
//! by text substitution; a real Alertmanager routes the alerts to a webhook
//! this test serves. The 5xx share goes from 1% to 8% and back while the
//! p99 latency and the license failure rate cross their thresholds and come
//! back. Each alert must fire only once its condition held for its `for:`,
//! resolve after the condition ends, carry the namespace and its breakdown
//! (status codes, reasons), and hold nothing `sluice audit` flags.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::log_metrics::{get, Guard};
use crate::support::{repo, require_service, sluice_bin};

// ---------------------------------------------------------------- compressed time

/// Every duration of the shipped rule file and what the test runs it at.
/// The test fails if the file holds a duration not listed here, so a new
/// rule cannot slip through at production speed (and time out).
const GROUP_INTERVAL: (&str, &str) = ("interval: 30s", "interval: 1s");
const RATE_WINDOW: (&str, &str) = ("[5m]", "[10s]");
/// `for:` as shipped, as tested, and the tested value in seconds.
const HOLDS: [(&str, &str, f64); 2] = [("for: 5m", "for: 8s", 8.0), ("for: 1m", "for: 4s", 4.0)];

/// The three alerts of the shipped file, all driven by this test.
const ERRORS: &str = "HttpErrorRatioHigh";
const LATENCY: &str = "HttpLatencyP99High";
const FAILURES: &str = "LicenseAcquisitionFailuresHigh";
const ALERTS: [&str; 3] = [ERRORS, LATENCY, FAILURES];

/// One shipped alerting rule with the test's durations.
struct Rule {
    expr: String,
    hold_secs: f64,
}

/// The shipped rule text with the test durations, and each alert's
/// expression and `for:` as Prometheus will evaluate them.
fn compressed_rules() -> (String, BTreeMap<String, Rule>) {
    let shipped =
        std::fs::read_to_string(repo().join("deploy/prometheus/sluice-rules.yaml")).unwrap();
    let mut text = shipped.clone();
    for (from, to) in [GROUP_INTERVAL, RATE_WINDOW]
        .into_iter()
        .chain(HOLDS.iter().map(|(f, t, _)| (*f, *t)))
    {
        assert!(
            text.contains(from),
            "deploy/prometheus/sluice-rules.yaml has no `{from}` any more: update the \
             test's durations (tests/it/alerting.rs)"
        );
        text = text.replace(from, to);
    }
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let ranges = regex::Regex::new(r"\[([0-9a-z]+)\]").unwrap();
    let mut rules = BTreeMap::new();
    for g in doc["groups"].as_array().unwrap() {
        assert_eq!(g["interval"], "1s", "group {} interval", g["name"]);
        for r in g["rules"].as_array().unwrap() {
            let name = r["alert"]
                .as_str()
                .expect("only alerting rules")
                .to_string();
            let hold = r["for"].as_str().unwrap_or("none");
            let hold_secs = HOLDS
                .iter()
                .find(|(_, t, _)| *t == format!("for: {hold}"))
                .unwrap_or_else(|| panic!("{name}: `for: {hold}` has no test duration"))
                .2;
            let mut texts = vec![r["expr"].as_str().unwrap().to_string()];
            texts.extend(
                r["annotations"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|v| v.as_str().unwrap().to_string()),
            );
            for t in &texts {
                for c in ranges.captures_iter(t) {
                    assert_eq!(&c[1], "10s", "{name}: range [{}] not compressed", &c[1]);
                }
            }
            rules.insert(
                name,
                Rule {
                    expr: texts[0].clone(),
                    hold_secs,
                },
            );
        }
    }
    let names: Vec<&str> = rules.keys().map(String::as_str).collect();
    let mut want = ALERTS.to_vec();
    want.sort_unstable();
    assert_eq!(names, want, "the test drives every shipped alert");
    (text, rules)
}

// ---------------------------------------------------------------- traffic

/// What the generated license API is doing.
#[derive(Clone, Copy)]
struct Load {
    /// Share of requests answered 5xx (two 503s for each 500).
    error_share: f64,
    /// Share of requests that take 1.5-2.4 s (the others 0.05-0.4 s).
    slow_share: f64,
    /// Failed license acquisitions a second.
    failures_per_sec: f64,
}

/// Quiet: 1% 5xx, p99 well under 1 s, 3 failures a minute (under 10).
const BASELINE: Load = Load {
    error_share: 0.01,
    slow_share: 0.0,
    failures_per_sec: 0.05,
};
/// Incident: 8% 5xx, 5% of requests over 1 s, 60 failures a minute.
const INCIDENT: Load = Load {
    error_share: 0.08,
    slow_share: 0.05,
    failures_per_sec: 1.0,
};
/// 40 requests a second: enough for a stable share over a 10 s window,
/// modest on a shared 2-core machine.
const TICK: Duration = Duration::from_millis(100);
const REQUESTS_PER_TICK: u64 = 4;
/// A customer address the service logs in a failure reason: redaction runs
/// before the metrics, so no label, annotation or payload may carry it.
const EMAIL: &str = "jane.doe@example.com";

/// The license API's container log, as the kubelet names it on a node.
fn api_log(logs: &Path) -> PathBuf {
    logs.join(format!(
        "license-api-7d8f9c6b4-xk9m2_coditect_django-{}.log",
        "3f2a9c1d8e7b6a5f".repeat(4)
    ))
}

/// Appends CRI lines to `path` every tick at the current `load` until
/// `stop`. The accumulators make the shares exact over any window, so the
/// test's thresholds are not at the mercy of chance.
fn generate(path: PathBuf, load: Arc<Mutex<Load>>, stop: Arc<AtomicBool>) {
    let (mut n, mut errors, mut failures) = (0u64, 0u64, 0u64);
    // The first 5xx and the first failure come at once, so their series
    // exist from the start of the quiet phase.
    let (mut err_acc, mut slow_acc, mut fail_acc) = (0.999f64, 0.0f64, 0.999f64);
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let l = *load.lock().unwrap();
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut text = String::new();
        for _ in 0..REQUESTS_PER_TICK {
            n += 1;
            err_acc += l.error_share;
            let status = if err_acc >= 1.0 {
                err_acc -= 1.0;
                errors += 1;
                if errors % 3 == 0 {
                    500
                } else {
                    503
                }
            } else {
                200
            };
            slow_acc += l.slow_share;
            let latency = if slow_acc >= 1.0 {
                slow_acc -= 1.0;
                1.5 + (n % 10) as f64 * 0.1
            } else {
                0.05 + (n % 8) as f64 * 0.05
            };
            let severity = if status >= 500 { "ERROR" } else { "INFO" };
            let entry = serde_json::json!({
                "severity": severity,
                "message": "License acquisition request",
                "user_email": EMAIL,
                "httpRequest": {
                    "requestMethod": "POST",
                    "requestUrl": "/api/v1/licenses/acquire",
                    "status": status,
                    "latency": format!("{latency:.3}s"),
                    "userAgent": "license-client/2.3",
                },
            });
            text.push_str(&format!("{ts} stdout F {entry}\n"));
        }
        fail_acc += l.failures_per_sec * TICK.as_secs_f64();
        if fail_acc >= 1.0 {
            fail_acc -= 1.0;
            failures += 1;
            let reason = match failures % 4 {
                0 => format!("license_expired for {EMAIL}"),
                1 | 3 => "seat_limit_reached".to_string(),
                _ => "hardware_mismatch".to_string(),
            };
            let entry = serde_json::json!({
                "severity": "WARNING",
                "message": "License acquisition failed",
                "reason": reason,
            });
            text.push_str(&format!("{ts} stdout F {entry}\n"));
        }
        // The temp dir vanishes if the test fails first.
        let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) else {
            return;
        };
        f.write_all(text.as_bytes()).unwrap();
        next += TICK;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

// ---------------------------------------------------------------- webhook receiver

/// One POST Alertmanager made to the webhook.
struct Notification {
    received: f64,
    body: Value,
}

/// The webhook receiver: records every notification (and writes it to
/// `dump`, one JSON line each, for `sluice audit`) until dropped.
struct Webhook {
    addr: String,
    got: Arc<Mutex<Vec<Notification>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn serve_webhook(dump: PathBuf) -> Webhook {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (got2, stop2) = (got.clone(), stop.clone());
    std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => panic!("webhook accept: {e}"),
            };
            if let Some(body) = read_post(stream) {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&dump)
                    .unwrap();
                writeln!(f, "{body}").unwrap();
                got2.lock().unwrap().push(Notification {
                    received: unix_now(),
                    body: serde_json::from_str(&body).expect("Alertmanager posts JSON"),
                });
            }
        }
    });
    Webhook { addr, got, stop }
}

/// Reads one HTTP POST, answers 200 and closes; returns the body.
fn read_post(mut s: TcpStream) -> Option<String> {
    s.set_nonblocking(false).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    String::from_utf8(body).ok()
}

// ---------------------------------------------------------------- processes

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// The shipped node pipeline with its BigQuery and GCS sinks swapped for
/// file sinks of the same names and inputs: the same source, redaction,
/// metrics and route, and no request leaves loopback.
fn node_pipeline(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(repo().join("pipelines/gke-node.toml")).unwrap();
    let start = shipped
        .find("[sinks.bigquery]")
        .expect("gke-node.toml has a BigQuery sink");
    let end = shipped
        .find("[dead_letter]")
        .expect("gke-node.toml has a dead_letter section");
    assert!(
        shipped[start..end].contains("inputs = [\"route\"]")
            && shipped[start..end].contains("[sinks.archive]")
            && shipped[start..end].contains("inputs = [\"redact\"]"),
        "gke-node.toml's sinks changed: update node_pipeline"
    );
    let text = format!(
        "{}[sinks.bigquery]\ntype = \"file\"\ninputs = [\"route\"]\npath = \"${{SLUICE_TEST_ROUTED}}\"\n\n\
         [sinks.archive]\ntype = \"file\"\ninputs = [\"redact\"]\npath = \"${{SLUICE_TEST_ARCHIVE}}\"\n\n{}",
        &shipped[..start],
        &shipped[end..]
    );
    let p = dir.join("gke-node-test.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Starts sluice on the node pipeline; returns it, its metrics address and
/// its log lines (kept for failure messages).
fn start_sluice(dir: &Path, logs: &Path) -> (Guard, String, Arc<Mutex<Vec<String>>>) {
    let pipeline = node_pipeline(dir);
    let mut child = Command::new(sluice_bin())
        .args(["run", pipeline.to_str().unwrap()])
        .env("SLUICE_DATA_DIR", dir.join("data"))
        .env("SLUICE_METRICS_ADDRESS", "127.0.0.1:0")
        .env("SLUICE_CONTAINER_LOGS", logs)
        .env("SLUICE_READ_FROM", "beginning")
        .env("SLUICE_METRICS_DIR", repo().join("pipelines/metrics"))
        .env("SLUICE_TEST_ROUTED", dir.join("routed.ndjson"))
        .env("SLUICE_TEST_ARCHIVE", dir.join("archive.ndjson"))
        .env("SLUICE_METADATA_URL", "none")
        .env("SLUICE_PROJECT_ID", "coditect-test")
        .env("SLUICE_LOCATION", "us-central1")
        .env("SLUICE_CLUSTER_NAME", "test-cluster")
        .env("SLUICE_NODE_NAME", "gke-node-1")
        .env("SLUICE_LOG", "info")
        .env("SLUICE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice runs");
    let stderr = child.stderr.take().unwrap();
    let guard = Guard(child);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let kept = lines.clone();
    // Keeps draining stderr so sluice never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(a) = v["address"].as_str() {
                let _ = tx.send(a.to_string());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            panic!(
                "sluice did not log its metrics address within 30 s:\n{}",
                lines.lock().unwrap().join("\n")
            )
        });
    (guard, addr, lines)
}

fn start_alertmanager(dir: &Path, webhook: &str) -> (Guard, String) {
    let bin = require_service("SLUICE_TEST_ALERTMANAGER_BIN");
    let config = dir.join("alertmanager.yml");
    // One notification per alert and namespace; 1 s group waits so the test
    // sees state changes at once.
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: webhook\n  group_by: [alertname, namespace_name]\n  \
             group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: webhook\n    webhook_configs:\n      \
             - url: http://{webhook}/alerts\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    let addr = free_addr();
    let guard = Guard(
        Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address={addr}"))
            // No gossip listener (TCP and UDP :9094 by default).
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("alertmanager.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} does not start: {e}")),
    );
    (guard, addr)
}

fn start_prometheus(dir: &Path, rules: &str, sluice: &str, alertmanager: &str) -> (Guard, String) {
    let bin = require_service("SLUICE_TEST_PROMETHEUS_BIN");
    std::fs::write(dir.join("sluice-rules.yaml"), rules).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [sluice-rules.yaml]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n\
             scrape_configs:\n  - job_name: sluice\n    static_configs:\n      - targets: ['{sluice}']\n"
        ),
    )
    .unwrap();
    let addr = free_addr();
    let guard = Guard(
        Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} does not start: {e}")),
    );
    (guard, addr)
}

/// The sockets `pid` holds, as (protocol, local address, TCP state or
/// "-"), read from /proc: proves a process listens on loopback only.
fn sockets_of(pid: u32) -> Vec<(String, String, String)> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut out = Vec::new();
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/{proto}")).unwrap_or_default();
        for row in table.lines().skip(1) {
            let f: Vec<&str> = row.split_whitespace().collect();
            if f.len() < 10 || !inodes.contains(f[9]) {
                continue;
            }
            let (ip, port) = f[1].split_once(':').unwrap();
            let local = if ip.len() == 8 {
                let b = u32::from_str_radix(ip, 16).unwrap().to_le_bytes();
                format!(
                    "{}.{}.{}.{}:{}",
                    b[0],
                    b[1],
                    b[2],
                    b[3],
                    u16::from_str_radix(port, 16).unwrap()
                )
            } else {
                format!("[{ip}]:{}", u16::from_str_radix(port, 16).unwrap())
            };
            let state = if proto.starts_with("tcp") {
                match f[3] {
                    "0A" => "LISTEN".to_string(),
                    s => s.to_string(),
                }
            } else {
                "-".to_string()
            };
            out.push((proto.to_string(), local, state));
        }
    }
    out
}

/// `what` listens on exactly `addr` and holds no socket off loopback.
fn assert_loopback_only(what: &str, pid: u32, addr: &str) {
    let socks = sockets_of(pid);
    let listening: Vec<&String> = socks
        .iter()
        .filter(|(p, _, s)| !p.starts_with("tcp") || s == "LISTEN")
        .map(|(_, l, _)| l)
        .collect();
    assert_eq!(
        listening,
        vec![addr],
        "{what} must listen on {addr} only (no cluster or other listener); its sockets: {socks:?}"
    );
    for (p, l, _) in &socks {
        assert!(
            p == "tcp" && l.starts_with("127.0.0.1:"),
            "{what} holds a socket off loopback: {p} {l} (all: {socks:?})"
        );
    }
}

// ---------------------------------------------------------------- Prometheus API

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /api/v1/...` on Prometheus; the `data` of a success.
fn prom_api(prom: &str, path_and_query: &str) -> Option<Value> {
    let (status, body) = get(prom, path_and_query).ok()?;
    let v: Value = serde_json::from_str(&body).ok()?;
    (status == 200 && v["status"] == "success").then(|| v["data"].clone())
}

/// The times (unix seconds, 1 s steps) at which `expr` returned a sample
/// for the coditect namespace between `start` and `end`: for an alert's
/// expression, when its condition held.
fn held_at(prom: &str, expr: &str, start: f64, end: f64) -> Vec<f64> {
    let q = format!(
        "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step=1",
        url_encode(expr)
    );
    let data = prom_api(prom, &q).unwrap_or_else(|| panic!("Prometheus refused {q}"));
    let mut times = Vec::new();
    for series in data["result"].as_array().unwrap() {
        if series["metric"]["namespace_name"] == "coditect" {
            for v in series["values"].as_array().unwrap() {
                times.push(v[0].as_f64().unwrap());
            }
        }
    }
    times.sort_by(f64::total_cmp);
    times
}

/// The value of `expr` for the coditect namespace now, if it has one.
fn instant(prom: &str, expr: &str) -> Option<f64> {
    let data = prom_api(prom, &format!("/api/v1/query?query={}", url_encode(expr)))?;
    data["result"].as_array()?.iter().find_map(|s| {
        (s["metric"]["namespace_name"] == "coditect")
            .then(|| s["value"][1].as_str()?.parse().ok())
            .flatten()
    })
}

/// What Prometheus and Alertmanager say, for a failure message.
fn diagnostics(prom: &str, am: &str, hook: &Webhook, sluice_log: &Mutex<Vec<String>>) -> String {
    let alerts = get(prom, "/api/v1/alerts").map(|r| r.1).unwrap_or_default();
    let targets = get(prom, "/api/v1/targets?state=active")
        .map(|r| r.1)
        .unwrap_or_default();
    let am_alerts = get(am, "/api/v2/alerts").map(|r| r.1).unwrap_or_default();
    let got: Vec<String> = hook
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|n| n.body.to_string())
        .collect();
    let log = sluice_log.lock().unwrap();
    let tail = &log[log.len().saturating_sub(10)..];
    format!(
        "Prometheus alerts: {alerts}\nPrometheus targets: {targets}\nAlertmanager alerts: {am_alerts}\n\
         webhook notifications so far: {got:?}\nsluice log tail:\n{}",
        tail.join("\n")
    )
}

// ---------------------------------------------------------------- the test

/// An alert as one notification carried it, and when the webhook got it.
struct Seen {
    received: f64,
    alert: Value,
}

fn rfc3339(v: &Value) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

/// The first notification carrying `alert` in `status` for coditect.
fn find(hook: &Webhook, alert: &str, status: &str) -> Option<Seen> {
    hook.got.lock().unwrap().iter().find_map(|n| {
        let a = n.body["alerts"].as_array()?.iter().find(|a| {
            a["labels"]["alertname"] == alert
                && a["status"] == status
                && a["labels"]["namespace_name"] == "coditect"
        })?;
        Some(Seen {
            received: n.received,
            alert: a.clone(),
        })
    })
}

#[test]
fn alerting_shipped_rules_fire_and_resolve_through_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("var/log/containers");
    std::fs::create_dir_all(&logs).unwrap();
    let payloads = dir.path().join("payloads");
    std::fs::create_dir_all(&payloads).unwrap();
    let (rules_text, rules) = compressed_rules();

    // Traffic first (the file exists before sluice's first scan), quiet.
    let log = api_log(&logs);
    std::fs::write(&log, "").unwrap();
    let load = Arc::new(Mutex::new(BASELINE));
    let stop = Arc::new(AtomicBool::new(false));
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let _stop_traffic = StopOnDrop(stop.clone());
    let traffic = {
        let (log, load, stop) = (log.clone(), load.clone(), stop.clone());
        std::thread::spawn(move || generate(log, load, stop))
    };

    let hook = serve_webhook(payloads.join("alertmanager-webhook.ndjson"));
    let (am_proc, am) = start_alertmanager(dir.path(), &hook.addr);
    let (sluice_proc, sluice_addr, sluice_log) = start_sluice(dir.path(), &logs);
    let (prom_proc, prom) = start_prometheus(dir.path(), &rules_text, &sluice_addr, &am);
    let diag = || diagnostics(&prom, &am, &hook, &sluice_log);
    for (what, addr, log) in [
        ("Alertmanager", &am, "alertmanager.log"),
        ("Prometheus", &prom, "prometheus.log"),
    ] {
        let end = Instant::now() + Duration::from_secs(30);
        while get(addr, "/-/ready").map(|r| r.0).ok() != Some(200) {
            assert!(
                Instant::now() < end,
                "{what} was not ready on {addr} within 30 s; its log:\n{}",
                std::fs::read_to_string(dir.path().join(log)).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_loopback_only("Alertmanager", am_proc.0.id(), &am);
    assert_loopback_only("Prometheus", prom_proc.0.id(), &prom);
    let start = unix_now();

    // Prometheus sees every series the rules use, for the namespace: the
    // pipeline, the scrape and the rate window work, and the quiet phase
    // below is one the rules do evaluate.
    let ready = [
        (
            "~40 requests/s",
            "sum by (namespace_name) (rate(http_requests_total[10s])) > 20",
        ),
        (
            "a 5xx share",
            "sum by (namespace_name) (rate(http_errors_total{status_code=~\"5..\"}[10s])) \
             / sum by (namespace_name) (rate(http_requests_total[10s]))",
        ),
        (
            "license failures",
            "sum by (namespace_name) (license_acquisition_failures_total)",
        ),
    ];
    let end = Instant::now() + Duration::from_secs(30);
    for (what, expr) in ready {
        while instant(&prom, expr).is_none() {
            assert!(
                Instant::now() < end,
                "Prometheus did not see {what} from sluice for namespace coditect within 30 s \
                 ({expr})\n{}",
                diag()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    // Traffic pacing: quiet for longer than the longest `for:` (8 s), so
    // a condition that held on quiet traffic would fire here.
    std::thread::sleep(Duration::from_secs(12));
    let incident = unix_now();
    assert!(
        hook.got.lock().unwrap().is_empty(),
        "Alertmanager notified during quiet traffic (1% 5xx):\n{}",
        diag()
    );
    *load.lock().unwrap() = INCIDENT;

    // Each alert fires, within a bound.
    let mut fired = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    for alert in ALERTS {
        let seen = loop {
            if let Some(s) = find(&hook, alert, "firing") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{alert} did not reach the webhook as firing within 40 s of the incident \
                 (8% 5xx, 5% of requests over 1 s, 60 license failures a minute):\n{}",
                diag()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        fired.insert(alert, seen);
    }

    // Back to quiet: each alert resolves, within a bound.
    let recovery = unix_now();
    *load.lock().unwrap() = BASELINE;
    let mut resolved = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    for alert in ALERTS {
        let seen = loop {
            if let Some(s) = find(&hook, alert, "resolved") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{alert} did not reach the webhook as resolved within 40 s of the traffic \
                 going quiet again:\n{}",
                diag()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        resolved.insert(alert, seen);
    }
    let finished = unix_now();
    assert_loopback_only("Alertmanager", am_proc.0.id(), &am);
    stop.store(true, Ordering::SeqCst);
    traffic.join().unwrap();

    // Timing, against Prometheus's own record of when each condition held.
    for alert in ALERTS {
        let rule = &rules[alert];
        let held = held_at(&prom, &rule.expr, start, finished);
        let (f, r) = (&fired[alert], &resolved[alert]);
        let starts_at = rfc3339(&f.alert["startsAt"]);
        assert!(
            held.iter().all(|t| *t >= incident - 1.0),
            "{alert}: its condition held during quiet traffic, at {:?} (incident began {incident:.1})",
            held.iter().filter(|t| **t < incident - 1.0).collect::<Vec<_>>()
        );
        // Not before: the condition first held after the incident began
        // (query_range and the rule see the same samples; 1.5 s covers the
        // 1 s evaluation and step granularity).
        let first = *held.first().unwrap_or_else(|| {
            panic!("{alert} fired at {starts_at:.1} but Prometheus never saw its condition hold")
        });
        assert!(
            starts_at >= first + rule.hold_secs - 1.5 && starts_at >= incident + rule.hold_secs,
            "{alert} fired at {starts_at:.1}, before its condition held for {} s (it first held at \
             {first:.1}; the incident began at {incident:.1})",
            rule.hold_secs
        );
        // Promptly: within a few evaluations of the start of the run of
        // steps (gaps of one step at most) during which it fired.
        let mut runs: Vec<(f64, f64)> = Vec::new();
        for t in held.iter().copied() {
            match runs.last_mut() {
                Some(r) if t - r.1 <= 1.5 => r.1 = t,
                _ => runs.push((t, t)),
            }
        }
        let (run_start, run_end) = runs
            .iter()
            .copied()
            .find(|(a, b)| *a <= starts_at + 1.0 && *b >= starts_at - 1.5)
            .unwrap_or_else(|| {
                panic!("{alert} fired at {starts_at:.1}, when its condition did not hold (held: {runs:?})")
            });
        assert!(
            starts_at <= run_start + rule.hold_secs + 5.0,
            "{alert} fired at {starts_at:.1}, long after its condition held for {} s (from {run_start:.1})",
            rule.hold_secs
        );
        assert!(f.received >= starts_at - 0.5 && f.received >= incident);
        // Resolved: after the traffic calmed and once the condition ended.
        let ends_at = rfc3339(&r.alert["endsAt"]);
        assert!(
            r.received > recovery && ends_at > recovery && ends_at >= run_end - 2.0,
            "{alert} resolved at {ends_at:.1} (received {:.1}); traffic calmed at {recovery:.1}, \
             its condition last held at {run_end:.1}",
            r.received
        );
        assert_eq!(r.alert["labels"], f.alert["labels"], "{alert}");
    }

    // What a responder reads: the namespace, the severity and the
    // breakdown.
    let labels = |a: &str| fired[a].alert["labels"].clone();
    let desc = |a: &str| {
        fired[a].alert["annotations"]["description"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(labels(ERRORS)["severity"], "page");
    assert_eq!(labels(LATENCY)["severity"], "page");
    assert_eq!(labels(FAILURES)["severity"], "warning");
    let d = desc(ERRORS);
    let re = regex::Regex::new(
        r"^([0-9.]+)% of the HTTP requests in namespace coditect failed with 5xx; by status code: 500 ([0-9.]+)%, 503 ([0-9.]+)%$",
    )
    .unwrap();
    let c = re
        .captures(&d)
        .unwrap_or_else(|| panic!("{ERRORS} description lacks the status codes: {d}"));
    let (total, s500, s503): (f64, f64, f64) = (
        c[1].parse().unwrap(),
        c[2].parse().unwrap(),
        c[3].parse().unwrap(),
    );
    assert!(total > 5.0 && total < 9.0, "{d}");
    assert!(s500 > 0.0 && s503 > s500, "two 503s for each 500: {d}");
    assert!((s500 + s503 - total).abs() < 0.1, "{d}");
    let d = desc(LATENCY);
    let re = regex::Regex::new(
        r"^p99 latency of the HTTP requests in namespace coditect is ([0-9.]+)s$",
    )
    .unwrap();
    let p99: f64 = re
        .captures(&d)
        .unwrap_or_else(|| panic!("{LATENCY} description: {d}"))[1]
        .parse()
        .unwrap();
    // The slow requests (1.5-2.4 s) fall in the (1, 2] and (2, 4] buckets;
    // histogram_quantile interpolates within them.
    assert!(p99 > 1.0 && p99 <= 4.0, "{d}");
    let d = desc(FAILURES);
    assert!(
        d.contains("license acquisitions a minute failed in namespace coditect; by reason: ")
            && d.contains("hardware_mismatch")
            && d.contains("seat_limit_reached")
            && d.contains("license_expired"),
        "{FAILURES} description lacks the reasons: {d}"
    );

    // Nothing personal in what reached the receiver: the address the
    // service logged in a failure reason was redacted before the metric
    // was derived, and the audit's detectors find nothing.
    let dump = payloads.join("alertmanager-webhook.ndjson");
    let captured = std::fs::read_to_string(&dump).unwrap();
    assert!(
        !captured.contains(EMAIL),
        "a raw address reached the receiver"
    );
    let audit = |p: &Path| {
        let o = Command::new(sluice_bin())
            .arg("audit")
            .arg(p)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, report) = audit(&payloads);
    assert_eq!(code, Some(0), "sluice audit over the payloads:\n{report}");
    assert!(report.contains("CLEAN"), "{report}");
    // The same audit flags the address in a payload of this shape, so a
    // clean report above means something.
    let control = dir.path().join("control");
    std::fs::create_dir_all(&control).unwrap();
    let first = captured.lines().next().unwrap();
    std::fs::write(
        control.join("leaky.ndjson"),
        format!("{}\n", first.replace("coditect", EMAIL)),
    )
    .unwrap();
    let (code, report) = audit(&control);
    assert_eq!(code, Some(1), "the audit misses a raw address:\n{report}");

    drop(sluice_proc);
}

/// docs/operations.md quotes the shipped rules verbatim, and its command
/// that wraps them in a ClusterRules resource yields exactly their groups.
#[test]
fn alerting_doc_quotes_the_shipped_rules_verbatim() {
    let rules =
        std::fs::read_to_string(repo().join("deploy/prometheus/sluice-rules.yaml")).unwrap();
    let doc = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    let blocks: Vec<&str> = doc.split("```").skip(1).step_by(2).collect();
    assert!(
        blocks
            .iter()
            .any(|b| b.strip_prefix("yaml\n") == Some(rules.as_str())),
        "docs/operations.md must quote deploy/prometheus/sluice-rules.yaml verbatim in a ```yaml block"
    );
    let wrap = blocks
        .iter()
        .find(|b| b.contains("kind: ClusterRules"))
        .expect("docs/operations.md shows how to apply the rules as ClusterRules");
    let script = wrap
        .strip_prefix("sh\n")
        .unwrap()
        .replace("| kubectl apply -f -", "");
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resource: Value = serde_norway::from_slice(&out.stdout).unwrap();
    let file: Value = serde_norway::from_str(&rules).unwrap();
    assert_eq!(resource["kind"], "ClusterRules");
    assert_eq!(resource["apiVersion"], "monitoring.googleapis.com/v1");
    assert_eq!(resource["spec"]["groups"], file["groups"]);
}
