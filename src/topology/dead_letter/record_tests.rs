//! How a dead-letter record's reason and sample are built: redacted first,
//! then cut, with no half-secret left at the cut.

use std::sync::Arc;

use serde_json::json;

use super::{build_record, cut_sample, CUT_MARK};
use crate::component::DeadLetter;
use crate::decode::{sample, REJECT_SAMPLE_BYTES};
use crate::event::Event;
use crate::telemetry::Telemetry;
use crate::transforms::redact::stage::DeadLetters;
use crate::transforms::redact::{RedactConfig, Redactor};

fn redactor() -> DeadLetters {
    DeadLetters(Arc::new(
        Redactor::new(&RedactConfig::default(), None).expect("default config is valid"),
    ))
}

fn reject(line: &str, reason: &str) -> DeadLetter {
    DeadLetter {
        component: Arc::from("in"),
        reason: reason.to_string(),
        event: Event::new(
            json!({"raw": sample(line.as_bytes(), false), "raw_bytes": line.len()}),
            line.len(),
        ),
        more: false,
    }
}

/// A line whose card starts `before` bytes ahead of the 4096-byte cut.
fn line_with_card_at_cut(before: usize) -> String {
    let start = REJECT_SAMPLE_BYTES - before;
    let mut s = "w ".repeat(start / 2);
    while s.len() < start {
        s.push(' ');
    }
    s.push_str("4111 1111 1111 1111 and more text after the card");
    s.push_str(&" z".repeat(600));
    s
}

#[test]
fn sample_is_redacted_before_it_is_cut() {
    let t = Telemetry::new();
    let r = redactor();
    // Every position of the card across the cut, in steps of one byte.
    for before in 1..20 {
        let line = line_with_card_at_cut(before);
        let mut d = reject(&line, "malformed JSON: syntax error at line 1 column 9");
        let rec = build_record("2025-11-30T00:00:00Z", &mut d, Some(&r), &t);
        let raw = rec["event"]["raw"].as_str().expect("raw is a string");
        assert!(
            raw.len() <= REJECT_SAMPLE_BYTES + CUT_MARK.len(),
            "{}",
            raw.len()
        );
        assert!(raw.ends_with(CUT_MARK));
        assert!(
            !raw.contains("4111") && !raw.contains("1111"),
            "card piece at {before}: {}",
            &raw[raw.len() - 40..]
        );
    }
}

#[test]
fn without_redactor_the_partial_token_at_the_cut_is_dropped() {
    let t = Telemetry::new();
    // A 40-char token across the cut, no redactor (allow_unredacted).
    let mut line = "a ".repeat((REJECT_SAMPLE_BYTES - 20) / 2);
    line.push_str("SECRETSECRETSECRETSECRETSECRETSECRET1234 tail");
    let mut d = reject(&line, "r");
    let rec = build_record("t", &mut d, None, &t);
    let raw = rec["event"]["raw"].as_str().unwrap();
    assert!(!raw.contains("SECRET"), "{}", &raw[raw.len() - 30..]);
    assert!(raw.ends_with(&format!("a {CUT_MARK}")));
    // Short samples are untouched.
    let mut d = reject("short line", "r");
    let rec = build_record("t", &mut d, None, &t);
    assert_eq!(rec["event"]["raw"], "short line");
}

#[test]
fn reason_goes_through_the_redactor() {
    let t = Telemetry::new();
    let r = redactor();
    let mut d = reject(
        "x",
        "row refused: value 4111111111111111 for jane.doe@example.com",
    );
    let rec = build_record("t", &mut d, Some(&r), &t);
    let reason = rec["reason"].as_str().unwrap();
    assert!(
        !reason.contains("4111") && !reason.contains("jane.doe"),
        "{reason}"
    );
    assert!(
        reason.starts_with("row refused: value [REDACTED:card]"),
        "{reason}"
    );
    assert_eq!(rec["component"], "in");
}

#[test]
fn cut_respects_char_boundaries_and_whitespace() {
    let mut s = "é".repeat(3000); // 6000 bytes, one token
    cut_sample(&mut s, 4096);
    assert_eq!(s, CUT_MARK, "one token across the cut is dropped whole");
    let mut s = format!("{} {}", "é".repeat(1000), "ü".repeat(3000));
    cut_sample(&mut s, 4096);
    assert_eq!(s, format!("{} {CUT_MARK}", "é".repeat(1000)));
    let mut s = "x".repeat(4096);
    cut_sample(&mut s, 4096);
    assert_eq!(s.len(), 4096, "at the limit nothing is cut");
}

#[test]
fn decoder_reasons_quote_no_value() {
    use crate::decode::{Decoded, Decoder, Format};
    use crate::event::log_entry::Origin;
    let origin = Origin::new(json!({"type": "k8s_container"}), "p", "id".into());
    let mut dec = Decoder::new(Format::Docker, origin, 1 << 20);
    let mut out = Vec::new();
    let now = chrono::Utc::now();
    for line in [
        r#"{"log":4111111111111111,"stream":"stdout","time":"t"}"#,
        r#"{"log":"x\n","stream":"jane.doe@example.com\n","time":"t"}"#,
        r#"{"log":"x\n","stream":"stdout","time":["078-05-1120"]}"#,
        r#"{"log":"jane.doe@example.com"#,
    ] {
        dec.push_line(line.as_bytes(), now, &mut out);
    }
    let reasons: Vec<&str> = out
        .iter()
        .filter_map(|d| match d {
            Decoded::Reject { reason, .. } => Some(reason.as_str()),
            Decoded::Entry { .. } => None,
        })
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    for r in &reasons {
        assert!(r.starts_with("malformed docker json-file line: "), "{r}");
        assert!(
            !r.contains("4111") && !r.contains("jane") && !r.contains("078-05"),
            "{r}"
        );
        assert!(r.contains("column"), "{r}");
    }
    // NDJSON shaping too.
    let mut dec = Decoder::new(
        Format::Ndjson,
        Origin::new(json!({"type": "global"}), "p", "id".into()),
        1 << 20,
    );
    let mut out = Vec::new();
    dec.push_line(
        br#"{"message": "card 4111111111111111", "x": tru}"#,
        now,
        &mut out,
    );
    match &out[..] {
        [Decoded::Reject { reason, .. }] => {
            assert!(
                reason.starts_with("malformed JSON: syntax error at line 1 column"),
                "{reason}"
            );
            assert!(!reason.contains("4111"));
        }
        other => panic!("expected one reject, got {other:?}"),
    }
}
