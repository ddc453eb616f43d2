//! Where the time goes: the node agent's path (pipelines/gke-node.toml),
//! stage by stage, on generated license-API CRI logs, one thread.
//!
//! ```text
//! cargo bench --bench stages -- [--mib 64]
//! ```
//! Stages, in pipeline order, over batches of 1000 lines:
//! - decode: CRI framing (`TIME STREAM P|F MESSAGE`, `decode::cri::split`);
//! - shape: line -> LogEntry (`event::log_entry::shape`: JSON parse,
//!   lifting, severity, timestamps, resource, insertId), with the JSON parse
//!   alone (`serde_json::from_slice` into a `Value`) shown as a sub-row;
//! - redact: the default profile (`[transforms.redact]`);
//! - log_metrics: the shipped `pipelines/metrics/*.yaml` definitions;
//! - encode GCS: NDJSON as the archive sink writes it (`sinks::encode_ndjson`),
//!   then gzip at the sink's default level as a sub-row;
//! - filter: the shipped `route` query;
//! - encode BigQuery: insertAll row JSON for the entries the route kept;
//! - drop: freeing the event trees (the sink's cost after a write).
//!
//! Each stage is timed with the thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`),
//! so time spent waiting for a core on a shared machine is not counted.
//! Figures: ns of CPU per event the stage saw, and MiB of CRI input per
//! CPU-second. Every stage is one thread's work on independent batches, so
//! on N free cores a pipeline running stages in parallel could do up to N
//! times the MiB/s; the ns/event figures do not change with cores.

#[path = "support/gen.rs"]
mod gen;

use std::path::Path;

use sluice::component::Transform;
use sluice::component::TransformContext;
use sluice::decode::{cri, k8s};
use sluice::event::log_entry::{self, Line};
use sluice::event::{Batch, Event};
use sluice::node::NodeInfo;
use sluice::sinks::bigquery::{encoder as bq, schema::Schema};
use sluice::sinks::encode_ndjson;
use sluice::sinks::gcs::encoder::{Compression, MemberCompressor, ObjectEncoder};
use sluice::telemetry::Telemetry;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 1000;

/// CPU time of the calling thread, in ns.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a
    // constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU ns, events seen and CRI input bytes of those events, per stage.
#[derive(Default, Clone, Copy)]
struct Tally {
    ns: u64,
    events: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, ns: u64, events: usize, bytes: u64) {
        self.ns += ns;
        self.events += events as u64;
        self.bytes += bytes;
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Times `f` on this thread's CPU clock.
fn timed<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let t0 = thread_cpu_ns();
    let r = f();
    (r, thread_cpu_ns().saturating_sub(t0))
}

fn main() {
    // `cargo test --benches` passes no `--bench`: run small, to check it works.
    let full = std::env::args().any(|a| a == "--bench");
    let mib: u64 = arg("--mib")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 64 } else { 1 });
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));

    // The shipped node pipeline, with every `${VAR:-default}` at its default.
    let pipeline = repo.join("pipelines/gke-node.toml");
    let text = std::fs::read_to_string(&pipeline).expect("read gke-node.toml");
    let cfg =
        sluice::config::load_str(&text, &pipeline, |_| None).unwrap_or_else(|e| panic!("{e}"));
    let cx = cfg
        .global
        .build_context(NodeInfo::default(), Telemetry::new());
    let build = |name: &str| -> Box<dyn Transform> {
        cfg.transforms[name]
            .validated
            .as_ref()
            .expect("a loaded pipeline is validated")
            .build(name, &cx)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut redact = build("redact");
    let mut metrics = build("metrics");
    let mut route = build("route");

    let mut input = Vec::with_capacity((mib << 20) as usize + 4096);
    let (bytes, lines) =
        gen::generate(&mut input, gen::Framing::Cri, mib << 20, 7).expect("generate");
    // The container log file name gives the resource labels, as on a node.
    let origin = k8s::origin_for_file(
        Path::new("/var/log/containers/license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log"),
        &NodeInfo::default(),
    );
    let received = chrono::Utc::now();
    let mut schema = Schema::logging();
    let mut row = Vec::with_capacity(4096);
    let mut ndjson = Vec::with_capacity(1 << 20);
    let mut gzc = MemberCompressor::new(Compression::Gzip, Compression::Gzip.default_level())
        .expect("gzip encoder");
    let mut gz = ObjectEncoder::new();
    let mut tcx = TransformContext::default();

    // (row, counted in the total): the JSON-parse row is a part of shape,
    // measured again on its own.
    let names = [
        ("decode (CRI framing)", true),
        ("shape (LogEntry), total", true),
        ("  of which JSON parse to Value", false),
        ("redact (default profile)", true),
        ("log_metrics (pipelines/metrics)", true),
        ("encode GCS NDJSON", true),
        ("compress gzip, default level", true),
        ("filter (gke-node route)", true),
        ("encode BigQuery row", true),
        ("drop (free the events)", true),
    ];
    let mut t = [Tally::default(); 10];
    let all: Vec<&[u8]> = input
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(all.len() as u64, lines);

    let mut framed = Vec::with_capacity(BATCH);
    for chunk in all.chunks(BATCH) {
        let in_bytes: u64 = chunk.iter().map(|l| l.len() as u64 + 1).sum();
        // decode
        framed.clear();
        let ((), ns) = timed(|| {
            for l in chunk {
                let c = cri::split(l).expect("generated lines are CRI");
                framed.push((c, *l));
            }
        });
        t[0].add(ns, chunk.len(), in_bytes);
        // shape, and the JSON parse it contains, timed apart
        let (parsed, ns) = timed(|| {
            framed
                .iter()
                .map(|(c, _)| serde_json::from_slice::<serde_json::Value>(c.message).expect("JSON"))
                .collect::<Vec<_>>()
        });
        t[2].add(ns, chunk.len(), in_bytes);
        drop(parsed);
        let (events, ns) = timed(|| {
            framed
                .iter()
                .enumerate()
                .map(|(i, (c, raw))| {
                    let l = Line {
                        payload: c.message,
                        time: Some(c.time),
                        stream: Some(c.stream),
                        raw,
                        position: Some(i as u64),
                    };
                    let log = log_entry::shape(l, &origin, received).expect("shapes");
                    Event::new(log, raw.len() + 1)
                })
                .collect::<Vec<_>>()
        });
        t[1].add(ns, chunk.len(), in_bytes);
        // The transforms, as the topology calls them.
        let mut stage = |tr: &mut Box<dyn Transform>, events: Vec<Event>, tally: &mut Tally| {
            let b = Batch::new(events);
            let (n, bytes) = (b.len(), b.bytes());
            let mut out = Vec::with_capacity(n);
            let ((), ns) = timed(|| tr.process(b, &mut out, &mut tcx));
            tally.add(ns, n, bytes);
            assert!(tcx.rejects.is_empty(), "no generated line is rejected");
            tcx.redactions.clear();
            out
        };
        let events = stage(&mut redact, events, &mut t[3]);
        let events = stage(&mut metrics, events, &mut t[4]);
        // The archive sink sees every redacted entry.
        let bytes: u64 = events.iter().map(|e| u64::from(e.size)).sum();
        ndjson.clear();
        let ((), ns) = timed(|| {
            for e in &events {
                encode_ndjson(&mut ndjson, &e.log);
            }
        });
        t[5].add(ns, events.len(), bytes);
        let ((), ns) = timed(|| gz.write(&mut gzc, &ndjson).expect("gzip"));
        t[6].add(ns, events.len(), bytes);
        let events = stage(&mut route, events, &mut t[7]);
        // The BigQuery sink sees what the route kept.
        let bytes: u64 = events.iter().map(|e| u64::from(e.size)).sum();
        let ((), ns) = timed(|| {
            for e in &events {
                row.clear();
                bq::encode(&e.log, &mut schema, true, &mut row).expect("encodes");
            }
        });
        t[8].add(ns, events.len(), bytes);
        let n = events.len();
        let ((), ns) = timed(|| drop(events));
        t[9].add(ns, n, bytes);
    }
    let ((), ns) = timed(|| drop(gz.finish(&mut gzc).expect("gzip finish")));
    t[6].ns += ns;

    println!(
        "stages: {lines} CRI lines, {:.1} MiB, batches of {BATCH}, one thread, CPU time per stage",
        bytes as f64 / (1 << 20) as f64
    );
    println!(
        "{:<34} {:>10} {:>10} {:>12} {:>8}",
        "stage", "events", "ns/event", "MiB/CPU-s", "share"
    );
    let total_ns: u64 = names
        .iter()
        .zip(&t)
        .filter(|((_, counted), _)| *counted)
        .map(|(_, s)| s.ns)
        .sum();
    for ((name, _), s) in names.iter().zip(&t) {
        let secs = s.ns as f64 / 1e9;
        println!(
            "{name:<34} {:>10} {:>10.0} {:>12.1} {:>7.1}%",
            s.events,
            s.ns as f64 / s.events.max(1) as f64,
            s.bytes as f64 / (1 << 20) as f64 / secs.max(1e-9),
            100.0 * s.ns as f64 / total_ns.max(1) as f64
        );
    }
    println!(
        "{:<34} {:>10} {:>10.0} {:>12.1}",
        "all stages",
        lines,
        total_ns as f64 / lines as f64,
        bytes as f64 / (1 << 20) as f64 / (total_ns as f64 / 1e9)
    );
}
