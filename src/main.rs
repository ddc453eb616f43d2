//! The `sluice` command line: parse arguments, run a command, map the
//! result to an exit code. Everything else lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// See Cargo.toml: events are allocated by sources and freed by sinks on
/// other threads, a pattern glibc malloc handles poorly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use sluice::commands;
use sluice::telemetry::logging::{self, LogFormat};

#[derive(Parser)]
#[command(
    name = "sluice",
    version = sluice::VERSION,
    about = "Move structured logs from GKE to BigQuery and GCS, with PII redacted on the node"
)]
struct Cli {
    /// Format of sluice's own logs (stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SLUICE_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline until SIGTERM/SIGINT, then drain and exit. On SIGHUP,
    /// validate the pipeline file again and, if it is valid, drain the
    /// running pipeline and start the new one.
    Run {
        pipeline: PathBuf,
        /// Also reload when the pipeline file or a file it names (metric
        /// definitions, hash keys) changes, as a mounted ConfigMap does.
        #[arg(long)]
        watch_config: bool,
    },
    /// Check a pipeline file; exit non-zero naming each bad key and line.
    Validate { pipeline: PathBuf },
    /// Run a pipeline with cloud sinks replaced by local files under --out.
    DryRun {
        /// Pipeline file; defaults to the built-in pipelines/dry-run.toml.
        pipeline: Option<PathBuf>,
        /// Output folder (bigquery/, gcs/, metrics.prom, deadletter.ndjson, summary.json, report.html).
        #[arg(long)]
        out: PathBuf,
        /// Input files or folders that replace the pipeline's sources
        /// (CRI, docker json-file, NDJSON, or gzip of these; detected per
        /// file). Without a pipeline and inputs, the bundled fixtures.
        #[arg(long = "input")]
        inputs: Vec<PathBuf>,
        /// Also write OUT/report.html: one self-contained page showing what
        /// would leave the node (graph, redactions by field, redacted
        /// samples, sink outputs, dead letters, metrics).
        #[arg(long)]
        report: bool,
    },
    /// Print, for each bigquery sink, the views that keep one row per
    /// insertId over the tables in its dataset (dedup_TABLE); --create
    /// creates the missing ones.
    BigqueryViews {
        pipeline: PathBuf,
        /// Create the views that do not exist yet, with the sink's
        /// endpoint and credentials.
        #[arg(long)]
        create: bool,
    },
    /// Report residual personal data in NDJSON files, gzip files or folders; exit 1 if any.
    Audit {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Replay archived logs (GCS or a folder) through a pipeline whose
    /// source has type = "archive"; resumable, shardable.
    Backfill {
        pipeline: PathBuf,
        /// gs://BUCKET/PREFIX, file:///DIR or a folder.
        #[arg(long)]
        from: String,
        /// Earliest event time to replay (RFC 3339, inclusive).
        #[arg(long)]
        start: Option<String>,
        /// Event time to stop before (RFC 3339, exclusive).
        #[arg(long)]
        end: Option<String>,
        /// I/N: this worker's share of the objects (e.g. a Kubernetes
        /// Indexed Job's completion index and completion count).
        #[arg(long)]
        shard: Option<String>,
        /// Write what would be sent under --out instead of sending it.
        #[arg(long, requires = "out")]
        dry_run: bool,
        /// Output folder of --dry-run (bigquery/, gcs/, deadletter.ndjson, summary.json).
        #[arg(long, requires = "dry_run")]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let result = match cli.command {
        Command::Run {
            pipeline,
            watch_config,
        } => commands::run::run(&pipeline, watch_config),
        Command::Validate { pipeline } => commands::validate::run(&pipeline),
        Command::DryRun {
            pipeline,
            out,
            inputs,
            report,
        } => commands::dry_run::run(pipeline.as_deref(), &out, &inputs, report),
        Command::BigqueryViews { pipeline, create } => {
            commands::bigquery_views::run(&pipeline, create)
        }
        Command::Audit { paths } => commands::audit::run(&paths),
        Command::Backfill {
            pipeline,
            from,
            start,
            end,
            shard,
            dry_run: _,
            out,
        } => commands::backfill::run(&commands::backfill::Args {
            pipeline,
            from,
            start,
            end,
            shard,
            dry_run_out: out,
        }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
