//! Folders, as Grafana's folder API knows them: a uid, a title and a version, numbered from the
//! same id sequence as dashboards. All of them are kept in one file, `<dir>/.folders.json`
//! (`docs/format/dashboards.md`), rewritten whole through a fsynced temporary file and a rename
//! on every change: folders are few and change rarely.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::disk::{sync_dir, write_atomic};
use crate::error::{Error, Result};

/// The file holding every folder, beside the dashboards' directories (whose names never start
/// with a dot).
pub(super) const FOLDERS_FILE: &str = ".folders.json";

/// The format version written in the file; readers refuse newer ones.
const FORMAT_VERSION: u32 = 1;

/// One folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderRecord {
    /// Grafana's numeric id (shared with dashboards' ids).
    pub id: i64,
    /// The uid, as a dashboard's.
    pub uid: String,
    /// The title, unique among folders (case-insensitive).
    pub title: String,
    /// The version, from 1, incremented by each update.
    pub version: i64,
    /// When it was created.
    pub created: Timestamp,
    /// When it was last changed.
    pub updated: Timestamp,
}

impl FolderRecord {
    /// Returns the folder's URL path, `/dashboards/f/<uid>/<slug>`.
    pub fn url(&self) -> String {
        format!("/dashboards/f/{}/{}", self.uid, super::slugify(&self.title))
    }
}

#[derive(Serialize, Deserialize)]
struct FoldersFile {
    format: u32,
    folders: Vec<FolderRecord>,
}

/// Reads the folders of the store in `dir`; none when the file does not exist.
pub(super) fn load(dir: &Path) -> Result<Vec<FolderRecord>> {
    let path = dir.join(FOLDERS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::io(format!("reading {}", path.display()), source)),
    };
    let file: FoldersFile = serde_json::from_slice(&bytes)
        .map_err(|error| Error::Corrupt { path: path.clone(), message: error.to_string() })?;
    if file.format > FORMAT_VERSION {
        return Err(Error::Corrupt {
            path,
            message: format!("format {} is newer than this program's {FORMAT_VERSION}", file.format),
        });
    }
    Ok(file.folders)
}

/// Replaces the folders file with `folders`.
pub(super) fn write<'a>(dir: &Path, folders: impl Iterator<Item = &'a FolderRecord>) -> Result<()> {
    let file = FoldersFile { format: FORMAT_VERSION, folders: folders.cloned().collect() };
    let bytes = serde_json::to_vec_pretty(&file).map_err(|error| Error::BadRequest(error.to_string()))?;
    write_atomic(&dir.join(FOLDERS_FILE), &bytes)?;
    sync_dir(dir)
}
