//! The `tombstones` file: deleted time ranges per series of a block.
//!
//! `magic "PNTS" | version u8 | count uvarint | (series_ref uvarint, mint varint, maxt varint)* |
//! crc32 u32 LE` over everything before it. Written whole to a temporary file and renamed.

use std::collections::HashMap;
use std::path::Path;

use crate::block::meta::write_synced;
use crate::encoding::{Cursor, put_uvarint, put_varint};
use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"PNTS";
pub(crate) const TOMBSTONES_FILE: &str = "tombstones";

/// Deleted intervals by series reference.
pub(crate) type Tombstones = HashMap<u64, Vec<(i64, i64)>>;

pub(crate) fn read(dir: &Path) -> Result<Tombstones> {
    let path = dir.join(TOMBSTONES_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Tombstones::new()),
        Err(error) => return Err(Error::io("read", &path)(error)),
    };
    let corrupt = |reason: &str| Error::Corruption {
        what: "tombstones",
        path: path.clone(),
        offset: 0,
        reason: reason.to_owned(),
    };
    if bytes.len() < 9 || &bytes[..4] != MAGIC {
        return Err(corrupt("bad magic"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(corrupt("checksum mismatch"));
    }
    let mut cursor = Cursor::new(&body[5..]);
    let count = cursor.uvarint().ok_or_else(|| corrupt("truncated"))?;
    let mut tombstones = Tombstones::new();
    for _ in 0..count {
        let (Some(series), Some(mint), Some(maxt)) = (cursor.uvarint(), cursor.varint(), cursor.varint()) else {
            return Err(corrupt("truncated entry"));
        };
        tombstones.entry(series).or_default().push((mint, maxt));
    }
    Ok(tombstones)
}

pub(crate) fn write(dir: &Path, tombstones: &Tombstones) -> Result<()> {
    let mut out = MAGIC.to_vec();
    out.push(crate::block::FORMAT_VERSION);
    let mut entries: Vec<(u64, i64, i64)> =
        tombstones.iter().flat_map(|(series, ranges)| ranges.iter().map(|&(a, b)| (*series, a, b))).collect();
    entries.sort_unstable();
    put_uvarint(&mut out, entries.len() as u64);
    for (series, mint, maxt) in entries {
        put_uvarint(&mut out, series);
        put_varint(&mut out, mint);
        put_varint(&mut out, maxt);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let temporary = dir.join(format!("{TOMBSTONES_FILE}.tmp"));
    write_synced(&temporary, &out)?;
    let path = dir.join(TOMBSTONES_FILE);
    std::fs::rename(&temporary, &path).map_err(Error::io("rename", &path))
}
