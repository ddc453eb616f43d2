//! Shared by the Pub/Sub and Kafka end-to-end tests: generated fixture
//! events, the destination the pipeline writes to, and control of a
//! `sluice run` process (start, kill -9, SIGTERM).
//!
//! The destination is a [`Destination`]: the BigQuery emulator read back
//! with SQL (`bigquery::BigQueryDestination`) for the round trips, or a
//! `file` sink (NDJSON, acknowledged after flush) where a test breaks the
//! sink by blocking its folder. The tests compare insertIds.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::sluice_bin;

/// One published fixture event: its payload and the insertId it must land
/// with (known up front for LogEntries; computed from the message identity
/// for application lines, once the broker has assigned it).
pub struct Fixture {
    pub payload: Vec<u8>,
    /// `Some` for LogEntries, which carry their own insertId.
    pub insert_id: Option<String>,
}

/// `n` unique events: nine in ten are application JSON lines as the license
/// API writes them, one in ten a Cloud Logging LogEntry as a Logging sink
/// publishes it.
pub fn fixtures(tag: &str, n: usize) -> Vec<Fixture> {
    (0..n)
        .map(|i| {
            if i % 10 == 9 {
                let id = format!("{tag}-entry-{i}");
                let v = json!({
                    "insertId": id,
                    "logName": "projects/test-project/logs/license-api",
                    "severity": "WARNING",
                    "timestamp": "2025-11-30T12:34:56.789Z",
                    "resource": {"type": "k8s_container", "labels": {
                        "project_id": "test-project", "namespace_name": "coditect",
                        "pod_name": "license-api-7d8f9c6b4-xk9m2"}},
                    "jsonPayload": {"message": "License validation slow", "seq": i,
                        "tenant_id": format!("tenant-{}", i % 17)},
                });
                Fixture {
                    payload: serde_json::to_vec(&v).unwrap(),
                    insert_id: Some(id),
                }
            } else {
                let v = json!({
                    "severity": "INFO",
                    "time": "2025-11-30T12:34:56.789012Z",
                    "message": "License acquisition request",
                    "seq": i,
                    "run": tag,
                    "tenant_id": format!("tenant-{}", i % 17),
                    "httpRequest": {"status": 200, "latency": "0.153s"},
                });
                Fixture {
                    payload: serde_json::to_vec(&v).unwrap(),
                    insert_id: None,
                }
            }
        })
        .collect()
}

/// Where the pipeline's events land, read back by insertId.
pub trait Destination {
    /// The `[sinks.out]` table (inputs = ["in"]).
    fn sink_toml(&self) -> String;
    /// The insertId of every row landed so far, duplicates included.
    fn insert_ids(&self) -> Vec<String>;
    /// Rows landed so far, duplicates included; cheap enough to poll.
    fn count(&self) -> usize;
}

/// A `file` sink writing NDJSON under a folder.
pub struct FileDestination {
    pub dir: PathBuf,
}

impl FileDestination {
    pub fn path(&self) -> PathBuf {
        self.dir.join("events.ndjson")
    }

    pub fn rows(&self) -> Vec<Value> {
        read_complete_lines(&self.path())
    }
}

impl Destination for FileDestination {
    fn sink_toml(&self) -> String {
        format!(
            "[sinks.out]\ntype = \"file\"\ninputs = [\"in\"]\npath = \"{}\"\nallow_unredacted = true\n",
            self.path().display()
        )
    }

    fn insert_ids(&self) -> Vec<String> {
        self.rows()
            .iter()
            .map(|r| {
                r["insertId"]
                    .as_str()
                    .expect("every row has an insertId")
                    .to_string()
            })
            .collect()
    }

    fn count(&self) -> usize {
        std::fs::read(self.path()).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
    }
}

/// NDJSON lines of a file that may still be being written: the last line
/// counts only once its newline is there.
pub fn read_complete_lines(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(mut f) => {
            f.read_to_string(&mut text).expect("NDJSON output is UTF-8");
        }
        Err(_) => return Vec::new(),
    }
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// The pipeline file: `source_toml` is the `[sources.in]` table.
pub fn pipeline(dir: &Path, source_toml: &str, dest: &dyn Destination) -> PathBuf {
    let text = format!(
        "[global]\ndata_dir = \"{data}\"\nbatch_max_events = 500\nshutdown_grace_secs = 40\n\n{source_toml}\n{sink}\n\
         [dead_letter]\npath = \"{dl}\"\nallow_unredacted = true\n",
        data = dir.join("data").display(),
        sink = dest.sink_toml(),
        dl = dead_letter_path(dir).display(),
    );
    crate::support::write_pipeline(dir, "pipeline.toml", &text)
}

pub fn dead_letter_path(dir: &Path) -> PathBuf {
    dir.join("deadletter.ndjson")
}

/// A running `sluice run`; killed if the test panics.
pub struct Sluice {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Sluice {
    pub fn start(pipeline: &Path, log: PathBuf) -> Sluice {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("the log file opens");
        let child = Command::new(sluice_bin())
            .args(["run", pipeline.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .env("SLUICE_PROJECT_ID", "test-project")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("sluice starts");
        Sluice {
            child: Some(child),
            log,
        }
    }

    pub fn assert_running(&mut self) {
        let c = self.child.as_mut().expect("running");
        if let Some(s) = c.try_wait().unwrap() {
            panic!("sluice exited early with {s}; log:\n{}", self.log_text());
        }
    }

    /// kill -9: no drain, no final ack or commit.
    pub fn kill9(mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit (code 0).
    pub fn stop(mut self) {
        let mut c = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM works");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                assert!(
                    s.success(),
                    "sluice exited with {s}; log:\n{}",
                    self.log_text()
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("sluice did not stop within 60 s; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        let t = std::fs::read_to_string(&self.log).unwrap_or_default();
        // The tail is what matters when a test fails.
        let mut start = t.len().saturating_sub(8000);
        while !t.is_char_boundary(start) {
            start -= 1;
        }
        t[start..].to_string()
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits until `cond` holds, checking every 20 ms; panics with `what`
/// (and the sluice log) after `timeout`.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    sluice: &mut Sluice,
    mut cond: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        sluice.assert_running();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; sluice log:\n{}",
            sluice.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What landed compared with what was published.
pub struct Landed {
    pub rows: usize,
    pub distinct: usize,
    pub duplicates: usize,
}

/// Asserts every expected insertId landed and nothing else did; returns
/// the counts (duplicates are allowed: at least once, exactly once by
/// insertId).
pub fn assert_exactly_once_by_insert_id(expected: &BTreeSet<String>, got: &[String]) -> Landed {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let distinct: BTreeSet<String> = counts.keys().map(|s| s.to_string()).collect();
    let missing: Vec<&String> = expected.difference(&distinct).take(5).collect();
    let unexpected: Vec<&String> = distinct.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{} expected, {} distinct landed; missing (first 5) {missing:?}, unexpected (first 5) {unexpected:?}",
        expected.len(),
        distinct.len()
    );
    Landed {
        rows: got.len(),
        distinct: distinct.len(),
        duplicates: got.len() - distinct.len(),
    }
}

/// Events the pipeline dead-lettered so far.
pub fn dead_letters(dir: &Path) -> Vec<Value> {
    read_complete_lines(&dead_letter_path(dir))
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Keeps the sink's folder blocked for 30 s while sluice keeps running,
/// then frees it.
pub fn outage(s: &mut Sluice, dir: &Path, blocked: &Path) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        s.assert_running();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        dead_letters(dir).is_empty(),
        "an outage must not dead-letter"
    );
    let log = std::fs::read_to_string(&s.log).unwrap_or_default();
    assert!(
        log.contains("write failed"),
        "the sink really failed: {log}"
    );
    std::fs::remove_file(blocked).unwrap();
}

/// Distinct insertIds landed so far.
pub fn distinct(dest: &dyn Destination) -> usize {
    dest.insert_ids().into_iter().collect::<BTreeSet<_>>().len()
}

/// The kill -9 scenario both broker sources share: run until half of
/// `expected` landed, kill -9, start again, wait for every event, stop.
/// Returns the distinct count at the kill and what landed, after asserting
/// exactly-once by insertId.
pub fn kill9_and_restart(
    p: &Path,
    dir: &Path,
    dest: &dyn Destination,
    expected: &BTreeSet<String>,
) -> (usize, Landed) {
    let n = expected.len();
    let mut first = Sluice::start(p, dir.join("sluice-1.log"));
    wait_for(
        "half the events",
        Duration::from_secs(120),
        &mut first,
        || dest.count() >= n / 2,
    );
    first.kill9();
    let at_kill = distinct(dest);
    assert!(
        at_kill < n,
        "the first run finished before it was killed; nothing was tested"
    );
    let mut second = Sluice::start(p, dir.join("sluice-2.log"));
    wait_for("every event", Duration::from_secs(180), &mut second, || {
        distinct(dest) >= n
    });
    second.stop();
    let landed = assert_exactly_once_by_insert_id(expected, &dest.insert_ids());
    (at_kill, landed)
}

/// The sink-outage scenario both broker sources share: with sluice
/// running and its sink's folder blocked, 30 s of outage, then every event
/// lands once the folder is freed. Returns what landed.
pub fn outage_then_recovery(
    mut s: Sluice,
    dir: &Path,
    dest: &FileDestination,
    expected: &BTreeSet<String>,
) -> Landed {
    outage(&mut s, dir, &dest.dir);
    wait_for(
        "every event after the outage",
        Duration::from_secs(120),
        &mut s,
        || distinct(dest) >= expected.len(),
    );
    s.stop();
    let landed = assert_exactly_once_by_insert_id(expected, &dest.insert_ids());
    assert!(
        dead_letters(dir).is_empty(),
        "nothing is dead-lettered by an outage"
    );
    landed
}
