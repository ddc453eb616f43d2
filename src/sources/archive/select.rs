//! Which listed objects a backfill reads: in the time range (judged from
//! the key alone, so nothing outside the range is downloaded), in this
//! shard, and not already finished.

use chrono::{DateTime, Utc};

use crate::gcs::key::span_of_key;

/// `[start, end)`; either side open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) start: Option<DateTime<Utc>>,
    pub(crate) end: Option<DateTime<Utc>>,
}

impl Range {
    pub(crate) fn is_all(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }

    pub(crate) fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t < e)
    }

    /// `[a, b)` and the range share at least an instant.
    fn overlaps(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| b > s) && self.end.is_none_or(|e| a < e)
    }

    /// `[a, b)` lies wholly inside the range.
    fn covers(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| a >= s) && self.end.is_none_or(|e| b <= e)
    }
}

/// `--shard I/N`: this worker takes the objects whose key hashes to I mod N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: u64,
    pub(crate) count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    pub(crate) fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| "must be I/N, e.g. 0/3".to_string())?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| "I in I/N must be a number".to_string())?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| "N in I/N must be a number".to_string())?;
        if count == 0 || index >= count {
            return Err("needs 0 <= I < N".into());
        }
        Ok(Shard { index, count })
    }

    /// A stable hash (xxh3, fixed seed), so every worker and every rerun
    /// agrees on who owns a key.
    pub(crate) fn owns(&self, key: &str) -> bool {
        self.count <= 1 || xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What to do with one listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Read it; `check_events` when it straddles a range boundary, so each
    /// event's timestamp must be compared.
    Take {
        check_events: bool,
    },
    OutOfRange,
    /// No date in the key while a range is given: cannot be placed in time
    /// without downloading it, so it is left out (and counted).
    Undated,
    OtherShard,
}

pub(crate) fn judge(key: &str, range: &Range, shard: &Shard) -> Verdict {
    let verdict = if range.is_all() {
        Verdict::Take {
            check_events: false,
        }
    } else {
        match span_of_key(key) {
            None => Verdict::Undated,
            Some((a, b)) if !range.overlaps(a, b) => Verdict::OutOfRange,
            Some((a, b)) => Verdict::Take {
                check_events: !range.covers(a, b),
            },
        }
    };
    match verdict {
        Verdict::Take { .. } if !shard.owns(key) => Verdict::OtherShard,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::log_entry::parse_rfc3339;

    fn range(a: &str, b: &str) -> Range {
        Range {
            start: parse_rfc3339(a),
            end: parse_rfc3339(b),
        }
    }

    #[test]
    fn judges_by_key_time() {
        let r = range("2025-11-30T12:30:00Z", "2025-11-30T14:00:00Z");
        let all = Shard::default();
        assert_eq!(
            judge("logs/2025/11/30/11/n-u.gz", &r, &all),
            Verdict::OutOfRange
        );
        assert_eq!(
            judge("logs/2025/11/30/12/n-u.gz", &r, &all),
            Verdict::Take { check_events: true }
        );
        assert_eq!(
            judge("logs/dt=2025-11-30/hour=13/n-u.gz", &r, &all),
            Verdict::Take {
                check_events: false
            }
        );
        assert_eq!(
            judge("logs/2025/11/30/14/n-u.gz", &r, &all),
            Verdict::OutOfRange
        );
        assert_eq!(judge("logs/readme", &r, &all), Verdict::Undated);
        assert_eq!(
            judge("logs/readme", &Range::default(), &all),
            Verdict::Take {
                check_events: false
            }
        );
        // A day-only key straddles the range.
        assert_eq!(
            judge("logs/2025/11/30/n-u.gz", &r, &all),
            Verdict::Take { check_events: true }
        );
    }

    #[test]
    fn shards_partition_keys() {
        let keys: Vec<String> = (0..300)
            .map(|i| format!("logs/2025/11/30/12/n-{i}.gz"))
            .collect();
        let shards: Vec<Shard> = (0..3)
            .map(|i| Shard::parse(&format!("{i}/3")).unwrap())
            .collect();
        for k in &keys {
            assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1, "{k}");
        }
        for s in &shards {
            let n = keys.iter().filter(|k| s.owns(k)).count();
            assert!((60..=140).contains(&n), "shard {s} got {n} of 300");
        }
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("1").is_err());
        assert!(Shard::parse("a/2").is_err());
    }
}
