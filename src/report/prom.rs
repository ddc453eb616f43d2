//! Reads back the Prometheus text format that `metrics.prom` is written in
//! (our own output, `log_metrics`'s registries), into families and series
//! the summary and the report can show. Only what our renderer writes is
//! understood: `# HELP`, `# TYPE`, and `name{labels} value` lines.

use std::collections::BTreeMap;

use serde::Serialize;

/// One metric family.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Family {
    pub(crate) name: String,
    /// `counter` or `histogram`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) help: String,
    pub(crate) series: Vec<Series>,
}

/// One labelled series: a counter's value, or a histogram's buckets.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Series {
    pub(crate) labels: BTreeMap<String, String>,
    /// A counter's value; a histogram's count.
    pub(crate) value: f64,
    /// Histograms: `(upper bound, entries in this bucket alone)`, the last
    /// bound `+Inf`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) buckets: Vec<(String, f64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sum: Option<f64>,
}

/// Parses the text; lines it does not understand are skipped.
pub(crate) fn parse(text: &str) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            families.push(Family {
                name: name.to_string(),
                kind: String::new(),
                help: help.replace("\\n", "\n").replace("\\\\", "\\"),
                series: Vec::new(),
            });
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            match families.last_mut() {
                Some(f) if f.name == name => f.kind = kind.to_string(),
                _ => families.push(Family {
                    name: name.to_string(),
                    kind: kind.to_string(),
                    help: String::new(),
                    series: Vec::new(),
                }),
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((name, mut labels, value)) = sample(line) else {
            continue;
        };
        let Some(f) = families.last_mut() else {
            continue;
        };
        let suffix = name.strip_prefix(f.name.as_str()).unwrap_or("?");
        let le = labels.remove("le");
        let series = match f.series.iter_mut().position(|s| s.labels == labels) {
            Some(i) => &mut f.series[i],
            None => {
                f.series.push(Series {
                    labels,
                    value: 0.0,
                    buckets: Vec::new(),
                    sum: None,
                });
                f.series.last_mut().expect("pushed above")
            }
        };
        match (suffix, le) {
            ("", _) | ("_count", _) => series.value = value,
            ("_sum", _) => series.sum = Some(value),
            ("_bucket", Some(le)) => {
                // The text is cumulative; keep each bucket's own count.
                let below: f64 = series.buckets.iter().map(|b| b.1).sum();
                series.buckets.push((le, value - below));
            }
            _ => {}
        }
    }
    families
}

/// `name{k="v",...} value`.
fn sample(line: &str) -> Option<(&str, BTreeMap<String, String>, f64)> {
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let Some(open) = head.find('{') else {
        return Some((head, BTreeMap::new(), value));
    };
    let name = &head[..open];
    let body = head[open + 1..].strip_suffix('}')?;
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('"') {
            return None;
        }
        let mut v = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => v.push('\n'),
                    c => v.push(c),
                },
                '"' => break,
                c => v.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_string(), v);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_read_back() {
        let text = "# HELP http_errors 5xx responses\n# TYPE http_errors counter\n\
            http_errors{status_code=\"503\"} 4\nhttp_errors{status_code=\"a\\\"b\"} 1\n\
            # HELP lat latency\n# TYPE lat histogram\n\
            lat_bucket{route=\"/x\",le=\"0.1\"} 2\nlat_bucket{route=\"/x\",le=\"1\"} 5\n\
            lat_bucket{route=\"/x\",le=\"+Inf\"} 6\nlat_sum{route=\"/x\"} 2.5\nlat_count{route=\"/x\"} 6\n";
        let f = parse(text);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].kind.as_str(), f[0].series.len()), ("counter", 2));
        assert_eq!(f[0].series[0].labels["status_code"], "503");
        assert_eq!(f[0].series[0].value, 4.0);
        assert_eq!(f[0].series[1].labels["status_code"], "a\"b");
        let h = &f[1].series[0];
        assert_eq!(h.labels["route"], "/x");
        assert_eq!((h.value, h.sum), (6.0, Some(2.5)));
        let own: Vec<f64> = h.buckets.iter().map(|b| b.1).collect();
        assert_eq!(own, vec![2.0, 3.0, 1.0]);
        assert_eq!(h.buckets[2].0, "+Inf");
    }
}
