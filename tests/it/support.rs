//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `sluice` binary cargo built for these tests.
pub fn sluice_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sluice"))
}

/// The repository root (for fixtures and pipelines).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

/// Runs `sluice ARGS...` to completion.
pub fn sluice(args: &[&str]) -> Output {
    Command::new(sluice_bin())
        .args(args)
        .output()
        .expect("the sluice binary runs")
}

/// The address of a test service from its environment variable, set by
/// `scripts/test-services.sh env`. Fails the test, naming what is missing,
/// when the service was not started: a missing service never skips.
pub fn require_service(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs a real service on 127.0.0.1. \
             Run `scripts/install-test-deps.sh && eval \"$(scripts/test-services.sh start)\"` \
             or use `scripts/test.sh`, which does both"
        ),
    }
}

/// Writes a pipeline file into `dir` and returns its path.
pub fn write_pipeline(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("the temp dir is writable");
    p
}

/// Reads an NDJSON file into values (panics with the line on bad JSON).
pub fn read_ndjson(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}
