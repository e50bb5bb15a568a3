//! Writes blocks from samples that never went through the head, for offline tools such as
//! `panoptes tsdb import`. Owns no parsing and no policy about time ranges: the caller hands
//! over series in label order and says where the block goes.
//!
//! A block is built in `<parent>/<id>.tmp` and renamed to `<parent>/<id>` when complete, as
//! the head's blocks are; a data directory opened by [`crate::Db`] removes `*.tmp` leftovers.

use std::path::{Path, PathBuf};

use panoptes_model::{Labels, Sample};
use panoptes_storage::SampleIterator;

use crate::block::meta::Compaction;
use crate::block::{BlockWriter, new_block_id};
use crate::error::Result;

/// What a finished block holds, for a tool's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSummary {
    /// The block's id (its directory name).
    pub id: String,
    /// The block's directory.
    pub dir: PathBuf,
    /// The oldest sample's timestamp in milliseconds.
    pub min_time: i64,
    /// One more than the newest sample's timestamp, as block ranges are half-open.
    pub max_time: i64,
    /// Samples written.
    pub num_samples: u64,
    /// Series written.
    pub num_series: u64,
    /// Chunks written.
    pub num_chunks: u64,
    /// Bytes of the block's files.
    pub size_bytes: u64,
}

/// Builds one level-1 block from series added in label order.
pub struct BlockBuilder {
    writer: BlockWriter,
    parent: PathBuf,
    id: String,
    min_time: i64,
    max_time: i64,
}

impl std::fmt::Debug for BlockBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockBuilder").field("parent", &self.parent).field("id", &self.id).finish_non_exhaustive()
    }
}

impl BlockBuilder {
    /// Starts a block with a new id below `parent`, which must exist.
    ///
    /// # Errors
    ///
    /// Returns an I/O error naming the path when the block's files cannot be created.
    pub fn create(parent: &Path) -> Result<Self> {
        let id = new_block_id();
        let writer = BlockWriter::create(parent, &id)?;
        Ok(Self { writer, parent: parent.to_owned(), id, min_time: i64::MAX, max_time: i64::MIN })
    }

    /// Adds a series' samples, which must be in increasing time order; an empty slice adds
    /// nothing.
    ///
    /// # Errors
    ///
    /// Returns an I/O error naming the path when writing the chunk file fails.
    ///
    /// # Panics
    ///
    /// Panics in debug builds when series are not added in label order or samples are not in
    /// increasing time order.
    pub fn add_series(&mut self, labels: &Labels, samples: &[Sample]) -> Result<()> {
        debug_assert!(samples.windows(2).all(|pair| pair[0].t < pair[1].t), "samples out of order");
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            return Ok(());
        };
        self.min_time = self.min_time.min(first.t);
        self.max_time = self.max_time.max(last.t);
        self.writer.add_series(labels, &mut SliceSamples { samples, position: 0 })?;
        Ok(())
    }

    /// Writes the index and meta and moves the block into place; returns `None` (and leaves
    /// nothing behind) when no sample was added.
    ///
    /// # Errors
    ///
    /// Returns an I/O error naming the path when writing, syncing or renaming fails.
    pub fn finish(self) -> Result<Option<BlockSummary>> {
        if self.writer.is_empty() {
            self.writer.abort();
            return Ok(None);
        }
        let compaction = Compaction { level: 1, sources: vec![self.id.clone()] };
        let meta = self.writer.finish(self.min_time, self.max_time + 1, compaction)?;
        let dir = self.parent.join(&self.id);
        Ok(Some(BlockSummary {
            size_bytes: crate::wal::directory_size(&dir),
            id: self.id,
            dir,
            min_time: meta.min_time,
            max_time: meta.max_time,
            num_samples: meta.stats.num_samples,
            num_series: meta.stats.num_series,
            num_chunks: meta.stats.num_chunks,
        }))
    }

    /// Removes the unfinished block.
    pub fn abort(self) {
        self.writer.abort();
    }
}

/// Syncs a directory so that blocks renamed into it survive a power loss.
///
/// # Errors
///
/// Returns an I/O error naming the directory.
pub fn sync_dir(dir: &Path) -> Result<()> {
    crate::fsutil::sync_dir(dir)
}

/// Iterates a slice of samples without copying it.
struct SliceSamples<'a> {
    samples: &'a [Sample],
    position: usize,
}

impl SampleIterator for SliceSamples<'_> {
    fn next(&mut self) -> Option<Sample> {
        let sample = self.samples.get(self.position).copied();
        self.position += usize::from(sample.is_some());
        sample
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        let from = self.position.saturating_sub(1);
        self.position = from + self.samples[from..].partition_point(|sample| sample.t < t);
        self.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, DbOptions};
    use panoptes_model::{MatchOp, Matcher};
    use panoptes_storage::{Storage, collect_samples};

    #[test]
    fn built_blocks_are_read_by_a_db_and_empty_ones_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = BlockBuilder::create(dir.path()).unwrap();
        let a = Labels::from_pairs([("__name__", "m"), ("i", "a")]);
        let b = Labels::from_pairs([("__name__", "m"), ("i", "b")]);
        let samples: Vec<Sample> = (0..500).map(|i| Sample::new(1_000 + i * 15_000, i as f64)).collect();
        builder.add_series(&a, &samples).unwrap();
        builder.add_series(&b, &samples[10..12]).unwrap();
        let summary = builder.finish().unwrap().expect("a block");
        assert_eq!((summary.min_time, summary.max_time), (1_000, 1_000 + 499 * 15_000 + 1));
        assert_eq!((summary.num_series, summary.num_samples, summary.num_chunks), (2, 502, 4));
        assert!(summary.size_bytes > 0 && summary.dir.join("meta.json").exists());

        let empty = BlockBuilder::create(dir.path()).unwrap();
        assert_eq!(empty.finish().unwrap(), None);
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(entries, vec![std::ffi::OsString::from(&summary.id)]);

        let db = Db::open_read_only(dir.path(), DbOptions::default()).unwrap();
        let querier = db.querier(0, i64::MAX).unwrap();
        let matcher = Matcher::new(MatchOp::Equal, "i", "b").unwrap();
        let mut found = Vec::new();
        for series in querier.select(&[matcher]).unwrap() {
            let mut series = series.unwrap();
            found.push((series.labels.clone(), collect_samples(series.samples.as_mut())));
        }
        assert_eq!(found, vec![(b, samples[10..12].to_vec())]);
    }

    #[test]
    fn slice_samples_seek_like_other_iterators() {
        let samples: Vec<Sample> = (0..10).map(|i| Sample::new(i * 10, i as f64)).collect();
        let mut iterator = SliceSamples { samples: &samples, position: 0 };
        assert_eq!(iterator.seek(35), Some(samples[4]));
        assert_eq!(iterator.seek(35), Some(samples[4]), "the last sample returned qualifies again");
        assert_eq!(iterator.next(), Some(samples[5]));
        assert_eq!(iterator.seek(1_000), None);
        assert_eq!(iterator.next(), None);
    }
}
