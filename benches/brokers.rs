//! Throughput of the `pubsub` and `kafka` sources into a `blackhole` sink,
//! with the emulator/broker on this machine (`scripts/test-services.sh`).
//!
//! `cargo bench --bench brokers` (release). For each source: publish N
//! generated events (~330 bytes, as the license API writes them) first,
//! then run the pipeline in-process until the sink has received all of
//! them and every message is acknowledged/committed. Prints events/s and
//! MiB/s of wall time, and per core of sluice's own CPU time (user + system
//! of this process, read from /proc; the broker's CPU is not counted).
//! N defaults to 100000; `SLUICE_BENCH_EVENTS` overrides it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use sluice::node::NodeInfo;
use sluice::telemetry::Telemetry;
use sluice::topology;

fn events() -> usize {
    std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn payload(i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "severity": "INFO",
        "time": "2025-11-30T12:34:56.789012Z",
        "message": "License acquisition request",
        "seq": i,
        "user_id": "550e8400-e29b-41d4-a716-446655440000",
        "tenant_id": format!("tenant-{}", i % 17),
        "user_agent": "CODITECT/1.0.0 (Linux; Python 3.11)",
        "httpRequest": {"status": 200, "latency": "0.153s", "remoteIp": "203.0.113.42"},
    }))
    .unwrap()
}

/// CPU seconds (user + system) this process has used.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime/stime are 14/15.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

fn rest_call(host: &str, method: &str, path: &str, body: &Value) -> Value {
    let body = serde_json::to_vec(body).unwrap();
    let mut s = TcpStream::connect(host).expect("emulator reachable");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body).unwrap();
    let (head, body) = read_response(&mut s);
    assert!(head.contains(" 200 "), "{method} {path}: {head}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Reads one HTTP response: the emulator keeps connections open even when
/// asked to close, so the body ends at its `content-length`.
fn read_response(s: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).expect("response from the emulator");
        assert!(n > 0, "the emulator closed the connection mid-response");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).expect("response body from the emulator");
        assert!(n > 0, "the emulator closed the connection mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    (head, body)
}

/// Runs the pipeline until the sink has `n` events (timed from the first
/// event read), then until the source reports nothing outstanding;
/// returns (wall seconds, CPU seconds, bytes).
fn run_pipeline(dir: &Path, source_toml: &str, n: usize) -> (f64, f64, u64) {
    let text = format!(
        "[global]\ndata_dir = \"{}\"\nbatch_max_events = 1000\n\n{source_toml}\n\
         [sinks.out]\ntype = \"blackhole\"\ninputs = [\"in\"]\nallow_unredacted = true\n\n\
         [dead_letter]\nallow_unredacted = true\n",
        dir.join("data").display()
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = sluice::config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let telemetry = Telemetry::new();
        let cx = cfg
            .global
            .build_context(NodeInfo::default(), telemetry.clone());
        let root = CancellationToken::new();
        let running = topology::build(&cfg, &cx, root.clone()).unwrap();
        let t = Arc::clone(&telemetry);
        let done = Arc::new(tokio::sync::Notify::new());
        let d2 = done.clone();
        let watcher = tokio::spawn(async move {
            // The clock starts at the first event: connecting and (Kafka)
            // the group's first assignment are not throughput.
            let stat = |name: &str| t.components().get(name).cloned().unwrap_or_default();
            while stat("in").events_in == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let (cpu0, start) = (cpu_secs(), Instant::now());
            while (stat("out").events_in as usize) < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let r = (
                start.elapsed().as_secs_f64(),
                cpu_secs() - cpu0,
                stat("in").bytes_in,
            );
            // Not timed: everything acknowledged/committed.
            let deadline = Instant::now() + Duration::from_secs(60);
            while stat("in").lag != Some(0) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(
                stat("in").lag,
                Some(0),
                "source still has unacknowledged messages"
            );
            d2.notify_one();
            r
        });
        let outcome = running.run_until(done.notified()).await;
        assert_eq!(outcome, topology::Outcome::Completed);
        watcher.await.unwrap()
    })
}

fn report(name: &str, n: usize, (wall, cpu, bytes): (f64, f64, u64)) {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{name}: {n} events, {mib:.1} MiB in {wall:.2} s wall, {cpu:.2} s sluice CPU -> \
         {:.0} events/s, {:.1} MiB/s wall; {:.0} events/s, {:.1} MiB/s per core",
        n as f64 / wall,
        mib / wall,
        n as f64 / cpu,
        mib / cpu
    );
}

fn bench_pubsub(n: usize) {
    let Ok(host) = std::env::var("PUBSUB_EMULATOR_HOST") else {
        panic!("PUBSUB_EMULATOR_HOST is not set: start scripts/test-services.sh");
    };
    let tag = format!("bench-{}", std::process::id());
    rest_call(
        &host,
        "PUT",
        &format!("/v1/projects/test-project/topics/{tag}"),
        &json!({}),
    );
    rest_call(
        &host,
        "PUT",
        &format!("/v1/projects/test-project/subscriptions/{tag}"),
        &json!({"topic": format!("projects/test-project/topics/{tag}"), "ackDeadlineSeconds": 60}),
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(1000) {
        let messages: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"data": b64.encode(payload(*i))}))
            .collect();
        rest_call(
            &host,
            "POST",
            &format!("/v1/projects/test-project/topics/{tag}:publish"),
            &json!({"messages": messages}),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "[sources.in]\ntype = \"pubsub\"\nproject = \"test-project\"\nsubscription = \"{tag}\"\n\
         endpoint = \"{host}\"\n"
    );
    report("pubsub -> blackhole", n, run_pipeline(dir.path(), &src, n));
}

fn bench_kafka(n: usize) {
    let Ok(brokers) = std::env::var("SLUICE_TEST_KAFKA") else {
        panic!("SLUICE_TEST_KAFKA is not set: start scripts/test-services.sh");
    };
    let topic = format!("bench-{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        admin
            .create_topics(
                &[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .unwrap();
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("linger.ms", "20")
            .create()
            .unwrap();
        let all: Vec<usize> = (0..n).collect();
        for chunk in all.chunks(5000) {
            let payloads: Vec<Vec<u8>> = chunk.iter().map(|i| payload(*i)).collect();
            let futs = payloads.iter().map(|p| {
                producer.send(
                    FutureRecord::<(), [u8]>::to(&topic).payload(p),
                    Duration::from_secs(30),
                )
            });
            for r in futures::future::join_all(futs).await {
                r.map_err(|(e, _)| e).unwrap();
            }
        }
    });
    drop(rt);
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "[sources.in]\ntype = \"kafka\"\nbootstrap_servers = \"{brokers}\"\ntopics = [\"{topic}\"]\n\
         group_id = \"{topic}\"\nstatistics_interval_ms = 500\n"
    );
    report("kafka -> blackhole", n, run_pipeline(dir.path(), &src, n));
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let n = events();
    if want("pubsub") {
        bench_pubsub(n);
    }
    if want("kafka") {
        bench_kafka(n);
    }
}
