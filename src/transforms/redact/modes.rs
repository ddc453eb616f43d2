//! Rendering a sensitive value according to its class's mode, and
//! recognising our own output so that redaction is idempotent.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::{Class, Mode};

/// Hex digits kept from the HMAC tag (8 bytes).
pub(crate) const PSEUDONYM_HEX: usize = 16;

/// Renders replacements. Holds the keyed HMAC state (key already absorbed),
/// cloned per value.
#[derive(Clone)]
pub(crate) struct Renderer {
    pub(crate) modes: [Mode; 9],
    pub(crate) mac: Option<Hmac<Sha256>>,
}

impl Renderer {
    #[inline]
    pub(crate) fn mode(&self, c: Class) -> Mode {
        self.modes[c.index()]
    }

    /// Appends the replacement of `value` (of class `class`) to `out`.
    /// `Drop` renders as a mask: the caller removes fields itself.
    pub(crate) fn render(&self, class: Class, value: &str, out: &mut String) {
        match self.mode(class) {
            Mode::Mask | Mode::Drop => mask(class, out),
            Mode::Hash => self.hash(class, value, out),
            Mode::Partial => partial(class, value, out),
        }
    }

    fn hash(&self, class: Class, value: &str, out: &mut String) {
        let Some(mac) = &self.mac else {
            // Unreachable by construction (hash mode requires a key); fail
            // closed rather than leak.
            mask(class, out);
            return;
        };
        let mut mac = mac.clone();
        mac.update(class.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        out.push_str(class.as_str());
        out.push(':');
        for byte in &tag[..PSEUDONYM_HEX / 2] {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
        }
    }
}

pub(super) fn mask(class: Class, out: &mut String) {
    out.push_str("[REDACTED:");
    out.push_str(class.as_str());
    out.push(']');
}

fn last_digits(value: &str, n: usize) -> String {
    let d: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    d[d.len().saturating_sub(n)..].iter().collect()
}

fn partial(class: Class, value: &str, out: &mut String) {
    match class {
        Class::Card => {
            let _ = write!(out, "[REDACTED:card:\u{2026}{}]", last_digits(value, 4));
        }
        Class::Ssn => {
            let _ = write!(out, "[REDACTED:ssn:\u{2026}{}]", last_digits(value, 4));
        }
        Class::Phone => {
            let _ = write!(out, "[REDACTED:phone:\u{2026}{}]", last_digits(value, 2));
        }
        Class::Iban => {
            let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            let cc = compact.get(..2).unwrap_or("");
            let tail = compact.get(compact.len().saturating_sub(4)..).unwrap_or("");
            let _ = write!(out, "[REDACTED:iban:{cc}\u{2026}{tail}]");
        }
        Class::Email => {
            let dom = value
                .rfind('@')
                .map(|p| &value[p + 1..])
                .or_else(|| value.rfind("%40").map(|p| &value[p + 3..]));
            mask(class, out);
            if let Some(d) = dom {
                out.push('@');
                out.push_str(d);
            }
        }
        Class::Ip => {
            let v = value.trim_matches(|c| c == '[' || c == ']');
            if let Ok(ip) = v.parse::<Ipv4Addr>() {
                let o = ip.octets();
                let _ = write!(out, "{}.{}.{}.0/24", o[0], o[1], o[2]);
            } else if let Ok(ip) = v.parse::<Ipv6Addr>() {
                let s = ip.segments();
                let _ = write!(out, "{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]);
            } else {
                mask(class, out);
            }
        }
        _ => mask(class, out),
    }
}

/// Is this already our output: a mask (`[REDACTED...`), a pseudonym
/// (`<class>:<16 lower hex>`) or a partial IPv4 (`a.b.c.0/24`)?
pub(crate) fn looks_redacted(v: &[u8]) -> bool {
    if v.starts_with(b"[REDACTED") {
        return true;
    }
    if let Some(p) = memchr::memchr(b':', v) {
        let hex = &v[p + 1..];
        if hex.len() == PSEUDONYM_HEX
            && hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
            && std::str::from_utf8(&v[..p])
                .ok()
                .and_then(Class::from_name)
                .is_some()
        {
            return true;
        }
    }
    if v.ends_with(b".0/24") {
        return std::str::from_utf8(&v[..v.len() - 3])
            .ok()
            .and_then(|s| s.parse::<Ipv4Addr>().ok())
            .is_some();
    }
    false
}
