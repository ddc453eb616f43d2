//! Issue 13, "nothing lost, nothing doubled": the real `sluice run` under
//! injected faults (a read-only or full filesystem mounted by the test, a
//! crash at the worst moment, signals), counting lines written, delivered,
//! lost and duplicated.
//!
//! Filesystem faults are real: the tests mount small tmpfs file systems
//! (CI runs as root), read-only or nearly full, and unmount them when done.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::file_source::{append, checkpoints, entries, key, line};
use crate::log_metrics::get;
use crate::support::{sluice_bin, write_pipeline};

/// A tmpfs mounted for one test, unmounted on drop.
pub(crate) struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` (e.g. `"64k"`) at `at`, with extra mount
    /// options (e.g. `"ro"`). Fails the test when mounting is not possible:
    /// these tests need root, as CI has.
    pub(crate) fn tmpfs(at: &Path, size: &str, extra: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let mut opts = format!("size={size}");
        if !extra.is_empty() {
            opts.push(',');
            opts.push_str(extra);
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(at)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs at {} (these tests need root): {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Mount(at.to_path_buf())
    }

    pub(crate) fn remount(&self, opts: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success(), "remount {opts} of {}", self.0.display());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A running `sluice run` with JSON logs captured; killed on drop.
pub(crate) struct Sluice {
    pub child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    /// Reads stderr into `logs`; ends when the process has exited.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Sluice {
    pub(crate) fn start(pipeline: &Path, env: &[(&str, &Path)]) -> Sluice {
        Sluice::start_with(pipeline, &[], env)
    }

    /// [`Sluice::start`] with more arguments after the pipeline.
    pub(crate) fn start_with(pipeline: &Path, args: &[&str], env: &[(&str, &Path)]) -> Sluice {
        let mut cmd = Command::new(sluice_bin());
        cmd.args(["run", pipeline.to_str().unwrap()]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Sluice::spawn(cmd)
    }

    /// Spawns `cmd` (sluice, or a tracer running it) with JSON logs on a
    /// captured stderr and no metadata server.
    pub(crate) fn spawn(mut cmd: Command) -> Sluice {
        cmd.env("SLUICE_LOG", "info")
            .env("SLUICE_LOG_FORMAT", "json")
            .env("SLUICE_METADATA_URL", "none")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Sluice {
            child,
            logs,
            reader: Some(reader),
        }
    }

    pub(crate) fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The metrics address from the "serving /metrics" log line.
    pub(crate) fn metrics_addr(&self) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.logs.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                v["address"].as_str().map(str::to_string)
            });
            if let Some(a) = found {
                return a;
            }
            assert!(
                Instant::now() < until,
                "sluice did not log its metrics address: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits (bounded) for the process to exit; its exit code.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let until = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Every line the process wrote is in `logs` before a test
                // reads them.
                if let Some(r) = self.reader.take() {
                    r.join().unwrap();
                }
                return s.code();
            }
            assert!(
                Instant::now() < until,
                "sluice did not exit within {within:?}: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until `f` holds; fails with the process's logs.
    pub(crate) fn wait_for(&self, what: &str, within: Duration, mut f: impl FnMut() -> bool) {
        let until = Instant::now() + within;
        while !f() {
            assert!(
                Instant::now() < until,
                "timed out after {within:?} waiting for {what}: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGTERM, then a clean exit (code 0) within `within`; fails with the
    /// process's logs otherwise.
    pub(crate) fn stop_cleanly(&mut self, within: Duration) {
        self.signal("TERM");
        assert_eq!(self.wait_exit(within), Some(0), "{}", self.log_text());
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file source into a file sink (`${OUT}`), with the metrics endpoint
/// on a free port. `source_extra` goes into the source table.
pub(crate) fn file_pipeline(data: &Path, logs: &Path, source_extra: &str) -> String {
    format!(
        r#"
[global]
data_dir = "{data}"
shutdown_grace_secs = 5
batch_max_events = 100
metrics_address = "127.0.0.1:0"

[sources.files]
type = "file"
include = ["{logs}/*.log"]
glob_interval_ms = 100
poll_interval_ms = 20
{source_extra}

[sinks.out]
type = "file"
inputs = ["files"]
path = "${{OUT}}"
allow_unredacted = true

[dead_letter]
allow_unredacted = true
"#,
        data = data.display(),
        logs = logs.display(),
    )
}

/// The value of one sample in a Prometheus scrape, if present.
pub(crate) fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// The process's log names the file source's checkpoint file under `data`.
fn assert_names_checkpoint_file(s: &Sluice, data: &Path) {
    let want = data.join("checkpoints/files/checkpoints.json");
    assert!(
        s.log_text().contains(&want.display().to_string()),
        "the error names {}: {}",
        want.display(),
        s.log_text()
    );
}

#[test]
fn issue22_1_unwritable_data_dir_fails_the_start_at_once_naming_the_path() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let _ro = Mount::tmpfs(&data, "1m", "ro");
    let old: String = (0..10).map(|n| line("old", n)).collect();
    std::fs::write(logs.join("a.log"), &old).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &file_pipeline(
            &data,
            &logs,
            "read_from = \"end\"\ncheckpoint_interval_ms = 100\ncheckpoint_failure_timeout_secs = 30",
        ),
    );
    let out = t.path().join("out.ndjson");
    let started = Instant::now();
    let mut s = Sluice::start(&p, &[("OUT", &out)]);
    // The start fails at once (the pod crash-loops where an operator sees
    // it), long before the timeout that bounds failures in the middle of
    // a run, non-zero, naming the path.
    let code = s.wait_exit(Duration::from_secs(20));
    let elapsed = started.elapsed();
    assert_eq!(code, Some(1), "{}", s.log_text());
    assert!(
        elapsed < Duration::from_secs(15),
        "waited for the mid-run timeout instead of failing at start: {elapsed:?}"
    );
    assert_names_checkpoint_file(&s, &data);
    assert!(entries(&out).is_empty(), "nothing was delivered unrecorded");
}

#[test]
fn issue13_1_checkpoints_failing_mid_run_make_the_source_unready_counted_and_stop_it_naming_the_path(
) {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let fs = Mount::tmpfs(&data, "1m", "");
    std::fs::write(logs.join("a.log"), line("old", 0)).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &file_pipeline(
            &data,
            &logs,
            "read_from = \"end\"\ncheckpoint_interval_ms = 100\ncheckpoint_failure_timeout_secs = 4",
        ),
    );
    let out = t.path().join("out.ndjson");
    let mut s = Sluice::start(&p, &[("OUT", &out)]);
    let addr = s.metrics_addr();
    let until = Instant::now() + Duration::from_secs(20);
    while get(&addr, "/health/ready").ok().map(|(code, _)| code) != Some(200) {
        assert!(Instant::now() < until, "never ready: {}", s.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The data_dir turns read-only under the running source.
    fs.remount("ro");
    let broke = Instant::now();
    let mut f = append(&logs.join("a.log"));
    for n in 0..5 {
        f.write_all(line("new", n).as_bytes()).unwrap();
    }
    let series = "source_checkpoint_write_errors_total{component_id=\"files\"}";
    loop {
        let (_, m) = get(&addr, "/metrics").expect("the metrics endpoint answers");
        if sample(&m, series).is_some_and(|n| n >= 2.0) {
            break;
        }
        assert!(
            Instant::now() < until,
            "no {series} >= 2 in\n{m}\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = get(&addr, "/health/ready").unwrap();
    assert_eq!(status, 503, "ready while checkpoints fail: {body}");
    let code = s.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(1), "{}", s.log_text());
    assert!(
        broke.elapsed() >= Duration::from_secs(4),
        "stopped before the timeout: {:?}",
        broke.elapsed()
    );
    assert_names_checkpoint_file(&s, &data);
}

#[test]
fn issue13_1_read_from_end_saves_starting_offsets_before_ready_so_a_crash_loses_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let old: String = (0..10).map(|n| line("old", n)).collect();
    std::fs::write(logs.join("a.log"), &old).unwrap();
    // A long interval: only a save made before ready can be on disk at
    // the crash below.
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &file_pipeline(
            &data,
            &logs,
            "read_from = \"end\"\ncheckpoint_interval_ms = 30000",
        ),
    );
    let (out1, out2) = (t.path().join("out1.ndjson"), t.path().join("out2.ndjson"));
    let mut s = Sluice::start(&p, &[("OUT", &out1)]);
    let addr = s.metrics_addr();
    let until = Instant::now() + Duration::from_secs(20);
    while get(&addr, "/health/ready").map(|r| r.0).unwrap_or(0) != 200 {
        assert!(Instant::now() < until, "never ready: {}", s.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        checkpoints(&data),
        vec![(logs.join("a.log").display().to_string(), old.len() as u64)],
        "the starting offset is on disk when ready"
    );
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    drop(s);
    // Written while sluice is down: must be read after the restart.
    let mut f = append(&logs.join("a.log"));
    for n in 0..5 {
        f.write_all(line("new", n).as_bytes()).unwrap();
    }
    let mut s = Sluice::start(&p, &[("OUT", &out2)]);
    s.wait_for("5 lines after the restart", Duration::from_secs(30), || {
        entries(&out2).len() >= 5
    });
    std::thread::sleep(Duration::from_millis(300));
    s.stop_cleanly(Duration::from_secs(20));
    let keys: Vec<String> = entries(&out1)
        .iter()
        .chain(&entries(&out2))
        .map(key)
        .collect();
    let want: Vec<String> = (0..5).map(|n| format!("s=new n={n:08}")).collect();
    assert_eq!(keys, want, "written 5, delivered {}", keys.len());
}

/// Every line of an NDJSON file, which must hold whole records only: it
/// is empty or ends with a newline, and every line is valid JSON.
fn whole_records(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends inside a record: {:?}",
        path.display(),
        &text[text.len().saturating_sub(80)..]
    );
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("{}:{}: torn or invalid record ({e})", path.display(), i + 1)
            })
        })
        .collect()
}

/// A sink or dead-letter file on a tiny tmpfs fills up; once space is
/// freed (the tmpfs grows), everything arrives. Returns (written,
/// delivered, duplicated) as measured.
/// A CRI line whose message starts like JSON and is not: dead-lettered.
/// It keeps its number (`n=…`) so a dead letter can be matched to it.
fn broken_line(n: u32) -> String {
    format!("2025-11-30T12:00:00Z stdout F {{\"broken\" n={n:08} padding-padding\n")
}

/// `pipeline` with its dead-letter output at `path`.
fn with_dead_letter_at(pipeline: &str, path: &Path) -> String {
    pipeline.replace(
        "[dead_letter]\n",
        &format!("[dead_letter]\npath = \"{}\"\n", path.display()),
    )
}

fn fill_then_free(dead_letter: bool) -> (usize, usize, usize) {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let fs = Mount::tmpfs(&t.path().join("small"), "48k", "");
    let target = t.path().join("small/out.ndjson");
    const N: u32 = 400;
    let text: String = (0..N)
        .map(|n| {
            if dead_letter {
                broken_line(n)
            } else {
                line("full", n)
            }
        })
        .collect();
    std::fs::write(logs.join("a.log"), &text).unwrap();
    let mut p = file_pipeline(&data, &logs, "checkpoint_interval_ms = 100");
    let out = if dead_letter {
        p = with_dead_letter_at(&p, &target);
        t.path().join("out.ndjson")
    } else {
        target.clone()
    };
    let p = write_pipeline(t.path(), "p.toml", &p);
    let mut s = Sluice::start(&p, &[("OUT", &out)]);
    let failed = if dead_letter {
        "cannot write dead letters"
    } else {
        "write failed"
    };
    s.wait_for(
        "a write to fail on the full disk",
        Duration::from_secs(30),
        || s.log_text().contains(failed),
    );
    // The error names the file.
    assert!(
        s.log_text().contains(&target.display().to_string()),
        "{}",
        s.log_text()
    );
    // Full, retried at least once more: still whole records only.
    std::thread::sleep(Duration::from_millis(1500));
    let partial = whole_records(&target).len();
    assert!(partial < N as usize, "the disk filled before the end");
    fs.remount("size=16m");
    s.wait_for(
        "every record once space is back",
        Duration::from_secs(90),
        || whole_records(&target).len() >= N as usize,
    );
    std::thread::sleep(Duration::from_millis(500));
    s.stop_cleanly(Duration::from_secs(20));
    let records = whole_records(&target);
    let keys: std::collections::HashSet<String> = records
        .iter()
        .map(|r| {
            if dead_letter {
                let raw = r["event"].to_string();
                let i = raw.find("n=").expect("the record keeps the line's number");
                raw[i..i + 10].to_string()
            } else {
                key(r)
            }
        })
        .collect();
    eprintln!(
        "{}: written {N}, records {}, distinct {}, duplicated {}, full at {partial}",
        if dead_letter {
            "dead-letter"
        } else {
            "file sink"
        },
        records.len(),
        keys.len(),
        records.len() - keys.len()
    );
    assert_eq!(keys.len(), N as usize, "every line delivered");
    (N as usize, keys.len(), records.len() - keys.len())
}

#[test]
fn issue13_2_file_sink_on_a_full_disk_writes_whole_records_and_loses_nothing() {
    let (_, _, dup) = fill_then_free(false);
    assert_eq!(dup, 0, "no record written twice");
}

#[test]
fn issue13_2_dead_letter_on_a_full_disk_writes_whole_records_and_loses_nothing() {
    let (_, _, dup) = fill_then_free(true);
    assert_eq!(dup, 0, "no record written twice");
}

/// Issue 22 (2): good and bad lines mixed, the dead-letter file on a small
/// disk that fills. A failed dead-letter append is retried alone; the
/// batches it belongs to wait, so no good line reaches the sink twice, and
/// once space is back every bad line is in the dead-letter file once.
/// Returns the running process, the sink's and the dead-letter file, the
/// number of lines, and what must outlive the run (the mount first: it is
/// unmounted before its folder is removed).
struct MixedRun {
    s: Sluice,
    out: PathBuf,
    dead: PathBuf,
    n: u32,
    _fs: Mount,
    _t: tempfile::TempDir,
}

fn mixed_lines_with_a_full_dead_letter_disk(free: bool) -> MixedRun {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().to_path_buf();
    let (logs, data) = (t.join("logs"), t.join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let fs = Mount::tmpfs(&t.join("small"), "16k", "");
    let dead = t.join("small/dead.ndjson");
    const N: u32 = 400;
    let text: String = (0..N)
        .map(|n| {
            if n % 4 == 0 {
                broken_line(n)
            } else {
                line("mix", n)
            }
        })
        .collect();
    std::fs::write(logs.join("a.log"), &text).unwrap();
    let p = with_dead_letter_at(
        &file_pipeline(&data, &logs, "checkpoint_interval_ms = 100"),
        &dead,
    );
    let p = write_pipeline(&t, "p.toml", &p);
    let out = t.join("out.ndjson");
    let s = Sluice::start(&p, &[("OUT", &out)]);
    s.wait_for(
        "a dead-letter write to fail on the full disk",
        Duration::from_secs(30),
        || s.log_text().contains("cannot write dead letters"),
    );
    let (_, m) = get(&s.metrics_addr(), "/metrics").expect("the metrics endpoint answers");
    assert!(
        sample(&m, "dead_letter_write_errors_total").is_some_and(|n| n >= 1.0),
        "{m}"
    );
    // Full for a while: retried, still whole records, nothing lost.
    std::thread::sleep(Duration::from_millis(1500));
    if free {
        fs.remount("size=16m");
    }
    MixedRun {
        s,
        out,
        dead,
        n: N,
        _fs: fs,
        _t: dir,
    }
}

#[test]
fn issue22_2_a_full_dead_letter_disk_resends_no_good_line_and_loses_none() {
    let MixedRun {
        mut s,
        out,
        dead,
        n,
        _fs,
        _t,
    } = mixed_lines_with_a_full_dead_letter_disk(true);
    let bad = (n / 4) as usize;
    let good = n as usize - bad;
    s.wait_for(
        "every line delivered once space is back",
        Duration::from_secs(60),
        || whole_records(&dead).len() >= bad && entries(&out).len() >= good,
    );
    std::thread::sleep(Duration::from_millis(500));
    s.stop_cleanly(Duration::from_secs(20));
    let delivered = entries(&out);
    let keys: std::collections::HashSet<String> = delivered.iter().map(key).collect();
    let dead_records = whole_records(&dead);
    eprintln!(
        "mixed lines, full dead-letter disk: written {n} ({good} good, {bad} bad); sink {} records, {} distinct; dead letters {}",
        delivered.len(),
        keys.len(),
        dead_records.len()
    );
    assert_eq!(keys.len(), good, "every good line delivered");
    assert_eq!(delivered.len(), good, "no good line delivered twice");
    assert_eq!(dead_records.len(), bad, "every bad line dead-lettered once");
}

#[test]
fn issue22_2_dead_letters_still_unwritten_at_shutdown_end_the_run_non_zero() {
    let MixedRun {
        mut s,
        dead,
        _fs,
        _t,
        ..
    } = mixed_lines_with_a_full_dead_letter_disk(false);
    s.signal("TERM");
    let code = s.wait_exit(Duration::from_secs(30));
    assert_ne!(
        code,
        Some(0),
        "exit 0 with dead letters unwritten: {}",
        s.log_text()
    );
    assert!(code.is_some(), "the run ended within its grace period");
    assert!(
        s.log_text().contains("cannot write dead letters"),
        "{}",
        s.log_text()
    );
    let _ = whole_records(&dead);
}

/// `sluice run` under strace: the calls named in `calls`, one per line.
fn strace_run(pipeline: &Path, env: &[(&str, &Path)], trace: &Path) -> Sluice {
    let mut cmd = Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=openat,write,fsync,fdatasync,rename",
        "-o",
    ])
    .arg(trace)
    .arg(sluice_bin())
    .args(["run", pipeline.to_str().unwrap()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // strace comes from scripts/install-test-deps.sh.
    Sluice::spawn(cmd)
}

/// From an strace log: for the file at `path`, (writes, syncs, writes
/// left unsynced at the end).
fn sync_profile(trace: &str, path: &Path) -> (usize, usize, usize) {
    let quoted = format!("\"{}\"", path.display());
    let mut fds: Vec<String> = Vec::new();
    let (mut writes, mut syncs, mut unsynced) = (0, 0, 0);
    // Threads whose openat of `path` strace split into `<unfinished ...>`
    // and a later `<... openat resumed>` line that carries the fd.
    let mut opening: Vec<String> = Vec::new();
    let fd_of = |call: &str| {
        call.rsplit("= ")
            .next()
            .map(|f| f.split_whitespace().next().unwrap_or(""))
            .filter(|f| f.parse::<u32>().is_ok())
            .map(str::to_string)
    };
    for l in trace.lines() {
        // `PID call(args) = ret`, possibly split by `<unfinished ...>`.
        let (pid, call) = l.split_once(' ').unwrap_or(("", l));
        let call = call.trim_start();
        if call.starts_with("openat(") && call.contains(&quoted) {
            if call.ends_with("<unfinished ...>") {
                opening.push(pid.to_string());
            } else if let Some(fd) = fd_of(call) {
                fds.push(fd);
            }
            continue;
        }
        if call.starts_with("<... openat resumed>") {
            if let Some(i) = opening.iter().position(|p| p == pid) {
                opening.remove(i);
                if let Some(fd) = fd_of(call) {
                    fds.push(fd);
                }
            }
            continue;
        }
        let on = |name: &str| {
            fds.iter().any(|fd| {
                call.starts_with(&format!("{name}({fd},"))
                    || call.starts_with(&format!("{name}({fd})"))
                    || call.starts_with(&format!("{name}({fd} "))
            })
        };
        if on("write") {
            writes += 1;
            unsynced += 1;
        } else if on("fdatasync") || on("fsync") {
            syncs += 1;
            unsynced = 0;
        }
    }
    (writes, syncs, unsynced)
}

#[test]
fn issue13_3_file_sink_and_dead_letter_sync_before_acknowledging() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    const N: u32 = 300;
    let text: String = (0..N)
        .map(|n| {
            if n % 10 == 0 {
                format!("2025-11-30T12:00:00Z stdout F {{\"broken\" n={n:08}\n")
            } else {
                line("sync", n)
            }
        })
        .collect();
    std::fs::write(logs.join("a.log"), &text).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &file_pipeline(&data, &logs, "checkpoint_interval_ms = 100"),
    );
    let out = t.path().join("out.ndjson");
    let dl = data.join("deadletter.ndjson");
    let trace = t.path().join("trace.txt");
    let mut s = strace_run(&p, &[("OUT", &out)], &trace);
    s.wait_for("every line", Duration::from_secs(60), || {
        entries(&out).len() + entries(&dl).len() >= N as usize
    });
    // The checkpoint reaches the end only after the acks.
    s.wait_for("the checkpoint at the end", Duration::from_secs(30), || {
        checkpoints(&data).first().map(|c| c.1) == Some(text.len() as u64)
    });
    // SIGTERM goes to sluice itself, not to strace.
    let tracee =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", s.child.id())).unwrap();
    let tracee = tracee
        .split_whitespace()
        .next()
        .expect("strace runs sluice");
    let ok = Command::new("kill")
        .args(["-TERM", tracee])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(
        s.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        s.log_text()
    );
    let trace = std::fs::read_to_string(&trace).unwrap();
    for (what, path) in [("file sink", &out), ("dead-letter", &dl)] {
        let (writes, syncs, unsynced) = sync_profile(&trace, path);
        eprintln!("{what}: {writes} writes, {syncs} syncs");
        assert!(writes > 0, "{what}: no write to {} traced", path.display());
        assert!(syncs > 0, "{what}: {} is never synced", path.display());
        assert_eq!(unsynced, 0, "{what}: writes left unsynced at exit");
        assert!(
            syncs <= writes,
            "{what}: synced more often than written (one sync per batch)"
        );
    }
}

#[test]
fn issue13_12_corrupt_checkpoints_are_moved_aside_counted_and_the_source_starts() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let ckpt = data.join("checkpoints/files/checkpoints.json");
    std::fs::create_dir_all(ckpt.parent().unwrap()).unwrap();
    std::fs::write(&ckpt, b"{\"version\":1,\"files\":[{\"fingerp").unwrap();
    let text: String = (0..20).map(|n| line("c", n)).collect();
    std::fs::write(logs.join("a.log"), &text).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &file_pipeline(&data, &logs, "checkpoint_interval_ms = 100"),
    );
    let out = t.path().join("out.ndjson");
    let mut s = Sluice::start(&p, &[("OUT", &out)]);
    let addr = s.metrics_addr();
    // As configured for a missing checkpoint (read_from = beginning).
    s.wait_for("20 lines", Duration::from_secs(30), || {
        entries(&out).len() >= 20
    });
    let (_, m) = get(&addr, "/metrics").unwrap();
    assert_eq!(
        sample(
            &m,
            "source_checkpoint_corrupt_total{component_id=\"files\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(get(&addr, "/health/ready").unwrap().0, 200);
    s.stop_cleanly(Duration::from_secs(20));
    let aside: Vec<PathBuf> = std::fs::read_dir(ckpt.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "the bad file is kept aside");
    assert_eq!(
        std::fs::read(&aside[0]).unwrap(),
        b"{\"version\":1,\"files\":[{\"fingerp"
    );
    assert!(
        s.log_text().contains(&aside[0].display().to_string()),
        "the log names where it went"
    );
    assert_eq!(checkpoints(&data)[0].1, text.len() as u64);
    assert_eq!(entries(&out).len(), 20);
}

#[test]
fn issue13_4_identical_stdin_lines_are_distinct_entries() {
    let t = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &format!(
            r#"
[global]
data_dir = "{data}"
metrics_address = "127.0.0.1:0"
[sources.in]
type = "stdin"
[sinks.out]
type = "console"
inputs = ["in"]
allow_unredacted = true
[dead_letter]
allow_unredacted = true
"#,
            data = t.path().join("data").display()
        ),
    );
    let run = |input: &str| -> Vec<String> {
        let mut child = Command::new(sluice_bin())
            .args(["run", p.to_str().unwrap()])
            .env("SLUICE_METADATA_URL", "none")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["insertId"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let ids = run("retrying\nretrying\nretrying\n");
    assert_eq!(ids.len(), 3);
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "genuine repeats share an insertId: {ids:?}"
    );
}

#[test]
fn issue13_6_sigterm_is_bounded_by_the_grace_period_when_a_sink_blocks_in_write() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    const N: u32 = 3000;
    let text: String = (0..N).map(|n| line("fifo", n)).collect();
    std::fs::write(logs.join("a.log"), &text).unwrap();
    let fifo = t.path().join("out.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A reader that takes 16 KiB, then stalls (a hung consumer) until told
    // to drain.
    let (took, took_rx) = std::sync::mpsc::channel();
    let (drain, drain_rx) = std::sync::mpsc::channel::<()>();
    let rpath = fifo.clone();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut f = std::fs::File::open(&rpath).unwrap();
        let mut got = vec![0u8; 16 * 1024];
        f.read_exact(&mut got).unwrap();
        took.send(()).unwrap();
        drain_rx.recv().unwrap();
        f.read_to_end(&mut got).unwrap();
        got
    });
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &file_pipeline(&data, &logs, "checkpoint_interval_ms = 100"),
    );
    let mut s = Sluice::start(&p, &[("OUT", &fifo)]);
    took_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("nothing reached the FIFO: {}", s.log_text()));
    std::thread::sleep(Duration::from_secs(1)); // the sink is now blocked in write(2)
    let stopped = Instant::now();
    s.signal("TERM");
    let code = s.wait_exit(Duration::from_secs(30));
    let took = stopped.elapsed();
    // shutdown_grace_secs = 5 in file_pipeline.
    assert!(
        took <= Duration::from_millis(6500),
        "SIGTERM took {took:?} against a 5 s grace period: {}",
        s.log_text()
    );
    assert_eq!(
        code,
        Some(1),
        "the deadline exits non-zero: {}",
        s.log_text()
    );
    let ckpt: u64 = checkpoints(&data).iter().map(|c| c.1).sum();
    drain.send(()).unwrap();
    let got = reader.join().unwrap();
    let got = String::from_utf8_lossy(&got);
    let reached: Vec<serde_json::Value> = got
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ckpt_lines = ckpt / line("fifo", 0).len() as u64;
    assert!(
        ckpt_lines > 0,
        "the source saved its checkpoint before the deadline"
    );
    assert!(
        ckpt_lines <= reached.len() as u64,
        "checkpointed {ckpt_lines} lines but only {} reached the reader",
        reached.len()
    );
    drop(s);
    // The restart reads from the checkpoint: nothing lost.
    let out2 = t.path().join("out2.ndjson");
    let mut s = Sluice::start(&p, &[("OUT", &out2)]);
    s.wait_for(
        "the rest after the restart",
        Duration::from_secs(60),
        || entries(&out2).len() as u64 >= N as u64 - ckpt_lines,
    );
    std::thread::sleep(Duration::from_millis(300));
    s.stop_cleanly(Duration::from_secs(20));
    let mut keys: Vec<String> = reached.iter().chain(&entries(&out2)).map(key).collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    eprintln!(
        "stalled FIFO: written {N}, reached the reader {}, checkpointed {ckpt_lines}, \
         delivered after restart {}, lost {}, duplicated {}",
        reached.len(),
        total - reached.len(),
        N as usize - keys.len(),
        total - keys.len()
    );
    assert_eq!(keys.len(), N as usize, "every line delivered");
}

#[test]
fn issue13_14_backfill_serves_metrics_and_health() {
    let t = tempfile::tempdir().unwrap();
    let arch = t.path().join("arch/logs/2025/11/30/12");
    std::fs::create_dir_all(&arch).unwrap();
    let rows: String = (0..50)
        .map(|i| {
            format!(
                "{{\"insertId\":\"bf-{i}\",\"timestamp\":\"2025-11-30T12:00:{:02}Z\",\"severity\":\"INFO\",\"textPayload\":\"row {i}\"}}\n",
                i % 60
            )
        })
        .collect();
    std::fs::write(arch.join("a.ndjson"), rows).unwrap();
    // The sink is a FIFO nobody reads yet: the backfill stays running
    // until the test has scraped it.
    let fifo = t.path().join("table.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let p = write_pipeline(
        t.path(),
        "bf.toml",
        &format!(
            "[global]\ndata_dir = \"{}\"\nmetrics_address = \"127.0.0.1:0\"\n\n[sources.archive]\ntype = \"archive\"\n\n[sinks.table]\ntype = \"file\"\ninputs = [\"archive\"]\npath = \"{}\"\nallow_unredacted = true\n\n[dead_letter]\nallow_unredacted = true\n",
            t.path().join("data").display(),
            fifo.display()
        ),
    );
    let mut cmd = Command::new(sluice_bin());
    cmd.args(["backfill", p.to_str().unwrap(), "--from"])
        .arg(t.path().join("arch"));
    let mut s = Sluice::spawn(cmd);
    let addr = s.metrics_addr();
    let (live, _) = get(&addr, "/health/live").unwrap();
    assert_eq!(live, 200);
    let (ready, body) = get(&addr, "/health/ready").unwrap();
    assert!(ready == 200 || ready == 503, "{ready} {body}");
    let (status, m) = get(&addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(
        m.contains("component_received_events_total{component_id=\"archive\""),
        "{m}"
    );
    // Now let it finish.
    let rpath = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read_to_string(rpath).unwrap());
    assert_eq!(
        s.wait_exit(Duration::from_secs(60)),
        Some(0),
        "{}",
        s.log_text()
    );
    assert_eq!(reader.join().unwrap().lines().count(), 50);
}

#[test]
fn issue13_9_invalid_utf8_is_counted_and_replaced_or_dead_lettered() {
    for mode in ["replace", "deadletter"] {
        let t = tempfile::tempdir().unwrap();
        let (logs, data) = (t.path().join("logs"), t.path().join("data"));
        std::fs::create_dir_all(&logs).unwrap();
        let mut text = b"2025-11-30T12:00:00Z stdout F caf\xe9 latte\n".to_vec();
        text.extend_from_slice(line("ok", 0).as_bytes());
        std::fs::write(logs.join("a.log"), &text).unwrap();
        let extra = format!("checkpoint_interval_ms = 100\ninvalid_utf8 = \"{mode}\"");
        let p = write_pipeline(t.path(), "p.toml", &file_pipeline(&data, &logs, &extra));
        let out = t.path().join("out.ndjson");
        let dl = data.join("deadletter.ndjson");
        let mut s = Sluice::start(&p, &[("OUT", &out)]);
        let addr = s.metrics_addr();
        s.wait_for("both lines settled", Duration::from_secs(30), || {
            entries(&out).len() + entries(&dl).len() >= 2
        });
        let (_, m) = get(&addr, "/metrics").unwrap();
        assert_eq!(
            sample(
                &m,
                "source_invalid_utf8_lines_total{component_id=\"files\"}"
            ),
            Some(1.0),
            "{mode}: {m}"
        );
        s.stop_cleanly(Duration::from_secs(20));
        let delivered = entries(&out);
        let dead = entries(&dl);
        if mode == "replace" {
            assert_eq!(delivered.len(), 2);
            assert_eq!(delivered[0]["textPayload"], "caf\u{fffd} latte");
            assert!(dead.is_empty());
        } else {
            assert_eq!(delivered.len(), 1);
            assert_eq!(dead.len(), 1);
            assert!(
                dead[0]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("not valid UTF-8"),
                "{dead:?}"
            );
        }
    }
}

/// `sluice run` tailing `logs/*.log` and rotated copies `logs/*.log.*`
/// into `out.ndjson`, once `logs/app.log`, written with `text`, has been
/// delivered.
fn tail_logs_and_rotated_copies(text: &str) -> (tempfile::TempDir, Sluice, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("app.log"), text).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &file_pipeline(&data, &logs, "checkpoint_interval_ms = 100").replace(
            "include = [",
            &format!("include = [\"{}/*.log.*\", ", logs.display()),
        ),
    );
    let out = t.path().join("out.ndjson");
    let s = Sluice::start(&p, &[("OUT", &out)]);
    let lines = text.lines().count();
    s.wait_for("the first lines", Duration::from_secs(30), || {
        entries(&out).len() >= lines
    });
    (t, s, logs)
}

/// logrotate's copytruncate of a small log (under 256 bytes, so only its
/// first line identifies it) while sluice runs: the copy `app.log.1`
/// appears, then `app.log` is truncated `gap` later. A third line is
/// written just before the copy. Returns the delivered entries' insertIds
/// by line.
fn small_copytruncate(gap: Duration) -> std::collections::BTreeMap<String, Vec<String>> {
    let text: String = (0..2).map(|n| line("small", n)).collect();
    assert!(text.len() + line("small", 2).len() < 256);
    let (t, mut s, logs) = tail_logs_and_rotated_copies(&text);
    let (live, out) = (logs.join("app.log"), t.path().join("out.ndjson"));
    append(&live)
        .write_all(line("small", 2).as_bytes())
        .unwrap();
    std::fs::copy(&live, logs.join("app.log.1")).unwrap();
    std::thread::sleep(gap);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    s.wait_for("the third line", Duration::from_secs(30), || {
        entries(&out).len() >= 3
    });
    // Time for a second reading of the copy, if there is to be one.
    std::thread::sleep(Duration::from_millis(1500));
    s.stop_cleanly(Duration::from_secs(20));
    let mut ids: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for e in entries(&out) {
        ids.entry(key(&e))
            .or_default()
            .push(e["insertId"].as_str().unwrap().to_string());
    }
    let delivered: usize = ids.values().map(Vec::len).sum();
    eprintln!(
        "small copytruncate, truncated {gap:?} after the copy: written 3, delivered {delivered}, lost {}, duplicated {}",
        3 - ids.len(),
        delivered - ids.len()
    );
    assert_eq!(ids.len(), 3, "every line delivered");
    ids
}

#[test]
fn issue22_3_a_small_file_copied_by_copytruncate_is_not_read_again() {
    for (k, i) in small_copytruncate(Duration::ZERO) {
        assert_eq!(i.len(), 1, "{k} delivered {} times", i.len());
    }
}

/// The copy check never costs a line: a log rotated by rename (the old
/// file still matched by `include`) whose new file starts with the same
/// short first line is read in full.
#[test]
fn issue22_3_a_new_log_starting_like_a_renamed_one_is_read_in_full() {
    let (t, mut s, logs) = tail_logs_and_rotated_copies(&line("same", 0));
    let (live, out) = (logs.join("app.log"), t.path().join("out.ndjson"));
    std::fs::rename(&live, logs.join("app.log.1")).unwrap();
    std::fs::write(&live, format!("{}{}", line("same", 0), line("same", 1))).unwrap();
    s.wait_for("the new file's two lines", Duration::from_secs(30), || {
        entries(&out).len() >= 3
    });
    std::thread::sleep(Duration::from_millis(500));
    s.stop_cleanly(Duration::from_secs(20));
    let keys: Vec<String> = entries(&out).iter().map(key).collect();
    assert_eq!(
        keys,
        [
            "s=same n=00000000",
            "s=same n=00000000",
            "s=same n=00000001"
        ]
    );
}

/// The documented limit: a copy that waited more than a second for its
/// truncate is read as a file of its own; its lines keep their insertIds.
#[test]
fn issue13_5_a_small_copy_truncated_late_is_read_again_with_the_same_insert_ids() {
    let ids = small_copytruncate(Duration::from_secs(2));
    assert!(
        ids.values().any(|i| i.len() > 1),
        "the late copy was read again"
    );
    for (k, i) in &ids {
        assert!(
            i.iter().all(|id| id == &i[0]),
            "{k}: a repeat has another insertId, BigQuery would keep it"
        );
    }
}
