use std::path::Path;

use super::*;

fn load(src: &str) -> Result<PipelineConfig, ConfigErrors> {
    load_str(src, Path::new("p.toml"), |k| {
        (k == "SET").then(|| "yes".to_string())
    })
}

/// Asserts that loading fails with an error on `key` at `line` whose
/// message contains `needle`.
fn assert_error(src: &str, key: &str, line: impl Into<Option<usize>>, needle: &str) {
    let line = line.into();
    let errs = load(src).expect_err("the pipeline should be refused");
    let found = errs
        .errors
        .iter()
        .any(|e| e.key == key && e.line == line && e.message.contains(needle));
    assert!(
        found,
        "expected `{key}` at line {line:?} containing {needle:?}; got:\n{errs}"
    );
}

const OK: &str = r#"
[sources.in]
type = "stdin"

[transforms.f]
type = "filter"
inputs = ["in"]
query = 'severity >= "INFO"'

[sinks.out]
type = "console"
inputs = ["f"]
allow_unredacted = true

[dead_letter]
allow_unredacted = true
"#;

#[test]
fn valid_pipeline_loads() {
    let cfg = load(OK).unwrap();
    assert_eq!(cfg.sources.len(), 1);
    assert_eq!(cfg.transforms["f"].inputs, vec!["in"]);
    assert!(cfg.sinks["out"].allow_unredacted);
}

#[test]
fn unknown_field_named_with_line() {
    let src = OK.replace("query = ", "qeury = 'x'\nquery = ");
    assert_error(&src, "transforms.f.qeury", 8, "unknown field `qeury`");
}

#[test]
fn unknown_top_level_key() {
    assert_error(
        &format!("{OK}\n[sinkz.x]\ntype = \"console\"\n"),
        "sinkz",
        18,
        "unknown top-level key",
    );
}

#[test]
fn unknown_component_type() {
    let src = OK.replace("type = \"console\"", "type = \"consle\"");
    assert_error(&src, "sinks.out.type", 11, "unknown variant `consle`");
}

#[test]
fn dangling_input() {
    let src = OK.replace("inputs = [\"f\"]", "inputs = [\"nope\"]");
    assert_error(
        &src,
        "sinks.out.inputs",
        12,
        "input `nope` is not a source or transform",
    );
}

#[test]
fn sink_without_inputs() {
    let src = OK.replace("inputs = [\"f\"]\n", "");
    assert_error(&src, "sinks.out.inputs", 10, "missing `inputs`");
    let src = OK.replace("inputs = [\"f\"]", "inputs = []");
    assert_error(&src, "sinks.out.inputs", 12, "is empty");
}

#[test]
fn cycle_is_refused() {
    let src = r#"
[sources.in]
type = "stdin"
[transforms.a]
type = "filter"
inputs = ["in", "b"]
query = "x"
[transforms.b]
type = "filter"
inputs = ["a"]
query = "x"
[sinks.out]
type = "blackhole"
inputs = ["b"]
allow_unredacted = true
[dead_letter]
allow_unredacted = true
"#;
    assert_error(src, "transforms.a.inputs", 6, "cycle: a -> b -> a");
}

#[test]
fn wrong_type_named() {
    let src = OK.replace(
        "type = \"stdin\"",
        "type = \"stdin\"\nmax_line_bytes = \"big\"",
    );
    assert_error(&src, "sources.in.max_line_bytes", 4, "invalid type");
    let src = format!("[global]\nchannel_capacity = -3\n{OK}");
    assert_error(&src, "global.channel_capacity", 2, "invalid value");
}

#[test]
fn bad_query_names_column() {
    let src = OK.replace("query = 'severity >= \"INFO\"'", "query = 'severity >= '");
    assert_error(&src, "transforms.f.query", 8, "column");
}

#[test]
fn env_interpolation_and_missing_var() {
    let src = OK.replace("type = \"stdin\"", "type = \"${KIND:-stdin}\"");
    assert!(load(&src).is_ok());
    let src = OK.replace("query = 'severity >= \"INFO\"'", "query = '${UNSET_VAR}'");
    assert_error(&src, "${UNSET_VAR}", 8, "is not set");
}

#[test]
fn unredacted_sink_refused() {
    let src = OK.replace(
        "allow_unredacted = true\n\n[dead_letter]",
        "\n[dead_letter]",
    );
    assert_error(
        &src,
        "sinks.out.inputs",
        12,
        "without passing a `redact` transform",
    );
    let src = OK.replace("[dead_letter]\nallow_unredacted = true", "");
    assert_error(&src, "dead_letter", None, "dead letters must be redacted");
}

#[test]
fn toml_syntax_error_has_line() {
    assert_error("[sources.in]\ntype = \"stdin\n", "", 2, "not valid TOML");
}

#[test]
fn issue13_10_a_section_that_is_not_a_table_is_refused_not_defaulted() {
    let body = OK.replace("[dead_letter]\nallow_unredacted = true\n", "");
    let src = format!("global = 5\ndead_letter = \"x\"\n{body}");
    assert_error(&src, "global", 1, "must be a table");
    assert_error(&src, "dead_letter", 2, "must be a table");
}

#[test]
fn issue13_10_a_bad_detector_regex_names_its_key_and_the_regex_error() {
    let src = OK.replace(
        "[transforms.f]",
        "[transforms.r]\ntype = \"redact\"\ninputs = [\"in\"]\ndetectors = [{ name = \"emp\", pattern = \"EMP-(\", class = \"personal\" }]\n\n[transforms.f]",
    );
    assert_error(
        &src,
        "transforms.r.detectors",
        8,
        "`detectors[0].pattern` is not a valid regular expression",
    );
    assert_error(&src, "transforms.r.detectors", 8, "unclosed group");
}

#[test]
fn issue13_10_graph_errors_are_reported_with_component_errors() {
    // A bad field in one component and a dangling input in another: both.
    let src = OK
        .replace("query = ", "qeury = 'x'\nquery = ")
        .replace("inputs = [\"f\"]", "inputs = [\"nope\"]");
    let errs = load(&src).unwrap_err();
    let keys: Vec<&str> = errs.errors.iter().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"transforms.f.qeury"), "{errs}");
    assert!(keys.contains(&"sinks.out.inputs"), "{errs}");
    // A component that failed to parse is not reported again as missing.
    let src = OK.replace("query = ", "qeury = 'x'\nquery = ");
    let errs = load(&src).unwrap_err();
    assert_eq!(errs.errors.len(), 1, "{errs}");
}

/// `log_metrics` label values reach /metrics: the transform must be
/// downstream of a redact, or opt out like a sink.
const METRICS: &str = r#"
[sources.in]
type = "stdin"
REDACT
[transforms.m]
type = "log_metrics"
inputs = ["INPUT"]
FLAG
[[transforms.m.metrics]]
name = "errors"
filter = "severity >= ERROR"

[sinks.out]
type = "blackhole"
inputs = ["m"]
allow_unredacted = true

[dead_letter]
allow_unredacted = true
"#;

/// Like `assert_error`, for keys whose line is found by `locate` (checked
/// to be present) rather than written here.
fn assert_key_error(src: &str, key: &str, needle: &str) {
    let errs = load(src).expect_err("the pipeline should be refused");
    let found = errs
        .errors
        .iter()
        .any(|e| e.key == key && e.line.is_some() && e.message.contains(needle));
    assert!(
        found,
        "expected `{key}` with a line containing {needle:?}; got:\n{errs}"
    );
}

fn metrics_pipeline(redact: &str, input: &str, flag: &str) -> String {
    METRICS
        .replace("REDACT", redact)
        .replace("INPUT", input)
        .replace("FLAG", flag)
}

#[test]
fn log_metrics_not_downstream_of_redact_refused() {
    let src = metrics_pipeline("", "in", "");
    assert_key_error(
        &src,
        "transforms.m.inputs",
        "reach this log_metrics transform without passing a `redact` transform",
    );
    // The same escape as sinks.
    let src = metrics_pipeline("", "in", "allow_unredacted = true");
    let cfg = load(&src).expect("allow_unredacted opts out");
    assert!(cfg.transforms["m"].allow_unredacted);
    // Downstream of a redact: accepted.
    let src = metrics_pipeline(
        "[transforms.r]\ntype = \"redact\"\ninputs = [\"in\"]\n",
        "r",
        "",
    );
    load(&src).expect("log_metrics after redact is accepted");
    // The flag is for log_metrics only, and must be a boolean.
    let src = OK.replace(
        "query = 'severity >= \"INFO\"'",
        "query = 'severity >= \"INFO\"'\nallow_unredacted = true",
    );
    assert_key_error(
        &src,
        "transforms.f.allow_unredacted",
        "only a `log_metrics`",
    );
    let src = metrics_pipeline("", "in", "allow_unredacted = \"yes\"");
    assert_key_error(
        &src,
        "transforms.m.allow_unredacted",
        "must be true or false",
    );
}

#[test]
fn redact_with_every_class_disabled_does_not_count() {
    let all = "disabled_classes = [\"email\", \"ip\", \"phone\", \"card\", \"ssn\", \"iban\", \"secret\", \"hardware\", \"personal\"]";
    let src = metrics_pipeline(
        &format!("[transforms.r]\ntype = \"redact\"\ninputs = [\"in\"]\n{all}\n"),
        "r",
        "",
    );
    assert_key_error(
        &src,
        "transforms.m.inputs",
        "without passing a `redact` transform",
    );
    // For sinks and the dead-letter output too.
    let src = format!(
        "[sources.in]\ntype = \"stdin\"\n[transforms.r]\ntype = \"redact\"\ninputs = [\"in\"]\n{all}\n\
         [sinks.out]\ntype = \"blackhole\"\ninputs = [\"r\"]\n[dead_letter]\nredact_with = \"r\"\n"
    );
    assert_key_error(
        &src,
        "sinks.out.inputs",
        "without passing a `redact` transform",
    );
    assert_key_error(
        &src,
        "dead_letter.redact_with",
        "is not a `redact` transform",
    );
    // One class left on is redaction.
    let one = all.replace("\"email\", ", "");
    let src = metrics_pipeline(
        &format!("[transforms.r]\ntype = \"redact\"\ninputs = [\"in\"]\n{one}\n"),
        "r",
        "",
    );
    load(&src).expect("a redact with one class on counts");
}

/// A component refused for its own keys is missing from the graph; the
/// graph errors that only follow from that (an input naming it, a section
/// left empty, redaction that it may have provided) are not shown beside
/// the real error, and the others still are. Decided on the error's kind,
/// not its wording.
#[test]
fn graph_errors_that_follow_from_a_broken_component_are_not_shown() {
    let src = OK.replace("query = 'severity >= \"INFO\"'", "query = 'severity >= '");
    let errs = load(&src).expect_err("a bad query is refused");
    assert_eq!(errs.errors.len(), 1, "{errs}");
    assert_eq!(errs.errors[0].key, "transforms.f.query", "{errs}");

    // The dead-letter output's own problem is not the broken transform's.
    let src = src.replace("[dead_letter]\nallow_unredacted = true\n", "");
    let errs = load(&src).expect_err("refused");
    let keys: Vec<&str> = errs.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["transforms.f.query", "dead_letter"], "{errs}");

    let broken = vec!["f".to_string()];
    let input = |input: &str| graph::GraphError::UnknownInput {
        section: "sinks",
        consumer: "out".into(),
        input: input.into(),
        input_is_sink: false,
    };
    assert!(input("f").may_follow_from(&broken));
    assert!(!input("g").may_follow_from(&broken));
    assert!(!graph::GraphError::Cycle(vec!["a".into(), "a".into()]).may_follow_from(&broken));
    assert!(graph::GraphError::NoSinks.may_follow_from(&broken));
    assert!(!graph::GraphError::NoSinks.may_follow_from(&[]));
}
