//! `POST /api/v1/read`: Prometheus remote read, answered in the sampled format (snappy-compressed
//! `ReadResponse`), which every Prometheus since 2.0 accepts; clients that prefer streamed
//! chunks fall back to it as Prometheus' own client does.
//!
//! Limits as Prometheus': at most `max_remote_read_samples` samples per request (`400`, naming
//! the limit) and at most `max_concurrent_remote_reads` requests at once (the rest wait).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use panoptes_model::{ErrorKind, MatchOp, Matcher};
use panoptes_storage::{Storage, collect_samples};
use prost::Message as _;

use super::{ApiError, read_body_capped};
use crate::prompb::{Label, LabelMatcher, QueryResult, ReadRequest, ReadResponse, Sample, TimeSeries};
use crate::state::AppState;

/// The largest compressed and decompressed request accepted (Prometheus' `decodeReadLimit`).
const MAX_REQUEST_BYTES: usize = 32 << 20;

/// Returns the remote read route.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/read", post(remote_read))
}

async fn remote_read(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let storage = state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let compressed = read_body_capped(&headers, body, MAX_REQUEST_BYTES, state.read_timeout()).await?;
    let request = decode_request(&compressed)?;
    let sample_limit = state.remote_read_sample_limit();
    let _permit = state
        .remote_read_permits()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(ErrorKind::Unavailable, "shutting down"))?;
    let response = tokio::task::spawn_blocking(move || answer(storage.as_ref(), &request, sample_limit))
        .await
        .map_err(|error| ApiError::new(ErrorKind::Internal, format!("remote read task failed: {error}")))??;
    let encoded = snap::raw::Encoder::new().compress_vec(&response.encode_to_vec()).map_err(|error| {
        ApiError::new(ErrorKind::Internal, format!("cannot compress remote read response: {error}"))
    })?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf"), (header::CONTENT_ENCODING, "snappy")],
        encoded,
    )
        .into_response())
}

fn decode_request(compressed: &[u8]) -> Result<ReadRequest, ApiError> {
    let length =
        snap::raw::decompress_len(compressed).map_err(|error| ApiError::bad_data(format!("snappy: {error}")))?;
    if length > MAX_REQUEST_BYTES {
        return Err(ApiError::bad_data(format!(
            "decompressed remote read request of {length} bytes exceeds the limit of {MAX_REQUEST_BYTES} bytes"
        )));
    }
    let protobuf = snap::raw::Decoder::new()
        .decompress_vec(compressed)
        .map_err(|error| ApiError::bad_data(format!("snappy: {error}")))?;
    ReadRequest::decode(protobuf.as_slice()).map_err(|error| ApiError::bad_data(format!("protobuf: {error}")))
}

fn matcher(matcher: &LabelMatcher) -> Result<Matcher, ApiError> {
    let op = match matcher.r#type {
        0 => MatchOp::Equal,
        1 => MatchOp::NotEqual,
        2 => MatchOp::Regex,
        3 => MatchOp::NotRegex,
        other => return Err(ApiError::bad_data(format!("invalid matcher type {other}"))),
    };
    Matcher::new(op, &matcher.name, &matcher.value).map_err(|error| ApiError::bad_data(error.to_string()))
}

/// Runs every query; fails when the answer would hold more than `sample_limit` samples.
fn answer(storage: &dyn Storage, request: &ReadRequest, sample_limit: usize) -> Result<ReadResponse, ApiError> {
    let mut samples_total = 0usize;
    let mut results = Vec::with_capacity(request.queries.len());
    for query in &request.queries {
        let matchers = query.matchers.iter().map(matcher).collect::<Result<Vec<_>, _>>()?;
        let querier = storage
            .querier(query.start_timestamp_ms, query.end_timestamp_ms)
            .map_err(|error| ApiError::from_classified(&error))?;
        let mut timeseries = Vec::new();
        for series in querier.select(&matchers).map_err(|error| ApiError::from_classified(&error))? {
            let mut series = series.map_err(|error| ApiError::from_classified(&error))?;
            let samples: Vec<Sample> = collect_samples(series.samples.as_mut())
                .into_iter()
                .map(|sample| Sample { value: sample.v, timestamp: sample.t })
                .collect();
            if let Some(error) = series.samples.take_error() {
                return Err(ApiError::from_classified(&error));
            }
            samples_total += samples.len();
            if samples_total > sample_limit {
                return Err(ApiError::bad_data(format!("exceeded sample limit ({sample_limit})")));
            }
            let labels = series.labels.iter().map(|label| Label::new(&label.name, &label.value)).collect();
            timeseries.push(TimeSeries { labels, samples, exemplars: Vec::new(), histograms: Vec::new() });
        }
        results.push(QueryResult { timeseries });
    }
    Ok(ReadResponse { results })
}
