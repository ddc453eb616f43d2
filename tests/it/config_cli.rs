//! `sluice validate` from the command line: exit codes and messages that
//! name the bad key and line.

use crate::support::{sluice, write_pipeline};

#[test]
fn validate_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        dir.path(),
        "bad.toml",
        "[sources.in]\ntype = \"stdin\"\nmax_line_bytes = \"lots\"\n\n[sinks.out]\ntype = \"console\"\ninputs = [\"missing\"]\n",
    );
    let out = sluice(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:3: `sources.in.max_line_bytes`"),
        "{err}"
    );
}

#[test]
fn validate_accepts_shipped_pipelines() {
    for p in [
        "pipelines/dry-run.toml",
        "pipelines/gke-node.toml",
        "pipelines/backfill.toml",
        "benches/pipelines/filter-blackhole.toml",
        "benches/pipelines/redact-blackhole.toml",
    ] {
        let path = crate::support::repo().join(p);
        let out = sluice(&["validate", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Issue 15: a filter naming a field LogEntry does not have
/// (`operation.thud`) is refused by `sluice validate` before anything runs,
/// with the file, line, key and the column inside the query ("Logging
/// query language": undefined fields are errors, not empty matches).
#[test]
fn validate_refuses_an_undefined_logentry_field_with_key_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        dir.path(),
        "bad.toml",
        "[sources.in]\ntype = \"stdin\"\n\n[transforms.only_ops]\ntype = \"filter\"\ninputs = [\"in\"]\nquery = 'severity>=INFO AND operation.thud = \"x\"'\n\n[sinks.out]\ntype = \"console\"\ninputs = [\"only_ops\"]\n",
    );
    let out = sluice(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:7: `transforms.only_ops.query`"),
        "{err}"
    );
    assert!(
        err.contains("column 30: `operation` has no field `thud`"),
        "{err}"
    );
}
