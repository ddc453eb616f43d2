//! The dry-run report's sample of redacted entries: a fixed-size reservoir
//! (Vitter's algorithm R) over the entries in which something was
//! redacted, so a run of any length keeps the same few entries in memory and
//! every such entry had the same chance to be shown. Deterministic (a fixed
//! seed), so the same input gives the same report.

use std::sync::Mutex;

use serde_json::Value;

use super::extras::lock;
use super::Telemetry;
use std::sync::Arc;

/// One replacement in a sampled entry: where (raw path, array items as
/// `[]`), by which detector, and the text that now stands there (empty when
/// the field was removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SampledSpan {
    pub(crate) path: String,
    pub(crate) detector: String,
    pub(crate) replacement: String,
}

/// A redacted entry as it left the redact transform, with its replacements.
#[derive(Debug, Clone)]
pub(crate) struct Sampled {
    /// 1-based position among the entries offered.
    pub(crate) seq: u64,
    pub(crate) entry: Value,
    pub(crate) spans: Vec<SampledSpan>,
}

#[derive(Debug)]
pub(crate) struct Sampler {
    size: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    seen: u64,
    rng: u64,
    kept: Vec<Sampled>,
}

impl Sampler {
    fn new(size: usize) -> Sampler {
        Sampler {
            size,
            state: Mutex::new(State {
                seen: 0,
                rng: 0x5eed_0f5a_3b1e,
                kept: Vec::with_capacity(size),
            }),
        }
    }

    /// Offers `n` candidate entries; `take(i)` builds candidate `i` only if
    /// the reservoir keeps it.
    pub(crate) fn offer(&self, n: usize, mut take: impl FnMut(usize) -> (Value, Vec<SampledSpan>)) {
        let mut s = lock(&self.state);
        for i in 0..n {
            s.seen += 1;
            let seq = s.seen;
            let slot = if s.kept.len() < self.size {
                s.kept.len()
            } else {
                let j = (splitmix(&mut s.rng) % seq) as usize;
                if j >= self.size {
                    continue;
                }
                j
            };
            let (entry, spans) = take(i);
            let item = Sampled { seq, entry, spans };
            if slot == s.kept.len() {
                s.kept.push(item);
            } else {
                s.kept[slot] = item;
            }
        }
    }

    /// The kept entries in input order, and how many were offered.
    pub(crate) fn snapshot(&self) -> (Vec<Sampled>, u64) {
        let s = lock(&self.state);
        let mut kept = s.kept.clone();
        kept.sort_by_key(|k| k.seq);
        (kept, s.seen)
    }
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Telemetry {
    /// Turns on the sample of `size` redacted entries (before the pipeline
    /// is built: the redact transforms look for it when they are built).
    pub(crate) fn enable_sample(&self, size: usize) -> Arc<Sampler> {
        self.sample
            .get_or_init(|| Arc::new(Sampler::new(size)))
            .clone()
    }

    /// The sample, when a dry-run report asked for one.
    pub(crate) fn sampler(&self) -> Option<Arc<Sampler>> {
        self.sample.get().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reservoir_keeps_its_size_and_draws_from_the_whole_run() {
        let s = Sampler::new(10);
        let mut built = 0;
        for _ in 0..1000 {
            s.offer(10, |i| {
                built += 1;
                (Value::from(i as u64), Vec::new())
            });
        }
        let (kept, seen) = s.snapshot();
        assert_eq!((kept.len(), seen), (10, 10_000));
        assert!(built < 200, "only kept candidates are built ({built})");
        assert!(
            kept.windows(2).all(|w| w[0].seq < w[1].seq),
            "in input order"
        );
        assert!(
            kept.iter().any(|k| k.seq > 5000),
            "later entries are drawn too: {:?}",
            kept.iter().map(|k| k.seq).collect::<Vec<_>>()
        );
    }
}
