//! Row encoding speed of the BigQuery sink: LogEntry -> insertAll row JSON
//! (normalization, schema checks, value conversion), one core.
//!
//! `cargo bench --bench bigquery_encode` prints MiB/s of input (the
//! LogEntries as compact JSON, what the sink is handed) and of output
//! (row JSON), and events/s, over generated license-API-shaped entries.

use std::time::Instant;

use serde_json::{json, Value};
use sluice::sinks::bigquery::encoder;
use sluice::sinks::bigquery::schema::Schema;

/// Deterministic license-API-shaped LogEntries, as the shaping step
/// produces them (a mix of plain, HTTP and error entries).
fn entries(n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ts = format!(
            "2025-11-30T12:{:02}:{:02}.{:03}Z",
            (i / 60000) % 60,
            (i / 1000) % 60,
            i % 1000
        );
        let mut e = json!({
            "insertId": format!("{:032x}", (x as u128) << 64 | i as u128),
            "logName": "projects/coditect-cloud-infra/logs/stdout",
            "timestamp": ts,
            "receiveTimestamp": ts,
            "severity": if x.is_multiple_of(10) { "WARNING" } else { "INFO" },
            "resource": {"type": "k8s_container", "labels": {
                "project_id": "coditect-cloud-infra", "location": "us-central1",
                "cluster_name": "production-gke-cluster", "namespace_name": "coditect",
                "pod_name": "license-api-7d8f9c6b4-xk9m2", "container_name": "django"}},
            "labels": {"k8s-pod/app": "license-api", "compute.googleapis.com/resource_name": "gke-node-1"},
            "jsonPayload": {
                "message": "License acquisition request",
                "user_id": format!("550e8400-e29b-41d4-a716-{:012x}", x & 0xffff_ffff_ffff),
                "tenant_id": "660e8400-e29b-41d4-a716-446655440001",
                "license_key": "[REDACTED:license_key]",
                "hardware_id": "[REDACTED:hardware_id]",
                "ip_address": "203.0.113.0/24",
                "user_agent": "CODITECT/1.0.0 (Linux; Python 3.11)",
                "seats_used": x % 50,
                "duration_ms": (x % 1000) as f64 / 7.0,
            }
        });
        match x % 4 {
            0 => {
                e["httpRequest"] = json!({"requestMethod": "POST", "requestUrl": "/api/v1/licenses/acquire",
                    "status": 200, "latency": "0.153s", "remoteIp": "203.0.113.0/24",
                    "userAgent": "CODITECT/1.2.0 (Linux; Python 3.11)", "responseSize": "2530"});
                e["trace"] =
                    json!("projects/coditect-cloud-infra/traces/def49297635584988162a4eb69349c64");
                e["spanId"] = json!("7e6f2158517c5a17");
            }
            1 => {
                e["jsonPayload"]["exception"] = json!("Traceback (most recent call last):\n  File \"/app/licenses/views.py\", line 88, in acquire\n    seat = allocate(tenant)\nValueError: no seat for user");
                e["sourceLocation"] =
                    json!({"file": "licenses/views.py", "line": "88", "function": "acquire"});
            }
            _ => {}
        }
        out.push(e);
    }
    out
}

fn main() {
    let n = 200_000;
    let events = entries(n);
    let in_bytes: usize = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().len())
        .sum();
    let mut schema = Schema::logging();
    let mut out = Vec::with_capacity(1 << 20);
    // Warm-up: builds the columns once, as the first rows of a table do.
    for e in events.iter().take(1000) {
        out.clear();
        encoder::encode(e, &mut schema, true, &mut out).unwrap();
    }
    let rounds = 5;
    let mut out_bytes = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for e in &events {
            out.clear();
            encoder::encode(e, &mut schema, true, &mut out).unwrap();
            out_bytes += out.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let total = (n * rounds) as f64;
    let mib = |b: f64| b / (1024.0 * 1024.0);
    println!(
        "bigquery_encode: {} events x {rounds}, {:.0} B/event in, {:.0} B/event out",
        n,
        in_bytes as f64 / n as f64,
        out_bytes as f64 / total
    );
    println!(
        "bigquery_encode: {:.1} MiB/s in (LogEntry JSON), {:.1} MiB/s out (row JSON), {:.0} events/s",
        mib(in_bytes as f64 * rounds as f64) / secs,
        mib(out_bytes as f64) / secs,
        total / secs
    );
}
