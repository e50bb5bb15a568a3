//! The on-disk form of the store (`docs/format/dashboards.md`): a directory per dashboard uid
//! holding one JSON file per version, `v<version, 10 digits>.json`. Files are written to a
//! `.tmp` name, fsynced, renamed and the directory fsynced, so a crash leaves either the old
//! or the new version, never a torn one. Deletion renames the uid's directory to a
//! `.deleted-` name first, so a crash mid-way never resurrects part of a history. Never
//! interprets the dashboard JSON beyond reading it back.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::VersionInfo;
use crate::compat::CompatibilityReport;
use crate::error::{Error, Result};

/// The format version written in every file; readers refuse newer ones.
const FORMAT_VERSION: u32 = 1;

/// Prefix of a directory being deleted.
const DELETED_PREFIX: &str = ".deleted-";

/// One version file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredVersion {
    /// The dashboard's numeric id.
    pub id: i64,
    /// This version's number.
    pub version: i64,
    /// The version it was saved over.
    pub parent_version: i64,
    /// The version it restores, or 0.
    pub restored_from: i64,
    /// When it was saved.
    pub created: Timestamp,
    /// Who saved it.
    pub created_by: String,
    /// The save message.
    pub message: String,
    /// The folder uid at that version.
    pub folder_uid: String,
    /// The dashboard JSON.
    pub dashboard: Value,
    /// Its compatibility report.
    pub compatibility: CompatibilityReport,
}

impl StoredVersion {
    /// Returns the version's metadata.
    pub fn info(&self) -> VersionInfo {
        VersionInfo {
            version: self.version,
            parent_version: self.parent_version,
            restored_from: self.restored_from,
            created: self.created,
            created_by: self.created_by.clone(),
            message: self.message.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct VersionFile {
    format: u32,
    #[serde(flatten)]
    version: StoredVersion,
}

/// A dashboard's history as loaded at open, oldest version first.
pub(super) struct LoadedDashboard {
    pub(super) uid: String,
    pub(super) versions: Vec<StoredVersion>,
}

fn version_file_name(version: i64) -> String {
    format!("v{version:010}.json")
}

/// Writes one version atomically and durably under `<dir>/<uid>/`.
pub(super) fn write_version(dir: &Path, uid: &str, version: &StoredVersion) -> Result<()> {
    let dashboard_dir = dir.join(uid);
    if !dashboard_dir.exists() {
        fs::create_dir_all(&dashboard_dir)
            .map_err(|source| Error::io(format!("creating {}", dashboard_dir.display()), source))?;
        sync_dir(dir)?;
    }
    let file = VersionFile { format: FORMAT_VERSION, version: version.clone() };
    let bytes = serde_json::to_vec(&file).map_err(|error| Error::Corrupt {
        path: dashboard_dir.clone(),
        message: format!("cannot encode version {}: {error}", version.version),
    })?;
    let path = dashboard_dir.join(version_file_name(version.version));
    write_atomic(&path, &bytes)?;
    sync_dir(&dashboard_dir)
}

/// Writes `bytes` to `path` through a fsynced temporary file and a rename.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&temporary);
        Error::io(format!("writing {}", path.display()), source)
    })
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| Error::io(format!("syncing directory {}", dir.display()), source))
}

/// Reads one version file.
pub(super) fn read_version(dir: &Path, uid: &str, version: i64) -> Result<StoredVersion> {
    read_file(&dir.join(uid).join(version_file_name(version)))
}

fn read_file(path: &Path) -> Result<StoredVersion> {
    let bytes = fs::read(path).map_err(|source| Error::io(format!("reading {}", path.display()), source))?;
    let file: VersionFile = serde_json::from_slice(&bytes)
        .map_err(|error| Error::Corrupt { path: path.to_owned(), message: error.to_string() })?;
    if file.format > FORMAT_VERSION {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            message: format!("format {} is newer than this program's {FORMAT_VERSION}", file.format),
        });
    }
    Ok(file.version)
}

/// Removes a dashboard's history: rename first, so a crash leaves all or nothing.
pub(super) fn delete_dashboard(dir: &Path, uid: &str) -> Result<()> {
    let from = dir.join(uid);
    let to = dir.join(format!("{DELETED_PREFIX}{uid}"));
    fs::rename(&from, &to).map_err(|source| Error::io(format!("deleting {}", from.display()), source))?;
    sync_dir(dir)?;
    if let Err(error) = fs::remove_dir_all(&to) {
        tracing::warn!(path = %to.display(), error = %error, "cannot remove a deleted dashboard's files; removed at next start");
    }
    Ok(())
}

/// Loads every dashboard, removing leftovers of interrupted writes and deletions. Unreadable
/// version files are logged and skipped.
pub(super) fn load(dir: &Path) -> Result<Vec<LoadedDashboard>> {
    fs::create_dir_all(dir).map_err(|source| Error::io(format!("creating {}", dir.display()), source))?;
    let entries = fs::read_dir(dir).map_err(|source| Error::io(format!("reading {}", dir.display()), source))?;
    let mut dashboards = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::io(format!("reading {}", dir.display()), source))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(DELETED_PREFIX) {
            let _ = fs::remove_dir_all(&path);
            continue;
        }
        if !path.is_dir() || super::validate_uid(&name).is_err() {
            continue;
        }
        let versions = load_versions(&path)?;
        if !versions.is_empty() {
            dashboards.push(LoadedDashboard { uid: name, versions });
        }
    }
    dashboards.sort_by(|left, right| left.uid.cmp(&right.uid));
    Ok(dashboards)
}

fn load_versions(dashboard_dir: &PathBuf) -> Result<Vec<StoredVersion>> {
    let entries = fs::read_dir(dashboard_dir)
        .map_err(|source| Error::io(format!("reading {}", dashboard_dir.display()), source))?;
    let mut versions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::io(format!("reading {}", dashboard_dir.display()), source))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            let _ = fs::remove_file(&path);
            continue;
        }
        if !name.starts_with('v') || !name.ends_with(".json") {
            continue;
        }
        match read_file(&path) {
            Ok(version) => versions.push(version),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "skipping unreadable dashboard version")
            }
        }
    }
    versions.sort_by_key(|version| version.version);
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_temporary_files_and_half_deletions_are_cleaned_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let version = StoredVersion {
            id: 7,
            version: 1,
            parent_version: 0,
            restored_from: 0,
            created: Timestamp::UNIX_EPOCH,
            created_by: "Anonymous".into(),
            message: "first".into(),
            folder_uid: String::new(),
            dashboard: serde_json::json!({"title": "A"}),
            compatibility: CompatibilityReport::default(),
        };
        write_version(dir.path(), "a", &version).unwrap();
        fs::write(dir.path().join("a").join("v0000000002.json.tmp"), b"{\"torn").unwrap();
        fs::write(dir.path().join("a").join("v0000000003.json"), b"not json").unwrap();
        fs::create_dir(dir.path().join(".deleted-b")).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].versions.len(), 1, "the unreadable version is skipped");
        assert_eq!(loaded[0].versions[0].id, 7);
        assert!(!dir.path().join("a").join("v0000000002.json.tmp").exists());
        assert!(!dir.path().join(".deleted-b").exists());
    }
}
