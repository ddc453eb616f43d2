//! Checks on the component graph: names resolve, no cycles, every sink
//! is fed, and every sink and every `log_metrics` transform is downstream
//! of a `redact` transform that redacts something.

use std::collections::{BTreeMap, BTreeSet};

use super::PipelineConfig;

/// A problem with how the components connect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GraphError {
    /// A transform or sink has the name of another component.
    #[error("the name `{name}` is used by more than one component")]
    DuplicateName { section: &'static str, name: String },
    #[error("input `{input}` is not a source or transform{}", if *.input_is_sink { " (it is a sink, which has no output)" } else { "" })]
    UnknownInput {
        section: &'static str,
        consumer: String,
        input: String,
        input_is_sink: bool,
    },
    #[error("the pipeline has no sinks")]
    NoSinks,
    #[error("the pipeline has no sources")]
    NoSources,
    /// Transforms feeding each other, first one repeated at the end.
    #[error("cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("events from source `{from}` reach this sink without passing a `redact` transform (add one, or set allow_unredacted = true)")]
    UnredactedSink { sink: String, from: String },
    #[error("events from source `{from}` reach this log_metrics transform without passing a `redact` transform, and its label values reach /metrics (add one upstream, or set allow_unredacted = true)")]
    UnredactedLabels { transform: String, from: String },
    #[error("`{0}` is not a `redact` transform (or it has every class disabled)")]
    DeadLetterRedactWithNotRedact(String),
    #[error("dead letters must be redacted: set redact_with = \"NAME_OF_A_REDACT_TRANSFORM\" (or allow_unredacted = true)")]
    DeadLetterUnredacted,
}

impl GraphError {
    /// The key path the error is reported at.
    pub(crate) fn key(&self) -> Vec<String> {
        let at = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect();
        match self {
            GraphError::DuplicateName { section, name } => at(&[section, name]),
            GraphError::UnknownInput {
                section, consumer, ..
            } => at(&[section, consumer, "inputs"]),
            GraphError::NoSinks => at(&["sinks"]),
            GraphError::NoSources => at(&["sources"]),
            GraphError::Cycle(c) => at(&["transforms", &c[0], "inputs"]),
            GraphError::UnredactedSink { sink, .. } => at(&["sinks", sink, "inputs"]),
            GraphError::UnredactedLabels { transform, .. } => {
                at(&["transforms", transform, "inputs"])
            }
            GraphError::DeadLetterRedactWithNotRedact(_) => at(&["dead_letter", "redact_with"]),
            GraphError::DeadLetterUnredacted => at(&["dead_letter"]),
        }
    }

    /// Whether this error may only follow from components already reported
    /// as broken (they are missing from the graph): a reference to one of
    /// them, a section left empty, or a redact transform that may be the
    /// broken one. Such errors are not shown beside the real one.
    pub(crate) fn may_follow_from(&self, broken: &[String]) -> bool {
        let is_broken = |n: &str| broken.iter().any(|b| b == n);
        match self {
            GraphError::DuplicateName { name, .. } => is_broken(name),
            GraphError::UnknownInput { input, .. } => is_broken(input),
            GraphError::DeadLetterRedactWithNotRedact(r) => is_broken(r),
            GraphError::NoSinks
            | GraphError::NoSources
            | GraphError::UnredactedSink { .. }
            | GraphError::UnredactedLabels { .. } => !broken.is_empty(),
            GraphError::Cycle(_) | GraphError::DeadLetterUnredacted => false,
        }
    }
}

/// Every problem with how the components connect.
pub(crate) fn check(cfg: &PipelineConfig) -> Vec<GraphError> {
    let mut out = Vec::new();
    for name in cfg.transforms.keys().chain(cfg.sinks.keys()) {
        if cfg.sources.contains_key(name)
            && (cfg.transforms.contains_key(name) || cfg.sinks.contains_key(name))
        {
            out.push(GraphError::DuplicateName {
                section: "sources",
                name: name.clone(),
            });
        }
    }
    for name in cfg.transforms.keys() {
        if cfg.sinks.contains_key(name) {
            out.push(GraphError::DuplicateName {
                section: "sinks",
                name: name.clone(),
            });
        }
    }
    let producers: BTreeSet<&str> = cfg
        .sources
        .keys()
        .chain(cfg.transforms.keys())
        .map(String::as_str)
        .collect();
    let edges = cfg
        .transforms
        .iter()
        .map(|(n, t)| ("transforms", n, &t.inputs))
        .chain(cfg.sinks.iter().map(|(n, s)| ("sinks", n, &s.inputs)));
    for (section, name, inputs) in edges {
        for i in inputs {
            if !producers.contains(i.as_str()) {
                out.push(GraphError::UnknownInput {
                    section,
                    consumer: name.clone(),
                    input: i.clone(),
                    input_is_sink: cfg.sinks.contains_key(i),
                });
            }
        }
    }
    if cfg.sinks.is_empty() {
        out.push(GraphError::NoSinks);
    }
    if cfg.sources.is_empty() {
        out.push(GraphError::NoSources);
    }
    if let Some(cycle) = find_cycle(cfg) {
        out.push(GraphError::Cycle(cycle));
    }
    if !out.is_empty() {
        return out;
    }

    // Redaction coverage: a sink must have a redact transform on every path
    // from every source.
    let redacts = |n: &str| cfg.transforms.get(n).is_some_and(|t| t.inner.redacts());
    for (name, sink) in &cfg.sinks {
        if sink.allow_unredacted {
            continue;
        }
        if let Some(from) = sink
            .inputs
            .iter()
            .find_map(|i| unredacted_path(cfg, i, &redacts))
        {
            out.push(GraphError::UnredactedSink {
                sink: name.clone(),
                from,
            });
        }
    }
    // log_metrics label values are an exit too (`/metrics`).
    for (name, t) in &cfg.transforms {
        if !t.inner.exports_labels() || t.allow_unredacted {
            continue;
        }
        if let Some(from) = t
            .inputs
            .iter()
            .find_map(|i| unredacted_path(cfg, i, &redacts))
        {
            out.push(GraphError::UnredactedLabels {
                transform: name.clone(),
                from,
            });
        }
    }
    match (
        &cfg.dead_letter.redact_with,
        cfg.dead_letter.allow_unredacted,
    ) {
        (Some(r), _) if !redacts(r) => {
            out.push(GraphError::DeadLetterRedactWithNotRedact(r.clone()))
        }
        (None, false) => out.push(GraphError::DeadLetterUnredacted),
        _ => {}
    }
    out
}

/// A source reachable from `node` going upstream without crossing a redact.
fn unredacted_path(
    cfg: &PipelineConfig,
    node: &str,
    redacts: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if redacts(node) {
        return None;
    }
    if cfg.sources.contains_key(node) {
        return Some(node.to_string());
    }
    let t = cfg.transforms.get(node)?;
    t.inputs
        .iter()
        .find_map(|i| unredacted_path(cfg, i, redacts))
}

fn find_cycle(cfg: &PipelineConfig) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        n: &str,
        cfg: &PipelineConfig,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut c = stack[start..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            None => {}
        }
        let t = cfg.transforms.get(n)?;
        marks.insert(n.to_string(), Mark::Visiting);
        stack.push(n.to_string());
        for i in &t.inputs {
            if let Some(c) = visit(i, cfg, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in cfg.transforms.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, cfg, &mut marks, &mut stack) {
            return Some(c);
        }
    }
    None
}
