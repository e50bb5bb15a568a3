//! Panoptes' metrics storage engine.
//!
//! Samples enter through [`Db`]'s appender, are written to the write-ahead log ([`wal`]) and
//! kept in the in-memory head (`head`) as compressed chunks ([`chunkenc`]). The head is
//! periodically cut into immutable, memory-mapped blocks (`block`) that compaction merges
//! into larger ones and retention deletes. Queries read the head and the blocks through the
//! `panoptes_storage` traits. On-disk formats are documented in `docs/format/`.

pub mod chunkenc;
mod error;

pub use error::{Error, Result};
mod encoding;
mod head;
mod iterator;
mod metrics;
mod postings;
pub mod wal;

pub use metrics::TsdbMetrics;
mod block;
mod db;
mod fsutil;

pub use db::{Db, DbOptions, HeadCardinality};
pub use wal::FsyncPolicy;
pub mod backfill;
pub mod tools;
