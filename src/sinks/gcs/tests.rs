//! The sink's logic against `object_store::memory::InMemory`.

use std::io::Read;
use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::*;
use crate::component::DeadLetterSender;
use crate::event::{BatchNotifier, BatchStatus, Event};
use crate::telemetry::Telemetry;

fn settings(compression: Compression) -> Settings {
    Settings {
        template: KeyTemplate::parse(&format!("{}{}", key::DATE_LAYOUT, compression.extension()))
            .unwrap(),
        node: "node-a".into(),
        compression,
        level: compression.default_level(),
        max_bytes: 1 << 20,
        max_age: Duration::from_secs(300),
        max_in_flight: 2,
        plan: UploadPlan {
            initial_backoff: Duration::from_millis(1),
            ..UploadPlan::default()
        },
    }
}

fn entry(ts: &str, i: usize) -> Value {
    json!({"insertId": format!("id-{i}"), "timestamp": ts, "severity": "INFO",
           "jsonPayload": {"message": "hello", "n": i}})
}

fn batch(entries: Vec<Value>) -> (Batch, crate::event::BatchStatusReceiver) {
    let (n, rx) = BatchNotifier::new_with_receiver();
    let events = entries
        .into_iter()
        .map(|l| Event::with_notifier(l, 100, &n))
        .collect();
    (Batch::new(events), rx)
}

fn sink_cx(t: &Arc<Telemetry>) -> SinkContext {
    SinkContext {
        name: Arc::from("archive"),
        dead_letter: DeadLetterSender::disconnected(),
        stats: t.component("archive", "sink", "gcs"),
        telemetry: t.clone(),
    }
}

async fn objects(store: &Arc<dyn ObjectStore>) -> Vec<(String, Vec<u8>)> {
    let metas: Vec<_> = store.list(None).collect().await;
    let mut out = Vec::new();
    for m in metas {
        let m = m.unwrap();
        let body = store.get(&m.location).await.unwrap().bytes().await.unwrap();
        out.push((m.location.to_string(), body.to_vec()));
    }
    out.sort();
    out
}

fn decode(c: Compression, body: &[u8]) -> Vec<Value> {
    let mut text = Vec::new();
    match c {
        Compression::Gzip => {
            flate2::read::MultiGzDecoder::new(body)
                .read_to_end(&mut text)
                .unwrap();
        }
        Compression::Zstd => text = zstd::decode_all(body).unwrap(),
        Compression::None => text = body.to_vec(),
    }
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

#[tokio::test]
async fn one_object_per_hour_acked_after_finalize() {
    for c in [Compression::Gzip, Compression::Zstd] {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let target = Opened {
            store: store.clone(),
            attributes: true,
        };
        let t = Telemetry::new();
        let (tx, rx) = mpsc::channel(4);
        let sink = Box::new(GcsSink::with_target(settings(c), target));
        let task = tokio::spawn(sink.run(
            SinkInput::new(rx, t.component("archive", "sink", "gcs")),
            sink_cx(&t),
        ));
        let (b1, mut r1) = batch(vec![
            entry("2025-11-30T12:00:01Z", 1),
            entry("2025-11-30T13:10:00.5Z", 2),
            entry("2025-11-30T12:59:59.999999999Z", 3),
        ]);
        let (b2, r2) = batch(vec![entry("2025-11-30T12:30:00+00:00", 4)]);
        tx.send(b1).await.unwrap();
        tx.send(b2).await.unwrap();
        // Nothing is acknowledged while the objects are open.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            r1.try_recv().is_none(),
            "acked before the object was finalized"
        );
        assert!(objects(&store).await.is_empty());
        drop(tx);
        task.await.unwrap().unwrap();
        assert_eq!(r1.wait().await, BatchStatus::Delivered);
        assert_eq!(r2.wait().await, BatchStatus::Delivered);

        let objs = objects(&store).await;
        assert_eq!(
            objs.len(),
            2,
            "{:?}",
            objs.iter().map(|o| &o.0).collect::<Vec<_>>()
        );
        let ext = c.extension();
        assert!(objs[0].0.starts_with("logs/2025/11/30/12/node-a-") && objs[0].0.ends_with(ext));
        assert!(objs[1].0.starts_with("logs/2025/11/30/13/node-a-"));
        let ids = |v: &[Value]| {
            v.iter()
                .map(|e| e["insertId"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&decode(c, &objs[0].1)), ["id-1", "id-3", "id-4"]);
        assert_eq!(ids(&decode(c, &objs[1].1)), ["id-2"]);
        let st = t.components()["archive"].clone();
        assert_eq!((st.events_in, st.events_out), (4, 4));
    }
}

// Time is the subject: tokio's paused clock, so the ages are exact and the
// test does not wait for them.
#[tokio::test(start_paused = true)]
async fn closes_by_age_and_by_size() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let target = Opened {
        store: store.clone(),
        attributes: true,
    };
    let mut s = settings(Compression::Gzip);
    s.max_age = Duration::from_millis(400);
    s.max_bytes = 2000;
    let t = Telemetry::new();
    let (tx, rx) = mpsc::channel(4);
    let task = tokio::spawn(Box::new(GcsSink::with_target(s, target)).run(
        SinkInput::new(rx, t.component("archive", "sink", "gcs")),
        sink_cx(&t),
    ));

    // Age: one small batch, then time passes with the input still open.
    let (b, mut r) = batch(vec![entry("2025-11-30T08:00:00Z", 1)]);
    let sent = tokio::time::Instant::now();
    tx.send(b).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(r.try_recv().is_none());
    assert_eq!(r.wait().await, BatchStatus::Delivered);
    assert!(
        sent.elapsed() >= Duration::from_millis(400),
        "closed by age, not before"
    );
    assert_eq!(objects(&store).await.len(), 1);

    // Size: 40 events of ~100 bytes pass 2000 bytes in one batch, and the
    // object closes at once, long before its age.
    let (b, r) = batch(
        (0..40)
            .map(|i| entry("2025-11-30T09:00:00Z", 100 + i))
            .collect(),
    );
    tx.send(b).await.unwrap();
    let status = tokio::time::timeout(Duration::from_millis(300), r.wait()).await;
    assert_eq!(status.expect("closed by size"), BatchStatus::Delivered);
    assert_eq!(objects(&store).await.len(), 2);
    drop(tx);
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn failed_upload_errors_the_batch_and_the_sink() {
    // A local folder that is removed under the sink: every create fails.
    let dir = tempfile::tempdir().unwrap();
    let target = store::open_local(dir.path(), true).unwrap();
    std::fs::remove_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path(), b"now a file").unwrap();
    let mut s = settings(Compression::Gzip);
    s.plan.max_attempts = 2;
    let t = Telemetry::new();
    let (tx, rx) = mpsc::channel(4);
    let task = tokio::spawn(Box::new(GcsSink::with_target(s, target)).run(
        SinkInput::new(rx, t.component("archive", "sink", "gcs")),
        sink_cx(&t),
    ));
    let (b, r) = batch(vec![entry("2025-11-30T08:00:00Z", 1)]);
    tx.send(b).await.unwrap();
    drop(tx);
    let err = task.await.unwrap().unwrap_err();
    assert!(
        err.to_string().contains("logs/2025/11/30/08/node-a-"),
        "{err}"
    );
    assert_eq!(r.wait().await, BatchStatus::Errored);
}

#[tokio::test]
async fn events_without_time_are_filed_under_now() {
    let mut b = Batcher::new(settings(Compression::None));
    let (batch, _r) = batch(vec![json!({"textPayload": "x"})]);
    b.add(batch).unwrap();
    let objs = b.close(true).unwrap();
    assert_eq!(objs.len(), 1);
    let now = Utc::now().format("logs/%Y/%m/%d/").to_string();
    assert!(objs[0].0.key.starts_with(&now), "{}", objs[0].0.key);
    assert_eq!(objs[0].0.content_encoding, None);
    objs.into_iter()
        .for_each(|(_, f, _, _)| f.settle(EventStatus::Delivered));
}
