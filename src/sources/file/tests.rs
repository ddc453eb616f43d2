//! The source driven in-process: acknowledgement failures, partial lines
//! at shutdown, config validation.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::component::{DeadLetterSender, Output};
use crate::decode::Format;
use crate::event::{Batch, EventStatus};
use crate::telemetry::Telemetry;

struct Harness {
    out: mpsc::Receiver<Batch>,
    stop: CancellationToken,
    telemetry: Arc<Telemetry>,
    task: tokio::task::JoinHandle<Result<(), ComponentError>>,
    checkpoints: PathBuf,
}

fn config(toml_text: &str) -> Config {
    toml::from_str(toml_text).expect("test config parses")
}

fn start(data_dir: &Path, cfg: Config) -> Harness {
    let telemetry = Telemetry::new();
    let bcx = BuildContext {
        data_dir: data_dir.to_path_buf(),
        shutdown_grace: Duration::from_secs(4),
        node: NodeInfo::default(),
        telemetry: telemetry.clone(),
    };
    let src = FileSource::new(cfg, "files", &bcx).unwrap();
    let checkpoints = src.checkpoints.clone();
    let stats = telemetry.component("files", "source", "file");
    let (tx, out) = mpsc::channel(4);
    let stop = CancellationToken::new();
    let cx = SourceContext {
        name: Arc::from("files"),
        out: Output::new(vec![tx], stats.clone()),
        shutdown: stop.child_token(),
        dead_letter: DeadLetterSender::disconnected(),
        stats,
        telemetry: telemetry.clone(),
        batch_max_events: 1000,
    };
    let task = tokio::spawn(Box::new(src).run(cx));
    Harness {
        out,
        stop,
        telemetry,
        task,
        checkpoints,
    }
}

impl Harness {
    async fn next(&mut self) -> Batch {
        tokio::time::timeout(Duration::from_secs(10), self.out.recv())
            .await
            .expect("a batch within 10 s")
            .expect("the source is running")
    }

    async fn lag_becomes(&self, bytes: u64) {
        for _ in 0..500 {
            if self.telemetry.source_lags().get("files") == Some(&bytes) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "lag never reached {bytes}: {:?}",
            self.telemetry.source_lags()
        );
    }

    async fn stop(self) -> Vec<checkpoint::Entry> {
        self.stop.cancel();
        drop(self.out);
        self.task.await.unwrap().unwrap();
        checkpoint::load(&self.checkpoints).unwrap()
    }
}

fn cri(i: u32, stream_flag: &str, msg: &str) -> String {
    format!("2025-11-30T12:00:00.{i:09}Z stdout {stream_flag} {msg}\n")
}

fn ids(b: &Batch) -> Vec<String> {
    b.events
        .iter()
        .map(|e| e.insert_id().unwrap().to_string())
        .collect()
}

fn fast(dir: &Path) -> String {
    format!(
        "include = [\"{}/*.log\"]\nglob_interval_ms = 50\npoll_interval_ms = 20\ncheckpoint_interval_ms = 50\n",
        dir.display()
    )
}

#[tokio::test]
async fn an_errored_batch_does_not_advance_and_is_read_again() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let text: String = (1..=3).map(|i| cri(i, "F", &format!("line {i}"))).collect();
    std::fs::write(logs.path().join("a.log"), &text).unwrap();
    let mut h = start(data.path(), config(&fast(logs.path())));

    let first = h.next().await;
    assert_eq!(first.len(), 3);
    let first_ids = ids(&first);
    for e in first.events {
        e.finalize(EventStatus::Errored);
    }
    // Read again from the checkpoint (after a 1 s backoff).
    let second = h.next().await;
    assert_eq!(
        ids(&second),
        first_ids,
        "the same lines, the same insertIds"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let saved = checkpoint::load(&h.checkpoints).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(
        saved[0].offset, 0,
        "the failure did not advance the checkpoint"
    );
    assert_eq!(h.telemetry.source_lags()["files"], text.len() as u64);

    for e in second.events {
        e.finalize(EventStatus::Delivered);
    }
    h.lag_becomes(0).await;
    let saved = h.stop().await;
    assert_eq!(saved[0].offset, text.len() as u64);
}

#[tokio::test]
async fn shutdown_keeps_the_checkpoint_before_a_pending_partial_line() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = logs.path().join("p.log");
    let whole = cri(1, "F", "whole");
    let parts = format!("{}{}", cri(2, "P", "two "), cri(3, "P", "parts "));
    std::fs::write(&path, format!("{whole}{parts}")).unwrap();

    let mut h = start(data.path(), config(&fast(logs.path())));
    let b = h.next().await;
    assert_eq!(b.len(), 1);
    for e in b.events {
        e.finalize(EventStatus::Delivered);
    }
    h.lag_becomes(parts.len() as u64).await;
    let saved = h.stop().await;
    assert_eq!(
        saved[0].offset,
        whole.len() as u64,
        "not inside the P parts"
    );

    // The next run joins the parts with their end.
    let end = cri(4, "F", "end");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, end.as_bytes()).unwrap();
    let mut h = start(data.path(), config(&fast(logs.path())));
    let b = h.next().await;
    assert_eq!(b.len(), 1);
    assert_eq!(b.events[0].log["textPayload"], "two parts end");
    for e in b.events {
        e.finalize(EventStatus::Delivered);
    }
    h.lag_becomes(0).await;
    let saved = h.stop().await;
    assert_eq!(
        saved[0].offset,
        (whole.len() + parts.len() + end.len()) as u64
    );
}

#[tokio::test]
async fn unacknowledged_batches_at_shutdown_are_not_checkpointed() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(logs.path().join("u.log"), cri(1, "F", "held")).unwrap();
    let mut h = start(data.path(), config(&fast(logs.path())));
    let held = h.next().await;
    // The batch is still held when shutdown's wait (grace 4 s - 2 s) ends.
    let saved = h.stop().await;
    assert_eq!(saved[0].offset, 0);
    drop(held);
}

#[test]
fn validation_names_the_field() {
    let fields = |t: &str| -> Vec<String> {
        config(t)
            .validate()
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    };
    assert!(fields("include = [\"/var/log/containers/*.log\"]").is_empty());
    let e = fields("include = []");
    assert!(e[0].starts_with("include: must list"), "{e:?}");
    let e = fields("include = [\"/ok/*.log\", \"/bad/[\"]");
    assert!(e[0].starts_with("include: pattern 1"), "{e:?}");
    let e = fields("include = [\"/a\"]\nexclude = [\"**x**[\"]");
    assert!(e[0].starts_with("exclude: pattern 0"), "{e:?}");
    let e = fields("include = [\"/a\"]\ndata_subdir = \"../elsewhere\"");
    assert!(e[0].starts_with("data_subdir:"), "{e:?}");
    let e = fields("include = [\"/a\"]\nmax_line_bytes = 10\nglob_interval_ms = 0");
    assert_eq!(e.len(), 2, "{e:?}");
    let err = toml::from_str::<Config>("include = [\"/a\"]\nstart_at = \"end\"").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `start_at`"),
        "{err}"
    );
    let c = config("include = [\"/a\"]\nread_from = \"end\"\nformat = \"cri\"");
    assert_eq!((c.read_from, c.format), (ReadFrom::End, Format::Cri));
}

#[test]
fn read_from_end_starts_after_the_last_complete_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.log");
    std::fs::write(&p, "one\ntwo\nthr").unwrap();
    let f = File::open(&p).unwrap();
    assert_eq!(end_at_line_boundary(&f, 11), 8);
    std::fs::write(&p, "one\n").unwrap();
    assert_eq!(end_at_line_boundary(&File::open(&p).unwrap(), 4), 4);
}

#[test]
fn backoff_doubles_to_a_minute() {
    assert_eq!(REOPEN.delay(1), Duration::from_secs(1));
    assert_eq!(REOPEN.delay(2), Duration::from_secs(2));
    assert_eq!(REOPEN.delay(7), Duration::from_secs(60));
    assert_eq!(REOPEN.delay(40), Duration::from_secs(60));
}
