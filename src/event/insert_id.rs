//! Deterministic `insertId`s.
//!
//! BigQuery de-duplicates streaming inserts by `insertId`, so the id must be
//! a pure function of where an entry came from and what it says: a replay
//! of the same file, an archive backfill, or a redelivered Pub/Sub message
//! must produce the same id, while two identical lines at different
//! positions (a repeated message without a timestamp) must not share one,
//! or BigQuery drops the repeat. The id hashes the source identity (for
//! container logs the log file's stable name without rotation suffix; for
//! a broker message its subscription and message id, or topic, partition
//! and offset), the position within that source where there is one (file:
//! byte offset of the line; stdin: run and line number; archive object:
//! line number) and the raw framed line.

use xxhash_rust::xxh3::Xxh3;

/// Computes the id from the identity, the position and the raw bytes of
/// the entry.
pub fn compute(identity: &[u8], position: Option<u64>, raw: &[u8]) -> String {
    let mut h = Xxh3::new();
    h.update(&(identity.len() as u64).to_le_bytes());
    h.update(identity);
    if let Some(p) = position {
        h.update(b"@");
        h.update(&p.to_le_bytes());
    }
    h.update(raw);
    let v = h.digest128();
    format!("{v:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_identity_sensitive() {
        let a = compute(b"pod_ns_c", Some(7), b"line");
        assert_eq!(a, compute(b"pod_ns_c", Some(7), b"line"));
        assert_ne!(a, compute(b"pod_ns_d", Some(7), b"line"));
        // The same line at another position is another entry.
        assert_ne!(a, compute(b"pod_ns_c", Some(8), b"line"));
        assert_ne!(a, compute(b"pod_ns_c", None, b"line"));
        // Length prefix: moving bytes between identity and content changes the id.
        assert_ne!(compute(b"ab", None, b"c"), compute(b"a", None, b"bc"));
        assert_eq!(a.len(), 32);
    }
}
