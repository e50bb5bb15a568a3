//! Rebuilding the head from WAL records.

use std::collections::HashMap;
use std::sync::Arc;

use panoptes_model::Sample;

use super::append::apply_sample;
use super::{Head, HeadSeries};
use crate::chunkenc::decode_chunk;
use crate::wal::{Record, SeriesId};

/// Applies WAL records to a head in log order.
pub(crate) struct Replayer<'a> {
    head: &'a Head,
    /// WAL ids that name a series the head knows under another id (a series recreated after
    /// truncation, logged again).
    aliases: HashMap<SeriesId, Arc<HeadSeries>>,
}

impl<'a> Replayer<'a> {
    pub(crate) fn new(head: &'a Head) -> Self {
        Self { head, aliases: HashMap::new() }
    }

    fn series(&self, id: SeriesId) -> Option<Arc<HeadSeries>> {
        self.head.series_by_id(id).or_else(|| self.aliases.get(&id).cloned())
    }

    pub(crate) fn apply(&mut self, record: Record) {
        match record {
            Record::Series(series) => {
                for (id, labels) in series {
                    let (existing, _) = self.head.get_or_create(&labels, Some(id));
                    existing.data.lock().is_logged = true;
                    if existing.id != id {
                        self.aliases.insert(id, existing);
                    }
                }
            }
            Record::Samples(samples) => {
                for sample in samples {
                    match self.series(sample.id) {
                        Some(series) => {
                            if apply_sample(self.head, &series, Sample::new(sample.t, sample.v), true) {
                                self.head.observe_time_range(sample.t, sample.t);
                            }
                        }
                        None => {
                            self.head.metrics.wal_unknown_series_samples.inc();
                        }
                    }
                }
            }
            Record::Chunks(chunks) => {
                for chunk in chunks {
                    // A chunk that does not decode is dropped whole, as a damaged record is.
                    let samples = decode_chunk(chunk.encoding, &chunk.bytes).unwrap_or_default();
                    let Some(series) = self.series(chunk.id) else {
                        self.head.metrics.wal_unknown_series_samples.inc_by(samples.len() as u64);
                        continue;
                    };
                    for sample in samples {
                        if apply_sample(self.head, &series, sample, true) {
                            self.head.observe_time_range(sample.t, sample.t);
                        }
                    }
                }
            }
            Record::Tombstones(tombstones) => {
                for tombstone in tombstones {
                    if let Some(series) = self.series(tombstone.id) {
                        series.data.lock().delete_range(
                            tombstone.mint,
                            tombstone.maxt,
                            self.head.options.block_range_ms,
                            &self.head.chunk_store,
                        );
                    }
                }
            }
        }
    }
}
