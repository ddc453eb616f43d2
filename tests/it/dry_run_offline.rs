//! Issue 14: a dry run opens no network socket and always ends, for every
//! shipped pipeline, and `sluice backfill --dry-run` likewise.
//!
//! Each run happens inside an empty network namespace (`unshare -n`, so
//! even a connection attempt that slipped through could reach nothing)
//! and under `strace`, which records every `socket`, `connect` and `bind`
//! call: the assertion is that none of them names an internet address
//! family, not merely that the run succeeded. The environment claims to be
//! inside a pod (`KUBERNETES_SERVICE_HOST`) and leaves the metadata server
//! at its default, so a dry run that asked the metadata server would show
//! up here too. CI runs as root, which `unshare -n` needs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{fixtures, read_ndjson, repo, sluice_bin};

/// What one offline run did.
struct Run {
    out: Output,
    /// strace lines that create, connect or bind an AF_INET/AF_INET6 socket.
    inet_calls: Vec<String>,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    fn assert_ok_offline(&self, what: &str) {
        assert!(
            self.inet_calls.is_empty(),
            "{what}: network calls in a dry run:\n{}",
            self.inet_calls.join("\n")
        );
        assert!(
            self.out.status.success(),
            "{what}: exit {:?}\n{}",
            self.out.status.code(),
            self.stderr()
        );
    }
}

fn require_tool(tool: &str, package: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{tool}` is missing: this test runs sluice under it (apt-get install {package})"
    );
}

/// Runs `sluice ARGS` in an empty network namespace under strace.
fn offline(args: &[&str], env: &[(&str, String)], trace_dir: &Path) -> Run {
    require_tool("unshare", "util-linux");
    require_tool("strace", "strace");
    let log = trace_dir.join("strace.log");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-n",
        "--",
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=socket,connect,bind",
        "-o",
    ])
    .arg(&log)
    .arg(sluice_bin())
    .args(args)
    .env_remove("SLUICE_METADATA_URL")
    .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    .env("SLUICE_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("unshare runs");
    let trace = std::fs::read_to_string(&log).unwrap_or_else(|e| {
        panic!(
            "strace wrote no log at {} ({e}); unshare -n needs root. stderr:\n{}",
            log.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let inet_calls = trace
        .lines()
        .filter(|l| l.contains("AF_INET"))
        .map(str::to_string)
        .collect();
    Run { out, inet_calls }
}

/// Values for the variables a pipeline file uses without a default, so
/// every shipped pipeline loads. None of them is ever contacted.
fn placeholder_env(pipeline: &Path) -> Vec<(&'static str, String)> {
    let text = std::fs::read_to_string(pipeline).unwrap();
    let mut env = Vec::new();
    for var in [
        "SLUICE_PUBSUB_PROJECT",
        "SLUICE_KAFKA_BROKERS",
        "SLUICE_BIGQUERY_PROJECT",
        "SLUICE_BIGQUERY_DATASET",
        "SLUICE_BQ_PROJECT",
        "SLUICE_BQ_DATASET",
        "SLUICE_ARCHIVE_BUCKET",
    ] {
        if text.contains(var) {
            let v = if var.ends_with("BROKERS") {
                "kafka.invalid:9092".to_string()
            } else {
                "sluice_dry_run".to_string()
            };
            env.push((var, v));
        }
    }
    env
}

fn shipped_pipelines() -> Vec<PathBuf> {
    let mut p: Vec<PathBuf> = std::fs::read_dir(repo().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    p.sort();
    assert!(p.len() >= 4, "expected the shipped pipelines, found {p:?}");
    p
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn rows_written(out: &Path) -> usize {
    files_under(&out.join("bigquery"))
        .iter()
        .map(|f| read_ndjson(f).len())
        .sum()
}

#[test]
fn every_shipped_pipeline_dry_runs_offline_with_inputs() {
    for pipeline in shipped_pipelines() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let inputs = fixtures().join("containers");
        let run = offline(
            &[
                "dry-run",
                pipeline.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--input",
                inputs.to_str().unwrap(),
            ],
            &placeholder_env(&pipeline),
            dir.path(),
        );
        run.assert_ok_offline(&pipeline.display().to_string());
        let written =
            files_under(&out.join("bigquery")).len() + files_under(&out.join("gcs")).len();
        assert!(
            written > 0,
            "{}: the dry run wrote no sink output\n{}",
            pipeline.display(),
            run.stderr()
        );
        assert!(out.join("summary.json").is_file());
    }
}

#[test]
fn built_in_dry_run_is_offline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = offline(
        &["dry-run", "--out", out.to_str().unwrap()],
        &[],
        dir.path(),
    );
    run.assert_ok_offline("built-in dry run");
    assert!(rows_written(&out) > 0, "{}", run.stderr());
}

/// gke-node tails files forever when live; a dry run without `--input`
/// reads what its globs match once, to the end, and stops.
#[test]
fn node_pipeline_without_inputs_reads_its_files_once_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pipeline = repo().join("pipelines/gke-node.toml");
    let mut env = placeholder_env(&pipeline);
    env.push((
        "SLUICE_CONTAINER_LOGS",
        fixtures().join("containers").display().to_string(),
    ));
    env.push((
        "SLUICE_DATA_DIR",
        dir.path().join("data").display().to_string(),
    ));
    let run = offline(
        &[
            "dry-run",
            pipeline.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &env,
        dir.path(),
    );
    run.assert_ok_offline("gke-node without --input");
    assert!(rows_written(&out) > 0, "no rows\n{}", run.stderr());
    assert!(
        !dir.path().join("data").exists(),
        "a dry run wrote checkpoints into data_dir"
    );
    // The same files given as --input: the same events, the same rows.
    let out2 = dir.path().join("out2");
    let inputs = fixtures().join("containers");
    let run2 = offline(
        &[
            "dry-run",
            pipeline.to_str().unwrap(),
            "--out",
            out2.to_str().unwrap(),
            "--input",
            inputs.to_str().unwrap(),
        ],
        &env,
        dir.path(),
    );
    run2.assert_ok_offline("gke-node with --input");
    let summary = |o: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(o.join("summary.json")).unwrap()).unwrap()
    };
    let (a, b) = (summary(&out), summary(&out2));
    assert_eq!(a["deadletter"], b["deadletter"]);
    assert_eq!(a["redactions"], b["redactions"]);
    assert_eq!(rows_written(&out), rows_written(&out2));
}

#[test]
fn network_sources_without_inputs_are_refused_naming_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pipeline = repo().join("pipelines/aggregator.toml");
    let run = offline(
        &[
            "dry-run",
            pipeline.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &placeholder_env(&pipeline),
        dir.path(),
    );
    assert!(run.inet_calls.is_empty(), "{:?}", run.inet_calls);
    assert!(
        !run.out.status.success(),
        "a network source ran in a dry run"
    );
    let err = run.stderr();
    assert!(err.contains("--input"), "the refusal names --input: {err}");
    assert!(
        err.contains("a dry run opens no network connection"),
        "{err}"
    );
}

#[test]
fn backfill_dry_run_is_offline_and_refuses_gcs() {
    let dir = tempfile::tempdir().unwrap();
    // An archive to replay: what the built-in dry run would upload.
    let first = dir.path().join("first");
    let run = offline(
        &["dry-run", "--out", first.to_str().unwrap()],
        &[],
        dir.path(),
    );
    run.assert_ok_offline("built-in dry run");
    let archive = first.join("gcs");
    let bucket = std::fs::read_dir(&archive)
        .unwrap()
        .next()
        .expect("the dry run wrote an archive bucket")
        .unwrap()
        .path();
    let pipeline = repo().join("pipelines/backfill.toml");
    let out = dir.path().join("out");
    let run = offline(
        &[
            "backfill",
            pipeline.to_str().unwrap(),
            "--from",
            bucket.to_str().unwrap(),
            "--dry-run",
            "--out",
            out.to_str().unwrap(),
        ],
        &placeholder_env(&pipeline),
        dir.path(),
    );
    run.assert_ok_offline("backfill --dry-run --from DIR");
    assert!(rows_written(&out) > 0, "{}", run.stderr());

    let out2 = dir.path().join("out2");
    let run = offline(
        &[
            "backfill",
            pipeline.to_str().unwrap(),
            "--from",
            "gs://coditect-logs-archive/logs",
            "--dry-run",
            "--out",
            out2.to_str().unwrap(),
        ],
        &placeholder_env(&pipeline),
        dir.path(),
    );
    assert!(run.inet_calls.is_empty(), "{:?}", run.inet_calls);
    assert!(!run.out.status.success());
    let err = run.stderr();
    assert!(err.contains("--from DIR"), "{err}");
}
