//! Table-driven detector cases, engine behaviour, property tests and the
//! labelled corpus check.

use serde_json::{json, Value};

use super::*;

fn default_redactor() -> Redactor {
    Redactor::new(&RedactConfig::default(), None).expect("default config is valid")
}

const KEY: &[u8] = b"0123456789abcdef-test-key";

fn redactor_with(mode: Mode) -> Redactor {
    let cfg = RedactConfig {
        default_mode: mode,
        ..RedactConfig::default()
    };
    Redactor::new(&cfg, Some(KEY)).expect("test config is valid")
}

/// Detector names found in `s`.
fn found(r: &Redactor, s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    r.scan_str(s, &mut out);
    out.iter()
        .map(|f| (f.detector.to_string(), s[f.start..f.end].to_string()))
        .collect()
}

/// Asserts that `s` yields exactly one finding of `det` covering `expect`.
fn check_pos(r: &Redactor, det: &str, s: &str, expect: &str) {
    let f = found(r, s);
    assert!(
        f.iter().any(|(d, v)| d == det && v == expect),
        "expected {det} `{expect}` in `{s}`, got {f:?}"
    );
}

fn check_neg(r: &Redactor, s: &str) {
    let f = found(r, s);
    assert!(f.is_empty(), "expected nothing in `{s}`, got {f:?}");
}

/// (detector, text, expected match)
const POSITIVE: &[(&str, &str, &str)] = &[
    // email
    ("email", "contact john.doe@example.com now", "john.doe@example.com"),
    ("email", "a+tag@mail.example.co.uk", "a+tag@mail.example.co.uk"),
    ("email", "JOHN.DOE@EXAMPLE.COM", "JOHN.DOE@EXAMPLE.COM"),
    ("email", "/login?user=jane%40example.org&x=1", "jane%40example.org"),
    ("email", "q=foo%20bob%40corp.example.net", "bob%40corp.example.net"),
    ("email", "<alice_b@sub.domain.io>", "alice_b@sub.domain.io"),
    ("email", "mailto:ops-team@example.com", "ops-team@example.com"),
    ("email", "\"user_email\":\"x.y-z@ex-ample.com\"", "x.y-z@ex-ample.com"),
    ("email", "at com.foo.Bar(Bar.java:42) for u1@example.com.", "u1@example.com"),
    ("email", "emails: a@b.io, c@d.io", "a@b.io"),
    ("email", "emails: a@b.io, c@d.io", "c@d.io"),
    // ipv4
    ("ipv4", "client 203.0.113.42 connected", "203.0.113.42"),
    ("ipv4", "remote=198.51.100.7:8080", "198.51.100.7"),
    ("ipv4", "x-forwarded-for: 203.0.113.1, 10.0.0.12,192.168.1.5", "203.0.113.1"),
    ("ipv4", "x-forwarded-for: 203.0.113.1, 10.0.0.12,192.168.1.5", "10.0.0.12"),
    ("ipv4", "x-forwarded-for: 203.0.113.1, 10.0.0.12,192.168.1.5", "192.168.1.5"),
    ("ipv4", "ip 010.001.002.003", "010.001.002.003"),
    ("ipv4", "http://172.16.5.4/api", "172.16.5.4"),
    ("ipv4", "ip=8.8.8.8", "8.8.8.8"),
    ("ipv4", "host 10.1.2.3/32 banned", "10.1.2.3"),
    // ipv6
    ("ipv6", "from 2001:db8:85a3:0:0:8a2e:370:7334 ok", "2001:db8:85a3:0:0:8a2e:370:7334"),
    ("ipv6", "from 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("ipv6", "addr fe80::1ff:fe23:4567:890a%eth0", "fe80::1ff:fe23:4567:890a"),
    ("ipv6", "mapped ::ffff:192.0.2.128 here", "::ffff:192.0.2.128"),
    ("ipv6", "url http://[2001:db8::1]:8443/x", "2001:db8::1"),
    ("ipv6", "peer 2a00:1450:4001:82b::200e,", "2a00:1450:4001:82b::200e"),
    // phone
    ("phone", "call +1 415 555 2671 today", "+1 415 555 2671"),
    ("phone", "tel +14155552671", "+14155552671"),
    ("phone", "(415) 555-2671", "(415) 555-2671"),
    ("phone", "cb 415-555-2671", "415-555-2671"),
    ("phone", "cb 415.555.2671", "415.555.2671"),
    ("phone", "cb 1-800-555-0199", "1-800-555-0199"),
    ("phone", "uk +44 20 7946 0958", "+44 20 7946 0958"),
    ("phone", "uk 020 7946 0958", "020 7946 0958"),
    ("phone", "uk 07700 900123", "07700 900123"),
    ("phone", "uk +44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
    ("phone", "de +49 30 12345678", "+49 30 12345678"),
    ("phone", "de 030 12345678", "030 12345678"),
    ("phone", "de 0151/23456789", "0151/23456789"),
    ("phone", "fr +33 1 23 45 67 89", "+33 1 23 45 67 89"),
    ("phone", "fr 01 23 45 67 89", "01 23 45 67 89"),
    ("phone", "fr 06.12.34.56.78", "06.12.34.56.78"),
    ("phone", "jp 03-1234-5678", "03-1234-5678"),
    ("phone", "jp 090-1234-5678", "090-1234-5678"),
    ("phone", "jp +81 3-1234-5678", "+81 3-1234-5678"),
    ("phone", "br (11) 91234-5678", "(11) 91234-5678"),
    ("phone", "br (21) 2345-6789", "(21) 2345-6789"),
    ("phone", "br 11 91234-5678", "11 91234-5678"),
    ("phone", "br +55 11 91234-5678", "+55 11 91234-5678"),
    ("phone", "phone: 4155552671", "4155552671"),
    ("phone", "mobile=07700900123", "07700900123"),
    // card
    ("card", "card 4111 1111 1111 1111 exp", "4111 1111 1111 1111"),
    ("card", "card 4111-1111-1111-1111", "4111-1111-1111-1111"),
    ("card", "pan=4111111111111111", "4111111111111111"),
    ("card", "amex 378282246310005", "378282246310005"),
    ("card", "amex 3782 822463 10005", "3782 822463 10005"),
    ("card", "mc 5555555555554444", "5555555555554444"),
    ("card", "mc2 2223003122003222", "2223003122003222"),
    ("card", "disc 6011111111111117", "6011111111111117"),
    ("card", "jcb 3530111333300000", "3530111333300000"),
    ("card", "diners 30569309025904", "30569309025904"),
    ("card", "visa13 4222222222222", "4222222222222"),
    ("card", "port 8080 4111 1111 1111 1111", "4111 1111 1111 1111"),
    // ssn
    ("ssn", "ssn 123-45-6789", "123-45-6789"),
    ("ssn", "SSN: 078-05-1120 on file", "078-05-1120"),
    ("ssn", "social security number 219099999", "219099999"),
    // iban
    ("iban", "iban DE89370400440532013000", "DE89370400440532013000"),
    ("iban", "pay to DE89 3704 0044 0532 0130 00 now", "DE89 3704 0044 0532 0130 00"),
    ("iban", "GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("iban", "FR1420041010050500013M02606", "FR1420041010050500013M02606"),
    ("iban", "NL91ABNA0417164300.", "NL91ABNA0417164300"),
    // secrets
    ("jwt", "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("authorization", "Authorization: Bearer abcDEF123456ghiJKL", "abcDEF123456ghiJKL"),
    ("bearer", "sent Bearer abcDEF123456ghiJKL upstream", "abcDEF123456ghiJKL"),
    ("bearer", "bearer 0a1b2c3d4e5f6a7b", "0a1b2c3d4e5f6a7b"),
    ("authorization", "authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("authorization", "{\"Authorization\": \"Token abc123def456\"}", "abc123def456"),
    ("authorization", "Authorization: sometoken123", "sometoken123"),
    ("api_key", "key AIzaSyA1234567890abcdefghijklmnopqrstuv used", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("api_key", "aws AKIAIOSFODNN7EXAMPLE key", "AKIAIOSFODNN7EXAMPLE"),
    ("api_key", "gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("api_key", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("api_key", "slack xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF"),
    ("secret_param", "GET /v1?api_key=9f8e7d6c5b4a39281706f5e4&x=1", "9f8e7d6c5b4a39281706f5e4"),
    ("secret_param", "access_token=Zx81kQpL0vNw3YtR7sUe", "Zx81kQpL0vNw3YtR7sUe"),
    ("secret_param", "client_secret: 'aB3dE5gH7jK9mN1p'", "aB3dE5gH7jK9mN1p"),
    ("secret_param", "{\"token\":\"q1w2e3r4t5y6u7i8o9p0\"}", "q1w2e3r4t5y6u7i8o9p0"),
    ("password", "login password=hunter2 ok", "hunter2"),
    ("password", "db passwd=s3cr3t!&user=x", "s3cr3t!"),
    ("password", "PWD=letmein", "letmein"),
    ("password", "{\"password\": \"correct horse\"}", "correct horse"),
    ("url_password", "postgres://admin:Sup3rS3cret@db.internal:5432/app", "Sup3rS3cret"),
    ("url_password", "fetch https://bob:pa55w0rd@example.com/x", "pa55w0rd"),
    // hardware
    ("mac", "mac 00:1A:2B:3C:4D:5E up", "00:1A:2B:3C:4D:5E"),
    ("mac", "mac a4-5e-60-c2-11-9f", "a4-5e-60-c2-11-9f"),
    ("mac", "cisco 001a.2b3c.4d5e", "001a.2b3c.4d5e"),
    ("mac", "hw=f0:18:98:aa:bb:cc,", "f0:18:98:aa:bb:cc"),
    ("imei", "imei 490154203237518", "490154203237518"),
    ("imei", "device 356938035643809 registered", "356938035643809"),
    ("imei", "IMEI: 35-209900-176148-1", "35-209900-176148-1"),
    // A failed-Luhn digit run is no IMEI, but after `serial` it is a serial.
    ("serial", "serial 123456789012347", "123456789012347"),
    // Issue 22 (6): named as a serial, a value with one digit or none is one.
    ("serial", "Heartbeat from [REDACTED:hardware] (serial DMPCPCBLH9FH)", "DMPCPCBLH9FH"),
    ("serial", "device check-in S/N: SCVE8VSPGU", "SCVE8VSPGU"),
    ("serial", "SN# QWERTYUIOPAS shipped", "QWERTYUIOPAS"),
    ("serial", "Serial Number=ABCDEFGHJK", "ABCDEFGHJK"),
    ("serial", "serial no. XKCDABCDEFG", "XKCDABCDEFG"),
    // Issue 22 (6): Google and npm credentials, in their documented shapes
    // (values made up).
    ("api_key", "token ya29.a0AfB_byC1d2E3f4G5h6I7j8K9l0M-nOpQrStUvWxYz used",
     "ya29.a0AfB_byC1d2E3f4G5h6I7j8K9l0M-nOpQrStUvWxYz"),
    ("api_key", "refresh=1//0gLdY8T3kxyzAbCdEfGhIjKlMnOpQrStUvWxYz-123_456 stored",
     "1//0gLdY8T3kxyzAbCdEfGhIjKlMnOpQrStUvWxYz-123_456"),
    ("api_key", "client 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 done",
     "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"),
    ("api_key", "npm token npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 set",
     "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
];

const NEGATIVE: &[&str] = &[
    // near misses of the credential shapes and serial phrases above
    "serial port COM1 opened",
    "serial console ENABLED",
    "serial number UNKNOWN",
    "paths a/1//b and 1//short",
    "npm_config_cache set",
    "ya29.short",
    "-----BEGIN CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY----- MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE -----END PUBLIC KEY-----",
    // ids and hashes
    "user 550e8400-e29b-41d4-a716-446655440000 ok",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "commit 1234567890123abcdef",
    "req-id 7d8f9c6b4e2a1f3c",
    "pod license-api-7d8f9c6b4-xk9m2",
    "Receiving block blk_-1608999687919862906 src",
    "Receiving block blk_1073741825 src",
    "blk_-4111111111111111",
    // versions, times, numbers
    "CODITECT/1.0.0 (Linux; Python 3.11)",
    "version 10.0.19041.1 installed",
    "v1.2.3.4 build",
    "at 2025-11-30T12:34:56.789Z done",
    "2025-11-30 12:34:56,789 INFO",
    "took 0.153s latency 12ms",
    "status 503 after 3 retries",
    "pid 12345 exited",
    "epoch 1732970096789",
    "nanos 1732970096789123456",
    "counter 4111111111111112",
    "card 4111 1111 1111 1112",
    "amex 378282246310006",
    "ssn 666-45-6789",
    "ssn 000-12-3456",
    "ssn 123-00-4567",
    "iban DE89370400440532013001",
    "date 30/11/2025 10:00",
    "date 01/12/2025 10:30",
    "count 1234567 rows",
    "id 12345678901",
    "range 100-200-3000",
    "size 1.5 GB, ratio 0.75",
    "12:34:56 clock",
    // localhost, networks
    "listening on 127.0.0.1:8080",
    "bind 0.0.0.0:443",
    "ipv6 ::1 and ::",
    "subnet 10.1.2.0/24",
    "subnet 2001:db8:85a3::/48",
    // code-ish
    "std::io::Error at foo::bar::baz",
    "icon@2x.png loaded",
    "npm @scope/pkg@1.2.3",
    "email: [REDACTED:email]",
    "key=[REDACTED:secret]",
    "password=[REDACTED:secret]",
    "token=short",
    "cache_key=user-profile-settings",
    "Bearer personal:0123456789abcdef",
    "mac 00:00:00:00:00:00",
    "mac ff:ff:ff:ff:ff:ff",
    "imei 490154203237519",
    "AKIAIOSFODNN7EXAMPL",
    "ghp_short",
    "https://example.com/path?q=1",
    "user@localhost",
];

#[test]
fn detectors_positive_table() {
    let r = default_redactor();
    for (det, s, expect) in POSITIVE {
        check_pos(&r, det, s, expect);
    }
}

#[test]
fn detectors_negative_table() {
    let r = default_redactor();
    for s in NEGATIVE {
        check_neg(&r, s);
    }
}

#[test]
fn checksums() {
    assert!(detectors::luhn(b"4111111111111111"));
    assert!(!detectors::luhn(b"4111111111111112"));
    assert!(detectors::card::card_valid(b"378282246310005"));
    assert!(!detectors::card::card_valid(b"1234567812345670")); // Luhn ok, no issuer
    assert!(detectors::iban::mod97_ok(b"GB82WEST12345698765432"));
    assert!(!detectors::iban::mod97_ok(b"GB82WEST12345698765433"));
    assert!(detectors::ssn::ssn_valid(b"123456789"));
    assert!(!detectors::ssn::ssn_valid(b"900123456"));
    assert!(detectors::hardware::imei_valid(b"490154203237518", false));
    assert!(!detectors::hardware::imei_valid(b"490154203237519", true));
}

fn sample_event() -> Value {
    json!({
        "timestamp": "2025-11-30T12:34:56.789Z",
        "severity": "INFO",
        "logName": "projects/p/logs/license-api",
        "insertId": "abc123xyz",
        "trace": "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "resource": {"type": "k8s_container", "labels": {"pod_name": "license-api-7d8f9c6b4-xk9m2", "namespace_name": "prod"}},
        "jsonPayload": {
            "message": "License acquisition request from 203.0.113.42 for device SN-99812-XQ (a@b.com)",
            "user_id": "550e8400-e29b-41d4-a716-446655440000",
            "tenant_id": "660e8400-e29b-41d4-a716-446655440001",
            "license_key": "CODITECT-AB12-CD34-EF56-GH78",
            "hardware_id": "sha256:abc123def456",
            "serial": "SN-99812-XQ",
            "ip_address": "203.0.113.42",
            "user_agent": "CODITECT/1.0.0 (Linux; Python 3.11)",
            "user_email": "a@b.com",
            "note": "key CODITECT-AB12-CD34-EF56-GH78 on sha256:abc123def456"
        },
        "httpRequest": {"status": 503, "latency": "0.153s", "remoteIp": "203.0.113.42", "userAgent": "curl/8.1"}
    })
}

#[test]
fn event_default_profile() {
    let r = default_redactor();
    let mut ev = sample_event();
    let mut st = RedactStats::default();
    r.redact(&mut ev, &mut st);
    let text = ev.to_string();
    for leak in [
        "203.0.113.42",
        "a@b.com",
        "SN-99812-XQ",
        "CODITECT-AB12",
        "sha256:abc123def456",
    ] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    for keep in [
        "2025-11-30T12:34:56.789Z",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        "550e8400-e29b-41d4-a716-446655440000",
        "license-api-7d8f9c6b4-xk9m2",
        "CODITECT/1.0.0 (Linux; Python 3.11)",
        "0.153s",
        "k8s_container",
        "abc123xyz",
    ] {
        assert!(text.contains(keep), "{keep} lost: {text}");
    }
    assert_eq!(ev["httpRequest"]["status"], 503);
    assert_eq!(ev["jsonPayload"]["user_email"], "[REDACTED:email]");
    assert_eq!(ev["jsonPayload"]["ip_address"], "[REDACTED:ip]");
    assert_eq!(ev["jsonPayload"]["serial"], "[REDACTED:hardware]");
    assert_eq!(ev["jsonPayload"]["license_key"], "[REDACTED:secret]");
    assert_eq!(
        ev["jsonPayload"]["message"],
        "License acquisition request from [REDACTED:ip] for device [REDACTED:hardware] ([REDACTED:email])"
    );
    assert!(st.get("field:hardware") >= 2);
    assert!(st.get("propagated") >= 3);
    assert!(st.get("ipv4") >= 1);
    // Idempotent.
    let once = ev.clone();
    r.redact(&mut ev, &mut RedactStats::default());
    assert_eq!(ev, once);
}

#[test]
fn field_rules_any_type_and_depth() {
    let r = default_redactor();
    let mut ev = json!({"a": {"b": [{"Phone_Number": 4155552671u64}, {"MAC": {"x": "aa", "y": ["bb"]}}]},
                        "X-Forwarded-For": "1.2.3.4, 5.6.7.8", "ok": true, "Device-Id": null, "name": ""});
    r.redact(&mut ev, &mut RedactStats::default());
    assert_eq!(ev["a"]["b"][0]["Phone_Number"], "[REDACTED:personal]");
    assert_eq!(ev["a"]["b"][1]["MAC"]["x"], "[REDACTED:hardware]");
    assert_eq!(ev["a"]["b"][1]["MAC"]["y"][0], "[REDACTED:hardware]");
    assert_eq!(ev["X-Forwarded-For"], "[REDACTED:personal]");
    assert_eq!(ev["Device-Id"], Value::Null);
    assert_eq!(ev["name"], "");
}

#[test]
fn modes_hash_partial_drop() {
    let r = redactor_with(Mode::Hash);
    let mut ev = json!({"msg": "mail a@b.com", "user_email": "a@b.com"});
    r.redact(&mut ev, &mut RedactStats::default());
    let m = ev["msg"].as_str().expect("string").to_string();
    assert!(m.starts_with("mail email:"), "{m}");
    assert_eq!(m.len(), "mail email:".len() + 16);
    assert_eq!(ev["user_email"].as_str(), m.strip_prefix("mail "));
    // Stable across instances with the same key, different with another key.
    let r2 = redactor_with(Mode::Hash);
    let mut ev2 = json!({"msg": "mail a@b.com"});
    r2.redact(&mut ev2, &mut RedactStats::default());
    assert_eq!(ev2["msg"], ev["msg"]);
    let cfg = RedactConfig {
        default_mode: Mode::Hash,
        ..RedactConfig::default()
    };
    let r3 = Redactor::new(&cfg, Some(b"another-key-0123456789")).expect("valid");
    let mut ev3 = json!({"msg": "mail a@b.com"});
    r3.redact(&mut ev3, &mut RedactStats::default());
    assert_ne!(ev3["msg"], ev["msg"]);

    let r = redactor_with(Mode::Partial);
    let mut ev = json!({"m": "card 4111 1111 1111 1111 from 203.0.113.42 mail x@corp.com ip 2001:db8:85a3::8a2e:370:7334"});
    r.redact(&mut ev, &mut RedactStats::default());
    assert_eq!(
        ev["m"],
        "card [REDACTED:card:\u{2026}1111] from 203.0.113.0/24 mail [REDACTED:email]@corp.com ip 2001:db8:85a3::/48"
    );
    let once = ev.clone();
    r.redact(&mut ev, &mut RedactStats::default());
    assert_eq!(ev, once, "partial is idempotent too");

    let r = redactor_with(Mode::Drop);
    let mut ev = json!({"contact": "a@b.com", "m": "write to a@b.com", "user_email": "c@d.com", "list": ["a@b.com"], "keep": 1});
    let mut st = RedactStats::default();
    r.redact(&mut ev, &mut st);
    assert_eq!(
        ev,
        json!({"m": "write to [REDACTED:email]", "list": ["[REDACTED:email]"], "keep": 1})
    );
    assert_eq!(st.get("dropped"), 2);
}

/// A key that is itself data (an address used as a map key) and whose value
/// drop mode removes: the whole member goes, the original key included.
/// It used to stay, key and value as written, because the removal looked
/// for the redacted key.
#[test]
fn a_dropped_field_whose_key_holds_data_leaves_nothing_behind() {
    let r = redactor_with(Mode::Drop);
    let mut ev = json!({"by_user": {"ann@example.com": "ann@example.com", "bob@example.org": 3},
                        "keep": "ok"});
    let mut st = RedactStats::default();
    r.redact(&mut ev, &mut st);
    let text = ev.to_string();
    assert!(!text.contains("ann@example.com"), "{text}");
    assert!(!text.contains("bob@example.org"), "{text}");
    assert_eq!(ev["keep"], "ok");
    assert_eq!(
        ev["by_user"].as_object().map(|m| m.len()),
        Some(1),
        "{text}"
    );
    assert_eq!(st.get("dropped"), 1);
}

/// Issue 22 (6): a PEM private-key block is replaced as one unit, whatever
/// its type and however its lines are separated, and a cut block still
/// loses everything after its header.
#[test]
fn pem_private_keys_are_replaced_whole_in_every_form() {
    let r = default_redactor();
    let body = [
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
        "VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu",
        "ictGeurT8jNbvJZHtCSuYEvuNMoSfm76oqFvAp8Gy0iz5sxjZmSn",
    ];
    for kind in ["", "RSA ", "EC ", "ENCRYPTED ", "OPENSSH "] {
        for sep in ["\n", "\\n", " ", "\r\n"] {
            let pem = format!(
                "-----BEGIN {kind}PRIVATE KEY-----{sep}{}{sep}-----END {kind}PRIVATE KEY-----",
                body.join(sep)
            );
            let mut ev = json!({"jsonPayload": {"private_key": &pem, "note": format!("sa key {pem}{sep}after")}});
            r.redact(&mut ev, &mut RedactStats::default());
            let text = ev.to_string();
            for line in body {
                assert!(!text.contains(&line[..20]), "{kind:?} {sep:?}: {text}");
            }
            assert!(!text.contains("PRIVATE KEY"), "{kind:?} {sep:?}: {text}");
            let note = ev["jsonPayload"]["note"].as_str().unwrap();
            assert!(
                note.starts_with("sa key ") && note.ends_with("after"),
                "{note}"
            );
            let f = found(&r, &format!("x {pem} y"));
            assert_eq!(f.len(), 1, "one unit: {f:?}");
            assert_eq!(f[0], ("private_key".to_string(), pem.clone()));
        }
    }
    // Cut before its end marker (a wrapped or truncated line).
    let cut = format!("key -----BEGIN PRIVATE KEY-----\n{}\n{}", body[0], body[1]);
    let f = found(&r, &cut);
    assert_eq!(f, vec![("private_key".to_string(), cut[4..].to_string())]);
    // Certificates and public keys are not secrets.
    assert!(found(
        &r,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    )
    .is_empty());
}

#[test]
fn config_errors_and_options() {
    let cfg = RedactConfig {
        modes: [(Class::Email, Mode::Hash)].into_iter().collect(),
        ..RedactConfig::default()
    };
    let e = Redactor::new(&cfg, None).expect_err("hash without key");
    assert!(e.to_string().contains("email"));
    assert!(matches!(
        Redactor::new(&cfg, Some(b"short")),
        Err(RedactConfigError::ShortHashKey)
    ));

    let cfg: RedactConfig = serde_json::from_value(json!({
        "disabled_classes": ["ip"],
        "disabled_detectors": ["phone"],
        "detectors": [{"name": "employee_id", "pattern": "EMP-[0-9]{6}", "class": "personal", "anchor": "EMP-"}],
        "key_rules": [{"key": "customerRef", "class": "personal"}],
        "allow_paths": ["jsonPayload.support"],
        "allow_keys": ["request_email"],
        "allow_values": ["support@example.com"]
    }))
    .expect("valid config json");
    let r = Redactor::new(&cfg, None).expect("valid");
    let mut ev = json!({"jsonPayload": {
        "m": "EMP-123456 from 203.0.113.42 tel +1 415 555 2671 mail support@example.com x@y.com",
        "customer_ref": "C-77", "support": "z@y.com", "request_email": "q@y.com"}});
    let mut st = RedactStats::default();
    r.redact(&mut ev, &mut st);
    assert_eq!(
        ev["jsonPayload"]["m"],
        "[REDACTED:personal] from 203.0.113.42 tel +1 415 555 2671 mail support@example.com [REDACTED:email]"
    );
    assert_eq!(ev["jsonPayload"]["customer_ref"], "[REDACTED:personal]");
    assert_eq!(ev["jsonPayload"]["support"], "z@y.com");
    assert_eq!(ev["jsonPayload"]["request_email"], "q@y.com");
    assert_eq!(st.get("employee_id"), 1);

    for bad in [
        json!({"detectors": [{"name": "x", "pattern": "(", "class": "secret"}]}),
        json!({"detectors": [{"name": "email", "pattern": "x", "class": "secret"}]}),
        json!({"disabled_detectors": ["nope"]}),
        json!({"allow_paths": ["a..b"]}),
    ] {
        let cfg: RedactConfig = serde_json::from_value(bad).expect("parses");
        let e = Redactor::new(&cfg, None).expect_err("invalid");
        assert!(!e.to_string().is_empty());
    }
    assert!(serde_json::from_value::<RedactConfig>(json!({"bogus": 1})).is_err());
}

#[test]
fn unchanged_strings_are_not_reallocated() {
    let r = default_redactor();
    let mut ev = json!({"m": "nothing sensitive here at all, status 200 in 12ms", "n": {"k": "v"}});
    let before = ev["m"].as_str().expect("string").as_ptr();
    r.redact(&mut ev, &mut RedactStats::default());
    assert_eq!(ev["m"].as_str().expect("string").as_ptr(), before);
}

#[test]
fn redactor_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Redactor>();
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a@b.com".to_string()),
            Just("john%40example.org".to_string()),
            Just("203.0.113.42:80".to_string()),
            Just("2001:db8::1".to_string()),
            Just("+44 20 7946 0958".to_string()),
            Just("4111 1111 1111 1111".to_string()),
            Just("123-45-6789".to_string()),
            Just("DE89370400440532013000".to_string()),
            Just("Bearer abcdefghijkl123".to_string()),
            Just("password=hunter2".to_string()),
            Just("token=Zx81kQpL0vNw3YtR7sUe".to_string()),
            Just("https://u:p4ss@h.example.com/".to_string()),
            Just("00:1A:2B:3C:4D:5E".to_string()),
            Just("490154203237518".to_string()),
            Just("AKIAIOSFODNN7EXAMPLE".to_string()),
            Just("[REDACTED:email]".to_string()),
            Just("email:0123456789abcdef".to_string()),
            "[ -~]{0,12}",
            "[0-9 .:@+()=-]{0,16}",
            any::<String>(),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(fragment(), 0..8).prop_map(|v| v.concat())
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("email".to_string()),
                        Just("serial".to_string()),
                        Just("message".to_string()),
                        Just("trace".to_string()),
                        "[a-zA-Z_-]{1,10}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn never_panics_on_strings(s in any::<String>()) {
            let r = default_redactor();
            let mut v = Value::String(s.clone());
            r.redact(&mut v, &mut RedactStats::default());
            let mut f = Vec::new();
            r.scan_str(&s, &mut f);
        }

        #[test]
        fn no_match_survives_and_idempotent(s in text()) {
            for mode in [Mode::Mask, Mode::Hash] {
                let r = redactor_with(mode);
                let mut v = json!({"message": s.clone()});
                r.redact(&mut v, &mut RedactStats::default());
                let out = v["message"].as_str().unwrap_or("").to_string();
                let mut f = Vec::new();
                r.scan_str(&out, &mut f);
                prop_assert!(f.is_empty(), "{:?} survived in {:?}", f, out);
                let once = v.clone();
                r.redact(&mut v, &mut RedactStats::default());
                prop_assert_eq!(v, once);
            }
        }

        #[test]
        fn json_never_panics_and_idempotent(v in json_value()) {
            for mode in [Mode::Mask, Mode::Hash] {
                let r = redactor_with(mode);
                let mut a = v.clone();
                r.redact(&mut a, &mut RedactStats::default());
                let once = a.clone();
                r.redact(&mut a, &mut RedactStats::default());
                prop_assert_eq!(a, once);
            }
        }
    }
}

/// A secret value propagated into text where it was glued to a phone
/// number (`…123+44 20 7946 0958`) leaves the phone number detectable once
/// replaced; it is redacted too (a proptest case, kept in
/// proptest-regressions as well).
#[test]
fn propagation_rescans_what_it_rewrote() {
    let r = redactor_with(Mode::Mask);
    let s = "00:1A:2B:3C:4D:5EBearer abcdefghijkl123+44 20 7946 0958-Bearer abcdefghijkl123";
    let mut v = json!({"message": s});
    r.redact(&mut v, &mut RedactStats::default());
    let out = v["message"].as_str().unwrap().to_string();
    assert_eq!(
        out,
        "00:1A:2B:3C:4D:5EBearer [REDACTED:secret][REDACTED:phone]-Bearer [REDACTED:secret]"
    );
    let mut f = Vec::new();
    r.scan_str(&out, &mut f);
    assert!(f.is_empty(), "{f:?}");
}

/// The fuzz target's find (fuzz/regressions/redact/): in hash mode a
/// propagated pseudonym glued to the letters after it read as a
/// `secret_param` value; pass 2 now rescans what it rewrote.
#[test]
fn fuzz_regression_hash_pseudonym_glued_to_text() {
    fuzz_checks(include_bytes!(
        "../../../fuzz/regressions/redact/pseudonym-glued-to-text.bin"
    ));
}

/// The fuzz target's checks (fuzz/fuzz_targets/redact.rs) on one input:
/// in mask and hash modes, as an event when it is JSON and as free text,
/// redaction is idempotent and leaves nothing detectable in the text.
fn fuzz_checks(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    for mode in [Mode::Mask, Mode::Hash] {
        let cfg = RedactConfig {
            default_mode: mode,
            ..RedactConfig::default()
        };
        let r = Redactor::new(&cfg, Some(b"fuzz-hash-key-0123456789")).unwrap();
        if let Ok(v) = serde_json::from_slice::<Value>(data) {
            let mut a = v.clone();
            r.redact(&mut a, &mut RedactStats::default());
            let once = a.clone();
            r.redact(&mut a, &mut RedactStats::default());
            assert_eq!(a, once, "{mode:?}: idempotent");
        }
        let mut s = Value::String(text.clone());
        r.redact(&mut s, &mut RedactStats::default());
        let mut found = Vec::new();
        r.scan_str(s.as_str().unwrap(), &mut found);
        assert!(found.is_empty(), "{mode:?}: {found:?} in {s}");
        let once = s.clone();
        r.redact(&mut s, &mut RedactStats::default());
        assert_eq!(s, once, "{mode:?}: idempotent on text");
    }
}

/// The fuzz target's find: in hash mode each round's pseudonyms glued to
/// what followed them into new matches (hex + `@e.com` an address, then a
/// URL password...) past the last round; the string is now masked whole.
#[test]
fn fuzz_regression_replacements_cascading_into_new_matches_end_masked() {
    fuzz_checks(include_bytes!(
        "../../../fuzz/regressions/redact/replacements-cascading-into-new-matches.bin"
    ));
}
