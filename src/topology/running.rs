//! Runs the spawned tasks to completion or through a graceful shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::task::Id;
use tokio_util::sync::CancellationToken;

use crate::component::ComponentError;

/// Every component task of a pipeline.
type Tasks = tokio::task::JoinSet<Result<(), ComponentError>>;

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every task finished (sources reached their end, or a shutdown
    /// drained within the grace period).
    Completed,
    /// A component failed; the others were stopped. Messages name the
    /// component and the cause.
    Failed(Vec<String>),
    /// The grace period passed with these tasks still running.
    TimedOut(Vec<String>),
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Completed => 0,
            Outcome::Failed(_) | Outcome::TimedOut(_) => 1,
        }
    }
}

pub struct Running {
    tasks: Tasks,
    names: HashMap<Id, String>,
    sources: CancellationToken,
    grace: Duration,
}

impl Running {
    pub(crate) fn new(sources: CancellationToken, grace: Duration) -> Self {
        Running {
            tasks: Tasks::new(),
            names: HashMap::new(),
            sources,
            grace,
        }
    }

    pub(crate) fn spawn(
        &mut self,
        name: String,
        fut: impl Future<Output = Result<(), ComponentError>> + Send + 'static,
    ) {
        let h = self.tasks.spawn(fut);
        self.names.insert(h.id(), name);
    }

    /// Runs until every task ends. When `shutdown` resolves (or a task
    /// fails), sources are cancelled and the rest get `grace` to drain.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Outcome {
        tokio::pin!(shutdown);
        let mut failures = Vec::new();
        let mut deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        let mut shutdown_seen = false;
        loop {
            tokio::select! {
                next = self.tasks.join_next_with_id() => {
                    let Some(res) = next else { break };
                    let (id, err) = match res {
                        Ok((id, Ok(()))) => (id, None),
                        Ok((id, Err(e))) => (id, Some(e.to_string())),
                        Err(e) => (e.id(), Some(if e.is_panic() { "panicked".into() } else { "was cancelled".into() })),
                    };
                    let name = self.names.remove(&id).unwrap_or_else(|| "unknown task".into());
                    if let Some(e) = err {
                        tracing::error!(task = %name, error = %e, "component failed; stopping the pipeline");
                        failures.push(format!("{name}: {e}"));
                        if deadline.is_none() {
                            self.sources.cancel();
                            deadline = Some(Box::pin(tokio::time::sleep(self.grace)));
                        }
                    } else {
                        tracing::debug!(task = %name, "finished");
                    }
                }
                _ = &mut shutdown, if !shutdown_seen => {
                    shutdown_seen = true;
                    tracing::info!(grace_secs = self.grace.as_secs(), "shutting down: stopping sources and draining");
                    self.sources.cancel();
                    if deadline.is_none() {
                        deadline = Some(Box::pin(tokio::time::sleep(self.grace)));
                    }
                }
                _ = async { deadline.as_mut().expect("guarded by the select condition").await }, if deadline.is_some() => {
                    let mut left: Vec<String> = self.names.values().cloned().collect();
                    left.sort();
                    tracing::error!(tasks = ?left, "grace period over; abandoning tasks that did not drain");
                    self.tasks.abort_all();
                    return Outcome::TimedOut(left);
                }
            }
        }
        if failures.is_empty() {
            Outcome::Completed
        } else {
            Outcome::Failed(failures)
        }
    }
}
