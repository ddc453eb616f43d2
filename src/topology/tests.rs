//! The topology's own behaviour, with hand-made components: fan-out and
//! acknowledgement merging, a failing sink, the grace-period deadline, the
//! dead-letter writer, and the order in which components end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::builder::{wire, Graph, Node};
use super::dead_letter::Writer;
use super::Outcome;
use crate::component::{
    ComponentError, Sink, SinkContext, SinkInput, Source, SourceContext, Transform,
    TransformContext,
};
use crate::event::{Batch, BatchNotifier, BatchStatus, Event, EventStatus};
use crate::telemetry::Telemetry;

/// Who ended, in order.
type Log = Arc<Mutex<Vec<String>>>;

fn log_push(log: &Log, s: impl Into<String>) {
    log.lock().unwrap().push(s.into());
}

/// Sends `n` events in one batch and reports the batch status it got.
/// With `until_shutdown`, it then waits for shutdown before returning.
struct TestSource {
    n: usize,
    until_shutdown: bool,
    status: Arc<Mutex<Option<BatchStatus>>>,
    log: Log,
}

#[async_trait]
impl Source for TestSource {
    async fn run(self: Box<Self>, mut cx: SourceContext) -> Result<(), ComponentError> {
        let (notifier, rx) = BatchNotifier::new_with_receiver();
        let events = (0..self.n)
            .map(|i| Event::with_notifier(json!({"i": i}), 10, &notifier))
            .collect();
        drop(notifier);
        cx.out
            .send(Batch::new(events))
            .await
            .map_err(|e| ComponentError::new("test source", e))?;
        if self.until_shutdown {
            cx.shutdown.cancelled().await;
        }
        // Outputs close before waiting on acknowledgements, as every
        // source does, so downstream can finish.
        drop(cx.out);
        *self.status.lock().unwrap() = Some(rx.wait().await);
        log_push(&self.log, "source");
        Ok(())
    }
}

/// Passes everything through, dead-lettering events whose `i` is odd.
struct OddToDeadLetter {
    log: Log,
}

impl Transform for OddToDeadLetter {
    fn process(&mut self, batch: Batch, out: &mut Vec<Event>, cx: &mut TransformContext) {
        for e in batch.events {
            if e.log["i"].as_u64().unwrap() % 2 == 1 {
                cx.reject(e, "odd");
            } else {
                out.push(e);
            }
        }
    }
}

impl Drop for OddToDeadLetter {
    fn drop(&mut self) {
        log_push(&self.log, "transform");
    }
}

#[derive(Clone, Copy)]
enum Behaviour {
    Deliver,
    Fail,
    /// Never returns, even when its input closes.
    Hang,
}

struct TestSink {
    name: &'static str,
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<u64>>>,
    log: Log,
}

#[async_trait]
impl Sink for TestSink {
    async fn run(
        self: Box<Self>,
        mut input: SinkInput,
        cx: SinkContext,
    ) -> Result<(), ComponentError> {
        while let Some(batch) = input.next().await {
            match self.behaviour {
                Behaviour::Fail => {
                    for e in batch.events {
                        e.finalize(EventStatus::Errored);
                    }
                    return Err(ComponentError::new(format!("sink {}", cx.name), "refused"));
                }
                Behaviour::Deliver | Behaviour::Hang => {
                    for e in batch.events {
                        self.seen.lock().unwrap().push(e.log["i"].as_u64().unwrap());
                        e.finalize(EventStatus::Delivered);
                    }
                }
            }
        }
        if let Behaviour::Hang = self.behaviour {
            std::future::pending::<()>().await;
        }
        log_push(&self.log, format!("sink {}", self.name));
        Ok(())
    }
}

struct Fixture {
    graph: Graph,
    telemetry: Arc<Telemetry>,
    status: Arc<Mutex<Option<BatchStatus>>>,
    seen: Vec<Arc<Mutex<Vec<u64>>>>,
    log: Log,
    dead_letter: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// source -> transform (odd events to dead-letter) -> one sink per entry
/// of `sinks`.
fn fixture(n: usize, until_shutdown: bool, sinks: &[(&'static str, Behaviour)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Telemetry::new();
    let log: Log = Arc::default();
    let status = Arc::default();
    let mut graph = Graph {
        sources: Default::default(),
        transforms: Default::default(),
        sinks: Default::default(),
        dead_letter: Writer {
            path: dir.path().join("deadletter.ndjson"),
            redactor: None,
            telemetry: telemetry.clone(),
        },
        channel_capacity: 2,
        batch_max_events: 100,
        grace: Duration::from_secs(5),
    };
    let source = TestSource {
        n,
        until_shutdown,
        status: Arc::clone(&status),
        log: log.clone(),
    };
    graph.sources.insert(
        "src".into(),
        Node {
            ty: "test",
            inputs: vec![],
            component: Box::new(source),
        },
    );
    graph.transforms.insert(
        "odd".into(),
        Node {
            ty: "test",
            inputs: vec!["src".into()],
            component: Box::new(OddToDeadLetter { log: log.clone() }),
        },
    );
    let mut seen = Vec::new();
    for (name, behaviour) in sinks {
        let s = Arc::new(Mutex::new(Vec::new()));
        seen.push(s.clone());
        let sink = TestSink {
            name,
            behaviour: *behaviour,
            seen: s,
            log: log.clone(),
        };
        graph.sinks.insert(
            name.to_string(),
            Node {
                ty: "test",
                inputs: vec!["odd".into()],
                component: Box::new(sink),
            },
        );
    }
    Fixture {
        dead_letter: dir.path().join("deadletter.ndjson"),
        graph,
        telemetry,
        status,
        seen,
        log,
        _dir: dir,
    }
}

#[tokio::test]
async fn fan_out_gives_every_sink_every_event_and_acks_after_all() {
    let f = fixture(
        10,
        false,
        &[("a", Behaviour::Deliver), ("b", Behaviour::Deliver)],
    );
    let running = wire(f.graph, &f.telemetry, CancellationToken::new());
    let outcome = running.run_until(std::future::pending()).await;
    assert_eq!(outcome, Outcome::Completed);
    for s in &f.seen {
        assert_eq!(*s.lock().unwrap(), vec![0, 2, 4, 6, 8]);
    }
    // Odd events went to the dead-letter file, which counts as delivered.
    assert_eq!(*f.status.lock().unwrap(), Some(BatchStatus::Delivered));
    let dl = std::fs::read_to_string(&f.dead_letter).unwrap();
    let records: Vec<serde_json::Value> = dl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5);
    for r in &records {
        assert_eq!(r["component"], "odd");
        assert_eq!(r["reason"], "odd");
        assert_eq!(r["event"]["i"].as_u64().unwrap() % 2, 1);
    }
    assert_eq!(f.telemetry.dead_letter_count(), 5);
    let c = f.telemetry.components();
    assert_eq!((c["src"].events_out, c["odd"].events_in), (10, 10));
    assert_eq!((c["odd"].events_out, c["odd"].errors), (5, 5));
    assert_eq!(
        (c["a"].events_in, c["b"].events_in),
        (5, 5),
        "counted by SinkInput"
    );
}

#[tokio::test]
async fn a_failing_sink_fails_the_run_and_holds_the_ack_back() {
    let f = fixture(
        4,
        true,
        &[("good", Behaviour::Deliver), ("bad", Behaviour::Fail)],
    );
    let running = wire(f.graph, &f.telemetry, CancellationToken::new());
    let outcome = running.run_until(std::future::pending()).await;
    match outcome {
        Outcome::Failed(msgs) => {
            assert_eq!(msgs.len(), 1, "{msgs:?}");
            assert!(msgs[0].starts_with("sink bad"), "{msgs:?}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    // The failure cancelled the source (it waited for shutdown) and the
    // batch is not delivered: its checkpoint cannot move.
    assert_eq!(*f.status.lock().unwrap(), Some(BatchStatus::Errored));
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_never_drains_times_out_at_the_grace_period() {
    let f = fixture(2, true, &[("stuck", Behaviour::Hang)]);
    let running = wire(f.graph, &f.telemetry, CancellationToken::new());
    let started = tokio::time::Instant::now();
    let outcome = running
        .run_until(tokio::time::sleep(Duration::from_secs(1)))
        .await;
    // The dead-letter writer outlives every component that can still send
    // to it, so it is abandoned with the stuck sink.
    assert_eq!(
        outcome,
        Outcome::TimedOut(vec!["dead_letter".into(), "sink stuck".into()])
    );
    assert_eq!(outcome.exit_code(), 1);
    // Shutdown at 1 s, grace 5 s: abandoned at 6 s of (paused) time.
    assert_eq!(started.elapsed().as_secs(), 6);
}

#[tokio::test]
async fn components_end_in_order_sources_then_transforms_then_sinks() {
    let f = fixture(6, true, &[("out", Behaviour::Deliver)]);
    let running = wire(f.graph, &f.telemetry, CancellationToken::new());
    let outcome = running.run_until(async {}).await;
    assert_eq!(outcome, Outcome::Completed);
    let log = f.log.lock().unwrap().clone();
    let pos = |what: &str| {
        log.iter()
            .position(|l| l == what)
            .unwrap_or_else(|| panic!("{what} missing from {log:?}"))
    };
    // The source closed its output first (then waited for its ack, which
    // needs the sink): the transform ends before the sink, and the source
    // sees its status only after the sink delivered.
    assert!(pos("transform") < pos("sink out"), "{log:?}");
    assert!(pos("sink out") < pos("source"), "{log:?}");
    assert_eq!(*f.status.lock().unwrap(), Some(BatchStatus::Delivered));
}
