//! `summary.json`: everything a dry run counted, in one document. The
//! terminal table and `report.html` are views of it, so the three never
//! disagree.

use std::collections::BTreeMap;

use serde::Serialize;

use super::prom::{self, Family};
use crate::config::PipelineConfig;
use crate::sinks::SinkConfig;
use crate::telemetry::outputs::{FieldCount, Objects, ReasonGroup, Table};
use crate::telemetry::{StatsSnapshot, Telemetry};
use crate::transforms::redact::{detector_class, Class};
use crate::transforms::TransformConfig;

/// The name of the dead-letter output in `edges`.
pub(crate) const DEAD_LETTER: &str = "dead-letter";

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    /// Per component: events in/out/dropped/errors, bytes.
    pub(crate) components: BTreeMap<String, StatsSnapshot>,
    /// Every input edge of the pipeline with the events that crossed it,
    /// and an edge to [`DEAD_LETTER`] from each component that sent any.
    pub(crate) edges: Vec<Edge>,
    /// Dead letters written.
    pub(crate) deadletter: u64,
    /// Redactions per detector or key rule (a list, not a map keyed by
    /// detector: keys such as `password` or `name` would read as personal
    /// data to `sluice audit`).
    pub(crate) redactions: Vec<Redaction>,
    /// The same counts by field path.
    pub(crate) redactions_by_field: Vec<FieldCount>,
    /// BigQuery tables written (dry run), with their columns.
    pub(crate) bigquery: Vec<Table>,
    /// Archive objects written, per sink.
    pub(crate) gcs: Vec<Archive>,
    /// Dead letters grouped by component and reason, with one example each.
    pub(crate) deadletter_reasons: Vec<ReasonGroup>,
    /// The log-based metrics, as `metrics.prom` holds them.
    pub(crate) metrics: Vec<Family>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) events: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Redaction {
    pub(crate) detector: String,
    /// The class the detector belongs to; absent for `propagated` (the
    /// value's class was counted where it was found) and `dropped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) class: Option<&'static str>,
    pub(crate) count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Archive {
    pub(crate) sink: String,
    pub(crate) bucket: String,
    #[serde(flatten)]
    pub(crate) objects: Objects,
}

impl Summary {
    /// Collects the summary of a finished run. `metrics_text`: the derived
    /// metrics as written to `metrics.prom`.
    pub(crate) fn collect(
        cfg: &PipelineConfig,
        telemetry: &Telemetry,
        metrics_text: &str,
    ) -> Summary {
        let components = telemetry.components();
        let deadletter_reasons = telemetry.dead_letter_reasons();
        let out_of = |name: &str| components.get(name).map_or(0, |s| s.events_out);
        let mut edges = Vec::new();
        let inputs = cfg
            .transforms
            .iter()
            .map(|(n, t)| (n, &t.inputs))
            .chain(cfg.sinks.iter().map(|(n, s)| (n, &s.inputs)));
        for (to, ins) in inputs {
            for from in ins {
                edges.push(Edge {
                    from: from.clone(),
                    to: to.clone(),
                    events: out_of(from),
                });
            }
        }
        let mut to_dead_letter: BTreeMap<&str, u64> = BTreeMap::new();
        for g in &deadletter_reasons {
            *to_dead_letter.entry(&g.component).or_default() += g.count;
        }
        edges.extend(to_dead_letter.into_iter().map(|(from, events)| Edge {
            from: from.to_string(),
            to: DEAD_LETTER.to_string(),
            events,
        }));
        let custom: BTreeMap<&str, Class> = cfg
            .transforms
            .values()
            .filter_map(|t| match &t.inner {
                TransformConfig::Redact(r) => Some(r.detectors.iter()),
                _ => None,
            })
            .flatten()
            .map(|d| (d.name.as_str(), d.class))
            .collect();
        let redactions = telemetry
            .redactions()
            .into_iter()
            .map(|(detector, count)| Redaction {
                class: detector_class(&detector)
                    .or_else(|| custom.get(detector.as_str()).copied())
                    .map(Class::as_str),
                detector,
                count,
            })
            .collect();
        let gcs = telemetry
            .objects()
            .into_iter()
            .map(|(sink, objects)| Archive {
                bucket: match cfg.sinks.get(&sink).map(|s| &s.inner) {
                    Some(SinkConfig::Gcs(g)) => g.bucket.clone(),
                    _ => String::new(),
                },
                sink,
                objects,
            })
            .collect();
        Summary {
            components,
            edges,
            deadletter: telemetry.dead_letter_count(),
            redactions,
            redactions_by_field: telemetry.field_redactions(),
            bigquery: telemetry.tables(),
            gcs,
            deadletter_reasons,
            metrics: prom::parse(metrics_text),
        }
    }

    /// Redactions by field path, most redacted first.
    pub(crate) fn fields_by_total(&self) -> Vec<FieldTotal<'_>> {
        let mut by: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
        for f in &self.redactions_by_field {
            by.entry(&f.field).or_default().push((&f.detector, f.count));
        }
        let mut out: Vec<FieldTotal<'_>> = by
            .into_iter()
            .map(|(field, mut by)| {
                by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                // A removed field was counted by what found it too.
                let total = by.iter().filter(|x| x.0 != "dropped").map(|x| x.1).sum();
                FieldTotal { field, total, by }
            })
            .collect();
        out.sort_by(|a, b| b.total.cmp(&a.total).then(a.field.cmp(b.field)));
        out
    }
}

/// Redactions at one field path.
pub(crate) struct FieldTotal<'a> {
    pub(crate) field: &'a str,
    /// Without `dropped`, which counts fields removed, each already
    /// counted by the detector or rule that matched it.
    pub(crate) total: u64,
    /// `(detector, count)`, largest first.
    pub(crate) by: Vec<(&'a str, u64)>,
}
