//! Atomic state files in the data directory (`silences.json`, `nflog.json`, `alerts.json`): a
//! whole file is written to a temporary name, synced, renamed over the old one and the
//! directory synced, so a crash leaves either the old or the new file. Format:
//! `docs/format/alerting.md`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The version written in every state file.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// A state file: a version and the entries.
#[derive(Serialize, serde::Deserialize)]
struct StateFile<T> {
    version: u32,
    entries: Vec<T>,
}

/// Writes `entries` to `path` atomically.
pub(crate) fn write_entries<T: Serialize>(path: &Path, entries: &[T]) -> Result<()> {
    let io =
        |what: &'static str| move |source: std::io::Error| Error::Io { what, path: path.display().to_string(), source };
    #[derive(Serialize)]
    struct Borrowed<'a, T> {
        version: u32,
        entries: &'a [T],
    }
    let bytes = serde_json::to_vec(&Borrowed { version: FORMAT_VERSION, entries })
        .map_err(|e| Error::Corrupted { path: path.display().to_string(), message: e.to_string() })?;
    let temporary = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&temporary).map_err(io("cannot create state file"))?;
    file.write_all(&bytes).map_err(io("cannot write state file"))?;
    file.sync_all().map_err(io("cannot sync state file"))?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(io("cannot rename state file"))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(io("cannot sync data directory"))?;
    }
    Ok(())
}

/// Reads the entries of `path`; a missing file holds none.
pub(crate) fn read_entries<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io { what: "cannot read state file", path: path.display().to_string(), source });
        }
    };
    let corrupted = |message: String| Error::Corrupted { path: path.display().to_string(), message };
    let file: StateFile<T> = serde_json::from_slice(&bytes).map_err(|e| corrupted(e.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(corrupted(format!("unsupported version {}", file.version)));
    }
    Ok(file.entries)
}
