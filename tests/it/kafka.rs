//! The `kafka` source against a real Kafka-protocol broker (tansu,
//! `SLUICE_TEST_KAFKA`, started by `scripts/test-services.sh`). Each test
//! creates its own topic (3 partitions) and consumer group.

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::bigquery::BigQueryDestination;
use crate::brokers::{
    dead_letters, fixtures, pipeline, unique, wait_for, FileDestination, Fixture, Sluice,
};
use crate::support::require_service;

const PARTITIONS: i32 = 3;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn create_topic(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let rt = runtime();
    let res = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create_topics request");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// Produces every payload (key `k{i}`, header `origin: fixture`) and
/// returns where each landed: (partition, offset).
fn produce(brokers: &str, topic: &str, payloads: &[&[u8]]) -> Vec<(i32, i64)> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut out = Vec::with_capacity(payloads.len());
        for chunk in payloads.chunks(2000).enumerate() {
            let (c, chunk) = chunk;
            let futs = chunk.iter().enumerate().map(|(j, p)| {
                let key = format!("k{}", c * 2000 + j);
                let producer = &producer;
                async move {
                    let rec = FutureRecord::to(topic).payload(*p).key(&key).headers(
                        OwnedHeaders::new().insert(Header {
                            key: "origin",
                            value: Some("fixture"),
                        }),
                    );
                    producer
                        .send(rec, Duration::from_secs(30))
                        .await
                        .unwrap_or_else(|(e, _)| panic!("produce: {e}"))
                }
            });
            for d in futures::future::join_all(futs).await {
                out.push((d.partition, d.offset));
            }
        }
        out
    })
}

fn expected_ids(topic: &str, fx: &[Fixture], at: &[(i32, i64)]) -> BTreeSet<String> {
    fx.iter()
        .zip(at)
        .map(|(f, (p, o))| {
            f.insert_id.clone().unwrap_or_else(|| {
                let identity = format!("kafka/{topic}/{p}/{o}");
                sluice::event::insert_id::compute(identity.as_bytes(), None, &f.payload)
            })
        })
        .collect()
}

fn source_toml(brokers: &str, topic: &str, group: &str) -> String {
    format!(
        "[sources.in]\ntype = \"kafka\"\nbootstrap_servers = \"{brokers}\"\ntopics = [\"{topic}\"]\n\
         group_id = \"{group}\"\ncommit_interval_ms = 200\nstatistics_interval_ms = 1000\n\
         librdkafka_options = {{ \"session.timeout.ms\" = \"6000\", \"heartbeat.interval.ms\" = \"1000\" }}\n"
    )
}

/// The group's committed offset is the end of every partition: nothing is
/// left to consume. The end is one past the last offset the producer was
/// given (only this test writes to its topic). tansu's ListOffsets (what
/// `fetch_watermarks` asks) has been seen to report a high watermark below
/// a partition's last offset + 1, so it is printed for reference only.
fn assert_group_drained(brokers: &str, topic: &str, group: &str, produced: &[(i32, i64)]) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    for p in 0..PARTITIONS {
        let end = produced
            .iter()
            .filter(|(pp, _)| *pp == p)
            .map(|(_, o)| o + 1)
            .max();
        let got = committed.find_partition(topic, p).unwrap().offset();
        let (_, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .unwrap();
        let ok = match end {
            Some(end) => got == Offset::Offset(end),
            // Nothing was written there: nothing to commit.
            None => matches!(got, Offset::Invalid | Offset::Offset(0)),
        };
        assert!(
            ok,
            "partition {p}: committed {got:?}, end {end:?} (broker high watermark {high})"
        );
    }
}

#[test]
fn kafka_kill9_and_restart_lands_every_event_once_by_insert_id() {
    let brokers = require_service("SLUICE_TEST_KAFKA");
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("kill9");
    let group = unique("kill9-group");
    create_topic(&brokers, &topic);
    let fx = fixtures("kafka-kill9", 50_000);
    let payloads: Vec<&[u8]> = fx.iter().map(|f| f.payload.as_slice()).collect();
    let at = produce(&brokers, &topic, &payloads);
    let expected = expected_ids(&topic, &fx, &at);
    assert_eq!(expected.len(), 50_000);

    let dest = BigQueryDestination::new("kafka_kill9");
    let p = pipeline(dir.path(), &source_toml(&brokers, &topic, &group), &dest);
    let (at_kill, landed) = crate::brokers::kill9_and_restart(&p, dir.path(), &dest, &expected);
    println!(
        "kafka kill -9 into BigQuery: {} distinct at kill, {} rows, {} distinct, {} duplicates",
        at_kill, landed.rows, landed.distinct, landed.duplicates
    );
    let rows = dest.select("labels.origin, labels.kafka_key");
    assert!(rows.iter().all(|r| r[0] == "fixture"));
    assert!(rows
        .iter()
        .all(|r| r[1].as_str().is_some_and(|k| k.starts_with('k'))));
    assert!(dead_letters(dir.path()).is_empty());
    assert_group_drained(&brokers, &topic, &group, &at);
}

/// 30 s during which the sink cannot write: the source retries the failed
/// batches and commits nothing past them; everything lands afterwards.
#[test]
fn kafka_sink_outage_waits_without_loss() {
    let brokers = require_service("SLUICE_TEST_KAFKA");
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("outage");
    let group = unique("outage-group");
    create_topic(&brokers, &topic);
    let fx = fixtures("kafka-outage", 2_000);
    let payloads: Vec<&[u8]> = fx.iter().map(|f| f.payload.as_slice()).collect();
    let dest = FileDestination {
        dir: dir.path().join("out"),
    };
    std::fs::write(&dest.dir, b"not a directory").unwrap();
    let p = pipeline(dir.path(), &source_toml(&brokers, &topic, &group), &dest);
    let s = Sluice::start(&p, dir.path().join("sluice.log"));
    let at = produce(&brokers, &topic, &payloads);
    let expected = expected_ids(&topic, &fx, &at);

    let landed = crate::brokers::outage_then_recovery(s, dir.path(), &dest, &expected);
    println!(
        "kafka outage: {} rows, {} duplicates",
        landed.rows, landed.duplicates
    );
    assert_group_drained(&brokers, &topic, &group, &at);
}

#[test]
fn kafka_poison_message_is_dead_lettered_and_committed() {
    let brokers = require_service("SLUICE_TEST_KAFKA");
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("poison");
    let group = unique("poison-group");
    create_topic(&brokers, &topic);
    let payloads: Vec<&[u8]> = vec![
        b"plain text, not JSON",
        br#"{"severity":"INFO","#,
        br#"{"severity":"INFO","message":"fine"}"#,
    ];
    let at = produce(&brokers, &topic, &payloads);
    let dest = FileDestination {
        dir: dir.path().join("out"),
    };
    let p = pipeline(dir.path(), &source_toml(&brokers, &topic, &group), &dest);
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
    assert_eq!(dest.rows()[0]["jsonPayload"]["message"], "fine");
    assert_group_drained(&brokers, &topic, &group, &at);
}
