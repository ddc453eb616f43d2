//! The `file` source end to end: the real `sluice run` process tailing
//! files that another thread appends to, rotates and truncates, killed
//! with SIGKILL or stopped with SIGTERM, writing to the `file` sink (which
//! acknowledges after each flush). Lines are generated with unique content
//! and a fixed length, so byte offsets in checkpoints convert to line
//! counts exactly.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{sluice_bin, write_pipeline};

/// A fixed-length CRI line with a unique key `s=STREAM n=NUMBER`.
pub(crate) fn line(stream: &str, n: u32) -> String {
    format!("2025-11-30T12:00:00.{n:09}Z stdout F s={stream} n={n:08} padding-padding-padding\n")
}

fn line_len() -> u64 {
    line("a", 0).len() as u64
}

/// The key of an output entry (from its textPayload).
pub(crate) fn key(e: &Value) -> String {
    let text = e["textPayload"].as_str().expect("entries are text lines");
    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

fn pipeline(data: &Path, include: &[PathBuf], extra: &str) -> String {
    let include: Vec<String> = include
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect();
    format!(
        r#"
[global]
data_dir = "{data}"
shutdown_grace_secs = 10
batch_max_events = 100

[sources.files]
type = "file"
include = [{include}]
glob_interval_ms = 100
poll_interval_ms = 20
checkpoint_interval_ms = 100
{extra}

[sinks.out]
type = "file"
inputs = ["files"]
path = "${{OUT}}"
allow_unredacted = true

[dead_letter]
allow_unredacted = true
"#,
        data = data.display(),
        include = include.join(", "),
    )
}

fn spawn(pipeline: &Path, out: &Path, log: &Path) -> Child {
    Command::new(sluice_bin())
        .args(["run", pipeline.to_str().unwrap()])
        .env("OUT", out)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(File::create(log).unwrap())
        .spawn()
        .expect("sluice starts")
}

fn wait_exit(child: &mut Child, log: &Path) -> ExitStatus {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!(
                "sluice did not exit: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(child: &mut Child, log: &Path) -> ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    wait_exit(child, log)
}

/// Output entries; a last line cut by SIGKILL mid-write is ignored (its
/// batch was never acknowledged, so it is read again).
pub(crate) fn entries(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

fn wait_until(what: &str, log: &Path, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !f() {
        if Instant::now() > until {
            panic!(
                "timed out waiting for {what}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Saved checkpoints: (path, offset) per entry.
pub(crate) fn checkpoints(data: &Path) -> Vec<(String, u64)> {
    let p = data.join("checkpoints/files/checkpoints.json");
    let Ok(text) = std::fs::read(&p) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&text).expect("checkpoints are valid JSON");
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Lines covered by the checkpoints (each offset must be a line boundary).
fn checkpointed_lines(data: &Path) -> u64 {
    checkpoints(data)
        .iter()
        .map(|(p, off)| {
            assert_eq!(
                off % line_len(),
                0,
                "checkpoint of {p} inside a line: {off}"
            );
            off / line_len()
        })
        .sum()
}

/// Occurrences of each key, and each key's insertIds.
fn tally(es: &[Value]) -> (HashMap<String, usize>, HashMap<String, HashSet<String>>) {
    let mut counts = HashMap::new();
    let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
    for e in es {
        let k = key(e);
        *counts.entry(k.clone()).or_default() += 1;
        ids.entry(k)
            .or_default()
            .insert(e["insertId"].as_str().unwrap().to_string());
    }
    (counts, ids)
}

pub(crate) fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// Appends numbered lines to `path`, ten every 2 ms, until stopped; the
/// number written when it stops.
pub(crate) struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU32>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn start(path: PathBuf, stream: &'static str) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU32::new(0));
        let (s, w) = (stop.clone(), written.clone());
        let thread = std::thread::spawn(move || {
            let mut f = append(&path);
            let mut n = 0;
            while !s.load(Ordering::SeqCst) {
                let burst: String = (n..n + 10).map(|i| line(stream, i)).collect();
                f.write_all(burst.as_bytes()).unwrap();
                n += 10;
                w.store(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Writer {
            stop,
            written,
            thread: Some(thread),
        }
    }

    pub(crate) fn written(&self) -> u32 {
        self.written.load(Ordering::SeqCst)
    }

    pub(crate) fn finish(mut self) -> u32 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        self.written()
    }
}

/// logrotate's copytruncate: copy, then truncate in place (the writer's
/// O_APPEND handle keeps writing, now at the start).
fn copytruncate(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    OpenOptions::new()
        .write(true)
        .open(from)
        .unwrap()
        .set_len(0)
        .unwrap();
}

#[test]
fn kill_9_and_rotations_deliver_every_line_and_resume_at_the_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &pipeline(&data, &[logs.join("*.log"), logs.join("*.log.*")], ""),
    );
    const N: u32 = 3000;
    let wlogs = logs.clone();
    let writer = std::thread::spawn(move || {
        let (pa, pb) = (wlogs.join("a.log"), wlogs.join("b.log"));
        let mut a = append(&pa);
        let mut b = append(&pb);
        let mut reopen_a_at = None;
        for n in 0..N {
            a.write_all(line("a", n).as_bytes()).unwrap();
            b.write_all(line("b", n).as_bytes()).unwrap();
            match n {
                // Rotation by rename; the writer keeps its old handle for a
                // few more lines, as a runtime does until it reopens.
                500 | 2000 => {
                    let k = if n == 500 { 1 } else { 2 };
                    std::fs::rename(&pa, wlogs.join(format!("a.log.{k}"))).unwrap();
                    reopen_a_at = Some(n + 5);
                }
                700 | 2200 => {
                    let k = if n == 700 { 1 } else { 2 };
                    copytruncate(&pb, &wlogs.join(format!("b.log.{k}")));
                }
                _ => {}
            }
            if reopen_a_at == Some(n) {
                a = append(&pa);
                reopen_a_at = None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });

    let (out1, out2) = (t.path().join("out1.ndjson"), t.path().join("out2.ndjson"));
    let (log1, log2) = (t.path().join("run1.log"), t.path().join("run2.log"));
    let mut s = spawn(&p, &out1, &log1);
    wait_until("the first run to deliver 1500 lines", &log1, || {
        entries(&out1).len() >= 1500
    });
    s.kill().unwrap(); // SIGKILL
    s.wait().unwrap();
    let ckpt_lines = checkpointed_lines(&data);
    assert!(ckpt_lines > 0, "checkpoints were saved while running");
    std::thread::sleep(Duration::from_millis(300));

    let mut s = spawn(&p, &out2, &log2);
    writer.join().unwrap();
    let total = 2 * N as usize;
    wait_until("every line", &log2, || {
        let mut all: HashSet<String> = entries(&out1).iter().map(key).collect();
        all.extend(entries(&out2).iter().map(key));
        all.len() >= total
    });
    std::thread::sleep(Duration::from_millis(500)); // anything extra would land now
    let status = sigterm(&mut s, &log2);
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log2).unwrap()
    );

    let (run1, run2) = (entries(&out1), entries(&out2));
    eprintln!(
        "run 1 delivered {}, checkpointed {ckpt_lines} at the kill; run 2 delivered {}",
        run1.len(),
        run2.len()
    );
    let (c1, ids1) = tally(&run1);
    let (c2, ids2) = tally(&run2);
    assert!(
        c1.values().all(|&c| c == 1),
        "a line twice within the first run"
    );
    assert!(
        c2.values().all(|&c| c == 1),
        "a line twice within the second run"
    );
    let mut all: HashSet<&String> = c1.keys().collect();
    all.extend(c2.keys());
    assert_eq!(all.len(), total, "every line delivered");
    // The second run read exactly what came after the saved checkpoints:
    // nothing before them twice, nothing after them skipped.
    assert_eq!(
        run2.len() as u64,
        total as u64 - ckpt_lines,
        "re-read {} lines",
        run2.len()
    );
    // A line read in both runs kept its insertId (same identity after restart).
    for (k, i) in &ids2 {
        if let Some(j) = ids1.get(k) {
            assert_eq!(i, j, "insertId of {k} changed across the restart");
        }
        assert_eq!(i.len(), 1);
    }
    // After the SIGTERM, everything is checkpointed.
    assert_eq!(checkpointed_lines(&data), total as u64);
}

#[test]
fn sigterm_delivers_what_was_read_and_saves_the_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &pipeline(&data, &[logs.join("*.log")], ""),
    );
    const N: u32 = 1500;
    let wlogs = logs.clone();
    let writer = std::thread::spawn(move || {
        // One-letter stream names: every line has the same length.
        let streams = ["x", "y", "z"];
        let mut files: Vec<File> = streams
            .iter()
            .map(|s| append(&wlogs.join(format!("{s}.log"))))
            .collect();
        for n in 0..N {
            for (s, f) in streams.iter().zip(files.iter_mut()) {
                f.write_all(line(s, n).as_bytes()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let (out1, out2) = (t.path().join("out1.ndjson"), t.path().join("out2.ndjson"));
    let (log1, log2) = (t.path().join("run1.log"), t.path().join("run2.log"));
    let mut s = spawn(&p, &out1, &log1);
    wait_until("the first run to deliver 900 lines", &log1, || {
        entries(&out1).len() >= 900
    });
    let status = sigterm(&mut s, &log1); // while the writer is still writing
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log1).unwrap()
    );
    let run1 = entries(&out1);
    assert_eq!(
        checkpointed_lines(&data),
        run1.len() as u64,
        "the checkpoint covers exactly what was written"
    );
    assert!(!writer.is_finished(), "the run was stopped mid-stream");
    writer.join().unwrap();

    let total = 3 * N as usize;
    let mut s = spawn(&p, &out2, &log2);
    wait_until("every line", &log2, || {
        entries(&out1).len() + entries(&out2).len() >= total
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sigterm(&mut s, &log2).code(), Some(0));
    let run2 = entries(&out2);
    let mut keys: Vec<String> = run1.iter().chain(&run2).map(key).collect();
    assert_eq!(keys.len(), total, "no line twice, none missing");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), total);
    assert_eq!(checkpointed_lines(&data), total as u64);
}

#[test]
fn new_files_are_found_excludes_honoured_and_read_from_end_skips_history() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let old: String = (0..10).map(|n| line("old", n)).collect();
    std::fs::write(logs.join("existing.log"), &old).unwrap();
    let extra = format!(
        "exclude = [\"{}\"]\nread_from = \"end\"",
        logs.join("skip-*.log").display()
    );
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &pipeline(&data, &[logs.join("*.log")], &extra),
    );
    let out = t.path().join("out.ndjson");
    let log = t.path().join("run.log");
    let mut s = spawn(&p, &out, &log);
    // The first scan is done once the start position is saved.
    wait_until("the first checkpoint", &log, || {
        !checkpoints(&data).is_empty()
    });
    assert_eq!(
        checkpoints(&data)[0].1,
        old.len() as u64,
        "starts at the end"
    );

    let mut f = append(&logs.join("existing.log"));
    for n in 10..15 {
        f.write_all(line("old", n).as_bytes()).unwrap();
    }
    let new: String = (0..7).map(|n| line("new", n)).collect();
    std::fs::write(logs.join("later.log"), new).unwrap();
    std::fs::write(logs.join("skip-me.log"), line("skip", 0)).unwrap();
    wait_until("12 lines", &log, || entries(&out).len() >= 12);
    std::thread::sleep(Duration::from_millis(500)); // several scans later
    assert_eq!(sigterm(&mut s, &log).code(), Some(0));

    let mut keys: Vec<String> = entries(&out).iter().map(key).collect();
    keys.sort();
    let mut want: Vec<String> = (10..15)
        .map(|n| format!("s=old n={n:08}"))
        .chain((0..7).map(|n| format!("s=new n={n:08}")))
        .collect();
    want.sort();
    assert_eq!(keys, want);
}

#[test]
fn a_renamed_file_with_a_known_fingerprint_is_not_read_again() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    // A kubelet-style name, so labels come from it.
    let name = "web-7d8f9c6b4-xk9m2_coditect_django-0123456789abcdef";
    let live = logs.join(format!("{name}.log"));
    let first: String = (0..20).map(|n| line("first", n)).collect();
    std::fs::write(&live, &first).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &pipeline(&data, &[logs.join("*.log"), logs.join("*.log.*")], ""),
    );
    let (out1, out2) = (t.path().join("out1.ndjson"), t.path().join("out2.ndjson"));
    let (log1, log2) = (t.path().join("run1.log"), t.path().join("run2.log"));
    let mut s = spawn(&p, &out1, &log1);
    wait_until("20 lines", &log1, || entries(&out1).len() >= 20);
    assert_eq!(sigterm(&mut s, &log1).code(), Some(0));
    let run1 = entries(&out1);
    assert_eq!(run1.len(), 20);

    // While sluice is down: rotate by rename, the old file gets a last
    // few lines, and a new file starts at the original path.
    let rotated = logs.join(format!("{name}.log.20251130-120000"));
    std::fs::rename(&live, &rotated).unwrap();
    let mut f = append(&rotated);
    for n in 20..23 {
        f.write_all(line("first", n).as_bytes()).unwrap();
    }
    let second: String = (0..4).map(|n| line("second", n)).collect();
    std::fs::write(&live, second).unwrap();

    let mut s = spawn(&p, &out2, &log2);
    wait_until("7 lines", &log2, || entries(&out2).len() >= 7);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sigterm(&mut s, &log2).code(), Some(0));
    let run2 = entries(&out2);
    let mut keys: Vec<String> = run2.iter().map(key).collect();
    keys.sort();
    let mut want: Vec<String> = (20..23)
        .map(|n| format!("s=first n={n:08}"))
        .chain((0..4).map(|n| format!("s=second n={n:08}")))
        .collect();
    want.sort();
    assert_eq!(
        keys, want,
        "only the new lines, not the rotated file's first 20"
    );
    // The rotated file keeps the labels of the name it was found under.
    for e in &run2 {
        let labels = &e["resource"]["labels"];
        assert_eq!(e["resource"]["type"], "k8s_container");
        assert_eq!(labels["pod_name"], "web-7d8f9c6b4-xk9m2");
        assert_eq!(labels["namespace_name"], "coditect");
        assert_eq!(labels["container_name"], "django");
    }
}

#[test]
fn oversize_and_malformed_lines_go_to_dead_letter_with_reasons() {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let text = [
        line("ok", 0),
        format!("2025-11-30T12:00:01Z stdout F {}\n", "y".repeat(3000)),
        "this line has no CRI framing\n".to_string(),
        "2025-11-30T12:00:02Z stdout F {\"severity\":\"INFO\",broken\n".to_string(),
        line("ok", 1),
    ]
    .concat();
    std::fs::write(logs.join("mixed.log"), &text).unwrap();
    let p = write_pipeline(
        t.path(),
        "p.toml",
        &pipeline(&data, &[logs.join("*.log")], "max_line_bytes = 1024"),
    );
    let out = t.path().join("out.ndjson");
    let log = t.path().join("run.log");
    let mut s = spawn(&p, &out, &log);
    let dl = data.join("deadletter.ndjson");
    wait_until("2 entries and 3 dead letters", &log, || {
        entries(&out).len() >= 2 && entries(&dl).len() >= 3
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sigterm(&mut s, &log).code(), Some(0));

    let keys: Vec<String> = entries(&out).iter().map(key).collect();
    assert_eq!(keys, vec!["s=ok n=00000000", "s=ok n=00000001"]);
    let dead = entries(&dl);
    assert_eq!(dead.len(), 3);
    let reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(
        reasons[0].contains("exceeds max_line_bytes (1024)"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("malformed CRI line"), "{reasons:?}");
    assert!(reasons[2].contains("malformed JSON"), "{reasons:?}");
    assert!(dead.iter().all(|d| d["component"] == "files"));
    assert_eq!(dead[0]["event"]["raw_bytes"], 3030);
    // Dead-lettered lines count as delivered: the checkpoint is at the end.
    assert_eq!(checkpoints(&data)[0].1, text.len() as u64);
}
