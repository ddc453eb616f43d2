//! Key-name rules and allow-lists.
//!
//! Keys are normalised (ASCII lower case, `_` and `-` removed, so
//! `remoteIp`, `remote_ip` and `Remote-IP` are one key) and looked up in a
//! small open-addressing table keyed by an FxHash of the normalised bytes:
//! no allocation per key, a few nanoseconds per lookup. Allow-listed paths
//! form a trie walked alongside the event (only while the walk is on a
//! prefix of some allowed path).

use super::config::Class;

/// What a key rule says about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyAction {
    /// Never touch this field.
    Allow,
    /// Redact the whole value as this class.
    Rule(Class),
}

const MAX_KEY: usize = 64;

fn normalize(key: &str, buf: &mut [u8; MAX_KEY]) -> Option<(usize, u64)> {
    let mut n = 0;
    let mut h: u64 = 0;
    for &c in key.as_bytes() {
        if c == b'_' || c == b'-' {
            continue;
        }
        if n == MAX_KEY {
            return None;
        }
        let c = c.to_ascii_lowercase();
        buf[n] = c;
        n += 1;
        h = (h.rotate_left(5) ^ u64::from(c)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    Some((n, h))
}

/// (normalised key, hash, action)
type Slot = Option<(Box<[u8]>, u64, KeyAction)>;

/// Normalised key -> action.
#[derive(Debug, Clone)]
pub(crate) struct KeyTable {
    /// Bloom bits over (first, last) normalised bytes: most keys are
    /// rejected before hashing.
    bloom: [u64; 16],
    slots: Vec<Slot>,
    max_len: usize,
    len: usize,
}

impl KeyTable {
    pub(crate) fn new(entries: &[(String, KeyAction)]) -> KeyTable {
        let cap = (entries.len() * 2).next_power_of_two().max(16);
        let mut t = KeyTable {
            bloom: [0; 16],
            slots: vec![None; cap],
            max_len: 0,
            len: 0,
        };
        for (k, a) in entries {
            t.insert(k, *a);
        }
        t
    }

    fn insert(&mut self, key: &str, action: KeyAction) {
        let mut buf = [0u8; MAX_KEY];
        let Some((n, h)) = normalize(key, &mut buf) else {
            return;
        };
        if n == 0 {
            return;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            let old = std::mem::take(&mut self.slots);
            self.slots = vec![None; old.len() * 2];
            self.len = 0;
            for (k, h, a) in old.into_iter().flatten() {
                self.place(k, h, a);
            }
        }
        self.max_len = self.max_len.max(n);
        let bit = bloom_bit(buf[0], buf[n - 1]);
        self.bloom[bit / 64] |= 1 << (bit % 64);
        self.place(buf[..n].into(), h, action);
    }

    fn place(&mut self, k: Box<[u8]>, h: u64, a: KeyAction) {
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            match &mut self.slots[i] {
                Some((sk, sh, sa)) if *sh == h && **sk == *k => {
                    *sa = a;
                    return;
                }
                Some(_) => i = (i + 1) & mask,
                slot @ None => {
                    *slot = Some((k, h, a));
                    self.len += 1;
                    return;
                }
            }
        }
    }

    /// Action for a key, if any. Hashes the key on the fly (no copy) and
    /// compares the normalised bytes only on a hash hit.
    #[inline]
    pub(crate) fn get(&self, key: &str) -> Option<KeyAction> {
        if self.len == 0 || key.len() > MAX_KEY * 2 {
            return None;
        }
        let kb = key.as_bytes();
        let first = kb.iter().find(|&&c| c != b'_' && c != b'-')?;
        let last = kb.iter().rev().find(|&&c| c != b'_' && c != b'-')?;
        let bit = bloom_bit(first.to_ascii_lowercase(), last.to_ascii_lowercase());
        if self.bloom[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        let mut n = 0usize;
        let mut h: u64 = 0;
        for &c in key.as_bytes() {
            if c == b'_' || c == b'-' {
                continue;
            }
            n += 1;
            h = (h.rotate_left(5) ^ u64::from(c.to_ascii_lowercase()))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        if n == 0 || n > self.max_len {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            match &self.slots[i] {
                Some((k, sh, a)) => {
                    if *sh == h && k.len() == n && eq_normalized(key, k) {
                        return Some(*a);
                    }
                    i = (i + 1) & mask;
                }
                None => return None,
            }
        }
    }
}

#[inline]
fn bloom_bit(first: u8, last: u8) -> usize {
    (usize::from(first).wrapping_mul(31) ^ usize::from(last).wrapping_mul(7)) & 1023
}

fn eq_normalized(key: &str, norm: &[u8]) -> bool {
    key.bytes()
        .filter(|&c| c != b'_' && c != b'-')
        .map(|c| c.to_ascii_lowercase())
        .eq(norm.iter().copied())
}

/// Trie of allow-listed dotted paths.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathNode {
    children: Vec<(String, PathNode)>,
    pub(crate) terminal: bool,
}

impl PathNode {
    /// Adds `a.b.c`. Returns false for an empty path or segment.
    pub(crate) fn add(&mut self, path: &str) -> bool {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return false;
        }
        let mut node = self;
        for seg in path.split('.') {
            let idx = match node.children.iter().position(|(k, _)| k == seg) {
                Some(i) => i,
                None => {
                    node.children.push((seg.to_string(), PathNode::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[idx].1;
        }
        node.terminal = true;
        true
    }

    #[inline]
    pub(crate) fn child(&self, key: &str) -> Option<&PathNode> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}
