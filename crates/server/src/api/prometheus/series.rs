//! `/api/v1/series`: the label sets of the series matching `match[]` selectors.

use axum::extract::State;
use panoptes_model::{Labels, Matcher};
use panoptes_storage::Storage;

use super::json::push_labels;
use super::params::{Form, FromForm, MAX_TIME_MS, MIN_TIME_MS, limit_param, required_match_params, time_param};
use super::{Params, PromResponse, PromResult};
use crate::api::ApiError;
use crate::state::AppState;

/// Parameters of `/api/v1/series`.
#[derive(Debug)]
pub(crate) struct SeriesParams {
    matchers: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
    limit: usize,
}

impl FromForm for SeriesParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        Ok(Self {
            matchers: required_match_params(form)?,
            start: time_param(form, "start", MIN_TIME_MS)?,
            end: time_param(form, "end", MAX_TIME_MS)?,
            limit: limit_param(form)?,
        })
    }
}

/// `GET|POST /api/v1/series`.
pub(crate) async fn series(State(state): State<AppState>, Params(params): Params<SeriesParams>) -> PromResult {
    let storage = state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let (series, truncated) = super::labels::blocking(move || find_series(storage.as_ref(), &params)).await??;
    let mut data = String::from("[");
    for (i, labels) in series.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        push_labels(&mut data, labels);
    }
    data.push(']');
    Ok(PromResponse::raw(data).with_annotations(super::labels::truncation_warning(truncated)))
}

/// Returns the sorted, distinct label sets of matching series with samples in the range, at most
/// `limit` of them (and whether more existed).
fn find_series(storage: &dyn Storage, params: &SeriesParams) -> Result<(Vec<Labels>, bool), ApiError> {
    let querier = storage.querier(params.start, params.end).map_err(|e| super::labels::storage_error(&e))?;
    let mut all = Vec::new();
    for set in &params.matchers {
        for series in querier.select(set).map_err(|e| super::labels::storage_error(&e))? {
            all.push(series.map_err(|e| super::labels::storage_error(&e))?.labels);
        }
    }
    all.sort();
    all.dedup();
    Ok(super::labels::apply_limit(all, params.limit))
}
