//! Throughput with and without 10 log-based metric definitions.
//!
//! `cargo bench --bench log_metrics` (release). Runs the real topology in
//! process: a replay source over a generated CRI file -> [log_metrics ->]
//! blackhole, and prints MiB/s and events/s for both pipelines, plus the
//! relative drop. The issue's target: no more than 10% slower with the
//! metrics. Runs alternate between the two pipelines and the best of each
//! is kept, so a noisy neighbour on a shared machine hurts both alike.
//!
//! `SLUICE_BENCH_LINES` (default 200000) sets the input size,
//! `SLUICE_BENCH_ROUNDS` (default 5) the number of runs of each.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sluice::config::load_str;
use sluice::node::NodeInfo;
use sluice::sources::replay::Input;
use sluice::telemetry::Telemetry;
use sluice::topology::{self, DryRunPlan};
use tokio_util::sync::CancellationToken;

/// Five shipped definitions (pipelines/metrics) plus these five inline.
const INLINE_METRICS: &str = r#"
[[transforms.metrics.metrics]]
name = "warnings"
filter = "severity>=WARNING"
metricDescriptor = { labels = [{ key = "container_name" }] }
labelExtractors = { container_name = "EXTRACT(resource.labels.container_name)" }

[[transforms.metrics.metrics]]
name = "ok_requests"
filter = "httpRequest.status=200"
metricDescriptor = { labels = [{ key = "method" }] }
labelExtractors = { method = "EXTRACT(httpRequest.requestMethod)" }

[[transforms.metrics.metrics]]
name = "response_size_bytes"
filter = "httpRequest.responseSize:*"
valueExtractor = "EXTRACT(httpRequest.responseSize)"
metricDescriptor = { metricKind = "DELTA", valueType = "DISTRIBUTION" }
bucketOptions = { linearBuckets = { numFiniteBuckets = 20, width = 500, offset = 0 } }

[[transforms.metrics.metrics]]
name = "sync_job_duration_ms"
filter = 'jsonPayload.message="Processed license sync job"'
valueExtractor = "EXTRACT(jsonPayload.duration_ms)"
metricDescriptor = { metricKind = "DELTA", valueType = "DISTRIBUTION" }
bucketOptions = { explicitBuckets = { bounds = [10, 50, 100, 250, 500, 1000, 2500] } }

[[transforms.metrics.metrics]]
name = "license_messages"
filter = 'jsonPayload.message=~"^License"'
metricDescriptor = { labels = [{ key = "namespace" }] }
labelExtractors = { namespace = "EXTRACT(resource.labels.namespace_name)" }
"#;

#[derive(Clone, Copy)]
enum Shape {
    /// source -> blackhole
    Plain,
    /// source -> filter (empty query: keeps everything) -> blackhole: the
    /// same number of stages as with metrics, to separate the cost of a
    /// stage from the cost of the metrics.
    Passthrough,
    /// source -> log_metrics (10 definitions) -> blackhole
    Metrics,
}

fn pipeline(shape: Shape) -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    let mut p = String::from(
        "[global]\ndata_dir = \"/tmp/sluice-bench\"\n[sources.in]\ntype = \"stdin\"\n\
         [dead_letter]\npath = \"/tmp/sluice-bench/deadletter.ndjson\"\nallow_unredacted = true\n",
    );
    if let Shape::Passthrough = shape {
        p.push_str(
            "[transforms.keep]\ntype = \"filter\"\ninputs = [\"in\"]\nquery = \"\"\n\
             [sinks.out]\ntype = \"blackhole\"\ninputs = [\"keep\"]\nallow_unredacted = true\n",
        );
    } else if let Shape::Metrics = shape {
        p.push_str(&format!(
            "[transforms.metrics]\ntype = \"log_metrics\"\ninputs = [\"in\"]\nallow_unredacted = true\n\
             definitions = [\"{repo}/pipelines/metrics/*.yaml\"]\n{INLINE_METRICS}\n\
             [sinks.out]\ntype = \"blackhole\"\ninputs = [\"metrics\"]\nallow_unredacted = true\n"
        ));
    } else {
        p.push_str(
            "[sinks.out]\ntype = \"blackhole\"\ninputs = [\"in\"]\nallow_unredacted = true\n",
        );
    }
    p
}

/// Writes `n` CRI lines shaped like the license API's logs.
fn generate(dir: &Path, n: usize) -> (PathBuf, u64) {
    let path = dir.join(
        "license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log",
    );
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let statuses = [200, 200, 200, 200, 201, 204, 400, 403, 409, 500, 503];
    let reasons = ["seat_limit_reached", "license_expired", "hardware_mismatch"];
    for i in 0..n {
        let r = next();
        let ts = format!(
            "2025-11-30T12:{:02}:{:02}.{:09}Z",
            (i / 60000) % 60,
            (i / 1000) % 60,
            i % 1_000_000_000
        );
        let line = match r % 4 {
            0 | 1 => {
                let status = statuses[(r >> 8) as usize % statuses.len()];
                let sev = if status >= 500 {
                    "ERROR"
                } else if status >= 400 {
                    "WARNING"
                } else {
                    "INFO"
                };
                format!(
                    r#"{{"severity":"{sev}","timestamp":"2025-11-30T12:34:56.789Z","message":"POST /api/v1/licenses/acquire {status}","httpRequest":{{"requestMethod":"POST","requestUrl":"/api/v1/licenses/acquire","status":{status},"latency":"{}.{:03}s","remoteIp":"203.0.113.{}","userAgent":"CODITECT/1.2.0 (Linux; Python 3.11)","responseSize":"{}"}},"user_id":"9decdc59-802c-4f7a-a8ac-{:012x}","tenant_id":"c5902cfc-cc66-4bcc-a9e0-16bf894344b8"}}"#,
                    (r >> 16) % 3,
                    (r >> 20) % 1000,
                    (r >> 30) % 255,
                    (r >> 34) % 9000,
                    (r >> 12) & 0xffff_ffff_ffff
                )
            }
            2 => format!(
                r#"{{"severity":"{}","timestamp":"2025-11-30T12:34:57.748Z","message":"License acquisition failed","user_id":"20b49489-0a8a-4c59-a142-{:012x}","reason":"{}"}}"#,
                if r & 0x100 == 0 { "WARNING" } else { "ERROR" },
                (r >> 12) & 0xffff_ffff_ffff,
                reasons[(r >> 9) as usize % reasons.len()]
            ),
            _ => format!(
                r#"{{"severity":"INFO","timestamp":"2025-11-30T12:35:01.858Z","message":"Processed license sync job","job_id":"b95ef786-3028-46e1-a467-{:012x}","tenant_id":"41595b3d-dc5e-45c9-aad8-4cb3f6aaf213","duration_ms":{}}}"#,
                (r >> 12) & 0xffff_ffff_ffff,
                (r >> 20) % 3000
            ),
        };
        writeln!(f, "{ts} stdout F {line}").unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let bytes = std::fs::metadata(&path).unwrap().len();
    (path, bytes)
}

/// Runs the pipeline once over `input`; returns the wall time, the CPU
/// time and the number of events the sink received.
fn run_once(
    rt: &tokio::runtime::Runtime,
    text: &str,
    input: &Path,
    out: &Path,
) -> (Duration, Duration, u64) {
    let cfg = load_str(text, Path::new("bench.toml"), |_| None).unwrap_or_else(|e| panic!("{e}"));
    let telemetry = Telemetry::new();
    let cx = cfg
        .global
        .build_context(NodeInfo::default(), telemetry.clone());
    let plan = DryRunPlan {
        out_dir: out.to_path_buf(),
        inputs: vec![Input::File(input.to_path_buf())],
    };
    let cpu0 = cpu_time();
    let start = Instant::now();
    let outcome = rt.block_on(async {
        let running = topology::build_dry_run(&cfg, &cx, &plan, CancellationToken::new()).unwrap();
        running.run_until(std::future::pending()).await
    });
    let took = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    assert_eq!(outcome.exit_code(), 0, "{outcome:?}");
    let events = telemetry.components()["out"].events_in;
    (took, cpu, events)
}

/// User + system CPU time of this process so far (Linux `/proc`), which
/// on a shared machine is steadier than wall time. Zero elsewhere.
fn cpu_time() -> Duration {
    cpu_time_of("/proc/self/stat")
}

fn cpu_time_of(stat_file: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(stat_file) else {
        return Duration::ZERO;
    };
    // Fields after `(comm)` start at field 3 (state); utime and stime are
    // fields 14 and 15, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        f.get(n - 3)
            .and_then(|x| x.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = field(14) + field(15);
    Duration::from_millis(ticks * 10)
}

/// The transform alone, single-threaded: decodes `input` once, then
/// measures the CPU time of `LogMetrics::process` over every entry (10 ms
/// tick resolution: main keeps the best of several passes). Returns ns per entry: the
/// metrics' own cost, free of scheduling noise.
fn observe_cost(input: &Path, text: &str) -> f64 {
    use sluice::component::Transform;
    use sluice::component::TransformContext;
    use sluice::decode::{k8s, Decoded, Decoder, Format};
    use sluice::event::{Batch, Event};
    use sluice::transforms::TransformConfig;

    let cfg = load_str(text, Path::new("bench.toml"), |_| None).unwrap();
    let TransformConfig::LogMetrics(c) = &cfg.transforms["metrics"].inner else {
        panic!("the metrics pipeline has a log_metrics transform");
    };
    let telemetry = Telemetry::new();
    let mut t = c.validate().unwrap().build("metrics", &telemetry).unwrap();
    let origin = k8s::origin_for_file(input, &NodeInfo::default());
    let mut decoder = Decoder::new(Format::Cri, origin, 256 * 1024);
    let mut decoded = Vec::new();
    let now = chrono::Utc::now();
    for line in std::fs::read(input).unwrap().split(|b| *b == b'\n') {
        decoder.push_line(line, now, &mut decoded);
    }
    let events: Vec<Event> = decoded
        .into_iter()
        .filter_map(|d| match d {
            Decoded::Entry { log, size } => Some(Event::new(log, size)),
            _ => None,
        })
        .collect();
    let n = events.len();
    let batches: Vec<Batch> = events
        .chunks(1000)
        .map(|c| Batch::new(c.to_vec()))
        .collect();
    let mut cx = TransformContext::default();
    let mut outs: Vec<Vec<Event>> = (0..batches.len())
        .map(|_| Vec::with_capacity(1000))
        .collect();
    // Thread CPU time, not wall time: on a shared machine the thread may
    // wait for a core, and that wait is not the transform's cost.
    let start = cpu_time_of("/proc/thread-self/stat");
    for (b, out) in batches.into_iter().zip(outs.iter_mut()) {
        t.process(b, out, &mut cx);
    }
    let took = cpu_time_of("/proc/thread-self/stat").saturating_sub(start);
    // Freeing the events is the sink's cost, not the transform's.
    drop(outs);
    took.as_nanos() as f64 / n as f64
}

fn main() {
    let lines: usize = std::env::var("SLUICE_BENCH_LINES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let rounds: usize = std::env::var("SLUICE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let (input, bytes) = generate(dir.path(), lines);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let shapes = [
        ("without log_metrics     ", pipeline(Shape::Plain)),
        ("pass-through filter     ", pipeline(Shape::Passthrough)),
        ("log_metrics, 10 metrics ", pipeline(Shape::Metrics)),
    ];
    let mut best = [(Duration::MAX, Duration::MAX); 3];
    for _ in 0..rounds {
        for (i, (_, text)) in shapes.iter().enumerate() {
            let (took, cpu, events) = run_once(&rt, text, &input, dir.path());
            assert_eq!(
                events, lines as u64,
                "every generated line reaches the sink"
            );
            best[i].0 = best[i].0.min(took);
            best[i].1 = best[i].1.min(cpu);
        }
    }
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!("input: {lines} lines, {mib:.1} MiB; best of {rounds} runs each");
    for ((label, _), (wall, cpu)) in shapes.iter().zip(best) {
        let s = wall.as_secs_f64();
        println!(
            "{label}: {:>7.1} MiB/s  {:>9.0} events/s  (wall {s:.3} s, cpu {:.2} s)",
            mib / s,
            lines as f64 / s,
            cpu.as_secs_f64()
        );
    }
    let pct = |a: Duration, b: Duration| 100.0 * (1.0 - a.as_secs_f64() / b.as_secs_f64());
    println!(
        "throughput drop with metrics: {:.1}% vs no stage, {:.1}% vs a pass-through stage (target: at most 10%)",
        pct(best[0].0, best[2].0),
        pct(best[1].0, best[2].0)
    );
    println!(
        "cpu time added by metrics: {:.1}% vs no stage, {:.1}% vs a pass-through stage",
        -pct(best[2].1, best[0].1),
        -pct(best[2].1, best[1].1)
    );
    let ns = (0..rounds)
        .map(|_| observe_cost(&input, &shapes[2].1))
        .fold(f64::MAX, f64::min);
    let pipeline_ns = best[0].1.as_nanos() as f64 / lines as f64;
    println!(
        "log_metrics alone: {ns:.0} ns/event ({:.0} events/s on one core) = {:.1}% of the plain pipeline's {pipeline_ns:.0} ns of cpu per event",
        1e9 / ns,
        100.0 * ns / pipeline_ns
    );
}
