//! Walking an event: detection and rewriting (pass 1), propagation of
//! collected values (pass 2), and the read-only audit walk.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde_json::{Map, Value};

use super::config::{Class, Mode};
use super::detectors::{is_word, Hit};
use super::fields::{KeyAction, PathNode};
use super::modes::looks_redacted;
use super::{EventFinding, RedactStats, Redactor};
use std::sync::Arc;

/// Rewriting rounds per string; a round only happens when the previous one
/// rewrote something.
const MAX_ROUNDS: usize = 4;

#[derive(Default)]
struct Ctx {
    hits: Vec<Hit>,
    /// (sensitive value, its replacement) to propagate.
    values: Vec<(String, String)>,
    /// Where the walk is, to count redactions by field.
    at: At,
    /// Every replacement made, when the caller asked for them.
    trace: Option<Vec<Replaced>>,
    /// Scratch for the path a redaction is counted at.
    path: String,
}

/// One replacement made in an event, for the dry-run report's samples:
/// where it is (raw path, array items as `[]`), which detector made it, and
/// the text that now stands there (empty when the field was removed). Never
/// the original value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replaced {
    pub(crate) path: String,
    pub(crate) detector: Arc<str>,
    pub(crate) replacement: String,
}

/// The raw path of the object or array being walked (`jsonPayload`,
/// `jsonPayload.items[]`). A string's own key is passed beside it and joined
/// only when something is redacted there, so a walk that finds nothing
/// copies no key; containers (a few per event) push theirs.
#[derive(Default)]
struct At {
    path: String,
    /// Start of each segment in `path` (a key, or `[]` for array items).
    starts: Vec<usize>,
}

impl At {
    fn enter(&mut self, key: &str) {
        self.starts.push(self.path.len());
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
    }

    fn enter_items(&mut self) {
        self.starts.push(self.path.len());
        self.path.push_str("[]");
    }

    fn leave(&mut self) {
        if let Some(s) = self.starts.pop() {
            self.path.truncate(s);
        }
    }

    /// Enters the container a string would have been at: its key, if any.
    fn enter_leaf(&mut self, leaf: Option<&str>) {
        if let Some(k) = leaf {
            self.enter(k);
        }
    }

    fn leave_leaf(&mut self, leaf: Option<&str>) {
        if leaf.is_some() {
            self.leave();
        }
    }

    /// The raw path of `leaf` under the current container, into `out`.
    fn join(&self, leaf: Option<&str>, out: &mut String) {
        out.clear();
        out.push_str(&self.path);
        if let Some(k) = leaf {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(k);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Unchanged,
    Changed,
    Drop,
}

/// Field paths whose key segments would carry data, or ids without end,
/// are written with `*` in their place: `jsonPayload.by_user.*`.
const MAX_SEGMENT: usize = 64;

/// The path segment under which a redacted object key is counted and
/// traced: `jsonPayload.by_user.(key)`.
pub(crate) const KEY_SEGMENT: &str = "(key)";

impl Redactor {
    /// Redacts `event`. `under`: the path the value sits at in a larger
    /// record (a dead letter's `event`), for the by-field counts. `trace`:
    /// where to append every replacement made.
    pub(super) fn redact_event(
        &self,
        event: &mut Value,
        under: Option<&str>,
        stats: &mut RedactStats,
        trace: Option<&mut Vec<Replaced>>,
    ) {
        let mut ctx = Ctx {
            trace: trace.as_ref().map(|_| Vec::new()),
            ..Ctx::default()
        };
        if let Some(p) = under {
            ctx.at.enter(p);
        }
        let root = (!self.allow.is_empty()).then_some(&self.allow);
        match &mut *event {
            Value::Object(m) => self.walk_object(m, root, &mut ctx, stats),
            other => self.walk(other, &mut ctx, stats),
        }
        if self.propagate && !ctx.values.is_empty() {
            let values = std::mem::take(&mut ctx.values);
            self.propagate_values(event, root, values, &mut ctx, stats);
        }
        if let (Some(out), Some(t)) = (trace, ctx.trace) {
            out.extend(t);
        }
    }

    /// The path shown for a raw path: any key segment that is not a plain
    /// name (holds data a detector finds, many digits, odd characters) is
    /// written `*`, so neither a value used as a key nor an unbounded set of
    /// ids reaches the counts. Counting goes by raw path (a copy, no scan)
    /// and this runs once per distinct path when the counts are read.
    fn display_path(&self, raw: &str) -> String {
        if raw.is_empty() {
            return "(value)".to_string();
        }
        let mut out = String::with_capacity(raw.len());
        for (i, seg) in raw.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            let stem = seg.trim_end_matches("[]");
            let shown = stem.is_empty() || stem == KEY_SEGMENT || self.plain_key(stem);
            out.push_str(if shown { stem } else { "*" });
            out.push_str(&seg[stem.len()..]);
        }
        out
    }

    /// Redactions by shown field path (see [`Redactor::display_path`]) and
    /// counter name.
    pub(crate) fn field_counts(&self, stats: &RedactStats) -> Vec<(String, Arc<str>, u64)> {
        let mut shown: std::collections::BTreeMap<(String, Arc<str>), u64> = Default::default();
        let mut last: Option<(&str, String)> = None;
        for (raw, name, n) in stats.raw_fields() {
            let path = match &last {
                Some((r, p)) if *r == raw => p.clone(),
                _ => {
                    let p = self.display_path(raw);
                    last = Some((raw, p.clone()));
                    p
                }
            };
            *shown.entry((path, name.clone())).or_default() += n;
        }
        shown.into_iter().map(|((p, d), n)| (p, d, n)).collect()
    }

    fn plain_key(&self, k: &str) -> bool {
        let b = k.as_bytes();
        let ok_byte = |(i, c): (usize, &u8)| {
            c.is_ascii_alphanumeric() || b"_-./".contains(c) || (i == 0 && *c == b'@')
        };
        if b.is_empty()
            || b.len() > MAX_SEGMENT
            || !b.iter().enumerate().all(ok_byte)
            || b.iter().filter(|c| c.is_ascii_digit()).count() > 3
        {
            return false;
        }
        let mut hits = Vec::new();
        self.scan(k, &mut hits);
        hits.is_empty()
    }

    /// Counts one redaction by `name` at the string `leaf` of the walk's
    /// path, and traces it.
    /// Counts a content detector's hit, by detector and by field.
    fn count_hit(
        &self,
        det: u16,
        stats: &mut RedactStats,
        ctx: &mut Ctx,
        leaf: Option<&str>,
        replacement: &str,
    ) {
        stats.count(det, &self.custom_names);
        self.tally(stats, ctx, leaf, &self.names[usize::from(det)], replacement);
    }

    fn tally(
        &self,
        stats: &mut RedactStats,
        ctx: &mut Ctx,
        leaf: Option<&str>,
        name: &Arc<str>,
        replacement: &str,
    ) {
        stats.count_at(&ctx.at.path, leaf, name);
        if let Some(t) = &mut ctx.trace {
            ctx.at.join(leaf, &mut ctx.path);
            t.push(Replaced {
                path: ctx.path.clone(),
                detector: name.clone(),
                replacement: replacement.to_string(),
            });
        }
    }

    fn walk(&self, v: &mut Value, ctx: &mut Ctx, stats: &mut RedactStats) {
        match v {
            Value::String(s) => {
                self.redact_string(s, false, None, ctx, stats);
            }
            Value::Array(a) => {
                ctx.at.enter_items();
                for x in a {
                    self.walk(x, ctx, stats);
                }
                ctx.at.leave();
            }
            Value::Object(m) => self.walk_object(m, None, ctx, stats),
            _ => {}
        }
    }

    fn walk_object(
        &self,
        m: &mut Map<String, Value>,
        node: Option<&PathNode>,
        ctx: &mut Ctx,
        stats: &mut RedactStats,
    ) {
        // (key as it is in the map, key as counted and traced).
        let mut drop_keys: Vec<(String, String)> = Vec::new();
        let mut renames: Vec<(String, String)> = Vec::new();
        for (k, x) in m.iter_mut() {
            let child = node.and_then(|n| n.child(k));
            if child.is_some_and(|c| c.terminal) {
                continue;
            }
            // A key can be data too (`{"by_user": {"ann@example.com": 3}}`):
            // it is redacted like a value, and the walk below it already
            // goes by its new name.
            let renamed = self.redact_key(k, ctx, stats);
            let key = renamed.as_deref().unwrap_or(k);
            let drop = match self.keys.get(k) {
                Some(KeyAction::Allow) => false,
                Some(KeyAction::Rule(class)) => {
                    self.apply_rule(x, class, true, Some(key), ctx, stats)
                }
                None => match x {
                    Value::String(s) => {
                        self.redact_string(s, true, Some(key), ctx, stats) == Outcome::Drop
                    }
                    Value::Object(o) => {
                        ctx.at.enter(key);
                        self.walk_object(o, child, ctx, stats);
                        ctx.at.leave();
                        false
                    }
                    Value::Array(_) => {
                        ctx.at.enter(key);
                        self.walk(x, ctx, stats);
                        ctx.at.leave();
                        false
                    }
                    _ => false,
                },
            };
            match (drop, renamed) {
                // The map still holds the original key: remove that one,
                // never show it.
                (true, renamed) => {
                    let shown = renamed.unwrap_or_else(|| k.clone());
                    drop_keys.push((k.clone(), shown));
                }
                (false, Some(new)) => renames.push((k.clone(), new)),
                (false, None) => {}
            }
        }
        for (old, new) in renames {
            if let Some(v) = m.remove(&old) {
                let mut name = new.clone();
                let mut n = 2;
                // Two keys can redact to one name (`[REDACTED:email]`).
                while m.contains_key(&name) {
                    name = format!("{new}~{n}");
                    n += 1;
                }
                m.insert(name, v);
            }
        }
        for (k, shown) in drop_keys {
            m.remove(&k);
            stats.dropped += 1;
            self.tally(stats, ctx, Some(&shown), &self.dropped_name, "");
        }
    }

    /// The redacted form of an object key, when a detector finds data in
    /// it. Only keys that could hold any (an `@`, four digits, or longer
    /// than 32 bytes) are scanned, so plain field names cost a byte loop.
    fn redact_key(&self, k: &str, ctx: &mut Ctx, stats: &mut RedactStats) -> Option<String> {
        let b = k.as_bytes();
        if b.len() <= 32 && !could_hold_data(b) {
            return None;
        }
        let mut new = k.to_string();
        ctx.at.enter(KEY_SEGMENT);
        let outcome = self.redact_string(&mut new, false, None, ctx, stats);
        ctx.at.leave();
        (outcome != Outcome::Unchanged).then_some(new)
    }

    /// Class of a whole value under a key rule: the class of a single
    /// detector hit covering it (so `ip_address` follows the `ip` mode),
    /// else the rule's class. Second item: the hit was context-free, so other
    /// occurrences are found by the detectors themselves.
    fn whole_value_class(&self, s: &str, rule: Class, hits: &mut Vec<Hit>) -> (Class, bool) {
        hits.clear();
        self.scan(s, hits);
        let t = s.trim();
        let off = t.as_ptr() as usize - s.as_ptr() as usize;
        if let [h] = hits.as_slice() {
            if h.start == off && h.end == off + t.len() {
                return (h.class, !h.ctx);
            }
        }
        (rule, false)
    }

    /// Redacts the whole value of a key-rule field. Returns true when the
    /// field is to be removed (drop mode).
    fn apply_rule(
        &self,
        x: &mut Value,
        class: Class,
        top: bool,
        leaf: Option<&str>,
        ctx: &mut Ctx,
        stats: &mut RedactStats,
    ) -> bool {
        let text = match x {
            Value::String(s) => {
                if s.is_empty()
                    || looks_redacted(s.as_bytes())
                    || self.allow_values.contains(s.as_str())
                {
                    return false;
                }
                std::mem::take(s)
            }
            Value::Number(n) => n.to_string(),
            Value::Array(a) => {
                ctx.at.enter_leaf(leaf);
                ctx.at.enter_items();
                for e in a.iter_mut() {
                    self.apply_rule(e, class, false, None, ctx, stats);
                }
                ctx.at.leave();
                ctx.at.leave_leaf(leaf);
                return top && self.renderer.mode(class) == Mode::Drop;
            }
            Value::Object(o) => {
                ctx.at.enter_leaf(leaf);
                for (k, e) in o.iter_mut() {
                    self.apply_rule(e, class, false, Some(k), ctx, stats);
                }
                ctx.at.leave_leaf(leaf);
                return top && self.renderer.mode(class) == Mode::Drop;
            }
            Value::Bool(_) | Value::Null => return false,
        };
        let mut hits = std::mem::take(&mut ctx.hits);
        let (eff, found_anyway) = self.whole_value_class(&text, class, &mut hits);
        ctx.hits = hits;
        stats.field[class.index()] += 1;
        let mut rep = String::with_capacity(24);
        self.renderer.render(eff, &text, &mut rep);
        let drop = top && self.renderer.mode(eff) == Mode::Drop;
        let name = &self.field_names[class.index()];
        self.tally(stats, ctx, leaf, name, if drop { "" } else { &rep });
        if self.propagate && !found_anyway && text.len() >= self.min_prop {
            ctx.values.push((text, rep.clone()));
        }
        *x = Value::String(rep);
        drop
    }

    /// Content detection and rewrite of one string value.
    fn redact_string(
        &self,
        s: &mut String,
        can_drop: bool,
        leaf: Option<&str>,
        ctx: &mut Ctx,
        stats: &mut RedactStats,
    ) -> Outcome {
        let mut outcome = Outcome::Unchanged;
        let mut hits = std::mem::take(&mut ctx.hits);
        for round in 0..MAX_ROUNDS {
            hits.clear();
            self.scan(s, &mut hits);
            if hits.is_empty() {
                break;
            }
            if round == 0 && can_drop && hits.len() == 1 {
                let h = hits[0];
                if h.start == 0 && h.end == s.len() && self.renderer.mode(h.class) == Mode::Drop {
                    self.count_hit(h.det, stats, ctx, leaf, "");
                    if self.propagate && h.ctx && s.len() >= self.min_prop {
                        let mut rep = String::new();
                        self.renderer.render(h.class, s, &mut rep);
                        ctx.values.push((s.clone(), rep));
                    }
                    outcome = Outcome::Drop;
                    break;
                }
            }
            let mut out = String::with_capacity(s.len() + 16);
            let mut last = 0;
            for h in &hits {
                let (Some(pre), Some(val)) = (s.get(last..h.start), s.get(h.start..h.end)) else {
                    continue;
                };
                out.push_str(pre);
                let before = out.len();
                self.renderer.render(h.class, val, &mut out);
                self.count_hit(h.det, stats, ctx, leaf, &out[before..]);
                if self.propagate && h.ctx && val.len() >= self.min_prop {
                    ctx.values
                        .push((val.to_string(), out[before..].to_string()));
                }
                last = h.end;
            }
            out.push_str(s.get(last..).unwrap_or(""));
            *s = out;
            outcome = Outcome::Changed;
            if round + 1 == MAX_ROUNDS {
                // Replacements kept joining what was around them into new
                // matches (a pseudonym's hex glued to `@host` reads as an
                // address); fail closed: the whole string becomes the mask
                // of what is still found.
                hits.clear();
                self.scan(s, &mut hits);
                if let Some(h) = hits.first() {
                    let mut masked = String::new();
                    super::modes::mask(h.class, &mut masked);
                    self.count_hit(h.det, stats, ctx, leaf, &masked);
                    *s = masked;
                }
            }
        }
        ctx.hits = hits;
        outcome
    }

    /// Pass 2: rewrite every other occurrence of the collected values.
    fn propagate_values(
        &self,
        event: &mut Value,
        root: Option<&PathNode>,
        mut values: Vec<(String, String)>,
        ctx: &mut Ctx,
        stats: &mut RedactStats,
    ) {
        values.sort_unstable_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        values.dedup_by(|a, b| a.0 == b.0);
        let Some(finder) = Finder::new(&values) else {
            // Cannot happen for a handful of literal patterns; without the
            // automaton the values are still redacted at their source.
            return;
        };
        let min_len = values.last().map_or(0, |v| v.0.len());
        let p = Prop {
            finder,
            values: &values,
            min_len,
        };
        match event {
            Value::Object(m) => self.prop_object(m, root, &p, ctx, stats),
            other => self.prop_walk(other, &p, ctx, stats),
        }
    }

    /// A propagated replacement can join what was around it into a new
    /// match (`…123+44 20 7946 0958` reads as a phone number once the token
    /// glued to it is `[REDACTED:secret]`), so a string that pass 2 rewrote
    /// goes through content detection once more: no detector match survives.
    fn prop_string(
        &self,
        s: &mut String,
        leaf: Option<&str>,
        p: &Prop<'_>,
        ctx: &mut Ctx,
        stats: &mut RedactStats,
    ) {
        let mut reps = Vec::new();
        if !p.rewrite(s, &mut reps) {
            return;
        }
        for rep in reps {
            stats.propagated += 1;
            self.tally(stats, ctx, leaf, &self.propagated_name, rep);
        }
        self.redact_string(s, false, leaf, ctx, stats);
        // Values this rescan collected have nowhere left to go.
        ctx.values.clear();
    }

    fn prop_walk(&self, v: &mut Value, p: &Prop<'_>, ctx: &mut Ctx, stats: &mut RedactStats) {
        match v {
            Value::String(s) => self.prop_string(s, None, p, ctx, stats),
            Value::Array(a) => {
                ctx.at.enter_items();
                for x in a {
                    self.prop_walk(x, p, ctx, stats);
                }
                ctx.at.leave();
            }
            Value::Object(m) => self.prop_object(m, None, p, ctx, stats),
            _ => {}
        }
    }

    fn prop_object(
        &self,
        m: &mut Map<String, Value>,
        node: Option<&PathNode>,
        p: &Prop<'_>,
        ctx: &mut Ctx,
        stats: &mut RedactStats,
    ) {
        for (k, x) in m.iter_mut() {
            let child = node.and_then(|n| n.child(k));
            if child.is_some_and(|c| c.terminal) {
                continue;
            }
            // Key-rule fields were replaced in pass 1 and cannot hold a
            // collected value any more; only allow-listed keys must be
            // skipped, so look keys up only when there are any.
            if self.has_allow_keys && self.keys.get(k) == Some(KeyAction::Allow) {
                continue;
            }
            match x {
                Value::String(s) => self.prop_string(s, Some(k), p, ctx, stats),
                Value::Object(o) => {
                    ctx.at.enter(k);
                    self.prop_object(o, child, p, ctx, stats);
                    ctx.at.leave();
                }
                Value::Array(_) => {
                    ctx.at.enter(k);
                    self.prop_walk(x, p, ctx, stats);
                    ctx.at.leave();
                }
                _ => {}
            }
        }
    }

    /// Read-only walk for audits.
    pub(super) fn audit_walk(
        &self,
        v: &Value,
        node: Option<&PathNode>,
        path: &mut String,
        hits: &mut Vec<Hit>,
        out: &mut Vec<EventFinding>,
    ) {
        match v {
            Value::String(s) => {
                hits.clear();
                self.scan(s, hits);
                for h in hits.iter() {
                    out.push(EventFinding {
                        path: path.clone(),
                        detector: self.names[usize::from(h.det)].clone(),
                        class: h.class,
                    });
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.audit_walk(x, None, path, hits, out);
                    path.truncate(len);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    let child = node.and_then(|n| n.child(k));
                    if child.is_some_and(|c| c.terminal) {
                        continue;
                    }
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    hits.clear();
                    self.scan(k, hits);
                    if !hits.is_empty() {
                        // The key itself holds data: its name is not
                        // repeated in the finding's path.
                        path.push_str(KEY_SEGMENT);
                        for h in hits.iter() {
                            out.push(EventFinding {
                                path: path.clone(),
                                detector: self.names[usize::from(h.det)].clone(),
                                class: h.class,
                            });
                        }
                        path.truncate(len);
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push('*');
                    } else {
                        path.push_str(k);
                    }
                    match self.keys.get(k) {
                        Some(KeyAction::Allow) => {}
                        Some(KeyAction::Rule(class)) => {
                            if has_clear_leaf(x) {
                                out.push(EventFinding {
                                    path: path.clone(),
                                    detector: self.field_names[class.index()].clone(),
                                    class,
                                });
                            }
                        }
                        None => self.audit_walk(x, child, path, hits, out),
                    }
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// An `@` or four digits: what every detector that could match a short
/// key needs.
fn could_hold_data(b: &[u8]) -> bool {
    let mut digits = 0;
    for &c in b {
        if c == b'@' {
            return true;
        }
        if c.is_ascii_digit() {
            digits += 1;
            if digits == 4 {
                return true;
            }
        }
    }
    false
}

/// Does a key-rule value hold anything not yet redacted?
fn has_clear_leaf(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty() && !looks_redacted(s.as_bytes()),
        Value::Number(_) => true,
        Value::Array(a) => a.iter().any(has_clear_leaf),
        Value::Object(o) => o.values().any(has_clear_leaf),
        Value::Bool(_) | Value::Null => false,
    }
}

/// Finds collected values in a string. A few values (the common case: a
/// serial and a licence key) are found with `memchr3` on each value's rarest
/// byte and a `starts_with` check, which costs nothing to build; more values
/// get an Aho-Corasick automaton.
enum Finder {
    Rare {
        /// Distinct rare bytes (1..=3).
        bytes: [u8; 3],
        n: usize,
        /// (value index, rare byte, offset of the rare byte in the value)
        keys: Vec<(usize, u8, usize)>,
    },
    Ac(AhoCorasick),
}

/// Rough byte frequency in log text: lower is rarer.
fn byte_rank(c: u8) -> u8 {
    match c {
        b'a'..=b'z' | b' ' => 200,
        b'0'..=b'9' => 120,
        b'A'..=b'Z' => 90,
        b'.' | b'-' | b'_' | b'/' | b':' | b'"' | b',' => 150,
        _ => 40,
    }
}

impl Finder {
    fn new(values: &[(String, String)]) -> Option<Finder> {
        let mut keys = Vec::with_capacity(values.len());
        let mut bytes = [0u8; 3];
        let mut n = 0;
        for (i, (v, _)) in values.iter().enumerate() {
            let vb = v.as_bytes();
            // Prefer a byte already chosen for another value, else the rarest.
            let pick = vb
                .iter()
                .position(|c| bytes[..n].contains(c))
                .or_else(|| (0..vb.len()).min_by_key(|&k| byte_rank(vb[k])));
            let Some(off) = pick else { continue };
            let c = vb[off];
            if !bytes[..n].contains(&c) {
                if n == 3 {
                    return Self::ac(values);
                }
                bytes[n] = c;
                n += 1;
            }
            keys.push((i, c, off));
        }
        if n == 0 {
            return None;
        }
        Some(Finder::Rare { bytes, n, keys })
    }

    fn ac(values: &[(String, String)]) -> Option<Finder> {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::NoncontiguousNFA))
            .build(values.iter().map(|v| v.0.as_bytes()))
            .ok()
            .map(Finder::Ac)
    }

    /// Calls `f(start, end, value index)` for non-overlapping matches, left
    /// to right, longest first at one position.
    fn for_each(
        &self,
        hay: &[u8],
        values: &[(String, String)],
        mut f: impl FnMut(usize, usize, usize),
    ) {
        match self {
            Finder::Ac(ac) => {
                for m in ac.find_iter(hay) {
                    f(m.start(), m.end(), m.pattern().as_usize());
                }
            }
            Finder::Rare { bytes, n, keys } => {
                let it: Box<dyn Iterator<Item = usize>> = match n {
                    1 => Box::new(memchr::memchr_iter(bytes[0], hay)),
                    2 => Box::new(memchr::memchr2_iter(bytes[0], bytes[1], hay)),
                    _ => Box::new(memchr::memchr3_iter(bytes[0], bytes[1], bytes[2], hay)),
                };
                let mut next_free = 0;
                for p in it {
                    let c = hay[p];
                    // `keys` is ordered longest value first.
                    for &(i, kc, off) in keys {
                        if kc != c || p < off || p - off < next_free {
                            continue;
                        }
                        let st = p - off;
                        let v = values[i].0.as_bytes();
                        if hay[st..].starts_with(v) {
                            f(st, st + v.len(), i);
                            next_free = st + v.len();
                            break;
                        }
                    }
                }
            }
        }
    }
}

struct Prop<'a> {
    finder: Finder,
    values: &'a [(String, String)],
    min_len: usize,
}

impl Prop<'_> {
    /// Rewrites every whole-word occurrence of a collected value, pushing
    /// each replacement onto `reps`; true when something was rewritten.
    fn rewrite<'v>(&'v self, s: &mut String, reps: &mut Vec<&'v str>) -> bool {
        if s.len() < self.min_len {
            return false;
        }
        let b = s.as_bytes();
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        self.finder.for_each(b, self.values, |st, en, i| {
            // Whole-word occurrences only when the value starts/ends with a
            // word character (`Ann` must not hit `Annual`).
            if st > 0 && is_word(b[st]) && is_word(b[st - 1]) {
                return;
            }
            if en < b.len() && is_word(b[en - 1]) && is_word(b[en]) {
                return;
            }
            found.push((st, en, i));
        });
        if found.is_empty() {
            return false;
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (st, en, i) in found {
            let (Some(pre), Some(rep)) = (s.get(last..st), self.values.get(i)) else {
                continue;
            };
            out.push_str(pre);
            out.push_str(&rep.1);
            last = en;
            reps.push(&rep.1);
        }
        out.push_str(s.get(last..).unwrap_or(""));
        *s = out;
        true
    }
}
