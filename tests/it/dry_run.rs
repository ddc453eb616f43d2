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
    let personal = summary["redactions"]
        .as_array()
        .expect("redactions is a list")
        .iter()
        .find(|r| r["detector"] == "field:personal")
        .and_then(|r| r["count"].as_u64());
    assert!(personal.unwrap_or(0) > 0, "{summary}");

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

/// One planted value per class, as the raw input carries them.
const PLANTED: &[(&str, &str)] = &[
    ("email", "olga.ivanova@example.com"),
    ("ip", "203.0.113.77"),
    ("phone", "+44 20 7946 0958"),
    ("card", "4111 1111 1111 1111"),
    ("ssn", "078-05-1120"),
    ("iban", "BR1800360305000010009795493C1"),
    ("secret", "Tr0ub4dor3x"),
    ("hardware", "C02XK0ABJG5H"),
    ("personal", "Maria Silva"),
];

/// Writes an input folder: NDJSON entries with every class, a docker file
/// whose malformed lines quote a card and an e-mail in serde's message,
/// and a malformed line longer than the dead-letter sample with a card
/// across the 4096-byte cut.
fn write_private_inputs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let lines = [
        r#"{"severity":"INFO","message":"licence mailed to olga.ivanova@example.com from 203.0.113.77"}"#.to_string(),
        r#"{"severity":"INFO","message":"call back on +44 20 7946 0958, card 4111 1111 1111 1111, SSN 078-05-1120"}"#.to_string(),
        r#"{"severity":"INFO","message":"refund to BR1800360305000010009795493C1 login password=Tr0ub4dor3x"}"#.to_string(),
        r#"{"severity":"INFO","message":"device serial C02XK0ABJG5H bound; Dear Maria Silva, welcome","user_email":"olga.ivanova@example.com"}"#.to_string(),
    ];
    std::fs::write(dir.join("app.ndjson"), lines.join("\n") + "\n").unwrap();
    let docker = [
        r#"{"log":"started\n","stream":"stdout","time":"2025-11-30T12:00:00.000000000Z"}"#,
        r#"{"log":4111111111111111,"stream":"stdout","time":"2025-11-30T12:00:01.000000000Z"}"#,
        r#"{"log":"x\n","stream":"olga.ivanova@example.com\n","time":"2025-11-30T12:00:02.000000000Z"}"#,
    ];
    std::fs::write(dir.join("docker.log"), docker.join("\n") + "\n").unwrap();
    // 4090 bytes of filler, then the card across byte 4096; no closing brace.
    let head = r#"{"message":""#;
    let filler = "ab ".repeat((4090 - head.len()) / 3);
    let pad = " ".repeat(4090 - head.len() - filler.len());
    let long = format!("{head}{filler}{pad}4111 1111 1111 1111 tail\n");
    assert!(long.find("4111").unwrap() < 4096 && long.find(" tail").unwrap() > 4096);
    std::fs::write(dir.join("long.ndjson"), long).unwrap();
}

/// `sluice audit`'s "by class" lines: class -> count.
fn audit_classes(stdout: &[u8]) -> std::collections::BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .skip_while(|l| !l.starts_with("by class"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    files
}

#[test]
fn dry_run_output_passes_audit_and_raw_input_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    write_private_inputs(&input);

    // The raw input: audit finds every class.
    let raw = sluice(&["audit", input.to_str().unwrap()]);
    assert_eq!(
        raw.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&raw.stdout)
    );
    let classes = audit_classes(&raw.stdout);
    for (class, _) in PLANTED {
        assert!(
            classes.get(*class).is_some_and(|n| *n > 0),
            "audit misses {class} in raw input: {classes:?}"
        );
    }

    let out = dir.path().join("out");
    let res = dry_run(&out, &["--input", input.to_str().unwrap()]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );

    // Every file the dry run wrote passes audit, summary.json included,
    // though it counts `password` and `name` redactions.
    let files = all_files(&out);
    assert!(
        files.iter().any(|f| f.ends_with("summary.json")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("deadletter.ndjson")),
        "{files:?}"
    );
    let clean = sluice(&["audit", out.to_str().unwrap()]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let counted = |d: &str| {
        summary["redactions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["detector"] == d && r["count"].as_u64().unwrap_or(0) > 0)
    };
    for d in ["password", "name", "serial", "iban", "card", "email"] {
        assert!(counted(d), "no `{d}` redaction counted: {summary}");
    }

    // No planted value, nor a piece of one, in any output file.
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        for (class, v) in PLANTED {
            assert!(!text.contains(v), "{class} value in {}", f.display());
        }
        for piece in [
            "4111111111111111",
            "4111 1111",
            "olga.ivanova",
            "Ivanova",
            "C02XK0ABJG5H",
        ] {
            assert!(!text.contains(piece), "`{piece}` in {}", f.display());
        }
    }

    // Dead letters: three rejects, reasons without values, samples cut
    // after redaction.
    let dl = read_ndjson(&out.join("deadletter.ndjson"));
    assert_eq!(dl.len(), 3, "{dl:?}");
    for d in &dl {
        let reason = d["reason"].as_str().unwrap();
        assert!(
            !reason.contains("4111") && !reason.contains('@'),
            "{reason}"
        );
        let raw = d["event"]["raw"].as_str().unwrap();
        assert!(raw.len() <= 4096 + "[CUT]".len(), "{} bytes", raw.len());
    }
    let long = dl
        .iter()
        .find(|d| d["event"]["raw_bytes"].as_u64().unwrap() > 4096)
        .expect("the long line is dead-lettered");
    let raw = long["event"]["raw"].as_str().unwrap();
    assert!(raw.ends_with("[CUT]"), "{}", &raw[raw.len() - 40..]);
    assert!(
        raw.contains("[REDACTED:card]") || !raw.contains("1111"),
        "{}",
        &raw[raw.len() - 60..]
    );
}

#[test]
fn dry_run_in_hash_mode_reads_the_key_and_never_prints_it() {
    const KEY: &str = "dry-run-hash-key-4f1c9a77e0";
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    write_private_inputs(&input);
    let src = std::fs::read_to_string(repo().join("pipelines/dry-run.toml")).unwrap();
    let src = src.replace(
        "[transforms.redact]\ntype = \"redact\"\n",
        "[transforms.redact]\ntype = \"redact\"\ndefault_mode = \"hash\"\n",
    );
    assert!(src.contains("default_mode = \"hash\""));
    let pipeline = dir.path().join("hash.toml");
    std::fs::write(&pipeline, src).unwrap();
    let run = |out: &Path, key: Option<&str>| {
        let mut cmd = std::process::Command::new(crate::support::sluice_bin());
        cmd.args([
            "dry-run",
            pipeline.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--input", input.to_str().unwrap()])
        .env("SLUICE_DATA_DIR", out.join("data"))
        .env("SLUICE_METRICS_DIR", repo().join("pipelines/metrics"))
        .env_remove("SLUICE_REDACT_KEY");
        if let Some(k) = key {
            cmd.env("SLUICE_REDACT_KEY", k);
        }
        cmd.output().expect("sluice runs")
    };

    let out = dir.path().join("out");
    let res = run(&out, Some(KEY));
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let mut seen_pseudonym = false;
    for f in all_files(&out) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains(KEY), "the key is in {}", f.display());
        seen_pseudonym |= text.contains("email:");
    }
    assert!(seen_pseudonym, "hash mode writes pseudonyms");
    for stream in [&res.stdout, &res.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(KEY));
    }

    // Without the key: refused, naming where the key comes from, not a key.
    let res = run(&dir.path().join("out2"), None);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("SLUICE_REDACT_KEY"), "{err}");
}
