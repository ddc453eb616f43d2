//! Generates realistic license-API logs of any size: the application's
//! Cloud Logging JSON lines, as NDJSON or framed as CRI container logs.
//! Deterministic for a given seed, so runs are comparable.

#![allow(dead_code)]

use std::io::Write;

/// A small xorshift generator: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Cri,
    Ndjson,
}

/// One application line (no newline) for event number `i`.
pub fn app_line(rng: &mut Rng, i: u64, out: &mut Vec<u8>) {
    let secs = 1_764_505_696 + i / 1000;
    let ms = i % 1000;
    let ts = chrono::DateTime::from_timestamp(secs as i64, (ms * 1_000_000) as u32)
        .expect("in range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let user = rng.uuid();
    let tenant = rng.uuid();
    let ip = format!("203.0.113.{}", 1 + rng.below(254));
    let kind = rng.below(100);
    let trace = format!(
        "projects/coditect-cloud-infra/traces/{:016x}{:016x}",
        rng.next(),
        rng.next()
    );
    if kind < 35 {
        let _ = write!(
            out,
            r#"{{"severity":"INFO","timestamp":"{ts}","message":"License acquisition request","user_id":"{user}","tenant_id":"{tenant}","license_key":"CODITECT-{:04X}-{:04X}-{:04X}-{:04X}","hardware_id":"sha256:{:016x}{:016x}{:016x}{:016x}","ip_address":"{ip}","user_agent":"CODITECT/1.{}.0 (Linux; Python 3.11)","logging.googleapis.com/trace":"{trace}"}}"#,
            rng.below(65536),
            rng.below(65536),
            rng.below(65536),
            rng.below(65536),
            rng.next(),
            rng.next(),
            rng.next(),
            rng.next(),
            rng.below(10)
        );
    } else if kind < 80 {
        let statuses = [200, 200, 200, 201, 204, 400, 403, 404, 500, 503];
        let status = statuses[rng.below(statuses.len() as u64) as usize];
        let sev = if status >= 500 {
            "ERROR"
        } else if status >= 400 {
            "WARNING"
        } else {
            "INFO"
        };
        let latency = [0.012, 0.048, 0.153, 0.27, 0.9, 1.7][rng.below(6) as usize];
        let _ = write!(
            out,
            r#"{{"severity":"{sev}","timestamp":"{ts}","message":"POST /api/v1/licenses/acquire {status}","httpRequest":{{"requestMethod":"POST","requestUrl":"/api/v1/licenses/acquire?tenant={tenant}","status":{status},"latency":"{latency}s","remoteIp":"{ip}","userAgent":"CODITECT/1.4.0 (Linux; Python 3.11)","responseSize":"{}"}},"user_id":"{user}","tenant_id":"{tenant}","request_id":"{}","logging.googleapis.com/trace":"{trace}","logging.googleapis.com/spanId":"{:016x}"}}"#,
            80 + rng.below(4000),
            rng.uuid(),
            rng.next()
        );
    } else if kind < 90 {
        let _ = write!(
            out,
            r#"{{"severity":"INFO","timestamp":"{ts}","message":"User signed in","user_email":"user{}+lic@example.com","user_id":"{user}","ip_address":"{ip}","device":{{"serial_number":"C02{:07X}","mac_address":"3c:22:fb:{:02x}:{:02x}:{:02x}","os":"macOS 14.1"}}}}"#,
            rng.below(100_000),
            rng.below(1 << 28),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        );
    } else if kind < 95 {
        let _ = write!(
            out,
            r#"{{"severity":"DEBUG","timestamp":"{ts}","message":"cache lookup","key":"tenant:{tenant}","hit":{}}}"#,
            rng.below(2) == 0
        );
    } else {
        let _ = write!(
            out,
            r#"{{"severity":"ERROR","timestamp":"{ts}","message":"Unhandled exception in license validation","exception":"Traceback (most recent call last):\n  File \"/app/licenses/views.py\", line 88, in acquire\n    seat = allocate(tenant)\nValueError: no seat for user {user} from {ip}","user_id":"{user}"}}"#
        );
    }
}

/// Writes about `bytes` of logs to `w`; returns (bytes, lines) written.
pub fn generate(
    w: &mut impl Write,
    framing: Framing,
    bytes: u64,
    seed: u64,
) -> std::io::Result<(u64, u64)> {
    let mut rng = Rng::new(seed);
    let mut line = Vec::with_capacity(2048);
    let (mut written, mut n) = (0u64, 0u64);
    while written < bytes {
        line.clear();
        if framing == Framing::Cri {
            let secs = 1_764_505_696 + n / 1000;
            let t = chrono::DateTime::from_timestamp(
                secs as i64,
                ((n % 1000) * 1_000_000 + n % 997) as u32,
            )
            .expect("in range");
            let _ = write!(line, "{} stdout F ", t.format("%Y-%m-%dT%H:%M:%S%.9fZ"));
        }
        app_line(&mut rng, n, &mut line);
        line.push(b'\n');
        w.write_all(&line)?;
        written += line.len() as u64;
        n += 1;
    }
    Ok((written, n))
}
