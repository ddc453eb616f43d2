//! `type = "log_metrics"`: Cloud Logging log-based metrics, derived on the
//! node and served to Prometheus.
//!
//! ```toml
//! [transforms.metrics]
//! type = "log_metrics"
//! inputs = ["redact"]
//! definitions = ["metrics/*.yaml"]   # relative to this pipeline file
//!
//! [[transforms.metrics.metrics]]     # or inline, same field names
//! name = "http_errors"
//! filter = "httpRequest.status>=400"
//! metricDescriptor = { labels = [{ key = "status_code" }] }
//! labelExtractors = { status_code = "EXTRACT(httpRequest.status)" }
//! ```
//!
//! Definitions are LogMetric documents exactly as gcloud prints them (see
//! [`definition`]). The transform only observes: every event passes
//! through unchanged and in order. Place it right after `redact` and
//! before any routing filter: in Cloud Logging, log-based metrics see
//! every ingested entry whatever the sinks select, and label values must
//! come from redacted events only.
//!
//! Counters (DELTA INT64) count matching entries; distributions (DELTA
//! DISTRIBUTION) record `valueExtractor`'s number into histogram buckets
//! from `bucketOptions`. A value that does not extract or convert is not
//! recorded; a label that does not extract takes its type's default
//! (`""` STRING, `0` INT64, `false` BOOL).

pub(crate) mod definition;
pub(crate) mod extract;
pub(crate) mod registry;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use self::definition::{Compiled, LogMetric};
use self::registry::Registry;
use super::Transform;
use crate::component::FieldError;
use crate::component::TransformContext;
use crate::event::{Batch, Event};
use crate::telemetry::{DerivedMetrics, Telemetry};

/// Default for `max_series_per_metric`.
pub(crate) const DEFAULT_MAX_SERIES: usize = 10_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// LogMetric files or globs (`*.yaml`, `*.json`; JSON or YAML, one
    /// metric or a list per file). Relative paths are resolved against the
    /// folder of the pipeline file, so a pipeline and its metrics can move
    /// together. A glob that matches nothing is an error.
    #[serde(default)]
    pub(crate) definitions: Vec<String>,
    /// LogMetric definitions written inline (`[[transforms.NAME.metrics]]`),
    /// with the same field names as the files.
    #[serde(default)]
    pub(crate) metrics: Vec<LogMetric>,
    /// Most distinct label sets kept per metric; further label sets are
    /// counted in one series labelled `__overflow__`.
    #[serde(default = "default_max_series")]
    pub(crate) max_series_per_metric: usize,
    /// The pipeline file's folder, set by config loading.
    #[serde(skip)]
    pub(crate) base_dir: Option<PathBuf>,
}

fn default_max_series() -> usize {
    DEFAULT_MAX_SERIES
}

/// A definition and where it came from (for messages).
struct Loaded {
    origin: Origin,
    metric: LogMetric,
}

enum Origin {
    File(PathBuf),
    Inline(usize),
}

impl Config {
    /// Records the pipeline file's folder for relative `definitions`.
    pub(crate) fn resolve_paths(&mut self, base: Option<&Path>) {
        self.base_dir = base.map(Path::to_path_buf);
    }

    /// The definition files the globs match now.
    pub(crate) fn definition_files(&self) -> Vec<PathBuf> {
        self.files().0
    }

    /// The definition files, in order, with duplicates removed.
    fn files(&self) -> (Vec<PathBuf>, Vec<FieldError>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for pat in &self.definitions {
            let p = Path::new(pat);
            let full = match &self.base_dir {
                Some(b) if p.is_relative() => b.join(p),
                _ => p.to_path_buf(),
            };
            let full_s = full.to_string_lossy().into_owned();
            let is_glob = pat.contains(['*', '?', '[']);
            if !is_glob {
                if !files.contains(&full) {
                    files.push(full);
                }
                continue;
            }
            match glob::glob(&full_s) {
                Err(e) => errors.push(FieldError::new(
                    "definitions",
                    format!("`{pat}` is not a valid glob: {e}"),
                )),
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    found.sort();
                    if found.is_empty() {
                        errors.push(FieldError::new(
                            "definitions",
                            format!("`{full_s}` matches no file"),
                        ));
                    }
                    for f in found {
                        if !files.contains(&f) {
                            files.push(f);
                        }
                    }
                }
            }
        }
        (files, errors)
    }

    /// Reads every definition. This is the one place validation reads
    /// files: loading the definitions is part of loading the config (as
    /// reading the pipeline file is), and `sluice validate` must catch a
    /// bad filter in them before anything runs.
    fn load(&self) -> (Vec<Loaded>, Vec<FieldError>) {
        let (files, mut errors) = self.files();
        let mut out = Vec::new();
        for f in files {
            match definition::load_file(&f) {
                Ok(ms) => out.extend(ms.into_iter().map(|metric| Loaded {
                    origin: Origin::File(f.clone()),
                    metric,
                })),
                Err(e) => errors.push(FieldError::new(
                    "definitions",
                    format!("{}: {e}", f.display()),
                )),
            }
        }
        for (i, m) in self.metrics.iter().enumerate() {
            out.push(Loaded {
                origin: Origin::Inline(i),
                metric: m.clone(),
            });
        }
        (out, errors)
    }

    /// Loads and compiles every definition, collecting all errors.
    fn compile(&self) -> (Vec<Compiled>, Vec<FieldError>) {
        let (loaded, mut errors) = self.load();
        let mut compiled: Vec<Compiled> = Vec::new();
        for l in loaded {
            let (key, at) = match &l.origin {
                Origin::File(p) => ("definitions", p.display().to_string()),
                Origin::Inline(i) => ("metrics", format!("metrics[{i}]")),
            };
            match l.metric.compile() {
                Ok(Some(c)) => {
                    if compiled.iter().any(|o| o.prom_name == c.prom_name) {
                        errors.push(FieldError::new(
                            key,
                            format!(
                                "{at}: metric `{}`: another definition already uses the Prometheus name `{}`",
                                c.name, c.prom_name
                            ),
                        ));
                    } else if crate::telemetry::is_internal_name(&c.prom_name) {
                        errors.push(FieldError::new(
                            key,
                            format!(
                                "{at}: metric `{}`: the Prometheus name `{}` is one of sluice's internal metrics",
                                c.name, c.prom_name
                            ),
                        ));
                    } else {
                        compiled.push(c);
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(FieldError::new(
                    key,
                    format!("{at}: metric `{}`: {e}", l.metric.name),
                )),
            }
        }
        if self.definitions.is_empty() && self.metrics.is_empty() {
            errors.push(FieldError::new(
                "definitions",
                "no metrics: list definition files in `definitions` or write `[[...metrics]]` tables",
            ));
        }
        (compiled, errors)
    }

    /// Reads and compiles every definition once; `build` uses the result.
    pub fn validate(&self) -> Result<Prepared, Vec<FieldError>> {
        let (compiled, mut errors) = self.compile();
        if self.max_series_per_metric == 0 {
            errors.push(FieldError::new(
                "max_series_per_metric",
                "must be at least 1",
            ));
        }
        if errors.is_empty() {
            Ok(Prepared {
                compiled,
                max_series: self.max_series_per_metric,
            })
        } else {
            Err(errors)
        }
    }
}

/// Definitions read and compiled by `validate`.
#[derive(Debug, Clone)]
pub struct Prepared {
    compiled: Vec<Compiled>,
    max_series: usize,
}

impl Prepared {
    pub fn build(&self, name: &str, telemetry: &Arc<Telemetry>) -> Result<LogMetrics, String> {
        let registry = Registry::new(self.compiled.clone(), self.max_series, |m| {
            telemetry.log_metric_overflow(m)
        });
        let shared = Arc::new(Shared(Mutex::new(registry)));
        telemetry.add_derived_metrics(name, shared.clone())?;
        Ok(LogMetrics { registry: shared })
    }
}

/// The registry, shared between the transform (writes, once per batch)
/// and the `/metrics` endpoint or dry-run report (reads).
pub(crate) struct Shared(Mutex<Registry>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves counts that are still
        // valid numbers; keep serving them.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl DerivedMetrics for Shared {
    fn render(&self, out: &mut String) {
        self.lock().render(out);
    }

    fn names(&self) -> Vec<String> {
        self.lock().names().map(str::to_string).collect()
    }
}

pub struct LogMetrics {
    registry: Arc<Shared>,
}

impl Transform for LogMetrics {
    fn process(&mut self, batch: Batch, out: &mut Vec<Event>, _cx: &mut TransformContext) {
        {
            let mut r = self.registry.lock();
            for e in &batch.events {
                r.observe(&e.log);
            }
        }
        out.extend(batch.events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_text: &str) -> Config {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn relative_definitions_resolve_against_the_pipeline_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("m")).unwrap();
        std::fs::write(
            dir.path().join("m/a.yaml"),
            "name: a\nfilter: severity>=ERROR\ncreateTime: '2025-01-01T00:00:00Z'\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("m/b.json"),
            r#"[{"name": "b", "filter": ""}, {"name": "c", "filter": "", "disabled": true}]"#,
        )
        .unwrap();
        let mut c = config(r#"definitions = ["m/*.yaml", "m/b.json"]"#);
        assert!(
            !c.validate().err().unwrap_or_default().is_empty(),
            "relative to the working dir: not found"
        );
        c.resolve_paths(Some(dir.path()));
        assert_eq!(c.validate().err().unwrap_or_default(), vec![]);
        let (compiled, _) = c.compile();
        let names: Vec<&str> = compiled.iter().map(|c| c.prom_name.as_str()).collect();
        assert_eq!(names, ["a_total", "b_total"]);
    }

    #[test]
    fn errors_name_the_file_the_metric_and_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.yaml");
        std::fs::write(&f, "name: broken\nfilter: 'severity >= ERROR AND ('\n").unwrap();
        let mut c = config(r#"definitions = ["bad.yaml"]"#);
        c.resolve_paths(Some(dir.path()));
        let e = c.validate().err().unwrap_or_default();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "definitions");
        let m = &e[0].message;
        assert!(
            m.contains(&f.display().to_string())
                && m.contains("`broken`")
                && m.contains("filter: column"),
            "{m}"
        );

        std::fs::write(&f, "name: x\nfilter: ''\nlabelExtractor: {}\n").unwrap();
        let m = &c.validate().err().unwrap_or_default()[0].message;
        assert!(m.contains("labelExtractor"), "{m}");
    }

    #[test]
    fn inline_definitions_and_collisions() {
        let c = config(
            r#"
            [[metrics]]
            name = "component_errors"
            filter = ""
            [[metrics]]
            name = "dup"
            filter = ""
            [[metrics]]
            name = "dup_total"
            filter = ""
            [[metrics]]
            name = "latency"
            filter = ""
            valueExtractor = 'REGEXP_EXTRACT(httpRequest.latency, "(\d+)(s)")'
            metricDescriptor = { metricKind = "DELTA", valueType = "DISTRIBUTION" }
            bucketOptions = { linearBuckets = { numFiniteBuckets = 3, width = 1 } }
            "#,
        );
        let e = c.validate().err().unwrap_or_default();
        let msgs: Vec<&str> = e.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(e.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("internal"), "{msgs:?}");
        assert!(
            msgs[1].contains("metrics[2]") && msgs[1].contains("dup_total"),
            "{msgs:?}"
        );
        assert!(
            msgs[2].contains("metrics[3]") && msgs[2].contains("exactly one capture group"),
            "{msgs:?}"
        );
        assert!(config("").validate().err().unwrap_or_default()[0]
            .message
            .contains("no metrics"));
    }

    #[test]
    fn passes_every_event_through_unchanged() {
        let c = config(
            r#"
            [[metrics]]
            name = "all"
            filter = ""
            "#,
        );
        let telemetry = Telemetry::new();
        let mut t = c.validate().unwrap().build("m", &telemetry).unwrap();
        let logs: Vec<serde_json::Value> = (0..5).map(|i| serde_json::json!({"i": i})).collect();
        let batch = Batch::new(logs.iter().map(|l| Event::new(l.clone(), 10)).collect());
        let mut out = Vec::new();
        t.process(batch, &mut out, &mut TransformContext::default());
        let got: Vec<serde_json::Value> = out
            .iter()
            .map(|e| serde_json::Value::clone(&e.log))
            .collect();
        assert_eq!(got, logs);
        let mut text = String::new();
        telemetry.render_derived(&mut text);
        assert!(text.contains("\nall_total 5\n"), "{text}");
        // A second transform may not register the same metric names.
        assert!(c.validate().unwrap().build("m2", &telemetry).is_err());
    }
}
