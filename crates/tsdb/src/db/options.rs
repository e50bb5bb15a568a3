//! Programmatic knobs of the database.

use std::time::Duration;

use crate::wal::{DEFAULT_MAX_HOLD_BYTES, DEFAULT_SEGMENT_BYTES, FsyncPolicy};

/// How the database behaves; see docs/storage.md for the reasoning behind the defaults.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Blocks whose data is entirely older than this (relative to the newest sample) are deleted.
    pub retention: Duration,
    /// When set, the oldest blocks are deleted while blocks and WAL together exceed this size.
    pub retention_bytes: Option<u64>,
    /// Samples up to this much older than the newest sample are accepted out of order.
    pub out_of_order_window: Duration,
    /// The time range of a block cut from the head (2h like Prometheus).
    pub block_range: Duration,
    /// When the WAL is flushed to stable storage.
    pub wal_fsync: FsyncPolicy,
    /// Size at which a WAL segment is closed and a new one started.
    pub wal_segment_bytes: u64,
    /// How often head compaction, block compaction and retention are checked.
    pub maintenance_interval: Duration,
    /// The most bytes of WAL segments kept, after a checkpoint replaced them, for consumers
    /// (remote write) that have not read them yet; beyond it the oldest are deleted and counted.
    pub max_wal_hold_bytes: u64,
    /// Whether [`crate::Db::close`] replaces the WAL by a snapshot of the head: a third of its
    /// size, replayed as fast (on by default; off keeps the log as written, for tests of it).
    pub snapshot_on_close: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(15 * 24 * 3600),
            retention_bytes: None,
            out_of_order_window: Duration::ZERO,
            block_range: Duration::from_secs(2 * 3600),
            wal_fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_bytes: DEFAULT_SEGMENT_BYTES,
            maintenance_interval: Duration::from_secs(30),
            max_wal_hold_bytes: DEFAULT_MAX_HOLD_BYTES,
            snapshot_on_close: true,
        }
    }
}

impl DbOptions {
    pub(crate) fn block_range_ms(&self) -> i64 {
        (self.block_range.as_millis() as i64).max(1)
    }

    /// Returns the ranges of compaction levels above the first: ×3 each, up to the smaller of
    /// 31 days and a tenth of the retention (as Prometheus bounds its largest blocks).
    pub(crate) fn compaction_ranges(&self) -> Vec<i64> {
        let limit = (self.retention.as_millis() as i64 / 10).min(31 * 24 * 3_600_000);
        let mut ranges = Vec::new();
        let mut range = self.block_range_ms() * 3;
        while range <= limit {
            ranges.push(range);
            range *= 3;
        }
        ranges
    }
}
