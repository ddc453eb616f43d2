//! Config -> channels and tasks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dead_letter::Writer;
use super::running::Running;
use crate::component::{
    BuildContext, BuildError, ComponentError, DeadLetterRedactor, DeadLetterSender, Output,
    SinkContext, SinkInput, SourceContext, TransformContext,
};
use crate::component::{Sink, Source, Transform};
use crate::config::{PipelineConfig, TransformOuter};
use crate::decode::Format;
use crate::event::{Batch, EventStatus};
use crate::sources::{replay, DryRunInput};
use crate::telemetry::{ComponentStats, Telemetry};
use crate::transforms::Validated;

/// A dry run: cloud sinks write under `out_dir`, and `inputs` replace the
/// pipeline's sources (when given).
#[derive(Debug, Clone)]
pub struct DryRunPlan {
    pub out_dir: PathBuf,
    pub inputs: Vec<replay::Input>,
}

impl DryRunPlan {
    /// The build context of this dry run. What components keep under
    /// `data_dir` (backfill resume files) goes to `OUT/state` instead, so a
    /// dry run writes nothing outside its output folder and never marks
    /// real work done.
    pub(crate) fn context(&self, live: &BuildContext) -> BuildContext {
        BuildContext {
            data_dir: self.out_dir.join("state"),
            ..live.clone()
        }
    }
}

/// Builds every component, wires the channels and spawns the tasks.
/// `shutdown` stops the sources; everything downstream drains after them.
pub fn build(
    cfg: &PipelineConfig,
    cx: &BuildContext,
    shutdown: CancellationToken,
) -> Result<Running, BuildError> {
    Ok(wire(assemble(cfg, cx, None)?, &cx.telemetry, shutdown))
}

/// [`build`] for a dry run: what stands in for each source and sink (see
/// [`build_sources`] and `SinkConfig::build_dry_run`), with state under the
/// output folder.
pub fn build_dry_run(
    cfg: &PipelineConfig,
    cx: &BuildContext,
    plan: &DryRunPlan,
    shutdown: CancellationToken,
) -> Result<Running, BuildError> {
    let cx = plan.context(cx);
    Ok(wire(
        assemble(cfg, &cx, Some(plan))?,
        &cx.telemetry,
        shutdown,
    ))
}

/// One built component and the names it reads from.
pub(crate) struct Node<C> {
    pub(crate) ty: &'static str,
    pub(crate) inputs: Vec<String>,
    pub(crate) component: C,
}

/// Built components, not yet connected: what [`assemble`] makes of a
/// config, and what the topology's own tests make by hand.
pub(crate) struct Graph {
    pub(crate) sources: BTreeMap<String, Node<Box<dyn Source>>>,
    pub(crate) transforms: BTreeMap<String, Node<Box<dyn Transform>>>,
    pub(crate) sinks: BTreeMap<String, Node<Box<dyn Sink>>>,
    pub(crate) dead_letter: Writer,
    pub(crate) channel_capacity: usize,
    pub(crate) batch_max_events: usize,
    pub(crate) grace: std::time::Duration,
}

/// Builds every component of `cfg` (or, in a dry run, what stands in for
/// it), with inputs renamed to the stand-ins.
fn assemble(
    cfg: &PipelineConfig,
    cx: &BuildContext,
    dry_run: Option<&DryRunPlan>,
) -> Result<Graph, BuildError> {
    let (sources, rename) = build_sources(cfg, cx, dry_run)?;
    let resolve = |inputs: &[String]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for i in inputs {
            let i = rename.get(i).cloned().unwrap_or_else(|| i.clone());
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    };
    let sources = sources
        .into_iter()
        .map(|(name, (ty, component))| {
            let node = Node {
                ty,
                inputs: Vec::new(),
                component,
            };
            (name, node)
        })
        .collect();
    let mut transforms = BTreeMap::new();
    for (name, t) in &cfg.transforms {
        let node = Node {
            ty: t.inner.type_name(),
            inputs: resolve(&t.inputs),
            component: validated(name, t)?.build(name, cx)?,
        };
        transforms.insert(name.clone(), node);
    }
    let mut sinks = BTreeMap::new();
    for (name, s) in &cfg.sinks {
        let component = match dry_run {
            Some(plan) => s.inner.build_dry_run(name, cx, &plan.out_dir)?,
            None => s.inner.build(name, cx)?,
        };
        let node = Node {
            ty: s.inner.type_name(),
            inputs: resolve(&s.inputs),
            component,
        };
        sinks.insert(name.clone(), node);
    }
    let redactor: Option<Arc<dyn DeadLetterRedactor>> = match &cfg.dead_letter.redact_with {
        Some(r) => {
            let t = cfg.transforms.get(r).ok_or_else(|| {
                BuildError::new(
                    "dead_letter",
                    "redact_with",
                    format!("no transform named `{r}`"),
                )
            })?;
            validated(r, t)?
                .dead_letter_redactor()
                .map_err(|e| BuildError::new("transform", r, e))?
        }
        None => None,
    };
    let path = match dry_run {
        Some(p) => p.out_dir.join("deadletter.ndjson"),
        None => cfg.dead_letter_path(),
    };
    Ok(Graph {
        sources,
        transforms,
        sinks,
        dead_letter: Writer {
            path,
            redactor,
            telemetry: cx.telemetry.clone(),
        },
        channel_capacity: cfg.global.channel_capacity.max(1),
        batch_max_events: cfg.global.batch_max_events.max(1),
        grace: std::time::Duration::from_secs(cfg.global.shutdown_grace_secs),
    })
}

/// What validation computed for a transform. A config from `config::load*`
/// always has it; one built by hand without validating is refused.
fn validated<'a>(name: &str, t: &'a TransformOuter) -> Result<&'a Validated, BuildError> {
    t.validated
        .as_ref()
        .ok_or_else(|| BuildError::new("transform", name, "was never validated"))
}

/// Connects the components with bounded channels and spawns one task
/// each, plus the dead-letter writer.
pub(crate) fn wire(
    graph: Graph,
    telemetry: &Arc<Telemetry>,
    shutdown: CancellationToken,
) -> Running {
    let cap = graph.channel_capacity;
    // One bounded channel per consumer; producers get a sender per consumer.
    let mut consumer_rx: BTreeMap<String, mpsc::Receiver<Batch>> = BTreeMap::new();
    let mut producer_tx: BTreeMap<String, Vec<mpsc::Sender<Batch>>> = BTreeMap::new();
    let consumers = graph
        .transforms
        .iter()
        .map(|(n, t)| (n, &t.inputs))
        .chain(graph.sinks.iter().map(|(n, s)| (n, &s.inputs)));
    for (name, inputs) in consumers {
        let (tx, rx) = mpsc::channel::<Batch>(cap);
        watch_fill(telemetry, name, &tx);
        consumer_rx.insert(name.clone(), rx);
        for i in inputs {
            producer_tx.entry(i.clone()).or_default().push(tx.clone());
        }
    }

    let (dl_tx, dl_rx) = mpsc::channel(cap * 256);
    let dead_letter = DeadLetterSender(dl_tx);
    let mut running = Running::new(shutdown.clone(), graph.grace);
    let stats =
        |name: &str, kind: &'static str, ty: &'static str| telemetry.component(name, kind, ty);

    for (name, node) in graph.sources {
        let st = stats(&name, "source", node.ty);
        let out = Output::new(producer_tx.remove(&name).unwrap_or_default(), st.clone());
        if out.fan_out() == 0 {
            tracing::warn!(component = %name, "source has no consumers; its events are discarded");
        }
        let scx = SourceContext {
            name: Arc::from(name.as_str()),
            out,
            shutdown: shutdown.child_token(),
            dead_letter: dead_letter.clone(),
            stats: st,
            telemetry: telemetry.clone(),
            batch_max_events: graph.batch_max_events,
        };
        telemetry.expect_ready(&name);
        running.spawn(
            format!("source {name}"),
            announce(telemetry.clone(), name.clone(), node.component.run(scx)),
        );
    }
    for (name, node) in graph.transforms {
        let st = stats(&name, "transform", node.ty);
        let out = Output::new(producer_tx.remove(&name).unwrap_or_default(), st.clone());
        let rx = consumer_rx
            .remove(&name)
            .expect("every transform has a channel");
        running.spawn(
            format!("transform {name}"),
            run_transform(
                Arc::from(name.as_str()),
                node.component,
                rx,
                out,
                dead_letter.clone(),
                st,
                telemetry.clone(),
            ),
        );
    }
    for (name, node) in graph.sinks {
        let st = stats(&name, "sink", node.ty);
        let rx = consumer_rx.remove(&name).expect("every sink has a channel");
        let scx = SinkContext {
            name: Arc::from(name.as_str()),
            dead_letter: dead_letter.clone(),
            stats: st,
            telemetry: telemetry.clone(),
        };
        telemetry.expect_ready(&name);
        let input = SinkInput::new(rx, scx.stats.clone());
        running.spawn(
            format!("sink {name}"),
            announce(
                telemetry.clone(),
                name.clone(),
                node.component.run(input, scx),
            ),
        );
    }
    // Channels close when their producers end: only the tasks hold senders.
    drop(producer_tx);
    drop(dead_letter);
    running.spawn("dead_letter".to_string(), graph.dead_letter.run(dl_rx));
    running
}

/// Built sources by name (with their type, for telemetry), and the
/// renaming of configured source names to the ones that stand in for them.
type Sources = (
    BTreeMap<String, (&'static str, Box<dyn Source>)>,
    BTreeMap<String, String>,
);

/// Builds the sources, or in a dry run what stands in for them: one replay
/// of the `--input` files for all of them, else each source's
/// [`DryRunInput`]. This is the one place a dry run's inputs are decided,
/// so no source can open a socket or tail forever in a dry run.
fn build_sources(
    cfg: &PipelineConfig,
    cx: &BuildContext,
    dry_run: Option<&DryRunPlan>,
) -> Result<Sources, BuildError> {
    let mut sources = BTreeMap::new();
    let mut rename = BTreeMap::new();
    let Some(plan) = dry_run else {
        for (name, c) in &cfg.sources {
            sources.insert(name.clone(), (c.type_name(), c.build(name, cx)?));
        }
        return Ok((sources, rename));
    };
    if !plan.inputs.is_empty() {
        let name = cfg
            .sources
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "input".into());
        for s in cfg.sources.keys() {
            rename.insert(s.clone(), name.clone());
        }
        let replay = replay::Replay::new(
            plan.inputs.clone(),
            cx.node.clone(),
            Format::Auto,
            crate::sources::stdin::default_max_line_bytes(),
        );
        sources.insert(name, ("replay", Box::new(replay) as Box<dyn Source>));
        return Ok((sources, rename));
    }
    for (name, c) in &cfg.sources {
        let built: (&'static str, Box<dyn Source>) = match c.dry_run_input() {
            DryRunInput::AsIs => (c.type_name(), c.build(name, cx)?),
            DryRunInput::Files {
                paths,
                format,
                max_line_bytes,
            } => {
                let inputs = paths.into_iter().map(replay::Input::File).collect();
                let replay = replay::Replay::new(inputs, cx.node.clone(), format, max_line_bytes);
                ("replay", Box::new(replay))
            }
            DryRunInput::Network { reads, instead } => {
                return Err(BuildError::new(
                    "source",
                    name,
                    format!("reads {reads}, and a dry run opens no network connection: {instead}"),
                ))
            }
        };
        sources.insert(name.clone(), built);
    }
    Ok((sources, rename))
}

/// Marks a component started (ready, unless its build deferred readiness
/// with `Telemetry::defer_ready`) when its task first runs.
async fn announce<F: std::future::Future>(
    telemetry: Arc<Telemetry>,
    name: String,
    fut: F,
) -> F::Output {
    telemetry.component_started(&name);
    fut.await
}

/// Exposes how many batches wait in `consumer`'s input channel. The probe
/// holds a weak sender, so it never keeps a channel open.
fn watch_fill(telemetry: &Telemetry, consumer: &str, tx: &mpsc::Sender<Batch>) {
    let weak = tx.downgrade();
    let max = tx.max_capacity();
    telemetry.watch_channel(
        consumer,
        Box::new(move || match weak.upgrade() {
            Some(tx) => (tx.max_capacity() - tx.capacity(), tx.max_capacity()),
            None => (0, max),
        }),
    );
}

async fn run_transform(
    name: Arc<str>,
    mut t: Box<dyn Transform>,
    mut rx: mpsc::Receiver<Batch>,
    mut out: Output,
    dead_letter: DeadLetterSender,
    stats: Arc<ComponentStats>,
    telemetry: Arc<Telemetry>,
) -> Result<(), ComponentError> {
    let mut cx = TransformContext::default();
    while let Some(batch) = rx.recv().await {
        let n_in = batch.len() as u64;
        stats.received(n_in, batch.bytes());
        let mut events = Vec::with_capacity(batch.len());
        t.process(batch, &mut events, &mut cx);
        let n_rejected = cx.rejects.len() as u64;
        let n_out = events.len() as u64;
        stats.dropped(n_in.saturating_sub(n_out + n_rejected));
        stats.errored(n_rejected);
        if !cx.redactions.is_empty() {
            telemetry.add_redactions(cx.redactions.iter().map(|(k, v)| (k.as_str(), *v)));
            cx.redactions.clear();
            telemetry.add_field_redactions(
                cx.redactions_by_field
                    .iter()
                    .map(|(f, d, n)| (f.as_str(), d.as_str(), *n)),
            );
            cx.redactions_by_field.clear();
        }
        for (e, reason) in cx.rejects.drain(..) {
            dead_letter.send(&name, e, reason).await;
        }
        if out.fan_out() == 0 {
            for e in events {
                e.finalize(EventStatus::Dropped);
            }
            continue;
        }
        out.send(Batch::new(events))
            .await
            .map_err(|e| ComponentError::new(format!("transform {name}"), e))?;
    }
    Ok(())
}
