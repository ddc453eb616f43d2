//! Live reload: the running pipeline is swapped for the one in its file,
//! losing and repeating no event.
//!
//! A request (SIGHUP, or with `--watch-config` a change to the pipeline
//! file or a file it names) loads and validates the file again. An invalid
//! file is refused, every error logged with its key and line, and the
//! running pipeline kept. A valid one is swapped in: the running pipeline
//! drains as on SIGTERM (sources stop reading, everything read is
//! delivered or dead-lettered, checkpoints saved), then the new one starts
//! and its sources resume from the acknowledged positions. Drain first,
//! then start: two file sources over the same checkpoints at once would
//! read the same lines twice.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::PipelineConfig;
use crate::node::NodeInfo;
use crate::sources::SourceConfig;
use crate::telemetry::{ReloadOutcome, Telemetry};
use crate::topology::{self, Outcome, Running};

/// How often `--watch-config` looks at the watched files.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What asked for a reload (for the log).
#[derive(Debug, Clone, Copy)]
pub(super) enum Request {
    Signal,
    FilesChanged,
}

/// Runs pipeline after pipeline until a shutdown signal, a pipeline that
/// ends by itself (every source reached its end) or one that fails.
/// `watched` is told the files of each pipeline that starts.
pub(super) async fn run_generations(
    mut cfg: PipelineConfig,
    node: NodeInfo,
    telemetry: Arc<Telemetry>,
    shutdown: impl Future<Output = ()>,
    mut requests: mpsc::Receiver<Request>,
    watched: watch::Sender<Vec<PathBuf>>,
) -> Result<Outcome> {
    tokio::pin!(shutdown);
    let mut running = start(&cfg, &node, &telemetry)?;
    loop {
        tracing::info!(pipeline = %cfg.path.display(), "pipeline running");
        let mut next = None;
        let mut stopping = false;
        let stop = async {
            loop {
                tokio::select! {
                    _ = &mut shutdown => {
                        stopping = true;
                        return;
                    }
                    request = requests.recv() => match request {
                        Some(r) => if let Some(c) = check(&cfg, r, &telemetry) {
                            next = Some(c);
                            return;
                        },
                        None => std::future::pending::<()>().await,
                    }
                }
            }
        };
        let outcome = running.run_until(stop).await;
        let Some(new) = next else {
            return Ok(outcome);
        };
        if stopping || outcome != Outcome::Completed {
            // The old pipeline did not drain cleanly: stop here, so a fresh
            // process resumes from what was acknowledged.
            tracing::error!("the running pipeline did not drain; not starting the reloaded one");
            return Ok(outcome);
        }
        telemetry.forget_topology();
        running = match start(&new, &node, &telemetry) {
            Ok(r) => {
                tracing::info!(pipeline = %new.path.display(), "reload applied");
                telemetry.record_reload(ReloadOutcome::Applied);
                cfg = new;
                watched.send_replace(cfg.watched_files());
                r
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "reload rejected: the new pipeline did not build; starting the previous one again");
                telemetry.record_reload(ReloadOutcome::Rejected);
                telemetry.forget_topology();
                start(&cfg, &node, &telemetry)?
            }
        };
    }
}

fn start(cfg: &PipelineConfig, node: &NodeInfo, telemetry: &Arc<Telemetry>) -> Result<Running> {
    let cx = cfg.global.build_context(node.clone(), telemetry.clone());
    Ok(topology::build(cfg, &cx, CancellationToken::new())?)
}

/// Loads the pipeline file again: the new config if it is valid and can
/// replace `current` in a running process; otherwise logs why not, counts
/// the rejection, and gives `None`.
fn check(
    current: &PipelineConfig,
    request: Request,
    telemetry: &Telemetry,
) -> Option<PipelineConfig> {
    let path = current.path.display();
    tracing::info!(pipeline = %path, cause = ?request, "reload requested");
    let refuse = |why: &str| {
        tracing::error!(pipeline = %path, "reload rejected, keeping the running pipeline: {why}");
        telemetry.record_reload(ReloadOutcome::Rejected);
    };
    let new = match crate::config::load_file(&current.path) {
        Ok(new) => new,
        Err(errors) => {
            for e in &errors.errors {
                tracing::error!(pipeline = %path, key = %e.key, line = e.line, error = %e.message, "invalid pipeline file");
            }
            refuse(&format!(
                "the pipeline file has {} error(s)",
                errors.errors.len()
            ));
            return None;
        }
    };
    if let Some(why) = cannot_replace(current, &new) {
        refuse(&why);
        return None;
    }
    Some(new)
}

/// Why `new` cannot replace `current` without a restart, if it cannot.
fn cannot_replace(current: &PipelineConfig, new: &PipelineConfig) -> Option<String> {
    let (a, b) = (&current.global, &new.global);
    if a.data_dir != b.data_dir {
        return Some("`global.data_dir` cannot change while running (sources would start over without their checkpoints); restart sluice to move it".into());
    }
    if a.metrics_address != b.metrics_address {
        return Some("`global.metrics_address` cannot change while running; restart sluice to move the endpoint".into());
    }
    let stdin = |c: &PipelineConfig| {
        c.sources
            .iter()
            .find(|(_, s)| matches!(s, SourceConfig::Stdin(_)))
            .map(|(n, _)| n.clone())
    };
    if let Some(name) = stdin(current).or_else(|| stdin(new)) {
        return Some(format!("source `{name}` reads stdin, which cannot be handed from one pipeline to the next; restart sluice to change this pipeline"));
    }
    None
}

/// `--watch-config`: asks for a reload when the bytes of a watched file
/// change (a ConfigMap's symlink swap, an edit). Polls, since ConfigMap
/// updates replace a symlink two levels above the file, which inotify on
/// the file does not see.
pub(super) fn watch_files(
    mut watched: watch::Receiver<Vec<PathBuf>>,
    requests: mpsc::Sender<Request>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut files = watched.borrow_and_update().clone();
        let mut last = fingerprint(&files);
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            if watched.has_changed().unwrap_or(false) {
                // A reload applied. The baseline stays the bytes that
                // asked for it, so a change made while the reload ran
                // asks again; only a new set of files starts over.
                let new = watched.borrow_and_update().clone();
                if new != files {
                    files = new;
                    last = fingerprint(&files);
                    continue;
                }
            }
            let now = fingerprint(&files);
            if now != last {
                last = now;
                tracing::info!("a watched pipeline file changed");
                if requests.send(Request::FilesChanged).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// A hash of every watched file's bytes (a missing file counts as such).
fn fingerprint(files: &[PathBuf]) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for f in files {
        h.update(f.as_os_str().as_encoded_bytes());
        match std::fs::read(f) {
            Ok(bytes) => {
                h.update(&(bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
            Err(_) => h.update(b"\0missing"),
        }
    }
    h.digest128()
}
