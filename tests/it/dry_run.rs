//! `sluice dry-run` over the bundled fixtures: the output layout of
//! DESIGN.md, partial lines joined, bad lines dead-lettered with reasons,
//! and nothing private in any output.

use std::path::Path;

use serde_json::Value;

use crate::support::{fixtures, read_ndjson, repo, sluice};

fn dry_run(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["dry-run", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    std::process::Command::new(crate::support::sluice_bin())
        .args(&args)
        .env("SLUICE_DATA_DIR", out.join("data"))
        .output()
        .expect("sluice runs")
}

/// Every row the dry run would have sent to BigQuery, in file order.
fn bigquery_rows(out: &Path) -> Vec<Value> {
    let mut files = Vec::new();
    collect(&out.join("bigquery"), &mut files);
    files.sort();
    files.iter().flat_map(|f| read_ndjson(f)).collect()
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn built_in_dry_run_over_bundled_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let res = dry_run(&out, &[]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );

    // summary.json has the documented shape and consistent counts.
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let c = &summary["components"];
    for key in [
        "kind",
        "type",
        "events_in",
        "events_out",
        "dropped",
        "errors",
        "bytes_in",
        "bytes_out",
    ] {
        assert!(
            c["containers"].get(key).is_some(),
            "summary lacks {key}: {summary}"
        );
    }
    let api = std::fs::read(fixtures().join("containers").join(API)).unwrap();
    let worker = std::fs::read(fixtures().join("containers").join(WORKER)).unwrap();
    let raw_lines = count_lines(&api) + count_lines(&worker);
    // Three CRI parts of one partial entry become one event: two fewer.
    assert_eq!(c["containers"]["events_in"], raw_lines - 2, "{summary}");
    assert_eq!(summary["deadletter"], 2, "{summary}");
    assert_eq!(c["containers"]["errors"], 2);
    let routed = bigquery_rows(&out);
    assert_eq!(
        c["bigquery"]["events_in"].as_u64().unwrap(),
        routed.len() as u64
    );
    assert!(
        summary["redactions"]["field:personal"].as_u64().unwrap() > 0,
        "{summary}"
    );

    // The joined partial entry is whole.
    let report = routed
        .iter()
        .find(|e| e["jsonPayload"]["message"] == "License report generated")
        .expect("the P/P/F entry is delivered");
    assert_eq!(
        report["jsonPayload"]["report"].as_str().unwrap().len(),
        40000
    );

    // Every routed entry matches the routing filter and is a LogEntry.
    for e in &routed {
        assert_eq!(e["resource"]["labels"]["namespace_name"], "coditect");
        assert_ne!(e["severity"], "DEBUG");
        assert_eq!(e["insertId"].as_str().unwrap().len(), 32);
    }

    // Dead letters carry reasons, and are redacted like everything else.
    let dl = read_ndjson(&out.join("deadletter.ndjson"));
    let reasons: Vec<&str> = dl.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("malformed JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("exceeds max_line_bytes")),
        "{reasons:?}"
    );

    // No residual personal data anywhere in the output.
    let audit = sluice(&["audit", out.to_str().unwrap()]);
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

#[test]
fn replay_gives_identical_insert_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let input = fixtures().join("containers");
    for o in [&a, &b] {
        let res = dry_run(o, &["--input", input.to_str().unwrap()]);
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
    }
    let ids = |p: &Path| -> Vec<String> {
        bigquery_rows(p)
            .iter()
            .map(|e| e["insertId"].as_str().unwrap().to_string())
            .collect()
    };
    let (ia, ib) = (ids(&a), ids(&b));
    assert!(!ia.is_empty());
    assert_eq!(ia, ib);
    let unique: std::collections::BTreeSet<_> = ia.iter().collect();
    assert_eq!(unique.len(), ia.len(), "insertIds are unique per entry");
}

#[test]
fn docker_and_ndjson_inputs_detected_per_file() {
    let dir = tempfile::tempdir().unwrap();
    // NDJSON app lines have no Kubernetes resource: route everything.
    let res = std::process::Command::new(crate::support::sluice_bin())
        .args([
            "dry-run",
            repo().join("pipelines/dry-run.toml").to_str().unwrap(),
            "--out",
        ])
        .arg(dir.path().join("out"))
        .arg("--input")
        .arg(fixtures().join("docker"))
        .arg("--input")
        .arg(fixtures().join("ndjson"))
        .env("SLUICE_ROUTE_QUERY", "severity >= DEFAULT")
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let routed = bigquery_rows(&dir.path().join("out"));
    let docker_lines = count_lines(
        &std::fs::read(
            std::fs::read_dir(fixtures().join("docker"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .unwrap(),
    );
    let ndjson_lines: u64 = ["license-api.ndjson", "log-entries.ndjson"]
        .iter()
        .map(|f| count_lines(&std::fs::read(fixtures().join("ndjson").join(f)).unwrap()))
        .sum();
    // One docker partial pair joins into one entry.
    assert_eq!(routed.len() as u64, docker_lines - 1 + ndjson_lines);
    let from_docker: Vec<&Value> = routed
        .iter()
        .filter(|e| e["resource"]["labels"]["pod_name"] == "license-api-7d8f9c6b4-abcde")
        .collect();
    assert_eq!(from_docker.len() as u64, docker_lines - 1);
    assert!(from_docker
        .iter()
        .any(|e| e["textPayload"] == "plain text from stderr" && e["severity"] == "ERROR"));
    // The stored LogEntry keeps its insertId.
    assert!(routed.iter().any(|e| e["insertId"] == "design-example-1"));
}

const API: &str = "license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log";
const WORKER: &str = "license-worker-5c9d7f8b6-p2q4r_coditect_worker-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b.log";

fn count_lines(b: &[u8]) -> u64 {
    b.split(|c| *c == b'\n').filter(|l| !l.is_empty()).count() as u64
}
