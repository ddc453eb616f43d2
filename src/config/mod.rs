//! The pipeline file: TOML, Vector-style.
//!
//! ```toml
//! [sources.containers]
//! type = "file"
//! include = ["/var/log/containers/*.log"]
//!
//! [transforms.route]
//! type = "filter"
//! inputs = ["containers"]
//! query = 'severity >= "INFO"'
//!
//! [sinks.out]
//! type = "console"
//! inputs = ["route"]
//! ```
//!
//! Loading goes raw text -> `${VAR}` interpolation -> TOML table ->
//! typed component configs (closed enums, `deny_unknown_fields`) ->
//! graph checks -> each component's pure `validate`. Every error names the
//! key path and the line; all errors are collected, not just the first.
//! Nothing here does network IO or builds a component: `sluice validate`
//! stops after this module.

mod graph;
mod interpolate;
mod locate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::sinks::SinkConfig;
use crate::sources::SourceConfig;
use crate::transforms::TransformConfig;

pub use interpolate::interpolate;

/// Settings that apply to the whole pipeline (`[global]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Where checkpoints, the dead-letter file and other state live.
    pub(crate) data_dir: PathBuf,
    /// Most events a source puts in one batch.
    pub(crate) batch_max_events: usize,
    /// Capacity of every channel between components, in batches. Small on
    /// purpose: a stalled sink stalls the sources instead of growing memory.
    pub(crate) channel_capacity: usize,
    /// On SIGTERM/SIGINT, how long to wait for in-flight events to drain
    /// before giving up (exit code 1, checkpoints not advanced past the
    /// undelivered events).
    pub(crate) shutdown_grace_secs: u64,
    /// Address of the `/metrics` and `/health/*` endpoints for `sluice run`.
    pub(crate) metrics_address: String,
}

impl GlobalConfig {
    /// What components are given to build themselves.
    pub fn build_context(
        &self,
        node: crate::node::NodeInfo,
        telemetry: std::sync::Arc<crate::telemetry::Telemetry>,
    ) -> crate::component::BuildContext {
        crate::component::BuildContext {
            data_dir: self.data_dir.clone(),
            shutdown_grace: std::time::Duration::from_secs(self.shutdown_grace_secs),
            node,
            telemetry,
        }
    }
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            data_dir: PathBuf::from("/var/lib/sluice"),
            batch_max_events: 1000,
            channel_capacity: 4,
            shutdown_grace_secs: 20,
            metrics_address: "127.0.0.1:9598".into(),
        }
    }
}

/// The dead-letter output (`[dead_letter]`): events that could not be
/// decoded or were refused downstream, one JSON object a line with a
/// `reason`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DeadLetterConfig {
    /// Defaults to `DATA_DIR/deadletter.ndjson`.
    pub(crate) path: Option<PathBuf>,
    /// Name of the `redact` transform whose rules are applied to every
    /// dead-letter record before it is written.
    pub(crate) redact_with: Option<String>,
    /// Write dead letters without redaction (refused by validation otherwise).
    pub(crate) allow_unredacted: bool,
}

#[derive(Debug, Clone)]
pub struct TransformOuter {
    pub(crate) inputs: Vec<String>,
    /// Opt out of the "every log_metrics is downstream of a redact" rule
    /// (its label values reach `/metrics`).
    pub(crate) allow_unredacted: bool,
    pub inner: TransformConfig,
    /// What `validate` computed, which the topology builds from. `None`
    /// only while loading a file whose validation failed (such a config
    /// is never returned).
    pub validated: Option<crate::transforms::Validated>,
}

#[derive(Debug, Clone)]
pub(crate) struct SinkOuter {
    pub(crate) inputs: Vec<String>,
    /// Opt out of the "every sink is downstream of a redact" rule.
    pub(crate) allow_unredacted: bool,
    pub(crate) inner: SinkConfig,
}

/// A loaded and validated pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub(crate) path: PathBuf,
    pub global: GlobalConfig,
    pub(crate) dead_letter: DeadLetterConfig,
    pub sources: BTreeMap<String, SourceConfig>,
    pub transforms: BTreeMap<String, TransformOuter>,
    pub(crate) sinks: BTreeMap<String, SinkOuter>,
}

impl PipelineConfig {
    pub(crate) fn dead_letter_path(&self) -> PathBuf {
        self.dead_letter
            .path
            .clone()
            .unwrap_or_else(|| self.global.data_dir.join("deadletter.ndjson"))
    }

    /// The pipeline file and every file it names (metric definitions, as
    /// their globs match now; hash keys): what `--watch-config` watches.
    pub(crate) fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.path.clone()];
        for t in self.transforms.values() {
            for f in t.inner.named_files() {
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
        files
    }
}

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// Dotted key path, e.g. `sinks.bq.inputs`.
    pub(crate) key: String,
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{l}: `{}`: {}", self.key, self.message),
            None => write!(f, " `{}`: {}", self.key, self.message),
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors {
    pub(crate) path: PathBuf,
    pub(crate) errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{} has {n} error{}:",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            writeln!(f, "  {}:{e}", self.path.display())?;
        }
        Ok(())
    }
}

/// Loads, interpolates (from the process environment) and validates.
pub fn load_file(path: &Path) -> Result<PipelineConfig, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        path: path.to_path_buf(),
        errors: vec![ConfigError {
            key: String::new(),
            line: None,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    load_str(&text, path, |k| std::env::var(k).ok())
}

/// Loads a pipeline from text; `path` is only used in messages.
pub fn load_str(
    text: &str,
    path: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<PipelineConfig, ConfigErrors> {
    let fail = |errors: Vec<ConfigError>| ConfigErrors {
        path: path.to_path_buf(),
        errors,
    };
    let resolved = interpolate(text, env).map_err(|missing| {
        fail(missing
            .into_iter()
            .map(|m| ConfigError {
                key: format!("${{{}}}", m.name),
                line: Some(m.line),
                message: format!("environment variable {} is not set and has no default (write ${{{}:-default}})", m.name, m.name),
            })
            .collect())
    })?;
    let table: toml::Table = toml::from_str(&resolved).map_err(|e| {
        let line = e
            .span()
            .map(|s| resolved[..s.start].matches('\n').count() + 1);
        fail(vec![ConfigError {
            key: String::new(),
            line,
            message: format!("not valid TOML: {}", e.message()),
        }])
    })?;
    let mut b = Builder {
        src: &resolved,
        errors: Vec::new(),
        broken: Vec::new(),
    };
    let cfg = b.build(table, path);
    if b.errors.is_empty() {
        Ok(cfg)
    } else {
        Err(fail(b.errors))
    }
}

struct Builder<'a> {
    src: &'a str,
    errors: Vec<ConfigError>,
    /// Components whose table did not deserialize (already reported).
    broken: Vec<String>,
}

impl Builder<'_> {
    fn err(&mut self, key: &[&str], message: impl Into<String>) {
        self.errors.push(ConfigError {
            key: key.join("."),
            line: locate::locate(self.src, key),
            message: message.into(),
        });
    }

    fn build(&mut self, mut table: toml::Table, path: &Path) -> PipelineConfig {
        let global = self.section::<GlobalConfig>(&mut table, "global");
        let dead_letter = self.section::<DeadLetterConfig>(&mut table, "dead_letter");
        let mut cfg = PipelineConfig {
            path: path.to_path_buf(),
            global,
            dead_letter,
            sources: BTreeMap::new(),
            transforms: BTreeMap::new(),
            sinks: BTreeMap::new(),
        };
        for (kind, value) in std::mem::take(&mut table) {
            let components = match value {
                toml::Value::Table(t) => t,
                _ if matches!(kind.as_str(), "sources" | "transforms" | "sinks") => {
                    self.err(
                        &[&kind],
                        "must be a table of components, e.g. [sources.NAME]",
                    );
                    continue;
                }
                _ => {
                    self.err(&[&kind], "unknown top-level key; expected one of `global`, `dead_letter`, `sources`, `transforms`, `sinks`");
                    continue;
                }
            };
            if !matches!(kind.as_str(), "sources" | "transforms" | "sinks") {
                self.err(&[&kind], "unknown top-level key; expected one of `global`, `dead_letter`, `sources`, `transforms`, `sinks`");
                continue;
            }
            for (name, body) in components {
                let key = [kind.as_str(), name.as_str()];
                let toml::Value::Table(mut body) = body else {
                    self.err(&key, "a component must be a table with a `type`");
                    continue;
                };
                if !body.contains_key("type") {
                    self.err(&key, "missing `type`");
                    continue;
                }
                match kind.as_str() {
                    "sources" => {
                        if body.contains_key("inputs") {
                            self.err(&[&kind, &name, "inputs"], "a source takes no `inputs`");
                            body.remove("inputs");
                        }
                        if let Some(c) = self.component::<SourceConfig>(&key, body) {
                            for e in c.validate() {
                                self.err(&[&kind, &name, &e.field], e.message);
                            }
                            cfg.sources.insert(name, c);
                        }
                    }
                    "transforms" => {
                        let inputs = self.inputs(&key, &mut body);
                        let allow_unredacted = self.allow_unredacted(&kind, &name, &mut body);
                        if let Some(mut c) = self.component::<TransformConfig>(&key, body) {
                            if allow_unredacted && !c.exports_labels() {
                                self.err(
                                    &[&kind, &name, "allow_unredacted"],
                                    "only a `log_metrics` transform takes allow_unredacted",
                                );
                            }
                            c.resolve_paths(path.parent());
                            let validated = match c.validate() {
                                Ok(v) => Some(v),
                                Err(errors) => {
                                    for e in errors {
                                        self.err(&[&kind, &name, &e.field], e.message);
                                    }
                                    None
                                }
                            };
                            cfg.transforms.insert(
                                name,
                                TransformOuter {
                                    inputs,
                                    allow_unredacted,
                                    inner: c,
                                    validated,
                                },
                            );
                        }
                    }
                    "sinks" => {
                        let inputs = self.inputs(&key, &mut body);
                        let allow_unredacted = self.allow_unredacted(&kind, &name, &mut body);
                        if let Some(c) = self.component::<SinkConfig>(&key, body) {
                            for e in c.validate() {
                                self.err(&[&kind, &name, &e.field], e.message);
                            }
                            cfg.sinks.insert(
                                name,
                                SinkOuter {
                                    inputs,
                                    allow_unredacted,
                                    inner: c,
                                },
                            );
                        }
                    }
                    _ => unreachable!("non-component keys were handled above"),
                }
            }
        }
        // Graph errors are reported with the others, except those that
        // only follow from a component already reported as broken (it is
        // missing from the graph).
        for e in graph::check(&cfg) {
            if e.may_follow_from(&self.broken) {
                continue;
            }
            let key = e.key();
            let parts: Vec<&str> = key.iter().map(String::as_str).collect();
            self.err(&parts, e.to_string());
        }
        cfg
    }

    /// Takes and deserializes an optional top-level section.
    fn section<T: DeserializeOwned + Default>(&mut self, table: &mut toml::Table, name: &str) -> T {
        match table.remove(name) {
            None => T::default(),
            Some(toml::Value::Table(t)) => self.typed(&[name], t).unwrap_or_default(),
            Some(_) => {
                // Not silently the defaults: `global = 5` would otherwise
                // put data_dir at /var/lib/sluice.
                self.err(&[name], format!("must be a table ([{name}] with its keys)"));
                T::default()
            }
        }
    }

    /// Takes the optional `allow_unredacted` flag of a sink or transform.
    fn allow_unredacted(&mut self, kind: &str, name: &str, body: &mut toml::Table) -> bool {
        match body.remove("allow_unredacted") {
            None => false,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => {
                self.err(&[kind, name, "allow_unredacted"], "must be true or false");
                false
            }
        }
    }

    fn inputs(&mut self, key: &[&str; 2], body: &mut toml::Table) -> Vec<String> {
        let k = [key[0], key[1], "inputs"];
        match body.remove("inputs") {
            None => {
                self.err(
                    &k,
                    "missing `inputs`: name the sources or transforms this reads from",
                );
                Vec::new()
            }
            Some(toml::Value::Array(a)) => {
                let mut out = Vec::new();
                for v in a {
                    match v {
                        toml::Value::String(s) => out.push(s),
                        _ => self.err(&k, "must be a list of component names (strings)"),
                    }
                }
                if out.is_empty() {
                    self.err(
                        &k,
                        "is empty: a component with no input never receives events",
                    );
                }
                out
            }
            Some(_) => {
                self.err(
                    &k,
                    "must be a list of component names, e.g. inputs = [\"source\"]",
                );
                Vec::new()
            }
        }
    }

    /// Deserializes a component table into its registry enum. The enums are
    /// externally tagged (`{TYPE: {fields}}`) rather than `tag = "type"`,
    /// because serde buffers internally tagged content and loses the path
    /// of a bad field; wrapping keeps every error's key path exact.
    fn component<T: DeserializeOwned>(&mut self, key: &[&str], mut body: toml::Table) -> Option<T> {
        let ty = match body.remove("type") {
            Some(toml::Value::String(t)) => t,
            _ => {
                let k: Vec<&str> = key.iter().copied().chain(["type"]).collect();
                self.err(&k, "must be a string naming the component type");
                self.broken
                    .push(key.last().copied().unwrap_or_default().to_string());
                return None;
            }
        };
        let mut wrapped = toml::Table::new();
        wrapped.insert(ty, toml::Value::Table(body));
        let c = self.deserialize(key, wrapped, true);
        if c.is_none() {
            self.broken
                .push(key.last().copied().unwrap_or_default().to_string());
        }
        c
    }

    /// Deserializes a table into `T`, reporting the failing key path.
    fn typed<T: DeserializeOwned>(&mut self, key: &[&str], body: toml::Table) -> Option<T> {
        self.deserialize(key, body, false)
    }

    fn deserialize<T: DeserializeOwned>(
        &mut self,
        key: &[&str],
        body: toml::Table,
        tagged: bool,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(body)) {
            Ok(v) => Some(v),
            Err(e) => {
                let inner = e.path().to_string();
                let message = e.inner().message().to_string();
                let mut full: Vec<String> = key.iter().map(|s| s.to_string()).collect();
                let mut segments: Vec<String> = if inner == "." {
                    Vec::new()
                } else {
                    inner
                        .split('.')
                        .map(|s| s.split('[').next().unwrap_or(s).to_string())
                        .collect()
                };
                if tagged {
                    // The first segment is the type we wrapped with.
                    if segments.is_empty() {
                        segments.push("type".into());
                    } else {
                        segments.remove(0);
                    }
                }
                full.extend(segments);
                // serde names the offending unknown key only in its message.
                if let Some(field) = message
                    .strip_prefix("unknown field `")
                    .and_then(|r| r.split('`').next())
                {
                    if full.last().map(String::as_str) != Some(field) {
                        full.push(field.to_string());
                    }
                }
                let parts: Vec<&str> = full.iter().map(String::as_str).collect();
                self.err(&parts, message);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
