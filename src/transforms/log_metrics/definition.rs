//! The LogMetric model, as `gcloud logging metrics describe NAME
//! --format=json` (or `--format=yaml`) prints it, and its compiled form.
//!
//! Field names and meanings follow Google's LogMetric reference
//! (`logging.googleapis.com/v2`): a user can export a metric from Cloud
//! Logging and load it unchanged. Output-only fields that gcloud prints
//! (`createTime`, `updateTime`, `resourceName`, `metricDescriptor.name`,
//! `.type`, `.displayName`, ...) are accepted and ignored; any other
//! unknown field is refused, so a typo does not silently change a metric.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::extract::Extractor;
use crate::logging_query::Query;

/// One log-based metric definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LogMetric {
    /// The metric identifier, e.g. `http_errors` or `nginx/requests`.
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Which entries the metric observes, in the Cloud Logging query language.
    #[serde(default)]
    pub(crate) filter: String,
    /// A disabled metric records nothing (Google: "does not generate any points").
    #[serde(default)]
    pub(crate) disabled: bool,
    #[serde(default)]
    pub(crate) metric_descriptor: Option<MetricDescriptor>,
    /// Required for DISTRIBUTION metrics: where the recorded value comes from.
    #[serde(default)]
    pub(crate) value_extractor: Option<String>,
    /// Label key -> extractor expression; every declared label needs one.
    #[serde(default)]
    pub(crate) label_extractors: BTreeMap<String, String>,
    /// Required for DISTRIBUTION metrics: the histogram's bucket bounds.
    #[serde(default)]
    pub(crate) bucket_options: Option<BucketOptions>,
    // Output-only or irrelevant on the node; accepted so exports load as-is.
    #[serde(default, rename = "createTime")]
    _create_time: Option<IgnoredAny>,
    #[serde(default, rename = "updateTime")]
    _update_time: Option<IgnoredAny>,
    #[serde(default, rename = "resourceName")]
    _resource_name: Option<IgnoredAny>,
    #[serde(default, rename = "bucketName")]
    _bucket_name: Option<IgnoredAny>,
    #[serde(default, rename = "version")]
    _version: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MetricDescriptor {
    /// Only `DELTA` is valid for log-based metrics (the default).
    #[serde(default)]
    pub(crate) metric_kind: Option<String>,
    /// `INT64` (a counter, the default) or `DISTRIBUTION`.
    #[serde(default)]
    pub(crate) value_type: Option<String>,
    /// Informational; the Prometheus name is not changed by it.
    #[serde(default)]
    #[allow(dead_code)] // accepted in LogMetric definitions; sluice has no use for it
    pub(crate) unit: Option<String>,
    #[serde(default)]
    pub(crate) labels: Vec<LabelDescriptor>,
    #[serde(default, rename = "name")]
    _name: Option<IgnoredAny>,
    #[serde(default, rename = "type")]
    _type: Option<IgnoredAny>,
    #[serde(default, rename = "displayName")]
    _display_name: Option<IgnoredAny>,
    #[serde(default, rename = "description")]
    _description: Option<IgnoredAny>,
    #[serde(default, rename = "metadata")]
    _metadata: Option<IgnoredAny>,
    #[serde(default, rename = "launchStage")]
    _launch_stage: Option<IgnoredAny>,
    #[serde(default, rename = "monitoredResourceTypes")]
    _monitored_resource_types: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LabelDescriptor {
    pub(crate) key: String,
    /// `STRING` (default), `BOOL` or `INT64`; Prometheus labels are text
    /// either way, so this only documents the label.
    #[serde(default)]
    pub(crate) value_type: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // accepted in LogMetric definitions; sluice has no use for it
    pub(crate) description: Option<String>,
}

/// Exactly one of the three bucket layouts of `google.api.Distribution`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct BucketOptions {
    #[serde(default)]
    pub(crate) linear_buckets: Option<Linear>,
    #[serde(default)]
    pub(crate) exponential_buckets: Option<Exponential>,
    #[serde(default)]
    pub(crate) explicit_buckets: Option<Explicit>,
}

// Numbers default to 0 because proto3 JSON (and so gcloud) omits zero
// values: an `offset` of 0 is simply absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Linear {
    #[serde(default)]
    pub(crate) num_finite_buckets: u32,
    #[serde(default)]
    pub(crate) width: f64,
    #[serde(default)]
    pub(crate) offset: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Exponential {
    #[serde(default)]
    pub(crate) num_finite_buckets: u32,
    #[serde(default)]
    pub(crate) growth_factor: f64,
    #[serde(default)]
    pub(crate) scale: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Explicit {
    #[serde(default)]
    pub(crate) bounds: Vec<f64>,
}

/// Most finite buckets a distribution may have (Google's own limit is
/// 200 for log-based metrics; more would only cost memory per series).
const MAX_BUCKETS: u32 = 200;

impl BucketOptions {
    /// The finite upper bounds, strictly increasing. Google's buckets are
    /// `[lower, upper)`; Prometheus's `le` buckets are `(lower, upper]`, so
    /// a value exactly on a bound lands one bucket lower than in Cloud
    /// Monitoring. The bounds themselves are the same.
    pub(crate) fn bounds(&self) -> Result<Vec<f64>, String> {
        let set = [
            self.linear_buckets.is_some(),
            self.exponential_buckets.is_some(),
            self.explicit_buckets.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err("bucketOptions must set exactly one of linearBuckets, exponentialBuckets, explicitBuckets".into());
        }
        let bounds: Vec<f64> = if let Some(l) = &self.linear_buckets {
            check_count(l.num_finite_buckets, "linearBuckets")?;
            if !(l.width > 0.0 && l.width.is_finite() && l.offset.is_finite()) {
                return Err("linearBuckets.width must be > 0 and offset finite".into());
            }
            (0..=l.num_finite_buckets)
                .map(|i| l.offset + l.width * f64::from(i))
                .collect()
        } else if let Some(e) = &self.exponential_buckets {
            check_count(e.num_finite_buckets, "exponentialBuckets")?;
            let growth_ok = e.growth_factor > 1.0 && e.growth_factor.is_finite();
            if !(growth_ok && e.scale > 0.0 && e.scale.is_finite()) {
                return Err("exponentialBuckets.growthFactor must be > 1 and scale > 0".into());
            }
            (0..=e.num_finite_buckets)
                .map(|i| e.scale * e.growth_factor.powi(i as i32))
                .collect()
        } else {
            let b = &self
                .explicit_buckets
                .as_ref()
                .expect("exactly one layout is set")
                .bounds;
            if b.is_empty() || b.len() > MAX_BUCKETS as usize + 1 {
                return Err(format!(
                    "explicitBuckets.bounds must have 1 to {} values",
                    MAX_BUCKETS + 1
                ));
            }
            b.clone()
        };
        if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1]) {
            return Err("bucket bounds must be finite and strictly increasing".into());
        }
        Ok(bounds)
    }
}

fn check_count(n: u32, what: &str) -> Result<(), String> {
    if n == 0 || n > MAX_BUCKETS {
        return Err(format!(
            "{what}.numFiniteBuckets must be between 1 and {MAX_BUCKETS}"
        ));
    }
    Ok(())
}

/// What a metric records per matching entry.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// DELTA INT64: one per matching entry.
    Counter,
    /// DELTA DISTRIBUTION: the extracted value into buckets with these
    /// finite upper bounds.
    Histogram { value: Extractor, bounds: Vec<f64> },
}

/// A validated, ready-to-evaluate metric.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// The LogMetric name, for messages and the overflow counter's label.
    pub(crate) name: String,
    /// The Prometheus family name (`_total` included for counters).
    pub(crate) prom_name: String,
    pub(crate) help: String,
    pub(crate) filter: Query,
    pub(crate) kind: Kind,
    /// Prometheus label names, in the order of `labels`.
    pub(crate) label_names: Vec<String>,
    pub(crate) labels: Vec<Extractor>,
    /// Each label's `valueType`, in the order of `labels`.
    pub(crate) label_types: Vec<LabelType>,
}

/// A LabelDescriptor `valueType`. LogMetric reference, `labelExtractors`:
/// "The extracted value is converted to the type defined in the label
/// descriptor. If either the extraction or the type conversion fails, the
/// label will have a default value. The default value for a string label
/// is an empty string, for an integer label its 0, and for a boolean label
/// its false."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LabelType {
    String,
    Int64,
    Bool,
}

impl LabelType {
    /// `None` (unset) is STRING, the LabelDescriptor default.
    pub(crate) fn parse(value_type: Option<&str>) -> LabelType {
        match value_type {
            Some("INT64") => LabelType::Int64,
            Some("BOOL") => LabelType::Bool,
            _ => LabelType::String,
        }
    }

    pub(crate) fn default_value(self) -> &'static str {
        match self {
            LabelType::String => "",
            LabelType::Int64 => "0",
            LabelType::Bool => "false",
        }
    }

    /// The extracted text converted to this type, written back in its
    /// canonical form; false when it does not convert.
    pub(crate) fn convert(self, s: &mut String, start: usize) -> bool {
        match self {
            LabelType::String => true,
            LabelType::Int64 => match s[start..].trim().parse::<i64>() {
                Ok(i) => {
                    // Rewritten in place: the key buffer's capacity is
                    // reused, so this does not allocate per entry.
                    s.truncate(start);
                    let _ = std::fmt::Write::write_fmt(s, format_args!("{i}"));
                    true
                }
                Err(_) => false,
            },
            LabelType::Bool => {
                let v = s[start..].trim();
                let b = if v.eq_ignore_ascii_case("true") {
                    "true"
                } else if v.eq_ignore_ascii_case("false") {
                    "false"
                } else {
                    return false;
                };
                if s[start..] != *b {
                    s.truncate(start);
                    s.push_str(b);
                }
                true
            }
        }
    }
}

/// Turns a LogMetric name into a Prometheus metric name: characters
/// outside `[a-zA-Z0-9_:]` become `_`, a leading digit gets a `_` prefix,
/// and counters end in `_total` exactly once.
pub(crate) fn prometheus_name(name: &str, counter: bool) -> String {
    let mut s = prometheus_identifier(name, true);
    if counter && !s.ends_with("_total") {
        s.push_str("_total");
    }
    s
}

/// A label key as a Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
fn label_name(key: &str) -> String {
    prometheus_identifier(key, false)
}

/// Prometheus's identifier rule, for metric names (which may hold `:`) and
/// label names (which may not): other characters become `_`, and a name
/// that is empty or starts with a digit gets a leading `_`.
fn prometheus_identifier(s: &str, colon: bool) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A problem in one definition: the field inside the LogMetric and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub(crate) struct DefinitionError {
    pub(crate) field: String,
    pub(crate) message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> DefinitionError {
    DefinitionError {
        field: field.into(),
        message: message.into(),
    }
}

impl LogMetric {
    /// Checks the definition against Google's rules and compiles it.
    /// `Ok(None)` for a disabled metric.
    pub(crate) fn compile(&self) -> Result<Option<Compiled>, DefinitionError> {
        if self.name.is_empty() || self.name.len() > 100 {
            return Err(err("name", "must be 1 to 100 characters"));
        }
        let filter = Query::parse(&self.filter).map_err(|e| err("filter", e.to_string()))?;
        let d = self.metric_descriptor.clone().unwrap_or_default();
        match d.metric_kind.as_deref() {
            None | Some("DELTA") | Some("METRIC_KIND_UNSPECIFIED") => {}
            Some(k) => {
                return Err(err(
                    "metricDescriptor.metricKind",
                    format!("`{k}` is not supported: log-based metrics are DELTA"),
                ))
            }
        }
        let distribution = match d.value_type.as_deref() {
            None | Some("INT64") | Some("VALUE_TYPE_UNSPECIFIED") => false,
            Some("DISTRIBUTION") => true,
            Some(t) => {
                return Err(err(
                    "metricDescriptor.valueType",
                    format!("`{t}` is not supported: use INT64 (a counter) or DISTRIBUTION"),
                ))
            }
        };
        let kind = if distribution {
            let src = self
                .value_extractor
                .as_deref()
                .ok_or_else(|| err("valueExtractor", "is required for a DISTRIBUTION metric"))?;
            let value = Extractor::parse(src).map_err(|e| err("valueExtractor", e.to_string()))?;
            let bounds = self
                .bucket_options
                .as_ref()
                .ok_or_else(|| err("bucketOptions", "is required for a DISTRIBUTION metric"))?
                .bounds()
                .map_err(|m| err("bucketOptions", m))?;
            Kind::Histogram { value, bounds }
        } else {
            if self
                .value_extractor
                .as_deref()
                .is_some_and(|v| !v.is_empty())
            {
                return Err(err(
                    "valueExtractor",
                    "is only allowed on DISTRIBUTION metrics (a counter counts entries)",
                ));
            }
            Kind::Counter
        };
        if d.labels.len() > 10 {
            return Err(err(
                "metricDescriptor.labels",
                "at most 10 labels per metric",
            ));
        }
        let mut label_names = Vec::new();
        let mut labels = Vec::new();
        let mut label_types = Vec::new();
        for (i, l) in d.labels.iter().enumerate() {
            let field = format!("metricDescriptor.labels[{i}]");
            if l.key.is_empty() {
                return Err(err(field, "empty label key"));
            }
            if let Some(t) = l.value_type.as_deref() {
                if !matches!(t, "STRING" | "BOOL" | "INT64") {
                    return Err(err(
                        format!("{field}.valueType"),
                        format!("`{t}` is not a label type (STRING, BOOL or INT64)"),
                    ));
                }
            }
            let src = self.label_extractors.get(&l.key).ok_or_else(|| {
                err(
                    "labelExtractors",
                    format!("label `{}` is declared but has no extractor", l.key),
                )
            })?;
            let x = Extractor::parse(src)
                .map_err(|e| err(format!("labelExtractors.{}", l.key), e.to_string()))?;
            let n = label_name(&l.key);
            if n.starts_with("__") || (distribution && n == "le") || label_names.contains(&n) {
                return Err(err(
                    field,
                    format!(
                        "label `{}` is reserved or repeated in Prometheus as `{n}`",
                        l.key
                    ),
                ));
            }
            label_names.push(n);
            labels.push(x);
            label_types.push(LabelType::parse(l.value_type.as_deref()));
        }
        if let Some(k) = self
            .label_extractors
            .keys()
            .find(|k| !d.labels.iter().any(|l| &l.key == *k))
        {
            return Err(err(
                "labelExtractors",
                format!("`{k}` is not declared in metricDescriptor.labels"),
            ));
        }
        if self.disabled {
            return Ok(None);
        }
        let prom_name = prometheus_name(&self.name, !distribution);
        let help = match self.description.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(d) => d.to_string(),
            None => format!("Log-based metric {} (filter-derived by sluice)", self.name),
        };
        Ok(Some(Compiled {
            name: self.name.clone(),
            prom_name,
            help,
            filter,
            kind,
            label_names,
            labels,
            label_types,
        }))
    }
}

/// A definition file holds one LogMetric or a list of them (as
/// `gcloud logging metrics list --format=json` prints).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<serde_json::Value>),
    One(serde_json::Value),
}

/// Reads a definition file: `.json` as JSON, anything else as YAML (a
/// superset of JSON). Errors name the file and the key path, never values.
pub(crate) fn load_file(path: &Path) -> Result<Vec<LogMetric>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let docs: OneOrMany = if is_json {
        serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?
    } else {
        serde_norway::from_str(&text).map_err(|e| format!("not valid YAML: {e}"))?
    };
    let values = match docs {
        OneOrMany::Many(v) => v,
        OneOrMany::One(v) => vec![v],
    };
    let many = values.len() > 1;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_path_to_error::deserialize::<_, LogMetric>(v).map_err(|e| {
                let at = if many {
                    format!("[{i}].")
                } else {
                    String::new()
                };
                let p = e.path().to_string();
                if p == "." {
                    format!("{at}{}", e.inner())
                } else {
                    format!("{at}{p}: {}", e.inner())
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like `gcloud logging metrics describe --format=json` output,
    /// output-only fields included.
    const GCLOUD_JSON: &str = r#"{
      "bucketOptions": {"exponentialBuckets": {"growthFactor": 2, "numFiniteBuckets": 12, "scale": 0.005}},
      "createTime": "2025-10-01T09:00:00.000000000Z",
      "description": "Request latency",
      "filter": "httpRequest.latency:*",
      "metricDescriptor": {
        "description": "Request latency",
        "displayName": "logging/user/request_latency",
        "labels": [{"key": "method", "description": "HTTP method"}],
        "metricKind": "DELTA",
        "name": "projects/p/metricDescriptors/logging.googleapis.com/user/request_latency",
        "type": "logging.googleapis.com/user/request_latency",
        "unit": "s",
        "valueType": "DISTRIBUTION"
      },
      "labelExtractors": {"method": "EXTRACT(httpRequest.requestMethod)"},
      "name": "request_latency",
      "updateTime": "2025-10-01T09:00:00.000000000Z",
      "valueExtractor": "REGEXP_EXTRACT(httpRequest.latency, \"([0-9.]+)s\")"
    }"#;

    fn parse(s: &str) -> Result<LogMetric, String> {
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(s))
            .map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn gcloud_output_loads_as_is() {
        let m = parse(GCLOUD_JSON).unwrap();
        let c = m.compile().unwrap().unwrap();
        assert_eq!(c.prom_name, "request_latency");
        assert_eq!(c.label_names, ["method"]);
        let Kind::Histogram { bounds, .. } = &c.kind else {
            panic!("a distribution")
        };
        assert_eq!(bounds.len(), 13);
        assert!((bounds[0] - 0.005).abs() < 1e-12 && (bounds[12] - 0.005 * 4096.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let e = parse(r#"{"name": "x", "filter": "", "metricDescriptor": {"lables": []}}"#)
            .unwrap_err();
        assert!(
            e.contains("metricDescriptor") && e.contains("lables"),
            "{e}"
        );
        assert!(parse(r#"{"name": "x", "filtre": ""}"#).is_err());
    }

    #[test]
    fn names_follow_prometheus_rules() {
        assert_eq!(prometheus_name("http_errors", true), "http_errors_total");
        assert_eq!(
            prometheus_name("http_errors_total", true),
            "http_errors_total"
        );
        assert_eq!(
            prometheus_name("nginx/requests-5xx", true),
            "nginx_requests_5xx_total"
        );
        assert_eq!(prometheus_name("9lives", false), "_9lives");
        assert_eq!(prometheus_name("a:b.c", false), "a:b_c");
    }

    #[test]
    fn google_rules_are_enforced() {
        let counter_with_value = r#"{"name":"c","filter":"","valueExtractor":"EXTRACT(a)"}"#;
        assert_eq!(
            parse(counter_with_value)
                .unwrap()
                .compile()
                .unwrap_err()
                .field,
            "valueExtractor"
        );
        let dist_no_buckets = r#"{"name":"d","filter":"","valueExtractor":"EXTRACT(a)",
            "metricDescriptor":{"metricKind":"DELTA","valueType":"DISTRIBUTION"}}"#;
        assert_eq!(
            parse(dist_no_buckets).unwrap().compile().unwrap_err().field,
            "bucketOptions"
        );
        let gauge = r#"{"name":"g","filter":"","metricDescriptor":{"metricKind":"GAUGE"}}"#;
        assert_eq!(
            parse(gauge).unwrap().compile().unwrap_err().field,
            "metricDescriptor.metricKind"
        );
        let undeclared = r#"{"name":"u","filter":"","labelExtractors":{"x":"EXTRACT(a)"}}"#;
        assert_eq!(
            parse(undeclared).unwrap().compile().unwrap_err().field,
            "labelExtractors"
        );
        let no_extractor =
            r#"{"name":"n","filter":"","metricDescriptor":{"labels":[{"key":"x"}]}}"#;
        assert_eq!(
            parse(no_extractor).unwrap().compile().unwrap_err().field,
            "labelExtractors"
        );
        let bad_filter = r#"{"name":"f","filter":"severity >= (" }"#;
        let e = parse(bad_filter).unwrap().compile().unwrap_err();
        assert_eq!(e.field, "filter");
        assert!(e.message.contains("column"), "{e}");
        let two_groups = r#"{"name":"r","filter":"","metricDescriptor":{"labels":[{"key":"x"}]},
            "labelExtractors":{"x":"REGEXP_EXTRACT(a, \"(a)(b)\")"}}"#;
        assert_eq!(
            parse(two_groups).unwrap().compile().unwrap_err().field,
            "labelExtractors.x"
        );
        let disabled = r#"{"name":"off","filter":"","disabled":true}"#;
        assert!(parse(disabled).unwrap().compile().unwrap().is_none());
    }

    #[test]
    fn bucket_layouts() {
        let lin = BucketOptions {
            linear_buckets: Some(Linear {
                num_finite_buckets: 3,
                width: 0.5,
                offset: 0.0,
            }),
            ..Default::default()
        };
        assert_eq!(lin.bounds().unwrap(), vec![0.0, 0.5, 1.0, 1.5]);
        let exp = BucketOptions {
            exponential_buckets: Some(Exponential {
                num_finite_buckets: 2,
                growth_factor: 10.0,
                scale: 1.0,
            }),
            ..Default::default()
        };
        assert_eq!(exp.bounds().unwrap(), vec![1.0, 10.0, 100.0]);
        let bad = BucketOptions {
            explicit_buckets: Some(Explicit {
                bounds: vec![1.0, 1.0],
            }),
            ..Default::default()
        };
        assert!(bad.bounds().is_err());
        let two = BucketOptions {
            explicit_buckets: Some(Explicit { bounds: vec![1.0] }),
            linear_buckets: Some(Linear::default()),
            ..Default::default()
        };
        assert!(two.bounds().is_err());
    }
}
