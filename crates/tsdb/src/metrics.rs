//! Self-metrics of the storage engine, declared in one place.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Counters and gauges of the storage engine; registered under `panoptes_tsdb_`.
#[derive(Debug, Default)]
pub struct TsdbMetrics {
    /// Series in the head.
    pub head_series: Gauge,
    /// Series created in the head.
    pub head_series_created: Counter,
    /// Series removed from the head by truncation.
    pub head_series_removed: Counter,
    /// Samples stored in the head.
    pub samples_appended: Counter,
    /// Samples accepted out of order.
    pub out_of_order_appended: Counter,
    /// Samples refused as out of order.
    pub out_of_order_rejected: Counter,
    /// Samples refused as too old.
    pub too_old_rejected: Counter,
    /// WAL corruptions repaired at start.
    pub wal_corruptions: Counter,
    /// Bytes dropped from torn or corrupt WAL regions at start.
    pub wal_dropped_bytes: Counter,
    /// WAL samples dropped at replay because their series was unknown.
    pub wal_unknown_series_samples: Counter,
    /// Checkpoints written.
    pub checkpoints: Counter,
    /// Blocks written from the head.
    pub head_compactions: Counter,
    /// Compactions that merged blocks.
    pub block_compactions: Counter,
    /// Compactions that failed.
    pub compactions_failed: Counter,
    /// Blocks removed by retention.
    pub retention_removed_blocks: Counter,
    /// Blocks loaded.
    pub blocks_loaded: Gauge,
    /// Bytes used by blocks.
    pub blocks_bytes: Gauge,
    /// Bytes used by the WAL.
    pub wal_bytes: Gauge,
    /// WAL segments a consumer still held that were deleted because held segments exceeded
    /// their bound.
    pub wal_hold_dropped_segments: Counter,
    /// Bytes of those segments.
    pub wal_hold_dropped_bytes: Counter,
}

impl TsdbMetrics {
    /// Registers every metric in `registry` with the `panoptes_tsdb_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("panoptes_tsdb");
        registry.register("head_series", "Series in the head", self.head_series.clone());
        registry.register("head_series_created", "Series created in the head", self.head_series_created.clone());
        registry.register("head_series_removed", "Series removed from the head", self.head_series_removed.clone());
        registry.register("head_samples_appended", "Samples stored in the head", self.samples_appended.clone());
        registry.register(
            "out_of_order_samples_appended",
            "Samples accepted out of order",
            self.out_of_order_appended.clone(),
        );
        registry.register(
            "out_of_order_samples_rejected",
            "Samples refused as out of order",
            self.out_of_order_rejected.clone(),
        );
        registry.register("too_old_samples_rejected", "Samples refused as too old", self.too_old_rejected.clone());
        registry.register("wal_corruptions", "WAL corruptions repaired at start", self.wal_corruptions.clone());
        registry.register(
            "wal_dropped_bytes",
            "Bytes dropped from torn or corrupt WAL regions",
            self.wal_dropped_bytes.clone(),
        );
        registry.register(
            "wal_unknown_series_samples",
            "WAL samples of unknown series dropped at replay",
            self.wal_unknown_series_samples.clone(),
        );
        registry.register("checkpoints", "WAL checkpoints written", self.checkpoints.clone());
        registry.register("head_compactions", "Blocks written from the head", self.head_compactions.clone());
        registry.register("block_compactions", "Compactions that merged blocks", self.block_compactions.clone());
        registry.register("compactions_failed", "Compactions that failed", self.compactions_failed.clone());
        registry.register(
            "retention_removed_blocks",
            "Blocks removed by retention",
            self.retention_removed_blocks.clone(),
        );
        registry.register("blocks_loaded", "Blocks loaded", self.blocks_loaded.clone());
        registry.register("blocks_bytes", "Bytes used by blocks", self.blocks_bytes.clone());
        registry.register("wal_bytes", "Bytes used by the WAL", self.wal_bytes.clone());
        registry.register(
            "wal_hold_dropped_segments",
            "WAL segments deleted before a consumer (remote write) read them, because held segments exceeded their bound",
            self.wal_hold_dropped_segments.clone(),
        );
        registry.register(
            "wal_hold_dropped_bytes",
            "Bytes of WAL segments deleted before a consumer read them",
            self.wal_hold_dropped_bytes.clone(),
        );
    }
}
