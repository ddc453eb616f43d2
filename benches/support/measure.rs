//! Wall and CPU time around a piece of work, for MiB/s and MiB per
//! CPU-second figures.

#![allow(dead_code)]

use std::time::{Duration, Instant};

pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
}

/// Process CPU time (user + system) from /proc/self/stat.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // CLK_TCK is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Peak resident set size of this process, in KiB (VmHWM).
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Sample) {
    let c0 = cpu_time();
    let t0 = Instant::now();
    let r = f();
    (
        r,
        Sample {
            wall: t0.elapsed(),
            cpu: cpu_time().saturating_sub(c0),
        },
    )
}

pub fn report(label: &str, bytes: u64, events: u64, s: &Sample) {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let wall = s.wall.as_secs_f64();
    let cpu = s.cpu.as_secs_f64().max(1e-9);
    println!(
        "{label:<44} {mib:>8.1} MiB {events:>10} events  wall {wall:>6.2}s  {:>7.1} MiB/s  {:>9.0} events/s  {:>7.1} MiB/CPU-s  cpu {cpu:.2}s",
        mib / wall,
        events as f64 / wall,
        mib / cpu
    );
}
