//! The archive source against `object_store::memory::InMemory`, fed by the
//! `gcs` sink's own encoder so the two sides agree on the format.

use std::time::Duration;

use object_store::memory::InMemory;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::select::Shard;
use super::*;
use crate::component::{DeadLetterSender, Output};
use crate::event::{Batch, EventStatus};
use crate::sinks::gcs::encoder::{Compression, MemberCompressor, ObjectEncoder};
use crate::telemetry::Telemetry;

fn entry(ts: &str, id: &str) -> Value {
    json!({"insertId": id, "timestamp": ts, "severity": "INFO", "logName": "projects/p/logs/stdout",
           "resource": {"type": "k8s_container", "labels": {"namespace_name": "coditect"}},
           "jsonPayload": {"message": "hi"}})
}

async fn put(store: &InMemory, key: &str, c: Compression, entries: &[Value]) {
    let mut z = MemberCompressor::new(c, c.default_level()).unwrap();
    let mut e = ObjectEncoder::new();
    for v in entries {
        let mut line = serde_json::to_vec(v).unwrap();
        line.push(b'\n');
        e.write(&mut z, &line).unwrap();
    }
    let body = e.finish(&mut z).unwrap();
    store
        .put(&ObjectPath::from(key), PutPayload::from(body))
        .await
        .unwrap();
}

/// Runs the source once; the consumer settles every event with `status`.
/// Returns the events seen, the progress and the source's result.
async fn run_once(
    store: Arc<InMemory>,
    selection: Selection,
    state_path: PathBuf,
    status: EventStatus,
) -> (Vec<Value>, progress::Snapshot, Result<(), ComponentError>) {
    let t = Telemetry::new();
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let stats = t.component("archive", "source", "archive");
    let cx = SourceContext {
        name: Arc::from("archive"),
        out: Output::new(vec![tx], stats.clone()),
        shutdown: CancellationToken::new(),
        dead_letter: DeadLetterSender::disconnected(),
        stats,
        telemetry: t.clone(),
        batch_max_events: 3,
    };
    let progress = Arc::new(Progress::default());
    let stores = Stores {
        list: store.clone(),
        get: store,
        prefix: String::new(),
    };
    let src = Box::new(Archive::with_stores(
        selection,
        stores,
        state_path,
        progress.clone(),
    ));
    let consumer = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(b) = rx.recv().await {
            for e in b.events {
                seen.push(Value::clone(&e.log));
                e.finalize(status);
            }
        }
        seen
    });
    let res = tokio::time::timeout(Duration::from_secs(10), src.run(cx))
        .await
        .expect("the source finishes");
    let seen = consumer.await.unwrap();
    (seen, progress.snapshot(), res)
}

fn ids(v: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = v
        .iter()
        .map(|e| e["insertId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn selection(range: Range) -> Selection {
    Selection {
        location: Location::parse("gs://test-bucket").unwrap(),
        range,
        shard: Shard::default(),
    }
}

#[tokio::test]
async fn replays_every_codec_keeps_insert_ids_and_resumes() {
    let store = Arc::new(InMemory::new());
    put(
        &store,
        "logs/2025/11/30/10/n-a.ndjson.gz",
        Compression::Gzip,
        &[
            entry("2025-11-30T10:00:00Z", "a1"),
            entry("2025-11-30T10:59:00Z", "a2"),
        ],
    )
    .await;
    put(
        &store,
        "logs/2025/11/30/11/n-b.ndjson.zst",
        Compression::Zstd,
        &[
            entry("2025-11-30T11:00:00Z", "b1"),
            entry("2025-11-30T11:01:00Z", "b2"),
            entry("2025-11-30T11:02:00Z", "b3"),
            entry("2025-11-30T11:03:00Z", "b4"),
        ],
    )
    .await;
    put(
        &store,
        "logs/2025/11/30/12/n-c.ndjson",
        Compression::None,
        &[entry("2025-11-30T12:00:00Z", "c1")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");

    let (seen, p, res) = run_once(
        store.clone(),
        selection(Range::default()),
        state.clone(),
        EventStatus::Delivered,
    )
    .await;
    res.unwrap();
    assert_eq!(ids(&seen), ["a1", "a2", "b1", "b2", "b3", "b4", "c1"]);
    // Entries come back as they were archived.
    let a1 = seen.iter().find(|e| e["insertId"] == "a1").unwrap();
    assert_eq!(a1, &entry("2025-11-30T10:00:00Z", "a1"));
    assert_eq!(
        (p.objects_total, p.objects_done, p.objects_failed, p.events),
        (3, 3, 0, 7)
    );

    // A second run finds everything recorded and reads nothing.
    let (seen, p, res) = run_once(
        store.clone(),
        selection(Range::default()),
        state.clone(),
        EventStatus::Delivered,
    )
    .await;
    res.unwrap();
    assert!(seen.is_empty());
    assert_eq!((p.objects_total, p.objects_skipped), (0, 3));
}

#[tokio::test]
async fn undelivered_objects_are_not_recorded() {
    let store = Arc::new(InMemory::new());
    put(
        &store,
        "logs/2025/11/30/10/n-a.ndjson.gz",
        Compression::Gzip,
        &[entry("2025-11-30T10:00:00Z", "a1")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let (seen, p, res) = run_once(
        store.clone(),
        selection(Range::default()),
        state.clone(),
        EventStatus::Errored,
    )
    .await;
    assert_eq!(seen.len(), 1);
    assert!(res.unwrap_err().to_string().contains("1 archive object(s)"));
    assert_eq!((p.objects_done, p.objects_failed), (0, 1));
    // Read again next time.
    let (seen, _, res) = run_once(
        store,
        selection(Range::default()),
        state,
        EventStatus::Delivered,
    )
    .await;
    res.unwrap();
    assert_eq!(ids(&seen), ["a1"]);
}

#[tokio::test]
async fn range_selects_by_key_and_trims_boundary_objects() {
    let store = Arc::new(InMemory::new());
    for h in 9..13 {
        put(
            &store,
            &format!("logs/2025/11/30/{h:02}/n-x.ndjson.gz"),
            Compression::Gzip,
            &[
                entry(&format!("2025-11-30T{h:02}:10:00Z"), &format!("{h}-10")),
                entry(&format!("2025-11-30T{h:02}:40:00Z"), &format!("{h}-40")),
            ],
        )
        .await;
    }
    // Hive layout and an undated object too.
    put(
        &store,
        "logs/dt=2025-11-30/hour=10/n-y.ndjson.gz",
        Compression::Gzip,
        &[entry("2025-11-30T10:20:00Z", "hive")],
    )
    .await;
    put(
        &store,
        "misc/notes.ndjson",
        Compression::None,
        &[entry("2025-11-30T10:20:00Z", "undated")],
    )
    .await;
    // An object outside the range that is not even valid gzip: it must
    // never be downloaded, or the run would fail.
    store
        .put(
            &ObjectPath::from("logs/2025/11/30/20/n-z.ndjson.gz"),
            PutPayload::from(vec![0x1f, 0x8b, 0, 1]),
        )
        .await
        .unwrap();
    let range = Range {
        start: parse_rfc3339("2025-11-30T10:30:00Z"),
        end: parse_rfc3339("2025-11-30T12:00:00Z"),
    };
    let dir = tempfile::tempdir().unwrap();
    let (seen, p, res) = run_once(
        store,
        selection(range),
        dir.path().join("s"),
        EventStatus::Delivered,
    )
    .await;
    res.unwrap();
    assert_eq!(ids(&seen), ["10-40", "11-10", "11-40"]);
    assert_eq!(p.objects_total, 3, "hours 10 (two layouts) and 11");
    assert_eq!(p.objects_undated, 1);
    assert_eq!(
        p.events_out_of_range, 2,
        "10-10 and the hive entry at 10:20"
    );
}

#[tokio::test]
async fn identity_names_every_part() {
    let mut s = selection(Range {
        start: parse_rfc3339("2025-11-30T10:30:00+01:00"),
        end: None,
    });
    s.shard = Shard::parse("1/4").unwrap();
    assert_eq!(
        s.identity(),
        "from=gs://test-bucket start=2025-11-30T09:30:00Z end=- shard=1/4"
    );
    let cfg: Config =
        toml::from_str("from = \"gs://bkt/p\"\nstart = \"yesterday\"\nshard = \"4/4\"").unwrap();
    let fields: Vec<String> = cfg.validate().into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["start", "shard"]);
    let cfg: Config =
        toml::from_str("start = \"2025-01-02T00:00:00Z\"\nend = \"2025-01-01T00:00:00Z\"").unwrap();
    assert_eq!(cfg.validate()[0].field, "end");
    assert!(toml::from_str::<Config>("bogus = 1").is_err());
}
