//! The Prometheus remote write 1.0 and remote read protobuf messages (`prompb/remote.proto` and
//! `types.proto`).
//!
//! Label names and values are decoded as bytes, not strings, so that a series with invalid UTF-8
//! is rejected on its own (and named in the error) instead of failing the whole request. Native
//! histograms are recognised but their fields are not decoded.

mod walk;

pub use walk::{SeriesView, WalkError, walk_write_request};

/// `prometheus.WriteRequest`: the body of a remote write 1.0 request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series and their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (type, help, unit); not stored.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`: one series' labels and samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The series' labels, normally sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples in time order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars; not stored.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples; not stored yet.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Label`, with name and value kept as raw bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// The label name (UTF-8 expected).
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    /// The label value (UTF-8 expected).
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

impl Label {
    /// Returns a label from a name and a value.
    pub fn new(name: &str, value: &str) -> Self {
        Self { name: name.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
    }
}

/// `prometheus.Sample`: one float sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// The exemplar's labels (a trace id, typically).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.Histogram`: a native histogram sample, whose fields are skipped when decoding.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// The metric type (`MetricMetadata.MetricType`: 0 unknown, 1 counter, 2 gauge, ...).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The metric family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// The unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Returns `request` encoded as a remote write 1.0 body: protobuf compressed with snappy's block
/// format (what clients send and [`decode_write_request`] reads).
pub fn encode_write_request(request: &WriteRequest) -> Vec<u8> {
    let protobuf = prost::Message::encode_to_vec(request);
    // The encoder fails only for inputs above snap's 2^32 byte limit, impossible for anything
    // that fits a request; an empty body would then be rejected by the server, not mis-stored.
    snap::raw::Encoder::new().compress_vec(&protobuf).unwrap_or_default()
}

/// Why a remote write body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The compressed body is not valid snappy block data.
    #[error("cannot decompress snappy block: {0}")]
    Snappy(#[source] snap::Error),
    /// The decompressed body is larger than allowed.
    #[error("decompressed body of {length} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The decompressed length announced by the snappy header.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The decompressed body is not a valid `WriteRequest`.
    #[error("cannot decode protobuf WriteRequest: {0}")]
    Protobuf(#[source] prost::DecodeError),
    /// The decompressed body is not a valid `WriteRequest` (zero-copy reader).
    #[error("cannot decode protobuf WriteRequest: {0}")]
    Malformed(#[source] WalkError),
}

/// Decompresses a snappy-compressed remote write body for [`walk_write_request`], refusing
/// before allocating when the decompressed length announced by the snappy header exceeds
/// `max_decompressed_bytes`.
///
/// # Errors
///
/// Returns [`DecodeError::Snappy`] or [`DecodeError::TooLarge`].
pub fn decompress_write_request(compressed: &[u8], max_decompressed_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decompress_write_request_into(compressed, max_decompressed_bytes, &mut out)?;
    Ok(out)
}

/// Like [`decompress_write_request`], into `out` (replacing its contents), so that a caller can
/// reuse one buffer for many requests.
///
/// # Errors
///
/// As [`decompress_write_request`]; `out` is then empty.
pub fn decompress_write_request_into(
    compressed: &[u8],
    max_decompressed_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    out.clear();
    let length = snap::raw::decompress_len(compressed).map_err(DecodeError::Snappy)?;
    if length > max_decompressed_bytes {
        return Err(DecodeError::TooLarge { length, limit: max_decompressed_bytes });
    }
    out.resize(length, 0);
    match snap::raw::Decoder::new().decompress(compressed, out) {
        Ok(written) => {
            out.truncate(written);
            Ok(())
        }
        Err(error) => {
            out.clear();
            Err(DecodeError::Snappy(error))
        }
    }
}

/// Decodes a snappy-compressed `WriteRequest`, refusing before allocating when the
/// decompressed length announced by the snappy header exceeds `max_decompressed_bytes`.
///
/// # Errors
///
/// Returns [`DecodeError`] naming the layer (snappy, size, protobuf) that failed.
pub fn decode_write_request(compressed: &[u8], max_decompressed_bytes: usize) -> Result<WriteRequest, DecodeError> {
    let protobuf = decompress_write_request(compressed, max_decompressed_bytes)?;
    <WriteRequest as prost::Message>::decode(protobuf.as_slice()).map_err(DecodeError::Protobuf)
}

/// `prometheus.ReadRequest`: the body of a remote read request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    /// The queries, answered in order.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Response types the client accepts, preferred first (0 sampled, 1 streamed chunks).
    #[prost(int32, repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `prometheus.Query`: one selector over a time range.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    /// The range's start, in ms (inclusive).
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// The range's end, in ms (inclusive).
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Every matcher must match.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Hints about the query the client runs (ignored).
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// `prometheus.LabelMatcher`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelMatcher {
    /// 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The value or regular expression.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `prometheus.ReadHints` (decoded so that requests carrying them parse; not used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadHints {
    /// The query step.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// The function around the selector.
    #[prost(string, tag = "2")]
    pub func: String,
}

/// `prometheus.ReadResponse`: one result per query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    /// The results, in query order.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// `prometheus.QueryResult`: the series of one query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    /// The matching series with their samples in the range.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> WriteRequest {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new("__name__", "up"), Label::new("job", "node")],
                samples: vec![Sample { value: 1.0, timestamp: 1000 }],
                exemplars: Vec::new(),
                histograms: Vec::new(),
            }],
            metadata: Vec::new(),
        }
    }

    #[test]
    fn encoded_request_decodes_to_the_same_message() {
        let encoded = encode_write_request(&request());
        assert_eq!(decode_write_request(&encoded, 1 << 20).unwrap(), request());
    }

    #[test]
    fn decode_refuses_a_body_larger_than_the_limit() {
        let encoded = encode_write_request(&request());
        let error = decode_write_request(&encoded, 4).unwrap_err();
        assert!(matches!(error, DecodeError::TooLarge { limit: 4, .. }), "{error}");
    }

    #[test]
    fn decode_reports_invalid_snappy_and_protobuf() {
        assert!(matches!(decode_write_request(b"\xff\xff\xff\xff\xff\xff", 1 << 20), Err(DecodeError::Snappy(_))));
        let not_protobuf = snap::raw::Encoder::new().compress_vec(b"\x0a\xff\xff\xff").unwrap();
        assert!(matches!(decode_write_request(&not_protobuf, 1 << 20), Err(DecodeError::Protobuf(_))));
    }

    #[test]
    fn decodes_bytes_laid_out_as_in_prometheus_remote_proto() {
        // Hand-encoded from prompb/remote.proto and types.proto, independently of the derive:
        // WriteRequest.timeseries (1) { labels (1) { name (1) "__name__", value (2) "up" },
        // samples (2) { value (1, double) 1.5, timestamp (2, varint) 1000 } },
        // WriteRequest.metadata (3) { type (1) COUNTER, metric_family_name (2) "up",
        // help (4) "h", unit (5) "s" }.
        let label = [&[0x0a, 8][..], b"__name__", &[0x12, 2], b"up"].concat();
        let sample = [&[0x09][..], &1.5f64.to_le_bytes(), &[0x10, 0xe8, 0x07]].concat();
        let series = [&[0x0a, label.len() as u8][..], &label, &[0x12, sample.len() as u8], &sample].concat();
        let metadata = [&[0x08, 0x01, 0x12, 2][..], b"up", &[0x22, 1], b"h", &[0x2a, 1], b"s"].concat();
        let request = [&[0x0a, series.len() as u8][..], &series, &[0x1a, metadata.len() as u8], &metadata].concat();
        let compressed = snap::raw::Encoder::new().compress_vec(&request).unwrap();

        let decoded = decode_write_request(&compressed, 1 << 20).unwrap();

        let series = &decoded.timeseries[0];
        assert_eq!(series.labels, vec![Label::new("__name__", "up")]);
        assert_eq!(series.samples, vec![Sample { value: 1.5, timestamp: 1000 }]);
        let metadata = &decoded.metadata[0];
        assert_eq!((metadata.r#type, metadata.metric_family_name.as_str()), (1, "up"));
        assert_eq!((metadata.help.as_str(), metadata.unit.as_str()), ("h", "s"));
    }

    #[test]
    fn histograms_are_skipped_without_failing_the_request() {
        // TimeSeries { histograms: [Histogram { count_int: 3 (field 1 varint) }] }
        let series = [0x22, 0x02, 0x08, 0x03];
        let request = [&[0x0a, series.len() as u8][..], &series[..]].concat();
        let compressed = snap::raw::Encoder::new().compress_vec(&request).unwrap();
        let decoded = decode_write_request(&compressed, 1 << 20).unwrap();
        assert_eq!(decoded.timeseries[0].histograms.len(), 1);
    }
}
