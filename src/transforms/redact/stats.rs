//! Per-detector and per-rule counters.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::config::Class;
use super::detectors::{Det, N_BUILTIN};

const FIELD_NAMES: [&str; 9] = [
    "field:email",
    "field:ip",
    "field:phone",
    "field:card",
    "field:ssn",
    "field:iban",
    "field:secret",
    "field:hardware",
    "field:personal",
];

/// Counts of redactions per detector (`email`, `ipv4`, `card`...), per key
/// rule class (`field:hardware`...), custom detector name, plus
/// `propagated` (occurrences rewritten because the value was found
/// elsewhere in the event) and `dropped` (fields removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactStats {
    pub(crate) det: [u64; N_BUILTIN],
    pub(crate) field: [u64; 9],
    pub(crate) propagated: u64,
    pub(crate) dropped: u64,
    pub(crate) custom: BTreeMap<String, u64>,
    /// The same counts by raw field path (`jsonPayload.user_email`), then
    /// by counter name: every count above is also counted here once.
    /// A list, not a map: a batch has a few dozen paths, met in the same
    /// order event after event, so the scan starts where the last one
    /// matched (`hint`) and compares without building the path.
    pub(crate) by_field: Vec<(String, Counts)>,
    hint: usize,
}

/// Counts by counter name at one path.
type Counts = Vec<(Arc<str>, u64)>;

fn bump(names: &mut Counts, name: &Arc<str>, n: u64) {
    match names
        .iter_mut()
        .find(|(k, _)| Arc::ptr_eq(k, name) || **k == **name)
    {
        Some((_, c)) => *c += n,
        None => names.push((name.clone(), n)),
    }
}

impl RedactStats {
    /// `(raw field path, counter name, count)`, by path; see
    /// [`super::Redactor::field_counts`] for the paths shown.
    pub(crate) fn raw_fields(&self) -> impl Iterator<Item = (&str, &Arc<str>, u64)> + '_ {
        self.by_field
            .iter()
            .flat_map(|(p, v)| v.iter().map(move |(n, c)| (p.as_str(), n, *c)))
    }

    /// Counts one redaction by `name` at `parent.leaf` (or `parent`).
    pub(crate) fn count_at(&mut self, parent: &str, leaf: Option<&str>, name: &Arc<str>) {
        let is = |p: &str| match leaf {
            None => p == parent,
            Some(k) if parent.is_empty() => p == k,
            Some(k) => {
                p.len() == parent.len() + 1 + k.len()
                    && p.starts_with(parent)
                    && p.as_bytes()[parent.len()] == b'.'
                    && p.ends_with(k)
            }
        };
        let n = self.by_field.len();
        let found = (0..n)
            .map(|i| (self.hint + i) % n)
            .find(|&i| is(&self.by_field[i].0));
        let i = match found {
            Some(i) => i,
            None => {
                let path = match leaf {
                    None => parent.to_string(),
                    Some(k) if parent.is_empty() => k.to_string(),
                    Some(k) => format!("{parent}.{k}"),
                };
                self.by_field.push((path, Vec::new()));
                n
            }
        };
        self.hint = i + 1;
        bump(&mut self.by_field[i].1, name, 1);
    }

    /// Non-zero counters as `(name, count)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        let det = Det::ALL.iter().map(|d| (d.name(), self.det[*d as usize]));
        let field = Class::ALL
            .iter()
            .map(|c| (FIELD_NAMES[c.index()], self.field[c.index()]));
        let extra = [("propagated", self.propagated), ("dropped", self.dropped)];
        det.chain(field)
            .chain(extra)
            .chain(self.custom.iter().map(|(k, v)| (k.as_str(), *v)))
            .filter(|(_, v)| *v > 0)
    }

    /// Count for one name (0 when absent).
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> u64 {
        self.iter().find(|(k, _)| *k == name).map_or(0, |(_, v)| v)
    }

    pub(crate) fn count(&mut self, det: u16, custom_names: &[std::sync::Arc<str>]) {
        let d = usize::from(det);
        if d < N_BUILTIN {
            self.det[d] += 1;
        } else if let Some(name) = custom_names.get(d - N_BUILTIN) {
            match self.custom.get_mut(&**name) {
                Some(v) => *v += 1,
                None => {
                    self.custom.insert(name.to_string(), 1);
                }
            }
        }
    }
}
