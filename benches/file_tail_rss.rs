//! Peak memory of the `file` source tailing 100 container log files.
//!
//! Not a timed test: a harness (`cargo bench --bench file_tail_rss`,
//! release profile) that writes 100 CRI files with generated JSON lines,
//! runs `sluice run` on them (file source -> blackhole sink), keeps
//! appending to every file while sluice reads, waits until the
//! checkpoints cover every byte, then prints the process's peak resident
//! set (`VmHWM` from /proc/PID/status) and the throughput. Exits non-zero
//! when the peak is over the 64 MiB budget.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 100;
const INITIAL_LINES: usize = 4000;
const APPENDED_LINES: usize = 1000;
const BUDGET_KIB: u64 = 64 * 1024;

fn line(file: usize, n: usize) -> String {
    format!(
        "2025-11-30T12:34:56.{n:09}Z stdout F {{\"severity\":\"INFO\",\"message\":\"License acquisition request\",\
         \"user_id\":\"550e8400-e29b-41d4-a716-{file:012}\",\"tenant_id\":\"660e8400-e29b-41d4-a716-446655440001\",\
         \"httpRequest\":{{\"status\":200,\"latency\":\"0.153s\",\"remoteIp\":\"203.0.113.42\"}},\"seq\":{n}}}\n"
    )
}

fn name(i: usize) -> String {
    format!("license-api-7d8f9c6b4-p{i:03}_coditect_django-{i:064x}.log")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn checkpointed(data: &Path) -> u64 {
    let Ok(t) = std::fs::read(data.join("checkpoints/containers/checkpoints.json")) else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_slice(&t).unwrap_or_default();
    v["files"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["offset"].as_u64()).sum())
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let t = tempfile::tempdir().expect("temp dir");
    let logs = t.path().join("containers");
    let data = t.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let mut total_bytes = 0u64;
    for i in 0..FILES {
        let mut w = BufWriter::new(File::create(logs.join(name(i))).unwrap());
        for n in 0..INITIAL_LINES {
            let l = line(i, n);
            total_bytes += l.len() as u64;
            w.write_all(l.as_bytes()).unwrap();
        }
        w.flush().unwrap();
    }
    let pipeline = t.path().join("bench.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"[global]
data_dir = "{data}"

[sources.containers]
type = "file"
include = ["{logs}/*.log"]
format = "cri"

[sinks.drop]
type = "blackhole"
inputs = ["containers"]
allow_unredacted = true

[dead_letter]
allow_unredacted = true
"#,
            data = data.display(),
            logs = logs.display()
        ),
    )
    .unwrap();

    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", pipeline.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("sluice runs");
    let pid = child.id();

    // Keep appending to every file while sluice reads.
    let mut files: Vec<File> = (0..FILES)
        .map(|i| {
            OpenOptions::new()
                .append(true)
                .open(logs.join(name(i)))
                .unwrap()
        })
        .collect();
    for n in INITIAL_LINES..INITIAL_LINES + APPENDED_LINES {
        for (i, f) in files.iter_mut().enumerate() {
            let l = line(i, n);
            total_bytes += l.len() as u64;
            f.write_all(l.as_bytes()).unwrap();
        }
        if n % 100 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut peak_rss = 0;
    while checkpointed(&data) < total_bytes {
        peak_rss = peak_rss.max(status_kib(pid, "VmRSS:"));
        assert!(
            Instant::now() < deadline,
            "sluice did not catch up within 300 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let hwm = status_kib(pid, "VmHWM:");
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();

    let events = FILES * (INITIAL_LINES + APPENDED_LINES);
    let mib = total_bytes as f64 / (1024.0 * 1024.0);
    println!(
        "file_tail_rss: {FILES} files, {mib:.1} MiB, {events} events in {elapsed:.2} s \
         (to checkpoint): {:.1} MiB/s, {:.0} events/s",
        mib / elapsed,
        events as f64 / elapsed
    );
    println!(
        "file_tail_rss: peak RSS (VmHWM) {:.1} MiB, highest sampled VmRSS {:.1} MiB, budget {} MiB; exit {:?}",
        hwm as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        BUDGET_KIB / 1024,
        status.code()
    );
    if hwm > BUDGET_KIB || !status.success() {
        eprintln!("file_tail_rss: over budget or sluice failed");
        std::process::exit(1);
    }
}
