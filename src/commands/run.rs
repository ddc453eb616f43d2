//! `sluice run PIPELINE [--watch-config]`: run until SIGTERM/SIGINT, then
//! drain and exit; on SIGHUP (or, watched, a change to the pipeline's
//! files) swap in the new pipeline (see `reload.rs`).

use std::path::Path;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::node::{metadata, NodeInfo};
use crate::telemetry::{server, Exporter, Telemetry};
use crate::topology::Outcome;

mod reload;

pub fn run(path: &Path, watch_config: bool) -> Result<u8> {
    let cfg = super::load(path)?;
    // Decided before any work so a malformed override stops the process
    // at once, naming the variable.
    let endpoint = metadata::Endpoint::from_env()?;
    let budget = metadata::timeout_from_lookup(|k| std::env::var(k).ok());
    let rt = super::runtime()?;
    let code = rt.block_on(async move {
        // Before anything else: SIGHUP's default action ends the process
        // with no drain and no checkpoint, and a signal that arrives while
        // the pipeline starts must not meet it.
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(8);
        let hangups = watch_hangups(reload_tx.clone());
        let shutdown = shutdown_signal();
        // Environment first (the DaemonSet sets the node name through the
        // downward API); the metadata server fills the rest.
        let discovery = NodeInfo::from_env().discover(&endpoint, budget).await;
        discovery.log();
        let node = discovery.info;
        std::fs::create_dir_all(&cfg.global.data_dir)
            .with_context(|| format!("cannot create data_dir {}", cfg.global.data_dir.display()))?;
        let telemetry = Telemetry::new();
        let (watched_tx, watched_rx) = tokio::sync::watch::channel(cfg.watched_files());
        let watcher = watch_config.then(|| reload::watch_files(watched_rx, reload_tx));
        let endpoints = Endpoints::start(&cfg.global.metrics_address, telemetry.clone()).await;
        let outcome =
            reload::run_generations(cfg, node, telemetry, shutdown, reload_rx, watched_tx).await;
        endpoints.stop().await;
        hangups.abort();
        if let Some(w) = watcher {
            w.abort();
        }
        let outcome = outcome?;
        report(&outcome);
        Ok::<u8, anyhow::Error>(outcome.exit_code() as u8)
    });
    // A sink still blocked in write(2) (a FIFO without a reader, a hung
    // mount) sits on a blocking thread that nothing can interrupt; the
    // grace period is over, so do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

/// The `/metrics` and `/health/*` server, owned by `run` (and `backfill`)
/// and stopped after the pipeline has drained (so the last scrape sees
/// final counts).
pub(super) struct Endpoints {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Endpoints {
    /// Binds `address`. A bind failure is logged, not fatal: losing the
    /// metrics endpoint must not stop log delivery, and the failed
    /// readiness probe and missing scrape make it visible to the operator.
    pub(super) async fn start(address: &str, telemetry: std::sync::Arc<Telemetry>) -> Endpoints {
        let stop = CancellationToken::new();
        let exporter = std::sync::Arc::new(Exporter::install(telemetry));
        let task = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => {
                let bound = listener
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| address.to_string());
                tracing::info!(address = %bound, "serving /metrics, /health/live and /health/ready");
                Some(tokio::spawn(server::serve(
                    listener,
                    exporter,
                    stop.clone(),
                )))
            }
            Err(e) => {
                tracing::error!(address = %address, error = %e, "cannot serve /metrics and /health; running without them");
                None
            }
        };
        Endpoints { stop, task }
    }

    pub(super) async fn stop(self) {
        self.stop.cancel();
        if let Some(t) = self.task {
            let _ = t.await;
        }
    }
}

/// Turns every SIGHUP of the run into a reload request. Listening starts
/// when this is called, so SIGHUP never meets its default action (which
/// ends the process with no drain and no checkpoint).
fn watch_hangups(
    requests: tokio::sync::mpsc::Sender<reload::Request>,
) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let hup = signal(SignalKind::hangup());
    tokio::spawn(async move {
        let mut hup = match hup {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; it will stop sluice");
                return;
            }
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading the pipeline");
            if requests.send(reload::Request::Signal).await.is_err() {
                return;
            }
        }
    })
}

/// Resolves on the first SIGTERM or SIGINT.
/// SIGTERM or SIGINT, listened for from the moment this is called (inside
/// the runtime), not from the first poll: a signal that arrives while the
/// pipeline is starting must not meet the default action, which ends the
/// process with no drain and no checkpoint. Call it before building.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                },
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT; their default action will end sluice without a drain");
                    std::future::pending::<()>().await
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub(crate) fn report(outcome: &Outcome) {
    match outcome {
        Outcome::Completed => {
            tracing::info!("pipeline stopped; every event read was delivered or dead-lettered")
        }
        Outcome::Failed(f) => {
            tracing::error!(failures = ?f, "pipeline stopped after a component failed")
        }
        Outcome::TimedOut(left) => tracing::error!(tasks = ?left, "shutdown grace period exceeded"),
    }
}
