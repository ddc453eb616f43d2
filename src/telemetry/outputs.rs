//! What a run sent where, as aggregates small enough to keep for a whole
//! run of any size: redactions by field path, the BigQuery tables a dry run
//! wrote (rows and the schema they imply), archive objects, and dead
//! letters by reason. `summary.json` and the dry-run report are views of
//! these; nothing here holds an original value (field paths and examples
//! are taken after redaction).

use std::collections::BTreeMap;

use serde::Serialize;

use super::extras::lock;
use super::Telemetry;

/// Distinct field paths counted; later paths are counted under
/// [`OTHER_FIELDS`].
pub(crate) const MAX_FIELDS: usize = 512;
pub(crate) const OTHER_FIELDS: &str = "(other fields)";
/// Archive objects listed one by one per sink; all are in the totals.
pub(crate) const MAX_OBJECTS_LISTED: usize = 200;
/// Dead-letter reason groups kept per run; later ones are counted under
/// [`OTHER_REASONS`].
pub(crate) const MAX_REASONS: usize = 64;
pub(crate) const OTHER_REASONS: &str = "(other reasons)";
/// Longest dead-letter example kept (bytes of its JSON record).
pub(crate) const EXAMPLE_BYTES: usize = 2048;

/// Redactions of one counter (detector, key rule, `propagated`,
/// `dropped`) at one field path.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct FieldCount {
    pub(crate) field: String,
    pub(crate) detector: String,
    pub(crate) count: u64,
}

/// A BigQuery table as a dry run wrote it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Table {
    pub(crate) sink: String,
    pub(crate) dataset: String,
    pub(crate) table: String,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    /// `day` (partitioned on `timestamp`) or `sharded` (`_YYYYMMDD` tables).
    pub(crate) partitioning: &'static str,
    pub(crate) expiration_days: u32,
    /// Leaf columns, nested ones dotted (`httpRequest.status`).
    pub(crate) columns: Vec<Column>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) ty: &'static str,
    pub(crate) mode: &'static str,
}

/// Archive objects one sink wrote.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Objects {
    pub(crate) objects: u64,
    /// Bytes stored (compressed).
    pub(crate) bytes: u64,
    /// NDJSON bytes before compression.
    pub(crate) raw_bytes: u64,
    pub(crate) events: u64,
    /// The first [`MAX_OBJECTS_LISTED`] objects.
    pub(crate) listed: Vec<Object>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Object {
    /// The object's key (named `object` in the JSON: `"key": "..."` reads
    /// as a secret parameter to `sluice audit`).
    #[serde(rename = "object")]
    pub key: String,
    pub(crate) bytes: u64,
    pub(crate) raw_bytes: u64,
    pub(crate) events: u64,
}

/// Dead letters of one component with one kind of reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct ReasonGroup {
    pub(crate) component: String,
    /// The reason with its numbers written `N` (`syntax error at line N
    /// column N`), so positions do not split a group.
    pub(crate) reason: String,
    pub(crate) count: u64,
    /// The first such record as written (redacted), cut to
    /// [`EXAMPLE_BYTES`].
    pub(crate) example: String,
}

#[derive(Debug, Default)]
pub(crate) struct Outputs {
    fields: BTreeMap<String, BTreeMap<String, u64>>,
    tables: Vec<Table>,
    objects: BTreeMap<String, Objects>,
    reasons: Vec<ReasonGroup>,
}

/// `reason` with each run of digits replaced by `N`, at most 200 bytes.
pub(crate) fn reason_kind(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().min(200));
    let mut in_digits = false;
    for c in reason.chars() {
        if out.len() >= 200 {
            out.push('…');
            break;
        }
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

impl Telemetry {
    /// Adds redaction counts by `(field path, counter name)`.
    pub(crate) fn add_field_redactions<'a>(
        &self,
        counts: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
    ) {
        let mut o = lock(&self.outputs);
        for (field, name, n) in counts {
            let known = o.fields.contains_key(field);
            let key = if known || o.fields.len() < MAX_FIELDS {
                field
            } else {
                OTHER_FIELDS
            };
            let names = o.fields.entry(key.to_string()).or_default();
            match names.get_mut(name) {
                Some(c) => *c += n,
                None => {
                    names.insert(name.to_string(), n);
                }
            }
        }
    }

    /// Redactions by field path and counter, ordered by path.
    pub(crate) fn field_redactions(&self) -> Vec<FieldCount> {
        let o = lock(&self.outputs);
        o.fields
            .iter()
            .flat_map(|(f, m)| {
                m.iter().map(|(d, c)| FieldCount {
                    field: f.clone(),
                    detector: d.clone(),
                    count: *c,
                })
            })
            .collect()
    }

    /// Records (or replaces) what a dry run wrote to one table.
    pub(crate) fn record_table(&self, table: Table) {
        let mut o = lock(&self.outputs);
        o.tables.retain(|t| {
            (&t.sink, &t.dataset, &t.table) != (&table.sink, &table.dataset, &table.table)
        });
        o.tables.push(table);
    }

    pub(crate) fn tables(&self) -> Vec<Table> {
        let mut t = lock(&self.outputs).tables.clone();
        t.sort_by(|a, b| (&a.sink, &a.dataset, &a.table).cmp(&(&b.sink, &b.dataset, &b.table)));
        t
    }

    /// Counts one archive object the sink `sink` finished writing.
    pub(crate) fn record_object(&self, sink: &str, object: Object) {
        let mut o = lock(&self.outputs);
        let s = o.objects.entry(sink.to_string()).or_default();
        s.objects += 1;
        s.bytes += object.bytes;
        s.raw_bytes += object.raw_bytes;
        s.events += object.events;
        if s.listed.len() < MAX_OBJECTS_LISTED {
            s.listed.push(object);
        }
    }

    /// Archive objects by sink.
    pub(crate) fn objects(&self) -> BTreeMap<String, Objects> {
        lock(&self.outputs).objects.clone()
    }

    /// Counts one dead letter written for `component` with `reason`;
    /// `record` (the JSON line as written) is kept as the group's example
    /// when the group is new.
    pub(crate) fn record_dead_letter(&self, component: &str, reason: &str, record: &[u8]) {
        let kind = reason_kind(reason);
        let mut o = lock(&self.outputs);
        let full = o.reasons.len() >= MAX_REASONS;
        let found = o.reasons.iter().position(|g| {
            g.component == component && (g.reason == kind || (full && g.reason == OTHER_REASONS))
        });
        match found {
            Some(i) => o.reasons[i].count += 1,
            None => o.reasons.push(ReasonGroup {
                component: component.to_string(),
                reason: if full {
                    OTHER_REASONS.to_string()
                } else {
                    kind
                },
                count: 1,
                example: example(record),
            }),
        }
    }

    /// Dead letters by component and reason, largest groups first.
    pub(crate) fn dead_letter_reasons(&self) -> Vec<ReasonGroup> {
        let mut r = lock(&self.outputs).reasons.clone();
        r.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        r
    }
}

/// `record` as text, cut at a char boundary to [`EXAMPLE_BYTES`].
fn example(record: &[u8]) -> String {
    let s = String::from_utf8_lossy(record.strip_suffix(b"\n").unwrap_or(record));
    if s.len() <= EXAMPLE_BYTES {
        return s.into_owned();
    }
    let mut end = EXAMPLE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_by_kind_with_numbers_folded() {
        assert_eq!(
            reason_kind("syntax error at line 1 column 17"),
            "syntax error at line N column N"
        );
        let t = Telemetry::new();
        t.record_dead_letter("files", "syntax error at line 1 column 17", b"{\"a\":1}\n");
        t.record_dead_letter("files", "syntax error at line 1 column 9", b"{\"b\":2}\n");
        t.record_dead_letter("bq", "syntax error at line 1 column 9", b"{}\n");
        let g = t.dead_letter_reasons();
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].component.as_str(), g[0].count), ("files", 2));
        assert_eq!(g[0].example, "{\"a\":1}", "the first record is the example");
    }

    #[test]
    fn groups_fields_and_objects_stay_bounded() {
        let t = Telemetry::new();
        for i in 0..(MAX_REASONS + 10) {
            t.record_dead_letter("files", &format!("reason {}", "x".repeat(i)), b"{}");
        }
        let g = t.dead_letter_reasons();
        assert_eq!(g.len(), MAX_REASONS + 1);
        assert_eq!(
            g.iter().map(|g| g.count).sum::<u64>(),
            (MAX_REASONS + 10) as u64
        );
        for i in 0..(MAX_FIELDS + 5) {
            let f = format!("jsonPayload.f{i}");
            t.add_field_redactions([(f.as_str(), "email", 1)]);
        }
        let f = t.field_redactions();
        assert_eq!(f.len(), MAX_FIELDS + 1);
        assert_eq!(
            f.iter().map(|c| c.count).sum::<u64>(),
            (MAX_FIELDS + 5) as u64
        );
        for i in 0..(MAX_OBJECTS_LISTED + 3) {
            let key = format!("logs/{i}.ndjson.gz");
            t.record_object(
                "archive",
                Object {
                    key,
                    bytes: 10,
                    raw_bytes: 40,
                    events: 2,
                },
            );
        }
        let o = &t.objects()["archive"];
        assert_eq!(o.listed.len(), MAX_OBJECTS_LISTED);
        assert_eq!((o.objects, o.bytes, o.raw_bytes), (203, 2030, 8120));
    }
}
