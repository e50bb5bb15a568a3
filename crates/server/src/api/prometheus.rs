//! The Prometheus HTTP API v1 (`/api/v1/query`, `/series`, `/labels`, `/status/*`, ...), with
//! Prometheus' JSON envelope (`{status, data, errorType, error, warnings, infos}`), error types
//! and status codes (`web/api/v1/api.go`).
//!
//! Each endpoint has a params type built from the request's form values (GET query string or
//! POST form body, through [`Params`]), a thin handler and a plain function doing the work.

mod admin;
mod json;
mod labels;
mod metadata;
mod params;
mod query;
mod rules;
mod series;
mod status;
mod targets;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use panoptes_promql::Annotations;

use super::ApiError;
use crate::state::AppState;

pub(crate) use params::{Form, FromForm, Params, match_params as match_params_form};

/// Returns the Prometheus API routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(query::instant_query).post(query::instant_query))
        .route("/api/v1/query_range", get(query::range_query).post(query::range_query))
        .route("/api/v1/format_query", get(query::format_query).post(query::format_query))
        .route("/api/v1/parse_query", get(query::parse_query).post(query::parse_query))
        .route("/api/v1/query_exemplars", get(query::query_exemplars).post(query::query_exemplars))
        .route("/api/v1/series", get(series::series).post(series::series))
        .route("/api/v1/labels", get(labels::label_names).post(labels::label_names))
        .route("/api/v1/label/{name}/values", get(labels::label_values))
        .route("/api/v1/metadata", get(metadata::metadata))
        .route("/api/v1/targets/metadata", get(metadata::targets_metadata))
        .route("/api/v1/status/buildinfo", get(status::build_info))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/runtimeinfo", get(status::runtime_info))
        .route("/api/v1/status/tsdb", get(status::tsdb))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/targets", get(targets::targets))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/scrape_pools", get(targets::scrape_pools))
        .route("/api/v1/admin/tsdb/delete_series", post(admin::delete_series).put(admin::delete_series))
        .route("/api/v1/admin/tsdb/clean_tombstones", post(admin::clean_tombstones).put(admin::clean_tombstones))
}

/// An [`ApiError`] answered in Prometheus' JSON envelope.
#[derive(Debug)]
pub(crate) struct PromError(pub(crate) ApiError);

impl From<ApiError> for PromError {
    fn from(error: ApiError) -> Self {
        PromError(error)
    }
}

impl IntoResponse for PromError {
    fn into_response(self) -> Response {
        self.0.into_prometheus_response()
    }
}

/// A successful answer: `data` is already rendered JSON.
#[derive(Debug)]
pub(crate) struct PromResponse {
    data: String,
    annotations: Annotations,
}

impl PromResponse {
    /// Returns a success answer carrying `data` (rendered JSON).
    pub(crate) fn raw(data: String) -> Self {
        Self { data, annotations: Annotations::default() }
    }

    /// Returns a success answer carrying `data`.
    pub(crate) fn json(data: &serde_json::Value) -> Self {
        Self::raw(data.to_string())
    }

    /// Adds the query's warnings and infos.
    pub(crate) fn with_annotations(mut self, annotations: Annotations) -> Self {
        self.annotations = annotations;
        self
    }

    /// Returns the whole envelope as JSON text.
    fn render(&self) -> String {
        let mut out = String::with_capacity(self.data.len() + 64);
        out.push_str(r#"{"status":"success","data":"#);
        out.push_str(&self.data);
        for (key, list) in [("warnings", &self.annotations.warnings), ("infos", &self.annotations.infos)] {
            if !list.is_empty() {
                out.push_str(&format!(r#","{key}":"#));
                out.push_str(&serde_json::Value::from(list.clone()).to_string());
            }
        }
        out.push('}');
        out
    }
}

impl IntoResponse for PromResponse {
    fn into_response(self) -> Response {
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], self.render()).into_response()
    }
}

/// The result of Prometheus endpoints.
pub(crate) type PromResult<T = PromResponse> = Result<T, PromError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_lists_annotations_only_when_present() {
        let plain = PromResponse::raw("[]".into());
        assert_eq!(plain.render(), r#"{"status":"success","data":[]}"#);
        let annotated = PromResponse::raw("1".into())
            .with_annotations(Annotations { warnings: vec!["w \"x\"".into()], infos: vec!["i".into()] });
        assert_eq!(annotated.render(), r#"{"status":"success","data":1,"warnings":["w \"x\""],"infos":["i"]}"#);
    }
}
