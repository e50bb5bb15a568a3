//! Self-metrics of the remote-write queues, declared in one place. Names and meanings follow
//! Prometheus' `prometheus_remote_storage_*` under the `panoptes_remote_storage_` prefix; every
//! series is labelled with the queue's `remote_name` and `url`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The labels of one queue's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct QueueLabels {
    /// The queue's name (configured, or derived from the URL's hash).
    pub(crate) remote_name: String,
    /// The endpoint, credentials removed.
    pub(crate) url: String,
}

/// The labels of dropped-sample counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DropLabels {
    /// The queue's name.
    pub(crate) remote_name: String,
    /// The endpoint.
    pub(crate) url: String,
    /// `dropped_series` (relabelling), `unknown_series` (no series record) or `too_old`.
    pub(crate) reason: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The remote-write queues' metrics; cheap to clone (every family is shared).
#[derive(Clone)]
pub struct RemoteMetrics {
    pub(crate) samples_in: Family<QueueLabels, Counter>,
    pub(crate) samples: Family<QueueLabels, Counter>,
    pub(crate) samples_failed: Family<QueueLabels, Counter>,
    pub(crate) samples_retried: Family<QueueLabels, Counter>,
    pub(crate) samples_dropped: Family<DropLabels, Counter>,
    pub(crate) samples_pending: Family<QueueLabels, Gauge>,
    pub(crate) bytes: Family<QueueLabels, Counter>,
    pub(crate) shards: Family<QueueLabels, Gauge>,
    pub(crate) shards_desired: Family<QueueLabels, Gauge>,
    pub(crate) shards_min: Family<QueueLabels, Gauge>,
    pub(crate) shards_max: Family<QueueLabels, Gauge>,
    pub(crate) shard_capacity: Family<QueueLabels, Gauge>,
    pub(crate) highest_timestamp: Family<QueueLabels, FloatGauge>,
    pub(crate) highest_sent_timestamp: Family<QueueLabels, FloatGauge>,
    pub(crate) sent_batch_duration: Family<QueueLabels, Histogram>,
    pub(crate) wal_damaged_bytes: Family<QueueLabels, Counter>,
    pub(crate) wal_missing_segments: Family<QueueLabels, Counter>,
}

impl Default for RemoteMetrics {
    fn default() -> Self {
        RemoteMetrics {
            samples_in: Family::default(),
            samples: Family::default(),
            samples_failed: Family::default(),
            samples_retried: Family::default(),
            samples_dropped: Family::default(),
            samples_pending: Family::default(),
            bytes: Family::default(),
            shards: Family::default(),
            shards_desired: Family::default(),
            shards_min: Family::default(),
            shards_max: Family::default(),
            shard_capacity: Family::default(),
            highest_timestamp: Family::default(),
            highest_sent_timestamp: Family::default(),
            // Prometheus' default buckets, 5ms to 10s, then up to a minute for slow receivers.
            sent_batch_duration: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
            }),
            wal_damaged_bytes: Family::default(),
            wal_missing_segments: Family::default(),
        }
    }
}

impl RemoteMetrics {
    /// Registers every metric in `registry` under `panoptes_remote_storage_`.
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("panoptes_remote_storage");
        registry.register("samples_in", "Samples read from the WAL by remote-write queues", self.samples_in.clone());
        registry.register("samples", "Samples sent to remote storage (each once, retries apart)", self.samples.clone());
        registry.register(
            "samples_failed",
            "Samples that failed to be sent with a non-recoverable error and were dropped",
            self.samples_failed.clone(),
        );
        registry.register(
            "samples_retried",
            "Samples sent again after a recoverable error (5xx, 429, network)",
            self.samples_retried.clone(),
        );
        registry.register(
            "samples_dropped",
            "Samples read from the WAL but not sent: dropped by relabelling, too old, or of an unknown series",
            self.samples_dropped.clone(),
        );
        registry.register(
            "samples_pending",
            "Samples read from the WAL and not yet acknowledged by the receiver",
            self.samples_pending.clone(),
        );
        registry.register("bytes", "Compressed request bytes sent to remote storage", self.bytes.clone());
        registry.register("shards", "Shards sending in parallel", self.shards.clone());
        registry.register("shards_desired", "Shards the queue wants for its load", self.shards_desired.clone());
        registry.register("shards_min", "The fewest shards (queue_config.min_shards)", self.shards_min.clone());
        registry.register("shards_max", "The most shards (queue_config.max_shards)", self.shards_max.clone());
        registry.register(
            "shard_capacity",
            "Samples a shard buffers (queue_config.capacity)",
            self.shard_capacity.clone(),
        );
        registry.register(
            "highest_timestamp_in_seconds",
            "The newest sample timestamp a queue read from the WAL",
            self.highest_timestamp.clone(),
        );
        registry.register(
            "queue_highest_sent_timestamp_seconds",
            "The newest sample timestamp the receiver acknowledged",
            self.highest_sent_timestamp.clone(),
        );
        registry.register(
            "sent_batch_duration_seconds",
            "Time of one send attempt of a batch",
            self.sent_batch_duration.clone(),
        );
        registry.register(
            "wal_damaged_bytes",
            "WAL bytes a queue skipped because they did not check",
            self.wal_damaged_bytes.clone(),
        );
        registry.register(
            "wal_missing_segments",
            "WAL segments deleted before a queue read them (held bytes over their bound)",
            self.wal_missing_segments.clone(),
        );
    }

    /// Removes a stopped queue's series.
    pub(crate) fn remove(&self, labels: &QueueLabels) {
        for family in [
            &self.samples_in,
            &self.samples,
            &self.samples_failed,
            &self.samples_retried,
            &self.bytes,
            &self.wal_damaged_bytes,
            &self.wal_missing_segments,
        ] {
            family.remove(labels);
        }
        for family in [
            &self.samples_pending,
            &self.shards,
            &self.shards_desired,
            &self.shards_min,
            &self.shards_max,
            &self.shard_capacity,
        ] {
            family.remove(labels);
        }
        self.highest_timestamp.remove(labels);
        self.highest_sent_timestamp.remove(labels);
        self.sent_batch_duration.remove(labels);
        for reason in ["dropped_series", "unknown_series", "too_old"] {
            self.samples_dropped.remove(&DropLabels {
                remote_name: labels.remote_name.clone(),
                url: labels.url.clone(),
                reason,
            });
        }
    }
}
