//! Series storage for derived metrics, with a cardinality guard, and the
//! Prometheus text rendering of them.
//!
//! Each metric keeps at most `max_series` label sets. A new label set
//! beyond that folds into one extra series whose every label is
//! `__overflow__`, and the fold is counted (the caller exports the count
//! as an internal metric). Nothing else grows with the input, so memory
//! is bounded by `metrics x (max_series + 1) x (label bytes + buckets)`
//! however many distinct values the stream carries. Label values are
//! also capped in length ([`MAX_LABEL_BYTES`]) for the same reason.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use super::definition::{Compiled, Kind};

/// The label value every label of the overflow series carries.
pub(crate) const OVERFLOW: &str = "__overflow__";

/// Longest label value kept; longer values are cut at a char boundary.
pub(crate) const MAX_LABEL_BYTES: usize = 256;

#[derive(Debug)]
struct Series {
    labels: Box<[Box<str>]>,
    /// Counter value, or the histogram's count.
    count: u64,
    sum: f64,
    /// Per-bucket (non-cumulative) counts, one per finite bound; values
    /// above the last bound are only in `count`.
    buckets: Box<[u64]>,
}

impl Series {
    fn new(labels: Box<[Box<str>]>, n_buckets: usize) -> Self {
        Series {
            labels,
            count: 0,
            sum: 0.0,
            buckets: vec![0; n_buckets].into_boxed_slice(),
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        std::mem::size_of::<Series>()
            + self.labels.iter().map(|l| l.len() + 16).sum::<usize>()
            + self.buckets.len() * 8
    }
}

/// One metric's series.
#[derive(Debug)]
struct Metric {
    def: Compiled,
    /// Encoded label set -> index into `series`. xxh3 rather than SipHash:
    /// this lookup runs for every matching entry, and a flooding attacker
    /// gains nothing from collisions beyond what the series cap allows.
    index: HashMap<Box<str>, u32, Xxh3DefaultBuilder>,
    series: Vec<Series>,
    overflow: Option<Series>,
    /// Entries folded into the overflow series; shared with telemetry.
    overflowed: Arc<AtomicU64>,
}

/// The metrics of one `log_metrics` transform.
#[derive(Debug)]
pub(crate) struct Registry {
    metrics: Vec<Metric>,
    max_series: usize,
    // Scratch buffers reused across events so that a hit allocates nothing.
    key: String,
    value: String,
    cuts: Vec<usize>,
}

impl Registry {
    /// `overflow_counter(name)` returns the shared counter for a metric's
    /// folded entries (telemetry exports it).
    pub(crate) fn new(
        defs: Vec<Compiled>,
        max_series: usize,
        mut overflow_counter: impl FnMut(&str) -> Arc<AtomicU64>,
    ) -> Registry {
        let metrics = defs
            .into_iter()
            .map(|def| {
                let overflowed = overflow_counter(&def.prom_name);
                let mut m = Metric {
                    def,
                    index: HashMap::default(),
                    series: Vec::new(),
                    overflow: None,
                    overflowed,
                };
                // A metric without labels has exactly one series; show it
                // at 0 from the start so rate() and ratios work before the
                // first match.
                if m.def.labels.is_empty() {
                    let n = m.n_buckets();
                    m.index.insert("".into(), 0);
                    m.series.push(Series::new(Box::new([]), n));
                }
                m
            })
            .collect();
        Registry {
            metrics,
            max_series: max_series.max(1),
            key: String::new(),
            value: String::new(),
            cuts: Vec::new(),
        }
    }

    /// Observes one entry with every metric.
    pub(crate) fn observe(&mut self, entry: &Value) {
        let max_series = self.max_series;
        for m in &mut self.metrics {
            if !m.def.filter.matches(entry) {
                continue;
            }
            let value = match &mut m.def.kind {
                Kind::Counter => 0.0,
                Kind::Histogram { value, .. } => {
                    match value.extract_number(entry, &mut self.value) {
                        Some(v) => v,
                        // Google: a value that does not extract or convert
                        // is not recorded (the entry is not counted either).
                        None => continue,
                    }
                }
            };
            // The key is the label values, each length-prefixed so that no
            // two label sets encode alike.
            self.key.clear();
            self.cuts.clear();
            for (x, ty) in m.def.labels.iter_mut().zip(&m.def.label_types) {
                let len_at = self.key.len();
                self.key.push_str("00000000:");
                let start = self.key.len();
                if !x.extract_into(entry, &mut self.key) || !ty.convert(&mut self.key, start) {
                    // Google: a label whose extraction or conversion fails
                    // takes its type's default ("", 0 or false).
                    self.key.truncate(start);
                    self.key.push_str(ty.default_value());
                }
                truncate_at_char(&mut self.key, start + MAX_LABEL_BYTES);
                let len = self.key.len() - start;
                write_len(&mut self.key, len_at, len);
                self.cuts.push(start);
            }
            let n_buckets = m.n_buckets();
            let series = match m.index.get(self.key.as_str()) {
                Some(&i) => &mut m.series[i as usize],
                None if m.series.len() < max_series => {
                    let labels = decode_labels(&self.key, &self.cuts);
                    m.index
                        .insert(self.key.as_str().into(), m.series.len() as u32);
                    m.series.push(Series::new(labels, n_buckets));
                    m.series.last_mut().expect("just pushed")
                }
                None => {
                    m.overflowed.fetch_add(1, Ordering::Relaxed);
                    let n_labels = m.def.labels.len();
                    m.overflow.get_or_insert_with(|| {
                        let labels = vec![Box::<str>::from(OVERFLOW); n_labels];
                        Series::new(labels.into_boxed_slice(), n_buckets)
                    })
                }
            };
            series.count += 1;
            if let Kind::Histogram { bounds, .. } = &m.def.kind {
                series.sum += value;
                // First bound >= value: Prometheus `le` semantics.
                let i = bounds.partition_point(|b| *b < value);
                if i < series.buckets.len() {
                    series.buckets[i] += 1;
                }
            }
        }
    }

    /// Distinct label sets held for metric `i` (the overflow series excluded).
    #[cfg(test)]
    pub(crate) fn series_count(&self, i: usize) -> usize {
        self.metrics[i].series.len()
    }

    /// Entries folded into metric `i`'s overflow series.
    #[cfg(test)]
    pub(crate) fn overflowed(&self, i: usize) -> u64 {
        self.metrics[i].overflowed.load(Ordering::Relaxed)
    }

    /// An estimate of the heap held by the series (keys, labels, buckets),
    /// for tests that check memory stays flat.
    #[cfg(test)]
    pub(crate) fn approx_bytes(&self) -> usize {
        self.metrics
            .iter()
            .map(|m| {
                m.index.keys().map(|k| k.len() + 24).sum::<usize>()
                    + m.series.iter().map(Series::bytes).sum::<usize>()
                    + m.overflow.as_ref().map_or(0, Series::bytes)
            })
            .sum()
    }

    /// Appends every metric in the Prometheus text format (0.0.4). Series
    /// are sorted by label values so the output is stable.
    pub(crate) fn render(&self, out: &mut String) {
        for m in &self.metrics {
            if m.series.is_empty() && m.overflow.is_none() {
                continue;
            }
            let d = &m.def;
            let ty = match d.kind {
                Kind::Counter => "counter",
                Kind::Histogram { .. } => "histogram",
            };
            let _ = writeln!(out, "# HELP {} {}", d.prom_name, escape_help(&d.help));
            let _ = writeln!(out, "# TYPE {} {ty}", d.prom_name);
            let mut all: Vec<&Series> = m.series.iter().chain(m.overflow.as_ref()).collect();
            all.sort_by(|a, b| a.labels.cmp(&b.labels));
            for s in all {
                let labels = |extra: Option<&str>| {
                    let mut l = String::new();
                    for (k, v) in d.label_names.iter().zip(s.labels.iter()) {
                        if !l.is_empty() {
                            l.push(',');
                        }
                        let _ = write!(l, "{k}=\"{}\"", escape_label(v));
                    }
                    if let Some(le) = extra {
                        if !l.is_empty() {
                            l.push(',');
                        }
                        let _ = write!(l, "le=\"{le}\"");
                    }
                    if l.is_empty() {
                        l
                    } else {
                        format!("{{{l}}}")
                    }
                };
                match &d.kind {
                    Kind::Counter => {
                        let _ = writeln!(out, "{}{} {}", d.prom_name, labels(None), s.count);
                    }
                    Kind::Histogram { bounds, .. } => {
                        let mut cum = 0;
                        for (b, n) in bounds.iter().zip(s.buckets.iter()) {
                            cum += n;
                            let le = format_float(*b);
                            let _ =
                                writeln!(out, "{}_bucket{} {cum}", d.prom_name, labels(Some(&le)));
                        }
                        let _ = writeln!(
                            out,
                            "{}_bucket{} {}",
                            d.prom_name,
                            labels(Some("+Inf")),
                            s.count
                        );
                        let _ = writeln!(
                            out,
                            "{}_sum{} {}",
                            d.prom_name,
                            labels(None),
                            format_float(s.sum)
                        );
                        let _ = writeln!(out, "{}_count{} {}", d.prom_name, labels(None), s.count);
                    }
                }
            }
        }
    }

    /// Prometheus names of the metrics held, for collision checks.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.metrics.iter().map(|m| m.def.prom_name.as_str())
    }
}

impl Metric {
    fn n_buckets(&self) -> usize {
        match &self.def.kind {
            Kind::Counter => 0,
            Kind::Histogram { bounds, .. } => bounds.len(),
        }
    }
}

fn decode_labels(key: &str, cuts: &[usize]) -> Box<[Box<str>]> {
    cuts.iter()
        .map(|&start| {
            let len = usize::from_str_radix(&key[start - 9..start - 1], 16)
                .expect("the key was encoded just above");
            Box::<str>::from(&key[start..start + len])
        })
        .collect()
}

/// Overwrites the 8 placeholder bytes at `at` with `len` in hex, without
/// allocating (this runs for every label of every matching entry).
fn write_len(key: &mut String, at: usize, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [b'0'; 8];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[(len >> (28 - 4 * i)) & 0xf];
    }
    let digits = std::str::from_utf8(&digits).expect("hex digits are ASCII");
    key.replace_range(at..at + 8, digits);
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// A float the way Prometheus writes it (`+Inf`, `NaN`, shortest digits).
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{f}")
    }
}

fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::super::definition::LogMetric;
    use super::*;
    use serde_json::json;

    fn compile(j: Value) -> Compiled {
        serde_json::from_value::<LogMetric>(j)
            .unwrap()
            .compile()
            .unwrap()
            .unwrap()
    }

    fn registry(defs: Vec<Value>, max: usize) -> Registry {
        Registry::new(defs.into_iter().map(compile).collect(), max, |_| {
            Arc::new(AtomicU64::new(0))
        })
    }

    fn by_user() -> Value {
        json!({"name": "by_user", "filter": "",
            "metricDescriptor": {"labels": [{"key": "user"}]},
            "labelExtractors": {"user": "EXTRACT(jsonPayload.user)"}})
    }

    /// LogMetric REST reference
    /// (<https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.metrics#LogMetric>),
    /// `labelExtractors`: "If either the extraction or the type conversion
    /// fails, the label will have a default value. The default value for a
    /// string label is an empty string, for an integer label its 0, and for
    /// a boolean label its false." The reference is silent on how text
    /// converts to BOOL; `true`/`false` in any case is accepted.
    #[test]
    fn label_that_finds_nothing_takes_its_typed_default() {
        let def = json!({"name": "typed", "filter": "",
            "metricDescriptor": {"labels": [
                {"key": "s"},
                {"key": "t", "valueType": "STRING"},
                {"key": "n", "valueType": "INT64"},
                {"key": "b", "valueType": "BOOL"}]},
            "labelExtractors": {
                "s": "EXTRACT(jsonPayload.s)",
                "t": "REGEXP_EXTRACT(jsonPayload.t, \"id=(\\w+)\")",
                "n": "EXTRACT(httpRequest.status)",
                "b": "EXTRACT(httpRequest.cacheHit)"}});
        let cases: &[(&str, Value, &str)] = &[
            (
                "all extract",
                json!({"jsonPayload": {"s": "x", "t": "id=u1"},
                "httpRequest": {"status": 503, "cacheHit": true}}),
                r#"typed_total{s="x",t="u1",n="503",b="true"} 1"#,
            ),
            (
                "nothing extracts: typed defaults",
                json!({}),
                r#"typed_total{s="",t="",n="0",b="false"} 1"#,
            ),
            (
                "regex finds nothing: STRING default",
                json!({"jsonPayload": {"s": "x", "t": "no id"}}),
                r#"typed_total{s="x",t="",n="0",b="false"} 1"#,
            ),
            (
                "field is an object: nothing extracted",
                json!({"jsonPayload": {"s": {"a": 1}},
                "httpRequest": {"cacheHit": false}}),
                r#"typed_total{s="",t="",n="0",b="false"} 1"#,
            ),
            (
                "conversion fails: INT64 and BOOL defaults",
                json!({
                "httpRequest": {"status": "teapot", "cacheHit": "maybe"}}),
                r#"typed_total{s="",t="",n="0",b="false"} 1"#,
            ),
            (
                "conversion succeeds: canonical form",
                json!({
                "httpRequest": {"status": " 404", "cacheHit": "TRUE"}}),
                r#"typed_total{s="",t="",n="404",b="true"} 1"#,
            ),
        ];
        let mut failures = Vec::new();
        for (what, e, want) in cases {
            let mut r = registry(vec![def.clone()], 100);
            r.observe(e);
            let mut out = String::new();
            r.render(&mut out);
            if !out.lines().any(|l| l == *want) {
                failures.push(format!("{what}: want {want} in\n{out}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn cardinality_guard_caps_series_and_memory() {
        let max = 1000;
        let mut r = registry(vec![by_user()], max);
        let mut entry = json!({"jsonPayload": {"user": ""}});
        let mut at_cap = 0;
        for i in 0..100_000u32 {
            entry["jsonPayload"]["user"] = Value::String(format!("user-{i:06}"));
            r.observe(&entry);
            if i as usize == max {
                at_cap = r.approx_bytes();
            }
        }
        assert_eq!(r.series_count(0), max);
        assert_eq!(r.overflowed(0), 100_000 - max as u64);
        // Flat: nothing was added after the cap was reached and the
        // overflow series created.
        assert_eq!(r.approx_bytes(), at_cap);
        assert!(at_cap < max * 200, "{at_cap} bytes for {max} series");
        let mut out = String::new();
        r.render(&mut out);
        assert!(out.contains(&format!(
            "by_user_total{{user=\"__overflow__\"}} {}",
            100_000 - max
        )));
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with("by_user_total{"))
                .count(),
            max + 1
        );
        // Known label sets keep counting after the cap.
        entry["jsonPayload"]["user"] = Value::String("user-000007".into());
        r.observe(&entry);
        let mut out = String::new();
        r.render(&mut out);
        assert!(
            out.contains("by_user_total{user=\"user-000007\"} 2"),
            "{out}"
        );
    }

    #[test]
    fn default_cap_is_ten_thousand_and_long_values_are_cut() {
        let mut r = registry(vec![by_user()], super::super::DEFAULT_MAX_SERIES);
        let mut entry = json!({"jsonPayload": {"user": ""}});
        for i in 0..20_000u32 {
            entry["jsonPayload"]["user"] = Value::String(format!("{i}{}", "é".repeat(400)));
            r.observe(&entry);
        }
        assert_eq!(r.series_count(0), 10_000);
        assert_eq!(r.overflowed(0), 10_000);
        let mut out = String::new();
        r.render(&mut out);
        let longest = out.lines().map(str::len).max().unwrap();
        assert!(longest < MAX_LABEL_BYTES + 64, "{longest}");
    }

    #[test]
    fn counters_histograms_and_failed_extractions() {
        let mut r = registry(
            vec![
                json!({"name": "errors", "filter": "httpRequest.status>=400",
                    "metricDescriptor": {"labels": [{"key": "status_code"}, {"key": "method"}]},
                    "labelExtractors": {"status_code": "EXTRACT(httpRequest.status)",
                                        "method": "EXTRACT(httpRequest.requestMethod)"}}),
                json!({"name": "latency", "filter": "httpRequest.latency:*",
                    "metricDescriptor": {"metricKind": "DELTA", "valueType": "DISTRIBUTION"},
                    "valueExtractor": "REGEXP_EXTRACT(httpRequest.latency, \"([0-9.]+)s\")",
                    "bucketOptions": {"explicitBuckets": {"bounds": [0.1, 1.0]}}}),
            ],
            100,
        );
        for (status, latency, method) in [
            (503, "0.05s", Some("GET")),
            (503, "1.0s", Some("GET")),
            (200, "2s", None),
            (404, "fast", None),
        ] {
            let mut h = json!({"status": status, "latency": latency});
            if let Some(m) = method {
                h["requestMethod"] = json!(m);
            }
            r.observe(&json!({ "httpRequest": h }));
        }
        let mut out = String::new();
        r.render(&mut out);
        let expected = "\
# HELP errors_total Log-based metric errors (filter-derived by sluice)
# TYPE errors_total counter
errors_total{status_code=\"404\",method=\"\"} 1
errors_total{status_code=\"503\",method=\"GET\"} 2
# HELP latency Log-based metric latency (filter-derived by sluice)
# TYPE latency histogram
latency_bucket{le=\"0.1\"} 1
latency_bucket{le=\"1\"} 2
latency_bucket{le=\"+Inf\"} 3
latency_sum 3.05
latency_count 3
";
        assert_eq!(out, expected);
    }

    #[test]
    fn label_values_are_escaped() {
        let mut r = registry(vec![by_user()], 10);
        r.observe(&json!({"jsonPayload": {"user": "a\"b\\c\nd"}}));
        let mut out = String::new();
        r.render(&mut out);
        assert!(
            out.contains(r#"by_user_total{user="a\"b\\c\nd"} 1"#),
            "{out}"
        );
    }
}
