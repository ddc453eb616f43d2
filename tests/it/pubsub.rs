//! The `pubsub` source against Google's Pub/Sub emulator
//! (`PUBSUB_EMULATOR_HOST`, started by `scripts/test-services.sh`).
//! Topics and subscriptions are created per test through the emulator's
//! REST API, with unique names.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::bigquery::BigQueryDestination;
use crate::brokers::{dead_letters, fixtures, pipeline, unique, wait_for, FileDestination, Sluice};
use crate::support::require_service;

const PROJECT: &str = "test-project";

/// A minimal HTTP/1.0 client for the emulator's REST API (one request per
/// connection; HTTP/1.0 keeps the response unchunked).
fn rest(host: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let mut s = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body).unwrap();
    let (head, body) = read_response(&mut s);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response head: {head}"));
    let v = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body.clone()))
    };
    (status, v)
}

/// Reads one HTTP response: the emulator keeps connections open even when
/// asked to close, so the body ends at its `content-length`.
fn read_response(s: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).expect("response from the emulator");
        assert!(n > 0, "the emulator closed the connection mid-response");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).expect("response body from the emulator");
        assert!(n > 0, "the emulator closed the connection mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    (head, body)
}

/// A topic and a subscription on it (ack deadline 10 s).
fn create_subscription(host: &str, tag: &str) -> (String, String) {
    let topic = unique(&format!("{tag}-topic"));
    let sub = unique(&format!("{tag}-sub"));
    let (c, v) = rest(
        host,
        "PUT",
        &format!("/v1/projects/{PROJECT}/topics/{topic}"),
        &json!({}),
    );
    assert_eq!(c, 200, "create topic: {v}");
    let (c, v) = rest(
        host,
        "PUT",
        &format!("/v1/projects/{PROJECT}/subscriptions/{sub}"),
        &json!({"topic": format!("projects/{PROJECT}/topics/{topic}"), "ackDeadlineSeconds": 10}),
    );
    assert_eq!(c, 200, "create subscription: {v}");
    (topic, sub)
}

/// Publishes payloads (with attributes) and returns their message ids.
fn publish(host: &str, topic: &str, payloads: &[&[u8]]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ids = Vec::with_capacity(payloads.len());
    for chunk in payloads.chunks(1000) {
        let messages: Vec<Value> = chunk
            .iter()
            .map(|p| json!({"data": b64.encode(p), "attributes": {"origin": "fixture"}}))
            .collect();
        let (c, v) = rest(
            host,
            "POST",
            &format!("/v1/projects/{PROJECT}/topics/{topic}:publish"),
            &json!({"messages": messages}),
        );
        assert_eq!(c, 200, "publish: {v}");
        for id in v["messageIds"].as_array().expect("messageIds") {
            ids.push(id.as_str().unwrap().to_string());
        }
    }
    assert_eq!(ids.len(), payloads.len());
    ids
}

/// Messages a synchronous pull returns right now (acked by nobody).
fn pull_now(host: &str, sub: &str) -> usize {
    let (c, v) = rest(
        host,
        "POST",
        &format!("/v1/projects/{PROJECT}/subscriptions/{sub}:pull"),
        &json!({"maxMessages": 1000, "returnImmediately": true}),
    );
    assert_eq!(c, 200, "pull: {v}");
    v["receivedMessages"].as_array().map_or(0, Vec::len)
}

/// After the subscription's ack deadline, nothing must be left: every
/// message was acked (none is merely waiting to be redelivered).
fn assert_subscription_drained(host: &str, sub: &str) {
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(pull_now(host, sub), 0, "messages left unacked on {sub}");
}

fn source_toml(host: &str, sub: &str) -> String {
    format!(
        "[sources.in]\ntype = \"pubsub\"\nproject = \"{PROJECT}\"\nsubscription = \"{sub}\"\n\
         endpoint = \"{host}\"\nack_deadline_secs = 10\nmax_outstanding_messages = 5000\n"
    )
}

/// The insertId each fixture must land with: LogEntries keep theirs,
/// application lines hash the subscription's full name and message id.
fn expected_ids(sub: &str, fx: &[crate::brokers::Fixture], msg_ids: &[String]) -> BTreeSet<String> {
    fx.iter()
        .zip(msg_ids)
        .map(|(f, id)| {
            f.insert_id.clone().unwrap_or_else(|| {
                let identity = format!("projects/{PROJECT}/subscriptions/{sub}/{id}");
                sluice::event::insert_id::compute(identity.as_bytes(), None, &f.payload)
            })
        })
        .collect()
}

#[test]
fn pubsub_kill9_and_restart_lands_every_event_once_by_insert_id() {
    let host = require_service("PUBSUB_EMULATOR_HOST");
    let dir = tempfile::tempdir().unwrap();
    let (topic, sub) = create_subscription(&host, "kill9");
    let fx = fixtures("ps-kill9", 50_000);
    let payloads: Vec<&[u8]> = fx.iter().map(|f| f.payload.as_slice()).collect();
    let msg_ids = publish(&host, &topic, &payloads);
    let expected = expected_ids(&sub, &fx, &msg_ids);
    assert_eq!(expected.len(), 50_000);

    let dest = BigQueryDestination::new("pubsub_kill9");
    let p = pipeline(dir.path(), &source_toml(&host, &sub), &dest);
    let (at_kill, landed) = crate::brokers::kill9_and_restart(&p, dir.path(), &dest, &expected);
    println!(
        "pubsub kill -9 into BigQuery: {} distinct at kill, {} rows, {} distinct, {} duplicates",
        at_kill, landed.rows, landed.distinct, landed.duplicates
    );
    // Attributes became labels; LogEntries kept their own resource.
    let rows = dest.select("insertId, labels.origin, resource.type");
    assert!(rows.iter().all(|r| r[1] == "fixture"));
    assert!(rows
        .iter()
        .filter(|r| r[0].as_str().unwrap().contains("-entry-"))
        .all(|r| r[2] == "k8s_container"));
    assert!(dead_letters(dir.path()).is_empty());
    assert_subscription_drained(&host, &sub);
}

/// The sink cannot write for 30 s (its folder's place is taken by a
/// regular file, which stops root too): messages are nacked and delivered
/// again, none is lost or dead-lettered, and they land once it recovers.
#[test]
fn pubsub_sink_outage_redelivers_without_loss() {
    let host = require_service("PUBSUB_EMULATOR_HOST");
    let dir = tempfile::tempdir().unwrap();
    let (topic, sub) = create_subscription(&host, "outage");
    let fx = fixtures("ps-outage", 2_000);
    let payloads: Vec<&[u8]> = fx.iter().map(|f| f.payload.as_slice()).collect();
    let dest = FileDestination {
        dir: dir.path().join("out"),
    };
    std::fs::write(&dest.dir, b"not a directory").unwrap();
    let p = pipeline(dir.path(), &source_toml(&host, &sub), &dest);
    let s = Sluice::start(&p, dir.path().join("sluice.log"));
    let msg_ids = publish(&host, &topic, &payloads);
    let expected = expected_ids(&sub, &fx, &msg_ids);

    let landed = crate::brokers::outage_then_recovery(s, dir.path(), &dest, &expected);
    println!(
        "pubsub outage: {} rows, {} duplicates",
        landed.rows, landed.duplicates
    );
    assert_subscription_drained(&host, &sub);
}

#[test]
fn pubsub_poison_message_is_dead_lettered_and_acked() {
    let host = require_service("PUBSUB_EMULATOR_HOST");
    let dir = tempfile::tempdir().unwrap();
    let (topic, sub) = create_subscription(&host, "poison");
    let good = br#"{"severity":"INFO","message":"fine"}"#;
    let payloads: Vec<&[u8]> = vec![b"plain text, not JSON", br#"{"severity":"INFO","#, good];
    publish(&host, &topic, &payloads);
    let dest = FileDestination {
        dir: dir.path().join("out"),
    };
    let p = pipeline(dir.path(), &source_toml(&host, &sub), &dest);
    let mut s = Sluice::start(&p, dir.path().join("sluice.log"));
    wait_for(
        "the good event and two dead letters",
        Duration::from_secs(60),
        &mut s,
        || dest.rows().len() == 1 && dead_letters(dir.path()).len() == 2,
    );
    s.stop();
    let dl = dead_letters(dir.path());
    let mut reasons: Vec<&str> = dl.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    reasons.sort();
    assert!(reasons[0].starts_with("malformed JSON"), "{reasons:?}");
    assert_eq!(reasons[1], "message is not a JSON object");
    assert!(dl.iter().all(|d| d["component"] == "in"));
    assert_eq!(dest.rows()[0]["jsonPayload"]["message"], "fine");
    assert_subscription_drained(&host, &sub);
}

/// Issue 13 item 8: at SIGTERM the source closes its outputs before it
/// waits for acknowledgements, so a sink that finishes on end of input
/// (the GCS sink's open object) delivers, the messages are acked, and
/// nothing is nacked and then uploaded anyway (a duplicate after restart).
#[test]
fn issue13_8_sigterm_closes_outputs_before_waiting_for_acks_so_nothing_is_redelivered() {
    let host = require_service("PUBSUB_EMULATOR_HOST");
    let server = crate::gcs_xml_server::XmlServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (topic, sub) = create_subscription(&host, "i13-8");
    let bodies: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("{{\"severity\":\"INFO\",\"message\":\"m{i}\"}}").into_bytes())
        .collect();
    let payloads: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    publish(&host, &topic, &payloads);
    let text = format!(
        "[global]\ndata_dir = \"{data}\"\nshutdown_grace_secs = 30\nmetrics_address = \"127.0.0.1:0\"\n\n{source}\n\
         [sinks.archive]\ntype = \"gcs\"\ninputs = [\"in\"]\nbucket = \"i13-8\"\nendpoint = \"{endpoint}\"\nallow_unredacted = true\n\n\
         [dead_letter]\nallow_unredacted = true\n",
        data = dir.path().join("data").display(),
        source = source_toml(&host, &sub),
        endpoint = server.url(),
    );
    let p = crate::support::write_pipeline(dir.path(), "p.toml", &text);
    let mut s = crate::durability::Sluice::start(&p, &[]);
    let addr = s.metrics_addr();
    s.wait_for("all 200 messages pulled", Duration::from_secs(60), || {
        crate::log_metrics::get(&addr, "/metrics").is_ok_and(|(_, m)| {
            m.lines().any(|l| {
                l.starts_with("component_received_events_total{component_id=\"in\"")
                    && l.ends_with(" 200")
            })
        })
    });
    assert!(server.keys("i13-8").is_empty(), "the object is still open");
    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(40)),
        Some(0),
        "{}",
        s.log_text()
    );
    let mut archived = 0;
    for k in server.keys("i13-8") {
        let o = server.object("i13-8", &k).unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&o.body[..])
            .read_to_string(&mut text)
            .unwrap();
        archived += text.lines().count();
    }
    assert_eq!(archived, 200, "every message archived once");
    assert!(
        !s.log_text().contains("nacking them"),
        "messages were nacked at shutdown: {}",
        s.log_text()
    );
    drop(s);
    // Acked, not nacked: a second run receives nothing again (redelivery
    // would come within the 10 s ack deadline).
    let mut again = crate::durability::Sluice::start(&p, &[]);
    let addr = again.metrics_addr();
    let until = std::time::Instant::now() + Duration::from_secs(15);
    let mut redelivered = 0.0;
    while std::time::Instant::now() < until {
        if let Ok((_, m)) = crate::log_metrics::get(&addr, "/metrics") {
            redelivered = m
                .lines()
                .find_map(|l| {
                    l.strip_prefix("component_received_events_total{component_id=\"in\"")
                        .and_then(|r| r.rsplit(' ').next())
                        .and_then(|v| v.parse::<f64>().ok())
                })
                .unwrap_or(0.0);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    again.signal("TERM");
    assert_eq!(again.wait_exit(Duration::from_secs(40)), Some(0));
    eprintln!("pubsub SIGTERM: published 200, archived {archived}, redelivered after restart {redelivered}");
    assert_eq!(
        redelivered, 0.0,
        "messages redelivered after the restart: duplicates"
    );
}
