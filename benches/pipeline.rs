//! Pipeline throughput: generated CRI (or NDJSON) logs -> framing and
//! LogEntry shaping -> a pipeline file's transforms -> blackhole, run
//! in-process with 1 and 2 worker threads.
//!
//! ```text
//! cargo bench --bench pipeline -- [--mib 256] [--format cri|ndjson] [--pipeline benches/pipelines/filter-blackhole.toml]
//! ```
//! Prints MiB/s and events/s of input, and MiB per CPU-second (the figure
//! that compares across core counts).

#[path = "support/gen.rs"]
mod gen;
#[path = "support/measure.rs"]
mod measure;

use std::path::{Path, PathBuf};

use sluice::node::NodeInfo;
use sluice::sources::replay::Input;
use sluice::telemetry::Telemetry;
use sluice::topology::{self, DryRunPlan, Outcome};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let mib: u64 = arg("--mib").and_then(|v| v.parse().ok()).unwrap_or(256);
    let framing = match arg("--format").as_deref() {
        Some("ndjson") => gen::Framing::Ndjson,
        _ => gen::Framing::Cri,
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = arg("--pipeline")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("benches/pipelines/filter-blackhole.toml"));
    let dir = tempfile::tempdir().expect("temp dir");
    // A container log name, so resource labels are filled as on a node.
    let input = dir.path().join("license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log");
    let (bytes, lines) = {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).expect("create input"));
        gen::generate(&mut f, framing, mib << 20, 7).expect("generate")
    };
    let cfg = sluice::config::load_file(&pipeline).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "input: {} ({lines} lines), pipeline {}",
        input.display(),
        pipeline.display()
    );
    // Warm the page cache so the first run is not a disk benchmark (in
    // chunks: reading it whole would count in peak RSS).
    {
        use std::io::Read;
        let mut f = std::fs::File::open(&input).expect("open input");
        let mut buf = vec![0u8; 1 << 20];
        while f.read(&mut buf).expect("read input") > 0 {}
    }
    for threads in [1usize, 2] {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .expect("runtime");
        let telemetry = Telemetry::new();
        let cx = cfg
            .global
            .build_context(NodeInfo::default(), telemetry.clone());
        let plan = DryRunPlan {
            out_dir: dir.path().join("out"),
            inputs: vec![Input::File(input.clone())],
        };
        let (outcome, sample) = measure::measure(|| {
            rt.block_on(async {
                let running = topology::build_dry_run(&cfg, &cx, &plan, CancellationToken::new())
                    .expect("build");
                running.run_until(std::future::pending()).await
            })
        });
        assert_eq!(outcome, Outcome::Completed);
        let events: u64 = telemetry
            .components()
            .values()
            .filter(|s| s.kind == "source")
            .map(|s| s.events_out)
            .sum();
        measure::report(
            &format!("{} worker thread(s)", threads),
            bytes,
            events,
            &sample,
        );
    }
    println!("peak RSS {} MiB", measure::peak_rss_kib() / 1024);
}
