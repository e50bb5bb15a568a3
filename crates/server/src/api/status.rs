//! Management endpoints: `/-/healthy`, `/-/ready`, `/-/reload`, `/-/quit` and `/metrics`.
//!
//! Health and readiness answer exactly like Prometheus' `web/web.go`, so existing probes and
//! tooling work unchanged. `/metrics` speaks OpenMetrics to scrapers that ask for it and the
//! Prometheus text format 0.0.4 to everyone else, as Prometheus' own `/metrics` does.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::ApiError;
use crate::state::AppState;

/// The OpenMetrics text format, which `prometheus-client` writes and Prometheus scrapes.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The Prometheus text format, for clients that do not ask for OpenMetrics.
const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Returns the management routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/-/quit", post(quit).put(quit))
        .route("/metrics", get(metrics))
}

/// The answer of the lifecycle endpoints when `--web.enable-lifecycle` is off (Prometheus' text).
fn lifecycle_disabled() -> Response {
    (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n").into_response()
}

/// `POST /-/reload`: reloads the configuration file; a failure keeps the running configuration.
async fn reload(State(state): State<AppState>) -> Response {
    if !state.lifecycle_enabled() {
        return lifecycle_disabled();
    }
    let Some(config) = state.config().cloned() else {
        return (StatusCode::OK, "no configuration file to reload\n").into_response();
    };
    match tokio::task::spawn_blocking(move || config.reload()).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(error)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {error}\n")).into_response()
        }
        Err(error) => {
            ApiError::new(panoptes_model::ErrorKind::Internal, format!("reload task failed: {error}")).into_response()
        }
    }
}

/// `POST /-/quit`: stops the server gracefully, as SIGTERM does.
async fn quit(State(state): State<AppState>) -> Response {
    if !state.lifecycle_enabled() {
        return lifecycle_disabled();
    }
    state.request_quit();
    (StatusCode::OK, "Requesting termination... Goodbye!\n").into_response()
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

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"));
    match encode_metrics(&state) {
        Ok(text) if wants_openmetrics => {
            (StatusCode::OK, [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
        }
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE)], to_prometheus_text(&text))
            .into_response(),
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

/// Rewrites OpenMetrics text as Prometheus text 0.0.4: metadata names of counters gain `_total`
/// and those of info metrics `_info` (typed gauge), `unknown` becomes `untyped`, and `# UNIT`
/// and `# EOF` lines go. Sample lines are the same in both formats.
fn to_prometheus_text(openmetrics: &str) -> String {
    let mut types = std::collections::HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, metric_type)) = rest.split_once(' ')
        {
            types.insert(name, metric_type);
        }
    }
    let exposed_name = |name: &str| match types.get(name) {
        Some(&"counter") => (format!("{name}_total"), "counter"),
        Some(&"info") => (format!("{name}_info"), "gauge"),
        Some(&"unknown") | None => (name.to_owned(), "untyped"),
        Some(other) => (name.to_owned(), *other),
    };
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some((name, help)) = line.strip_prefix("# HELP ").and_then(|rest| rest.split_once(' ')) {
            text.push_str(&format!("# HELP {} {help}\n", exposed_name(name).0));
        } else if let Some((name, _)) = line.strip_prefix("# TYPE ").and_then(|rest| rest.split_once(' ')) {
            let (name, metric_type) = exposed_name(name);
            text.push_str(&format!("# TYPE {name} {metric_type}\n"));
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_is_rewritten_as_prometheus_text() {
        let openmetrics = "# HELP c Requests.\n# TYPE c counter\nc_total{a=\"b\"} 1\n\
                           # HELP b Build.\n# TYPE b info\nb_info{v=\"1\"} 1\n\
                           # HELP d_seconds Duration.\n# TYPE d_seconds histogram\n# UNIT d_seconds seconds\n\
                           d_seconds_count 2\n# EOF\n";
        let expected = "# HELP c_total Requests.\n# TYPE c_total counter\nc_total{a=\"b\"} 1\n\
                        # HELP b_info Build.\n# TYPE b_info gauge\nb_info{v=\"1\"} 1\n\
                        # HELP d_seconds Duration.\n# TYPE d_seconds histogram\nd_seconds_count 2\n";
        assert_eq!(to_prometheus_text(openmetrics), expected);
    }
}
