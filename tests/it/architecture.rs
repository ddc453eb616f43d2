//! Invariants of ARCHITECTURE.md that are about the code's shape, checked
//! over the source tree (in the manner of rust-analyzer's tidy tests):
//! which modules may do IO, that every channel is bounded, and which
//! modules may import which.

use std::path::{Path, PathBuf};

use crate::support::repo;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The file's non-test code: everything before its first `#[cfg(test)]`
/// (sluice keeps unit tests at the end of a file or in `tests.rs`), with
/// comments dropped.
fn product_code(path: &Path) -> Vec<(usize, String)> {
    let name = path.file_name().unwrap().to_str().unwrap();
    if name == "tests.rs" || name == "testgen.rs" {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push((i + 1, line.to_string()));
    }
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo()).unwrap().display().to_string()
}

/// `event/`, `decode/`, `logging_query/` and the redaction engine are
/// plain functions over bytes and JSON: no files, sockets, processes,
/// environment or tokio runtime (the oneshot behind batch status is the one
/// exception in `event/`).
#[test]
fn pure_modules_do_no_io() {
    const FORBIDDEN: &[&str] = &[
        "std::fs",
        "tokio::fs",
        "tokio::net",
        "tokio::spawn",
        "tokio::time",
        "tokio::io",
        "TcpStream",
        "UdpSocket",
        "TcpListener",
        "std::process",
        "std::env",
        "reqwest",
        "File::open",
    ];
    const ALLOWED: &[(&str, &str)] = &[("src/event/finalization.rs", "tokio::sync::oneshot")];
    let mut bad = Vec::new();
    for dir in [
        "src/event",
        "src/decode",
        "src/logging_query",
        "src/transforms/redact",
    ] {
        for f in rust_files(&repo().join(dir)) {
            let r = rel(&f);
            // The redact *stage* reads the hash key file; the engine does not.
            if r.ends_with("/stage.rs") {
                continue;
            }
            for (n, line) in product_code(&f) {
                for pat in FORBIDDEN {
                    if line.contains(pat) {
                        bad.push(format!("{r}:{n}: {pat}: {}", line.trim()));
                    }
                }
                if line.contains("tokio::")
                    && !ALLOWED
                        .iter()
                        .any(|(file, what)| r == *file && line.contains(what))
                {
                    bad.push(format!("{r}:{n}: tokio: {}", line.trim()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "IO in a pure module:\n{}", bad.join("\n"));
}

/// Every channel between tasks is bounded, so a slow sink slows the
/// sources instead of growing memory.
#[test]
fn every_channel_is_bounded() {
    let mut bad = Vec::new();
    for f in rust_files(&repo().join("src")) {
        for (n, line) in product_code(&f) {
            if line.contains("unbounded_channel")
                || line.contains("mpsc::unbounded")
                || line.contains("channel::unbounded")
            {
                bad.push(format!("{}:{n}: {}", rel(&f), line.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "unbounded channels:\n{}", bad.join("\n"));
}

/// The layers, bottom up, and what each may not import. `component` is
/// the contract between the topology and the components, so neither side
/// reaches into the other; `config` (which names every component type) and
/// `topology` (which wires them) sit above the components; `report` (the
/// dry run's summary and page) reads config and telemetry; `commands` is
/// the top. Checked on `use crate::...` and `crate::x::` paths.
#[test]
fn layers_import_only_downwards() {
    const COMPONENTS: &[&str] = &["sources", "transforms", "sinks"];
    const ABOVE_DATA: &[&str] = &[
        "component",
        "topology",
        "config",
        "commands",
        "report",
        "sources",
        "transforms",
        "sinks",
    ];
    const ABOVE_COMPONENTS: &[&str] = &["topology", "config", "commands", "report"];
    let rules: &[(&str, &[&str])] = &[
        ("src/event", ABOVE_DATA),
        ("src/decode", ABOVE_DATA),
        ("src/logging_query", ABOVE_DATA),
        ("src/component", &ABOVE_DATA[1..]),
        ("src/gcs", &ABOVE_DATA[1..]),
        ("src/sources", ABOVE_COMPONENTS),
        ("src/transforms", ABOVE_COMPONENTS),
        ("src/sinks", ABOVE_COMPONENTS),
        ("src/topology", &["commands", "report"]),
        ("src/config", &["topology", "commands", "report"]),
        ("src/telemetry", ABOVE_DATA),
        ("src/report", &["commands"]),
    ];
    let mut bad = Vec::new();
    for (dir, forbidden) in rules {
        for f in rust_files(&repo().join(dir)) {
            let r = rel(&f);
            for (n, line) in product_code(&f) {
                for m in forbidden.iter() {
                    if line.contains(&format!("crate::{m}::"))
                        || line.contains(&format!("crate::{m}}}"))
                        || line.contains(&format!("crate::{m};"))
                    {
                        bad.push(format!("{r}:{n}: imports {m}: {}", line.trim()));
                    }
                }
            }
        }
    }
    // Components do not import each other's internals either: a source
    // does not reach into a sink (shared code lives in a neutral module).
    for kind in COMPONENTS {
        for f in rust_files(&repo().join("src").join(kind)) {
            let r = rel(&f);
            for (n, line) in product_code(&f) {
                for other in COMPONENTS.iter().filter(|o| *o != kind) {
                    if line.contains(&format!("crate::{other}::")) {
                        bad.push(format!("{r}:{n}: {kind} imports {other}: {}", line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the layering:\n{}",
        bad.join("\n")
    );
}

/// Every invariant in ARCHITECTURE.md names the tests that enforce it, and
/// every test it names exists (so a renamed or deleted test cannot leave a
/// promise unguarded).
#[test]
fn architecture_md_names_tests_that_exist() {
    let doc = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("## Invariants")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("ARCHITECTURE.md has an Invariants section");
    let mut sources = String::new();
    for dir in ["src", "tests"] {
        for f in rust_files(&repo().join(dir)) {
            sources.push_str(&std::fs::read_to_string(&f).unwrap());
        }
    }
    let mut missing = Vec::new();
    for bullet in section.split("\n- ").skip(1) {
        assert!(
            bullet.contains("Test"),
            "an invariant without a test: {bullet}"
        );
        for quoted in bullet.split('`').skip(1).step_by(2) {
            // `module::path::test_name` (or `module::*`).
            let Some((_, name)) = quoted.rsplit_once("::") else {
                continue;
            };
            if name == "*" {
                let module = quoted.trim_end_matches("::*");
                assert!(
                    repo()
                        .join("tests/it")
                        .join(format!("{module}.rs"))
                        .is_file(),
                    "ARCHITECTURE.md names the test module {module}, which does not exist"
                );
                continue;
            }
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                continue;
            }
            if !sources.contains(&format!("fn {name}(")) {
                missing.push(quoted.to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names tests that do not exist: {missing:?}"
    );
}
