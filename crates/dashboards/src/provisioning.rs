//! The provisioning directory: every `*.json` file under it (subdirectories included) is loaded
//! at start as a read-only dashboard, like Grafana's file provider. A file that cannot be read or
//! is not a dashboard is logged with its path and skipped; it never stops the server.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::store::DashboardStore;

/// What a provisioning pass loaded and refused.
#[derive(Debug, Default)]
pub struct ProvisioningSummary {
    /// The uids loaded, in file order.
    pub loaded: Vec<String>,
    /// The files refused, with the reason.
    pub refused: Vec<(PathBuf, String)>,
}

/// Loads every dashboard file under `dir` into `store` as provisioned.
///
/// # Errors
///
/// Returns an error only when `dir` itself cannot be read.
pub fn provision_dir(store: &DashboardStore, dir: &Path) -> Result<ProvisioningSummary> {
    let mut files = Vec::new();
    collect_json_files(dir, &mut files)?;
    files.sort();
    let mut summary = ProvisioningSummary::default();
    for path in files {
        let name = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned();
        match load_file(&path).and_then(|dashboard| store.provision(&name, dashboard)) {
            Ok(record) => {
                tracing::info!(file = %path.display(), uid = %record.uid, "provisioned dashboard");
                summary.loaded.push(record.uid);
            }
            Err(error) => {
                tracing::warn!(file = %path.display(), error = %error, "cannot provision dashboard");
                summary.refused.push((path, error.to_string()));
            }
        }
    }
    Ok(summary)
}

fn load_file(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|source| Error::io(format!("reading {}", path.display()), source))?;
    let mut value: Value = serde_json::from_slice(&bytes)
        .map_err(|error| Error::Corrupt { path: path.to_owned(), message: error.to_string() })?;
    // Files written by tools that wrap the model as the API does: `{"dashboard": {...}}`.
    if let Some(inner) = value.get_mut("dashboard").filter(|inner| inner.is_object()) {
        value = inner.take();
    }
    Ok(value)
}

fn collect_json_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::io(format!("reading {}", dir.display()), source))?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::io(format!("reading {}", dir.display()), source))?;
        let path = entry.path();
        if path.is_dir() {
            collect_json_files(&path, files)?;
        } else if path.extension().is_some_and(|extension| extension == "json") {
            files.push(path);
        }
    }
    Ok(())
}
