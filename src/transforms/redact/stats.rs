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
    /// The same counts by field path (`jsonPayload.user_email`), then by
    /// counter name: every count above is also counted here once.
    pub(crate) by_field: BTreeMap<String, Vec<(Arc<str>, u64)>>,
}

impl RedactStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &RedactStats) {
        for (a, b) in self.det.iter_mut().zip(other.det) {
            *a += b;
        }
        for (a, b) in self.field.iter_mut().zip(other.field) {
            *a += b;
        }
        self.propagated += other.propagated;
        self.dropped += other.dropped;
        for (k, v) in &other.custom {
            *self.custom.entry(k.clone()).or_insert(0) += v;
        }
        for (path, name, n) in other.fields() {
            self.add_field(path, name, n);
        }
    }

    /// `(field path, counter name, count)`, by path then name order of
    /// first count.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Arc<str>, u64)> + '_ {
        self.by_field
            .iter()
            .flat_map(|(p, v)| v.iter().map(move |(n, c)| (p.as_str(), n, *c)))
    }

    pub(crate) fn count_field(&mut self, path: &str, name: &Arc<str>) {
        self.add_field(path, name, 1);
    }

    fn add_field(&mut self, path: &str, name: &Arc<str>, n: u64) {
        if !self.by_field.contains_key(path) {
            self.by_field.insert(path.to_string(), Vec::new());
        }
        let Some(names) = self.by_field.get_mut(path) else {
            return;
        };
        match names.iter_mut().find(|(k, _)| **k == **name) {
            Some((_, c)) => *c += n,
            None => names.push((name.clone(), n)),
        }
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
    pub fn get(&self, name: &str) -> u64 {
        self.iter().find(|(k, _)| *k == name).map_or(0, |(_, v)| v)
    }

    /// Sum of all redactions (detector hits, field rules, propagations).
    pub fn total(&self) -> u64 {
        self.iter()
            .filter(|(k, _)| *k != "dropped")
            .map(|(_, v)| v)
            .sum()
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
