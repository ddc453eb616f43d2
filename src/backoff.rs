//! Exponential backoff: the one retry schedule sluice uses.
//!
//! Every retry in sluice (BigQuery calls, GCS uploads, file reopen, Kafka
//! redelivery, Pub/Sub nack delays, the metadata server) waits `first`
//! after the first failure, doubling per further failure up to `max`. A
//! caller that retries against a shared service adds jitter, so many nodes
//! that failed together do not retry together; a caller with a time budget
//! uses [`Deadline`]. Plain arithmetic on `Instant`s: no IO, no runtime.

use std::time::{Duration, Instant};

/// A retry schedule: `first`, doubling, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) first: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    pub(crate) const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max }
    }

    /// The wait before retry number `attempt` (1 after the first failure,
    /// 2 after the second, ...); zero for attempt 0.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        match attempt {
            0 => Duration::ZERO,
            // 2^20 times any sane `first` is past any sane `max`.
            n => self
                .first
                .saturating_mul(1 << (n - 1).min(20))
                .min(self.max),
        }
    }

    /// [`delay`](Self::delay) spread uniformly over `[d/2, d]`.
    pub(crate) fn jittered(&self, attempt: u32) -> Duration {
        let d = self.delay(attempt);
        let half = d / 2;
        half + half.mul_f64(unit_random())
    }

    /// Jittered retries that stop once `budget` has passed from now.
    pub(crate) fn within(self, budget: Duration) -> Deadline {
        Deadline {
            backoff: self,
            attempt: 0,
            deadline: Instant::now() + budget,
        }
    }
}

/// Retries bounded by a total time (see [`Backoff::within`]).
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    backoff: Backoff,
    attempt: u32,
    deadline: Instant,
}

impl Deadline {
    /// The next wait, or `None` once the deadline is reached. A wait never
    /// goes past the deadline.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if now >= self.deadline {
            return None;
        }
        self.attempt += 1;
        Some(self.backoff.jittered(self.attempt).min(self.deadline - now))
    }
}

/// A number in [0, 1) that differs per call; not for cryptography.
fn unit_random() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let h = xxhash_rust::xxh3::xxh3_64(&[n.to_le_bytes(), t.to_le_bytes()].concat());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn doubles_from_first_and_stops_at_max() {
        let b = Backoff::new(S, 60 * S);
        let got: Vec<u64> = [0, 1, 2, 3, 7, 40, u32::MAX]
            .map(|n| b.delay(n).as_secs())
            .to_vec();
        assert_eq!(got, [0, 1, 2, 4, 60, 60, 60]);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let b = Backoff::new(Duration::from_millis(500), 30 * S);
        for n in 1..12 {
            let full = b.delay(n);
            for _ in 0..50 {
                let j = b.jittered(n);
                assert!(
                    j >= full / 2 && j <= full,
                    "{j:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn deadline_grows_then_ends() {
        let mut d =
            Backoff::new(Duration::from_millis(500), 30 * S).within(Duration::from_millis(300));
        let first = d.next_delay().expect("inside the budget");
        assert!(
            first <= Duration::from_millis(300),
            "clipped to the budget: {first:?}"
        );
        let mut spent = Backoff::new(Duration::from_millis(500), 30 * S).within(Duration::ZERO);
        assert_eq!(spent.next_delay(), None, "no wait once the budget is spent");

        let mut long = Backoff::new(Duration::from_millis(500), 30 * S).within(3600 * S);
        let d1 = long.next_delay().unwrap();
        let d2 = long.next_delay().unwrap();
        let d3 = long.next_delay().unwrap();
        assert!(
            d1 <= Duration::from_millis(500) && d3 >= Duration::from_secs(1),
            "{d1:?} {d2:?} {d3:?}"
        );
        for _ in 0..20 {
            assert!(long.next_delay().unwrap() <= 30 * S);
        }
    }
}
