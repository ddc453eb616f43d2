//! The BigQuery sink against the local-bigquery emulator
//! (`SLUICE_TEST_BIGQUERY`, started by `scripts/test-services.sh`).
//!
//! Each test drives the real `sluice run` binary (stdin source ->
//! bigquery sink) into its own dataset, then reads back through the REST
//! API (`tables.get`, `jobs.query`) and, once, Google's `bq` CLI as a user
//! would.
//!
//! The outage test puts a loopback TCP proxy between sluice and the
//! emulator and cuts it mid-run (accepted connections are closed at once,
//! live ones are killed), instead of restarting the shared emulator under
//! the other tests' feet; for sluice that is the same failure: connection
//! errors until the service is back.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{require_service, sluice_bin, write_pipeline};

const PROJECT: &str = "test-project";

fn endpoint() -> String {
    require_service("SLUICE_TEST_BIGQUERY")
}

/// A dataset name no other test (or earlier run) uses.
fn unique_dataset(tag: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "sluice_it_{tag}_{}_{}",
        std::process::id(),
        n % 1_000_000_000
    )
}

fn pipeline(
    dir: &std::path::Path,
    ds: &str,
    endpoint: &str,
    extra: &str,
    format: &str,
) -> std::path::PathBuf {
    write_pipeline(
        dir,
        "bq.toml",
        &format!(
            r#"[global]
data_dir = "{data}"
shutdown_grace_secs = 120

[sources.in]
type = "stdin"
format = "{format}"

[sinks.bq]
type = "bigquery"
inputs = ["in"]
project = "{PROJECT}"
dataset = "{ds}"
endpoint = "{endpoint}"
auth = "token"
token = "fake"
batch_timeout_ms = 200
allow_unredacted = true
{extra}

[dead_letter]
path = "{data}/deadletter.ndjson"
allow_unredacted = true
"#,
            data = dir.display()
        ),
    )
}

/// Runs `sluice run PIPELINE` with `input` on stdin; returns (exit ok, stderr).
fn run_with_input(pipeline: &std::path::Path, input: &[u8]) -> (bool, String) {
    let mut child = spawn(pipeline);
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spawn(pipeline: &std::path::Path) -> Child {
    Command::new(sluice_bin())
        .args(["run", pipeline.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice starts")
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// `n` CRI lines shaped like the license API's logs, timestamped now (so
/// the rows fall inside the 90-day partition window).
fn license_lines(n: usize, salt: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 400);
    let base = chrono::Utc::now();
    for i in 0..n {
        let t = (base + chrono::Duration::microseconds(i as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let app = json!({
            "severity": if i % 10 == 0 { "WARNING" } else { "INFO" },
            "message": "License acquisition request",
            "user_id": format!("550e8400-e29b-41d4-a716-{:012}", i),
            "tenant_id": "660e8400-e29b-41d4-a716-446655440001",
            "seats": i % 50,
            "run": salt,
            "httpRequest": {"requestMethod": "POST", "requestUrl": "/api/v1/licenses/acquire",
                            "status": 200, "latency": "0.153s"},
        });
        writeln!(out, "{t} stdout F {app}").unwrap();
    }
    out
}

/// REST helpers (the emulator accepts any bearer token).
fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get(url: &str) -> (u16, Value) {
    rt().block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .bearer_auth("fake")
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    })
}

fn query(sql: &str) -> Value {
    let url = format!("{}/bigquery/v2/projects/{PROJECT}/queries", endpoint());
    rt().block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth("fake")
            .json(&json!({"query": sql, "useLegacySql": false, "timeoutMs": 60000}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "query failed: {v}");
        v
    })
}

/// Every row a query returns, page by page (`jobs.query`, then
/// `jobs.getQueryResults` with the page token), each as its `f` values;
/// `None` when the query fails (a table not created yet).
fn query_all(endpoint: &str, sql: &str) -> Option<Vec<Vec<Value>>> {
    let base = format!("{endpoint}/bigquery/v2/projects/{PROJECT}/queries");
    rt().block_on(async {
        let client = reqwest::Client::new();
        let mut page: Value = client
            .post(&base)
            .bearer_auth("fake")
            .json(&json!({"query": sql, "useLegacySql": false, "timeoutMs": 60000, "maxResults": 10000}))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())?
            .json()
            .await
            .ok()?;
        let job = page["jobReference"]["jobId"].as_str()?.to_string();
        let mut rows = Vec::new();
        loop {
            for r in page["rows"].as_array().into_iter().flatten() {
                let cells = r["f"].as_array().expect("a row has cells");
                rows.push(cells.iter().map(|c| c["v"].clone()).collect());
            }
            let Some(token) = page["pageToken"].as_str().map(str::to_string) else {
                return Some(rows);
            };
            page = client
                .get(format!("{base}/{job}"))
                .query(&[("pageToken", token.as_str()), ("maxResults", "10000")])
                .bearer_auth("fake")
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
        }
    })
}

/// Rows in `table` (`DATASET.TABLE`), 0 while it does not exist yet.
fn rows_in(endpoint: &str, table: &str) -> u64 {
    let sql = format!("SELECT COUNT(*) FROM `{table}`");
    query_all(endpoint, &sql).map_or(0, |rows| {
        let n = rows[0][0]
            .as_str()
            .unwrap_or_else(|| panic!("no count in {rows:?}"));
        n.parse().unwrap_or_else(|e| panic!("count {n}: {e}"))
    })
}

/// The `bigquery` sink into table `events` of a dataset of its own, read
/// back with SQL: where the Pub/Sub, Kafka and backfill round trips land.
pub(crate) struct BigQueryDestination {
    pub dataset: String,
    endpoint: String,
}

impl BigQueryDestination {
    /// On the emulator the test services run.
    pub(crate) fn new(tag: &str) -> BigQueryDestination {
        BigQueryDestination::at(endpoint(), tag)
    }

    pub(crate) fn at(endpoint: String, tag: &str) -> BigQueryDestination {
        BigQueryDestination {
            dataset: unique_dataset(tag),
            endpoint,
        }
    }

    /// `columns` of every row (each row's cells as JSON, in order).
    pub(crate) fn select(&self, columns: &str) -> Vec<Vec<Value>> {
        let sql = format!("SELECT {columns} FROM `{}.events`", self.dataset);
        query_all(&self.endpoint, &sql).unwrap_or_else(|| panic!("query failed: {sql}"))
    }
}

impl BigQueryDestination {
    /// `[sinks.out]`, a `bigquery` sink reading from `input`.
    pub(crate) fn sink_reading(&self, input: &str) -> String {
        format!(
            "[sinks.out]\ntype = \"bigquery\"\ninputs = [\"{input}\"]\nproject = \"{PROJECT}\"\n\
             dataset = \"{}\"\ntable = \"events\"\nendpoint = \"{}\"\nauth = \"token\"\n\
             token = \"fake\"\nbatch_timeout_ms = 200\nallow_unredacted = true\n",
            self.dataset, self.endpoint
        )
    }
}

impl BigQueryDestination {
    /// `DIR/p.toml`: a file source over `logs/*.log` polling fast, into
    /// this destination, with `/metrics` on a free port and the dead
    /// letters in `DIR/data`. Each `*_extra` (lines ending in a newline)
    /// goes into its table.
    pub(crate) fn file_pipeline(
        &self,
        dir: &std::path::Path,
        logs: &std::path::Path,
        global_extra: &str,
        source_extra: &str,
        sink_extra: &str,
    ) -> std::path::PathBuf {
        let text = format!(
            r#"[global]
data_dir = "{data}"
shutdown_grace_secs = 30
metrics_address = "127.0.0.1:0"
{global_extra}
[sources.in]
type = "file"
include = ["{logs}/*.log"]
glob_interval_ms = 100
poll_interval_ms = 20
{source_extra}
{sink}{sink_extra}
[dead_letter]
path = "{data}/deadletter.ndjson"
allow_unredacted = true
"#,
            data = dir.join("data").display(),
            logs = logs.display(),
            sink = self.sink_reading("in"),
        );
        write_pipeline(dir, "p.toml", &text)
    }
}

impl crate::brokers::Destination for BigQueryDestination {
    fn sink_toml(&self) -> String {
        self.sink_reading("in")
    }

    fn insert_ids(&self) -> Vec<String> {
        self.select("insertId")
            .into_iter()
            .map(|r| {
                r[0].as_str()
                    .expect("every row has an insertId")
                    .to_string()
            })
            .collect()
    }

    fn count(&self) -> usize {
        rows_in(&self.endpoint, &format!("{}.events", self.dataset)) as usize
    }
}

fn count(sql: &str) -> u64 {
    let v = query(sql);
    v["rows"][0]["f"][0]["v"]
        .as_str()
        .unwrap_or_else(|| panic!("no count in {v}"))
        .parse()
        .unwrap()
}

fn table(ds: &str, t: &str) -> (u16, Value) {
    get(&format!(
        "{}/bigquery/v2/projects/{PROJECT}/datasets/{ds}/tables/{t}",
        endpoint()
    ))
}

/// Google's `bq` CLI, pointed at the emulator.
fn bq_query(sql: &str) -> Value {
    let bq = std::env::var("SLUICE_TEST_BQ_CLI").unwrap_or_else(|_| "bq".into());
    let out = Command::new(&bq)
        .args([
            "--api",
            &endpoint(),
            "--project_id",
            PROJECT,
            "--oauth_access_token=fake",
            "--quiet",
            "--headless",
            "query",
            "--nouse_legacy_sql",
            "--format=json",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{bq}` (Google Cloud SDK's bq CLI): {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bq failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = text
        .find('[')
        .unwrap_or_else(|| panic!("no JSON from bq: {text}"));
    serde_json::from_str(text[start..].trim()).unwrap()
}

#[test]
fn table_is_created_day_partitioned_with_90_day_expiration() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("part");
    let p = pipeline(dir.path(), &ds, &ep, "", "auto");
    let (ok, err) = run_with_input(&p, &license_lines(20, "part"));
    assert!(ok, "sluice failed: {err}");

    let (status, t) = table(&ds, "stdout");
    assert_eq!(status, 200, "tables.get: {t}");
    let tp = &t["timePartitioning"];
    assert_eq!(tp["type"], "DAY", "{t}");
    assert_eq!(tp["field"], "timestamp", "{t}");
    let exp = tp["expirationMs"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| tp["expirationMs"].to_string());
    assert_eq!(exp, "7776000000", "{t}");
    let fields: Vec<&str> = t["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for f in [
        "timestamp",
        "receiveTimestamp",
        "severity",
        "logName",
        "insertId",
        "resource",
        "jsonPayload",
        "httpRequest",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    let ts = t["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "timestamp")
        .unwrap();
    assert_eq!(ts["type"], "TIMESTAMP");
    assert_eq!(count(&format!("SELECT COUNT(*) FROM `{ds}.stdout`")), 20);
    // New payload fields became columns; values kept their types.
    let v = query(&format!(
        "SELECT jsonPayload.seats, httpRequest.latency FROM `{ds}.stdout` WHERE jsonPayload.seats = 7"
    ));
    assert_eq!(v["rows"][0]["f"][0]["v"], "7", "{v}");
    assert_eq!(
        v["rows"][0]["f"][1]["v"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        0.153
    );
}

#[test]
fn sharded_tables_get_date_suffix_and_expiration() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("shard");
    let p = pipeline(dir.path(), &ds, &ep, "partitioning = \"sharded\"", "auto");
    let (ok, err) = run_with_input(&p, &license_lines(5, "shard"));
    assert!(ok, "sluice failed: {err}");
    let day = chrono::Utc::now().date_naive();
    let name = format!("stdout_{}", day.format("%Y%m%d"));
    let (status, t) = table(&ds, &name);
    assert_eq!(status, 200, "tables.get {name}: {t}");
    let exp: i64 = t["expirationTime"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .unwrap_or_else(|| panic!("no expirationTime: {t}"));
    let want = (day.and_hms_opt(0, 0, 0).unwrap().and_utc() + chrono::Duration::days(91))
        .timestamp_millis();
    assert_eq!(exp, want);
    assert!(t.get("timePartitioning").is_none_or(Value::is_null), "{t}");
}

#[test]
fn hundred_thousand_events_land_exactly_once() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("bulk");
    let p = pipeline(dir.path(), &ds, &ep, "", "auto");
    let input = license_lines(100_000, "bulk");
    let (ok, err) = run_with_input(&p, &input);
    assert!(ok, "sluice failed: {err}");
    // Read back as a user would, with Google's bq CLI.
    let rows = bq_query(&format!(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT insertId) AS ids FROM `{ds}.stdout`"
    ));
    assert_eq!(rows[0]["n"], "100000", "{rows}");
    assert_eq!(rows[0]["ids"], "100000", "{rows}");
    assert!(
        !dir.path().join("deadletter.ndjson").exists(),
        "nothing should be dead-lettered"
    );
}

/// BigQuery de-duplicates by insertId on a best-effort basis for about a
/// minute (the emulator: exactly 60 s), so the replay runs right after.
#[test]
fn replaying_the_same_input_adds_no_rows() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("replay");
    let p = pipeline(dir.path(), &ds, &ep, "", "auto");
    // stdin ids name the run (a second run is new input by default); a
    // replay names the same run.
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replace(
            "format = \"auto\"",
            "format = \"auto\"\nrun_id = \"replay\"",
        ),
    )
    .unwrap();
    let input = license_lines(2000, "replay");
    let (ok, err) = run_with_input(&p, &input);
    assert!(ok, "sluice failed: {err}");
    assert_eq!(count(&format!("SELECT COUNT(*) FROM `{ds}.stdout`")), 2000);
    // The same bytes again: the same insertIds, so BigQuery drops them all.
    let (ok, err) = run_with_input(&p, &input);
    assert!(ok, "sluice failed on replay: {err}");
    assert_eq!(count(&format!("SELECT COUNT(*) FROM `{ds}.stdout`")), 2000);
}

/// A loopback TCP proxy that can be cut (connections refused/killed) and
/// restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

impl Proxy {
    fn start(target: std::net::SocketAddr) -> Proxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let (u, g, r) = (up.clone(), generation.clone(), refused.clone());
        rt.spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !u.load(Ordering::SeqCst) {
                    r.fetch_add(1, Ordering::SeqCst);
                    drop(inbound);
                    continue;
                }
                let my_gen = g.load(Ordering::SeqCst);
                let g = g.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while g.load(Ordering::SeqCst) == my_gen {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! { _ = copy => {}, _ = cut => {} }
                });
            }
        });
        Proxy {
            port,
            up,
            generation,
            refused,
            _rt: rt,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[test]
fn bigquery_outage_mid_run_loses_nothing() {
    let ep = endpoint();
    let target: std::net::SocketAddr = ep
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("SLUICE_TEST_BIGQUERY is http://IP:PORT");
    let proxy = Proxy::start(target);
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("outage");
    let p = pipeline(
        dir.path(),
        &ds,
        &format!("http://127.0.0.1:{}", proxy.port),
        "batch_max_rows = 200",
        "auto",
    );
    let input = license_lines(3000, "outage");
    let half = input.len() / 2;
    let cut_at = input[..half].iter().rposition(|&b| b == b'\n').unwrap() + 1;

    let mut child = spawn(&p);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&input[..cut_at]).unwrap();
    stdin.flush().unwrap();
    // Cut BigQuery off once rows have landed: mid-run.
    let landed = || rows_in(&ep, &format!("{ds}.stdout"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while landed() == 0 {
        assert!(Instant::now() < deadline, "no row landed within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.cut();
    let at_cut = landed();
    assert!(at_cut < 3000, "the input had all landed before the cut");
    // The rest from another thread: while BigQuery is unreachable sluice
    // stops reading (backpressure), so this write blocks until the restore.
    let rest = input[cut_at..].to_vec();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&rest).unwrap();
    });
    // The outage lasts until sluice has retried through it three times.
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.refused.load(Ordering::SeqCst) < 3 {
        assert!(
            Instant::now() < deadline,
            "sluice did not retry during the outage"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.restore();
    writer.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sluice failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "BigQuery cut off after {at_cut} of 3000 rows, {} connections refused",
        proxy.refused.load(Ordering::SeqCst)
    );
    assert_eq!(count(&format!("SELECT COUNT(*) FROM `{ds}.stdout`")), 3000);
    assert_eq!(
        count(&format!(
            "SELECT COUNT(DISTINCT insertId) FROM `{ds}.stdout`"
        )),
        3000
    );
}

#[test]
fn schema_violations_go_to_dead_letter_and_the_rest_land() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("viol");
    let p = pipeline(dir.path(), &ds, &ep, "table = \"violations\"", "ndjson");
    let now = now_rfc3339();
    let mut input = Vec::new();
    for i in 0..50 {
        writeln!(
            input,
            "{}",
            json!({"severity": "INFO", "timestamp": now, "message": "ok", "count": i, "n": i})
        )
        .unwrap();
    }
    // Client-side: `count` is an INTEGER column by now.
    writeln!(
        input,
        "{}",
        json!({"severity": "INFO", "timestamp": now, "message": "bad type", "count": "many"})
    )
    .unwrap();
    // Server-side: a LogEntry whose receiveTimestamp is no time; only
    // BigQuery finds out (insertErrors).
    writeln!(
        input,
        "{}",
        json!({"logName": "projects/p/logs/x", "timestamp": now, "receiveTimestamp": "not a time",
        "jsonPayload": {"message": "bad time"}})
    )
    .unwrap();
    let (ok, err) = run_with_input(&p, &input);
    assert!(ok, "sluice failed: {err}");

    assert_eq!(
        count(&format!("SELECT COUNT(*) FROM `{ds}.violations`")),
        50
    );
    let dl = crate::support::read_ndjson(&dir.path().join("deadletter.ndjson"));
    assert_eq!(dl.len(), 2, "{dl:?}");
    let reasons: Vec<&str> = dl.iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("jsonPayload.count") && r.contains("INTEGER")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("bigquery ")),
        "{reasons:?}"
    );
    assert!(dl.iter().all(|r| r["component"] == "bq"), "{dl:?}");
}

#[test]
fn dry_run_writes_rows_as_insert_all_would() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::sluice(&[
        "dry-run",
        crate::support::repo()
            .join("pipelines/dry-run.toml")
            .to_str()
            .unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--input",
        crate::support::fixtures()
            .join("containers")
            .to_str()
            .unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows =
        crate::support::read_ndjson(&dir.path().join("bigquery/coditect_logs/stdout.ndjson"));
    assert!(!rows.is_empty());
    for r in &rows {
        assert!(r["insertId"].as_str().is_some_and(|s| s.len() == 32), "{r}");
        assert_eq!(r["resource"]["type"], "k8s_container");
        // Normalized, typed like the table would be.
        if let Some(h) = r.get("httpRequest") {
            assert!(h["latency"].is_f64() || h["latency"].is_null(), "{r}");
        }
    }
}

/// Issue 15, "BigQuery schema for logs" (fields with `@type`): an audit
/// log and a load balancer log land in `protopayload_auditlog` and
/// `jsonpayload_type_loadbalancerlogentry` in the emulator, with the
/// AuditLog names in their case and `request` as JSON text, and read back
/// with the column paths users query exported tables with.
#[test]
fn typed_payloads_land_in_the_export_columns() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("typed");
    let p = pipeline(dir.path(), &ds, &ep, "table = \"typed\"", "ndjson");
    let now = now_rfc3339();
    let mut input = Vec::new();
    writeln!(
        input,
        "{}",
        json!({
            "insertId": "audit-1",
            "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
            "timestamp": now,
            "severity": "NOTICE",
            "resource": {"type": "project", "labels": {"project_id": "p"}},
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "authenticationInfo": {"principalEmail": "admin@example.com"},
                "methodName": "SetIamPolicy",
                "serviceName": "cloudresourcemanager.googleapis.com",
                "authorizationInfo": [{"permission": "resourcemanager.projects.setIamPolicy", "granted": true}],
                "request": {"@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest", "resource": "p"}
            }
        })
    )
    .unwrap();
    writeln!(
        input,
        "{}",
        json!({
            "insertId": "lb-1",
            "logName": "projects/p/logs/requests",
            "timestamp": now,
            "resource": {"type": "http_load_balancer", "labels": {}},
            "httpRequest": {"status": 502},
            "jsonPayload": {
                "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
                "statusDetails": "failed_to_connect_to_backend"
            }
        })
    )
    .unwrap();
    let (ok, err) = run_with_input(&p, &input);
    assert!(ok, "sluice failed: {err}");
    let dl = dir.path().join("deadletter.ndjson");
    assert!(
        !dl.exists() || std::fs::read_to_string(&dl).unwrap().trim().is_empty(),
        "dead-lettered: {}",
        std::fs::read_to_string(&dl).unwrap_or_default()
    );

    let (status, t) = table(&ds, "typed");
    assert_eq!(status, 200, "{t}");
    let fields = t["schema"]["fields"].as_array().unwrap();
    let names: Vec<&str> = fields.iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(names.contains(&"protopayload_auditlog"), "{names:?}");
    assert!(
        names.contains(&"jsonpayload_type_loadbalancerlogentry"),
        "{names:?}"
    );
    assert!(!names.contains(&"protoPayload"), "{names:?}");

    let v = query(&format!(
        "SELECT protopayload_auditlog.methodName, \
         protopayload_auditlog.authenticationInfo.principalEmail, \
         protopayload_auditlog.requestJson \
         FROM `{ds}.typed` WHERE insertId = 'audit-1'"
    ));
    let row = &v["rows"][0]["f"];
    assert_eq!(row[0]["v"], "SetIamPolicy", "{v}");
    assert_eq!(row[1]["v"], "admin@example.com", "{v}");
    let request: Value = serde_json::from_str(row[2]["v"].as_str().unwrap()).unwrap();
    assert_eq!(request["resource"], "p", "{v}");

    let v = query(&format!(
        "SELECT jsonpayload_type_loadbalancerlogentry.statusdetails \
         FROM `{ds}.typed` WHERE insertId = 'lb-1'"
    ));
    assert_eq!(
        v["rows"][0]["f"][0]["v"], "failed_to_connect_to_backend",
        "{v}"
    );
}

/// Issue 22 (10): rows read back from the emulator with SQL hold none of
/// the secrets planted in the input. Each secret sits in a field beside a
/// benign marker that must come back, so the check cannot pass by a column
/// that never landed.
#[test]
fn rows_read_back_with_sql_hold_none_of_the_planted_secrets() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("privacy");
    let p = pipeline(dir.path(), &ds, &ep, "", "auto");
    // The same pipeline with the default redaction before the sink.
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("inputs = [\"in\"]\n", "inputs = [\"scrub\"]\n")
        // The sink's opt-out goes (the first one; the dead letter's stays).
        .replacen("allow_unredacted = true\n", "", 1)
        .replace(
            "[sinks.bq]",
            "[transforms.scrub]\ntype = \"redact\"\ninputs = [\"in\"]\n\n[sinks.bq]",
        );
    std::fs::write(&p, text).unwrap();
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";
    let secrets = [
        "ann.lee@example.com",
        "4111 1111 1111 1111",
        "203.0.113.77",
        "ya29.a0AfB_byC1d2E3f4G5h6I7j8K9l0M-nOpQrStUvWxYz",
        "DMPCPCBLH9FH",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    ];
    let base = chrono::Utc::now();
    let mut input = Vec::new();
    for i in 0..20 {
        let t = (base + chrono::Duration::microseconds(i))
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let app = json!({
            "severity": "INFO",
            "message": format!("marker-{i} signup by ann.lee@example.com card 4111 1111 1111 1111 from 203.0.113.77"),
            "detail": format!("marker-{i} token ya29.a0AfB_byC1d2E3f4G5h6I7j8K9l0M-nOpQrStUvWxYz heartbeat (serial DMPCPCBLH9FH)"),
            "key_dump": format!("marker-{i} {pem}"),
        });
        writeln!(input, "{t} stdout F {app}").unwrap();
    }
    let (ok, err) = run_with_input(&p, &input);
    assert!(ok, "sluice failed: {err}");
    let v = query(&format!("SELECT * FROM `{ds}.stdout`"));
    let text = v.to_string();
    let rows = v["rows"].as_array().map_or(0, Vec::len);
    assert_eq!(rows, 20, "every row landed: {text}");
    for i in 0..20 {
        assert!(
            text.contains(&format!("marker-{i} ")),
            "the fields that held the secrets came back (marker-{i}): {text}"
        );
    }
    for s in secrets {
        assert!(!text.contains(s), "a planted secret is in BigQuery: {s}");
    }
    assert!(text.contains("[REDACTED:"), "{text}");
}

/// A local-bigquery of the test's own, on free ports, over a data folder
/// that survives kill -9 (DuckDB's write-ahead log): it can be killed and
/// started again without disturbing the emulator other tests share.
struct OwnEmulator {
    child: Option<Child>,
    ports: [u16; 2],
    data: std::path::PathBuf,
}

impl OwnEmulator {
    fn start(data: std::path::PathBuf) -> OwnEmulator {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let mut e = OwnEmulator {
            child: None,
            ports: [free(), free()],
            data,
        };
        e.restart();
        e
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// Starts the process and waits until it answers.
    fn restart(&mut self) {
        let bin = require_service("SLUICE_TEST_BIGQUERY_BIN");
        let home = require_service("SLUICE_TEST_BIGQUERY_HOME");
        let [http, grpc] = self.ports.map(|p| p.to_string());
        let child = Command::new(&bin)
            .args(["serve", "--host", "127.0.0.1", "--port", &http])
            .args(["--grpc-port", &grpc, "--project", PROJECT, "--data-dir"])
            .arg(&self.data)
            .env("HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        self.child = Some(child);
        let url = format!("{}/bigquery/v2/projects/{PROJECT}/datasets", self.url());
        let until = Instant::now() + Duration::from_secs(120);
        while get_status(&url) != Some(200) {
            assert!(Instant::now() < until, "{bin} did not answer within 120 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill9(&mut self) {
        let mut c = self.child.take().expect("running");
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

impl Drop for OwnEmulator {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn get_status(url: &str) -> Option<u16> {
    rt().block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .bearer_auth("fake")
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        Some(r.status().as_u16())
    })
}

#[test]
fn issue22_11_an_emulator_killed_and_restarted_mid_stream_loses_nothing_repeats_no_insert_id_and_the_outage_shows(
) {
    use crate::brokers::Destination;
    use crate::durability::{sample, Sluice};
    use crate::file_source::{key, Writer};
    use crate::log_metrics::get as http_get;

    let t = tempfile::tempdir().unwrap();
    let mut bq = OwnEmulator::start(t.path().join("bq"));
    let dest = BigQueryDestination::at(bq.url(), "killed");
    let logs = t.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let p = dest.file_pipeline(
        t.path(),
        &logs,
        "batch_max_events = 100\n",
        "checkpoint_interval_ms = 100\n",
        "max_retry_secs = 600\n",
    );
    let mut s = Sluice::start(&p, &[]);
    let addr = s.metrics_addr();
    let scrape = || http_get(&addr, "/metrics").unwrap().1;
    let ready = || http_get(&addr, "/health/ready").unwrap().0;
    let writer = Writer::start(logs.join("a.log"), "bq");
    s.wait_for("rows in BigQuery", Duration::from_secs(60), || {
        dest.count() > 300
    });
    assert_eq!(ready(), 200);

    bq.kill9();
    let at_kill = writer.written();
    s.wait_for(
        "the outage on /metrics and /health/ready",
        Duration::from_secs(60),
        || {
            let m = scrape();
            sample(&m, "sink_request_failures_total{component_id=\"out\"}")
                .is_some_and(|n| n >= 1.0)
                && sample(&m, "pipeline_ready") == Some(0.0)
                && ready() == 503
        },
    );
    // The outage lasts while lines keep coming.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ready(), 503, "still not ready while BigQuery is down");
    bq.restart();
    s.wait_for(
        "ready again once BigQuery answers",
        Duration::from_secs(120),
        || ready() == 200,
    );
    let written = writer.finish() as usize;
    s.wait_for("every line in BigQuery", Duration::from_secs(120), || {
        dest.count() >= written
    });
    std::thread::sleep(Duration::from_millis(500));
    let failures = sample(
        &scrape(),
        "sink_request_failures_total{component_id=\"out\"}",
    );
    s.stop_cleanly(Duration::from_secs(30));
    // The emulator forgets its insertId de-duplication when it restarts, so
    // a request it committed just before the kill and that sluice sent
    // again can land twice: at most the rows in flight (concurrency 4 x
    // 500 rows), each repeating its original's insertId, which BigQuery's
    // own de-duplication or a one-row-per-insertId view removes.
    let rows = dest.select("insertId, textPayload");
    let mut keys: Vec<String> = rows
        .iter()
        .map(|r| key(&json!({"textPayload": r[1]})))
        .collect();
    let mut ids: Vec<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    ids.sort();
    ids.dedup();
    eprintln!(
        "BigQuery killed after {at_kill} lines: written {written}, rows {total}, lost {}, \
         duplicated {} (distinct insertIds {}), failed requests {failures:?}",
        written - keys.len(),
        total - keys.len(),
        ids.len()
    );
    assert_eq!(keys.len(), written, "every line landed");
    assert_eq!(ids.len(), written, "a row sent again kept its insertId");
    assert!(
        total - written <= 4 * 500,
        "duplicates beyond the rows in flight"
    );
}

/// A row of `SELECT *` (its cells' values, as [`query_all`] returns them)
/// as JSON, decoded with the table's schema the way BigQuery's REST API
/// encodes it (`{"f": [{"v": ...}]}` per record,
/// `[{"v": ...}]` per repeated field, scalars as strings): INTEGER and
/// FLOAT as numbers, BOOLEAN as bools, TIMESTAMP as seconds since the epoch.
fn decode_row(fields: &[Value], cells: &[Value]) -> Value {
    fn scalar(ty: &str, v: &Value) -> Value {
        let Some(s) = v.as_str() else {
            return v.clone();
        };
        match ty {
            "INTEGER" | "INT64" => s.parse::<i64>().map_or(v.clone(), Value::from),
            "FLOAT" | "FLOAT64" | "TIMESTAMP" => s.parse::<f64>().map_or(v.clone(), Value::from),
            "BOOLEAN" | "BOOL" => Value::Bool(s == "true"),
            _ => v.clone(),
        }
    }
    fn cell(field: &Value, v: &Value, repeated: bool) -> Value {
        if v.is_null() {
            return Value::Null;
        }
        let ty = field["type"].as_str().unwrap_or("STRING");
        if repeated {
            let items = v.as_array().expect("a repeated cell is an array");
            return Value::Array(items.iter().map(|i| cell(field, &i["v"], false)).collect());
        }
        if ty == "RECORD" || ty == "STRUCT" {
            let children = field["fields"].as_array().expect("a record has fields");
            let inner: Vec<Value> = v["f"]
                .as_array()
                .expect("a record cell has f")
                .iter()
                .map(|c| c["v"].clone())
                .collect();
            return decode_row(children, &inner);
        }
        scalar(ty, v)
    }
    let mut out = serde_json::Map::new();
    for (f, c) in fields.iter().zip(cells) {
        let repeated = f["mode"] == "REPEATED";
        let v = cell(f, c, repeated);
        if !v.is_null() {
            out.insert(f["name"].as_str().unwrap().to_string(), v);
        }
    }
    Value::Object(out)
}

/// Every scalar of `v` by dotted path (array items as `path[i]`).
fn leaves(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                leaves(c, format!("{path}[{i}]"), out);
            }
        }
        Value::Null => {}
        s => out.push((path, s.clone())),
    }
}

/// Whether a value the dry run wrote reads back as `got`: numbers and
/// numeric strings by value, RFC 3339 text against TIMESTAMP seconds to
/// the microsecond, anything else exactly.
fn same_value(wrote: &Value, got: &Value) -> bool {
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    if let (Value::String(s), Value::Number(secs)) = (wrote, got) {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            let want = t.timestamp_micros() as f64 / 1e6;
            return (want - secs.as_f64().unwrap()).abs() < 2e-6;
        }
    }
    match (num(wrote), num(got)) {
        (Some(a), Some(b)) if got.is_number() => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
        _ => wrote == got,
    }
}

/// The fixture container logs with their day moved to yesterday, so rows
/// fall inside the tables' 90-day partition window.
fn recent_container_logs(dir: &std::path::Path) {
    let day = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    std::fs::create_dir_all(dir).unwrap();
    for f in std::fs::read_dir(crate::support::fixtures().join("containers")).unwrap() {
        let f = f.unwrap().path();
        // Bytes, not text: the fixtures hold a line of invalid UTF-8.
        let bytes = std::fs::read(&f).unwrap();
        let mut moved = Vec::with_capacity(bytes.len());
        let mut rest = &bytes[..];
        while let Some(i) = rest.windows(10).position(|w| w == b"2025-11-30") {
            moved.extend_from_slice(&rest[..i]);
            moved.extend_from_slice(day.as_bytes());
            rest = &rest[i + 10..];
        }
        moved.extend_from_slice(rest);
        assert_ne!(moved, bytes, "{}: no day to move", f.display());
        std::fs::write(dir.join(f.file_name().unwrap()), moved).unwrap();
    }
}

/// Issue 23, "a loss the current tests cannot see": the license API's
/// container logs through the file source, redaction and the `bigquery`
/// sink into the emulator, then every row read back with SQL and compared,
/// column by column, with what `sluice dry-run` of the same pipeline wrote,
/// `resource.labels.*` (the fields every seeded query filters on) included.
/// Tables used to be created before any row, without those nested
/// columns, and the emulator does not add nested columns by `tables.patch`.
#[test]
fn issue23_rows_read_back_by_sql_hold_every_column_the_dry_run_wrote_resource_labels_included() {
    use crate::durability::Sluice;

    let ep = endpoint();
    let t = tempfile::tempdir().unwrap();
    let logs = t.path().join("containers");
    recent_container_logs(&logs);
    let ds = unique_dataset("columns");
    let text = format!(
        r#"[global]
data_dir = "{data}"
shutdown_grace_secs = 30

[sources.containers]
type = "file"
include = ["{logs}/*.log"]
format = "cri"
glob_interval_ms = 100

[transforms.redact]
type = "redact"
inputs = ["containers"]

[sinks.bigquery]
type = "bigquery"
inputs = ["redact"]
project = "{PROJECT}"
dataset = "{ds}"
endpoint = "{ep}"
auth = "token"
token = "fake"
batch_timeout_ms = 200

[dead_letter]
path = "{data}/deadletter.ndjson"
redact_with = "redact"
"#,
        data = t.path().join("data").display(),
        logs = logs.display(),
    );
    let p = write_pipeline(t.path(), "p.toml", &text);
    let out = t.path().join("dry");
    let dry = crate::support::sluice(&[
        "dry-run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let mut wrote = std::collections::BTreeMap::new();
    for f in std::fs::read_dir(out.join("bigquery").join(&ds)).unwrap() {
        let f = f.unwrap().path();
        let table = f.file_stem().unwrap().to_str().unwrap().to_string();
        for r in crate::support::read_ndjson(&f) {
            let id = r["insertId"].as_str().unwrap().to_string();
            wrote.insert(id, (table.clone(), r));
        }
    }
    assert!(wrote.len() > 100, "the dry run wrote {} rows", wrote.len());
    let tables: std::collections::BTreeSet<String> =
        wrote.values().map(|(t, _)| t.clone()).collect();

    let mut s = Sluice::start(&p, &[]);
    s.wait_for("every row in BigQuery", Duration::from_secs(90), || {
        let n: u64 = tables
            .iter()
            .map(|t| rows_in(&ep, &format!("{ds}.{t}")))
            .sum();
        n >= wrote.len() as u64
    });
    s.stop_cleanly(Duration::from_secs(30));

    let mut compared = 0;
    let mut seen = std::collections::BTreeSet::new();
    for t in &tables {
        let (status, meta) = table(&ds, t);
        assert_eq!(status, 200, "{meta}");
        let fields = meta["schema"]["fields"].as_array().unwrap().clone();
        let rows = query_all(&ep, &format!("SELECT * FROM `{ds}.{t}`")).unwrap();
        for cells in rows {
            let got = decode_row(&fields, &cells);
            let id = got["insertId"].as_str().unwrap().to_string();
            let (wt, w) = wrote
                .get(&id)
                .unwrap_or_else(|| panic!("row {id} in {t} is not one the dry run wrote"));
            assert_eq!(wt, t, "row {id}: table");
            assert!(seen.insert(id.clone()), "row {id} twice");
            let (mut want, mut have) = (Vec::new(), Vec::new());
            leaves(w, String::new(), &mut want);
            leaves(&got, String::new(), &mut have);
            let have: std::collections::BTreeMap<String, Value> = have.into_iter().collect();
            for (path, v) in &want {
                let g = have
                    .get(path)
                    .unwrap_or_else(|| panic!("row {id}: column {path} did not land ({v})"));
                // The time each run received the line: present, not equal.
                if path != "receiveTimestamp" {
                    assert!(same_value(v, g), "row {id}: {path} wrote {v}, reads {g}");
                }
                compared += 1;
            }
            assert_eq!(
                have.len(),
                want.len(),
                "row {id}: columns read back that the dry run did not write"
            );
        }
    }
    assert_eq!(seen.len(), wrote.len(), "rows in BigQuery");
    let labels = wrote
        .values()
        .filter(|(_, r)| r["resource"]["labels"]["namespace_name"] == "coditect")
        .count();
    eprintln!(
        "{} rows in {} tables, {compared} values compared; {labels} rows with resource.labels.namespace_name",
        seen.len(),
        tables.len()
    );
    assert_eq!(labels, wrote.len(), "every row carries its resource labels");
}

/// Issue 23: a `tables.patch` that answers without the columns asked for
/// is not taken as done. The emulator adds top-level columns by patch but
/// not nested ones, so a payload field first seen after the table was
/// created (`jsonPayload.order`) is such a patch: the rows waiting are not
/// acknowledged, the failure is counted on `/metrics`, the sink turns
/// unready, and the log names the table and the column, while the first
/// row stays the only one in the table.
#[test]
fn issue23_a_schema_update_bigquery_did_not_apply_leaves_the_rows_unacknowledged_counted_and_named()
{
    use crate::brokers::Destination;
    use crate::durability::{sample, Sluice};
    use crate::log_metrics::get as http_get;

    let ep = endpoint();
    let t = tempfile::tempdir().unwrap();
    let logs = t.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let dest = BigQueryDestination::at(ep.clone(), "unapplied");
    let p = dest.file_pipeline(t.path(), &logs, "", "format = \"ndjson\"\n", "");
    let s = Sluice::start(&p, &[]);
    let addr = s.metrics_addr();
    let log = logs.join("app.log");
    let now = now_rfc3339();
    std::fs::write(
        &log,
        format!("{{\"message\":\"first\",\"timestamp\":\"{now}\"}}\n"),
    )
    .unwrap();
    s.wait_for("the first row", Duration::from_secs(60), || {
        dest.count() == 1
    });
    assert_eq!(http_get(&addr, "/health/ready").unwrap().0, 200);

    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(
        f,
        "{{\"message\":\"second\",\"timestamp\":\"{now}\",\"order\":{{\"seats\":3}}}}"
    )
    .unwrap();
    drop(f);
    s.wait_for(
        "the unapplied patch counted, named and the sink unready",
        Duration::from_secs(60),
        || {
            let m = http_get(&addr, "/metrics").unwrap().1;
            sample(&m, "sink_request_failures_total{component_id=\"out\"}")
                .is_some_and(|n| n >= 1.0)
                && http_get(&addr, "/health/ready").unwrap().0 == 503
                && s.log_text().contains("jsonPayload.order")
        },
    );
    let line = s
        .log_text()
        .lines()
        .find(|l| l.contains("jsonPayload.order"))
        .unwrap()
        .to_string();
    assert!(line.contains("\"table\":\"events\""), "{line}");
    assert!(line.contains("not acknowledged"), "{line}");
    assert!(!line.contains("seats\":3"), "no value in the log: {line}");
    // The file source reads the unacknowledged line again after its
    // backoff; it never lands, and nothing else does.
    s.wait_for("the line tried again", Duration::from_secs(30), || {
        let m = http_get(&addr, "/metrics").unwrap().1;
        sample(&m, "sink_request_failures_total{component_id=\"out\"}").is_some_and(|n| n >= 2.0)
    });
    assert_eq!(dest.count(), 1, "only the first row is in the table");
    let dead = t.path().join("data/deadletter.ndjson");
    assert!(
        !dead.exists() || std::fs::read_to_string(&dead).unwrap().is_empty(),
        "the row is held, not dead-lettered"
    );
}

/// Rows of `table` and distinct insertIds among them.
fn rows_and_ids(table: &str) -> (u64, u64) {
    (
        count(&format!("SELECT COUNT(*) FROM `{table}`")),
        count(&format!("SELECT COUNT(DISTINCT insertId) FROM `{table}`")),
    )
}

/// Issue 23: the sink creates, with each table, the view `dedup_TABLE`
/// that keeps one row per insertId. Rows repeated the way a resend the
/// emulator did not de-duplicate repeats them (every row again, same
/// insertIds, received later) double the table, not the view; with
/// sharded tables one view reads every shard once.
#[test]
fn issue23_the_sink_creates_a_view_per_table_that_reads_each_insert_id_once() {
    let ep = endpoint();
    for (partitioning, table) in [("day", "stdout"), ("sharded", "")] {
        let dir = tempfile::tempdir().unwrap();
        let ds = unique_dataset("views");
        let p = pipeline(
            dir.path(),
            &ds,
            &ep,
            &format!("partitioning = \"{partitioning}\""),
            "auto",
        );
        let (ok, err) = run_with_input(&p, &license_lines(40, "views"));
        assert!(ok, "sluice failed: {err}");
        let table = if table.is_empty() {
            format!("stdout_{}", chrono::Utc::now().format("%Y%m%d"))
        } else {
            table.to_string()
        };
        let (status, v) = self::table(&ds, "dedup_stdout");
        assert_eq!(status, 200, "{partitioning}: the view exists: {v}");
        assert_eq!(v["type"], "VIEW", "{v}");
        assert_eq!(rows_and_ids(&format!("{ds}.{table}")), (40, 40));
        query(&format!(
            "INSERT INTO `{ds}.{table}` SELECT * REPLACE (TIMESTAMP_ADD(receiveTimestamp, INTERVAL 1 SECOND) AS receiveTimestamp) FROM `{ds}.{table}`"
        ));
        assert_eq!(
            rows_and_ids(&format!("{ds}.{table}")),
            (80, 40),
            "{partitioning}: every row twice in the table"
        );
        assert_eq!(
            rows_and_ids(&format!("{ds}.dedup_stdout")),
            (40, 40),
            "{partitioning}: once in the view"
        );
        // The first-received copy is the one kept.
        let first = count(&format!(
            "SELECT COUNT(*) FROM `{ds}.dedup_stdout` v JOIN (SELECT insertId, MIN(receiveTimestamp) AS r FROM `{ds}.{table}` GROUP BY insertId) t ON v.insertId = t.insertId AND v.receiveTimestamp = t.r"
        ));
        assert_eq!(first, 40, "{partitioning}");
    }
}

/// Issue 23: `sluice bigquery-views` for tables made without the view
/// (`dedup_views = false`, or by another writer): it prints one
/// `CREATE OR REPLACE VIEW` per table, which BigQuery runs as printed, and
/// `--create` makes the missing views itself. A pipeline without a
/// bigquery sink is refused with a message saying so.
#[test]
fn issue23_bigquery_views_prints_and_creates_the_views_for_existing_tables() {
    let ep = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ds = unique_dataset("printviews");
    let p = pipeline(dir.path(), &ds, &ep, "dedup_views = false", "auto");
    let (ok, err) = run_with_input(&p, &license_lines(30, "printviews"));
    assert!(ok, "sluice failed: {err}");
    assert_eq!(
        table(&ds, "dedup_stdout").0,
        404,
        "no view without dedup_views"
    );

    let out = crate::support::sluice(&["bigquery-views", p.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("-- sink bq: dataset {ds}, 1 table(s)")),
        "{text}"
    );
    assert_eq!(
        table(&ds, "dedup_stdout").0,
        404,
        "printing creates nothing"
    );
    let ddl: String = text
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        ddl.starts_with(&format!(
            "CREATE OR REPLACE VIEW `{PROJECT}.{ds}.dedup_stdout` AS"
        )),
        "{ddl}"
    );
    query(ddl.trim_end_matches(';'));
    assert_eq!(table(&ds, "dedup_stdout").1["type"], "VIEW");
    query(&format!(
        "INSERT INTO `{ds}.stdout` SELECT * FROM `{ds}.stdout`"
    ));
    assert_eq!(rows_and_ids(&format!("{ds}.stdout")), (60, 30));
    assert_eq!(rows_and_ids(&format!("{ds}.dedup_stdout")), (30, 30));

    // --create on a dataset whose view is missing, then again.
    let ds2 = unique_dataset("createviews");
    let dir2 = tempfile::tempdir().unwrap();
    let p2 = pipeline(dir2.path(), &ds2, &ep, "dedup_views = false", "auto");
    assert!(run_with_input(&p2, &license_lines(5, "createviews")).0);
    let out = crate::support::sluice(&["bigquery-views", p2.to_str().unwrap(), "--create"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("created view dedup_stdout"), "{err}");
    assert_eq!(rows_and_ids(&format!("{ds2}.dedup_stdout")), (5, 5));
    let out = crate::support::sluice(&["bigquery-views", p2.to_str().unwrap(), "--create"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("kept the existing view dedup_stdout"), "{err}");

    let none = write_pipeline(
        dir.path(),
        "none.toml",
        "[sources.in]\ntype = \"stdin\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"in\"]\nallow_unredacted = true\n[dead_letter]\nallow_unredacted = true\n",
    );
    let out = crate::support::sluice(&["bigquery-views", none.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no sink has type = \"bigquery\""), "{err}");
}
