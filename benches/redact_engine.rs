//! Micro-benchmark of the redaction engine (no criterion): generates
//! license-API-shaped Cloud Logging events, then reports MiB/s for parse
//! only, redact only and parse+redact, and the cost of each detector alone.
//!
//! Run: `cargo bench --bench redact_engine -- [events]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sluice::transforms::redact::{RedactConfig, RedactStats, Redactor};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

fn uuid(r: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        r.hex(8),
        r.hex(4),
        r.hex(3),
        r.hex(3),
        r.hex(12)
    )
}

fn event(r: &mut Rng, i: u64) -> Value {
    let ip = format!("203.0.{}.{}", r.below(256), 1 + r.below(254));
    let email = format!("user{}@example{}.com", r.below(10_000), r.below(50));
    let hw = format!("sha256:{}", r.hex(64));
    let msgs = [
        "License acquisition request".to_string(),
        format!("License validated in {}ms for tenant", r.below(400)),
        format!(
            "Seat released after {}s, pool size {}",
            r.below(9000),
            r.below(500)
        ),
        format!(
            "Upstream returned 503 after {} retries (attempt {}/5)",
            r.below(5),
            r.below(5)
        ),
        format!("Device {hw} bound to license"),
        format!("Login from {ip} for {email}"),
    ];
    let msg = msgs[r.below(msgs.len() as u64) as usize].clone();
    json!({
        "timestamp": format!("2025-11-30T12:{:02}:{:02}.{:03}Z", r.below(60), r.below(60), r.below(1000)),
        "severity": (["INFO", "WARNING", "ERROR"][r.below(3) as usize]),
        "logName": "projects/coditect-prod/logs/license-api",
        "insertId": r.hex(16),
        "resource": {"type": "k8s_container", "labels": {
            "project_id": "coditect-prod", "cluster_name": "prod-us-central1",
            "namespace_name": "license", "container_name": "license-api",
            "pod_name": format!("license-api-{}-{}", r.hex(9), r.hex(5)), "location": "us-central1"}},
        "jsonPayload": {
            "message": msg,
            "user_id": uuid(r),
            "tenant_id": uuid(r),
            "license_key": format!("CODITECT-{}-{}-{}-{}", r.hex(4), r.hex(4), r.hex(4), r.hex(4)).to_uppercase(),
            "hardware_id": hw,
            "ip_address": ip,
            "user_agent": "CODITECT/1.0.0 (Linux; Python 3.11)",
            "user_email": email,
            "request_id": uuid(r),
            "duration_ms": r.below(2000),
            "version": "2.14.3",
            "seq": i
        },
        "httpRequest": {"requestMethod": "POST", "requestUrl": "/api/v1/licenses/acquire",
            "status": ([200, 200, 200, 201, 404, 503][r.below(6) as usize]),
            "latency": format!("0.{:03}s", r.below(1000)), "remoteIp": ip,
            "userAgent": "CODITECT/1.0.0 (Linux; Python 3.11)", "protocol": "HTTP/1.1"},
        "trace": format!("projects/coditect-prod/traces/{}", r.hex(32)),
        "spanId": r.hex(16)
    })
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn mib_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let mut rng = Rng(42);
    let lines: Vec<String> = (0..n).map(|i| event(&mut rng, i).to_string()).collect();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("generated line is JSON"))
        .collect();
    let r = Redactor::new(&RedactConfig::default(), None).expect("default config is valid");
    println!(
        "{n} events, {:.1} MiB NDJSON, {:.0} bytes/event",
        bytes as f64 / 1048576.0,
        bytes as f64 / n as f64
    );

    let reps = 3;
    if std::env::var_os("REDACT_BENCH_PROFILE").is_some() {
        // Only parse + redact, for a profiler.
        let mut stats = RedactStats::default();
        for l in &lines {
            let mut v: Value = serde_json::from_str(l).expect("JSON");
            r.redact(&mut v, &mut stats);
            black_box(v);
        }
        return;
    }
    let best = |f: &mut dyn FnMut() -> Duration| (0..reps).map(|_| f()).min().unwrap_or_default();

    let parse = best(&mut || {
        let t = Instant::now();
        for l in &lines {
            black_box(serde_json::from_str::<Value>(l).expect("JSON"));
        }
        t.elapsed()
    });
    let mut stats = RedactStats::default();
    let redact = best(&mut || {
        let mut evs = events.clone();
        let t = Instant::now();
        for e in &mut evs {
            r.redact(e, &mut stats);
        }
        let d = t.elapsed();
        black_box(evs);
        d
    });
    let both = best(&mut || {
        let t = Instant::now();
        for l in &lines {
            let mut v: Value = serde_json::from_str(l).expect("JSON");
            r.redact(&mut v, &mut stats);
            black_box(v);
        }
        t.elapsed()
    });
    println!("parse only          {:8.1} MiB/s", mib_s(bytes, parse));
    println!(
        "redact only         {:8.1} MiB/s  ({:.2} us/event)",
        mib_s(bytes, redact),
        redact.as_secs_f64() * 1e6 / n as f64
    );
    println!("parse + redact      {:8.1} MiB/s", mib_s(bytes, both));

    // Per-detector cost: scan every string of every event with one detector on.
    let mut all: Vec<&str> = Vec::new();
    for e in &events {
        strings(e, &mut all);
    }
    let sbytes: usize = all.iter().map(|s| s.len()).sum();
    let names = [
        "email",
        "ipv4",
        "ipv6",
        "phone",
        "card",
        "ssn",
        "iban",
        "jwt",
        "bearer",
        "authorization",
        "api_key",
        "secret_param",
        "password",
        "url_password",
        "mac",
        "imei",
        "serial",
        "name",
    ];
    let scan_time = |r: &Redactor| {
        best(&mut || {
            let mut out = Vec::new();
            let t = Instant::now();
            for s in &all {
                out.clear();
                r.scan_str(s, &mut out);
                black_box(&out);
            }
            t.elapsed()
        })
    };
    let none = RedactConfig {
        disabled_detectors: names.iter().map(|s| s.to_string()).collect(),
        ..RedactConfig::default()
    };
    let base = scan_time(&Redactor::new(&none, None).expect("valid"));
    let full = scan_time(&r);
    println!(
        "\nscan_str over all string values ({:.1} MiB):",
        sbytes as f64 / 1048576.0
    );
    println!("  dispatcher only   {:8.1} MiB/s", mib_s(sbytes, base));
    println!("  all detectors     {:8.1} MiB/s", mib_s(sbytes, full));
    for name in names {
        let cfg = RedactConfig {
            disabled_detectors: names
                .iter()
                .filter(|n| **n != name)
                .map(|s| s.to_string())
                .collect(),
            ..RedactConfig::default()
        };
        let d = scan_time(&Redactor::new(&cfg, None).expect("valid"));
        let extra = d.saturating_sub(base);
        println!(
            "  {name:<16} +{:7.2} ns/string",
            extra.as_secs_f64() * 1e9 / all.len() as f64
        );
    }
    let hits: Vec<String> = stats.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("\nstats: {}", hits.join(" "));
}
