//! Issue 4: log-based metrics. Counts and buckets against an independent
//! reading of the fixtures, `promtool check metrics` on `metrics.prom` and
//! on a live scrape, a real Prometheus scraping `sluice run`, and
//! `promtool test rules` on the shipped alerting rules.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{fixtures, repo, require_service, sluice, sluice_bin, write_pipeline};

// ---------------------------------------------------------------- the independent model

/// One entry as the fixture defines it: the container (from the file
/// name), the app's JSON object (None for a text line) and its severity.
struct Entry {
    container: String,
    /// `resource.labels.namespace_name`: from the file name for files,
    /// empty for stdin (which names no pod).
    namespace: String,
    json: Option<serde_json::Map<String, Value>>,
    severity: String,
}

/// Reads CRI files the way the issue describes them, without sluice's
/// code: `TIME STREAM P|F CONTENT`, `P` pieces joined up to the `F`; a
/// JSON object is the app's structured entry, anything else text; no
/// severity means INFO on stdout and ERROR on stderr; lines over the
/// 256 KiB default limit and broken JSON objects are not entries (they go
/// to the dead-letter file).
fn read_cri(files: &[PathBuf]) -> Vec<Entry> {
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap();
        // POD_NAMESPACE_CONTAINER-CONTAINERID.log
        let container = name.split('_').nth(2).unwrap();
        let container = &container[..container.rfind('-').unwrap()];
        let namespace = name.split('_').nth(1).unwrap();
        let bytes = std::fs::read(f).unwrap();
        let mut pending: Vec<u8> = Vec::new();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let mut parts = line.splitn(4, |b| *b == b' ');
            let (_time, stream, tag) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
            pending.extend_from_slice(parts.next().unwrap_or_default());
            if tag == b"P" {
                continue;
            }
            let content = std::mem::take(&mut pending);
            if content.len() > 256 * 1024 {
                continue;
            }
            let json = serde_json::from_slice::<Value>(&content)
                .ok()
                .and_then(|v| v.as_object().cloned());
            if json.is_none() && content.starts_with(b"{") {
                // Broken JSON is refused (dead-letter), not read as text.
                continue;
            }
            let default = if stream == b"stderr" { "ERROR" } else { "INFO" };
            let severity = json
                .as_ref()
                .and_then(|j| j.get("severity"))
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_uppercase();
            out.push(Entry {
                container: container.to_string(),
                namespace: namespace.to_string(),
                json,
                severity,
            });
        }
    }
    out
}

fn container_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("containers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

fn http(e: &Entry) -> Option<&serde_json::Map<String, Value>> {
    e.json.as_ref()?.get("httpRequest")?.as_object()
}

/// Expected samples, keyed by `name{labels}` as Prometheus prints them.
fn expected(entries: &[Entry]) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    let mut add = |k: String, v: f64| *m.entry(k).or_default() += v;
    // Bounds from pipelines/metrics/http_request_latency.yaml:
    // exponentialBuckets scale 1/64, growthFactor 2, 12 finite buckets.
    let bounds: Vec<f64> = (0..=12).map(|i| 0.015625 * 2f64.powi(i)).collect();
    let latency_re = regex::Regex::new("([0-9.]+)s").unwrap();
    for e in entries {
        let ns = &e.namespace;
        if let Some(h) = http(e) {
            add(
                format!("http_requests_total{{namespace_name=\"{ns}\"}}"),
                1.0,
            );
            if let Some(s) = h
                .get("status")
                .and_then(Value::as_i64)
                .filter(|s| *s >= 400)
            {
                add(
                    format!("http_errors_total{{namespace_name=\"{ns}\",status_code=\"{s}\"}}"),
                    1.0,
                );
            }
            let v = h
                .get("latency")
                .and_then(Value::as_str)
                .and_then(|l| latency_re.captures(l))
                .and_then(|c| c[1].parse::<f64>().ok());
            if let Some(v) = v {
                for b in &bounds {
                    if v <= *b {
                        add(
                            format!("http_request_latency_seconds_bucket{{namespace_name=\"{ns}\",le=\"{b}\"}}"),
                            1.0,
                        );
                    } else {
                        add(
                            format!("http_request_latency_seconds_bucket{{namespace_name=\"{ns}\",le=\"{b}\"}}"),
                            0.0,
                        );
                    }
                }
                add(
                    format!("http_request_latency_seconds_bucket{{namespace_name=\"{ns}\",le=\"+Inf\"}}"),
                    1.0,
                );
                add(
                    format!("http_request_latency_seconds_sum{{namespace_name=\"{ns}\"}}"),
                    v,
                );
                add(
                    format!("http_request_latency_seconds_count{{namespace_name=\"{ns}\"}}"),
                    1.0,
                );
            }
        }
        let j = e.json.as_ref();
        if j.and_then(|j| j.get("message")).and_then(Value::as_str)
            == Some("License acquisition failed")
        {
            let reason = j
                .unwrap()
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("");
            add(
                format!("license_acquisition_failures_total{{namespace_name=\"{ns}\",reason=\"{reason}\"}}"),
                1.0,
            );
        }
        if ["ERROR", "CRITICAL", "ALERT", "EMERGENCY"].contains(&e.severity.as_str()) {
            add(
                format!("error_entries_total{{container_name=\"{}\"}}", e.container),
                1.0,
            );
        }
    }
    m
}

/// Parses Prometheus text into `name{labels}` -> value (comments skipped).
fn parse_prom(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (
                k.to_string(),
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value in {l}")),
            )
        })
        .collect()
}

fn promtool() -> String {
    require_service("SLUICE_TEST_PROMTOOL")
}

/// `promtool check metrics` on `text`: must exit 0 and report nothing.
fn promtool_check_metrics(text: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}\non:\n{text}"
    );
}

// ---------------------------------------------------------------- dry-run

#[test]
fn dry_run_metrics_match_an_independent_count_of_the_fixtures() {
    let out = tempfile::tempdir().unwrap();
    let files = container_fixtures();
    let mut args = vec![
        "dry-run".to_string(),
        repo().join("pipelines/dry-run.toml").display().to_string(),
        "--out".into(),
        out.path().display().to_string(),
    ];
    for f in &files {
        args.push("--input".into());
        args.push(f.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sluice(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.path().join("metrics.prom")).unwrap();
    let got = parse_prom(&text);
    let want = expected(&read_cri(&files));
    // The fixtures exercise every shipped metric.
    for family in [
        "http_errors_total{",
        "http_requests_total{",
        "http_request_latency_seconds_bucket{",
        "license_acquisition_failures_total{",
        "error_entries_total{",
    ] {
        assert!(
            want.keys().any(|k| k.starts_with(family)),
            "fixture has no {family}"
        );
    }
    // Sums of floats: compared with a tolerance, per namespace.
    let sum_key = "http_request_latency_seconds_sum{";
    for (k, ws) in want.iter().filter(|(k, _)| k.starts_with(sum_key)) {
        let gs = got.get(k).copied().unwrap_or(f64::NAN);
        assert!((gs - ws).abs() < 1e-9, "{k}: got {gs}, want {ws}");
    }
    let strip = |m: &BTreeMap<String, f64>| -> BTreeMap<String, f64> {
        m.iter()
            .filter(|(k, _)| !k.starts_with(sum_key))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert_eq!(strip(&got), strip(&want), "metrics.prom:\n{text}");
    promtool_check_metrics(&text);
}

#[test]
fn built_in_dry_run_writes_metrics_from_the_bundled_definitions() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(sluice_bin())
        .args(["dry-run", "--out", out.path().to_str().unwrap()])
        .env_remove("SLUICE_METRICS_DIR")
        .current_dir(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = parse_prom(&std::fs::read_to_string(out.path().join("metrics.prom")).unwrap());
    let want = expected(&read_cri(&container_fixtures()));
    assert_eq!(
        family_sum(&got, "http_requests_total{"),
        family_sum(&want, "http_requests_total{")
    );
    assert!(got
        .keys()
        .any(|k| k.starts_with("license_acquisition_failures_total{")));
}

#[test]
fn validate_names_the_definition_file_and_the_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("metrics")).unwrap();
    let bad = dir.path().join("metrics/bad.json");
    std::fs::write(
        &bad,
        r#"{"name": "bad", "filter": "httpRequest.status >= 400 AND (severity = ERROR",
            "createTime": "2025-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let p = write_pipeline(
        dir.path(),
        "p.toml",
        r#"
[sources.in]
type = "stdin"
[transforms.m]
type = "log_metrics"
inputs = ["in"]
allow_unredacted = true
definitions = ["metrics/*.json"]
[[transforms.m.metrics]]
name = "two_groups"
filter = ""
valueExtractor = 'REGEXP_EXTRACT(httpRequest.latency, "(\d+)\.(\d+)s")'
metricDescriptor = { valueType = "DISTRIBUTION" }
bucketOptions = { explicitBuckets = { bounds = [1, 2] } }
[sinks.out]
type = "blackhole"
inputs = ["m"]
allow_unredacted = true
[dead_letter]
allow_unredacted = true
"#,
    );
    let o = sluice(&["validate", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("transforms.m.definitions") && err.contains(&bad.display().to_string()),
        "{err}"
    );
    assert!(err.contains("filter: column"), "{err}");
    assert!(err.contains("exactly one capture group"), "{err}");
}

// ---------------------------------------------------------------- sluice run

/// A child process killed (and reaped) when the test ends, pass or fail.
pub(crate) struct Guard(pub(crate) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` over HTTP/1.1; returns (status, body).
pub(crate) fn get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

pub(crate) fn poll<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts `sluice run` reading the license API fixture on stdin, with
/// stdin left open so the pipeline keeps running. Returns the process and
/// the metrics address it bound.
fn run_sluice_on_fixture(dir: &Path) -> (Guard, String, Child2Stdin) {
    let pipeline = write_pipeline(
        dir,
        "run.toml",
        &format!(
            r#"
[global]
data_dir = "{data}"
metrics_address = "127.0.0.1:0"
[sources.in]
type = "stdin"
[transforms.metrics]
type = "log_metrics"
inputs = ["in"]
allow_unredacted = true
definitions = ["{repo}/pipelines/metrics/*.yaml"]
[sinks.out]
type = "blackhole"
inputs = ["metrics"]
allow_unredacted = true
[dead_letter]
path = "{data}/deadletter.ndjson"
allow_unredacted = true
"#,
            data = dir.join("data").display(),
            repo = repo().display(),
        ),
    );
    let mut child = Command::new(sluice_bin())
        .args(["run", pipeline.to_str().unwrap()])
        .env("SLUICE_LOG", "info")
        .env("SLUICE_LOG_FORMAT", "json")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice runs");
    let stderr = child.stderr.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    // Keeps draining stderr so sluice never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(a) = v["address"].as_str() {
                let _ = tx.send(a.to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("sluice logs the metrics address");
    let fixture = container_fixtures()
        .into_iter()
        .find(|p| p.to_str().unwrap().contains("license-api"))
        .unwrap();
    stdin.write_all(&std::fs::read(fixture).unwrap()).unwrap();
    stdin.flush().unwrap();
    (guard, addr, Child2Stdin(stdin))
}

/// Holds sluice's stdin open (EOF would end the stdin source and the run).
struct Child2Stdin(#[allow(dead_code)] std::process::ChildStdin);

fn api_fixture_expectations() -> BTreeMap<String, f64> {
    let files: Vec<PathBuf> = container_fixtures()
        .into_iter()
        .filter(|p| p.to_str().unwrap().contains("license-api"))
        .collect();
    expected(&read_cri(&files))
}

fn http_errors_sum(m: &BTreeMap<String, f64>) -> f64 {
    family_sum(m, "http_errors_total{")
}

/// Sum of every series whose `name{labels}` key starts with `prefix`.
fn family_sum(m: &BTreeMap<String, f64>, prefix: &str) -> f64 {
    m.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn live_scrape_is_valid_and_health_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (_sluice, addr, _stdin) = run_sluice_on_fixture(dir.path());
    assert_eq!(get(&addr, "/health/live").unwrap().0, 200);
    poll("/health/ready", Duration::from_secs(20), || {
        (get(&addr, "/health/ready").ok()?.0 == 200).then_some(())
    });
    let want = api_fixture_expectations();
    let requests = family_sum(&want, "http_requests_total{");
    let body = poll(
        "every fixture request counted",
        Duration::from_secs(20),
        || {
            let (_, body) = get(&addr, "/metrics").ok()?;
            let m = parse_prom(&body);
            // Refused lines (oversize, broken JSON) reach the dead-letter
            // output asynchronously; wait until all of them are counted.
            let refused = m.get(
            "component_errors_total{component_id=\"in\",component_kind=\"source\",component_type=\"stdin\"}",
        )?;
            let done = family_sum(&m, "http_requests_total{") == requests
                && *refused > 0.0
                && m.get("dead_letter_events_total") == Some(refused);
            done.then_some(body)
        },
    );
    assert!(!body.trim().is_empty());
    let got = parse_prom(&body);
    assert_eq!(http_errors_sum(&got), http_errors_sum(&want));
    for internal in [
        "component_received_events_total{component_id=\"metrics\",component_kind=\"transform\",component_type=\"log_metrics\"}",
        "component_buffer_max_batches{component_id=\"out\"}",
        "pipeline_ready",
    ] {
        assert!(got.contains_key(internal), "missing {internal} in\n{body}");
    }
    promtool_check_metrics(&body);
}

#[test]
fn prometheus_scrapes_sluice_and_answers_promql() {
    let prometheus = require_service("SLUICE_TEST_PROMETHEUS_BIN");
    let dir = tempfile::tempdir().unwrap();
    let (_sluice, addr, _stdin) = run_sluice_on_fixture(dir.path());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: sluice\n    scrape_interval: 1s\n    \
             static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let prom_addr = format!("127.0.0.1:{port}");
    let _prom = Guard(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus starts"),
    );
    let want = http_errors_sum(&api_fixture_expectations());
    assert!(want > 0.0);
    let query = "/api/v1/query?query=sum(http_errors_total)";
    let mut last = String::new();
    let got = poll(
        "Prometheus to return sum(http_errors_total)",
        Duration::from_secs(40),
        || {
            let (status, body) = get(&prom_addr, query).ok()?;
            last = body.clone();
            if status != 200 {
                return None;
            }
            let v: Value = serde_json::from_str(&body).ok()?;
            let s = v["data"]["result"][0]["value"][1]
                .as_str()?
                .parse::<f64>()
                .ok()?;
            (s == want).then_some(s)
        },
    );
    assert_eq!(got, want, "last answer: {last}");
}

// ---------------------------------------------------------------- alerting rules

#[test]
fn shipped_alerting_rules_pass_promtool_tests() {
    let dir = repo().join("deploy/prometheus");
    let rules = dir.join("sluice-rules.yaml");
    let tests = dir.join("sluice-rules.test.yaml");
    let check = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let run = Command::new(promtool())
        .args(["test", "rules"])
        .arg(&tests)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    // Every alert has a firing case and a not-firing case.
    let rules: Value = serde_norway::from_str(&std::fs::read_to_string(&rules).unwrap()).unwrap();
    let tests: Value = serde_norway::from_str(&std::fs::read_to_string(&tests).unwrap()).unwrap();
    let cases: Vec<&Value> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap())
        .collect();
    let alerts: Vec<&str> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .filter_map(|r| r["alert"].as_str())
        .collect();
    assert_eq!(alerts.len(), 3);
    for a in alerts {
        let mine = cases.iter().filter(|c| c["alertname"] == a);
        let (firing, quiet): (Vec<&&Value>, Vec<&&Value>) =
            mine.partition(|c| c["exp_alerts"].as_array().is_some_and(|x| !x.is_empty()));
        assert!(
            !firing.is_empty() && !quiet.is_empty(),
            "{a} needs a firing and a not-firing case"
        );
    }
}
