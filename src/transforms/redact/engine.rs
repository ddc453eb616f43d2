//! Walking an event: detection and rewriting (pass 1), propagation of
//! collected values (pass 2), and the read-only audit walk.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde_json::{Map, Value};

use super::config::{Class, Mode};
use super::detectors::{is_word, Hit};
use super::fields::{KeyAction, PathNode};
use super::modes::looks_redacted;
use super::{EventFinding, RedactStats, Redactor};

/// Rewriting rounds per string; a round only happens when the previous one
/// rewrote something.
const MAX_ROUNDS: usize = 4;

#[derive(Default)]
struct Ctx {
    hits: Vec<Hit>,
    /// (sensitive value, its replacement) to propagate.
    values: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Unchanged,
    Changed,
    Drop,
}

impl Redactor {
    pub(super) fn redact_event(&self, event: &mut Value, stats: &mut RedactStats) {
        let mut ctx = Ctx::default();
        let root = (!self.allow.is_empty()).then_some(&self.allow);
        match &mut *event {
            Value::Object(m) => self.walk_object(m, root, &mut ctx, stats),
            other => self.walk(other, &mut ctx, stats),
        }
        if self.propagate && !ctx.values.is_empty() {
            self.propagate_values(event, root, ctx.values, stats);
        }
    }

    fn walk(&self, v: &mut Value, ctx: &mut Ctx, stats: &mut RedactStats) {
        match v {
            Value::String(s) => {
                self.redact_string(s, false, ctx, stats);
            }
            Value::Array(a) => {
                for x in a {
                    self.walk(x, ctx, stats);
                }
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
        let mut drop_keys: Vec<String> = Vec::new();
        for (k, x) in m.iter_mut() {
            let child = node.and_then(|n| n.child(k));
            if child.is_some_and(|c| c.terminal) {
                continue;
            }
            match self.keys.get(k) {
                Some(KeyAction::Allow) => {}
                Some(KeyAction::Rule(class)) => {
                    if self.apply_rule(x, class, true, ctx, stats) {
                        drop_keys.push(k.clone());
                    }
                }
                None => {
                    let drop = match x {
                        Value::String(s) => {
                            self.redact_string(s, true, ctx, stats) == Outcome::Drop
                        }
                        Value::Object(o) => {
                            self.walk_object(o, child, ctx, stats);
                            false
                        }
                        Value::Array(_) => {
                            self.walk(x, ctx, stats);
                            false
                        }
                        _ => false,
                    };
                    if drop {
                        drop_keys.push(k.clone());
                    }
                }
            }
        }
        for k in drop_keys {
            m.remove(&k);
            stats.dropped += 1;
        }
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
                for e in a.iter_mut() {
                    self.apply_rule(e, class, false, ctx, stats);
                }
                return top && self.renderer.mode(class) == Mode::Drop;
            }
            Value::Object(o) => {
                for (_, e) in o.iter_mut() {
                    self.apply_rule(e, class, false, ctx, stats);
                }
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
                    stats.count(h.det, &self.custom_names);
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
                stats.count(h.det, &self.custom_names);
                if self.propagate && h.ctx && val.len() >= self.min_prop {
                    ctx.values
                        .push((val.to_string(), out[before..].to_string()));
                }
                last = h.end;
            }
            out.push_str(s.get(last..).unwrap_or(""));
            *s = out;
            outcome = Outcome::Changed;
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
            Value::Object(m) => self.prop_object(m, root, &p, stats),
            other => self.prop_walk(other, &p, stats),
        }
    }

    /// A propagated replacement can join what was around it into a new
    /// match (`…123+44 20 7946 0958` reads as a phone number once the token
    /// glued to it is `[REDACTED:secret]`), so a string that pass 2 rewrote
    /// goes through content detection once more: no detector match survives.
    fn prop_string(&self, s: &mut String, p: &Prop<'_>, stats: &mut RedactStats) {
        if p.rewrite(s, stats) {
            let mut ctx = Ctx::default();
            self.redact_string(s, false, &mut ctx, stats);
        }
    }

    fn prop_walk(&self, v: &mut Value, p: &Prop<'_>, stats: &mut RedactStats) {
        match v {
            Value::String(s) => self.prop_string(s, p, stats),
            Value::Array(a) => {
                for x in a {
                    self.prop_walk(x, p, stats);
                }
            }
            Value::Object(m) => self.prop_object(m, None, p, stats),
            _ => {}
        }
    }

    fn prop_object(
        &self,
        m: &mut Map<String, Value>,
        node: Option<&PathNode>,
        p: &Prop<'_>,
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
                Value::String(s) => self.prop_string(s, p, stats),
                Value::Object(o) => self.prop_object(o, child, p, stats),
                Value::Array(_) => self.prop_walk(x, p, stats),
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
                    path.push_str(k);
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
    /// Rewrites every whole-word occurrence of a collected value; true when
    /// something was rewritten.
    fn rewrite(&self, s: &mut String, stats: &mut RedactStats) -> bool {
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
            stats.propagated += 1;
        }
        out.push_str(s.get(last..).unwrap_or(""));
        *s = out;
        true
    }
}
