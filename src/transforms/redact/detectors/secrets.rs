//! Credentials: JWTs, `Bearer` tokens, `Authorization` values, PEM private
//! keys, vendor API keys and tokens (Google `AIza` keys, `ya29.` access
//! tokens, `1//` refresh tokens, `GOCSPX-` client secrets; AWS
//! `AKIA`/`ASIA`..., GitHub `ghp_`..., Stripe `sk_live_`..., Slack `xox?-`,
//! npm `npm_`), high-entropy values after `key=`,
//! `token=`, `secret=` (also `key: v` and `"key":"v"`), passwords after
//! `password=`/`passwd=`/`pwd=` and in URL userinfo.

use super::{at, inside_pseudonym, is_ident, is_word, Det, Sink};
use crate::transforms::redact::modes::looks_redacted;

#[inline]
fn b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn run(b: &[u8], mut k: usize, f: impl Fn(u8) -> bool) -> usize {
    while k < b.len() && f(b[k]) {
        k += 1;
    }
    k
}

pub(crate) fn jwt_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Jwt) || !b[i..].starts_with(b"eyJ") {
        return None;
    }
    let e1 = run(b, i, b64url);
    if e1 - i < 10 || at(b, e1) != b'.' {
        return None;
    }
    let e2 = run(b, e1 + 1, b64url);
    if e2 - e1 - 1 < 10 {
        return None;
    }
    let mut end = e2;
    if at(b, e2) == b'.' {
        end = run(b, e2 + 1, b64url);
    }
    sink.push(Det::Jwt, i, end, false);
    Some(end)
}

const AWS: &[&[u8]] = &[
    b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"ANPA", b"ANVA", b"AIPA",
];

pub(crate) fn api_key_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::ApiKey) {
        return None;
    }
    let s = &b[i..];
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    // (prefix length, end, body length bounds, whether the body may not be
    // followed by more base64url: fixed-length keys).
    let (prefix, end, min, max) = if AWS.iter().any(|p| s.starts_with(p)) {
        let e = run(b, i + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
        (4, e, 16, 16)
    } else if s.starts_with(b"AIza") {
        (4, run(b, i + 4, b64url), 35, 35)
    } else if s.starts_with(b"ya29.") {
        // Google OAuth 2.0 access token.
        (5, run(b, i + 5, |c| b64url(c) || c == b'.'), 20, 4096)
    } else if s.starts_with(b"GOCSPX-") {
        // Google OAuth client secret.
        (7, run(b, i + 7, b64url), 28, 28)
    } else if s.starts_with(b"npm_") {
        // npm access token.
        (4, run(b, i + 4, alnum), 36, 36)
    } else if s.starts_with(b"github_pat_") {
        (11, run(b, i + 11, |c| alnum(c) || c == b'_'), 22, 255)
    } else if s.len() > 4
        && s.starts_with(b"gh")
        && matches!(s[2], b'p' | b'o' | b'u' | b's' | b'r')
        && s[3] == b'_'
    {
        (4, run(b, i + 4, alnum), 30, 255)
    } else if s.starts_with(b"sk_live_")
        || s.starts_with(b"rk_live_")
        || s.starts_with(b"sk_test_")
        || s.starts_with(b"rk_test_")
    {
        (8, run(b, i + 8, alnum), 10, 255)
    } else if s.len() > 5
        && s.starts_with(b"xox")
        && matches!(s[3], b'a' | b'b' | b'p' | b'r' | b's')
        && s[4] == b'-'
    {
        (5, run(b, i + 5, |c| alnum(c) || c == b'-'), 10, 255)
    } else {
        return None;
    };
    let body = end - i - prefix;
    let fixed = min == max && min >= 28;
    if body < min || body > max || (end < b.len() && (b64url(b[end]) && fixed || is_ident(b[end])))
    {
        return None;
    }
    sink.push(Det::ApiKey, i, end, false);
    Some(end)
}

/// A Google OAuth 2.0 refresh token, `1//` and at least 20 base64url
/// characters, at the `1` at `i`.
pub(crate) fn google_refresh_token_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::ApiKey)
        || !b[i..].starts_with(b"1//")
        || (i > 0 && (is_ident(b[i - 1]) || b[i - 1] == b'/'))
    {
        return None;
    }
    let end = run(b, i + 3, b64url);
    if end - i - 3 < 20 {
        return None;
    }
    sink.push(Det::ApiKey, i, end, false);
    Some(end)
}

/// A PEM private-key block (`-----BEGIN PRIVATE KEY-----`, `RSA`, `EC`,
/// `ENCRYPTED`, `OPENSSH` ... `PRIVATE KEY`) at the `B` of `BEGIN` at `i`,
/// replaced as one unit from the first dash to the end marker's last dash,
/// whatever separates its lines (newlines, `\n` escapes, spaces). Without
/// an end marker (a cut or wrapped log line) everything to the end of the
/// string goes: a partial key is still a key.
pub(crate) fn private_key_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    const DASHES: &[u8] = b"-----";
    if !sink.on(Det::PrivateKey) || i < DASHES.len() || &b[i - DASHES.len()..i] != DASHES {
        return None;
    }
    let head = &b[i..];
    if !head.starts_with(b"BEGIN ") {
        return None;
    }
    let label_end = i + memchr::memmem::find(head, DASHES)?;
    let label = &b[i + 6..label_end];
    if !label.ends_with(b"PRIVATE KEY")
        || !label.iter().all(|c| c.is_ascii_uppercase() || *c == b' ')
    {
        return None;
    }
    let start = i - DASHES.len();
    let body = label_end + DASHES.len();
    let end = match memchr::memmem::find(&b[body..], b"-----END ") {
        Some(k) => {
            let marker = body + k + 9;
            match memchr::memmem::find(&b[marker..], DASHES) {
                Some(d) => marker + d + DASHES.len(),
                None => b.len(),
            }
        }
        None => b.len(),
    };
    sink.push(Det::PrivateKey, start, end, false);
    Some(end)
}

fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
}

pub(crate) fn bearer_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Bearer) || b.len() < i + 8 || !b[i..i + 6].eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let mut v = i + 6;
    if at(b, v) != b' ' {
        return None;
    }
    while at(b, v) == b' ' {
        v += 1;
    }
    let e = run(b, v, token_char);
    if e - v < 8 || at(b, e) == b':' {
        return None;
    }
    sink.push(Det::Bearer, v, e, false);
    Some(e)
}

fn stop(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b'&' | b',' | b';' | b'"' | b'\'' | b')' | b']' | b'}' | b'<' | b'>'
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kv {
    Password,
    Authorization,
    Secret,
}

fn ends_with_ci(key: &[u8], suffix: &[u8]) -> bool {
    key.len() >= suffix.len() && key[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// `key=value` / `key: value` / `"key":"value"` at the `=` or `:` at `i`.
pub(crate) fn kv_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if b[i] == b':' && inside_pseudonym(b, i + 1) {
        return None;
    }
    let mut k = i;
    if k > 0 && matches!(b[k - 1], b'"' | b'\'') {
        k -= 1;
    }
    if k == 0 {
        return None;
    }
    // Cheap reject on the key's last letter: passworD/passwD/pwD,
    // authorizatioN/tokeN, secreT, keY.
    let last = b[k - 1].to_ascii_lowercase();
    if !matches!(last, b'd' | b'n' | b't' | b'y') {
        return None;
    }
    let ke = k;
    while k > 0 && ke - k < 48 && (is_ident(b[k - 1]) || b[k - 1] == b'-') {
        k -= 1;
    }
    let key = &b[k..ke];
    let kind = if ends_with_ci(key, b"password")
        || ends_with_ci(key, b"passwd")
        || ends_with_ci(key, b"pwd")
    {
        Kv::Password
    } else if ends_with_ci(key, b"authorization") {
        Kv::Authorization
    } else if ends_with_ci(key, b"secret")
        || ends_with_ci(key, b"token")
        || ends_with_ci(key, b"key")
    {
        Kv::Secret
    } else {
        return None;
    };
    let det = match kind {
        Kv::Password => Det::Password,
        Kv::Authorization => Det::Authorization,
        Kv::Secret => Det::SecretParam,
    };
    if !sink.on(det) {
        return None;
    }
    let mut v = i + 1;
    while at(b, v) == b' ' && v - i < 4 {
        v += 1;
    }
    let quote = match at(b, v) {
        q @ (b'"' | b'\'') => {
            v += 1;
            Some(q)
        }
        _ => None,
    };
    if kind == Kv::Authorization {
        // Keep the scheme name (`Basic`, `Bearer`, `Digest`...).
        let s = run(b, v, |c| c.is_ascii_alphabetic());
        if s > v && s - v <= 16 && at(b, s) == b' ' && !stop(at(b, s + 1)) {
            v = s + 1;
        }
    }
    let e = match quote {
        Some(q) => run(b, v, |c| c != q && c != b'\n'),
        None => run(b, v, |c| !stop(c)),
    };
    if e == v {
        return None;
    }
    let val = &b[v..e];
    if looks_redacted(val) {
        return Some(e);
    }
    if kind == Kv::Secret && !high_entropy(val) {
        return None;
    }
    sink.push(det, v, e, false);
    Some(e)
}

/// Random-looking: at least 12 bytes, two character classes, Shannon
/// entropy of at least 3 bits per byte.
pub(crate) fn high_entropy(v: &[u8]) -> bool {
    if v.len() < 12 {
        return false;
    }
    let v = &v[..v.len().min(256)];
    let (mut lo, mut up, mut dg) = (false, false, false);
    let mut counts = [0u16; 128];
    for &c in v {
        lo |= c.is_ascii_lowercase();
        up |= c.is_ascii_uppercase();
        dg |= c.is_ascii_digit();
        counts[usize::from(c & 0x7f)] += 1;
    }
    if u8::from(lo) + u8::from(up) + u8::from(dg) < 2 {
        return false;
    }
    let n = v.len() as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    h >= 3.0
}

/// `scheme://user:password@host` at the `:` of `://`.
pub(crate) fn url_password_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::UrlPassword) || i == 0 || !is_word(b[i - 1]) {
        return None;
    }
    let a = i + 3;
    let end = run(b, a, |c| {
        !(c.is_ascii_whitespace() || matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>'))
    });
    let auth = &b[a..end];
    let at_pos = a + memchr::memrchr(b'@', auth)?;
    let colon = a + memchr::memchr(b':', &b[a..at_pos])?;
    let (ps, pe) = (colon + 1, at_pos);
    if pe > ps && !looks_redacted(&b[ps..pe]) {
        sink.push(Det::UrlPassword, ps, pe, false);
    }
    // The host part is scanned on as usual (it may be an address).
    None
}
