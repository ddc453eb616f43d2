//! The labelled PII corpus (`fixtures/pii/`): leak rate and benign
//! survival of the default profile, and the fixtures' freshness. The
//! generator is test code outside `src/` (`tests/generators/pii_corpus.rs`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::pii_corpus::generate;
use super::{RedactConfig, RedactStats, Redactor};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/pii");
const EVENTS: usize = 2800;

fn read_labels(text: &str, field: &str) -> Vec<(usize, String, String)> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some((
                usize::try_from(v["line"].as_u64()?).ok()?,
                v[field].as_str()?.to_string(),
                v["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// The fixtures are what the generator makes, and it makes the same every
/// time. This test only reads: `cargo run --example pii_corpus` writes.
#[test]
fn corpus_is_deterministic_and_current() {
    let generated = generate(EVENTS);
    assert_eq!(
        generated,
        generate(EVENTS),
        "the generator is deterministic"
    );
    let (c, p, b) = generated;
    for (file, want) in [("corpus", c), ("planted", p), ("benign", b)] {
        let path = format!("{DIR}/{file}.ndjson");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{path}: {e}; write it with `cargo run --example pii_corpus`")
        });
        assert!(
            on_disk == want,
            "{path} is not what the generator makes: rerun `cargo run --example pii_corpus`"
        );
    }
}

#[test]
fn corpus_leak_rate_and_benign_survival() {
    let read = |f: &str| {
        let path = format!("{DIR}/{f}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let (corpus, planted, benign) = (
        read("corpus.ndjson"),
        read("planted.ndjson"),
        read("benign.ndjson"),
    );
    let r = Redactor::new(&RedactConfig::default(), None).expect("default config is valid");
    let mut stats = RedactStats::default();
    let out: Vec<String> = corpus
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("corpus line is JSON");
            r.redact(&mut v, &mut stats);
            v.to_string()
        })
        .collect();
    let planted = read_labels(&planted, "class");
    let benign = read_labels(&benign, "kind");
    assert!(out.len() >= 2000 && planted.len() > 5000 && benign.len() > 5000);

    let mut leaks: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut leaked = Vec::new();
    for (line, class, value) in &planted {
        let e = leaks.entry(class.clone()).or_default();
        e.1 += 1;
        if out[line - 1].contains(value.as_str()) {
            e.0 += 1;
            leaked.push(format!("line {line} class {class}"));
        }
    }
    let mut kept: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut lost = Vec::new();
    for (line, kind, value) in &benign {
        let e = kept.entry(kind.clone()).or_default();
        e.1 += 1;
        if out[line - 1].contains(value.as_str()) {
            e.0 += 1;
        } else {
            lost.push(format!("line {line} {kind} `{value}`"));
        }
    }
    println!(
        "\nPII corpus: {} events, {} planted, {} benign",
        out.len(),
        planted.len(),
        benign.len()
    );
    println!(
        "{:<12} {:>8} {:>8} {:>10}",
        "class", "planted", "leaked", "leak rate"
    );
    for (c, (l, n)) in &leaks {
        println!(
            "{c:<12} {n:>8} {l:>8} {:>9.2}%",
            100.0 * *l as f64 / *n as f64
        );
    }
    println!(
        "{:<16} {:>8} {:>8} {:>10}",
        "benign kind", "total", "kept", "survival"
    );
    let (mut tk, mut tn) = (0, 0);
    for (k, (s, n)) in &kept {
        tk += s;
        tn += n;
        println!(
            "{k:<16} {n:>8} {s:>8} {:>9.2}%",
            100.0 * *s as f64 / *n as f64
        );
    }
    let survival = 100.0 * tk as f64 / tn as f64;
    println!("{:<16} {tn:>8} {tk:>8} {survival:>9.2}%", "all benign");
    let s: Vec<String> = stats.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("stats: {}", s.join(" "));
    for l in lost.iter().take(20) {
        println!("lost benign: {l}");
    }
    assert!(
        leaked.is_empty(),
        "{} planted values leaked: {:?}",
        leaked.len(),
        &leaked[..leaked.len().min(20)]
    );
    assert!(survival >= 99.5, "benign survival {survival:.2}% < 99.5%");
}
