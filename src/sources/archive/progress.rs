//! Counters the archive source updates as it works, read by
//! `sluice backfill` for its progress bar and final report.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared between the source and whoever watches it. Updated per chunk or
/// per object, never per event.
#[derive(Debug, Default)]
pub struct Progress {
    /// Listing is finished and the totals below are final.
    pub(crate) listed: AtomicBool,
    /// Objects selected for this run (in range, in this shard, not done).
    pub(crate) objects_total: AtomicU64,
    /// Their stored (compressed) size.
    pub(crate) bytes_total: AtomicU64,
    /// Objects in range and shard that the state file marks as finished.
    pub(crate) objects_skipped: AtomicU64,
    /// Objects whose key has no recognizable date while a range is given.
    pub(crate) objects_undated: AtomicU64,
    /// Objects fully read.
    pub(crate) objects_read: AtomicU64,
    /// Objects whose every event was acknowledged and which are recorded.
    pub(crate) objects_done: AtomicU64,
    /// Objects that could not be read or were not acknowledged.
    pub(crate) objects_failed: AtomicU64,
    /// Stored bytes downloaded.
    pub(crate) bytes_read: AtomicU64,
    /// Decompressed NDJSON bytes.
    pub(crate) raw_bytes: AtomicU64,
    /// Events sent downstream.
    pub(crate) events: AtomicU64,
    /// Events in a selected object but outside `--start`/`--end`.
    pub(crate) events_out_of_range: AtomicU64,
}

/// A plain copy of [`Progress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub(crate) listed: bool,
    pub objects_total: u64,
    pub(crate) bytes_total: u64,
    pub(crate) objects_skipped: u64,
    pub(crate) objects_undated: u64,
    pub(crate) objects_read: u64,
    pub objects_done: u64,
    pub(crate) objects_failed: u64,
    pub(crate) bytes_read: u64,
    pub raw_bytes: u64,
    pub events: u64,
    pub(crate) events_out_of_range: u64,
}

impl Progress {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            listed: self.listed.load(Ordering::Acquire),
            objects_total: g(&self.objects_total),
            bytes_total: g(&self.bytes_total),
            objects_skipped: g(&self.objects_skipped),
            objects_undated: g(&self.objects_undated),
            objects_read: g(&self.objects_read),
            objects_done: g(&self.objects_done),
            objects_failed: g(&self.objects_failed),
            bytes_read: g(&self.bytes_read),
            raw_bytes: g(&self.raw_bytes),
            events: g(&self.events),
            events_out_of_range: g(&self.events_out_of_range),
        }
    }
}
