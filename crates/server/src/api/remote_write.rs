//! `POST /api/v1/write`: Prometheus remote write 1.0 (snappy block-compressed protobuf).
//!
//! Behaves like Prometheus' `storage/remote/write_handler.go`: `204` on success; per-sample
//! errors reject those samples only, the valid samples of the request are committed and the
//! answer is `400` naming the first failing series (the client must not retry); a failed commit
//! is `500` (the client retries). Remote write 2.0 is answered with `415`.

mod body_buffers;
mod ingest;
mod series_cache;
mod workers;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use panoptes_model::ErrorKind;

use self::body_buffers::BODY_BUFFERS;
use self::ingest::{IngestError, ingest};
use super::{ApiError, read_body_capped};
use crate::metrics::ReasonLabels;
use crate::prompb::{DecodeError, decompress_write_request_into};
use crate::state::AppState;

pub(crate) use self::series_cache::SeriesCache;
pub(crate) use self::workers::IngestWorkers;

/// Returns the remote write route.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/write", post(remote_write))
}

async fn remote_write(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<StatusCode, ApiError> {
    check_content_headers(&headers)?;
    let storage = state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let max_decompressed = state.max_remote_write_bytes();
    let compressed =
        read_body_capped(&headers, body, max_compressed_len(max_decompressed), state.read_timeout()).await?;
    // Decompressed, appended and committed (which may write and fsync the WAL) on an ingest
    // thread, off the async workers: a request waiting for one holds only its compressed body
    // (a fifth of the size), and decompressed bodies are at most one per ingest thread.
    let cache = state.remote_write_series();
    let decoded = state
        .remote_write_workers()
        .run(move || {
            let mut body = BODY_BUFFERS.take();
            let decompressed = decompress_write_request_into(&compressed, max_decompressed, &mut body);
            drop(compressed);
            let outcome = decompressed.map(|()| ingest(storage.as_ref(), &cache, &body));
            BODY_BUFFERS.give_back(body);
            outcome
        })
        .await
        .map_err(|error| ApiError::new(ErrorKind::Internal, format!("remote write task failed: {}", error.0)))?;
    let outcome = decoded.map_err(decode_error)?;
    let outcome = outcome.map_err(|error| match error {
        IngestError::Malformed(walk) => decode_error(DecodeError::Malformed(walk)),
        IngestError::Storage(error) => ApiError::from_classified(&error),
    })?;

    let metrics = state.metrics();
    metrics.remote_write_samples.inc_by(outcome.accepted);
    for (reason, count) in &outcome.rejected_by_reason {
        metrics.remote_write_samples_rejected.get_or_create(&ReasonLabels { reason }).inc_by(*count);
    }
    if outcome.histograms_ignored > 0 {
        metrics.remote_write_histograms_ignored.inc_by(outcome.histograms_ignored);
        tracing::warn!(count = outcome.histograms_ignored, "native histogram samples ignored: not supported yet");
    }
    match outcome.error_message() {
        None => Ok(StatusCode::NO_CONTENT),
        Some(message) => {
            // Client errors are counted, not logged above debug (a misbehaving sender would flood the log).
            tracing::debug!(rejected = outcome.rejected(), accepted = outcome.accepted, first_error = ?outcome.first_errors.first(), "remote write samples rejected");
            Err(ApiError::bad_data(message))
        }
    }
}

/// Refuses content types and encodings other than remote write 1.0 (`415`). Missing headers
/// are accepted, as Prometheus does.
fn check_content_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let encoding = encoding.to_str().unwrap_or_default().trim();
        if !encoding.eq_ignore_ascii_case("snappy") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported content encoding {encoding:?}: only snappy is supported"
            )));
        }
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or_default();
        let mut parts = content_type.split(';').map(str::trim);
        let media_type = parts.next().unwrap_or_default();
        if !media_type.eq_ignore_ascii_case("application/x-protobuf") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported content type {content_type:?}: expected application/x-protobuf"
            )));
        }
        for parameter in parts {
            if let Some(proto) = parameter.strip_prefix("proto=")
                && proto != "prometheus.WriteRequest"
            {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "unsupported remote write protobuf message {proto:?}: only prometheus.WriteRequest (1.0) is supported"
                )));
            }
        }
    }
    Ok(())
}

/// Returns the largest compressed body that can decompress to `max_decompressed` bytes.
fn max_compressed_len(max_decompressed: usize) -> usize {
    match snap::raw::max_compress_len(max_decompressed) {
        0 => max_decompressed,
        length => length,
    }
}

fn decode_error(error: DecodeError) -> ApiError {
    match error {
        DecodeError::TooLarge { .. } => ApiError::PayloadTooLarge(error.to_string()),
        DecodeError::Snappy(_) | DecodeError::Protobuf(_) | DecodeError::Malformed(_) => {
            ApiError::bad_data(error.to_string())
        }
    }
}
