//! Self-metrics of the router, registered under `panoptes_alertmanager_`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// Counters and gauges of the router.
#[derive(Debug, Default)]
pub struct AlertingMetrics {
    /// Notifications attempted, by integration.
    pub notifications: Family<Labels, Counter>,
    /// Notifications that failed, by integration.
    pub notifications_failed: Family<Labels, Counter>,
    /// Alerts by state (`active`, `suppressed`).
    pub alerts: Family<Labels, Gauge>,
    /// Silences by state (`active`, `pending`, `expired`).
    pub silences: Family<Labels, Gauge>,
    /// Alerts received, by status (`firing`, `resolved`).
    pub alerts_received: Family<Labels, Counter>,
    /// Alerts refused as invalid.
    pub alerts_invalid: Counter,
}

fn label(name: &str, value: &str) -> Labels {
    vec![(name.to_owned(), value.to_owned())]
}

impl AlertingMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("panoptes_alertmanager");
        registry.register("notifications", "Notifications attempted, by integration", self.notifications.clone());
        registry.register(
            "notifications_failed",
            "Notifications that failed after all retries, by integration",
            self.notifications_failed.clone(),
        );
        registry.register("alerts", "Alerts held, by state", self.alerts.clone());
        registry.register("silences", "Silences, by state", self.silences.clone());
        registry.register("alerts_received", "Alerts received, by status", self.alerts_received.clone());
        registry.register("alerts_invalid", "Alerts refused as invalid", self.alerts_invalid.clone());
    }

    pub(crate) fn notification(&self, integration: &str, is_failed: bool) {
        self.notifications.get_or_create(&label("integration", integration)).inc();
        if is_failed {
            self.notifications_failed.get_or_create(&label("integration", integration)).inc();
        }
    }

    pub(crate) fn set_alerts(&self, active: usize, suppressed: usize) {
        self.alerts.get_or_create(&label("state", "active")).set(active as i64);
        self.alerts.get_or_create(&label("state", "suppressed")).set(suppressed as i64);
        self.alerts.get_or_create(&label("state", "unprocessed")).set(0);
    }

    pub(crate) fn set_silences(&self, counts: &[(crate::silence::SilenceState, usize)]) {
        for (state, count) in counts {
            self.silences.get_or_create(&label("state", state.as_str())).set(*count as i64);
        }
    }

    pub(crate) fn received(&self, status: &str) {
        self.alerts_received.get_or_create(&label("status", status)).inc();
    }
}

/// Counters and gauges of the alert history store, registered under `panoptes_alert_history_`.
#[derive(Debug, Default)]
pub struct HistoryMetrics {
    /// Records appended, by kind (`state`, `delivery`).
    pub records: Family<Labels, Counter>,
    /// Appends that failed (the records may be lost).
    pub append_failures: Counter,
    /// Segment files on disk.
    pub segments: Gauge,
    /// Segment files deleted by the retention.
    pub segments_deleted: Counter,
}

impl HistoryMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("panoptes_alert_history");
        registry.register("records", "History records appended, by kind", self.records.clone());
        registry.register("append_failures", "History appends that failed", self.append_failures.clone());
        registry.register("segments", "History segment files on disk", self.segments.clone());
        registry.register(
            "segments_deleted",
            "History segment files deleted by the retention",
            self.segments_deleted.clone(),
        );
    }
}
