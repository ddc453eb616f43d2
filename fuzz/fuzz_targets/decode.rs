//! Fuzzes decoding and shaping: arbitrary bytes as container log lines in
//! each framing (auto, CRI, docker, NDJSON), partial lines and oversize
//! lines included. Checks: no panic; every entry is a JSON object with a
//! `timestamp` and an `insertId`; every reject has a reason that quotes no
//! run of the input (reasons reach the dead-letter output and logs, which
//! must not carry the line's content) and a bounded sample.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sluice::decode::{Decoded, Decoder, Format, LineSplitter, Piece, REJECT_SAMPLE_BYTES};
use sluice::event::log_entry::{parse_rfc3339, Origin};

/// Longest run of input bytes (without a space) a reason may repeat.
const QUOTE: usize = 20;

fn quotes_input(reason: &str, line: &[u8]) -> bool {
    let r = reason.as_bytes();
    line.windows(QUOTE)
        .filter(|w| !w.contains(&b' '))
        .any(|w| r.windows(QUOTE).any(|x| x == w))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let format = match sel % 4 {
        0 => Format::Auto,
        1 => Format::Cri,
        2 => Format::Docker,
        _ => Format::Ndjson,
    };
    // Small limits reach the oversize and partial-join paths quickly.
    let max = if sel & 0x80 != 0 { 64 } else { 8192 };
    let origin = Origin::new(
        json!({"type": "k8s_container", "labels": {"project_id": "p"}}),
        "p",
        "fuzz".into(),
    );
    let mut dec = Decoder::new(format, origin, max);
    let mut split = LineSplitter::new(max);
    let received = Utc
        .timestamp_opt(1_700_000_000, 0)
        .single()
        .expect("valid time");
    let mut out = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    // Feed in two chunks so the splitter's tail handling runs too.
    let cut = rest.len() / 2;
    for chunk in [&rest[..cut], &rest[cut..]] {
        split.push(chunk, |p| match p {
            Piece::Line(l) => {
                lines.push(l.to_vec());
                dec.push_line(l, received, &mut out);
            }
            Piece::Oversize { prefix, total } => {
                assert!(prefix.len() <= total.max(REJECT_SAMPLE_BYTES));
                lines.push(prefix.to_vec());
                dec.push_oversize(prefix, total, &mut out);
            }
        });
    }
    for d in &out {
        match d {
            Decoded::Entry { log, .. } => {
                let obj = log.as_object().expect("an entry is a JSON object");
                let ts = obj
                    .get("timestamp")
                    .and_then(|t| t.as_str())
                    .expect("an entry has a timestamp");
                assert!(parse_rfc3339(ts).is_some(), "timestamp is RFC 3339");
                assert!(obj.get("insertId").is_some_and(|v| v.is_string()));
            }
            Decoded::Reject { reason, sample, .. } => {
                assert!(!reason.is_empty());
                assert!(
                    sample.len() <= REJECT_SAMPLE_BYTES + 1024,
                    "sample is bounded"
                );
                for l in &lines {
                    assert!(
                        !quotes_input(reason, l),
                        "reason quotes the input: {reason}"
                    );
                }
            }
        }
    }
});
