//! Zero-copy reading of a decompressed `WriteRequest`: label names and values are slices of
//! the request body, samples are decoded into a reused buffer. This is the ingestion hot path;
//! the prost types in the parent module remain for encoding and tests, and the two are checked
//! against each other.
//!
//! Wire format (protobuf): `WriteRequest { repeated TimeSeries timeseries = 1; repeated
//! MetricMetadata metadata = 3; }`, `TimeSeries { repeated Label labels = 1; repeated Sample
//! samples = 2; repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }`,
//! `Label { string name = 1; string value = 2; }`, `Sample { double value = 1; int64 timestamp = 2; }`.

/// One time series of a request, borrowed from the body. Its labels are decoded on demand
/// ([`SeriesView::decode_labels`]): a receiver that knows the series by [`SeriesView::label_bytes`]
/// never needs them.
#[derive(Debug)]
pub struct SeriesView<'a, 'b> {
    /// The encoded `Label` messages as sent, with their offsets in the body.
    label_fields: &'b [(&'a [u8], usize)],
    /// The encoded label fields exactly as sent, when they are contiguous in the message (as
    /// every known sender writes them): the same bytes always decode to the same pairs, so
    /// ingestion can remember a series by them.
    pub label_bytes: Option<&'a [u8]>,
    /// (timestamp ms, value) pairs as sent.
    pub samples: &'b [(i64, f64)],
    /// Native histogram samples, which are not decoded.
    pub histograms: usize,
}

impl<'a> SeriesView<'a, '_> {
    /// Decodes the label (name, value) pairs into `out` (replacing its contents), as sent: not
    /// checked for UTF-8 or order.
    ///
    /// # Errors
    ///
    /// Returns where a `Label` message is malformed.
    pub fn decode_labels(&self, out: &mut Vec<(&'a [u8], &'a [u8])>) -> Result<(), WalkError> {
        out.clear();
        for &(label_bytes, label_base) in self.label_fields {
            let mut label = Reader::new(label_bytes, label_base);
            let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
            while !label.is_done() {
                match label.tag()? {
                    (1, LEN) => name = label.bytes()?.0,
                    (2, LEN) => value = label.bytes()?.0,
                    (_, wire_type) => label.skip(wire_type)?,
                }
            }
            out.push((name, value));
        }
        Ok(())
    }
}

/// Why a body is not a valid `WriteRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct WalkError {
    /// What is wrong.
    pub message: &'static str,
    /// Where, from the start of the decompressed body.
    pub offset: usize,
}

struct Reader<'a> {
    data: &'a [u8],
    position: usize,
    /// Offset of `data` in the whole body, for error messages.
    base: usize,
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;
/// The key byte of field 1, length-delimited: a `TimeSeries`' label.
const LABEL_KEY: u8 = 1 << 3 | LEN;

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, position: 0, base }
    }

    fn error(&self, message: &'static str) -> WalkError {
        WalkError { message, offset: self.base + self.position }
    }

    #[inline]
    fn is_done(&self) -> bool {
        self.position >= self.data.len()
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64, WalkError> {
        // Tags, lengths of labels and timestamps' low groups: mostly one byte.
        if let Some(&byte) = self.data.get(self.position)
            && byte < 0x80
        {
            self.position += 1;
            return Ok(u64::from(byte));
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64, WalkError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.data.get(self.position) else { return Err(self.error("truncated varint")) };
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    #[inline(always)]
    fn tag(&mut self) -> Result<(u64, u8), WalkError> {
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(self.error("field number 0"));
        }
        Ok((field, (key & 7) as u8))
    }

    #[inline(always)]
    fn bytes(&mut self) -> Result<(&'a [u8], usize), WalkError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.error("length overflows"))?;
        let start = self.position;
        let end = start
            .checked_add(len)
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| self.error("length past the end of the message"))?;
        self.position = end;
        Ok((&self.data[start..end], self.base + start))
    }

    #[inline]
    fn fixed64(&mut self) -> Result<u64, WalkError> {
        let bytes = self.data.get(self.position..self.position + 8).ok_or_else(|| self.error("truncated fixed64"))?;
        self.position += 8;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    fn skip(&mut self, wire_type: u8) -> Result<(), WalkError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed64().map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => {
                if self.position + 4 > self.data.len() {
                    return Err(self.error("truncated fixed32"));
                }
                self.position += 4;
                Ok(())
            }
            _ => Err(self.error("unsupported wire type")),
        }
    }
}

/// Calls `on_series` for every time series of a decompressed `WriteRequest`, in order, and stops
/// at the first error it returns.
///
/// # Errors
///
/// Returns where the body stops being a valid message, or `on_series`' error; series before
/// that were already handed on, so callers decide whether to keep them.
pub fn walk_write_request<'a>(
    body: &'a [u8],
    mut on_series: impl FnMut(&SeriesView<'a, '_>) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    let mut labels: Vec<(&'a [u8], usize)> = Vec::new();
    let mut samples: Vec<(i64, f64)> = Vec::new();
    let mut request = Reader::new(body, 0);
    while !request.is_done() {
        let (field, wire_type) = request.tag()?;
        if field != 1 || wire_type != LEN {
            request.skip(wire_type)?;
            continue;
        }
        let (series_bytes, series_base) = request.bytes()?;
        labels.clear();
        samples.clear();
        let mut histograms = 0;
        // The span of the label fields while they are contiguous; `split` once a label follows
        // another field that followed labels.
        let mut label_span: Option<(usize, usize)> = None;
        let (mut labels_ended, mut split) = (false, false);
        let mut series = Reader::new(series_bytes, series_base);
        while !series.is_done() {
            let field_start = series.position;
            let (field, wire_type) = series.tag()?;
            if (field, wire_type) != (1, LEN) && label_span.is_some() {
                labels_ended = true;
            }
            match (field, wire_type) {
                (1, LEN) => {
                    labels.push(series.bytes()?);
                    split |= labels_ended;
                    // The label fields that follow (key byte 0x0a), without the general dispatch.
                    while series.data.get(series.position) == Some(&LABEL_KEY) {
                        series.position += 1;
                        labels.push(series.bytes()?);
                    }
                    let start = label_span.map_or(field_start, |(start, _)| start);
                    label_span = Some((start, series.position));
                }
                (2, LEN) => {
                    let (sample_bytes, sample_base) = series.bytes()?;
                    let mut sample = Reader::new(sample_bytes, sample_base);
                    let (mut value, mut timestamp) = (0.0, 0i64);
                    while !sample.is_done() {
                        match sample.tag()? {
                            (1, FIXED64) => value = f64::from_bits(sample.fixed64()?),
                            (2, VARINT) => timestamp = sample.varint()? as i64,
                            (_, wire_type) => sample.skip(wire_type)?,
                        }
                    }
                    samples.push((timestamp, value));
                }
                (4, LEN) => {
                    series.skip(LEN)?;
                    histograms += 1;
                }
                (_, wire_type) => series.skip(wire_type)?,
            }
        }
        let label_bytes = match label_span {
            Some((start, end)) if !split => Some(&series_bytes[start..end]),
            _ => None,
        };
        on_series(&SeriesView { label_fields: &labels, label_bytes, samples: &samples, histograms })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::prompb::{Label, Sample, TimeSeries, WriteRequest};

    type Owned = Vec<(Vec<(Vec<u8>, Vec<u8>)>, Vec<(i64, u64)>)>;

    fn walk(body: &[u8]) -> Result<Owned, WalkError> {
        let mut out = Vec::new();
        let mut pairs = Vec::new();
        walk_write_request(body, |series| {
            series.decode_labels(&mut pairs)?;
            let labels = pairs.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            let samples = series.samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
            out.push((labels, samples));
            Ok(())
        })?;
        Ok(out)
    }

    fn via_prost(request: &WriteRequest) -> Owned {
        request
            .timeseries
            .iter()
            .map(|s| {
                (
                    s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect(),
                    s.samples.iter().map(|x| (x.timestamp, x.value.to_bits())).collect(),
                )
            })
            .collect()
    }

    proptest! {
        #[test]
        fn walker_agrees_with_prost(
            series in proptest::collection::vec(
                (
                    proptest::collection::vec(("[a-z_]{0,6}", "\\PC{0,6}"), 0..5),
                    proptest::collection::vec((any::<i64>(), any::<f64>()), 0..4),
                ),
                0..6,
            )
        ) {
            let request = WriteRequest {
                timeseries: series
                    .iter()
                    .map(|(labels, samples)| TimeSeries {
                        labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
                        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
                        ..TimeSeries::default()
                    })
                    .collect(),
                ..WriteRequest::default()
            };
            let body = prost::Message::encode_to_vec(&request);
            // Compare with prost reading the same bytes (proto3 drops fields equal to their
            // default, so -0.0 comes back as 0.0 for both).
            let decoded = <WriteRequest as prost::Message>::decode(body.as_slice()).unwrap();
            prop_assert_eq!(walk(&body).unwrap(), via_prost(&decoded));
        }

        #[test]
        fn walker_never_panics_on_garbage(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let walked = walk(&body);
            let decoded = <WriteRequest as prost::Message>::decode(body.as_slice());
            // Whatever prost accepts, the walker reads the same way.
            if let (Ok(walked), Ok(decoded)) = (&walked, &decoded) {
                prop_assert_eq!(walked, &via_prost(decoded));
            }
        }
    }

    /// Returns the `label_bytes` of every series of `body`.
    fn label_spans(body: &[u8]) -> Vec<Option<Vec<u8>>> {
        let mut spans = Vec::new();
        walk_write_request(body, |series| {
            spans.push(series.label_bytes.map(<[u8]>::to_vec));
            Ok(())
        })
        .unwrap();
        spans
    }

    /// Wraps an encoded `TimeSeries` as a one-series `WriteRequest`.
    fn request_of(series: &[u8]) -> Vec<u8> {
        let mut body = vec![0x0a];
        prost::encoding::encode_varint(series.len() as u64, &mut body);
        body.extend_from_slice(series);
        body
    }

    #[test]
    fn label_bytes_are_the_label_fields_while_they_are_contiguous() {
        let (first, second) = (Label::new("__name__", "up"), Label::new("job", "node"));
        let sample = Sample { value: 1.0, timestamp: 5 };
        let encode = |labels: Vec<Label>, samples: Vec<Sample>| {
            prost::Message::encode_to_vec(&TimeSeries { labels, samples, ..TimeSeries::default() })
        };
        let labels_only = encode(vec![first.clone(), second.clone()], vec![]);

        // Labels first, then samples (how senders write them): the span is the labels' encoding.
        let body = request_of(&encode(vec![first.clone(), second.clone()], vec![sample]));
        assert_eq!(label_spans(&body), vec![Some(labels_only.clone())]);
        // Samples first: the same span.
        let mut series = encode(vec![], vec![sample]);
        series.extend_from_slice(&labels_only);
        assert_eq!(label_spans(&request_of(&series)), vec![Some(labels_only.clone())]);
        // A sample between two labels: no span, though the labels are the same.
        let mut series = encode(vec![first.clone()], vec![]);
        series.extend_from_slice(&encode(vec![], vec![sample]));
        series.extend_from_slice(&encode(vec![second], vec![]));
        assert_eq!(walk(&request_of(&series)).unwrap()[0].0.len(), 2);
        assert_eq!(label_spans(&request_of(&series)), vec![None]);
        // No labels: no span.
        assert_eq!(label_spans(&request_of(&encode(vec![], vec![]))), vec![None]);
    }

    #[test]
    fn long_labels_take_multi_byte_lengths() {
        let long = "v".repeat(300);
        let labels = vec![Label::new("a", &long), Label::new("b", "x"), Label::new(&long, "y")];
        let series = |samples| TimeSeries { labels: labels.clone(), samples, ..TimeSeries::default() };
        let request = WriteRequest {
            timeseries: vec![series(vec![Sample { value: 2.5, timestamp: -1 }])],
            ..WriteRequest::default()
        };
        let body = prost::Message::encode_to_vec(&request);
        assert_eq!(walk(&body).unwrap(), via_prost(&request));
        assert_eq!(label_spans(&body), vec![Some(prost::Message::encode_to_vec(&series(vec![])))]);
    }

    #[test]
    fn truncated_body_names_the_offset() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries { labels: vec![Label::new("__name__", "up")], ..TimeSeries::default() }],
            ..WriteRequest::default()
        };
        let body = prost::Message::encode_to_vec(&request);
        let error = walk(&body[..body.len() - 2]).unwrap_err();
        assert_eq!(error.message, "length past the end of the message");
    }
}
