//! Deterministic generator of the labelled PII corpus
//! (`fixtures/pii/{corpus,planted,benign}.ndjson`): license-API log entries
//! with planted personal data and secrets (`planted.ndjson`: line, class,
//! value) and look-alikes that must survive (`benign.ndjson`: line, kind,
//! value).
//!
//! Test code, kept out of `src/`: the redaction unit tests include it
//! (`transforms::redact::corpus_tests`, which check that the fixtures are
//! what it generates), and `cargo run --example pii_corpus` writes the
//! fixtures. It depends on nothing but `serde_json`.

use std::fmt::Write as _;

use serde_json::{json, Value};

/// splitmix64: small, fixed-seed, good enough for fixtures.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn chars(&mut self, n: usize, set: &[u8]) -> String {
        (0..n).map(|_| char::from(*self.pick(set))).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789abcdef")
    }
    fn digits(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789")
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGIT: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const FIRST: &[&str] = &[
    "john", "maria", "wei", "olga", "ahmed", "lucia", "kenji", "ana", "pierre", "fatima",
];
const LAST: &[&str] = &[
    "smith", "garcia", "zhang", "ivanova", "hassan", "rossi", "tanaka", "silva", "dubois", "khan",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "corp.example.net",
    "example.co.uk",
    "sub.example.io",
];

fn luhn_digit(body: &str) -> u8 {
    let mut sum = 0u32;
    for (k, c) in body.bytes().rev().enumerate() {
        let mut v = u32::from(c - b'0');
        if k % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    b'0' + ((10 - sum % 10) % 10) as u8
}

fn with_luhn(body: String) -> String {
    let d = luhn_digit(&body);
    let mut s = body;
    s.push(char::from(d));
    s
}

fn bad_luhn(body: String) -> String {
    let d = luhn_digit(&body);
    let mut s = body;
    s.push(char::from(b'0' + (d - b'0' + 1) % 10));
    s
}

struct Gen {
    r: Rng,
    line: usize,
    planted: Vec<(usize, &'static str, String)>,
    benign: Vec<(usize, &'static str, String)>,
}

impl Gen {
    fn plant(&mut self, class: &'static str, v: String) -> String {
        self.planted.push((self.line, class, v.clone()));
        v
    }
    fn keep(&mut self, kind: &'static str, v: String) -> String {
        self.benign.push((self.line, kind, v.clone()));
        v
    }
    fn email(&mut self) -> String {
        let f = *self.r.pick(FIRST);
        let l = *self.r.pick(LAST);
        let d = *self.r.pick(DOMAINS);
        let v = match self.r.below(4) {
            0 => format!("{f}.{l}@{d}"),
            1 => format!("{f}+{}@{d}", self.r.hex(4)),
            2 => format!(
                "{}.{}@{}",
                f.to_uppercase(),
                l.to_uppercase(),
                d.to_uppercase()
            ),
            _ => format!("{f}_{l}{}@{d}", self.r.below(100)),
        };
        self.plant("email", v)
    }
    fn ipv4(&mut self) -> String {
        let v = format!(
            "{}.{}.{}.{}",
            *self.r.pick(&[203u64, 198, 192, 10, 172, 81, 95, 145]),
            self.r.below(256),
            self.r.below(256),
            self.r.range(1, 254)
        );
        self.plant("ip", v)
    }
    fn ipv6(&mut self) -> String {
        let v = match self.r.below(3) {
            0 => format!(
                "2001:db8:{}:{}::{}",
                self.r.hex(4),
                self.r.hex(3),
                self.r.range(1, 999)
            ),
            1 => format!(
                "2a00:1450:{}:{}:{}:{}:{}:{}",
                self.r.hex(4),
                self.r.hex(3),
                self.r.hex(4),
                self.r.hex(2),
                self.r.hex(4),
                self.r.hex(4)
            ),
            _ => format!(
                "::ffff:{}.{}.{}.{}",
                198,
                51,
                self.r.below(256),
                self.r.range(1, 254)
            ),
        };
        self.plant("ip", v)
    }
    fn phone(&mut self) -> String {
        let nxx = |r: &mut Rng| format!("{}{}", r.range(2, 9), r.digits(2));
        let v = match self.r.below(9) {
            0 => format!(
                "+1 {} {} {}",
                nxx(&mut self.r),
                nxx(&mut self.r),
                self.r.digits(4)
            ),
            1 => format!(
                "({}) {}-{}",
                nxx(&mut self.r),
                nxx(&mut self.r),
                self.r.digits(4)
            ),
            2 => format!(
                "{}-{}-{}",
                nxx(&mut self.r),
                nxx(&mut self.r),
                self.r.digits(4)
            ),
            3 => format!("+44 20 {} {}", self.r.digits(4), self.r.digits(4)),
            4 => format!("07700 {}", self.r.digits(6)),
            5 => format!("+49 30 {}", self.r.digits(8)),
            6 => format!(
                "0{} {} {} {} {}",
                self.r.range(1, 7),
                self.r.digits(2),
                self.r.digits(2),
                self.r.digits(2),
                self.r.digits(2)
            ),
            7 => format!("090-{}-{}", self.r.digits(4), self.r.digits(4)),
            _ => format!(
                "({}) 9{}-{}",
                self.r.range(11, 99),
                self.r.digits(4),
                self.r.digits(4)
            ),
        };
        self.plant("phone", v)
    }
    fn card(&mut self) -> String {
        let body = match self.r.below(4) {
            0 => format!("4{}", self.r.digits(14)),
            1 => format!("5{}{}", self.r.range(1, 5), self.r.digits(13)),
            2 => format!("6011{}", self.r.digits(11)),
            _ => format!("3{}{}", *self.r.pick(&[4u64, 7]), self.r.digits(12)),
        };
        let n = with_luhn(body);
        let v = match (self.r.below(3), n.len()) {
            (0, 16) => format!("{} {} {} {}", &n[..4], &n[4..8], &n[8..12], &n[12..]),
            (1, 16) => format!("{}-{}-{}-{}", &n[..4], &n[4..8], &n[8..12], &n[12..]),
            (0, 15) => format!("{} {} {}", &n[..4], &n[4..10], &n[10..]),
            _ => n,
        };
        self.plant("card", v)
    }
    fn ssn(&mut self) -> String {
        let mut area = self.r.range(1, 899);
        if area == 666 {
            area = 667;
        }
        let v = format!(
            "{area:03}-{:02}-{:04}",
            self.r.range(1, 99),
            self.r.range(1, 9999)
        );
        self.plant("ssn", v)
    }
    fn iban(&mut self) -> String {
        let bban = self.r.digits(18);
        // check digits: 98 - mod97(bban + "DE00")
        let mut rem = 0u64;
        for c in format!("{bban}131400").bytes() {
            rem = (rem * 10 + u64::from(c - b'0')) % 97;
        }
        let v = format!("DE{:02}{bban}", 98 - rem);
        let v = if self.r.below(2) == 0 {
            v.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            v
        };
        self.plant("iban", v)
    }
    fn mac(&mut self) -> String {
        let bytes: Vec<String> = (0..6).map(|_| self.r.hex(2)).collect();
        let v = match self.r.below(3) {
            0 => bytes.join(":"),
            1 => bytes.join("-").to_uppercase(),
            _ => format!(
                "{}{}.{}{}.{}{}",
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]
            ),
        };
        self.plant("hardware", v)
    }
    fn imei(&mut self) -> String {
        let v = with_luhn(format!("35{}", self.r.digits(12)));
        self.plant("hardware", v)
    }
    fn serial(&mut self) -> String {
        let v = format!("SN-{}-{}", self.r.chars(5, UPPER_DIGIT), self.r.digits(4));
        self.plant("hardware", v)
    }
    fn hw_id(&mut self) -> String {
        let v = format!("sha256:{}", self.r.hex(64));
        self.plant("hardware", v)
    }
    fn license(&mut self) -> String {
        let v = format!(
            "CODITECT-{}-{}-{}-{}",
            self.r.chars(4, UPPER_DIGIT),
            self.r.chars(4, UPPER_DIGIT),
            self.r.chars(4, UPPER_DIGIT),
            self.r.chars(4, UPPER_DIGIT)
        );
        self.plant("secret", v)
    }
    fn api_key(&mut self) -> String {
        let v = match self.r.below(4) {
            0 => format!("AKIA{}", self.r.chars(16, UPPER_DIGIT)),
            1 => format!("AIza{}", self.r.chars(35, ALNUM)),
            2 => format!("ghp_{}", self.r.chars(36, ALNUM)),
            _ => format!("sk_live_{}", self.r.chars(24, ALNUM)),
        };
        self.plant("secret", v)
    }
    fn jwt(&mut self) -> String {
        let v = format!(
            "eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}",
            self.r.chars(30, ALNUM),
            self.r.chars(43, ALNUM)
        );
        self.plant("secret", v)
    }
    fn token(&mut self) -> String {
        let v = format!(
            "{}{}{}",
            self.r.chars(8, b"abcdefghijkmnpqrstuvwxyz"),
            self.r.digits(4),
            self.r.chars(10, ALNUM)
        );
        self.plant("secret", v)
    }
    fn password(&mut self) -> String {
        let v = format!(
            "{}{}!{}",
            self.r
                .pick(&["Tr0ub4dor", "hunter", "S3cr3t", "Passw0rd", "letmein"]),
            self.r.digits(3),
            self.r.chars(3, ALNUM)
        );
        self.plant("secret", v)
    }
    fn name(&mut self) -> String {
        let (f, l) = (*self.r.pick(FIRST), *self.r.pick(LAST));
        let v = format!("{} {}", cap(f), cap(l));
        self.plant("personal", v)
    }
    /// A name as one locale writes it (accents, particles, hyphens).
    fn locale_name(&mut self, locale: usize) -> String {
        let v = match locale {
            0 => format!(
                "{} {}",
                self.r
                    .pick(&["Olivia", "James", "Emily", "Sean", "Mary-Jane"]),
                self.r
                    .pick(&["Walker", "O'Brien", "McAllister", "Thompson", "Hughes"])
            ),
            1 => format!(
                "{} {}",
                self.r
                    .pick(&["Jürgen", "Anja", "Lukas", "Käthe", "Hans-Peter"]),
                self.r.pick(&[
                    "Weiß",
                    "Schröder",
                    "von Trapp",
                    "Müller-Lüdenscheidt",
                    "Böhm"
                ])
            ),
            2 => format!(
                "{} {}",
                self.r
                    .pick(&["Étienne", "Hélène", "Amélie", "François", "Marie-Claire"]),
                self.r
                    .pick(&["Lefèvre", "Béranger", "de La Fontaine", "Moreau", "Dubois"])
            ),
            3 => format!(
                "{} {}",
                self.r
                    .pick(&["José", "María", "Lucía", "Juan Carlos", "Íñigo"]),
                self.r
                    .pick(&["García", "Fernández", "de la Cruz", "Núñez", "Pérez"])
            ),
            4 => format!(
                "{} {}",
                self.r
                    .pick(&["João", "Conceição", "Luís", "Gonçalo", "Ana"]),
                self.r
                    .pick(&["Gonçalves", "da Silva", "dos Santos", "Araújo", "Magalhães"])
            ),
            _ => self
                .r
                .pick(&[
                    "张伟",
                    "王芳",
                    "李娜",
                    "田中太郎",
                    "山田花子",
                    "佐藤健",
                    "陈静",
                ])
                .to_string(),
        };
        self.plant("personal", v)
    }
    /// A hardware serial in a vendor format.
    fn vendor_serial(&mut self) -> String {
        let v = match self.r.below(6) {
            0 => format!(
                "C02{}{}",
                self.r.chars(5, UPPER_DIGIT),
                self.r.chars(4, b"ABCDEFGHJKLMNPQRSTUVWXYZ")
            ),
            1 => format!("FCH{}{}", self.r.digits(4), self.r.chars(4, UPPER_DIGIT)),
            2 => format!(
                "5CG{}{}",
                self.r.digits(4),
                self.r.chars(3, b"ABCDEFGHJKLMNPQRSTUVWXYZ")
            ),
            3 => format!("WD-WCC{}{}", self.r.chars(2, UPPER_DIGIT), self.r.digits(7)),
            4 => format!("SN-{}{}", self.r.digits(2), self.r.chars(6, UPPER_DIGIT)),
            _ => format!("ZA{}{}", self.r.digits(2), self.r.chars(5, UPPER_DIGIT)),
        };
        self.plant("hardware", v)
    }
    /// An IBAN whose BBAN has letters (BR, GB, NL, MT, FR...), valid
    /// check digits, compact or printed in groups of four.
    fn alpha_iban(&mut self) -> String {
        const L: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let (cc, bban) = match self.r.below(6) {
            0 => (
                "BR",
                format!(
                    "{}{}{}",
                    self.r.digits(23),
                    self.r.chars(1, L),
                    self.r.chars(1, UPPER_DIGIT)
                ),
            ),
            1 => ("GB", format!("{}{}", self.r.chars(4, L), self.r.digits(14))),
            2 => ("NL", format!("{}{}", self.r.chars(4, L), self.r.digits(10))),
            3 => (
                "MT",
                format!(
                    "{}{}{}",
                    self.r.chars(4, L),
                    self.r.digits(5),
                    self.r.chars(18, UPPER_DIGIT)
                ),
            ),
            4 => (
                "FR",
                format!(
                    "{}{}{}",
                    self.r.digits(10),
                    self.r.chars(11, UPPER_DIGIT),
                    self.r.digits(2)
                ),
            ),
            _ => (
                "QA",
                format!("{}{}", self.r.chars(4, L), self.r.chars(21, UPPER_DIGIT)),
            ),
        };
        let mut rem = 0u64;
        for c in format!("{bban}{cc}00").bytes() {
            rem = if c.is_ascii_digit() {
                (rem * 10 + u64::from(c - b'0')) % 97
            } else {
                (rem * 100 + u64::from(c - b'A' + 10)) % 97
            };
        }
        let v = format!("{cc}{:02}{bban}", 98 - rem);
        let v = if self.r.below(2) == 0 {
            v.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            v
        };
        self.plant("iban", v)
    }
    /// Benign name-like words: loggers, classes, Django apps, products.
    fn name_like(&mut self) -> String {
        let v = self
            .r
            .pick(&[
                "django.request",
                "license.views.acquire",
                "LicenseService",
                "AcquireSeatView",
                "licenses",
                "accounts",
                "django.contrib.admin",
                "Gunicorn",
                "Celery",
                "Google Cloud",
                "PostgreSQL",
                "celery.worker.strategy",
                "LicensePool.take",
                "Redis",
                "Kubernetes",
                "SeatAllocator",
                "billing.tasks",
            ])
            .to_string();
        self.keep("name_like", v)
    }

    // Benign tokens.
    fn uuid(&mut self) -> String {
        let v = format!(
            "{}-{}-4{}-a{}-{}",
            self.r.hex(8),
            self.r.hex(4),
            self.r.hex(3),
            self.r.hex(3),
            self.r.hex(12)
        );
        self.keep("uuid", v)
    }
    fn trace(&mut self) -> String {
        let v = self.r.hex(32);
        self.keep("trace_id", v)
    }
    fn span(&mut self) -> String {
        let v = self.r.hex(16);
        self.keep("span_id", v)
    }
    fn sha(&mut self) -> String {
        let v = self.r.hex(40);
        self.keep("git_sha", v)
    }
    fn version(&mut self) -> String {
        let v = format!(
            "{}.{}.{}",
            self.r.below(5),
            self.r.below(30),
            self.r.below(200)
        );
        self.keep("version", v)
    }
    fn ts(&mut self) -> String {
        let v = format!(
            "2025-11-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.r.range(1, 30),
            self.r.below(24),
            self.r.below(60),
            self.r.below(60),
            self.r.below(1000)
        );
        self.keep("timestamp", v)
    }
    fn clock(&mut self) -> String {
        let v = format!(
            "{:02}:{:02}:{:02}",
            self.r.below(24),
            self.r.below(60),
            self.r.below(60)
        );
        self.keep("clock", v)
    }
    fn duration(&mut self) -> String {
        let v = match self.r.below(3) {
            0 => format!("0.{:03}s", self.r.below(1000)),
            1 => format!("{}ms", self.r.range(1, 9999)),
            _ => format!("{}.{}s", self.r.below(60), self.r.below(10)),
        };
        self.keep("duration", v)
    }
    fn status(&mut self) -> String {
        let v = self
            .r
            .pick(&[
                "200", "201", "204", "400", "401", "403", "404", "429", "500", "503",
            ])
            .to_string();
        self.keep("status", v)
    }
    fn pid(&mut self) -> String {
        let v = format!("{}", self.r.range(100, 4_000_000));
        self.keep("pid", v)
    }
    fn pod(&mut self) -> String {
        let v = format!(
            "license-api-{}-{}",
            self.r.hex(9),
            self.r.chars(5, b"bcdfghjklmnpqrstvwxz2456789")
        );
        self.keep("pod_name", v)
    }
    fn blk(&mut self) -> String {
        let v = if self.r.below(2) == 0 {
            format!("blk_-{}{}", self.r.range(1, 9), self.r.digits(18))
        } else {
            format!("blk_{}", self.r.range(1_073_741_825, 1_073_999_999))
        };
        self.keep("hdfs_block", v)
    }
    fn bad_number(&mut self) -> String {
        let v = match self.r.below(4) {
            0 => bad_luhn(format!("4{}", self.r.digits(14))),
            1 => bad_luhn(format!("35{}", self.r.digits(12))),
            2 => format!(
                "666-{:02}-{:04}",
                self.r.range(1, 99),
                self.r.range(1, 9999)
            ),
            _ => {
                let n = bad_luhn(format!("5{}{}", self.r.range(1, 5), self.r.digits(13)));
                format!("{} {} {} {}", &n[..4], &n[4..8], &n[8..12], &n[12..])
            }
        };
        self.keep("failed_checksum", v)
    }
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn envelope(g: &mut Gen, severity: &str, payload: Value, http: Option<Value>) -> Value {
    let mut ev = json!({
        "timestamp": g.ts(),
        "severity": severity,
        "logName": "projects/coditect-prod/logs/license-api",
        "insertId": g.r.hex(16),
        "resource": {"type": "k8s_container", "labels": {
            "project_id": "coditect-prod", "namespace_name": "license",
            "container_name": "license-api", "pod_name": g.pod()}},
        "jsonPayload": payload,
    });
    let trace = g.trace();
    ev["trace"] = json!(format!("projects/coditect-prod/traces/{trace}"));
    ev["spanId"] = json!(g.span());
    if let Some(h) = http {
        ev["httpRequest"] = h;
    }
    ev
}

fn event(g: &mut Gen) -> Value {
    let kind = g.line % 14;
    match kind {
        0 => {
            let p = json!({
                "message": "License acquisition request",
                "user_id": g.uuid(), "tenant_id": g.uuid(),
                "license_key": g.license(), "hardware_id": g.hw_id(),
                "ip_address": g.ipv4(), "user_email": g.email(),
                "user_agent": format!("CODITECT/{} (Linux; Python 3.11)", g.version()),
                "duration": g.duration(),
            });
            envelope(g, "INFO", p, None)
        }
        1 => {
            let email = g.email();
            let ip = g.ipv4();
            let lic = g.license();
            let p = json!({
                "message": format!("License {lic} validated for {email} from {ip} in {}", g.duration()),
                "license": {"license_key": lic.clone(), "tier": "enterprise"},
                "request_id": g.uuid(), "build": g.sha(), "pid": g.pid().parse::<u64>().unwrap_or(1),
            });
            envelope(g, "INFO", p, None)
        }
        2 => {
            let ip = g.ipv4();
            let xff = format!("{}, {}, {}", g.ipv4(), g.ipv4(), g.ipv6());
            let status = g.status();
            let h = json!({"requestMethod": "POST", "requestUrl": "/api/v1/licenses/validate",
                "status": status.parse::<u64>().unwrap_or(200), "latency": g.duration(),
                "remoteIp": ip, "userAgent": format!("CODITECT/{} (Darwin; Python 3.12)", g.version())});
            let p = json!({"message": format!("request completed with status {status}"),
                "headers": {"x-forwarded-for": xff, "x-request-id": g.uuid()}});
            envelope(g, "INFO", p, Some(h))
        }
        3 => {
            let mac = g.mac();
            let serial = g.serial();
            let imei = g.imei();
            let p = json!({
                "message": format!("device {serial} registered, mac {mac}, imei {imei}"),
                "device": {"mac_address": mac, "serial_number": serial, "imei": imei,
                    "model": "Pixel 8", "os_version": g.version()},
                "session_id": g.uuid(),
            });
            envelope(g, "INFO", p, None)
        }
        4 => {
            let email = g.email();
            let ip = g.ipv4();
            let ip6 = g.ipv6();
            let stack = format!(
                "Traceback (most recent call last):\n  File \"/app/license/service.py\", line {}, in acquire\n    seat = pool.take(user)\nLicenseError: no seat for {email} (client {ip}, peer [{ip6}]:8443) at {} pid {} after {}",
                g.r.range(10, 900), g.clock(), g.pid(), g.duration()
            );
            let p = json!({"message": "unhandled exception", "stack_trace": stack,
                "error_id": g.uuid(), "commit": g.sha()});
            envelope(g, "ERROR", p, None)
        }
        5 => {
            let jwt = g.jwt();
            let bearer = g.token();
            let p = json!({
                "message": format!("forwarding request with Authorization: Bearer {jwt}"),
                "headers": {"Authorization": format!("Bearer {bearer}"), "Cookie": format!("sid={}", g.token()),
                    "traceparent": format!("00-{}-{}-01", g.trace(), g.span())},
                "upstream_latency": g.duration(),
            });
            envelope(g, "DEBUG", p, None)
        }
        6 => {
            let pw = g.password();
            let tok = g.token();
            let key = g.api_key();
            let email = g.email();
            let url = format!(
                "https://svc:{pw}@billing.internal.example.com/v1/charge?token={tok}&api_key={key}&email={}&v={}",
                email.replace('@', "%40"),
                g.version()
            );
            // The URL-encoded form is what appears in the text.
            if let Some(last) = g.planted.iter_mut().rev().find(|p| p.1 == "email") {
                last.2 = last.2.replace('@', "%40");
            }
            let p =
                json!({"message": format!("calling {url}"), "attempt": 1, "request_id": g.uuid()});
            envelope(g, "WARNING", p, None)
        }
        7 => {
            let card = g.card();
            let iban = g.iban();
            let ssn = g.ssn();
            let phone = g.phone();
            let name = g.name();
            let p = json!({
                "message": format!("support ticket: customer {name} paid with {card}, refund to IBAN {iban}, SSN {ssn}, call back on {phone}"),
                "full_name": name, "ticket_id": g.uuid(), "opened_at": g.ts(),
            });
            envelope(g, "NOTICE", p, None)
        }
        8 => {
            let p = json!({
                "message": format!(
                    "Receiving block {} src: /{}:{} dest: /{}:50010 took {} counter {} ref {}",
                    g.blk(), g.ipv4(), g.r.range(40000, 60000), g.ipv4(), g.duration(), g.bad_number(), g.bad_number()
                ),
                "job": g.uuid(), "pid": g.pid(), "status": g.status(),
            });
            envelope(g, "INFO", p, None)
        }
        10 => {
            let a = g.vendor_serial();
            let b = g.vendor_serial();
            let c = g.vendor_serial();
            let form = [
                "serial",
                "S/N:",
                "SN",
                "serial number",
                "device serial",
                "sn:",
            ];
            let f1 = form[g.r.below(6) as usize];
            let f2 = form[g.r.below(6) as usize];
            let stack = format!(
                "Traceback (most recent call last):\n  File \"/app/devices/bind.py\", line {}, in bind\nDeviceError: {f2} {b} already bound to another seat",
                g.r.range(10, 400)
            );
            let p = json!({
                "message": format!("RMA opened for {f1} {a} (replacement S/N {c}) by {} in {}", g.name_like(), g.duration()),
                "stack_trace": stack, "request_id": g.uuid(), "logger": g.name_like(),
            });
            envelope(g, "WARNING", p, None)
        }
        11 => {
            let a = g.alpha_iban();
            let b = g.alpha_iban();
            let p = json!({
                "message": format!("payout {} to IBAN {a}; fallback account {b}", g.uuid()),
                "amount": g.r.range(1, 9999), "build": g.sha(), "logger": g.name_like(),
            });
            envelope(g, "INFO", p, None)
        }
        12 => {
            let locale = (g.line / 14) % 6;
            let n = g.locale_name(locale);
            let email = g.email();
            let n2 = g.locale_name(locale);
            let text = match (locale, g.r.below(3)) {
                (0, 0) => format!("Dear {n}, your licence is ready; cc {n2} <{email}>"),
                (0, 1) => {
                    format!("seat assigned to {n} by customer support; Hi {n2}, welcome ({email})")
                }
                (0, _) => format!("Mr {n} called; ticket for {n2} reopened, reply to {email}"),
                (1, 0) => format!("Sehr geehrter Herr {n}, Ihre Lizenz; Kunde {n2} <{email}>"),
                (1, 1) => format!("Frau {n} hat angerufen; Rechnung für {n2} an {email}"),
                (1, _) => format!("Benutzer {n} angemeldet; Hallo {n2} ({email})"),
                (2, 0) => format!("M. {n} a payé; Bonjour {n2}, écrivez à {email}"),
                (2, 1) => format!("Mme {n}: licence pour {n2} <{email}>"),
                (2, _) => format!("client {n} débité; utilisateur {n2} ({email})"),
                (3, 0) => format!("Sr. {n} llamó; cliente {n2} <{email}>"),
                (3, 1) => format!("Sra. {n} pagó; Hola {n2}, escriba a {email}"),
                (3, _) => format!("usuario {n} bloqueado; factura para {n2} ({email})"),
                (4, 0) => format!("Prezado {n}, sua licença; cliente {n2} <{email}>"),
                (4, 1) => format!("Sra. {n} aprovada; licença para {n2} ({email})"),
                (4, _) => format!("cliente {n} pagou; Caro {n2}, escreva para {email}"),
                (_, 0) => format!("ユーザー {n} がログイン; 客户{n2}已付款 {email}"),
                (_, 1) => format!("{n}様のライセンス; 用户 {n2} 登录 ({email})"),
                (_, _) => format!("customer {n} paid; {n2} <{email}>"),
            };
            let p = json!({
                "message": text, "logger": g.name_like(), "view": g.name_like(),
                "session_id": g.uuid(), "release": g.version(),
            });
            envelope(g, "INFO", p, None)
        }
        13 => {
            let n = g.name();
            let p = json!({
                "message": format!(
                    "handled by {} for {} in app {} ({}) via {}; customer {n} notified",
                    g.name_like(), g.name_like(), g.name_like(), g.duration(), g.name_like()
                ),
                "logger": g.name_like(), "class": g.name_like(), "request_id": g.uuid(),
            });
            envelope(g, "INFO", p, None)
        }
        _ => {
            let phone = g.phone();
            let key = g.api_key();
            let secret = g.token();
            let pw = g.password();
            let p = json!({
                "message": format!("user profile updated: phone {phone}; rotated key {key}; client_secret={secret} password={pw} at {} v{}", g.clock(), g.version()),
                "user_id": g.uuid(), "phone_number": phone, "release": g.version(), "checksum_fail": g.bad_number(),
            });
            envelope(g, "INFO", p, None)
        }
    }
}

/// Generates (corpus, planted, benign) NDJSON texts.
pub(crate) fn generate(n: usize) -> (String, String, String) {
    let mut g = Gen {
        r: Rng::new(0x5eed_c0de),
        line: 0,
        planted: Vec::new(),
        benign: Vec::new(),
    };
    let mut corpus = String::new();
    for i in 0..n {
        g.line = i + 1;
        let ev = event(&mut g);
        corpus.push_str(&ev.to_string());
        corpus.push('\n');
    }
    let mut planted = String::new();
    for (line, class, value) in &g.planted {
        let _ = writeln!(
            planted,
            "{}",
            json!({"line": line, "class": class, "value": value})
        );
    }
    let mut benign = String::new();
    for (line, kind, value) in &g.benign {
        let _ = writeln!(
            benign,
            "{}",
            json!({"line": line, "kind": kind, "value": value})
        );
    }
    (corpus, planted, benign)
}
