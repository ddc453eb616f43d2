//! Built-in content detectors and the single-pass dispatcher that drives them.
//!
//! The dispatcher walks the bytes of a string once. Only two kinds of
//! positions can start a candidate: the first byte of a word (an ASCII
//! alphanumeric run) and a handful of punctuation anchors (`@`, `%`, `=`,
//! `:`, `+`, `(`). At a word start the first byte selects the few detectors
//! that can begin there (a digit: IPv4/MAC/IPv6/number groups; `e`: JWT;
//! `A`: AWS/Google keys and IBAN; ...), each of which checks a couple of
//! bytes before doing any real work. Everything else costs one table lookup
//! per byte.

pub(crate) mod card;
pub(crate) mod email;
pub(crate) mod hardware;
pub(crate) mod iban;
pub(crate) mod ip;
pub(crate) mod names;
pub(crate) mod numeric;
pub(crate) mod phone;
pub(crate) mod secrets;
pub(crate) mod ssn;

use super::config::Class;

/// Built-in detectors. The discriminant indexes name and enable tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Det {
    Email = 0,
    Ipv4,
    Ipv6,
    Phone,
    Card,
    Ssn,
    Iban,
    Jwt,
    Bearer,
    Authorization,
    ApiKey,
    SecretParam,
    Password,
    UrlPassword,
    Mac,
    Imei,
    Serial,
    Name,
    PrivateKey,
}

/// Number of built-in detectors.
pub(crate) const N_BUILTIN: usize = 19;

impl Det {
    pub(crate) const ALL: [Det; N_BUILTIN] = [
        Det::Email,
        Det::Ipv4,
        Det::Ipv6,
        Det::Phone,
        Det::Card,
        Det::Ssn,
        Det::Iban,
        Det::Jwt,
        Det::Bearer,
        Det::Authorization,
        Det::ApiKey,
        Det::SecretParam,
        Det::Password,
        Det::UrlPassword,
        Det::Mac,
        Det::Imei,
        Det::Serial,
        Det::Name,
        Det::PrivateKey,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Det::Email => "email",
            Det::Ipv4 => "ipv4",
            Det::Ipv6 => "ipv6",
            Det::Phone => "phone",
            Det::Card => "card",
            Det::Ssn => "ssn",
            Det::Iban => "iban",
            Det::Jwt => "jwt",
            Det::Bearer => "bearer",
            Det::Authorization => "authorization",
            Det::ApiKey => "api_key",
            Det::SecretParam => "secret_param",
            Det::Password => "password",
            Det::UrlPassword => "url_password",
            Det::Mac => "mac",
            Det::Imei => "imei",
            Det::Serial => "serial",
            Det::Name => "name",
            Det::PrivateKey => "private_key",
        }
    }

    pub(crate) fn class(self) -> Class {
        match self {
            Det::Email => Class::Email,
            Det::Ipv4 | Det::Ipv6 => Class::Ip,
            Det::Phone => Class::Phone,
            Det::Card => Class::Card,
            Det::Ssn => Class::Ssn,
            Det::Iban => Class::Iban,
            Det::Jwt
            | Det::Bearer
            | Det::Authorization
            | Det::ApiKey
            | Det::PrivateKey
            | Det::SecretParam
            | Det::Password
            | Det::UrlPassword => Class::Secret,
            Det::Mac | Det::Imei | Det::Serial => Class::Hardware,
            Det::Name => Class::Personal,
        }
    }

    /// Values found by these detectors depend on surrounding text (a key
    /// name, a keyword), so another occurrence elsewhere would not be found
    /// again: they are propagated.
    pub(crate) fn contextual(self) -> bool {
        matches!(
            self,
            Det::Authorization
                | Det::Bearer
                | Det::SecretParam
                | Det::Password
                | Det::UrlPassword
                | Det::Serial
                | Det::Name
        )
    }
}

/// One match: byte range in the scanned string, detector id (built-in
/// `Det as u16`, custom `N_BUILTIN + i`), class, and whether it was found
/// only thanks to context (then it is propagated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) det: u16,
    pub(crate) class: Class,
    pub(crate) ctx: bool,
}

/// Collects hits of the enabled built-in detectors.
pub(crate) struct Sink<'a> {
    pub(crate) enabled: &'a [bool; N_BUILTIN],
    pub(crate) hits: &'a mut Vec<Hit>,
}

impl Sink<'_> {
    #[inline]
    pub(crate) fn on(&self, d: Det) -> bool {
        self.enabled[d as usize]
    }
    #[inline]
    pub(crate) fn push(&mut self, d: Det, start: usize, end: usize, ctx: bool) {
        if self.enabled[d as usize] && end > start {
            self.hits.push(Hit {
                start,
                end,
                det: d as u16,
                class: d.class(),
                ctx: ctx || d.contextual(),
            });
        }
    }
}

// Byte classes.
pub(crate) const WORD: u8 = 1; // ASCII alphanumeric
pub(crate) const DIGIT: u8 = 2;
pub(crate) const HEX: u8 = 4;
pub(crate) const UPPER: u8 = 8;
pub(crate) const SPECIAL: u8 = 16; // @ % = : + (

pub(crate) static CLS: [u8; 256] = build_table();

const fn build_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let mut v = 0u8;
        if b.is_ascii_alphanumeric() {
            v |= WORD;
        }
        if b.is_ascii_digit() {
            v |= DIGIT | HEX;
        }
        if matches!(b, b'a'..=b'f' | b'A'..=b'F') {
            v |= HEX;
        }
        if b.is_ascii_uppercase() {
            v |= UPPER;
        }
        if matches!(b, b'@' | b'%' | b'=' | b':' | b'+' | b'(') {
            v |= SPECIAL;
        }
        t[c] = v;
        c += 1;
    }
    t
}

#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    CLS[b as usize] & WORD != 0
}
#[inline]
pub(crate) fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}
#[inline]
pub(crate) fn is_hex(b: u8) -> bool {
    CLS[b as usize] & HEX != 0
}

/// Byte at `i`, or 0 past the end.
#[inline]
pub(crate) fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Identifier-ish byte: alphanumeric or `_`.
#[inline]
pub(crate) fn is_ident(b: u8) -> bool {
    is_word(b) || b == b'_'
}

/// Luhn checksum over ASCII digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d.wrapping_sub(b'0'));
        if v > 9 {
            return false;
        }
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// True if one of `words` (lower-case) occurs in the `window` bytes before
/// `pos`, ignoring ASCII case.
pub(crate) fn context_before(b: &[u8], pos: usize, window: usize, words: &[&[u8]]) -> bool {
    let from = pos.saturating_sub(window);
    let mut buf = [0u8; 48];
    let seg = &b[from..pos];
    let n = seg.len().min(buf.len());
    let seg = &seg[seg.len() - n..];
    for (d, s) in buf.iter_mut().zip(seg) {
        *d = s.to_ascii_lowercase();
    }
    let hay = &buf[..n];
    words.iter().any(|w| memchr::memmem::find(hay, w).is_some())
}

/// Is `b[start..end]` preceded by `<class>:` and exactly a 16-hex pseudonym?
/// Such text is our own output and must not be detected again.
pub(crate) fn inside_pseudonym(b: &[u8], start: usize) -> bool {
    if start == 0 || b[start - 1] != b':' {
        return false;
    }
    let mut e = start;
    while e < b.len() && e - start < 17 && matches!(b[e], b'0'..=b'9' | b'a'..=b'f') {
        e += 1;
    }
    if e - start != 16 || (e < b.len() && is_ident(b[e])) {
        return false;
    }
    let mut s = start - 1;
    while s > 0 && b[s - 1].is_ascii_lowercase() {
        s -= 1;
    }
    if s > 0 && is_ident(b[s - 1]) {
        return false;
    }
    Class::from_name(std::str::from_utf8(&b[s..start - 1]).unwrap_or("")).is_some()
}

/// Runs every enabled built-in detector over `s`, appending hits (possibly
/// overlapping, unordered) to `sink.hits`.
pub(crate) fn scan_builtin(s: &str, sink: &mut Sink<'_>) {
    let b = s.as_bytes();
    let n = b.len();
    if n < 5 {
        return;
    }
    let mut i = 0;
    while i < n {
        let t = CLS[b[i] as usize];
        if t & WORD != 0 {
            // `i` starts a word (we only get here after a non-word byte).
            if let Some(end) = word_start(b, i, t, sink) {
                i = end.max(i + 1);
                if is_word(b[i - 1]) {
                    i = skip_word(b, i);
                }
                continue;
            }
            let ws = i;
            i = skip_word(b, i + 1);
            // Names follow addressing words and titles (`Dear`, `customer`,
            // `Mr`): gate on the next word starting upper-case or non-ASCII,
            // which ordinary prose rarely does, before looking at the word.
            if names::gate(b, i) {
                if let Some(end) = names::after_word(b, ws, i, sink) {
                    i = end.max(i);
                }
            }
            continue;
        }
        if t == 0 && (0xE3..=0xE9).contains(&b[i]) {
            // CJK: Han runs are checked for a name trigger around them.
            i = names::cjk_at(b, i, sink);
            continue;
        }
        if t & SPECIAL != 0 {
            if let Some(end) = special(b, i, sink) {
                i = end.max(i + 1);
                if is_word(b[i - 1]) {
                    i = skip_word(b, i);
                }
                continue;
            }
        }
        i += 1;
    }
}

/// Index of the first non-word byte at or after `i`.
#[inline]
fn skip_word(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && CLS[b[i] as usize] & WORD != 0 {
        i += 1;
    }
    i
}

/// Dispatch at the first byte of a word. Returns the end of a hit to skip to.
#[inline]
fn word_start(b: &[u8], i: usize, t: u8, sink: &mut Sink<'_>) -> Option<usize> {
    let c = b[i];
    if t & HEX != 0 {
        // Each check below needs a separator at a fixed small offset.
        let (c1, c2, c3, c4) = (at(b, i + 1), at(b, i + 2), at(b, i + 3), at(b, i + 4));
        if matches!(c2, b':' | b'-') || c4 == b'.' {
            if let Some(e) = hardware::mac_at(b, i, sink) {
                return Some(e);
            }
        }
        if t & DIGIT != 0 && (c1 == b'.' || c2 == b'.' || c3 == b'.') {
            if let Some(e) = ip::ipv4_at(b, i, sink) {
                return Some(e);
            }
        }
        if c1 == b':' || c2 == b':' || c3 == b':' || c4 == b':' || at(b, i + 5) == b':' {
            if let Some(e) = ip::ipv6_at(b, i, sink) {
                return Some(e);
            }
        }
        if c == b'1' && c1 == b'/' && c2 == b'/' {
            if let Some(e) = secrets::google_refresh_token_at(b, i, sink) {
                return Some(e);
            }
        }
        if t & DIGIT != 0 {
            return numeric::numeric_at(b, i, false, false, sink);
        }
    }
    match c {
        b'e' => secrets::jwt_at(b, i, sink),
        b'A' | b'a' | b'g' | b's' | b'r' | b'x' | b'y' | b'n' => {
            if let Some(e) = secrets::api_key_at(b, i, sink) {
                return Some(e);
            }
            if c == b's' {
                return hardware::serial_at(b, i, sink);
            }
            if c == b'A' {
                iban::iban_at(b, i, sink)
            } else {
                None
            }
        }
        b'B' | b'b' => {
            if c == b'B' {
                if let Some(e) = secrets::private_key_at(b, i, sink) {
                    return Some(e);
                }
            }
            if let Some(e) = secrets::bearer_at(b, i, sink) {
                return Some(e);
            }
            // `BR`, `BE`, `BG`, `BH`... IBANs start here too.
            if c == b'B' {
                iban::iban_at(b, i, sink)
            } else {
                None
            }
        }
        b'S' => hardware::serial_at(b, i, sink).or_else(|| iban::iban_at(b, i, sink)),
        b'G' => secrets::api_key_at(b, i, sink).or_else(|| iban::iban_at(b, i, sink)),
        _ if t & UPPER != 0 => iban::iban_at(b, i, sink),
        _ => None,
    }
}

/// Dispatch at a punctuation anchor.
#[inline]
fn special(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    match b[i] {
        b'@' => email::email_at(b, i, i + 1, sink),
        b'%' => {
            if at(b, i + 1) == b'4' && at(b, i + 2) == b'0' {
                email::email_at(b, i, i + 3, sink)
            } else {
                None
            }
        }
        b'=' => secrets::kv_at(b, i, sink),
        b':' => {
            if at(b, i + 1) == b'/' && at(b, i + 2) == b'/' {
                return secrets::url_password_at(b, i, sink);
            }
            if at(b, i + 1) == b':' {
                if let Some(e) = ip::ipv6_at(b, i, sink) {
                    return Some(e);
                }
            }
            secrets::kv_at(b, i, sink)
        }
        b'+' => {
            if i > 0 && is_ident(b[i - 1]) {
                return None;
            }
            if is_digit(at(b, i + 1)) {
                numeric::numeric_at(b, i + 1, true, false, sink)
            } else {
                None
            }
        }
        b'(' => {
            if i > 0 && is_ident(b[i - 1]) {
                return None;
            }
            if is_digit(at(b, i + 1)) {
                numeric::numeric_at(b, i + 1, false, true, sink)
            } else {
                None
            }
        }
        _ => None,
    }
}
