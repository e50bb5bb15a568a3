//! What goes into WAL records: series definitions, samples, tombstones and head chunks, and the
//! optional snappy compression of their payloads.
//!
//! Never deals with files or framing; see segment.rs and docs/format/wal.md. Writers always
//! produce the current encodings (dense samples, snappy when it pays); readers accept every
//! encoding ever written, so old logs replay.

use std::cell::RefCell;

use panoptes_model::{Label, Labels, STALE_NAN_BITS};

use super::segment::FrameBuffer;
use crate::chunkenc::Encoding;
use crate::encoding::{Cursor, put_str, put_uvarint, put_varint};

/// Series ids as the head assigns them; the WAL refers to series by id after defining them.
pub type SeriesId = u64;

/// Record types: the low bits of a frame's type byte.
pub(crate) const TYPE_SERIES: u8 = 1;
/// Samples with raw `f64` values, written before the dense encoding; still read.
const TYPE_SAMPLES_V1: u8 = 2;
const TYPE_TOMBSTONES: u8 = 3;
/// Samples in columns: id deltas, time deltas, compact values.
const TYPE_SAMPLES_DENSE: u8 = 4;
/// Whole chunks of series, as the head holds them: written only into the checkpoint a clean
/// shutdown leaves (`Db::close`), where they take a third of the space of samples records.
const TYPE_CHUNKS: u8 = 5;

/// Type-byte flag: the payload is one raw snappy block of the record's payload.
const FLAG_SNAPPY: u8 = 0x80;

/// Payloads shorter than this are never compressed: snappy cannot gain enough on them to pay
/// for its time.
const MIN_COMPRESS_BYTES: usize = 64;

/// Buffers larger than this are freed after use instead of kept for the next record: a commit
/// of 5,000 samples needs about 20 KiB, while the series records of a burst of new series take
/// a megabyte or more, which every thread that once wrote one kept for good (6 MB of the
/// 100k-series benchmark's peak, bench/RESULTS.md).
pub(crate) const MAX_RETAINED_SCRATCH_BYTES: usize = 1 << 18;

/// A compressed payload may not claim to expand beyond this; larger claims are corruption
/// (an uncompressed payload is limited to 64 MiB by the framing, this leaves room for series
/// records that compress 16 times).
const MAX_DECOMPRESSED_BYTES: usize = 1 << 30;

/// Returns whether `byte` is a frame type byte some version of Panoptes wrote; the framing uses
/// it to tell frames from garbage when it resynchronises after damage.
pub(crate) fn is_known_type(byte: u8) -> bool {
    (TYPE_SERIES..=TYPE_CHUNKS).contains(&(byte & !FLAG_SNAPPY))
}

/// Returns whether a frame's type byte is a samples record's (either encoding).
pub(crate) fn is_samples_type(byte: u8) -> bool {
    matches!(byte & !FLAG_SNAPPY, TYPE_SAMPLES_V1 | TYPE_SAMPLES_DENSE)
}

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// New series and their ids.
    Series(Vec<(SeriesId, Labels)>),
    /// Samples of series defined earlier.
    Samples(Vec<RefSample>),
    /// Deleted time ranges of series.
    Tombstones(Vec<Tombstone>),
    /// In-order samples of series defined earlier, a chunk at a time; each chunk's samples come
    /// after every sample of the same series in earlier records.
    Chunks(Vec<SeriesChunk>),
}

/// A chunk of a series known by id: XOR, decimal, columnar with its time column inline or
/// head-decimal (docs/format/chunks.md).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChunk {
    /// The series.
    pub id: SeriesId,
    /// How `bytes` are encoded.
    pub encoding: Encoding,
    /// The encoded chunk.
    pub bytes: Vec<u8>,
}

/// A sample of a series known by id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The series.
    pub id: SeriesId,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A deleted, inclusive time range of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    /// The series.
    pub id: SeriesId,
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp.
    pub maxt: i64,
}

/// Scratch space reused by the writers of one thread: the uncompressed payload, its
/// compressed form and snappy's hash table.
struct EncodeScratch {
    raw: Vec<u8>,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
}

thread_local! {
    static SCRATCH: RefCell<EncodeScratch> = RefCell::new(EncodeScratch {
        raw: Vec::new(),
        compressed: Vec::new(),
        snappy: snap::raw::Encoder::new(),
    });
}

/// Encodes a record's payload with `encode` and frames it, snappy-compressed when that makes
/// it smaller.
fn push_payload(buffer: &mut FrameBuffer, kind: u8, encode: impl FnOnce(&mut Vec<u8>)) {
    SCRATCH.with_borrow_mut(|scratch| {
        let EncodeScratch { raw, compressed, snappy } = scratch;
        raw.clear();
        encode(raw);
        let mut is_compressed = false;
        if raw.len() >= MIN_COMPRESS_BYTES {
            compressed.resize(snap::raw::max_compress_len(raw.len()), 0);
            if let Ok(len) = snappy.compress(raw, compressed)
                && len < raw.len()
            {
                buffer.push(kind | FLAG_SNAPPY, |out| out.extend_from_slice(&compressed[..len]));
                is_compressed = true;
            }
        }
        if !is_compressed {
            buffer.push(kind, |out| out.extend_from_slice(raw));
        }
        // A rare huge record (a burst of new series) must not pin its buffers in every thread.
        for scratch in [raw, compressed] {
            if scratch.capacity() > MAX_RETAINED_SCRATCH_BYTES {
                *scratch = Vec::new();
            }
        }
    });
}

/// Frames a series record.
pub(crate) fn push_series(buffer: &mut FrameBuffer, series: &[(SeriesId, &Labels)]) {
    push_payload(buffer, TYPE_SERIES, |out| encode_series(series, out));
}

/// Frames a samples record in the dense encoding.
pub(crate) fn push_samples(buffer: &mut FrameBuffer, samples: &[RefSample]) {
    push_payload(buffer, TYPE_SAMPLES_DENSE, |out| encode_samples_dense(samples, out));
}

/// Frames a tombstones record.
pub(crate) fn push_tombstones(buffer: &mut FrameBuffer, tombstones: &[Tombstone]) {
    push_payload(buffer, TYPE_TOMBSTONES, |out| encode_tombstones(tombstones, out));
}

/// Frames a chunks record; `chunks` are `(series, encoding, bytes)`.
pub(crate) fn push_chunks(buffer: &mut FrameBuffer, chunks: &[(SeriesId, Encoding, &[u8])]) {
    push_payload(buffer, TYPE_CHUNKS, |out| encode_chunks(chunks, out));
}

/// Frames one decoded record again (checkpoints).
pub(crate) fn push_record(buffer: &mut FrameBuffer, record: &Record) {
    match record {
        Record::Series(series) => {
            let refs: Vec<(SeriesId, &Labels)> = series.iter().map(|(id, labels)| (*id, labels)).collect();
            push_series(buffer, &refs);
        }
        Record::Samples(samples) => push_samples(buffer, samples),
        Record::Tombstones(tombstones) => push_tombstones(buffer, tombstones),
        Record::Chunks(chunks) => {
            let refs: Vec<(SeriesId, Encoding, &[u8])> =
                chunks.iter().map(|c| (c.id, c.encoding, c.bytes.as_slice())).collect();
            push_chunks(buffer, &refs);
        }
    }
}

fn encode_series(series: &[(SeriesId, &Labels)], out: &mut Vec<u8>) {
    for (id, labels) in series {
        put_uvarint(out, *id);
        put_uvarint(out, labels.len() as u64);
        for label in labels.iter() {
            put_str(out, &label.name);
            put_str(out, &label.value);
        }
    }
}

/// Encodes samples with raw values, timestamps relative to the first one (type 2). Only tests
/// write it now, to check that old logs still replay.
#[cfg(test)]
fn encode_samples_v1(samples: &[RefSample], out: &mut Vec<u8>) {
    let Some(first) = samples.first() else { return };
    put_uvarint(out, samples.len() as u64);
    put_varint(out, first.t);
    for sample in samples {
        put_uvarint(out, sample.id);
        put_varint(out, sample.t.wrapping_sub(first.t));
        out.extend_from_slice(&sample.v.to_bits().to_le_bytes());
    }
}

/// Encodes samples in columns (type 4): ids, then times, then values. Ids and times are deltas
/// from the previous sample, so a batch of one scrape (ascending ids, one timestamp) costs about
/// two bytes per sample before compression and almost nothing after; values are stored as
/// decimals where that is exact.
fn encode_samples_dense(samples: &[RefSample], out: &mut Vec<u8>) {
    put_uvarint(out, samples.len() as u64);
    let mut previous_id = 0u64;
    for sample in samples {
        put_varint(out, sample.id.wrapping_sub(previous_id) as i64);
        previous_id = sample.id;
    }
    let mut previous_t = 0i64;
    for sample in samples {
        put_varint(out, sample.t.wrapping_sub(previous_t));
        previous_t = sample.t;
    }
    for sample in samples {
        put_value(out, sample.v);
    }
}

fn encode_tombstones(tombstones: &[Tombstone], out: &mut Vec<u8>) {
    for tombstone in tombstones {
        put_uvarint(out, tombstone.id);
        put_varint(out, tombstone.mint);
        put_varint(out, tombstone.maxt);
    }
}

/// Encodes chunks (type 5): per chunk the series id as a delta from the previous chunk's (the
/// first from 0; chunks of one series follow each other, so most deltas are 0 or 1), the
/// encoding byte, the length and the bytes.
fn encode_chunks(chunks: &[(SeriesId, Encoding, &[u8])], out: &mut Vec<u8>) {
    let mut previous_id = 0u64;
    for &(id, encoding, bytes) in chunks {
        put_varint(out, id.wrapping_sub(previous_id) as i64);
        previous_id = id;
        out.push(encoding as u8);
        put_uvarint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
}

/// Returns the encoding a chunks record may hold for `byte`.
fn record_chunk_encoding(byte: u8) -> Option<Encoding> {
    match byte {
        1 => Some(Encoding::Xor),
        2 => Some(Encoding::Decimal),
        3 => Some(Encoding::Columnar),
        4 => Some(Encoding::HeadDecimal),
        _ => None,
    }
}

/// Value heads with these low bits are not decimals: the bits above say what they are.
const VALUE_SPECIAL: u64 = 7;
/// Special value: eight bytes of raw `f64` follow.
const SPECIAL_RAW: u64 = 0;
/// Special value: the staleness marker.
const SPECIAL_STALE: u64 = 1;

/// `10^scale` for the decimal scales of dense values; every one converts exactly to `f64`.
const POWERS_OF_TEN: [f64; 7] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];

/// Integers up to 2^53 are exact in `f64`.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0;

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Appends a value: `zigzag(m) << 3 | scale` when `v` is exactly `m / 10^scale` (integers have
/// scale 0), otherwise a special head, followed by the raw bits unless it is the staleness marker.
fn put_value(out: &mut Vec<u8>, v: f64) {
    let bits = v.to_bits();
    if v.is_finite() {
        // Integers first: counters and most gauges are, and the check is one conversion.
        let integer = v as i64;
        if (integer as f64).to_bits() == bits && integer.unsigned_abs() <= 1 << 53 {
            put_uvarint(out, zigzag(integer) << 3);
            return;
        }
        if v.abs() < MAX_MANTISSA {
            for (scale, power) in POWERS_OF_TEN.iter().enumerate().skip(1) {
                let scaled = v * power;
                if scaled.abs() > MAX_MANTISSA {
                    break;
                }
                // Rounds by adding a half and truncating: one instruction where `f64::round` is
                // a libm call on baseline x86-64. A rare wrong rounding only costs compactness:
                // the check below, done as the reader computes, decides (and refuses -0.0).
                let mantissa = (scaled + 0.5f64.copysign(scaled)) as i64;
                if (mantissa as f64 / power).to_bits() == bits {
                    put_uvarint(out, (zigzag(mantissa) << 3) | scale as u64);
                    return;
                }
            }
        }
    } else if bits == STALE_NAN_BITS {
        put_uvarint(out, (SPECIAL_STALE << 3) | VALUE_SPECIAL);
        return;
    }
    put_uvarint(out, (SPECIAL_RAW << 3) | VALUE_SPECIAL);
    out.extend_from_slice(&bits.to_le_bytes());
}

fn read_value(cursor: &mut Cursor<'_>) -> Option<f64> {
    let head = cursor.uvarint()?;
    let kind = head & 7;
    if kind == VALUE_SPECIAL {
        return match head >> 3 {
            SPECIAL_RAW => Some(f64::from_bits(cursor.u64_le()?)),
            SPECIAL_STALE => Some(f64::from_bits(STALE_NAN_BITS)),
            _ => None,
        };
    }
    // Dividing integers by 10^0 too keeps this branch-free: scales vary from series to series,
    // so a branch on them is mispredicted often.
    Some(unzigzag(head >> 3) as f64 / POWERS_OF_TEN[kind as usize])
}

/// Decodes record payloads, reusing one buffer for decompression.
#[derive(Default)]
pub(crate) struct RecordDecoder {
    decompressed: Vec<u8>,
    snappy: snap::raw::Decoder,
}

impl RecordDecoder {
    /// Decodes the payload of a frame whose type byte is `kind`; `None` when it is malformed.
    pub(crate) fn decode(&mut self, kind: u8, payload: &[u8]) -> Option<Record> {
        if kind & FLAG_SNAPPY == 0 {
            return decode_payload(kind, payload);
        }
        let len = snap::raw::decompress_len(payload).ok()?;
        if len > MAX_DECOMPRESSED_BYTES {
            return None;
        }
        self.decompressed.resize(len, 0);
        let written = self.snappy.decompress(payload, &mut self.decompressed).ok()?;
        decode_payload(kind & !FLAG_SNAPPY, &self.decompressed[..written])
    }
}

fn decode_payload(kind: u8, payload: &[u8]) -> Option<Record> {
    let mut cursor = Cursor::new(payload);
    match kind {
        TYPE_SERIES => {
            let mut series = Vec::new();
            while !cursor.is_empty() {
                let id = cursor.uvarint()?;
                let count = cursor.uvarint()?;
                let mut labels = Vec::with_capacity(usize::try_from(count.min(256)).ok()?);
                for _ in 0..count {
                    let name = cursor.str()?;
                    let value = cursor.str()?;
                    labels.push(Label::new(name, value));
                }
                series.push((id, Labels::from_vec(labels)));
            }
            Some(Record::Series(series))
        }
        TYPE_SAMPLES_V1 => {
            if cursor.is_empty() {
                return Some(Record::Samples(Vec::new()));
            }
            let count = cursor.uvarint()?;
            let base = cursor.varint()?;
            let mut samples = Vec::with_capacity(usize::try_from(count.min(1 << 20)).ok()?);
            for _ in 0..count {
                let id = cursor.uvarint()?;
                let t = base.wrapping_add(cursor.varint()?);
                let v = f64::from_bits(cursor.u64_le()?);
                samples.push(RefSample { id, t, v });
            }
            cursor.is_empty().then_some(Record::Samples(samples))
        }
        TYPE_SAMPLES_DENSE => {
            let count = usize::try_from(cursor.uvarint()?).ok()?;
            // Every sample takes at least three bytes: refuse counts the payload cannot hold
            // before allocating for them.
            if count > payload.len() / 3 {
                return None;
            }
            let mut samples = Vec::with_capacity(count);
            let mut id = 0u64;
            for _ in 0..count {
                id = id.wrapping_add(cursor.varint()? as u64);
                samples.push(RefSample { id, t: 0, v: 0.0 });
            }
            let mut t = 0i64;
            for sample in &mut samples {
                t = t.wrapping_add(cursor.varint()?);
                sample.t = t;
            }
            for sample in &mut samples {
                sample.v = read_value(&mut cursor)?;
            }
            cursor.is_empty().then_some(Record::Samples(samples))
        }
        TYPE_TOMBSTONES => {
            let mut tombstones = Vec::new();
            while !cursor.is_empty() {
                tombstones.push(Tombstone { id: cursor.uvarint()?, mint: cursor.varint()?, maxt: cursor.varint()? });
            }
            Some(Record::Tombstones(tombstones))
        }
        TYPE_CHUNKS => {
            let mut chunks = Vec::new();
            let mut id = 0u64;
            while !cursor.is_empty() {
                id = id.wrapping_add(cursor.varint()? as u64);
                let encoding = record_chunk_encoding(cursor.u8()?)?;
                let len = usize::try_from(cursor.uvarint()?).ok()?;
                let bytes = cursor.bytes(len)?;
                // A columnar chunk must hold its time column: there is no owner to share.
                if encoding == Encoding::Columnar && crate::chunkenc::columnar_time_owner(bytes).is_some() {
                    return None;
                }
                chunks.push(SeriesChunk { id, encoding, bytes: bytes.to_vec() });
            }
            Some(Record::Chunks(chunks))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Frames `record` as the writers do and decodes the frame's type and payload again.
    fn round_trip(record: &Record) -> Option<Record> {
        let mut buffer = FrameBuffer::default();
        push_record(&mut buffer, record);
        let (kind, payload) = buffer.frames().next().expect("one frame");
        RecordDecoder::default().decode(kind, payload)
    }

    fn bits(record: Option<Record>) -> Vec<(u64, i64, u64)> {
        let Some(Record::Samples(samples)) = record else { panic!("not samples: {record:?}") };
        samples.iter().map(|s| (s.id, s.t, s.v.to_bits())).collect()
    }

    #[test]
    fn records_round_trip() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let series = Record::Series(vec![(7, labels)]);
        assert_eq!(round_trip(&series), Some(series));
        let samples =
            Record::Samples(vec![RefSample { id: 7, t: 1000, v: 1.5 }, RefSample { id: 9, t: 900, v: f64::INFINITY }]);
        assert_eq!(round_trip(&samples), Some(samples));
        let tombstones = Record::Tombstones(vec![Tombstone { id: 1, mint: -5, maxt: 10 }]);
        assert_eq!(round_trip(&tombstones), Some(tombstones));
        let chunks = Record::Chunks(vec![
            SeriesChunk { id: 9, encoding: Encoding::Xor, bytes: vec![0, 1, 2, 3] },
            SeriesChunk { id: 9, encoding: Encoding::HeadDecimal, bytes: vec![7; 100] },
            SeriesChunk { id: 4, encoding: Encoding::Decimal, bytes: Vec::new() },
            SeriesChunk { id: 5, encoding: Encoding::Columnar, bytes: vec![0, 1, 0, 9, 9] },
        ]);
        assert_eq!(round_trip(&chunks), Some(chunks));
        // A columnar chunk sharing another's time column cannot decode alone: refused.
        let shared =
            Record::Chunks(vec![SeriesChunk { id: 5, encoding: Encoding::Columnar, bytes: vec![0, 1, 1, 0, 9] }]);
        assert_eq!(round_trip(&shared), None);
        assert_eq!(round_trip(&Record::Samples(Vec::new())), Some(Record::Samples(Vec::new())));
    }

    #[test]
    fn values_keep_their_exact_bits() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            57.23,
            -0.001,
            0.1 + 0.2,
            123_456.789_012,
            1e-7,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            -9_007_199_254_740_992.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::from_bits(STALE_NAN_BITS),
            f64::from_bits(0x7ff8_0000_0000_0001),
        ];
        let samples: Vec<RefSample> =
            values.iter().enumerate().map(|(i, &v)| RefSample { id: i as u64, t: i as i64, v }).collect();
        let want: Vec<(u64, i64, u64)> = samples.iter().map(|s| (s.id, s.t, s.v.to_bits())).collect();
        assert_eq!(bits(round_trip(&Record::Samples(samples))), want);
    }

    #[test]
    fn dense_values_take_few_bytes() {
        let check = |v: f64, want: usize| {
            let mut out = Vec::new();
            put_value(&mut out, v);
            assert_eq!(out.len(), want, "{v}");
        };
        check(0.0, 1);
        check(3.0, 1);
        check(57.23, 3);
        check(f64::from_bits(STALE_NAN_BITS), 1);
        check(-0.0, 9);
        check(0.1 + 0.2, 9);
    }

    #[test]
    fn scrape_batches_compress_to_a_few_bytes_per_sample() {
        // 5,000 series of one scrape: ascending ids, one timestamp, integer counters.
        let samples: Vec<RefSample> = (0..5_000u64)
            .map(|i| RefSample { id: 1000 + i, t: 1_700_000_000_123, v: (i * 7919 % 100_000) as f64 })
            .collect();
        let mut buffer = FrameBuffer::default();
        push_samples(&mut buffer, &samples);
        let bytes_per_sample = buffer.as_bytes().len() as f64 / samples.len() as f64;
        assert!(bytes_per_sample < 3.5, "{bytes_per_sample} bytes per sample");
        assert_eq!(buffer.frames().next().map(|(kind, _)| kind), Some(TYPE_SAMPLES_DENSE | FLAG_SNAPPY));
    }

    #[test]
    fn records_of_the_first_format_still_decode() {
        // Bytes as the first release wrote them: type 2, count 2, base 1000, then (id, Δt, f64).
        let samples = vec![RefSample { id: 7, t: 1000, v: 1.5 }, RefSample { id: 9, t: 900, v: f64::INFINITY }];
        let mut payload = Vec::new();
        encode_samples_v1(&samples, &mut payload);
        assert_eq!(payload[..4], [2, 0xd0, 0x0f, 7]);
        let mut decoder = RecordDecoder::default();
        assert_eq!(decoder.decode(TYPE_SAMPLES_V1, &payload), Some(Record::Samples(samples)));
        assert_eq!(decoder.decode(TYPE_SAMPLES_V1, &payload[..payload.len() - 1]), None);
        assert_eq!(decoder.decode(TYPE_SAMPLES_V1, &[]), Some(Record::Samples(Vec::new())));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let mut decoder = RecordDecoder::default();
        assert_eq!(decoder.decode(42, &[]), None);
        // A dense record claiming more samples than its bytes can hold.
        assert_eq!(decoder.decode(TYPE_SAMPLES_DENSE, &[0xff, 0xff, 0x03, 0, 0, 0]), None);
        // Unknown special value.
        assert_eq!(decoder.decode(TYPE_SAMPLES_DENSE, &[1, 2, 2, (5 << 3) | 7]), None);
        // Snappy flag on bytes that are not snappy.
        assert_eq!(decoder.decode(TYPE_SAMPLES_DENSE | FLAG_SNAPPY, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), None);
        let mut payload = Vec::new();
        encode_samples_dense(&[RefSample { id: 1, t: 2, v: 3.25 }], &mut payload);
        assert!(decoder.decode(TYPE_SAMPLES_DENSE, &payload).is_some());
        assert_eq!(decoder.decode(TYPE_SAMPLES_DENSE, &payload[..payload.len() - 1]), None);
        payload.push(0);
        assert_eq!(decoder.decode(TYPE_SAMPLES_DENSE, &payload), None, "trailing bytes");
    }

    proptest! {
        #[test]
        fn dense_samples_round_trip(
            raw in proptest::collection::vec((any::<u64>(), any::<i64>(), any::<u64>(), 0u8..4), 0..200),
        ) {
            let samples: Vec<RefSample> = raw
                .iter()
                .map(|&(id, t, bits, shape)| {
                    let v = match shape {
                        0 => f64::from_bits(bits),
                        1 => (bits % 1_000_000) as f64,
                        2 => (bits % 100_000) as f64 / 100.0,
                        _ => -((bits % 1_000_000_007) as f64) / 1e6,
                    };
                    RefSample { id, t, v }
                })
                .collect();
            let want: Vec<(u64, i64, u64)> = samples.iter().map(|s| (s.id, s.t, s.v.to_bits())).collect();
            prop_assert_eq!(bits(round_trip(&Record::Samples(samples))), want);
        }

        #[test]
        fn decoder_never_panics(kind in any::<u8>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = RecordDecoder::default().decode(kind, &payload);
        }
    }
}
