//! Background work on the data directory: loading blocks, cutting the head into blocks,
//! merging blocks, and retention.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tracing::{error, info, warn};

use super::DbInner;
use crate::block::meta::Compaction;
use crate::block::reader::BlockQuerier;
use crate::block::{Block, BlockWriter, new_block_id};
use crate::chunkenc::chunk_from;
use crate::error::{Error, Result};
use crate::head::{ChunkRead, head_series_iterator};
use crate::metrics::TsdbMetrics;
use crate::postings::IdBits;
use crate::wal::{Record, SeriesId};
use panoptes_storage::{Querier, merge_series_sets};

/// Opens every block in `dir`. Leftovers of interrupted writes are removed; a block that does
/// not open is renamed aside with a logged error; a block whose data another block already
/// holds (a compaction interrupted before it removed its sources) is removed.
pub(crate) fn load_blocks(dir: &Path, read_only: bool, metrics: &TsdbMetrics) -> Result<Vec<Arc<Block>>> {
    let mut blocks = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(blocks),
        Err(error) => return Err(Error::io("read data directory", dir)(error)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io("read data directory", dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() || name == "wal" {
            continue;
        }
        if name.ends_with(".tmp") {
            if !read_only {
                warn!(path = %path.display(), "removing unfinished block");
                let _ = std::fs::remove_dir_all(&path);
            }
            continue;
        }
        if !path.join(crate::block::meta::META_FILE).exists() {
            continue;
        }
        match Block::open(&path) {
            Ok(block) => blocks.push(Arc::new(block)),
            Err(error) => {
                error!(block = %path.display(), error = %error, "cannot open block; moving it aside");
                metrics.compactions_failed.inc();
                if !read_only {
                    let _ = std::fs::rename(&path, path.with_extension("corrupt"));
                }
            }
        }
    }
    // Drop blocks whose sources are a subset of another block's sources.
    let sources: Vec<BTreeSet<String>> =
        blocks.iter().map(|b| b.meta.compaction.sources.iter().cloned().collect()).collect();
    let mut keep = vec![true; blocks.len()];
    for i in 0..blocks.len() {
        for j in 0..blocks.len() {
            if i != j && keep[j] && sources[i].is_subset(&sources[j]) && (sources[i] != sources[j] || i > j) {
                keep[i] = false;
                break;
            }
        }
    }
    let mut kept = Vec::new();
    for (block, keep) in blocks.into_iter().zip(keep) {
        if keep {
            kept.push(block);
        } else if !read_only {
            info!(block = %block.dir.display(), "removing block already merged into another");
            let _ = std::fs::remove_dir_all(&block.dir);
        }
    }
    kept.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
    Ok(kept)
}

/// How many series a compaction merges between releases of its sources' mapped pages: a few
/// megabytes of them at most stay resident.
const RELEASE_PAGES_EVERY_SERIES: usize = 4096;

impl DbInner {
    /// Cuts blocks from the head while it spans more than 1.5 block ranges, as Prometheus does,
    /// then truncates the head and checkpoints the WAL.
    pub(crate) fn compact_head(&self) -> Result<()> {
        let range = self.options.block_range_ms();
        while self.head.is_compactable() {
            let Some((min, _)) = self.head.time_range() else { break };
            let start = min.div_euclid(range) * range;
            // After a failure the request stays pending, so commits stop waking the thread and
            // the periodic run retries: a failing compaction does not run back to back.
            self.write_head_block(start, start + range)?;
        }
        // Commits from here on may ask again.
        self.head.compaction_requested.store(false, Ordering::Relaxed);
        Ok(())
    }

    fn write_head_block(&self, start: i64, end: i64) -> Result<()> {
        let started = Instant::now();
        let head = &self.head;
        head.close_range_before(end);
        let series = head.all_series_sorted();
        let id = new_block_id();
        let mut writer = BlockWriter::create(&self.dir, &id)?;
        writer.reserve(series.len(), series.iter().map(|entry| entry.label_count()).sum());
        let mut written_out_of_order: HashMap<SeriesId, Vec<i64>> = HashMap::new();
        for entry in &series {
            {
                let data = entry.data.lock();
                let times: Vec<i64> =
                    data.out_of_order().iter().filter(|s| s.t >= start && s.t < end).map(|s| s.t).collect();
                if !times.is_empty() {
                    written_out_of_order.insert(entry.id, times);
                }
            }
            if let Some(mut samples) = head_series_iterator(head, entry, start, end - 1, ChunkRead::Copy)
                && let Err(error) = writer.add_series(&head.labels_of(entry), samples.as_mut())
            {
                writer.abort();
                return Err(error);
            }
        }
        if writer.is_empty() {
            writer.abort();
        } else {
            let meta = writer.finish(start, end, Compaction { level: 1, sources: vec![id.clone()] })?;
            let block = Arc::new(Block::open(&self.dir.join(&id))?);
            self.insert_block(block);
            info!(block = %id, min_time = start, max_time = end, series = meta.stats.num_series, samples = meta.stats.num_samples, seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "wrote block from head");
        }
        // Queriers opened before the block was published may still read the range from the head.
        head.wait_for_open_readers();
        let removed = head.truncate(end, &written_out_of_order);
        self.metrics.head_compactions.inc();
        self.checkpoint_wal()?;
        info!(removed_series = removed, "head truncated");
        Ok(())
    }

    fn checkpoint_wal(&self) -> Result<()> {
        let Some(wal) = &self.wal else { return Ok(()) };
        let head = &self.head;
        let min_valid = head.min_valid_time.load(Ordering::Relaxed);
        let closed = wal.cut_segment()?;
        head.wait_for_open_appenders();
        // What the checkpoint keeps depends on the series alive now and on their out-of-order
        // samples; both are taken once here instead of looked up in the head's map for every
        // sample (millions per checkpoint; each lookup took a shard lock and counted a reference
        // on a series that appenders were writing: 15 % of server CPU under remote write).
        // Records in the segments being rewritten predate this snapshot, and the batches they
        // hold are applied (the wait above); a series created or an out-of-order sample
        // accepted from now on is logged in later segments.
        let all = head.all_series();
        let mut alive = IdBits::spanning(all.iter().map(|series| series.id));
        let mut out_of_order: HashMap<SeriesId, Vec<i64>> = HashMap::new();
        for series in all {
            alive.insert(series.id);
            let data = series.data.lock();
            if !data.out_of_order().is_empty() {
                out_of_order.insert(series.id, data.out_of_order().iter().map(|s| s.t).collect());
            }
        }
        // Without an out-of-order window, only the segments whose samples have all aged out of
        // the head (and those from before this process) are taken. With no out-of-order sample
        // in the head, not one of the samples of those segments is kept, so their samples
        // records are skipped undecoded.
        let defer_newer = head.options.out_of_order_window_ms == 0;
        let Some((last, older)) = wal.checkpoint_range(closed, min_valid, defer_newer)? else { return Ok(()) };
        let skip_samples = if out_of_order.is_empty() { older } else { BTreeSet::new() };
        wal.checkpoint(last, &skip_samples, |record| match record {
            Record::Series(mut series) => {
                series.retain(|(id, _)| alive.contains(id));
                (!series.is_empty()).then_some(Record::Series(series))
            }
            Record::Samples(mut samples) => {
                // Most samples of the rewritten segments are older than the head: they are
                // dropped on their timestamp, before any lookup.
                samples.retain(|s| {
                    (s.t >= min_valid
                        || (!out_of_order.is_empty()
                            && out_of_order.get(&s.id).is_some_and(|times| times.binary_search(&s.t).is_ok())))
                        && alive.contains(&s.id)
                });
                (!samples.is_empty()).then_some(Record::Samples(samples))
            }
            Record::Tombstones(mut tombstones) => {
                tombstones.retain(|t| alive.contains(&t.id) && t.maxt >= min_valid);
                (!tombstones.is_empty()).then_some(Record::Tombstones(tombstones))
            }
            Record::Chunks(mut chunks) => {
                // Only a shutdown snapshot has chunks, with in-order samples: kept from
                // `min_valid` on like samples, re-encoded in the rare chunk that spans it.
                chunks.retain_mut(|chunk| {
                    if !alive.contains(&chunk.id) {
                        return false;
                    }
                    let bytes = std::borrow::Cow::Borrowed(chunk.bytes.as_slice());
                    match chunk_from(chunk.encoding, bytes, None, min_valid) {
                        Some((_, std::borrow::Cow::Borrowed(_))) => true,
                        Some((encoding, std::borrow::Cow::Owned(bytes))) => {
                            (chunk.encoding, chunk.bytes) = (encoding, bytes);
                            true
                        }
                        None => false,
                    }
                });
                (!chunks.is_empty()).then_some(Record::Chunks(chunks))
            }
        })?;
        self.metrics.checkpoints.inc();
        Ok(())
    }

    fn insert_block(&self, block: Arc<Block>) {
        let mut blocks = self.blocks.write();
        blocks.push(block);
        blocks.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
    }

    /// Returns blocks to merge next: overlapping blocks first, then adjacent blocks that fill
    /// one range of a higher level that the head has moved past.
    fn plan_compaction(&self) -> Vec<Arc<Block>> {
        let blocks = self.blocks.read().clone();
        let mut group: Vec<Arc<Block>> = Vec::new();
        let mut group_max = i64::MIN;
        for block in &blocks {
            if !group.is_empty() && block.meta.min_time < group_max {
                group.push(block.clone());
                group_max = group_max.max(block.meta.max_time);
                continue;
            }
            if group.len() > 1 {
                return group;
            }
            group = vec![block.clone()];
            group_max = block.meta.max_time;
        }
        if group.len() > 1 {
            return group;
        }
        let head_start = self.head.min_valid_time.load(Ordering::Relaxed);
        for range in self.options.compaction_ranges() {
            let mut by_range: Vec<(i64, Vec<Arc<Block>>)> = Vec::new();
            for block in &blocks {
                let start = block.meta.min_time.div_euclid(range) * range;
                if block.meta.max_time > start + range {
                    continue;
                }
                match by_range.last_mut() {
                    Some((s, members)) if *s == start => members.push(block.clone()),
                    _ => by_range.push((start, vec![block.clone()])),
                }
            }
            if let Some((_, members)) =
                by_range.into_iter().find(|(start, members)| members.len() > 1 && start + range <= head_start)
            {
                return members;
            }
        }
        Vec::new()
    }

    pub(crate) fn compact_planned_blocks(&self) -> Result<()> {
        loop {
            // A merge of large blocks takes seconds; a head that became compactable meanwhile
            // is cut first, so that it does not grow by what arrives during several merges.
            if self.head.is_compactable() {
                self.compact_head()?;
            }
            let plan = self.plan_compaction();
            if plan.is_empty() {
                return Ok(());
            }
            self.compact_blocks(&plan)?;
        }
    }

    /// Merges `sources` into one new block (dropping deleted data) and removes them.
    pub(crate) fn compact_blocks(&self, sources: &[Arc<Block>]) -> Result<()> {
        let started = Instant::now();
        let min_time = sources.iter().map(|b| b.meta.min_time).min().unwrap_or(0);
        let max_time = sources.iter().map(|b| b.meta.max_time).max().unwrap_or(0);
        let level = sources.iter().map(|b| b.meta.compaction.level).max().unwrap_or(0) + 1;
        let mut all_sources: Vec<String> = sources.iter().flat_map(|b| b.meta.compaction.sources.clone()).collect();
        all_sources.sort();
        all_sources.dedup();
        let id = new_block_id();
        let mut writer = BlockWriter::create(&self.dir, &id)?;
        // Selections read their series as the merge pulls them (see `BlockQuerier::select`).
        let sets = sources
            .iter()
            .map(|b| BlockQuerier::new(b.clone(), i64::MIN, i64::MAX).select(&[]))
            .collect::<panoptes_storage::Result<Vec<_>>>()?;
        for (index, series) in merge_series_sets(sets).enumerate() {
            let mut series = series?;
            if let Err(error) = writer.add_series(&series.labels, series.samples.as_mut()) {
                writer.abort();
                return Err(error);
            }
            // The sources' pages read so far are not needed again (`Block::release_pages`).
            if index % RELEASE_PAGES_EVERY_SERIES == RELEASE_PAGES_EVERY_SERIES - 1 {
                sources.iter().for_each(|b| b.release_pages());
            }
        }
        let new_block = if writer.is_empty() {
            writer.abort();
            None
        } else {
            writer.finish(min_time, max_time, Compaction { level, sources: all_sources })?;
            Some(Arc::new(Block::open(&self.dir.join(&id))?))
        };
        {
            let mut blocks = self.blocks.write();
            blocks.retain(|b| !sources.iter().any(|s| s.meta.ulid == b.meta.ulid));
            if let Some(block) = new_block {
                blocks.push(block);
            }
            blocks.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
        }
        for source in sources {
            std::fs::remove_dir_all(&source.dir).map_err(Error::io("remove block", &source.dir))?;
        }
        self.metrics.block_compactions.inc();
        info!(block = %id, sources = sources.len(), level, seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "compacted blocks");
        Ok(())
    }

    /// Deletes whole blocks past the retention time, then the oldest ones while the size limit
    /// is exceeded.
    pub(crate) fn apply_retention(&self) -> Result<()> {
        let blocks = self.blocks.read().clone();
        let newest = blocks.iter().map(|b| b.meta.max_time - 1).chain(self.head.time_range().map(|(_, max)| max)).max();
        let Some(newest) = newest else { return Ok(()) };
        let cutoff = newest.saturating_sub(self.options.retention.as_millis() as i64);
        let mut doomed: Vec<Arc<Block>> = blocks.iter().filter(|b| b.meta.max_time <= cutoff).cloned().collect();
        if let Some(limit) = self.options.retention_bytes {
            let wal_bytes = self.wal.as_ref().map_or(0, |w| w.size_bytes());
            let mut total: u64 = wal_bytes + blocks.iter().map(|b| b.size_bytes).sum::<u64>();
            total -= doomed.iter().map(|b| b.size_bytes).sum::<u64>();
            for block in &blocks {
                if total <= limit {
                    break;
                }
                if !doomed.iter().any(|d| d.meta.ulid == block.meta.ulid) {
                    total -= block.size_bytes;
                    doomed.push(block.clone());
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        self.blocks.write().retain(|b| !doomed.iter().any(|d| d.meta.ulid == b.meta.ulid));
        for block in &doomed {
            info!(block = %block.meta.ulid, min_time = block.meta.min_time, max_time = block.meta.max_time, "removing block past retention");
            std::fs::remove_dir_all(&block.dir).map_err(Error::io("remove block", &block.dir))?;
        }
        self.metrics.retention_removed_blocks.inc_by(doomed.len() as u64);
        Ok(())
    }
}
