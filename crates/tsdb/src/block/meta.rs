//! `meta.json`: a block's time range, statistics and compaction lineage.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a block holds; `max_time` is exclusive, as in Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockMeta {
    pub(crate) ulid: String,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) stats: BlockStats,
    pub(crate) compaction: Compaction,
    pub(crate) version: u32,
}

/// Counts of what a block holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockStats {
    pub(crate) num_samples: u64,
    pub(crate) num_series: u64,
    pub(crate) num_chunks: u64,
    #[serde(default)]
    pub(crate) num_tombstones: u64,
}

/// How a block came to be.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Compaction {
    /// 1 for a block cut from the head, one more for each merge.
    pub(crate) level: u32,
    /// The ids of the level-1 blocks whose data this block holds.
    pub(crate) sources: Vec<String>,
}

pub(crate) const META_FILE: &str = "meta.json";

impl BlockMeta {
    pub(crate) fn read(dir: &Path) -> Result<BlockMeta> {
        let path = dir.join(META_FILE);
        let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corruption {
            what: "block meta",
            path,
            offset: 0,
            reason: e.to_string(),
        })
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(META_FILE);
        let bytes = serde_json::to_vec_pretty(self).expect("meta serializes");
        write_synced(&path, &bytes)
    }
}

/// Writes a file and syncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(Error::io("create", path))?;
    file.write_all(bytes).map_err(Error::io("write", path))?;
    file.sync_all().map_err(Error::io("sync", path))
}
