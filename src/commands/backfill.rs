//! `sluice backfill PIPELINE --from (gs://BUCKET/PREFIX | DIR) [--start T]
//! [--end T] [--shard I/N] [--dry-run --out DIR]`: replay a slice of the
//! archive through a pipeline whose source is `type = "archive"`.
//!
//! The flags fill that source's `from`/`start`/`end`/`shard`. Progress goes
//! to stderr: a bar on a terminal, a plain line every few seconds
//! otherwise. At the end a report (objects, bytes, events, rows written,
//! dead letters, duration) goes to stderr, and the same as one JSON object
//! to stdout for scripts. Exit status: 0 when every selected object was
//! read and delivered, 1 when some were not (run again: finished objects
//! are skipped), 2 on a usage or configuration error.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::PipelineConfig;
use crate::node::NodeInfo;
use crate::sources::archive::{self, progress::Snapshot, Progress};
use crate::sources::SourceConfig;
use crate::telemetry::Telemetry;
use crate::topology::{self, DryRunPlan, Outcome};

/// The command's flags.
#[derive(Debug, Clone)]
pub struct Args {
    pub pipeline: PathBuf,
    pub from: String,
    pub start: Option<String>,
    pub end: Option<String>,
    pub shard: Option<String>,
    /// `Some(DIR)` for `--dry-run --out DIR`.
    pub dry_run_out: Option<PathBuf>,
}

/// How often the plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub fn run(args: &Args) -> Result<u8> {
    let mut cfg = super::load(&args.pipeline)?;
    let progress = Arc::new(Progress::default());
    let source_name = configure(&mut cfg, args, &progress)?;
    let node = NodeInfo::from_env();
    let telemetry = Telemetry::new();
    let live = cfg.global.build_context(node, telemetry.clone());
    let plan = match &args.dry_run_out {
        Some(out) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            Some(DryRunPlan {
                out_dir: out.clone(),
                inputs: Vec::new(),
            })
        }
        None => {
            std::fs::create_dir_all(&cfg.global.data_dir).with_context(|| {
                format!("cannot create data_dir {}", cfg.global.data_dir.display())
            })?;
            None
        }
    };
    // The context the archive source is built with (its resume file is
    // reported at the end).
    let cx = match &plan {
        Some(p) => p.context(&live),
        None => live,
    };
    let state_file = match &cfg.sources[&source_name] {
        SourceConfig::Archive(c) => {
            let sel = c
                .selection()
                .ok()
                .flatten()
                .expect("validated by configure");
            archive::state_path(c, &sel, &cx)
        }
        _ => unreachable!("configure picked an archive source"),
    };
    let rt = super::runtime()?;
    let started = Instant::now();
    let outcome = rt.block_on(async {
        let shutdown = super::run::shutdown_signal();
        let running = match &plan {
            Some(p) => topology::build_dry_run(&cfg, &cx, p, CancellationToken::new())?,
            None => topology::build(&cfg, &cx, CancellationToken::new())?,
        };
        // The Job's probes and PodMonitoring scrape a backfill like a node
        // agent; a dry run opens no socket.
        let endpoints = match &plan {
            None => Some(
                super::run::Endpoints::start(&cfg.global.metrics_address, telemetry.clone()).await,
            ),
            Some(_) => None,
        };
        let stop = CancellationToken::new();
        let watcher = tokio::spawn(watch(progress.clone(), started, stop.clone()));
        let outcome = running.run_until(shutdown).await;
        stop.cancel();
        let _ = watcher.await;
        if let Some(e) = endpoints {
            e.stop().await;
        }
        anyhow::Ok(outcome)
    })?;
    super::run::report(&outcome);
    let report = final_report(
        &cfg,
        &telemetry,
        &progress.snapshot(),
        started.elapsed(),
        &outcome,
        &state_file,
    );
    if let Some(out) = &args.dry_run_out {
        let mut prom = String::new();
        telemetry.render_derived(&mut prom);
        let summary = crate::report::Summary::collect(&cfg, &telemetry, &prom);
        let p = out.join("summary.json");
        std::fs::write(&p, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    print_report(&report);
    println!("{report}");
    Ok(outcome.exit_code() as u8)
}

/// Points the pipeline's one archive source at the flags' slice.
fn configure(cfg: &mut PipelineConfig, args: &Args, progress: &Arc<Progress>) -> Result<String> {
    let names: Vec<String> = cfg
        .sources
        .iter()
        .filter(|(_, s)| matches!(s, SourceConfig::Archive(_)))
        .map(|(n, _)| n.clone())
        .collect();
    let [name] = names.as_slice() else {
        bail!(
            "{}: backfill needs exactly one source with type = \"archive\", found {}",
            args.pipeline.display(),
            names.len()
        );
    };
    let Some(SourceConfig::Archive(c)) = cfg.sources.get_mut(name) else {
        unreachable!("just found it");
    };
    c.from = args.from.clone();
    if args.start.is_some() {
        c.start = args.start.clone();
    }
    if args.end.is_some() {
        c.end = args.end.clone();
    }
    if args.shard.is_some() {
        c.shard = args.shard.clone();
    }
    c.progress = Some(progress.clone());
    let errors = c.validate();
    if !errors.is_empty() {
        let msg: Vec<String> = errors
            .iter()
            .map(|e| format!("--{}: {}", e.field, e.message))
            .collect();
        bail!("{}", msg.join("\n"));
    }
    Ok(name.clone())
}

/// Shows progress until `stop`.
async fn watch(p: Arc<Progress>, started: Instant, stop: CancellationToken) {
    if std::io::stderr().is_terminal() {
        bar(p, stop).await
    } else {
        plain(p, started, stop).await
    }
}

async fn bar(p: Arc<Progress>, stop: CancellationToken) {
    // A spinner while listing (no total yet), then a bar over stored bytes.
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message("listing objects");
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    let mut styled = false;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let s = p.snapshot();
        if !s.listed {
            pb.tick();
            continue;
        }
        if !styled {
            pb.set_style(style.clone());
            pb.set_length(s.bytes_total);
            styled = true;
        }
        pb.set_position(s.bytes_read);
        pb.set_message(format!(
            "objects {}/{} ({} done before), {} events",
            s.objects_read, s.objects_total, s.objects_skipped, s.events
        ));
    }
    pb.finish_and_clear();
}

async fn plain(p: Arc<Progress>, started: Instant, stop: CancellationToken) {
    let mut tick = tokio::time::interval(PLAIN_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        eprintln!("{}", progress_line(&p.snapshot(), started.elapsed()));
    }
}

/// One line of progress, e.g. `backfill: objects 3/10 (2 done before),
/// 1.2 MiB/4.0 MiB stored, 12000 events, 25.0 MiB/s, 4100 events/s, ETA 7s`.
pub(crate) fn progress_line(s: &Snapshot, elapsed: Duration) -> String {
    if !s.listed {
        return "backfill: listing objects".into();
    }
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = s.bytes_read as f64 / secs;
    let eta = if rate > 0.0 && s.bytes_total > s.bytes_read {
        format!("{:.0}s", (s.bytes_total - s.bytes_read) as f64 / rate)
    } else {
        "-".into()
    };
    format!(
        "backfill: objects {}/{} ({} done before), {}/{} stored, {} events, {:.1} MiB/s decompressed, {:.0} events/s, ETA {eta}",
        s.objects_read,
        s.objects_total,
        s.objects_skipped,
        mib(s.bytes_read),
        mib(s.bytes_total),
        s.events,
        s.raw_bytes as f64 / secs / (1024.0 * 1024.0),
        s.events as f64 / secs,
    )
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn final_report(
    cfg: &PipelineConfig,
    telemetry: &Telemetry,
    s: &Snapshot,
    elapsed: Duration,
    outcome: &Outcome,
    state_file: &Path,
) -> serde_json::Value {
    let comps = telemetry.components();
    let rows: serde_json::Map<String, serde_json::Value> = cfg
        .sinks
        .keys()
        .map(|n| (n.clone(), json!(comps.get(n).map_or(0, |c| c.events_out))))
        .collect();
    json!({
        "outcome": match outcome {
            Outcome::Completed => "completed",
            Outcome::Failed(_) => "failed",
            Outcome::TimedOut(_) => "timed_out",
        },
        "objects": {
            "selected": s.objects_total,
            "read": s.objects_read,
            "done": s.objects_done,
            "done_before": s.objects_skipped,
            "failed": s.objects_failed,
            "undated_skipped": s.objects_undated,
        },
        "bytes": {"stored": s.bytes_read, "decompressed": s.raw_bytes},
        "events": s.events,
        "events_out_of_range": s.events_out_of_range,
        "rows_written": rows,
        "dead_letters": telemetry.dead_letter_count(),
        "duration_secs": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "state_file": state_file.display().to_string(),
    })
}

fn print_report(r: &serde_json::Value) {
    let o = &r["objects"];
    eprintln!("backfill {}:", r["outcome"].as_str().unwrap_or("?"));
    eprintln!(
        "  objects      {} selected, {} read, {} done, {} done before, {} failed, {} undated skipped",
        o["selected"], o["read"], o["done"], o["done_before"], o["failed"], o["undated_skipped"]
    );
    eprintln!(
        "  bytes        {} stored, {} decompressed",
        mib(r["bytes"]["stored"].as_u64().unwrap_or(0)),
        mib(r["bytes"]["decompressed"].as_u64().unwrap_or(0))
    );
    eprintln!(
        "  events       {} ({} outside --start/--end)",
        r["events"], r["events_out_of_range"]
    );
    if let Some(rows) = r["rows_written"].as_object() {
        for (sink, n) in rows {
            eprintln!("  rows written {n} to {sink}");
        }
    }
    eprintln!("  dead letters {}", r["dead_letters"]);
    eprintln!("  duration     {}s", r["duration_secs"]);
    eprintln!("  state file   {}", r["state_file"].as_str().unwrap_or(""));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_reads_well() {
        let s = Snapshot {
            listed: true,
            objects_total: 10,
            objects_read: 3,
            objects_skipped: 2,
            bytes_total: 4 * 1024 * 1024,
            bytes_read: 1024 * 1024,
            raw_bytes: 10 * 1024 * 1024,
            events: 1000,
            ..Snapshot::default()
        };
        let l = progress_line(&s, Duration::from_secs(2));
        assert_eq!(
            l,
            "backfill: objects 3/10 (2 done before), 1.0 MiB/4.0 MiB stored, 1000 events, 5.0 MiB/s decompressed, 500 events/s, ETA 6s"
        );
        assert_eq!(
            progress_line(&Snapshot::default(), Duration::ZERO),
            "backfill: listing objects"
        );
    }
}
