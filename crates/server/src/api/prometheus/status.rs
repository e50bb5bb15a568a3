//! `/api/v1/status/{buildinfo,flags,runtimeinfo,tsdb}`.

use axum::extract::State;
use panoptes_model::ErrorKind;
use serde_json::{Map, Value as Json, json};

use super::params::{Form, FromForm, format_rfc3339, invalid_param};
use super::{Params, PromResponse, PromResult};
use crate::api::{ApiError, TsdbStats};
use crate::state::AppState;

/// `GET /api/v1/status/buildinfo`.
pub(crate) async fn build_info() -> PromResult {
    let build = crate::build_info();
    Ok(PromResponse::json(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": build.revision,
        "branch": build.branch,
        "buildUser": "unknown",
        "buildDate": build.build_date,
        "goVersion": "none (rust)",
    })))
}

/// `GET /api/v1/status/flags`: every command-line flag with its value.
pub(crate) async fn flags(State(state): State<AppState>) -> PromResult {
    let map: Map<String, Json> =
        state.flags().iter().map(|(name, value)| (name.clone(), Json::String(value.clone()))).collect();
    Ok(PromResponse::json(&Json::Object(map)))
}

/// `GET /api/v1/status/runtimeinfo`.
pub(crate) async fn runtime_info(State(state): State<AppState>) -> PromResult {
    let cwd = std::env::current_dir().map(|dir| dir.display().to_string()).unwrap_or_default();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let retention = state
        .flags()
        .iter()
        .find(|(name, _)| name == "storage.tsdb.retention.time")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    let (reload_success, last_config_ms) =
        state.config().map_or((true, state.start_time_ms()), |config| config.last_reload());
    Ok(PromResponse::json(&json!({
        "startTime": format_rfc3339(state.start_time_ms()),
        "CWD": cwd,
        "reloadConfigSuccess": reload_success,
        "lastConfigTime": format_rfc3339(last_config_ms),
        "corruptionCount": 0,
        "goroutineCount": 0,
        "GOMAXPROCS": threads,
        "GOMEMLIMIT": i64::MAX,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": retention,
    })))
}

/// `GET /api/v1/status/config`: the running configuration as YAML, secrets hidden.
pub(crate) async fn config(State(state): State<AppState>) -> PromResult {
    let yaml = state.config().map(|config| config.yaml()).unwrap_or_default();
    Ok(PromResponse::json(&json!({ "yaml": yaml })))
}

/// Parameters of `/api/v1/status/tsdb`.
#[derive(Debug)]
pub(crate) struct TsdbStatusParams {
    limit: usize,
}

impl FromForm for TsdbStatusParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        let limit = match form.get("limit") {
            None => 10,
            Some(text) => match text.parse::<usize>() {
                Ok(limit) if limit > 0 => limit,
                _ => return Err(invalid_param("limit", "limit must be a positive number")),
            },
        };
        Ok(Self { limit })
    }
}

/// `GET /api/v1/status/tsdb`: head cardinality statistics.
pub(crate) async fn tsdb(State(state): State<AppState>, Params(params): Params<TsdbStatusParams>) -> PromResult {
    state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let admin = state
        .tsdb_admin()
        .ok_or_else(|| ApiError::new(ErrorKind::Unavailable, "tsdb statistics are not available for this store"))?;
    let stats = super::labels::blocking(move || admin.stats(params.limit))
        .await?
        .map_err(|error| super::labels::storage_error(&error))?;
    Ok(PromResponse::json(&tsdb_status_json(&stats)))
}

/// Returns the statistics in Prometheus' shape.
fn tsdb_status_json(stats: &TsdbStats) -> Json {
    let list = |entries: &[(String, u64)]| -> Json {
        entries.iter().map(|(name, value)| json!({"name": name, "value": value})).collect()
    };
    json!({
        "headStats": {
            "numSeries": stats.num_series,
            "numLabelPairs": stats.num_label_pairs,
            "chunkCount": stats.chunk_count,
            "minTime": stats.min_time,
            "maxTime": stats.max_time,
        },
        "seriesCountByMetricName": list(&stats.series_count_by_metric_name),
        "labelValueCountByLabelName": list(&stats.label_value_count_by_label_name),
        "memoryInBytesByLabelName": list(&stats.memory_in_bytes_by_label_name),
        "seriesCountByLabelValuePair": list(&stats.series_count_by_label_value_pair),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsdb_status_has_prometheus_shape() {
        let stats =
            TsdbStats { num_series: 2, series_count_by_metric_name: vec![("up".into(), 2)], ..TsdbStats::default() };
        let json = tsdb_status_json(&stats);
        assert_eq!(json["headStats"]["numSeries"], 2);
        assert_eq!(json["seriesCountByMetricName"], json!([{"name": "up", "value": 2}]));
        assert_eq!(json["labelValueCountByLabelName"], json!([]));
    }
}
