//! Redactions counted by field path, and the trace of replacements the
//! dry-run report highlights.

use serde_json::{json, Value};

use super::*;

fn redactor() -> Redactor {
    Redactor::new(&RedactConfig::default(), None).expect("default config is valid")
}

fn redactor_in(mode: Mode) -> Redactor {
    let cfg = RedactConfig {
        default_mode: mode,
        ..RedactConfig::default()
    };
    Redactor::new(&cfg, None).expect("valid")
}

fn by_field(r: &Redactor, stats: &RedactStats) -> Vec<(String, String, u64)> {
    r.field_counts(stats)
        .into_iter()
        .map(|(f, d, n)| (f, d.to_string(), n))
        .collect()
}

/// Every count is also counted at exactly one field: per counter name, the
/// by-field counts add up to the counter, over a generated corpus with every
/// class, propagation and removed fields.
#[test]
fn by_field_counts_add_up_to_the_detector_counts() {
    let (corpus, _, _) = pii_corpus::generate(400);
    for mode in [Mode::Mask, Mode::Drop, Mode::Partial] {
        let r = redactor_in(mode);
        let mut stats = RedactStats::default();
        for line in corpus.lines() {
            let mut v: Value = serde_json::from_str(line).expect("generated JSON");
            r.redact(&mut v, &mut stats);
        }
        let mut summed: std::collections::BTreeMap<String, u64> = Default::default();
        for (_, d, n) in by_field(&r, &stats) {
            *summed.entry(d).or_default() += n;
        }
        let direct: std::collections::BTreeMap<String, u64> =
            stats.iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert!(
            direct.len() >= 5,
            "the corpus exercises many counters: {direct:?}"
        );
        assert_eq!(summed, direct, "mode {mode:?}");
    }
}

#[test]
fn paths_name_keys_array_items_and_hide_keys_that_hold_data() {
    let r = redactor();
    let mut v = json!({
        "jsonPayload": {
            "user_email": "ann@example.com",
            "message": "login from 203.0.113.9",
            "peers": ["198.51.100.7", {"addr": "198.51.100.8"}],
            "by_user": {"bob@example.com": "seen bob@example.com", "u123456": "x 203.0.113.10"},
        },
        "httpRequest": {"remoteIp": "203.0.113.11"},
    });
    let mut stats = RedactStats::default();
    r.redact(&mut v, &mut stats);
    let fields: Vec<String> = by_field(&r, &stats)
        .into_iter()
        .map(|(f, d, _)| format!("{f} {d}"))
        .collect();
    for want in [
        "jsonPayload.user_email field:personal",
        "jsonPayload.message ipv4",
        "jsonPayload.peers[] ipv4",
        "jsonPayload.peers[].addr ipv4",
        "jsonPayload.by_user.(key) email",
        "jsonPayload.by_user.* email",
        "jsonPayload.by_user.* ipv4",
        "httpRequest.remoteIp field:personal",
    ] {
        assert!(
            fields.iter().any(|f| f == want),
            "{want} missing from {fields:?}"
        );
    }
    let text = format!("{fields:?}");
    assert!(
        !text.contains("bob@") && !text.contains("u123456"),
        "{text}"
    );
}

#[test]
fn a_value_under_a_path_is_counted_there() {
    let r = redactor();
    let mut v = json!({"raw": "{\"user\": \"ann@example.com\""});
    let mut stats = RedactStats::default();
    r.redact_under("deadletter.event", &mut v, &mut stats);
    assert_eq!(
        by_field(&r, &stats),
        vec![("deadletter.event.raw".to_string(), "email".to_string(), 1)]
    );
    let mut reason = json!("bad value ann@example.com");
    let mut stats = RedactStats::default();
    r.redact_under("deadletter.reason", &mut reason, &mut stats);
    assert_eq!(by_field(&r, &stats)[0].0, "deadletter.reason");
}

/// The traced walk is the same walk: it changes nothing in what is
/// redacted, and each traced replacement stands at its path in the output
/// (removed fields are traced with an empty replacement).
#[test]
fn tracing_redacts_the_same_and_each_replacement_is_where_it_says() {
    let (corpus, _, _) = pii_corpus::generate(300);
    for mode in [Mode::Mask, Mode::Drop] {
        let r = redactor_in(mode);
        let (mut plain_stats, mut traced_stats) = (RedactStats::default(), RedactStats::default());
        let mut traced_events = 0;
        for line in corpus.lines() {
            let mut a: Value = serde_json::from_str(line).expect("generated JSON");
            let mut b = a.clone();
            r.redact(&mut a, &mut plain_stats);
            let mut trace = Vec::new();
            r.redact_traced(&mut b, &mut traced_stats, &mut trace);
            assert_eq!(a, b, "mode {mode:?}");
            traced_events += usize::from(!trace.is_empty());
            for t in &trace {
                if t.replacement.is_empty() {
                    continue;
                }
                let leaves = leaves_at(&b, &t.path);
                assert!(
                    leaves.iter().any(|s| s.contains(&t.replacement)),
                    "{} `{}` not at {} in {b}",
                    t.detector,
                    t.replacement,
                    t.path
                );
            }
        }
        assert_eq!(plain_stats, traced_stats);
        assert!(
            traced_events > 100,
            "most generated events carry PII ({traced_events})"
        );
    }
}

/// The strings at a raw path (`a.b[].c`).
fn leaves_at<'a>(v: &'a Value, path: &str) -> Vec<&'a str> {
    fn walk<'a>(v: &'a Value, segs: &[&str], out: &mut Vec<&'a str>) {
        match (segs.first(), v) {
            (None, Value::String(s)) => out.push(s),
            (Some(&"[]"), Value::Array(a)) => a.iter().for_each(|x| walk(x, &segs[1..], out)),
            (Some(k), Value::Object(m)) => {
                if let Some(x) = m.get(*k) {
                    walk(x, &segs[1..], out);
                }
            }
            _ => {}
        }
    }
    let mut segs = Vec::new();
    for part in path.split('.') {
        let mut p = part;
        while let Some(stem) = p.strip_suffix("[]") {
            p = stem;
        }
        if !p.is_empty() {
            segs.push(p);
        }
        segs.extend(std::iter::repeat_n("[]", (part.len() - p.len()) / 2));
    }
    let mut out = Vec::new();
    walk(v, &segs, &mut out);
    out
}

/// A key that holds data is redacted like a value (two that redact alike
/// stay apart), the walk below it goes by the new name, and the audit walk
/// finds such keys without naming them.
#[test]
fn keys_that_hold_data_are_redacted_and_audited() {
    let r = redactor();
    let mut v = json!({"jsonPayload": {"by_user": {
        "ann@example.com": {"last_ip": "203.0.113.9"},
        "bob@example.com": 2,
        "session_count": 1,
    }}});
    let mut found = Vec::new();
    r.scan_event(&v, &mut found);
    let paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"jsonPayload.by_user.(key)"), "{paths:?}");
    assert!(
        paths.contains(&"jsonPayload.by_user.*.last_ip"),
        "{paths:?}"
    );
    assert!(!format!("{paths:?}").contains("example.com"), "{paths:?}");
    let mut stats = RedactStats::default();
    let mut trace = Vec::new();
    r.redact_traced(&mut v, &mut stats, &mut trace);
    let m = v["jsonPayload"]["by_user"].as_object().unwrap();
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.contains(&"session_count"));
    assert!(!v.to_string().contains("example.com"), "{v}");
    assert!(!v.to_string().contains("203.0.113.9"), "{v}");
    assert_eq!(stats.get("email"), 2);
    let mut after = Vec::new();
    r.scan_event(&v, &mut after);
    assert!(after.is_empty(), "{after:?}");
    // The trace names the new key, so the value below it can be found.
    assert!(trace
        .iter()
        .any(|t| t.path == "jsonPayload.by_user.(key)" && t.detector.as_ref() == "email"));
    let ip = trace
        .iter()
        .find(|t| t.detector.as_ref() == "ipv4")
        .expect("traced");
    assert!(
        ip.path.starts_with("jsonPayload.by_user.[REDACTED:email]"),
        "{}",
        ip.path
    );
}
