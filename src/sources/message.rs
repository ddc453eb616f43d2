//! Turns one broker message (a Pub/Sub message, a Kafka record) into one
//! `LogEntry`, shared by the `pubsub` and `kafka` sources.
//!
//! A message carries either a Cloud Logging `LogEntry` (what a Logging
//! sink publishes to Pub/Sub) or an application's JSON line. Both go
//! through [`log_entry::shape`]: a LogEntry is kept with its own
//! `insertId`; an application line is shaped like a container line, and
//! its `insertId` hashes the message's identity (for Pub/Sub the
//! subscription and message id, for Kafka topic, partition and offset) with
//! the payload, so a redelivered message gets the same id and BigQuery
//! de-duplicates it.
//!
//! Unlike a container log, a broker message that is not a JSON object is a
//! poison message: it is dead-lettered with a reason (and then acknowledged
//! like any delivered message), never turned into `textPayload`.
//!
//! Message metadata (Pub/Sub attributes, Kafka key and headers) goes to the
//! entry's `labels`; labels the entry already has win, because a LogEntry's
//! own labels are what the writer meant.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::decode::{sample, Decoded};
use crate::event::log_entry::{self, Line, Origin};
use crate::node::NodeInfo;

/// Reusable shaping state: the origin (resource, `logName` prefix) is
/// built once per source; only the identity changes per message.
pub(crate) struct MessageShaper {
    origin: Origin,
}

impl MessageShaper {
    /// Application lines get the node's `global` resource and
    /// `logName = projects/PROJECT/logs/default`.
    pub(crate) fn new(node: &NodeInfo) -> Self {
        MessageShaper {
            origin: node.generic_origin(String::new()),
        }
    }

    /// Shapes one message. `identity` must be stable across redeliveries;
    /// `time` (RFC 3339) is the broker's publish/create time, used when the
    /// payload has none.
    pub(crate) fn shape(
        &mut self,
        identity: std::fmt::Arguments<'_>,
        payload: &[u8],
        time: Option<&str>,
        labels: impl IntoIterator<Item = (String, String)>,
        received: DateTime<Utc>,
    ) -> Decoded {
        let size = payload.len();
        let first = payload.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Decoded::Reject {
                reason: "message is not a JSON object".into(),
                sample: sample(payload, false),
                size,
            };
        }
        self.origin.identity.clear();
        // Writing into a String cannot fail.
        let _ = self.origin.identity.write_fmt(identity);
        let line = Line {
            payload,
            time,
            stream: None,
            raw: payload,
            // The identity is the message's own position (id or offset).
            position: None,
        };
        match log_entry::shape(line, &self.origin, received) {
            Ok(mut log) => {
                merge_labels(&mut log, labels);
                Decoded::Entry { log, size }
            }
            Err(e) => Decoded::Reject {
                reason: e.to_string(),
                sample: sample(payload, false),
                size,
            },
        }
    }
}

/// Adds labels the entry does not already have.
fn merge_labels(log: &mut Value, labels: impl IntoIterator<Item = (String, String)>) {
    let Some(obj) = log.as_object_mut() else {
        return;
    };
    let mut labels = labels.into_iter().peekable();
    if labels.peek().is_none() {
        return;
    }
    let target = obj
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !target.is_object() {
        // A LogEntry with non-object labels is malformed; keep it as sent.
        return;
    }
    let map = target.as_object_mut().expect("checked above");
    for (k, v) in labels {
        map.entry(k).or_insert(Value::String(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::insert_id;
    use serde_json::json;

    fn shaper() -> MessageShaper {
        MessageShaper::new(&NodeInfo {
            project_id: Some("proj".into()),
            ..Default::default()
        })
    }

    fn entry(d: Decoded) -> Value {
        match d {
            Decoded::Entry { log, .. } => log,
            Decoded::Reject { reason, .. } => panic!("rejected: {reason}"),
        }
    }

    #[test]
    fn app_line_gets_identity_insert_id_and_labels() {
        let mut s = shaper();
        let payload = br#"{"severity":"WARNING","message":"hi","user":"u"}"#;
        let now = Utc::now();
        let e = entry(s.shape(
            format_args!("projects/p/subscriptions/s/{}", "42"),
            payload,
            Some("2025-11-30T12:00:00Z"),
            [("tenant".to_string(), "t1".to_string())],
            now,
        ));
        assert_eq!(e["severity"], "WARNING");
        assert_eq!(e["timestamp"], "2025-11-30T12:00:00Z");
        assert_eq!(e["jsonPayload"], json!({"message": "hi", "user": "u"}));
        assert_eq!(e["labels"]["tenant"], "t1");
        assert_eq!(
            e["insertId"],
            insert_id::compute(b"projects/p/subscriptions/s/42", None, payload)
        );
        // Same message redelivered later: same id.
        let again = entry(s.shape(
            format_args!("projects/p/subscriptions/s/{}", "42"),
            payload,
            None,
            [],
            now + chrono::Duration::seconds(30),
        ));
        assert_eq!(again["insertId"], e["insertId"]);
    }

    #[test]
    fn log_entry_keeps_insert_id_and_own_labels() {
        let mut s = shaper();
        let payload = br#"{"insertId":"abc","jsonPayload":{"x":1},"labels":{"tenant":"own"},"resource":{"type":"k8s_container"}}"#;
        let e = entry(s.shape(
            format_args!("id"),
            payload,
            None,
            [
                ("tenant".to_string(), "attr".to_string()),
                ("extra".to_string(), "y".to_string()),
            ],
            Utc::now(),
        ));
        assert_eq!(e["insertId"], "abc");
        assert_eq!(e["labels"], json!({"tenant": "own", "extra": "y"}));
        assert_eq!(e["resource"]["type"], "k8s_container");
    }

    #[test]
    fn poison_messages_are_rejected_with_a_reason() {
        let mut s = shaper();
        for (p, why) in [
            (&b"plain text"[..], "not a JSON object"),
            (b"[1,2]", "not a JSON object"),
            (b"", "not a JSON object"),
            (br#"{"broken":"#, "malformed JSON"),
        ] {
            match s.shape(format_args!("id"), p, None, [], Utc::now()) {
                Decoded::Reject { reason, size, .. } => {
                    assert!(reason.contains(why), "{reason}");
                    assert_eq!(size, p.len());
                }
                Decoded::Entry { .. } => panic!("accepted poison"),
            }
        }
    }
}
