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
    if name == "tests.rs" || name.ends_with("_tests.rs") {
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

/// Every `#[test]` function of the tree: (module path, name). A file's
/// module path is its path under `src/` (`a/b.rs` and `a/b/mod.rs` are
/// `a::b`) or, for the integration binary, its name under `tests/it/`; a
/// test in an inline `mod tests` is listed under both the file's path and
/// that path with `::tests`.
fn test_functions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (dir, base) in [("src", "src"), ("tests/it", "tests/it")] {
        for f in rust_files(&repo().join(dir)) {
            let rel = f.strip_prefix(repo().join(base)).unwrap();
            let mut module: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if module
                .last()
                .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
            {
                module.pop();
            }
            let module = module.join("::");
            let text = std::fs::read_to_string(&f).unwrap();
            let mut attr = false;
            for line in text.lines().map(str::trim) {
                if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
                    attr = true;
                } else if attr && (line.starts_with("fn ") || line.starts_with("async fn ")) {
                    let after = line.split_once("fn ").unwrap().1;
                    let name = after.split(['(', '<']).next().unwrap().to_string();
                    out.push((module.clone(), name.clone()));
                    out.push((format!("{module}::tests"), name));
                    attr = false;
                } else if attr
                    && !(line.starts_with("#[") || line.starts_with("//") || line.is_empty())
                {
                    attr = false;
                }
            }
        }
    }
    out
}

/// Whether a citation names a test that exists: `module::test_name` (the
/// module path may leave out leading segments, as `log_metrics::registry`
/// for `transforms::log_metrics::registry`), `module::*` (a module with
/// tests), or `prefix_*` (some test whose name starts so).
fn cites_a_test(tests: &[(String, String)], citation: &str) -> bool {
    let ends_with =
        |module: &str, cited: &str| module == cited || module.ends_with(&format!("::{cited}"));
    match citation.rsplit_once("::") {
        Some((module, "*")) => tests.iter().any(|(m, _)| ends_with(m, module)),
        Some((module, name)) => tests.iter().any(|(m, n)| n == name && ends_with(m, module)),
        None => match citation.strip_suffix('*') {
            Some(prefix) => tests.iter().any(|(_, n)| n.starts_with(prefix)),
            None => tests.iter().any(|(_, n)| n == citation),
        },
    }
}

/// A backticked span that reads as a test citation: a path whose last
/// segment is a test-like name (a sentence: three underscores or more),
/// `module::*`, or `issueN_M_*`.
fn looks_like_a_test(quoted: &str) -> bool {
    let last = quoted.rsplit("::").next().unwrap_or(quoted);
    let snake = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    (quoted.contains("::") && (last == "*" || (snake(last) && last.matches('_').count() >= 3)))
        || (quoted.starts_with("issue")
            && quoted.ends_with("_*")
            && snake(&quoted[..quoted.len() - 1]))
}

/// Every invariant in ARCHITECTURE.md names the tests that enforce it, and
/// every test README.md or ARCHITECTURE.md cites is a `#[test]` in the
/// module it names (so a renamed or deleted test, or a helper that happens
/// to share a test's name, cannot leave a promise unguarded).
#[test]
fn architecture_md_names_tests_that_exist() {
    let tests = test_functions();
    let arch = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let section = arch
        .split("## Invariants")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("ARCHITECTURE.md has an Invariants section");
    for bullet in section.split("\n- ").skip(1) {
        assert!(
            bullet.contains("Test"),
            "an invariant without a test: {bullet}"
        );
        assert!(
            bullet.split('`').skip(1).step_by(2).any(looks_like_a_test),
            "an invariant that cites no test: {bullet}"
        );
    }
    let mut missing = Vec::new();
    let mut cited = 0;
    for doc in ["ARCHITECTURE.md", "README.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        for quoted in text.split('`').skip(1).step_by(2) {
            if looks_like_a_test(quoted) {
                cited += 1;
                if !cites_a_test(&tests, quoted) {
                    missing.push(format!("{doc}: {quoted}"));
                }
            }
        }
    }
    assert!(
        cited > 40,
        "only {cited} test citations found: is the parser right?"
    );
    assert!(
        missing.is_empty(),
        "cited tests that are not a #[test] in the named module: {missing:#?}"
    );
}

#[test]
fn a_citation_resolves_only_to_a_test_in_its_module() {
    let tests = vec![
        (
            "sinks::append".to_string(),
            "append_whole_records_only".to_string(),
        ),
        (
            "transforms::log_metrics::registry::tests".to_string(),
            "label_default".to_string(),
        ),
    ];
    assert!(cites_a_test(
        &tests,
        "sinks::append::append_whole_records_only"
    ));
    assert!(cites_a_test(
        &tests,
        "log_metrics::registry::tests::label_default"
    ));
    assert!(cites_a_test(&tests, "append::*"));
    assert!(cites_a_test(&tests, "append_whole_*"));
    // The right name in another module, or a module that only ends alike.
    assert!(!cites_a_test(
        &tests,
        "sinks::file::append_whole_records_only"
    ));
    assert!(!cites_a_test(&tests, "pend::append_whole_records_only"));
    assert!(!cites_a_test(&tests, "sinks::append::append"));
}
