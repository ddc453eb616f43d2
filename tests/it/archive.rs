//! Issue 6: the `gcs` archive sink and `sluice backfill`, end to end.
//!
//! - The write path goes through object_store's GCS client to the XML API
//!   test server in `gcs_xml_server.rs` (fake-gcs-server has no XML
//!   uploads).
//! - The read path (list, get) runs against fake-gcs-server
//!   (`SLUICE_TEST_GCS`), seeded through its JSON API, and against the XML
//!   test server and local folders.
//! - The round trip compares what the live pipeline (a dry run) routed to
//!   its table with what a backfill of the archive writes to the BigQuery
//!   emulator, read back with SQL: row count and insertIds.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::bigquery::BigQueryDestination;
use super::brokers::Destination;
use super::gcs_xml_server::{http, XmlServer};
use super::support::{fixtures, read_ndjson, repo, require_service, sluice_bin, write_pipeline};

const NODE: &str = "gke-test-node-1";
/// gke-node.toml's routing query (backfill.toml's default).
const ROUTE: &str = r#"resource.type="k8s_container" AND resource.labels.namespace_name="coditect" AND resource.labels.container_name="django" AND severity>="INFO""#;

fn sluice_cmd(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(sluice_bin());
    c.args(args)
        .env("SLUICE_NODE_NAME", NODE)
        .env("SLUICE_PROJECT_ID", "coditect-test")
        // Never let a stray real credential or endpoint leak in.
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("SLUICE_GCS_ENDPOINT");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run_ok(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let out = sluice_cmd(args, env).output().expect("sluice runs");
    assert!(
        out.status.success(),
        "sluice {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The JSON report `sluice backfill` prints on stdout.
fn report(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON report on stdout; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}

/// Where the live dry run's routed rows land: a `file` sink, the rows a
/// live BigQuery sink would have written.
struct Table {
    path: PathBuf,
}

impl Table {
    /// The pipeline block for this table, reading from `input`.
    fn sink_block(&self, input: &str) -> String {
        format!(
            "[sinks.table]\ntype = \"file\"\ninputs = [\"{input}\"]\npath = \"{}\"\nallow_unredacted = true\n",
            self.path.display()
        )
    }

    /// Rows, by insertId (BigQuery's de-duplication key). Panics if two
    /// rows share an insertId but differ.
    fn rows(&self) -> BTreeMap<String, Value> {
        by_insert_id(&read_ndjson_or_empty(&self.path))
    }
}

fn read_ndjson_or_empty(p: &Path) -> Vec<Value> {
    if p.exists() {
        read_ndjson(p)
    } else {
        Vec::new()
    }
}

fn by_insert_id(rows: &[Value]) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for r in rows {
        let id = r["insertId"]
            .as_str()
            .expect("every row has an insertId")
            .to_string();
        if let Some(prev) = m.insert(id.clone(), r.clone()) {
            assert_eq!(prev, *r, "two different rows share insertId {id}");
        }
    }
    m
}

/// Decompresses an archive object (gzip, zstd or plain) into entries.
fn decode_object(body: &[u8]) -> Vec<Value> {
    let mut text = Vec::new();
    if body.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(body)
            .read_to_end(&mut text)
            .unwrap();
    } else if body.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        text = zstd::decode_all(body).unwrap();
    } else {
        text = body.to_vec();
    }
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Every file under `dir`, as (key relative to `dir`, bytes).
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let key = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((key, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn key_matches(key: &str, hive: bool, ext: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let name_ok = |n: &str| {
        n.strip_prefix(&format!("{NODE}-"))
            .and_then(|r| r.strip_suffix(ext))
            .is_some_and(|u| u.len() == 36 && u.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
    };
    if hive {
        parts.len() == 4
            && parts[0] == "logs"
            && parts[1].strip_prefix("dt=").is_some_and(|d| d.len() == 10)
            && parts[2].strip_prefix("hour=").is_some_and(|h| digits(h, 2))
            && name_ok(parts[3])
    } else {
        parts.len() == 6
            && parts[0] == "logs"
            && digits(parts[1], 4)
            && digits(parts[2], 2)
            && digits(parts[3], 2)
            && digits(parts[4], 2)
            && name_ok(parts[5])
    }
}

/// The live side: fixtures through a gke-node-like pipeline in a dry run:
/// every event to the archive (DIR/gcs/coditect-archive/) and to `all`,
/// routed events to the table.
struct Live {
    out: PathBuf,
    table: Table,
    all: Vec<Value>,
}

impl Live {
    fn archive_dir(&self) -> PathBuf {
        self.out.join("gcs").join("coditect-archive")
    }
}

fn live_run(dir: &Path) -> Live {
    let table = Table {
        path: dir.join("live-table.ndjson"),
    };
    let all_path = dir.join("live-all.ndjson");
    let text = format!(
        r#"[global]
data_dir = "{data}"

[sources.containers]
type = "stdin"

# As in gke-node.toml: everything is redacted before it is archived.
[transforms.redact]
type = "redact"
inputs = ["containers"]

[transforms.route]
type = "filter"
inputs = ["redact"]
query = '{ROUTE}'

[sinks.archive]
type = "gcs"
inputs = ["redact"]
bucket = "coditect-archive"

[sinks.all]
type = "file"
inputs = ["redact"]
path = "{all}"

{table}
[dead_letter]
redact_with = "redact"
"#,
        data = dir.join("live-data").display(),
        all = all_path.display(),
        table = table.sink_block("route"),
    );
    let p = write_pipeline(dir, "live.toml", &text);
    let out = dir.join("live-out");
    let containers = fixtures().join("containers");
    run_ok(
        &[
            "dry-run",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--input",
            containers.to_str().unwrap(),
        ],
        &[],
    );
    let all = read_ndjson(&all_path);
    assert!(all.len() > 5, "the fixtures hold events");
    assert!(
        !table.rows().is_empty(),
        "the route keeps some fixture events"
    );
    assert!(
        table.rows().len() < all.len(),
        "the route drops some fixture events"
    );
    Live { out, table, all }
}

/// pipelines/backfill.toml with its BigQuery sink pointed at the emulator
/// (`table`'s dataset, table `events`) and named `out`: the same archive
/// source, redaction and route, and no request leaves loopback.
fn backfill_pipeline(dir: &Path, table: &BigQueryDestination) -> PathBuf {
    let shipped = std::fs::read_to_string(repo().join("pipelines/backfill.toml")).unwrap();
    let start = shipped
        .find("[sinks.bigquery]")
        .expect("backfill.toml has a BigQuery sink");
    let end = shipped
        .find("[dead_letter]")
        .expect("backfill.toml has a dead_letter section");
    let text = format!(
        "{}{}\n{}",
        &shipped[..start],
        table.sink_reading("route"),
        &shipped[end..]
    );
    let p = dir.join("backfill-test.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// A backfill's BigQuery table holds the live pipeline's routed rows: as
/// many, with the same insertIds, each once.
fn assert_holds_the_live_rows(table: &BigQueryDestination, live: &Table, what: &str) {
    let mut got = table.insert_ids();
    got.sort();
    let want: Vec<String> = live.rows().into_keys().collect();
    assert_eq!(got.len(), want.len(), "{what}: row count");
    assert_eq!(got, want, "{what}: insertIds");
}

fn backfill_env(data: &str) -> Vec<(&str, &str)> {
    vec![("SLUICE_DATA_DIR", data)]
}

#[test]
fn archive_round_trip_through_backfill_and_rerun_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let live = live_run(dir.path());

    // The archive holds every event, in hourly objects named by node.
    let objects = files_under(&live.archive_dir());
    assert!(!objects.is_empty());
    let mut archived = Vec::new();
    for (key, body) in &objects {
        assert!(
            key_matches(key, false, ".ndjson.gz"),
            "unexpected key {key}"
        );
        assert_eq!(&body[..2], &[0x1f, 0x8b], "{key} is gzip");
        let entries = decode_object(body);
        // One object, one hour: the key's hour is every entry's hour.
        let hour = key.split('/').take(5).collect::<Vec<_>>().join("/");
        for e in &entries {
            let ts = e["timestamp"].as_str().unwrap();
            assert_eq!(
                format!(
                    "logs/{}/{}/{}/{}",
                    &ts[..4],
                    &ts[5..7],
                    &ts[8..10],
                    &ts[11..13]
                ),
                hour
            );
        }
        archived.extend(entries);
    }
    assert_eq!(
        by_insert_id(&archived),
        by_insert_id(&live.all),
        "archive == every event"
    );

    // Backfill the archive through pipelines/backfill.toml into the
    // BigQuery emulator.
    let table = BigQueryDestination::new("backfill");
    let data = dir.path().join("bf-data");
    let data_s = data.to_str().unwrap().to_string();
    let pipeline = backfill_pipeline(dir.path(), &table);
    let from = live.archive_dir();
    let args = [
        "backfill",
        pipeline.to_str().unwrap(),
        "--from",
        from.to_str().unwrap(),
    ];
    let out = run_ok(&args, &backfill_env(&data_s));
    let r = report(&out);
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["objects"]["selected"], objects.len());
    assert_eq!(r["objects"]["done"], objects.len());
    assert_eq!(r["events"], live.all.len());
    assert_eq!(r["rows_written"]["out"], live.table.rows().len());
    assert_holds_the_live_rows(&table, &live.table, "the backfilled table");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rows written"),
        "human report on stderr:\n{stderr}"
    );

    // A second backfill of the same slice reads nothing: the state file
    // marks every object finished.
    let before = table.count();
    let r = report(&run_ok(&args, &backfill_env(&data_s)));
    assert_eq!(r["objects"]["done_before"], objects.len());
    assert_eq!(r["objects"]["selected"], 0);
    assert_eq!(r["events"], 0);
    assert_eq!(table.count(), before);
    assert!(Path::new(r["state_file"].as_str().unwrap()).starts_with(&data));

    // A dry run writes under --out and keeps its state there, so it never
    // marks real work done.
    let dry = dir.path().join("dry");
    let out = run_ok(
        &[
            "backfill",
            pipeline.to_str().unwrap(),
            "--from",
            from.to_str().unwrap(),
            "--dry-run",
            "--out",
            dry.to_str().unwrap(),
        ],
        &backfill_env(&data_s),
    );
    let r = report(&out);
    assert_eq!(r["events"], live.all.len());
    assert!(Path::new(r["state_file"].as_str().unwrap()).starts_with(&dry));
    assert!(dry.join("summary.json").exists());
}

#[test]
fn gcs_sink_writes_through_the_xml_api_and_backfill_reads_it_back() {
    let server = XmlServer::start();
    let dir = tempfile::tempdir().unwrap();
    for (bucket, extra, hive, ext, encoding) in [
        ("xml-archive", "", false, ".ndjson.gz", "gzip"),
        (
            "xml-archive-zstd",
            "layout = \"hive\"\ncompression = \"zstd\"\n",
            true,
            ".ndjson.zst",
            "zstd",
        ),
    ] {
        let all_path = dir.path().join(format!("{bucket}-all.ndjson"));
        let text = format!(
            r#"[global]
data_dir = "{data}"

[sources.input]
type = "stdin"

[sinks.archive]
type = "gcs"
inputs = ["input"]
bucket = "{bucket}"
endpoint = "{endpoint}"
{extra}allow_unredacted = true

[sinks.all]
type = "file"
inputs = ["input"]
path = "{all}"
allow_unredacted = true

[dead_letter]
allow_unredacted = true
"#,
            data = dir.path().join("data").display(),
            endpoint = server.url(),
            all = all_path.display(),
        );
        let p = write_pipeline(dir.path(), &format!("{bucket}.toml"), &text);
        let input = std::fs::read(fixtures().join("ndjson/license-api.ndjson")).unwrap();
        let mut child = sluice_cmd(&["run", p.to_str().unwrap()], &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let all = read_ndjson(&all_path);
        let keys = server.keys(bucket);
        assert!(!keys.is_empty());
        let mut archived = Vec::new();
        for k in &keys {
            assert!(key_matches(k, hive, ext), "unexpected key {k}");
            let o = server.object(bucket, k).unwrap();
            assert_eq!(
                o.meta.get("content-type").map(String::as_str),
                Some("application/x-ndjson")
            );
            assert_eq!(
                o.meta.get("content-encoding").map(String::as_str),
                Some(encoding)
            );
            assert_eq!(
                o.meta.get("cache-control").map(String::as_str),
                Some("no-transform")
            );
            archived.extend(decode_object(&o.body));
        }
        assert_eq!(by_insert_id(&archived), by_insert_id(&all));
        // Every upload was create-only, and nothing asked for a token.
        let puts: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.bucket == bucket)
            .collect();
        assert_eq!(puts.len(), keys.len());
        for r in &puts {
            assert_eq!(
                r.headers
                    .get("x-goog-if-generation-match")
                    .map(String::as_str),
                Some("0")
            );
            assert!(r
                .headers
                .get("authorization")
                .is_none_or(|a| a.len() <= "Bearer ".len()));
        }

        // The read side over the same XML API: list + get.
        // (No routing here: stdin entries are not k8s_container entries.)
        let table = dir.path().join(format!("{bucket}-bf.ndjson"));
        let data = dir.path().join(format!("{bucket}-bf-data"));
        let from = format!("gs://{bucket}/logs");
        let pipeline = plain_backfill_pipeline(
            dir.path(),
            &format!("{bucket}-bf.toml"),
            &table,
            &data,
            Some(&server.url()),
        );
        let r = report(&run_ok(
            &["backfill", pipeline.to_str().unwrap(), "--from", &from],
            &[],
        ));
        assert_eq!(r["objects"]["done"], keys.len());
        assert_eq!(by_insert_id(&read_ndjson(&table)), by_insert_id(&all));
    }
}

#[tokio::test]
async fn upload_multipart_create_only_and_retries_against_xml_server() {
    use bytes::Bytes;
    use sluice::gcs::store::{self, Connection, Opened};
    use sluice::sinks::gcs::upload::{upload, Object, UploadPlan};
    use std::sync::Arc;

    let server = XmlServer::start();
    let conn = Connection {
        endpoint: Some(server.url()),
        key_file: None,
    };
    let target = Opened {
        store: Arc::new(store::gcs("mp-bucket", &conn, None).unwrap()),
        attributes: true,
    };
    let plan = UploadPlan {
        multipart_threshold: 4096,
        part_size: 1500,
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    };
    let body: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    let obj = Object {
        key: "logs/2025/11/30/12/n-big.ndjson.gz".into(),
        body: Bytes::from(body.clone()),
        content_encoding: Some("gzip"),
    };
    upload(&target, &obj, &plan).await.unwrap();
    let stored = server.object("mp-bucket", &obj.key).unwrap();
    assert_eq!(stored.body, body);
    assert_eq!(
        stored.meta.get("content-encoding").map(String::as_str),
        Some("gzip")
    );
    let reqs = server.requests();
    let count = |pred: &dyn Fn(&super::gcs_xml_server::LoggedRequest) -> bool| {
        reqs.iter().filter(|r| pred(r)).count()
    };
    assert_eq!(
        count(&|r| r.method == "HEAD"),
        1,
        "create-only guard before a multipart upload"
    );
    assert_eq!(
        count(&|r| r.method == "POST" && r.query.contains_key("uploads")),
        1
    );
    assert_eq!(
        count(&|r| r.method == "PUT" && r.query.contains_key("partNumber")),
        4,
        "5000 bytes in 1500-byte parts"
    );
    assert_eq!(
        count(&|r| r.method == "POST" && r.query.contains_key("uploadId")),
        1
    );
    assert_eq!(server.open_uploads(), 0);

    // Never overwrite: the same key again is refused, the object unchanged.
    let small = Object {
        key: obj.key.clone(),
        body: Bytes::from_static(b"other"),
        content_encoding: None,
    };
    let e = upload(&target, &small, &plan).await.unwrap_err();
    assert_eq!(e.kind, "key already exists");
    let e = upload(
        &target,
        &Object {
            body: Bytes::from(vec![1; 5000]),
            ..small.clone()
        },
        &plan,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, "key already exists");
    assert_eq!(server.object("mp-bucket", &obj.key).unwrap().body, body);

    // 503s are retried with backoff until the object lands.
    server.fail_next_puts(2);
    let fresh = Object {
        key: "logs/2025/11/30/12/n-retry.ndjson".into(),
        ..small
    };
    upload(&target, &fresh, &plan).await.unwrap();
    assert_eq!(
        server.object("mp-bucket", &fresh.key).unwrap().body,
        b"other"
    );
}

/// Seeds a fake-gcs-server bucket through its JSON API.
fn seed_fake_gcs(base: &str, bucket: &str, objects: &[(String, Vec<u8>)]) {
    let (code, body) = http(
        "POST",
        &format!("{base}/storage/v1/b?project=test-project"),
        &[("Content-Type", "application/json")],
        json!({"name": bucket}).to_string().as_bytes(),
    );
    assert_eq!(
        code,
        200,
        "create bucket: {}",
        String::from_utf8_lossy(&body)
    );
    for (key, data) in objects {
        let enc: String = key
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        // Stored like the sink stores them: gzip content encoding.
        let ce = if data.starts_with(&[0x1f, 0x8b]) {
            "&contentEncoding=gzip"
        } else {
            ""
        };
        let (code, body) = http(
            "POST",
            &format!("{base}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={enc}{ce}"),
            &[("Content-Type", "application/x-ndjson")],
            data,
        );
        assert_eq!(
            code,
            200,
            "upload {key}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), n % 1_000_000_000)
}

#[test]
fn backfill_reads_fake_gcs_server_and_never_downloads_outside_the_range() {
    let base = require_service("SLUICE_TEST_GCS");
    let dir = tempfile::tempdir().unwrap();
    let live = live_run(dir.path());
    let mut objects = files_under(&live.archive_dir());
    let bucket = unique("sluice-bf");
    let mut prefixed: Vec<(String, Vec<u8>)> = objects
        .iter()
        .map(|(k, b)| (k.clone(), b.clone()))
        .collect();
    // Outside any range below and not valid gzip: reading it fails a run.
    prefixed.push((
        "logs/2001/01/01/00/poison.ndjson.gz".into(),
        vec![0x1f, 0x8b, 0xff, 0xff],
    ));
    seed_fake_gcs(&base, &bucket, &prefixed);

    let table = BigQueryDestination::new("backfill_gcs");
    let pipeline = backfill_pipeline(dir.path(), &table);
    let from = format!("gs://{bucket}/logs");
    let data = dir.path().join("gcs-data");
    let mut env = backfill_env(data.to_str().unwrap());
    env.push(("SLUICE_GCS_ENDPOINT", &base));

    // Every hour the fixtures cover, but not 2001.
    objects.sort();
    let first_hour = &objects[0].0;
    let start = format!(
        "{}-{}-{}T00:00:00Z",
        &first_hour[5..9],
        &first_hour[10..12],
        &first_hour[13..15]
    );
    let r = report(&run_ok(
        &[
            "backfill",
            pipeline.to_str().unwrap(),
            "--from",
            &from,
            "--start",
            &start,
        ],
        &env,
    ));
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["objects"]["done"], objects.len());
    // The gzip bytes as stored came over the wire: the server would have
    // decompressed them ("decompressive transcoding") for a client that
    // does not send `Accept-Encoding: gzip`.
    let stored: usize = objects.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(r["bytes"]["stored"], stored);
    assert_holds_the_live_rows(&table, &live.table, "rows from fake-gcs-server");

    // Without a range the poison object is read and the run says so.
    let mut env = backfill_env(data.to_str().unwrap());
    env.push(("SLUICE_GCS_ENDPOINT", &base));
    let out = sluice_cmd(
        &["backfill", pipeline.to_str().unwrap(), "--from", &from],
        &env,
    )
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(r["objects"]["failed"], 1);
}

/// Writes `n_objects` gzip objects of `per_object` LogEntries under `dir`,
/// spread over hours; returns every insertId by object key.
fn synth_archive(dir: &Path, n_objects: usize, per_object: usize) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for o in 0..n_objects {
        let hour = o % 24;
        let day = 1 + (o / 24) % 28;
        let key = format!("logs/2025/11/{day:02}/{hour:02}/synth-{o:05}.ndjson.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut ids = Vec::new();
        for i in 0..per_object {
            let id = format!("synth-{o}-{i}");
            let e = json!({"insertId": id, "timestamp": format!("2025-11-{day:02}T{hour:02}:{:02}:00Z", i % 60),
                "severity": "INFO", "logName": "projects/p/logs/stdout",
                "resource": {"type": "k8s_container", "labels": {"namespace_name": "coditect", "container_name": "django"}},
                "jsonPayload": {"message": "synthetic", "i": i, "pad": "x".repeat(200)}});
            enc.write_all(serde_json::to_string(&e).unwrap().as_bytes())
                .unwrap();
            enc.write_all(b"\n").unwrap();
            ids.push(id);
        }
        let p = dir.join(&key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        out.insert(key, ids);
    }
    out
}

/// Keys recorded in a state file.
fn state_keys(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| serde_json::from_str::<String>(l).ok())
        .collect()
}

fn only_state_file(data: &Path) -> Option<PathBuf> {
    let d = data.join("backfill");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() <= 1, "one backfill, one state file: {files:?}");
    files.pop()
}

/// A minimal backfill pipeline: archive -> table, no routing.
fn plain_backfill_pipeline(
    dir: &Path,
    name: &str,
    table: &Path,
    data: &Path,
    endpoint: Option<&str>,
) -> PathBuf {
    write_pipeline(
        dir,
        name,
        &format!(
            "[global]\ndata_dir = \"{}\"\nbatch_max_events = 200\nchannel_capacity = 2\n\n[sources.archive]\ntype = \"archive\"\nprefetch = 2\nendpoint = \"{}\"\n\n[sinks.table]\ntype = \"file\"\ninputs = [\"archive\"]\npath = \"{}\"\nallow_unredacted = true\n\n[dead_letter]\nallow_unredacted = true\n",
            data.display(),
            endpoint.unwrap_or_default(),
            table.display()
        ),
    )
}

#[test]
fn backfill_killed_with_sigkill_resumes_without_loss_or_rereading() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    let expected = synth_archive(&arch, 240, 300);
    let all_ids: BTreeSet<String> = expected.values().flatten().cloned().collect();
    let table = dir.path().join("table.ndjson");
    let data = dir.path().join("data");
    let p = plain_backfill_pipeline(dir.path(), "bf.toml", &table, &data, None);
    let args = [
        "backfill",
        p.to_str().unwrap(),
        "--from",
        arch.to_str().unwrap(),
    ];

    let mut child = sluice_cmd(&args, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let recorded_at_kill = loop {
        let n = only_state_file(&data)
            .map(|f| state_keys(&f))
            .unwrap_or_default();
        if n.len() >= 5 {
            child.kill().unwrap(); // SIGKILL: no chance to flush or clean up
            child.wait().unwrap();
            break n;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the backfill finished ({status}) before it could be interrupted; make the archive bigger");
        }
        assert!(Instant::now() < deadline, "no progress recorded in time");
        std::thread::sleep(Duration::from_millis(2));
    };
    let recorded_at_kill: BTreeSet<String> = recorded_at_kill.into_iter().collect();
    assert!(recorded_at_kill.len() < expected.len(), "killed part way");

    // Rerun: it skips what was recorded and finishes the rest.
    let out = run_ok(&args, &[]);
    let r = report(&out);
    let state = only_state_file(&data).unwrap();
    let done_after: BTreeSet<String> = state_keys(&state).into_iter().collect();
    assert!(r["objects"]["done_before"].as_u64().unwrap() >= recorded_at_kill.len() as u64);
    assert_eq!(
        r["objects"]["done_before"].as_u64().unwrap() + r["objects"]["done"].as_u64().unwrap(),
        expected.len() as u64
    );
    assert_eq!(
        done_after,
        expected.keys().cloned().collect::<BTreeSet<_>>()
    );

    // Nothing lost: every insertId is in the table.
    let rows = read_ndjson(&table);
    let by_id = by_insert_id(&rows);
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), all_ids);
    // Nothing doubled by the resume: objects finished before the kill were
    // not read again, so their events appear exactly once. (Events of the
    // objects in flight at the kill can be written twice by a file sink;
    // they carry the same insertId, which BigQuery de-duplicates.)
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &rows {
        *seen.entry(row["insertId"].as_str().unwrap()).or_default() += 1;
    }
    for key in &recorded_at_kill {
        for id in &expected[key] {
            assert_eq!(
                seen[id.as_str()],
                1,
                "{id} of {key} (finished before the kill) written twice"
            );
        }
    }
}

#[test]
fn shards_cover_every_object_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    let expected = synth_archive(&arch, 45, 3);
    let mut union: Vec<String> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for i in 0..3 {
        let table = dir.path().join(format!("t{i}.ndjson"));
        let data = dir.path().join(format!("d{i}"));
        let p = plain_backfill_pipeline(dir.path(), &format!("s{i}.toml"), &table, &data, None);
        let shard = format!("{i}/3");
        let from = format!("file://{}", arch.display());
        let r = report(&run_ok(
            &[
                "backfill",
                p.to_str().unwrap(),
                "--from",
                &from,
                "--shard",
                &shard,
            ],
            &[],
        ));
        let keys = state_keys(&only_state_file(&data).unwrap());
        assert_eq!(r["objects"]["done"], keys.len());
        assert!(
            !keys.is_empty() && keys.len() < expected.len(),
            "shard {shard} got {} objects",
            keys.len()
        );
        union.extend(keys);
        ids.extend(
            read_ndjson(&table)
                .iter()
                .map(|e| e["insertId"].as_str().unwrap().to_string()),
        );
    }
    let n = union.len();
    let set: BTreeSet<String> = union.into_iter().collect();
    assert_eq!(n, set.len(), "no object read by two shards");
    assert_eq!(
        set,
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        "every object read by one shard"
    );
    let n = ids.len();
    let id_set: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(n, id_set.len());
    assert_eq!(
        id_set,
        expected
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
    );
}
