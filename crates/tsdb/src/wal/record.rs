//! What goes into WAL records: series definitions, samples and tombstones.
//!
//! Never deals with files or framing; see segment.rs and docs/format/wal.md.

use panoptes_model::{Label, Labels};

use crate::encoding::{Cursor, put_str, put_uvarint, put_varint};

/// Series ids as the head assigns them; the WAL refers to series by id after defining them.
pub type SeriesId = u64;

/// Record type bytes.
pub(crate) const TYPE_SERIES: u8 = 1;
pub(crate) const TYPE_SAMPLES: u8 = 2;
pub(crate) const TYPE_TOMBSTONES: u8 = 3;

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// New series and their ids.
    Series(Vec<(SeriesId, Labels)>),
    /// Samples of series defined earlier.
    Samples(Vec<RefSample>),
    /// Deleted time ranges of series.
    Tombstones(Vec<Tombstone>),
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

/// Encodes a series record's payload.
pub(crate) fn encode_series(series: &[(SeriesId, &Labels)], out: &mut Vec<u8>) {
    for (id, labels) in series {
        put_uvarint(out, *id);
        put_uvarint(out, labels.len() as u64);
        for label in labels.iter() {
            put_str(out, &label.name);
            put_str(out, &label.value);
        }
    }
}

/// Encodes a samples record's payload; timestamps are stored relative to the first one.
pub(crate) fn encode_samples(samples: &[RefSample], out: &mut Vec<u8>) {
    let Some(first) = samples.first() else { return };
    put_uvarint(out, samples.len() as u64);
    put_varint(out, first.t);
    for sample in samples {
        put_uvarint(out, sample.id);
        put_varint(out, sample.t.wrapping_sub(first.t));
        out.extend_from_slice(&sample.v.to_bits().to_le_bytes());
    }
}

/// Encodes a tombstones record's payload.
pub(crate) fn encode_tombstones(tombstones: &[Tombstone], out: &mut Vec<u8>) {
    for tombstone in tombstones {
        put_uvarint(out, tombstone.id);
        put_varint(out, tombstone.mint);
        put_varint(out, tombstone.maxt);
    }
}

/// Decodes a record payload of type `kind`; `None` when it is malformed.
pub(crate) fn decode(kind: u8, payload: &[u8]) -> Option<Record> {
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
        TYPE_SAMPLES => {
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
        TYPE_TOMBSTONES => {
            let mut tombstones = Vec::new();
            while !cursor.is_empty() {
                tombstones.push(Tombstone { id: cursor.uvarint()?, mint: cursor.varint()?, maxt: cursor.varint()? });
            }
            Some(Record::Tombstones(tombstones))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let mut out = Vec::new();
        encode_series(&[(7, &labels)], &mut out);
        assert_eq!(decode(TYPE_SERIES, &out), Some(Record::Series(vec![(7, labels)])));

        let samples = vec![RefSample { id: 7, t: 1000, v: 1.5 }, RefSample { id: 9, t: 900, v: f64::INFINITY }];
        let mut out = Vec::new();
        encode_samples(&samples, &mut out);
        assert_eq!(decode(TYPE_SAMPLES, &out), Some(Record::Samples(samples)));
        assert_eq!(decode(TYPE_SAMPLES, &out[..out.len() - 1]), None);

        let tombstones = vec![Tombstone { id: 1, mint: -5, maxt: 10 }];
        let mut out = Vec::new();
        encode_tombstones(&tombstones, &mut out);
        assert_eq!(decode(TYPE_TOMBSTONES, &out), Some(Record::Tombstones(tombstones)));
        assert_eq!(decode(42, &out), None);
    }
}
