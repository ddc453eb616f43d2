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
    for p in ["pipelines/dry-run.toml"] {
        let path = crate::support::repo().join(p);
        let out = sluice(&["validate", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
