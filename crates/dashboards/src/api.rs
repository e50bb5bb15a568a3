//! Grafana's dashboard HTTP API over a [`DashboardStore`], with Grafana's paths, JSON shapes,
//! status codes and error bodies (`{"message": ..., "status": ...}`), so that scripts and
//! provisioning tools written for Grafana work unchanged. Panoptes adds one key to save, import
//! and get answers: `panoptesCompatibility`, the compatibility report. See
//! `docs/dashboards-api.md`.

mod handlers;
mod params;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::error::Error;
use crate::store::DashboardStore;

/// Knobs of the dashboard API.
#[derive(Debug, Clone)]
pub struct DashboardApiOptions {
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a client may take to send its body.
    pub read_timeout: Duration,
    /// The version reported by `/api/health`.
    pub version: String,
    /// The commit reported by `/api/health`.
    pub commit: String,
}

impl Default for DashboardApiOptions {
    fn default() -> Self {
        // The largest of Istio's dashboards is 116 KB; grafana.com's biggest exports are a few
        // MB. 16 MiB bounds memory per request with a wide margin.
        Self {
            max_body_bytes: 16 << 20,
            read_timeout: Duration::from_secs(60),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: String::new(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) store: Arc<DashboardStore>,
    pub(crate) options: Arc<DashboardApiOptions>,
}

/// Returns the routes of Grafana's dashboard API over `store`:
/// `GET /api/search`, `POST /api/dashboards/db`, `GET|DELETE /api/dashboards/uid/{uid}`,
/// `GET /api/dashboards/uid/{uid}/versions[/{id}]`, `POST /api/dashboards/uid/{uid}/restore`,
/// `POST /api/dashboards/import`,
/// `GET /api/dashboards/tags`, `GET /api/datasources[/uid/{uid}|/name/{name}]` and
/// `GET /api/health`.
pub fn router<S>(store: Arc<DashboardStore>, options: DashboardApiOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let state = ApiState { store, options: Arc::new(options) };
    Router::new()
        .route("/api/search", get(handlers::search))
        .route("/api/dashboards/db", post(handlers::save))
        .route("/api/dashboards/import", post(handlers::import))
        .route("/api/dashboards/tags", get(handlers::tags))
        .route("/api/dashboards/uid/{uid}", get(handlers::get_dashboard).delete(handlers::delete))
        .route("/api/dashboards/uid/{uid}/versions", get(handlers::versions))
        .route("/api/dashboards/uid/{uid}/versions/{id}", get(handlers::version))
        .route("/api/dashboards/uid/{uid}/restore", post(handlers::restore))
        .route("/api/folders", get(handlers::folders).post(handlers::create_folder))
        .route("/api/folders/{uid}", get(handlers::folder).put(handlers::update_folder).delete(handlers::delete_folder))
        .route("/api/datasources", get(handlers::datasources))
        .route("/api/datasources/uid/{uid}", get(handlers::datasource_by_uid))
        .route("/api/datasources/name/{name}", get(handlers::datasource_by_name))
        .route("/api/health", get(handlers::health))
        .with_state(state)
}

/// An error answered in Grafana's shape: `{"message": ...}` plus `status` where Grafana sends
/// one.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, body: json!({"message": message.into()}) }
    }

    pub(crate) fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, body: json!({"message": message.into()}) }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %crate::error_chain(&error), "dashboard store failed");
            return Self { status, body: json!({"message": "Internal server error"}) };
        }
        let mut body = json!({"message": error.to_string()});
        if let Some(grafana_status) = error.grafana_status() {
            body["status"] = json!(grafana_status);
        }
        Self { status, body }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}
