//! A Pushgateway-compatible push API: `PUT`, `POST` and `DELETE`
//! `/metrics/job/<job>{/<label>/<value>}` (with `@base64` values), the persistent group store
//! ([`PushStore`]), the exposition page `GET /pushgateway/metrics` that the server scrapes as an
//! ordinary target with `honor_labels: true`, and the Pushgateway's `GET /api/v1/metrics` and
//! `PUT /api/v1/admin/wipe`.
//!
//! Semantics are those of the Pushgateway 1.x (`handler/push.go`, `storage/diskmetricstore.go`),
//! checked against the real one by `tests/pushgateway_differential.rs`: `PUT` replaces the whole
//! group, `POST` replaces the pushed families only, `DELETE` removes the group; grouping labels
//! override pushed labels of the same name and every series gets `instance` (empty if not in the
//! grouping key); pushed timestamps and inconsistent pushes are refused with `400` and recorded
//! in `push_failure_time_seconds`. Bodies are the Prometheus text format 0.0.4; the protobuf
//! delimited format is refused with `415`. Pushed samples do not go to storage directly: they
//! reach it by scraping the page, as with a real Pushgateway.

mod handlers;
mod path;
mod persist;
mod render;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, put};

pub use path::{GroupingKey, parse_grouping_key};
pub use store::{
    Family, FamilyType, Group, PushError, PushLimits, PushMode, PushOutcome, PushStore, PushedFamilies,
    STORE_FILE_NAME, StoredSeries, parse_push_body,
};

/// The path of the exposition page of all groups, to scrape with `honor_labels: true`.
pub const EXPOSITION_PATH: &str = "/pushgateway/metrics";

/// Knobs of the push endpoints.
#[derive(Debug, Clone)]
pub struct PushgatewayOptions {
    /// The largest push body, after gzip decompression.
    pub max_body_bytes: usize,
    /// How long a client may take to send its body.
    pub read_timeout: Duration,
    /// Serves `PUT /api/v1/admin/wipe` (the Pushgateway's `--web.enable-admin-api`).
    pub enable_admin_api: bool,
}

impl Default for PushgatewayOptions {
    fn default() -> Self {
        // Pushes are small batch-job results; 16 MiB is generous and bounds memory per request.
        Self { max_body_bytes: 16 << 20, read_timeout: Duration::from_secs(60), enable_admin_api: false }
    }
}

/// Returns the routes `PUT|POST|DELETE /metrics/job/...`, `GET /pushgateway/metrics`,
/// `GET /api/v1/metrics` and, when enabled, `PUT /api/v1/admin/wipe`, all over `store`.
pub fn router<S>(store: Arc<PushStore>, options: PushgatewayOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let enable_admin_api = options.enable_admin_api;
    let state = handlers::PushState { store, options: Arc::new(options) };
    let mut router = Router::new()
        .route("/metrics/{*grouping}", put(handlers::push_put).post(handlers::push_post).delete(handlers::delete))
        .route(EXPOSITION_PATH, get(handlers::exposition))
        .route("/api/v1/metrics", get(handlers::api_metrics));
    if enable_admin_api {
        router = router.route("/api/v1/admin/wipe", put(handlers::wipe));
    }
    router.with_state(state)
}
