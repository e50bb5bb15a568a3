//! The server's self-metrics, declared in one place.
//!
//! Names follow `panoptes_<subsystem>_<what>_<unit>[_total]`. The registry is built once and
//! never mutated afterwards; the store registers its own metrics in a separate registry handed
//! to the storage opener (see `state.rs`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// Labels of per-request HTTP counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The matched route, or `other` for unknown paths (bounded cardinality).
    pub(crate) handler: String,
    /// The response status code.
    pub(crate) code: u16,
}

/// Labels of per-handler histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HandlerLabels {
    /// The matched route, or `other`.
    pub(crate) handler: String,
}

/// Labels of rejected-sample counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    /// Why the samples were rejected (`out_of_order`, `too_old`, ...).
    pub(crate) reason: &'static str,
}

/// Build information exported as `panoptes_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
    branch: &'static str,
}

/// Every metric the server itself exports.
#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) http_requests: Family<RequestLabels, Counter>,
    pub(crate) http_request_duration: Family<HandlerLabels, Histogram>,
    pub(crate) remote_write_samples: Counter,
    pub(crate) remote_write_samples_rejected: Family<ReasonLabels, Counter>,
    pub(crate) remote_write_histograms_ignored: Counter,
    pub(crate) storage_ready: Gauge,
}

impl Metrics {
    /// Returns the metrics, registered in a fresh registry.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "panoptes_http_requests",
            "HTTP requests answered, by handler and status code",
            http_requests.clone(),
        );
        // 1 ms to about 33 s in powers of two: remote write batches take milliseconds, queries longer.
        let http_request_duration = Family::<HandlerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "panoptes_http_request_duration_seconds",
            "Time spent answering HTTP requests, by handler",
            http_request_duration.clone(),
        );
        let remote_write_samples = Counter::default();
        registry.register(
            "panoptes_remote_write_samples",
            "Samples received by remote write and committed",
            remote_write_samples.clone(),
        );
        let remote_write_samples_rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "panoptes_remote_write_samples_rejected",
            "Samples received by remote write and rejected, by reason",
            remote_write_samples_rejected.clone(),
        );
        let remote_write_histograms_ignored = Counter::default();
        registry.register(
            "panoptes_remote_write_histograms_ignored",
            "Native histogram samples received by remote write and dropped (not supported yet)",
            remote_write_histograms_ignored.clone(),
        );
        let storage_ready = Gauge::default();
        registry.register(
            "panoptes_storage_ready",
            "Whether the metrics store is open (1) or not yet (0)",
            storage_ready.clone(),
        );
        registry.register(
            "panoptes_build",
            "Build information",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                revision: crate::build_info().revision,
                branch: crate::build_info().branch,
            }),
        );
        Self {
            registry,
            http_requests,
            http_request_duration,
            remote_write_samples,
            remote_write_samples_rejected,
            remote_write_histograms_ignored,
            storage_ready,
        }
    }
}
