//! `sluice dry-run [PIPELINE] --out DIR [--input PATH]...`: run the whole
//! pipeline locally. Cloud sinks write what they would send under DIR;
//! no network connection is opened.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::config::PipelineConfig;
use crate::node::NodeInfo;
use crate::report::{self, Summary};
use crate::sources::replay::Input;
use crate::telemetry::Telemetry;
use crate::topology::{self, DryRunPlan};

/// The built-in pipeline used when none is given.
pub(crate) const DEFAULT_PIPELINE: &str = include_str!("../../pipelines/dry-run.toml");

/// The bundled fixtures used when no pipeline and no input are given.
pub(crate) const BUNDLED_INPUTS: &[(&str, &[u8])] = &[
    (
        "license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log",
        include_bytes!("../../fixtures/containers/license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log"),
    ),
    (
        "license-worker-5c9d7f8b6-p2q4r_coditect_worker-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b.log",
        include_bytes!("../../fixtures/containers/license-worker-5c9d7f8b6-p2q4r_coditect_worker-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b.log"),
    ),
];

/// The shipped log-based metric definitions (`pipelines/metrics/`), for
/// the built-in pipeline, which has no folder of its own to find them in.
pub(crate) const BUNDLED_METRICS: &[(&str, &str)] = &[
    (
        "error_entries.yaml",
        include_str!("../../pipelines/metrics/error_entries.yaml"),
    ),
    (
        "http_errors.yaml",
        include_str!("../../pipelines/metrics/http_errors.yaml"),
    ),
    (
        "http_request_latency.yaml",
        include_str!("../../pipelines/metrics/http_request_latency.yaml"),
    ),
    (
        "http_requests.yaml",
        include_str!("../../pipelines/metrics/http_requests.yaml"),
    ),
    (
        "license_acquisition_failures.yaml",
        include_str!("../../pipelines/metrics/license_acquisition_failures.yaml"),
    ),
];

/// A temporary folder holding [`BUNDLED_METRICS`], removed on drop.
struct BundledMetrics(PathBuf);

impl BundledMetrics {
    fn write() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("sluice-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, text) in BUNDLED_METRICS {
            std::fs::write(dir.join(name), text)
                .with_context(|| format!("cannot write {}", dir.join(name).display()))?;
        }
        Ok(BundledMetrics(dir))
    }
}

impl Drop for BundledMetrics {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Entries kept in the report's sample.
pub(crate) const SAMPLE_SIZE: usize = 12;

pub fn run(pipeline: Option<&Path>, out: &Path, inputs: &[PathBuf], report: bool) -> Result<u8> {
    let mut _bundled = None;
    let cfg: PipelineConfig = match pipeline {
        Some(p) => super::load(p)?,
        None => {
            // The built-in pipeline reads its metric definitions from
            // SLUICE_METRICS_DIR; unless the user points it elsewhere, that
            // is a temporary copy of the bundled ones.
            let metrics_dir = match std::env::var("SLUICE_METRICS_DIR") {
                Ok(d) => d,
                Err(_) => {
                    let b = BundledMetrics::write()?;
                    let d = b.0.display().to_string();
                    _bundled = Some(b);
                    d
                }
            };
            crate::config::load_str(
                DEFAULT_PIPELINE,
                Path::new("<built-in dry-run.toml>"),
                |k| {
                    if k == "SLUICE_METRICS_DIR" {
                        Some(metrics_dir.clone())
                    } else {
                        std::env::var(k).ok()
                    }
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    let mut plan_inputs = Input::expand(inputs).context("reading --input")?;
    if pipeline.is_none() && plan_inputs.is_empty() {
        plan_inputs = BUNDLED_INPUTS
            .iter()
            .map(|(name, bytes)| Input::Embedded { name, bytes })
            .collect();
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let input_names: Vec<String> = plan_inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => p.display().to_string(),
            Input::Embedded { name, .. } => name.to_string(),
        })
        .collect();
    let rt = super::runtime()?;
    let telemetry = Telemetry::new();
    // The redact transforms find the sampler when they are built.
    let sampler = report.then(|| telemetry.enable_sample(SAMPLE_SIZE));
    let outcome = rt.block_on(async {
        let shutdown = super::run::shutdown_signal();
        let cx = cfg
            .global
            .build_context(NodeInfo::from_env(), telemetry.clone());
        let plan = DryRunPlan {
            out_dir: out.to_path_buf(),
            inputs: plan_inputs,
        };
        let running = topology::build_dry_run(&cfg, &cx, &plan, CancellationToken::new())?;
        anyhow::Ok(running.run_until(shutdown).await)
    })?;
    super::run::report(&outcome);
    // The derived metrics as Prometheus would scrape them at this moment.
    let mut prom = String::new();
    telemetry.render_derived(&mut prom);
    let prom_path = out.join("metrics.prom");
    std::fs::write(&prom_path, &prom)
        .with_context(|| format!("cannot write {}", prom_path.display()))?;
    let summary = Summary::collect(&cfg, &telemetry, &prom);
    let summary_path = out.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_vec_pretty(&summary)?)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    eprintln!("dry run finished: {}", out.display());
    eprint!("{}", report::terminal::render(&summary));
    if let Some(sampler) = sampler {
        let (sample, sample_from) = sampler.snapshot();
        let pipeline_name = match pipeline {
            Some(p) => p.display().to_string(),
            None => "<built-in dry-run.toml>".to_string(),
        };
        let generated = crate::event::log_entry::format_ts(chrono::Utc::now());
        let html = report::html::render(
            &summary,
            &report::html::Context {
                pipeline: &pipeline_name,
                inputs: &input_names,
                sample: &sample,
                sample_from,
                generated: &generated,
            },
        );
        let report_path = out.join("report.html");
        std::fs::write(&report_path, html)
            .with_context(|| format!("cannot write {}", report_path.display()))?;
        eprintln!("report: {}", report_path.display());
    }
    Ok(outcome.exit_code() as u8)
}
