//! Redaction of personal data and secrets in log events.
//!
//! # Design
//!
//! Events are Cloud Logging `LogEntry` objects held as `serde_json::Value`
//! and rewritten in place. Redaction of one event is two passes:
//!
//! 1. **Walk, detect, rewrite, collect.** Every string value at any depth
//!    (except allow-listed paths/keys) goes through the content detectors;
//!    every field whose key matches a key rule (`hardware_id`, `user_email`,
//!    `authorization`... any depth, case/`_`/`-` insensitive) has its whole
//!    value replaced. Values that other occurrences would not reveal by
//!    themselves (key-rule values, `password=`/`token=` values...) are
//!    collected.
//! 2. **Propagate.** Only if something was collected: one Aho-Corasick
//!    automaton over the collected values rewrites their occurrences
//!    anywhere else in the event (a device serial inside the message text).
//!
//! Content detection is **prefilter → candidate → validate → rewrite**,
//! never a bank of regexes. A single byte loop
//! ([`detectors::scan_builtin`]) stops only at word starts and at a few
//! punctuation anchors (`@ % = : + (`); the first byte picks the handful of
//! detectors that could start there, and each rejects in a byte or two.
//! Candidates are then validated by hand-written scanners and checksums
//! (Luhn for cards and IMEI, mod-97 for IBAN, SSN area/group/serial ranges,
//! issuer prefix and length tables, phone shapes per country, `std::net`
//! parsing for IPv6). A string with no candidate costs one table lookup per
//! byte and is neither copied nor reallocated. Overlapping hits are resolved
//! leftmost-longest, and a rewritten string is scanned again (at most four
//! rounds) so that no detector match survives and redacting twice equals
//! redacting once.
//!
//! Why: log pipelines see hundreds of MB/s of mostly benign text (ids,
//! timestamps, versions), so the common case must be "scan once, find
//! nothing, touch nothing"; and checksums rather than digit-count heuristics
//! are what keep trace ids, git SHAs, HDFS block ids and counters intact.
//!
//! Modes per class: `mask` (`[REDACTED:email]`), `hash` (keyed
//! HMAC-SHA256 pseudonym `email:3f9a1c0b5e7d2a41`, stable for everyone with
//! the same key), `partial` (`[REDACTED:card:…1234]`, `203.0.113.0/24`) and
//! `drop` (remove the field; inside text it masks). Our own outputs are
//! recognised and never redacted again.
//!
//! This module does no IO and never logs a value, except [`stage`], the
//! pipeline stage around the engine, which reads the `hash` mode key.

#[cfg(test)]
mod by_field_tests;
mod config;
#[cfg(test)]
mod corpus_tests;
pub(crate) mod detectors;
mod engine;
mod fields;
#[cfg(test)]
mod locale_cases;
pub(crate) mod modes;
#[cfg(test)]
#[path = "../../../tests/generators/pii_corpus.rs"]
pub(crate) mod pii_corpus;
pub(crate) mod stage;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) use config::{
    Class, CREDENTIAL_KEYS, DEFAULT_ALLOW_PATHS, HARDWARE_KEYS, PERSONAL_KEYS,
};
pub use config::{Mode, RedactConfig, RedactConfigError};
pub use stats::RedactStats;

pub(crate) use engine::{Replaced, KEY_SEGMENT};

use detectors::{Det, Hit, Sink, N_BUILTIN};
use fields::{KeyAction, KeyTable, PathNode};
use modes::Renderer;

/// The class of a built-in detector (`email`) or key rule (`field:email`)
/// by its counter name; `None` for custom detectors and for `propagated` and
/// `dropped`, which have no class of their own.
pub(crate) fn detector_class(name: &str) -> Option<Class> {
    if let Some(c) = name.strip_prefix("field:") {
        return Class::ALL.iter().copied().find(|k| k.as_str() == c);
    }
    Det::ALL
        .iter()
        .find(|d| d.name() == name)
        .map(|d| d.class())
}

/// One match of a content detector in a string (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Detector name (`email`, `ipv4`, `card`, a custom name...).
    pub detector: Arc<str>,
    /// Class of the match.
    pub class: Class,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset past the last byte.
    pub end: usize,
}

/// A finding in an event, for audits: where (dotted JSON path) and what.
/// Never carries the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventFinding {
    /// Dotted path, array indices in brackets: `jsonPayload.ips[1]`.
    pub(crate) path: String,
    /// Detector name, or `field:<class>` for a key-rule hit.
    pub(crate) detector: Arc<str>,
    /// Class of the finding.
    pub(crate) class: Class,
}

struct CustomDet {
    enabled: bool,
    re: regex::Regex,
    anchor: Option<memchr::memmem::Finder<'static>>,
    class: Class,
}

/// The redaction engine. Immutable after construction; share it between
/// threads (`Send + Sync`).
pub struct Redactor {
    enabled: [bool; N_BUILTIN],
    renderer: Renderer,
    keys: KeyTable,
    allow: PathNode,
    allow_values: HashSet<String>,
    custom: Vec<CustomDet>,
    /// Names of built-in then custom detectors, indexed by detector id.
    names: Vec<Arc<str>>,
    custom_names: Vec<Arc<str>>,
    field_names: Vec<Arc<str>>,
    /// Counter names of pass 2 and of removed fields, as `RedactStats::iter`.
    propagated_name: Arc<str>,
    dropped_name: Arc<str>,
    has_allow_keys: bool,
    propagate: bool,
    min_prop: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("modes", &self.renderer.modes)
            .field("custom_detectors", &self.custom_names)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// Builds the engine. `hash_key` is required when any enabled class is
    /// in `hash` mode (at least 16 bytes); the caller reads it from an
    /// environment variable or a key file, never from the pipeline file.
    pub fn new(cfg: &RedactConfig, hash_key: Option<&[u8]>) -> Result<Redactor, RedactConfigError> {
        let class_on: Vec<bool> = Class::ALL
            .iter()
            .map(|c| !cfg.disabled_classes.contains(c))
            .collect();
        let mut modes = [cfg.default_mode; 9];
        for c in Class::ALL {
            modes[c.index()] = cfg.mode_for(c);
        }
        let mut mac = None;
        if let Some(c) = Class::ALL
            .iter()
            .find(|c| class_on[c.index()] && modes[c.index()] == Mode::Hash)
        {
            let key = hash_key.ok_or(RedactConfigError::MissingHashKey { class: c.as_str() })?;
            if key.len() < 16 {
                return Err(RedactConfigError::ShortHashKey);
            }
            mac = Some(
                <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .map_err(|_| RedactConfigError::ShortHashKey)?,
            );
        }

        let mut enabled = [true; N_BUILTIN];
        for d in Det::ALL {
            enabled[d as usize] = class_on[d.class().index()];
        }
        for (index, name) in cfg.disabled_detectors.iter().enumerate() {
            let d = Det::ALL
                .iter()
                .find(|d| d.name() == name)
                .ok_or(RedactConfigError::UnknownDetector { index })?;
            enabled[*d as usize] = false;
        }

        let mut names: Vec<Arc<str>> = Det::ALL.iter().map(|d| Arc::from(d.name())).collect();
        let mut custom = Vec::new();
        let mut custom_names = Vec::new();
        for (index, d) in cfg.detectors.iter().enumerate() {
            if d.name.is_empty() || names.iter().any(|n| **n == *d.name) {
                return Err(RedactConfigError::InvalidDetectorName { index });
            }
            let re =
                regex::Regex::new(&d.pattern).map_err(|e| RedactConfigError::InvalidPattern {
                    index,
                    reason: e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                })?;
            let anchor = match &d.anchor {
                Some(a) if a.is_empty() => return Err(RedactConfigError::EmptyAnchor { index }),
                Some(a) => Some(memchr::memmem::Finder::new(a.as_bytes()).into_owned()),
                None => None,
            };
            let name: Arc<str> = Arc::from(d.name.as_str());
            names.push(name.clone());
            custom_names.push(name);
            custom.push(CustomDet {
                re,
                anchor,
                class: d.class,
                // Kept (never run) when its class is off, so ids stay aligned
                // with names.
                enabled: class_on[d.class.index()],
            });
        }

        let mut entries: Vec<(String, KeyAction)> = Vec::new();
        if cfg.default_key_rules {
            for (list, class) in [
                (HARDWARE_KEYS, Class::Hardware),
                (PERSONAL_KEYS, Class::Personal),
                (CREDENTIAL_KEYS, Class::Secret),
            ] {
                entries.extend(list.iter().map(|k| (k.to_string(), KeyAction::Rule(class))));
            }
        }
        for (index, r) in cfg.key_rules.iter().enumerate() {
            if r.key.trim().is_empty() {
                return Err(RedactConfigError::EmptyKey {
                    list: "key_rules",
                    index,
                });
            }
            entries.push((r.key.clone(), KeyAction::Rule(r.class)));
        }
        entries.retain(|(_, a)| match a {
            KeyAction::Rule(c) => class_on[c.index()],
            KeyAction::Allow => true,
        });
        for (index, k) in cfg.allow_keys.iter().enumerate() {
            if k.trim().is_empty() {
                return Err(RedactConfigError::EmptyKey {
                    list: "allow_keys",
                    index,
                });
            }
            entries.push((k.clone(), KeyAction::Allow));
        }

        let mut allow = PathNode::default();
        if cfg.default_allow_paths {
            for p in DEFAULT_ALLOW_PATHS {
                allow.add(p);
            }
        }
        for (index, p) in cfg.allow_paths.iter().enumerate() {
            if !allow.add(p) {
                return Err(RedactConfigError::BadAllowPath { index });
            }
        }

        Ok(Redactor {
            enabled,
            renderer: Renderer { modes, mac },
            keys: KeyTable::new(&entries),
            allow,
            allow_values: cfg.allow_values.iter().cloned().collect(),
            custom,
            names,
            custom_names,
            field_names: Class::ALL
                .iter()
                .map(|c| Arc::from(format!("field:{}", c.as_str())))
                .collect(),
            propagated_name: Arc::from("propagated"),
            dropped_name: Arc::from("dropped"),
            has_allow_keys: !cfg.allow_keys.is_empty(),
            propagate: cfg.propagate,
            min_prop: cfg.min_propagate_len.max(1),
        })
    }

    /// Redacts in place. Unchanged strings are not copied or reallocated.
    pub fn redact(&self, event: &mut serde_json::Value, stats: &mut RedactStats) {
        self.redact_event(event, None, stats, None);
    }

    /// As [`Redactor::redact`], also appending every replacement made (where,
    /// by which detector, the text that replaced the value) to `trace`.
    pub(crate) fn redact_traced(
        &self,
        event: &mut serde_json::Value,
        stats: &mut RedactStats,
        trace: &mut Vec<Replaced>,
    ) {
        self.redact_event(event, None, stats, Some(trace));
    }

    /// As [`Redactor::redact`] for a value that sits at `path` in a larger
    /// record (a dead letter's `event`): the by-field counts name it there.
    pub(crate) fn redact_under(
        &self,
        path: &str,
        value: &mut serde_json::Value,
        stats: &mut RedactStats,
    ) {
        self.redact_event(value, Some(path), stats, None);
    }

    /// For audit: findings in one string (no rewriting). Non-overlapping,
    /// in order; allow-listed values excluded.
    pub fn scan_str(&self, s: &str, out: &mut Vec<Finding>) {
        let mut hits = Vec::new();
        self.scan(s, &mut hits);
        out.extend(hits.iter().map(|h| Finding {
            detector: self.names[usize::from(h.det)].clone(),
            class: h.class,
            start: h.start,
            end: h.end,
        }));
    }

    /// For audit: findings in one event, with their JSON paths. Key-rule
    /// fields whose values are not already redacted are reported as
    /// `field:<class>`; strings elsewhere as detector findings.
    pub(crate) fn scan_event(&self, event: &serde_json::Value, out: &mut Vec<EventFinding>) {
        let mut path = String::new();
        let mut hits = Vec::new();
        self.audit_walk(event, Some(&self.allow), &mut path, &mut hits, out);
    }

    /// Content detection over one string: appends resolved (sorted,
    /// non-overlapping, not allow-listed) hits.
    pub(crate) fn scan(&self, s: &str, hits: &mut Vec<Hit>) {
        let base = hits.len();
        {
            let mut sink = Sink {
                enabled: &self.enabled,
                hits,
            };
            detectors::scan_builtin(s, &mut sink);
        }
        for (i, c) in self.custom.iter().enumerate() {
            if !c.enabled {
                continue;
            }
            if let Some(a) = &c.anchor {
                if a.find(s.as_bytes()).is_none() {
                    continue;
                }
            }
            for m in c.re.find_iter(s) {
                if m.end() > m.start() {
                    hits.push(Hit {
                        start: m.start(),
                        end: m.end(),
                        det: (N_BUILTIN + i) as u16,
                        class: c.class,
                        ctx: false,
                    });
                }
            }
        }
        if hits.len() == base {
            return;
        }
        let tail = &mut hits[base..];
        tail.sort_unstable_by_key(|h| (h.start, std::cmp::Reverse(h.end), h.det));
        let mut last_end = 0;
        let mut keep = base;
        for k in base..hits.len() {
            let h = hits[k];
            if h.start < last_end && k > base {
                continue;
            }
            let Some(text) = s.get(h.start..h.end) else {
                continue;
            };
            if !self.allow_values.is_empty() && self.allow_values.contains(text) {
                continue;
            }
            last_end = h.end;
            hits[keep] = h;
            keep += 1;
        }
        hits.truncate(keep);
    }
}
