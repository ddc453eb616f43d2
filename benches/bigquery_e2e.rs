//! End-to-end events/s into the BigQuery emulator, and where the time goes.
//!
//! Needs `SLUICE_TEST_BIGQUERY` (scripts/test-services.sh) and the release
//! `sluice` binary beside this bench (cargo builds it for benches):
//!
//!   cargo bench --bench bigquery_e2e            # 100k events
//!   BQ_E2E_EVENTS=20000 cargo bench --bench bigquery_e2e
//!
//! Prints wall time and events/s for `sluice run` (stdin CRI lines ->
//! bigquery sink), sluice's own CPU time, the emulator process's CPU time
//! over the run (from /proc), and the insertAll request latencies sluice
//! logged (debug level): how much of the wall time was spent waiting for
//! BigQuery.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

fn cpu_secs_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn emulator_pid(port: &str) -> Option<u32> {
    let out = Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    let i = s.find("pid=")?;
    s[i + 4..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn main() {
    let Ok(ep) = std::env::var("SLUICE_TEST_BIGQUERY") else {
        eprintln!("bigquery_e2e: SLUICE_TEST_BIGQUERY is not set (start scripts/test-services.sh)");
        std::process::exit(1);
    };
    let n: usize = std::env::var("BQ_E2E_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("sluice");
    assert!(bin.exists(), "{} not built", bin.display());
    let dir = tempfile::tempdir().unwrap();
    let ds = format!("bench_e2e_{}", std::process::id());
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[global]\ndata_dir = \"{d}\"\nshutdown_grace_secs = 600\n\n[sources.in]\ntype = \"stdin\"\n\n\
             [sinks.bq]\ntype = \"bigquery\"\ninputs = [\"in\"]\nproject = \"test-project\"\ndataset = \"{ds}\"\n\
             endpoint = \"{ep}\"\nauth = \"token\"\ntoken = \"fake\"\nallow_unredacted = true\n\n\
             [dead_letter]\nallow_unredacted = true\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let now = chrono::Utc::now();
    let mut input = Vec::with_capacity(n * 450);
    for i in 0..n {
        let t = (now + chrono::Duration::microseconds(i as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        writeln!(
            input,
            r#"{t} stdout F {{"severity":"INFO","message":"License acquisition request","user_id":"550e8400-e29b-41d4-a716-{i:012}","tenant_id":"660e8400-e29b-41d4-a716-446655440001","seats":{s},"httpRequest":{{"requestMethod":"POST","requestUrl":"/api/v1/licenses/acquire","status":200,"latency":"0.153s"}}}}"#,
            s = i % 50
        )
        .unwrap();
    }
    let port = ep
        .rsplit(':')
        .next()
        .unwrap_or("9050")
        .trim_end_matches('/')
        .to_string();
    let emu = emulator_pid(&port);
    let emu_cpu0 = emu.and_then(cpu_secs_of);
    let start = Instant::now();
    let mut child = Command::new(&bin)
        .args(["run", pipeline.to_str().unwrap()])
        .env("RUST_LOG", "sluice::sinks::bigquery=debug")
        .env("SLUICE_LOG_FORMAT", "json")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let wall = start.elapsed().as_secs_f64();
    let emu_cpu = match (emu.and_then(cpu_secs_of), emu_cpu0) {
        (Some(b), Some(a)) => format!("{:.1} s", b - a),
        _ => "unknown".into(),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (mut reqs, mut lat_ms, mut max_ms) = (0u64, 0u64, 0u64);
    for line in stderr.lines().filter(|l| l.contains("insertAll request")) {
        if let Some(i) = line.find("latency_ms") {
            let v: u64 = line[i..]
                .split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            reqs += 1;
            lat_ms += v;
            max_ms = max_ms.max(v);
        }
    }
    let mut ru: RUsage = unsafe { std::mem::zeroed() };
    let sluice_cpu = if unsafe { getrusage(-1, &mut ru) } == 0 {
        format!(
            "{:.2} s",
            ru.utime_s as f64
                + ru.utime_us as f64 / 1e6
                + ru.stime_s as f64
                + ru.stime_us as f64 / 1e6
        )
    } else {
        "unknown".into()
    };
    assert!(out.status.success(), "sluice failed: {stderr}");
    println!(
        "bigquery_e2e: {n} events in {wall:.1} s = {:.0} events/s (wall)",
        n as f64 / wall
    );
    println!("bigquery_e2e: sluice CPU {sluice_cpu}; emulator CPU {emu_cpu}");
    if reqs > 0 {
        println!(
            "bigquery_e2e: {reqs} insertAll requests, mean latency {:.0} ms, max {max_ms} ms, {:.1} request-seconds (concurrency 4)",
            lat_ms as f64 / reqs as f64,
            lat_ms as f64 / 1000.0
        );
    } else {
        println!("bigquery_e2e: no request latencies in sluice's log (is debug logging on?)");
    }
}

/// The leading fields of `struct rusage` (timevals), enough for CPU time.
#[repr(C)]
struct RUsage {
    utime_s: i64,
    utime_us: i64,
    stime_s: i64,
    stime_us: i64,
    _rest: [i64; 14],
}

extern "C" {
    fn getrusage(who: i32, usage: *mut RUsage) -> i32;
}
