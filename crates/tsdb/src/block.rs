//! Persistent blocks: immutable directories holding the samples of one time range.
//!
//! A block is `<data>/<id>/` with `meta.json`, `index` (symbols, series, postings) and `chunks`
//! (compressed chunks), plus an optional `tombstones` file. Blocks are written once by
//! [`writer::BlockWriter`] into a temporary directory that is renamed into place, and read through
//! memory maps by [`reader::Block`]. Formats: docs/format/index.md, chunks.md, tombstones.md.

pub(crate) mod meta;
pub(crate) mod reader;
pub(crate) mod tombstones;
pub(crate) mod writer;

pub(crate) use reader::Block;
pub(crate) use writer::BlockWriter;

/// Magic number at the start of an index file.
pub(crate) const INDEX_MAGIC: &[u8; 4] = b"PNIX";
/// Magic number at the start of a chunk file.
pub(crate) const CHUNKS_MAGIC: &[u8; 4] = b"PNCH";
/// Format version of chunk and tombstone files (the only one so far).
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Format version of the index files written now: 2 stores each series' label names as one
/// reference to a list of names shared by the series with the same names, and chunk start
/// times relative to the block's; version 1 (still read) stored every name and absolute times.
pub(crate) const INDEX_VERSION: u8 = 2;
/// Size of an index's table of contents: six u64 offsets (five in version 1) and a CRC-32.
pub(crate) const fn index_toc_bytes(version: u8) -> usize {
    if version == 1 { 5 * 8 + 4 } else { 6 * 8 + 4 }
}

/// Returns a new block id: 48 bits of milliseconds and 80 random bits in Crockford base32,
/// like a ULID, so ids sort by creation time.
pub(crate) fn new_block_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = panoptes_model::time::now_millis() as u128;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(
        &std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_le_bytes(),
    );
    hasher.update(&std::process::id().to_le_bytes());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    hasher.update(&COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_le_bytes());
    let random = hasher.digest128() & ((1u128 << 80) - 1);
    let value = (millis << 80) | random;
    (0..26).rev().map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char).collect()
}
