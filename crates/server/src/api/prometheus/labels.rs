//! `/api/v1/labels` and `/api/v1/label/<name>/values`.

use axum::extract::{Path, State};
use panoptes_model::{ErrorKind, Matcher};
use panoptes_promql::Annotations;
use panoptes_storage::Storage;
use serde_json::json;

use super::params::{Form, FromForm, MAX_TIME_MS, MIN_TIME_MS, limit_param, match_params, time_param};
use super::{Params, PromResponse, PromResult};
use crate::api::ApiError;
use crate::state::AppState;

/// Parameters of the label endpoints.
#[derive(Debug)]
pub(crate) struct LabelParams {
    matchers: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
    limit: usize,
}

impl FromForm for LabelParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        Ok(Self {
            matchers: match_params(form)?,
            start: time_param(form, "start", MIN_TIME_MS)?,
            end: time_param(form, "end", MAX_TIME_MS)?,
            limit: limit_param(form)?,
        })
    }
}

/// `GET|POST /api/v1/labels`.
pub(crate) async fn label_names(State(state): State<AppState>, Params(params): Params<LabelParams>) -> PromResult {
    let storage = state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let (names, truncated) = blocking(move || find_label_names(storage.as_ref(), &params)).await??;
    Ok(PromResponse::json(&json!(names)).with_annotations(truncation_warning(truncated)))
}

/// `GET /api/v1/label/<name>/values`.
pub(crate) async fn label_values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Params(params): Params<LabelParams>,
) -> PromResult {
    if !panoptes_model::is_valid_label_name(&name) {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")).into());
    }
    let storage = state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let (values, truncated) = blocking(move || find_label_values(storage.as_ref(), &name, &params)).await??;
    Ok(PromResponse::json(&json!(values)).with_annotations(truncation_warning(truncated)))
}

/// Returns the sorted label names of the matching series (all series without `match[]`).
fn find_label_names(storage: &dyn Storage, params: &LabelParams) -> Result<(Vec<String>, bool), ApiError> {
    let querier = storage.querier(params.start, params.end).map_err(|e| storage_error(&e))?;
    let mut names = Vec::new();
    if params.matchers.is_empty() {
        names = querier.label_names(&[]).map_err(|e| storage_error(&e))?;
    } else {
        for set in &params.matchers {
            names.extend(querier.label_names(set).map_err(|e| storage_error(&e))?);
        }
        names.sort();
        names.dedup();
    }
    Ok(apply_limit(names, params.limit))
}

/// Returns the sorted values of label `name` among the matching series.
fn find_label_values(storage: &dyn Storage, name: &str, params: &LabelParams) -> Result<(Vec<String>, bool), ApiError> {
    let querier = storage.querier(params.start, params.end).map_err(|e| storage_error(&e))?;
    let mut values = Vec::new();
    if params.matchers.is_empty() {
        values = querier.label_values(name, &[]).map_err(|e| storage_error(&e))?;
    } else {
        for set in &params.matchers {
            values.extend(querier.label_values(name, set).map_err(|e| storage_error(&e))?);
        }
        values.sort();
        values.dedup();
    }
    Ok(apply_limit(values, params.limit))
}

/// Keeps the first `limit` items (all when 0) and tells whether some were cut.
pub(crate) fn apply_limit<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let truncated = limit > 0 && items.len() > limit;
    if truncated {
        items.truncate(limit);
    }
    (items, truncated)
}

/// Returns Prometheus' warning for a result cut by `limit`.
pub(crate) fn truncation_warning(truncated: bool) -> Annotations {
    let mut annotations = Annotations::default();
    if truncated {
        annotations.warnings.push("results truncated due to limit".to_owned());
    }
    annotations
}

/// Maps a storage error of a metadata read.
pub(crate) fn storage_error(error: &panoptes_storage::Error) -> ApiError {
    ApiError::new(super::query::storage_error_kind(error), error.to_string())
}

/// Runs store reads on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::new(ErrorKind::Internal, format!("store read task failed: {error}")))
}
