//! Management endpoints: `/-/healthy`, `/-/ready` and `/metrics` (self-metrics).
//!
//! Health and readiness answer exactly like Prometheus' `web/web.go`, so existing probes and
//! tooling work unchanged.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiError;
use crate::state::AppState;

/// The OpenMetrics text format, which `prometheus-client` writes and Prometheus scrapes.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Returns the management routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/-/healthy", get(healthy)).route("/-/ready", get(ready)).route("/metrics", get(metrics))
}

async fn healthy() -> &'static str {
    "Panoptes Server is Healthy.\n"
}

async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    match state.storage() {
        Some(_) => Ok("Panoptes Server is Ready.\n"),
        None => Err(ApiError::storage_not_ready()),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    match encode_metrics(&state) {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response(),
        Err(error) => ApiError::new(panoptes_model::ErrorKind::Internal, format!("cannot encode metrics: {error}"))
            .into_response(),
    }
}

/// Returns the server's metrics followed by the store's, in one exposition.
fn encode_metrics(state: &AppState) -> Result<String, std::fmt::Error> {
    use prometheus_client::encoding::text::{encode_eof, encode_registry};
    let mut text = String::with_capacity(8 * 1024);
    encode_registry(&mut text, &state.metrics().registry)?;
    if let Some(registry) = state.storage_registry() {
        encode_registry(&mut text, registry)?;
    }
    encode_eof(&mut text)?;
    Ok(text)
}
