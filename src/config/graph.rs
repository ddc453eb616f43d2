//! Checks on the component graph: names resolve, no cycles, every sink
//! is fed, and every sink and every `log_metrics` transform is downstream
//! of a `redact` transform that redacts something.

use std::collections::{BTreeMap, BTreeSet};

use super::PipelineConfig;

/// Returns `(key path, message)` for each problem.
pub fn check(cfg: &PipelineConfig) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let key = |kind: &str, name: &str, field: &str| {
        vec![kind.to_string(), name.to_string(), field.to_string()]
    };

    for name in cfg.transforms.keys().chain(cfg.sinks.keys()) {
        if cfg.sources.contains_key(name)
            && (cfg.transforms.contains_key(name) || cfg.sinks.contains_key(name))
        {
            out.push((
                vec!["sources".into(), name.clone()],
                format!("the name `{name}` is used by more than one component"),
            ));
        }
    }
    for name in cfg.transforms.keys() {
        if cfg.sinks.contains_key(name) {
            out.push((
                vec!["sinks".into(), name.clone()],
                format!("the name `{name}` is used by more than one component"),
            ));
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
    for (kind, name, inputs) in edges {
        for i in inputs {
            if !producers.contains(i.as_str()) {
                let hint = if cfg.sinks.contains_key(i) {
                    " (it is a sink, which has no output)"
                } else {
                    ""
                };
                out.push((
                    key(kind, name, "inputs"),
                    format!("input `{i}` is not a source or transform{hint}"),
                ));
            }
        }
    }
    if cfg.sinks.is_empty() {
        out.push((vec!["sinks".into()], "the pipeline has no sinks".into()));
    }
    if cfg.sources.is_empty() {
        out.push((vec!["sources".into()], "the pipeline has no sources".into()));
    }
    if let Some(cycle) = find_cycle(cfg) {
        let first = cycle[0].clone();
        out.push((
            key("transforms", &first, "inputs"),
            format!("cycle: {}", cycle.join(" -> ")),
        ));
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
        for i in &sink.inputs {
            if let Some(src) = unredacted_path(cfg, i, &redacts) {
                out.push((
                    key("sinks", name, "inputs"),
                    format!("events from source `{src}` reach this sink without passing a `redact` transform (add one, or set allow_unredacted = true)"),
                ));
                break;
            }
        }
    }
    // log_metrics label values are an exit too (`/metrics`).
    for (name, t) in &cfg.transforms {
        if !t.inner.exports_labels() || t.allow_unredacted {
            continue;
        }
        for i in &t.inputs {
            if let Some(src) = unredacted_path(cfg, i, &redacts) {
                out.push((
                    key("transforms", name, "inputs"),
                    format!("events from source `{src}` reach this log_metrics transform without passing a `redact` transform, and its label values reach /metrics (add one upstream, or set allow_unredacted = true)"),
                ));
                break;
            }
        }
    }
    match (&cfg.dead_letter.redact_with, cfg.dead_letter.allow_unredacted) {
        (Some(r), _) if !redacts(r) => {
            out.push((vec!["dead_letter".into(), "redact_with".into()], format!("`{r}` is not a `redact` transform (or it has every class disabled)")));
        }
        (None, false) => out.push((
            vec!["dead_letter".into()],
            "dead letters must be redacted: set redact_with = \"NAME_OF_A_REDACT_TRANSFORM\" (or allow_unredacted = true)".into(),
        )),
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
