//! Archive throughput, one core each side (`cargo bench --bench archive`).
//!
//! - write: LogEntries -> NDJSON -> compressed objects (the `gcs` sink's
//!   batcher and encoder, no upload), gzip at the default level and zstd.
//!   Target (issue 11): at least 150 MiB of NDJSON per CPU-second with gzip at
//!   the default level.
//! - read: a `file://` archive -> `archive` source (list, download, gunzip,
//!   parse, batch, acknowledge, record state) -> blackhole, through the real
//!   topology on a current-thread runtime. Target: at least 300 MiB/s of
//!   decompressed NDJSON per core. The gunzip and parse stages are also
//!   timed alone, to show where the time goes.
//! - levels: gzip levels 1-12 through the sink's encoder (libdeflate, in
//!   members of 256 KiB) and the archive source's inflater, against a
//!   streaming flate2 encoder per object (what the sink used before),
//!   miniz_oxide and libdeflate over the whole buffer, on the same NDJSON,
//!   with the ratio: the table behind the default level in ARCHITECTURE.md.
//!
//! Every figure is also given per CPU-second of the process (user + system,
//! from /proc), which a shared machine disturbs less than wall time.
//!
//! The data: realistic LogEntries (license API requests with httpRequest,
//! UUIDs, trace ids, varied messages) from a fixed-seed generator, so runs
//! are comparable. Prints MiB/s and events/s.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/measure.rs"]
mod measure;

use serde_json::{json, Value};
use sluice::event::{Batch, Event};
use sluice::gcs::key::{KeyTemplate, DATE_LAYOUT};
use sluice::sinks::gcs::encoder::{Compression, MemberCompressor, ObjectEncoder};
use sluice::sinks::gcs::upload::UploadPlan;
use sluice::sinks::gcs::{Batcher, Settings};
use sluice::sources::archive::read::Inflater;
use sluice::sources::archive::Progress;
use sluice::sources::SourceConfig;

const MIB: f64 = 1024.0 * 1024.0;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            a & 0xffff,
            (a >> 16) & 0xfff,
            b & 0xfff,
            b >> 16
        )
    }
}

/// `n` LogEntries over `hours` hours of 2025-11-30.
fn entries(n: usize, hours: usize, seed: u64) -> Vec<Value> {
    let mut r = Rng(seed | 1);
    let messages = [
        "License acquisition request",
        "License acquisition failed",
        "Heartbeat received",
        "Session started",
        "Session ended",
        "Token refreshed",
        "Rate limit exceeded for tenant",
        "Database query slow",
    ];
    let methods = ["GET", "POST", "PUT", "DELETE"];
    let urls = [
        "/api/v1/licenses/acquire",
        "/api/v1/licenses/heartbeat",
        "/api/v1/sessions",
        "/healthz",
    ];
    let sev = ["INFO", "INFO", "INFO", "WARNING", "ERROR", "DEBUG"];
    (0..n)
        .map(|i| {
            let hour = (i * hours / n.max(1)) % 24;
            let ms = r.next() % 3_600_000;
            let status = [200, 200, 201, 403, 404, 500][(r.next() % 6) as usize];
            json!({
                "insertId": format!("{:032x}", (r.next() as u128) << 64 | r.next() as u128),
                "timestamp": format!("2025-11-30T{hour:02}:{:02}:{:02}.{:03}Z", ms / 60_000, ms / 1000 % 60, ms % 1000),
                "receiveTimestamp": format!("2025-11-30T{hour:02}:{:02}:{:02}.{:03}Z", ms / 60_000, ms / 1000 % 60, (ms + 7) % 1000),
                "severity": r.pick(&sev),
                "logName": "projects/coditect-cloud-infra/logs/stdout",
                "resource": {"type": "k8s_container", "labels": {
                    "project_id": "coditect-cloud-infra", "location": "us-central1",
                    "cluster_name": "production-gke-cluster", "namespace_name": "coditect",
                    "pod_name": format!("license-api-7d8f9c6b4-{:05x}", r.next() % 0xfffff),
                    "container_name": "django"}},
                "labels": {"k8s.io/container_id": format!("{:016x}", r.next())},
                "trace": format!("projects/coditect-cloud-infra/traces/{:016x}{:016x}", r.next(), r.next()),
                "spanId": format!("{:016x}", r.next()),
                "httpRequest": {"requestMethod": r.pick(&methods), "requestUrl": r.pick(&urls),
                    "status": status,
                    "latency": format!("0.{:03}s", r.next() % 1000), "remoteIp": "[REDACTED:ip]",
                    "userAgent": "CODITECT/1.8.0 (Linux; Python 3.11)", "responseSize": (r.next() % 10_000).to_string()},
                "jsonPayload": {"message": r.pick(&messages), "user_id": r.uuid(), "tenant_id": r.uuid(),
                    "request_id": r.uuid(), "duration_ms": r.next() % 5000, "attempt": r.next() % 4}
            })
        })
        .collect()
}

fn ndjson_len(v: &[Value]) -> usize {
    v.iter()
        .map(|e| serde_json::to_vec(e).unwrap().len() + 1)
        .sum()
}

fn settings(c: Compression) -> Settings {
    Settings {
        template: KeyTemplate::parse(&format!("{DATE_LAYOUT}{}", c.extension())).unwrap(),
        node: "bench-node".into(),
        compression: c,
        level: c.default_level(),
        max_bytes: 64 << 20,
        max_age: Duration::from_secs(3600),
        max_in_flight: 4,
        max_buffered_bytes: 256 << 20,
        plan: UploadPlan::default(),
    }
}

fn line(what: &str, bytes: f64, events: f64, secs: f64, cpu: f64) {
    println!(
        "{what:<48} {:>8.1} MiB/s {:>8.1} MiB/CPU-s {:>10.0} events/s   ({:.1} MiB, {events} events, {secs:.3} s, cpu {cpu:.2} s)",
        bytes / MIB / secs,
        bytes / MIB / cpu.max(1e-9),
        events / secs,
        bytes / MIB
    );
}

/// `z` through the archive source's inflater, in 256 KiB chunks as they
/// arrive from GCS: the bytes and the CPU seconds it took.
fn inflate_timed(z: &[u8], raw: usize) -> (Vec<u8>, f64) {
    let mut back = Vec::with_capacity(raw);
    let ((), s) = measure::measure(&mut || {
        let mut inf = Inflater::new();
        for chunk in z.chunks(256 * 1024) {
            inf.push(chunk, &mut back).unwrap();
        }
        inf.finish(&mut back).unwrap();
    });
    (back, s.cpu.as_secs_f64().max(0.01))
}

/// Gzip levels through the sink's encoder and the source's inflater, and
/// libdeflate on the same bytes: MiB of NDJSON per CPU-second each way.
fn bench_levels(ndjson: &[u8]) {
    let raw = ndjson.len() as f64;
    let cpu = |f: &mut dyn FnMut()| {
        let ((), s) = measure::measure(f);
        s.cpu.as_secs_f64().max(0.01)
    };
    for level in 1..=12 {
        let mut z = Vec::new();
        // Appended in pieces of a batch's NDJSON, as the sink does.
        let c = cpu(&mut || {
            let mut zc = MemberCompressor::new(Compression::Gzip, level).unwrap();
            let mut e = ObjectEncoder::new();
            for chunk in ndjson.chunks(64 << 10) {
                e.write(&mut zc, chunk).unwrap();
            }
            z = e.finish(&mut zc).unwrap();
        });
        let (back, d) = inflate_timed(&z, ndjson.len());
        assert!(back == ndjson, "gzip level {level} round-trips");
        println!(
            "levels: sink members gzip {level:<2}  ratio {:>5.2}x  compress {:>7.1} MiB/CPU-s  inflate {:>7.1} MiB/CPU-s",
            raw / z.len() as f64,
            raw / MIB / c,
            raw / MIB / d
        );
    }
    // The sink before: one streaming flate2 (miniz_oxide) encoder per object.
    for level in [1u32, 5, 6, 9] {
        let mut z = Vec::new();
        let c = cpu(&mut || {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            for chunk in ndjson.chunks(64 << 10) {
                e.write_all(chunk).unwrap();
            }
            z = e.finish().unwrap();
        });
        let (back, d) = inflate_timed(&z, ndjson.len());
        assert!(back == ndjson, "flate2 level {level} round-trips");
        println!(
            "levels: flate2 stream gzip {level}   ratio {:>5.2}x  compress {:>7.1} MiB/CPU-s  inflate {:>7.1} MiB/CPU-s",
            raw / z.len() as f64,
            raw / MIB / c,
            raw / MIB / d
        );
    }
    // miniz_oxide raw deflate over the whole buffer.
    for level in [1u8, 3, 6, 9] {
        let mut z = Vec::new();
        let c = cpu(&mut || z = miniz_oxide::deflate::compress_to_vec(ndjson, level));
        let mut back = Vec::new();
        let d = cpu(&mut || back = miniz_oxide::inflate::decompress_to_vec(&z).unwrap());
        assert!(back == ndjson, "miniz_oxide level {level} round-trips");
        println!(
            "levels: miniz_oxide deflate {level} ratio {:>5.2}x  compress {:>7.1} MiB/CPU-s  inflate {:>7.1} MiB/CPU-s",
            raw / z.len() as f64,
            raw / MIB / c,
            raw / MIB / d
        );
    }
    for level in [1, 3, 6, 9] {
        let mut z = Vec::new();
        let c = cpu(&mut || {
            let mut comp =
                libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap());
            z.resize(comp.gzip_compress_bound(ndjson.len()), 0);
            let n = comp.gzip_compress(ndjson, &mut z).unwrap();
            z.truncate(n);
        });
        let mut back = vec![0u8; ndjson.len()];
        let d = cpu(&mut || {
            let n = libdeflater::Decompressor::new()
                .gzip_decompress(&z, &mut back)
                .unwrap();
            assert_eq!(n, ndjson.len());
        });
        assert!(back == ndjson, "libdeflate level {level} round-trips");
        println!(
            "levels: libdeflate gzip {level}     ratio {:>5.2}x  compress {:>7.1} MiB/CPU-s  inflate {:>7.1} MiB/CPU-s",
            raw / z.len() as f64,
            raw / MIB / c,
            raw / MIB / d
        );
    }
}

fn bench_write(data: &[Value]) {
    let raw = ndjson_len(data) as f64;
    for c in [Compression::Gzip, Compression::Zstd] {
        let mut best = f64::MAX;
        let mut best_cpu = f64::MAX;
        let mut out_bytes = 0;
        for _ in 0..3 {
            let batches: Vec<Batch> = data
                .chunks(1000)
                .map(|c| Batch::new(c.iter().map(|l| Event::new(l.clone(), 0)).collect()))
                .collect();
            let t = Instant::now();
            let c0 = measure::cpu_time();
            let mut b = Batcher::new(settings(c)).unwrap();
            for batch in batches {
                b.add(batch).unwrap();
            }
            let objs = b.close(true).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            best_cpu = best_cpu.min((measure::cpu_time() - c0).as_secs_f64());
            out_bytes = objs.iter().map(|o| o.0.body.len()).sum();
        }
        line(
            &format!(
                "write: encode + {c:?} level {} (ratio {:.1}x)",
                c.default_level(),
                raw / out_bytes as f64
            ),
            raw,
            data.len() as f64,
            best,
            best_cpu,
        );
    }
}

/// Writes the archive as the sink would, in objects of about 4 MiB raw.
fn write_archive(dir: &Path, data: &[Value]) -> usize {
    let mut s = settings(Compression::Gzip);
    s.max_bytes = 4 << 20;
    let mut b = Batcher::new(s).unwrap();
    let mut n = 0;
    for chunk in data.chunks(1000) {
        b.add(Batch::new(
            chunk.iter().map(|l| Event::new(l.clone(), 0)).collect(),
        ))
        .unwrap();
        for (obj, _, _, _) in b.close(false).unwrap() {
            let p = dir.join(&obj.key);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::File::create(&p)
                .unwrap()
                .write_all(&obj.body)
                .unwrap();
            n += 1;
        }
    }
    for (obj, _, _, _) in b.close(true).unwrap() {
        let p = dir.join(&obj.key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &obj.body).unwrap();
        n += 1;
    }
    n
}

fn bench_read_stages(dir: &Path) {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(std::fs::read(&p).unwrap());
            }
        }
    }
    let t = Instant::now();
    let c0 = measure::cpu_time();
    let mut raw_total = 0usize;
    let mut raws = Vec::new();
    for f in &files {
        let mut inf = Inflater::new();
        let mut out = Vec::new();
        for chunk in f.chunks(256 * 1024) {
            inf.push(chunk, &mut out).unwrap();
        }
        inf.finish(&mut out).unwrap();
        raw_total += out.len();
        raws.push(out);
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = (measure::cpu_time() - c0).as_secs_f64();
    let events: usize = raws
        .iter()
        .map(|r| r.iter().filter(|b| **b == b'\n').count())
        .sum();
    line(
        "read stage: gunzip only",
        raw_total as f64,
        events as f64,
        secs,
        cpu,
    );

    let origin = sluice::node::NodeInfo::default().generic_origin("bench".into());
    let t = Instant::now();
    let c0 = measure::cpu_time();
    let mut out = Vec::new();
    let mut n = 0;
    for r in &raws {
        let mut d =
            sluice::decode::Decoder::new(sluice::decode::Format::Ndjson, origin.clone(), 1 << 20);
        let now = chrono::Utc::now();
        for l in r.split(|b| *b == b'\n') {
            d.push_line(l, now, &mut out);
            n += out.len();
            out.clear();
        }
    }
    line(
        "read stage: parse NDJSON into LogEntries only",
        raw_total as f64,
        n as f64,
        t.elapsed().as_secs_f64(),
        (measure::cpu_time() - c0).as_secs_f64(),
    );
}

fn bench_read_source(dir: &Path, state: &Path) {
    let text = format!(
        "[global]\ndata_dir = \"{}\"\nbatch_max_events = 1000\n\n[sources.archive]\ntype = \"archive\"\nfrom = \"file://{}\"\n\n[sinks.null]\ntype = \"blackhole\"\ninputs = [\"archive\"]\nallow_unredacted = true\n\n[dead_letter]\nallow_unredacted = true\n",
        state.display(),
        dir.display()
    );
    let mut cfg = sluice::config::load_str(&text, Path::new("bench.toml"), |_| None).unwrap();
    let progress = Arc::new(Progress::default());
    if let Some(SourceConfig::Archive(c)) = cfg.sources.get_mut("archive") {
        c.progress = Some(progress.clone());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let c0 = measure::cpu_time();
    let outcome = rt.block_on(async {
        let cx = cfg.global.build_context(
            sluice::node::NodeInfo::default(),
            sluice::telemetry::Telemetry::new(),
        );
        let running =
            sluice::topology::build(&cfg, &cx, tokio_util::sync::CancellationToken::new()).unwrap();
        running.run_until(std::future::pending()).await
    });
    let secs = t.elapsed().as_secs_f64();
    let cpu = (measure::cpu_time() - c0).as_secs_f64();
    assert_eq!(outcome, sluice::topology::Outcome::Completed);
    let s = progress.snapshot();
    assert_eq!(s.objects_done, s.objects_total);
    line(
        &format!("read: backfill source, {} objects, 1 core", s.objects_total),
        s.raw_bytes as f64,
        s.events as f64,
        secs,
        cpu,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test --benches` run
    // passes nothing and just checks that this builds and runs small.
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 200_000 } else { 5_000 };
    let data = entries(n, 6, 0x5eed);
    println!(
        "archive benchmark: {n} LogEntries, {:.1} MiB of NDJSON",
        ndjson_len(&data) as f64 / MIB
    );
    bench_write(&data);
    let mut ndjson = Vec::new();
    for e in &data {
        sluice::sinks::encode_ndjson(&mut ndjson, e);
    }
    bench_levels(&ndjson);
    drop(ndjson);

    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("archive");
    let objects = write_archive(&arch, &data);
    println!("archive written: {objects} objects");
    bench_read_stages(&arch);
    for run in 0..2 {
        // Each run gets its own state folder, so both read everything.
        bench_read_source(&arch, &dir.path().join(format!("state-{run}")));
    }
}
