use chrono::Utc;
use serde_json::json;

use super::*;
use crate::event::log_entry::Origin;

fn decoder(format: Format, max: usize) -> Decoder {
    Decoder::new(
        format,
        Origin::new(json!({"type": "global"}), "p", "id".into()),
        max,
    )
}

fn run(d: &mut Decoder, lines: &[&[u8]]) -> Vec<Decoded> {
    let mut out = Vec::new();
    for l in lines {
        d.push_line(l, Utc::now(), &mut out);
    }
    out
}

#[test]
fn cri_partials_join_into_one_entry() {
    let mut d = decoder(Format::Auto, 1 << 20);
    let out = run(
        &mut d,
        &[
            b"2025-11-30T12:34:56.000000001Z stdout P {\"severity\":\"INFO\",",
            b"2025-11-30T12:34:56.000000002Z stdout P \"message\":\"joined\",",
            b"2025-11-30T12:34:56.000000003Z stdout F \"n\":1}",
            b"2025-11-30T12:34:57Z stderr F plain",
        ],
    );
    assert_eq!(out.len(), 2);
    let Decoded::Entry { log, .. } = &out[0] else {
        panic!("expected an entry, got {:?}", out[0])
    };
    assert_eq!(log["jsonPayload"], json!({"message": "joined", "n": 1}));
    assert_eq!(log["severity"], "INFO");
    let Decoded::Entry { log, .. } = &out[1] else {
        panic!("expected an entry")
    };
    assert_eq!(log["textPayload"], "plain");
    assert_eq!(log["severity"], "ERROR");
    assert_eq!(log["timestamp"], "2025-11-30T12:34:57Z");
}

#[test]
fn cri_partial_over_limit_is_rejected() {
    let mut d = decoder(Format::Cri, 10);
    let out = run(
        &mut d,
        &[
            b"2025-11-30T12:34:56Z stdout P 123456",
            b"2025-11-30T12:34:56Z stdout F 789012",
            b"2025-11-30T12:34:56Z stdout F ok",
        ],
    );
    assert_eq!(out.len(), 2);
    assert!(
        matches!(&out[0], Decoded::Reject { reason, .. } if reason.contains("max_line_bytes")),
        "{:?}",
        out[0]
    );
    assert!(matches!(&out[1], Decoded::Entry { .. }));
}

#[test]
fn docker_json_file_with_partial() {
    let mut d = decoder(Format::Auto, 1 << 20);
    let out = run(
        &mut d,
        &[
            br#"{"log":"{\"severity\":\"warn\",\"message\":\"a","stream":"stdout","time":"2025-11-30T12:00:00.5Z"}"#,
            br#"{"log":"b\"}\n","stream":"stdout","time":"2025-11-30T12:00:00.6Z"}"#,
            br#"{"log":"oops\n","stream":"stderr","time":"2025-11-30T12:00:01Z"}"#,
        ],
    );
    assert_eq!(out.len(), 2);
    let Decoded::Entry { log, .. } = &out[0] else {
        panic!("expected an entry")
    };
    assert_eq!(log["jsonPayload"]["message"], "ab");
    assert_eq!(log["severity"], "WARNING");
    assert_eq!(log["timestamp"], "2025-11-30T12:00:00.500Z");
    let Decoded::Entry { log, .. } = &out[1] else {
        panic!("expected an entry")
    };
    assert_eq!(log["textPayload"], "oops");
}

#[test]
fn malformed_lines_rejected_with_reason() {
    let mut d = decoder(Format::Cri, 1 << 20);
    let out = run(
        &mut d,
        &[b"not a cri line", b"2025-11-30T12:34:56Z stdout F {\"a\":"],
    );
    assert_eq!(out.len(), 2);
    for o in &out {
        let Decoded::Reject { reason, .. } = o else {
            panic!("expected a reject")
        };
        assert!(reason.contains("malformed"), "{reason}");
    }
}

#[test]
fn invalid_utf8_becomes_text_with_replacement() {
    let mut d = decoder(Format::Ndjson, 1 << 20);
    let out = run(&mut d, &[b"bad \xff\xfe bytes"]);
    let Decoded::Entry { log, .. } = &out[0] else {
        panic!("expected an entry")
    };
    assert_eq!(log["textPayload"], "bad \u{fffd}\u{fffd} bytes");
}

#[test]
fn a_text_line_with_bad_bytes_is_dead_lettered_naming_the_byte_when_asked() {
    let mut d = decoder(Format::Ndjson, 1 << 20).with_invalid_utf8(InvalidUtf8::Deadletter);
    let out = run(&mut d, &[b"card 4111 \xff bytes"]);
    let Decoded::Reject { reason, .. } = &out[0] else {
        panic!("expected a reject")
    };
    assert_eq!(
        reason,
        "line is not valid UTF-8: invalid UTF-8 at byte 10 (invalid_utf8 = \"deadletter\")"
    );
    assert_eq!(d.take_invalid_utf8(), 1);
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..200), 0..20), max in 1usize..300) {
        for format in [Format::Auto, Format::Cri, Format::Docker, Format::Ndjson] {
            let mut d = decoder(format, max);
            let mut s = LineSplitter::new(max);
            let mut out = Vec::new();
            for c in &chunks {
                s.push(c, |p| match p {
                    Piece::Line(l) => d.push_line(l, Utc::now(), &mut out),
                    Piece::Oversize { prefix, total } => d.push_oversize(prefix, total, &mut out),
                });
            }
            s.finish(|p| match p {
                Piece::Line(l) => d.push_line(l, Utc::now(), &mut out),
                Piece::Oversize { prefix, total } => d.push_oversize(prefix, total, &mut out),
            });
        }
    }

    #[test]
    fn cri_framed_arbitrary_payloads(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let mut line = b"2025-11-30T12:34:56.1Z stdout F ".to_vec();
        line.extend(payload.iter().filter(|b| **b != b'\n'));
        let mut d = decoder(Format::Cri, 1 << 20);
        let out = run(&mut d, &[&line]);
        proptest::prop_assert!(out.len() <= 1);
    }
}

#[test]
fn reject_sample_is_bounded_in_bytes_even_when_lossy() {
    // Invalid UTF-8 grows threefold through U+FFFD replacement.
    let bytes = vec![0xFFu8; REJECT_KEEP_BYTES];
    let s = sample(&bytes, false);
    assert!(s.len() <= REJECT_KEEP_BYTES, "{} bytes", s.len());
    assert!(s.chars().all(|c| c == '\u{FFFD}'));
    // Valid text keeps the whole margin past the final cut, so the
    // dead-letter output can redact a value that crosses it.
    let text = "abc ".repeat(REJECT_KEEP_BYTES / 4 + 10);
    assert_eq!(sample(text.as_bytes(), false).len(), REJECT_KEEP_BYTES);
    const { assert!(REJECT_KEEP_BYTES > REJECT_SAMPLE_BYTES) };
}

/// Issue 22 (5): a line over `max_line_bytes` is kept as a prefix, cut
/// before redaction can see what the cut goes through. A card number cut
/// after 12 of its 16 digits no longer passes the card check, so the cut
/// leaves out the whole number, not only the group it went through.
#[test]
fn a_cut_through_a_number_leaves_none_of_its_digits() {
    let card = "4111 1111 1111 1111";
    for at in 1..card.len() {
        let line = format!("{{\"msg\":\"paid with {}", &card[..at]);
        let s = sample(line.as_bytes(), true);
        assert!(s.ends_with("paid with "), "cut at {at}: {s:?}");
        // The same line cut by the length bound rather than by the reader.
        let long = format!("{line}{}", &card[at..]);
        let end = safe_cut(long.as_bytes(), line.len(), false);
        assert_eq!(&long[..end], "{\"msg\":\"paid with ", "cut at {at}");
    }
    // The decoder's record for an oversize line holds no digit of it.
    let mut d = decoder(Format::Ndjson, 64);
    let mut out = Vec::new();
    let prefix = format!("{{\"msg\":\"card {}", &card[..14]);
    d.push_oversize(prefix.as_bytes(), 300_000, &mut out);
    let Decoded::Reject { sample, reason, .. } = &out[0] else {
        panic!("expected a reject")
    };
    assert!(!sample.contains("4111"), "{sample:?}");
    assert!(reason.contains("300000 bytes"), "{reason}");
    // Words and numbers away from the cut are kept; a cut at a token edge
    // of text keeps every whole word.
    assert_eq!(safe_cut(b"port 8080 ok hello", 15, false), 13);
    assert_eq!(safe_cut(b"port 8080 ok hello", 13, false), 13);
    assert_eq!(safe_cut(b"short", 100, false), 5);
    assert_eq!(safe_cut(b"short text", 100, true), 6);
}
