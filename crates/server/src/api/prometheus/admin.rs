//! `/api/v1/admin/tsdb/{delete_series,clean_tombstones}`, enabled by `--web.enable-admin-api`.
//!
//! As in Prometheus, both answer `204 No Content` on success and `503 unavailable` ("admin APIs
//! disabled") when the flag is off.

use axum::extract::State;
use axum::http::StatusCode;
use panoptes_model::{ErrorKind, Matcher};

use super::params::{Form, FromForm, MAX_TIME_MS, MIN_TIME_MS, required_match_params, time_param};
use super::{Params, PromResult};
use crate::api::{ApiError, TsdbAdmin};
use crate::state::AppState;

/// Parameters of `delete_series`.
#[derive(Debug)]
pub(crate) struct DeleteSeriesParams {
    matchers: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
}

impl FromForm for DeleteSeriesParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        Ok(Self {
            matchers: required_match_params(form)?,
            start: time_param(form, "start", MIN_TIME_MS)?,
            end: time_param(form, "end", MAX_TIME_MS)?,
        })
    }
}

/// Returns the admin handle, or Prometheus' error when the admin API is off.
fn admin(state: &AppState) -> Result<std::sync::Arc<dyn TsdbAdmin>, ApiError> {
    if !state.admin_api_enabled() {
        return Err(ApiError::new(ErrorKind::Unavailable, "admin APIs disabled"));
    }
    state.storage().ok_or_else(ApiError::storage_not_ready)?;
    state
        .tsdb_admin()
        .ok_or_else(|| ApiError::new(ErrorKind::Unavailable, "admin APIs are not available for this store"))
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series`.
pub(crate) async fn delete_series(
    State(state): State<AppState>,
    Params(params): Params<DeleteSeriesParams>,
) -> PromResult<StatusCode> {
    let admin = admin(&state)?;
    super::labels::blocking(move || {
        params.matchers.iter().try_for_each(|set| admin.delete_series(set, params.start, params.end))
    })
    .await?
    .map_err(|error| ApiError::new(ErrorKind::Internal, format!("cannot delete series: {error}")))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`.
pub(crate) async fn clean_tombstones(State(state): State<AppState>) -> PromResult<StatusCode> {
    let admin = admin(&state)?;
    super::labels::blocking(move || admin.clean_tombstones())
        .await?
        .map_err(|error| ApiError::new(ErrorKind::Internal, format!("cannot clean tombstones: {error}")))?;
    Ok(StatusCode::NO_CONTENT)
}
