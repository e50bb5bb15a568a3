//! The store's file: one JSON document, replaced whole through a temporary file, fsync and
//! rename (layout in `docs/format/pushgateway.md`). Never interprets pushes; see `store.rs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::render::{format_go_float, parse_go_float};
use super::store::{Family, FamilyType, Group, StoredSeries};
use crate::{Error, Result};

/// The version written in every file; a reader refuses other versions as corrupt.
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct FileV1 {
    version: u32,
    groups: Vec<GroupV1>,
}

#[derive(Serialize, Deserialize)]
struct GroupV1 {
    labels: BTreeMap<String, String>,
    push_time_ms: i64,
    push_time_seconds: String,
    push_failure_time_ms: i64,
    push_failure_time_seconds: String,
    families: Vec<FamilyV1>,
}

#[derive(Serialize, Deserialize)]
struct FamilyV1 {
    name: String,
    help: String,
    #[serde(rename = "type")]
    family_type: FamilyType,
    pushed_at_ms: i64,
    series: Vec<SeriesV1>,
}

#[derive(Serialize, Deserialize)]
struct SeriesV1 {
    name: String,
    labels: Vec<(String, String)>,
    /// Go-formatted, so that `NaN` and infinities survive JSON.
    value: String,
}

/// Returns the JSON document for `groups`.
pub(crate) fn encode<'a>(groups: impl Iterator<Item = &'a Group>) -> String {
    let file = FileV1 {
        version: FORMAT_VERSION,
        groups: groups
            .map(|group| GroupV1 {
                labels: group.labels.clone(),
                push_time_ms: group.push_time_ms,
                push_time_seconds: format_go_float(group.push_time_seconds),
                push_failure_time_ms: group.push_failure_time_ms,
                push_failure_time_seconds: format_go_float(group.push_failure_time_seconds),
                families: group
                    .families
                    .iter()
                    .map(|(name, family)| FamilyV1 {
                        name: name.clone(),
                        help: family.help.clone(),
                        family_type: family.family_type,
                        pushed_at_ms: family.pushed_at_ms,
                        series: family
                            .series
                            .iter()
                            .map(|s| SeriesV1 {
                                name: s.name.clone(),
                                labels: s.labels.clone(),
                                value: format_go_float(s.value),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    };
    // Serialising plain strings, numbers and maps cannot fail.
    serde_json::to_string(&file).unwrap_or_default()
}

/// Reads the groups from `path`; no file is an empty store.
///
/// # Errors
///
/// Returns [`Error::Corrupt`] when the file cannot be decoded and an I/O error when it cannot be
/// read.
pub(crate) fn load(path: &Path) -> Result<Vec<Group>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::io(format!("cannot read {}", path.display()), source)),
    };
    let corrupt = |message: String| Error::Corrupt { path: path.to_owned(), message };
    let file: FileV1 = serde_json::from_slice(&bytes).map_err(|error| corrupt(error.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {}", file.version)));
    }
    let float = |text: &str| parse_go_float(text).ok_or_else(|| corrupt(format!("invalid value {text:?}")));
    let mut groups = Vec::with_capacity(file.groups.len());
    for group in file.groups {
        if group.labels.get("job").is_none_or(String::is_empty) {
            return Err(corrupt("group without job label".to_owned()));
        }
        let mut families = BTreeMap::new();
        for family in group.families {
            let mut series = Vec::with_capacity(family.series.len());
            for s in family.series {
                series.push(StoredSeries { name: s.name, labels: s.labels, value: float(&s.value)? });
            }
            families.insert(
                family.name,
                Family {
                    help: family.help,
                    family_type: family.family_type,
                    series,
                    pushed_at_ms: family.pushed_at_ms,
                },
            );
        }
        groups.push(Group {
            labels: group.labels,
            families,
            push_time_seconds: float(&group.push_time_seconds)?,
            push_failure_time_seconds: float(&group.push_failure_time_seconds)?,
            push_time_ms: group.push_time_ms,
            push_failure_time_ms: group.push_failure_time_ms,
        });
    }
    Ok(groups)
}

/// Replaces `path` with `bytes` atomically: write a temporary file beside it, fsync it, rename
/// it over `path`, fsync the directory so that the rename itself is durable.
///
/// # Errors
///
/// Returns an I/O error naming the step; the old file is then untouched.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        Error::io(format!("cannot write {}", temporary.display()), source)
    })?;
    std::fs::rename(&temporary, path)
        .map_err(|source| Error::io(format!("cannot rename {} to {}", temporary.display(), path.display()), source))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| Error::io(format!("cannot sync directory {}", dir.display()), source))?;
    }
    Ok(())
}
