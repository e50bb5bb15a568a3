//! `query`, `query_range`, `format_query`, `parse_query` and `query_exemplars`.
//!
//! Queries are evaluated on a blocking thread, at most `--query.max-concurrency` at a time
//! (further queries wait for a slot, as in Prometheus' active query tracker).

use std::time::{Duration, Instant};

use axum::extract::State;
use panoptes_model::ErrorKind;
use panoptes_promql::{Annotations, CancelToken, Engine, Error as PromqlError, Value};
use panoptes_storage::Storage;
use serde_json::json;

use super::json::push_result;
use super::params::{Form, FromForm, duration_param, invalid_param, time_param};
use super::{Params, PromResponse, PromResult};
use crate::api::ApiError;
use crate::state::AppState;

/// Prometheus refuses range queries with more points per series than this.
const MAX_POINTS: i64 = 11_000;

/// Parameters of `/api/v1/query`.
#[derive(Debug)]
pub(crate) struct InstantQueryParams {
    query: String,
    time: i64,
    overrides: EngineOverrides,
    stats: bool,
}

impl FromForm for InstantQueryParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        Ok(Self {
            query: query_param(form)?,
            time: time_param(form, "time", panoptes_model::time::now_millis())?,
            overrides: EngineOverrides::from_form(form)?,
            stats: form.get("stats").is_some(),
        })
    }
}

/// Parameters of `/api/v1/query_range`.
#[derive(Debug)]
pub(crate) struct RangeQueryParams {
    query: String,
    start: i64,
    end: i64,
    step: i64,
    overrides: EngineOverrides,
    stats: bool,
}

impl FromForm for RangeQueryParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        let start = match form.get("start") {
            Some(_) => time_param(form, "start", 0)?,
            None => return Err(invalid_param("start", "cannot parse \"\" to a valid timestamp")),
        };
        let end = match form.get("end") {
            Some(_) => time_param(form, "end", 0)?,
            None => return Err(invalid_param("end", "cannot parse \"\" to a valid timestamp")),
        };
        if end < start {
            return Err(invalid_param("end", "end timestamp must not be before start time"));
        }
        let step = duration_param(form, "step")?
            .ok_or_else(|| invalid_param("step", "cannot parse \"\" to a valid duration"))?;
        if step <= 0 {
            return Err(invalid_param(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        // Prometheus compares the integer quotient of the range by the step.
        if (end - start) / step > MAX_POINTS {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        Ok(Self {
            query: query_param(form)?,
            start,
            end,
            step,
            overrides: EngineOverrides::from_form(form)?,
            stats: form.get("stats").is_some(),
        })
    }
}

fn query_param(form: &Form) -> Result<String, ApiError> {
    // An empty query is a parse error in Prometheus, reported by the parser.
    Ok(form.get("query").unwrap_or_default().to_owned())
}

/// Per-query engine settings: `timeout` (can only lower `--query.timeout`) and
/// `lookback_delta` (Prometheus 3).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EngineOverrides {
    timeout: Option<Duration>,
    lookback_delta: Option<Duration>,
}

impl EngineOverrides {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        let positive = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        let lookback_delta = duration_param(form, "lookback_delta")?;
        if lookback_delta.is_some_and(|ms| ms < 0) {
            return Err(invalid_param("lookback_delta", "lookback delta must not be negative"));
        }
        Ok(Self {
            timeout: duration_param(form, "timeout")?.map(positive),
            lookback_delta: lookback_delta.map(positive).filter(|d| !d.is_zero()),
        })
    }
}

/// `GET|POST /api/v1/query`.
pub(crate) async fn instant_query(
    State(state): State<AppState>,
    Params(params): Params<InstantQueryParams>,
) -> PromResult {
    let stats = params.stats;
    let (outcome, timings) =
        run_query(&state, params.overrides, move |engine, storage| evaluate_instant(engine, storage, &params)).await?;
    Ok(render(outcome, stats.then_some(timings)))
}

/// `GET|POST /api/v1/query_range`.
pub(crate) async fn range_query(State(state): State<AppState>, Params(params): Params<RangeQueryParams>) -> PromResult {
    let stats = params.stats;
    let (outcome, timings) =
        run_query(&state, params.overrides, move |engine, storage| evaluate_range(engine, storage, &params)).await?;
    Ok(render(outcome, stats.then_some(timings)))
}

/// Evaluates an instant query.
fn evaluate_instant(
    engine: &Engine,
    storage: &dyn Storage,
    params: &InstantQueryParams,
) -> Result<(Value, Annotations), ApiError> {
    let expr = panoptes_promql::parser::parse(&params.query).map_err(query_error)?;
    engine.instant_query_expr(storage, &expr, &params.query, params.time).map_err(query_error)
}

/// Evaluates a range query.
fn evaluate_range(
    engine: &Engine,
    storage: &dyn Storage,
    params: &RangeQueryParams,
) -> Result<(Value, Annotations), ApiError> {
    let expr = panoptes_promql::parser::parse(&params.query).map_err(query_error)?;
    use promql_parser::parser::value::ValueType;
    let type_name = match expr.value_type() {
        ValueType::Scalar | ValueType::Vector => None,
        ValueType::Matrix => Some("range vector"),
        ValueType::String => Some("string"),
    };
    if let Some(type_name) = type_name {
        // Prometheus refuses these when creating the query, before evaluation: `bad_data`.
        return Err(ApiError::bad_data(format!(
            "invalid expression type {type_name:?} for range query, must be Scalar or instant Vector"
        )));
    }
    let (value, annotations) = engine
        .range_query_expr(storage, &expr, &params.query, params.start, params.end, params.step)
        .map_err(query_error)?;
    Ok((value, annotations))
}

/// How long the phases of a query took, for `stats=all`.
#[derive(Debug, Clone, Copy)]
struct Timings {
    queued: Duration,
    evaluated: Duration,
}

/// Runs `work` on a blocking thread once a query slot is free, with the engine's timeout
/// lowered to the request's `timeout` when that is shorter.
async fn run_query(
    state: &AppState,
    overrides: EngineOverrides,
    work: impl FnOnce(&Engine, &dyn Storage) -> Result<(Value, Annotations), ApiError> + Send + 'static,
) -> Result<((Value, Annotations), Timings), ApiError> {
    let storage = state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let mut options = state.engine().options().clone();
    if let Some(lookback_delta) = overrides.lookback_delta {
        options.lookback_delta = lookback_delta;
    }
    if let Some(timeout) = overrides.timeout.filter(|t| !t.is_zero()) {
        options.timeout = options.timeout.min(timeout);
    }
    // Dropped with this future, which axum drops when the client goes away: the query then
    // stops at its next check instead of running to the end for nobody.
    let cancel = CancelOnDrop(CancelToken::new());
    options.cancel = Some(cancel.0.clone());
    let engine = Engine::new(options);
    let queued_at = Instant::now();
    let permit = state
        .query_permits()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(ErrorKind::Unavailable, "query engine is shutting down"))?;
    let queued = queued_at.elapsed();
    let outcome = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let outcome = work(&engine, storage.as_ref());
        drop(permit);
        outcome.map(|value| (value, started.elapsed()))
    })
    .await
    .map_err(|error| ApiError::new(ErrorKind::Internal, format!("query task failed: {error}")))??;
    let (value, evaluated) = outcome;
    Ok((value, Timings { queued, evaluated }))
}

/// Cancels its token when dropped (harmless once the query has finished).
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Maps an engine error to Prometheus' error type: parse errors are `bad_data` naming the
/// `query` parameter, evaluation errors `execution` (422), timeouts `timeout` (503).
fn query_error(error: PromqlError) -> ApiError {
    match error {
        PromqlError::Parse(_) | PromqlError::Unsupported(_) => invalid_param("query", error),
        PromqlError::Execution(_) | PromqlError::TooManySamples => ApiError::Execution(error.to_string()),
        PromqlError::Timeout => ApiError::new(ErrorKind::Timeout, error.to_string()),
        PromqlError::Canceled => ApiError::new(ErrorKind::Canceled, error.to_string()),
        PromqlError::Storage(ref storage) => ApiError::new(storage_error_kind(storage), error.to_string()),
    }
}

/// Returns the kind of a storage failure: Prometheus answers every storage error of a query as
/// `internal`, except an unavailable store.
pub(crate) fn storage_error_kind(error: &panoptes_storage::Error) -> ErrorKind {
    match panoptes_model::Classify::kind(error) {
        ErrorKind::Unavailable => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

/// Renders a query's result (and optional statistics) as the `data` member.
fn render((value, annotations): (Value, Annotations), timings: Option<Timings>) -> PromResponse {
    let mut data = String::with_capacity(256);
    data.push('{');
    push_result(&mut data, &value);
    if let Some(timings) = timings {
        let samples = result_points(&value);
        let eval = timings.evaluated.as_secs_f64();
        let stats = json!({
            "timings": {
                "evalTotalTime": eval,
                "resultSortTime": 0.0,
                "queryPreparationTime": 0.0,
                "innerEvalTime": eval,
                "execQueueTime": timings.queued.as_secs_f64(),
                "execTotalTime": eval + timings.queued.as_secs_f64(),
            },
            "samples": {"totalQueryableSamples": samples, "peakSamples": samples},
        });
        data.push_str(r#","stats":"#);
        data.push_str(&stats.to_string());
    }
    data.push('}');
    PromResponse::raw(data).with_annotations(annotations)
}

/// Returns how many points a result holds.
fn result_points(value: &Value) -> usize {
    match value {
        Value::Scalar { .. } | Value::String { .. } => 1,
        Value::Vector(samples) => samples.len(),
        Value::Matrix(series) => series.iter().map(|s| s.samples.len()).sum(),
    }
}

/// Parameters of `format_query` and `parse_query`.
#[derive(Debug)]
pub(crate) struct QueryTextParams {
    query: String,
}

impl FromForm for QueryTextParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        Ok(Self { query: query_param(form)? })
    }
}

/// `GET|POST /api/v1/format_query`: the query, pretty-printed.
pub(crate) async fn format_query(Params(params): Params<QueryTextParams>) -> PromResult {
    let formatted = format_query_text(&params.query)?;
    Ok(PromResponse::json(&json!(formatted)))
}

/// Returns the query pretty-printed.
fn format_query_text(query: &str) -> Result<String, ApiError> {
    let expr = panoptes_promql::parser::parse(query).map_err(query_error)?;
    Ok(expr.prettify())
}

/// `GET|POST /api/v1/parse_query`: the query's syntax tree as JSON (best effort).
pub(crate) async fn parse_query(Params(params): Params<QueryTextParams>) -> PromResult {
    let expr = panoptes_promql::parser::parse(&params.query).map_err(query_error)?;
    let tree = serde_json::to_value(&expr)
        .map_err(|error| ApiError::new(ErrorKind::Internal, format!("cannot encode syntax tree: {error}")))?;
    Ok(PromResponse::json(&tree))
}

/// Parameters of `query_exemplars`.
#[derive(Debug)]
pub(crate) struct ExemplarParams;

impl FromForm for ExemplarParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        panoptes_promql::parser::parse(form.get("query").unwrap_or_default()).map_err(query_error)?;
        time_param(form, "start", 0)?;
        time_param(form, "end", 0)?;
        Ok(ExemplarParams)
    }
}

/// `GET|POST /api/v1/query_exemplars`: exemplars are not stored yet, so always empty.
pub(crate) async fn query_exemplars(Params(ExemplarParams): Params<ExemplarParams>) -> PromResult {
    Ok(PromResponse::raw("[]".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[track_caller]
    fn check_range(pairs: &[(&str, &str)], expected: Result<(i64, i64, i64), &str>) {
        let result = RangeQueryParams::from_form(&form(pairs)).map(|p| (p.start, p.end, p.step)).map_err(|error| {
            let ApiError::Kind { kind: ErrorKind::BadData, message } = error else { panic!("not bad_data: {error:?}") };
            message
        });
        assert_eq!(result.as_ref().copied().map_err(String::as_str), expected);
    }

    #[test]
    fn range_params_are_validated_like_prometheus() {
        check_range(&[("query", "up"), ("start", "0"), ("end", "60"), ("step", "15s")], Ok((0, 60_000, 15_000)));
        check_range(&[("query", "up"), ("start", "0"), ("end", "60"), ("step", "0.5")], Ok((0, 60_000, 500)));
        check_range(
            &[("query", "up"), ("start", "60"), ("end", "0"), ("step", "15")],
            Err("invalid parameter \"end\": end timestamp must not be before start time"),
        );
        check_range(
            &[("query", "up"), ("start", "0"), ("end", "60"), ("step", "0")],
            Err(
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ),
        );
        check_range(
            &[("query", "up"), ("start", "0"), ("end", "11001"), ("step", "1")],
            Err(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ),
        );
        check_range(&[("query", "up"), ("start", "0"), ("end", "11000"), ("step", "1")], Ok((0, 11_000_000, 1000)));
        check_range(
            &[("query", "up"), ("start", "soon"), ("end", "60"), ("step", "1")],
            Err("invalid parameter \"start\": cannot parse \"soon\" to a valid timestamp"),
        );
    }

    #[test]
    fn engine_errors_get_prometheus_types() {
        let cases = [
            (PromqlError::Parse("1:1: parse error".into()), 400, "bad_data"),
            (PromqlError::Execution("vector cannot contain metrics with the same labelset".into()), 422, "execution"),
            (PromqlError::TooManySamples, 422, "execution"),
            (PromqlError::Timeout, 503, "timeout"),
        ];
        for (error, status, error_type) in cases {
            let api = query_error(error);
            assert_eq!((api.status().as_u16(), api.error_type()), (status, error_type));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queries_beyond_the_concurrency_limit_wait_for_a_slot() {
        let options = crate::server::ServerOptions { max_concurrent_queries: 1, ..Default::default() };
        let state = AppState::new(&options);
        state.set_storage(std::sync::Arc::new(panoptes_storage::MemStorage::new()), Default::default());
        let (second_started_tx, second_started_rx) = std::sync::mpsc::channel::<()>();
        let first_running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let first = {
            let state = state.clone();
            let first_running = first_running.clone();
            tokio::spawn(async move {
                run_query(&state, EngineOverrides::default(), move |_, _| {
                    first_running.store(true, std::sync::atomic::Ordering::SeqCst);
                    // The second query must not start while this one holds the only slot.
                    let overlapped = second_started_rx.recv_timeout(Duration::from_millis(300)).is_ok();
                    Ok((Value::Scalar { t: 0, v: f64::from(u8::from(overlapped)) }, Annotations::default()))
                })
                .await
            })
        };
        while !first_running.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        let second = run_query(&state, EngineOverrides::default(), move |_, _| {
            let _ = second_started_tx.send(());
            Ok((Value::Scalar { t: 0, v: 2.0 }, Annotations::default()))
        });
        let (second, first) = tokio::join!(second, first);
        let ((first_value, _), _) = first.unwrap().unwrap();
        assert_eq!(first_value, Value::Scalar { t: 0, v: 0.0 }, "the queries overlapped");
        let ((second_value, _), timings) = second.unwrap();
        assert_eq!(second_value, Value::Scalar { t: 0, v: 2.0 });
        assert!(timings.queued >= Duration::from_millis(250), "{timings:?}");
    }

    #[test]
    fn queries_are_pretty_printed() {
        assert_eq!(format_query_text("sum(rate(foo[5m]))by(job)").unwrap(), "sum by (job) (rate(foo[5m]))");
        assert!(format_query_text("sum(").is_err());
    }
}
