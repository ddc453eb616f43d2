//! Fuzzes the redaction engine: arbitrary bytes as a JSON event (when they
//! parse) and as a free-text string, in mask and hash modes. Checks: no
//! panic, idempotence, and no detector match left in redacted text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice::transforms::redact::{Mode, RedactConfig, RedactStats, Redactor};

fn redactors() -> [Redactor; 2] {
    let key: &[u8] = b"fuzz-hash-key-0123456789";
    [Mode::Mask, Mode::Hash].map(|mode| {
        let cfg = RedactConfig {
            default_mode: mode,
            ..RedactConfig::default()
        };
        Redactor::new(&cfg, Some(key)).expect("fuzz config is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    for r in redactors() {
        if let Ok(v) = serde_json::from_slice::<Value>(data) {
            let mut a = v.clone();
            r.redact(&mut a, &mut RedactStats::default());
            let once = a.clone();
            r.redact(&mut a, &mut RedactStats::default());
            assert_eq!(a, once, "redaction is idempotent");
        }
        let mut s = Value::String(text.clone());
        r.redact(&mut s, &mut RedactStats::default());
        let out = s.as_str().unwrap_or_default();
        let mut found = Vec::new();
        r.scan_str(out, &mut found);
        assert!(found.is_empty(), "no detector match survives redaction");
        let mut raw = Vec::new();
        r.scan_str(&text, &mut raw);
    }
});
