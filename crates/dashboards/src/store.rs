//! `DashboardStore`: every dashboard with its version history, saved on disk one file per
//! version (`store/disk.rs`, `docs/format/dashboards.md`), plus the dashboards of the
//! provisioning directory, which live in memory only and cannot be saved or deleted through the
//! API. Save rules (uid and id matching, version and title conflicts, overwrite) are Grafana's.

mod disk;
mod folders;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use parking_lot::Mutex;
use serde_json::Value;

use crate::compat::{CompatibilityReport, check_and_convert};
use crate::error::{Error, MAX_UID_LEN, Result};

pub use disk::StoredVersion;
pub use folders::FolderRecord;

/// Who is recorded as the author of a version: Panoptes has no users, as Grafana with
/// anonymous access.
pub const ANONYMOUS: &str = "Anonymous";

/// One dashboard as the API shows it.
#[derive(Debug, Clone)]
pub struct DashboardRecord {
    /// Grafana's numeric id, stable for the life of the dashboard.
    pub id: i64,
    /// The uid, at most 40 characters of `[A-Za-z0-9_-]`.
    pub uid: String,
    /// The title.
    pub title: String,
    /// The URL slug of the title.
    pub slug: String,
    /// The tags.
    pub tags: Vec<String>,
    /// The folder's uid; empty for the General folder.
    pub folder_uid: String,
    /// The current version, from 1.
    pub version: i64,
    /// When version 1 was saved.
    pub created: Timestamp,
    /// When the current version was saved.
    pub updated: Timestamp,
    /// The dashboard JSON of the current version, with `id`, `uid` and `version` set.
    pub dashboard: Value,
    /// The compatibility report of the current version.
    pub report: CompatibilityReport,
    /// The file name under the provisioning directory, for provisioned dashboards.
    pub provisioned_from: Option<String>,
}

impl DashboardRecord {
    /// Returns the dashboard's URL path, `/d/<uid>/<slug>`.
    pub fn url(&self) -> String {
        format!("/d/{}/{}", self.uid, self.slug)
    }
}

/// A save through `POST /api/dashboards/db` or an import.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    /// The dashboard JSON.
    pub dashboard: Value,
    /// The folder; `None` or empty for General.
    pub folder_uid: Option<String>,
    /// The version message.
    pub message: String,
    /// Saves even when the version or title conflicts, as Grafana's `overwrite`.
    pub overwrite: bool,
    /// Notes for the compatibility report (from the import).
    pub notes: Vec<String>,
    /// The version this save restores, or 0.
    pub restored_from: i64,
}

/// What a successful save returns.
#[derive(Debug, Clone)]
pub struct SaveOutcome {
    /// The saved dashboard.
    pub record: DashboardRecord,
}

/// Filters of a search, as `GET /api/search` takes them.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Case-insensitive substring of the title.
    pub query: Option<String>,
    /// Tags that must all be present.
    pub tags: Vec<String>,
    /// Only these uids, when not empty.
    pub uids: Vec<String>,
    /// Only these numeric ids, when not empty.
    pub ids: Vec<i64>,
    /// Only dashboards in these folders (`""` or `general` for General), when not empty.
    pub folder_uids: Vec<String>,
    /// The most hits returned.
    pub limit: usize,
    /// The page (from 1) of `limit` hits.
    pub page: usize,
}

/// The metadata of one saved version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    /// The version number (also its id in the versions API).
    pub version: i64,
    /// The version it was saved over; 0 for the first.
    pub parent_version: i64,
    /// The version it restores, or 0.
    pub restored_from: i64,
    /// When it was saved.
    pub created: Timestamp,
    /// Who saved it.
    pub created_by: String,
    /// The message given on save.
    pub message: String,
}

struct Entry {
    record: DashboardRecord,
    versions: Vec<VersionInfo>,
}

struct State {
    by_uid: BTreeMap<String, Entry>,
    folders: BTreeMap<String, FolderRecord>,
    next_id: i64,
}

/// The dashboard store: saved dashboards on disk with their history, provisioned ones in memory.
pub struct DashboardStore {
    dir: PathBuf,
    state: Mutex<State>,
}

impl std::fmt::Debug for DashboardStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("DashboardStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl DashboardStore {
    /// Opens (creating it if needed) the store in `dir` and loads the newest version of every
    /// dashboard. Leftovers of interrupted writes and deletions are removed.
    ///
    /// # Errors
    ///
    /// Returns an error when the directory cannot be created or read. A version file that
    /// cannot be decoded is logged and skipped, never fatal.
    pub fn open(dir: &Path) -> Result<Self> {
        let loaded = disk::load(dir)?;
        let mut by_uid = BTreeMap::new();
        let mut next_id = 1;
        for dashboard in loaded {
            let Some(latest) = dashboard.versions.last() else { continue };
            let first = &dashboard.versions[0];
            let record = record_from(
                latest.id,
                &dashboard.uid,
                latest.dashboard.clone(),
                latest.folder_uid.clone(),
                latest.version,
                first.created,
                latest.created,
                latest.compatibility.clone(),
                None,
            );
            next_id = next_id.max(latest.id + 1);
            let versions = dashboard.versions.iter().map(StoredVersion::info).collect();
            by_uid.insert(dashboard.uid.clone(), Entry { record, versions });
        }
        let folders: BTreeMap<String, FolderRecord> =
            folders::load(dir)?.into_iter().map(|folder| (folder.uid.clone(), folder)).collect();
        next_id = folders.values().map(|folder| folder.id + 1).fold(next_id, i64::max);
        Ok(Self { dir: dir.to_owned(), state: Mutex::new(State { by_uid, folders, next_id }) })
    }

    /// Returns the directory the store writes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds (or replaces) a provisioned dashboard read from `file_name`. Its uid is the one in
    /// the JSON, or one derived from the file name so that it is stable across restarts.
    ///
    /// # Errors
    ///
    /// Returns an error when the JSON is not a dashboard (not an object, no title, bad uid).
    pub fn provision(&self, file_name: &str, mut dashboard: Value) -> Result<DashboardRecord> {
        let object =
            dashboard.as_object_mut().ok_or_else(|| Error::BadRequest("dashboard: expected an object".into()))?;
        let title = object.get("title").and_then(Value::as_str).unwrap_or("").trim().to_owned();
        if title.is_empty() {
            return Err(Error::TitleEmpty);
        }
        let uid = match object.get("uid").and_then(Value::as_str).filter(|uid| !uid.is_empty()) {
            Some(uid) => uid.to_owned(),
            None => uid_from_file_name(file_name),
        };
        validate_uid(&uid)?;
        let mut state = self.state.lock();
        let id = match state.by_uid.get(&uid) {
            Some(entry) => entry.record.id,
            None => {
                state.next_id += 1;
                state.next_id - 1
            }
        };
        let version = object.get("version").and_then(Value::as_i64).filter(|version| *version > 0).unwrap_or(1);
        object.insert("uid".to_owned(), Value::String(uid.clone()));
        object.insert("id".to_owned(), Value::from(id));
        object.insert("version".to_owned(), Value::from(version));
        let report = check_and_convert(&mut dashboard);
        let now = Timestamp::now();
        let record =
            record_from(id, &uid, dashboard, String::new(), version, now, now, report, Some(file_name.to_owned()));
        let versions = vec![VersionInfo {
            version,
            parent_version: 0,
            restored_from: 0,
            created: now,
            created_by: ANONYMOUS.to_owned(),
            message: format!("provisioned from {file_name}"),
        }];
        state.by_uid.insert(uid, Entry { record: record.clone(), versions });
        Ok(record)
    }

    /// Saves a dashboard as Grafana's `SaveDashboard` does and returns the new version.
    ///
    /// # Errors
    ///
    /// `TitleEmpty`, `UidIllegal`, `UidTooLong`, `NotFound` (an `id` that does not exist),
    /// `UidExists` (`id` and `uid` of different dashboards), `CannotSaveProvisioned`,
    /// `VersionMismatch` and `NameExists` (without `overwrite`), `SaveFolderNotFound`, or an I/O
    /// error writing the version file (the store is then unchanged).
    pub fn save(&self, request: SaveRequest) -> Result<SaveOutcome> {
        let SaveRequest { mut dashboard, folder_uid, message, overwrite, notes, restored_from } = request;
        let object =
            dashboard.as_object_mut().ok_or_else(|| Error::BadRequest("dashboard: expected an object".into()))?;
        let title = object.get("title").and_then(Value::as_str).unwrap_or("").trim().to_owned();
        if title.is_empty() {
            return Err(Error::TitleEmpty);
        }
        let uid = object.get("uid").and_then(Value::as_str).unwrap_or("").to_owned();
        if !uid.is_empty() {
            validate_uid(&uid)?;
        }
        let id = object.get("id").and_then(Value::as_i64).unwrap_or(0);
        let client_version = object.get("version").and_then(Value::as_i64).unwrap_or(0);
        let folder_uid = folder_uid.unwrap_or_default();
        let mut state = self.state.lock();
        if !folder_uid.is_empty() && !state.folders.contains_key(&folder_uid) {
            return Err(Error::SaveFolderNotFound);
        }
        let by_id = if id > 0 {
            Some(
                state
                    .by_uid
                    .values()
                    .find(|entry| entry.record.id == id)
                    .map(|entry| entry.record.uid.clone())
                    .ok_or(Error::NotFound)?,
            )
        } else {
            None
        };
        let by_uid = (!uid.is_empty() && state.by_uid.contains_key(&uid)).then(|| uid.clone());
        if let (Some(by_id), Some(by_uid)) = (&by_id, &by_uid)
            && by_id != by_uid
        {
            return Err(Error::UidExists);
        }
        let mut existing = by_id.or(by_uid);
        if let Some(existing_uid) = &existing {
            let entry = &state.by_uid[existing_uid];
            if entry.record.provisioned_from.is_some() {
                return Err(Error::CannotSaveProvisioned);
            }
            if !overwrite && client_version != entry.record.version {
                return Err(Error::VersionMismatch);
            }
        }
        let lowered = title.to_lowercase();
        let same_title = state
            .by_uid
            .values()
            .find(|entry| {
                entry.record.folder_uid == folder_uid
                    && entry.record.title.to_lowercase() == lowered
                    && Some(&entry.record.uid) != existing.as_ref()
            })
            .map(|entry| (entry.record.uid.clone(), entry.record.provisioned_from.is_some()));
        if let Some((other_uid, other_provisioned)) = same_title {
            // Grafana: with overwrite, a save over a title replaces the dashboard that has it
            // (which keeps its uid: a uid in the request that names no stored dashboard is
            // dropped), unless the request names another stored dashboard.
            if !overwrite || existing.is_some() {
                return Err(Error::NameExists);
            }
            if other_provisioned {
                return Err(Error::CannotSaveProvisioned);
            }
            existing = Some(other_uid);
        }
        let now = Timestamp::now();
        let (uid, id, version, parent_version, created) = match &existing {
            Some(existing_uid) => {
                let record = &state.by_uid[existing_uid].record;
                (record.uid.clone(), record.id, record.version + 1, record.version, record.created)
            }
            None => {
                let uid = if uid.is_empty() { generate_uid() } else { uid };
                let id = state.next_id;
                (uid, id, 1, 0, now)
            }
        };
        object.insert("id".to_owned(), Value::from(id));
        object.insert("uid".to_owned(), Value::String(uid.clone()));
        object.insert("version".to_owned(), Value::from(version));
        object.insert("title".to_owned(), Value::String(title));
        let mut report = check_and_convert(&mut dashboard);
        report.notes = notes;
        let stored = StoredVersion {
            id,
            version,
            parent_version,
            restored_from,
            created: now,
            created_by: ANONYMOUS.to_owned(),
            message,
            folder_uid: folder_uid.clone(),
            dashboard,
            compatibility: report,
        };
        disk::write_version(&self.dir, &uid, &stored)?;
        if existing.is_none() {
            state.next_id += 1;
        }
        let info = stored.info();
        let record =
            record_from(id, &uid, stored.dashboard, folder_uid, version, created, now, stored.compatibility, None);
        let entry = state.by_uid.entry(uid).or_insert_with(|| Entry { record: record.clone(), versions: Vec::new() });
        entry.record = record.clone();
        entry.versions.push(info);
        Ok(SaveOutcome { record })
    }

    /// Saves version `version` of the dashboard again as its newest version, as Grafana's
    /// restore does.
    ///
    /// # Errors
    ///
    /// `NotFound`, `VersionNotFound`, `CannotSaveProvisioned`, `NameExists` (its old title now
    /// belongs to another dashboard of the folder), or an I/O error.
    pub fn restore(&self, uid: &str, version: i64) -> Result<SaveOutcome> {
        let (record, _, mut dashboard) = self.version(uid, version)?;
        if record.provisioned_from.is_some() {
            return Err(Error::CannotSaveProvisioned);
        }
        if let Some(object) = dashboard.as_object_mut() {
            object.insert("version".to_owned(), Value::from(record.version));
        }
        self.save(SaveRequest {
            dashboard,
            folder_uid: Some(record.folder_uid),
            message: format!("Restored from version {version}"),
            overwrite: true,
            notes: Vec::new(),
            restored_from: version,
        })
    }

    /// Returns the dashboard with this uid.
    ///
    /// # Errors
    ///
    /// `NotFound` when there is none.
    pub fn get(&self, uid: &str) -> Result<DashboardRecord> {
        self.state.lock().by_uid.get(uid).map(|entry| entry.record.clone()).ok_or(Error::NotFound)
    }

    /// Deletes the dashboard with this uid and its history; returns what it was.
    ///
    /// # Errors
    ///
    /// `NotFound`, `CannotDeleteProvisioned`, or an I/O error (the dashboard then stays).
    pub fn delete(&self, uid: &str) -> Result<DashboardRecord> {
        let mut state = self.state.lock();
        let entry = state.by_uid.get(uid).ok_or(Error::NotFound)?;
        if entry.record.provisioned_from.is_some() {
            return Err(Error::CannotDeleteProvisioned);
        }
        disk::delete_dashboard(&self.dir, uid)?;
        state.by_uid.remove(uid).map(|entry| entry.record).ok_or(Error::NotFound)
    }

    /// Returns the dashboards matching `query`, sorted by title as Grafana's default sort.
    pub fn search(&self, query: &SearchQuery) -> Vec<DashboardRecord> {
        let state = self.state.lock();
        let needle = query.query.as_deref().map(str::to_lowercase).filter(|needle| !needle.is_empty());
        let mut hits: Vec<DashboardRecord> = state
            .by_uid
            .values()
            .map(|entry| &entry.record)
            .filter(|record| needle.as_ref().is_none_or(|needle| record.title.to_lowercase().contains(needle)))
            .filter(|record| query.tags.iter().all(|tag| record.tags.contains(tag)))
            .filter(|record| query.uids.is_empty() || query.uids.contains(&record.uid))
            .filter(|record| query.ids.is_empty() || query.ids.contains(&record.id))
            .filter(|record| {
                query.folder_uids.is_empty()
                    || query.folder_uids.iter().any(|folder| {
                        folder == &record.folder_uid || (record.folder_uid.is_empty() && folder == "general")
                    })
            })
            .cloned()
            .collect();
        hits.sort_by(|left, right| {
            left.title.to_lowercase().cmp(&right.title.to_lowercase()).then(left.id.cmp(&right.id))
        });
        let limit = query.limit.max(1);
        let skip = query.page.saturating_sub(1).saturating_mul(limit);
        hits.into_iter().skip(skip).take(limit).collect()
    }

    /// Returns every folder, sorted by title.
    pub fn folders(&self) -> Vec<FolderRecord> {
        let mut folders: Vec<FolderRecord> = self.state.lock().folders.values().cloned().collect();
        folders.sort_by_key(|folder| folder.title.to_lowercase());
        folders
    }

    /// Returns the folder with this uid.
    ///
    /// # Errors
    ///
    /// `FolderNotFound`.
    pub fn folder(&self, uid: &str) -> Result<FolderRecord> {
        self.state.lock().folders.get(uid).cloned().ok_or(Error::FolderNotFound)
    }

    /// Creates a folder (a generated uid when `uid` is empty), as Grafana's `POST /api/folders`.
    ///
    /// # Errors
    ///
    /// `FolderTitleEmpty`, `UidIllegal`, `UidTooLong`, `FolderUidExists` (a folder or dashboard
    /// has the uid), `FolderExists` (a folder, or a dashboard of the General folder, has the
    /// title), or an I/O error (nothing is then created).
    pub fn create_folder(&self, uid: &str, title: &str) -> Result<FolderRecord> {
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::FolderTitleEmpty);
        }
        let uid = if uid.is_empty() { generate_uid() } else { uid.to_owned() };
        validate_uid(&uid)?;
        let mut state = self.state.lock();
        if state.folders.contains_key(&uid) || state.by_uid.contains_key(&uid) {
            return Err(Error::FolderUidExists);
        }
        check_folder_title(&state, title, &uid)?;
        let now = Timestamp::now();
        let folder = FolderRecord {
            id: state.next_id,
            uid: uid.clone(),
            title: title.to_owned(),
            version: 1,
            created: now,
            updated: now,
        };
        folders::write(&self.dir, state.folders.values().chain(std::iter::once(&folder)))?;
        state.next_id += 1;
        state.folders.insert(uid, folder.clone());
        Ok(folder)
    }

    /// Renames a folder, as Grafana's `PUT /api/folders/:uid`: `version` must be the current one
    /// unless `overwrite`.
    ///
    /// # Errors
    ///
    /// `FolderNotFound`, `FolderTitleEmpty`, `FolderVersionMismatch`, `FolderExists`, or an I/O
    /// error (the folder is then unchanged).
    pub fn update_folder(&self, uid: &str, title: &str, version: i64, overwrite: bool) -> Result<FolderRecord> {
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::FolderTitleEmpty);
        }
        let mut state = self.state.lock();
        let current = state.folders.get(uid).ok_or(Error::FolderNotFound)?;
        if !overwrite && version != current.version {
            return Err(Error::FolderVersionMismatch);
        }
        check_folder_title(&state, title, uid)?;
        let folder = FolderRecord {
            title: title.to_owned(),
            version: current.version + 1,
            updated: Timestamp::now(),
            ..current.clone()
        };
        folders::write(
            &self.dir,
            state.folders.values().map(|other| if other.uid == folder.uid { &folder } else { other }),
        )?;
        state.folders.insert(uid.to_owned(), folder.clone());
        Ok(folder)
    }

    /// Deletes a folder and every dashboard in it, as Grafana does; returns the folder.
    ///
    /// # Errors
    ///
    /// `FolderNotFound`, or an I/O error (dashboards deleted before it stay deleted; the folder
    /// stays).
    pub fn delete_folder(&self, uid: &str) -> Result<FolderRecord> {
        let mut state = self.state.lock();
        let folder = state.folders.get(uid).cloned().ok_or(Error::FolderNotFound)?;
        let inside: Vec<String> = state
            .by_uid
            .values()
            .filter(|entry| entry.record.folder_uid == uid && entry.record.provisioned_from.is_none())
            .map(|entry| entry.record.uid.clone())
            .collect();
        for dashboard in inside {
            disk::delete_dashboard(&self.dir, &dashboard)?;
            state.by_uid.remove(&dashboard);
        }
        folders::write(&self.dir, state.folders.values().filter(|other| other.uid != uid))?;
        state.folders.remove(uid);
        Ok(folder)
    }

    /// Returns every tag with the number of dashboards carrying it.
    pub fn tags(&self) -> BTreeMap<String, usize> {
        let state = self.state.lock();
        let mut tags = BTreeMap::new();
        for tag in state.by_uid.values().flat_map(|entry| entry.record.tags.iter()) {
            *tags.entry(tag.clone()).or_insert(0) += 1;
        }
        tags
    }

    /// Returns the dashboard's versions, newest first: at most `limit`, starting after the
    /// first `start`.
    ///
    /// # Errors
    ///
    /// `NotFound` when there is no such dashboard.
    pub fn versions(&self, uid: &str, limit: usize, start: usize) -> Result<(DashboardRecord, Vec<VersionInfo>)> {
        let state = self.state.lock();
        let entry = state.by_uid.get(uid).ok_or(Error::NotFound)?;
        let versions = entry.versions.iter().rev().skip(start).take(limit).cloned().collect();
        Ok((entry.record.clone(), versions))
    }

    /// Returns one version with its dashboard JSON.
    ///
    /// # Errors
    ///
    /// `NotFound` (no dashboard), `VersionNotFound`, or an error reading the version file.
    pub fn version(&self, uid: &str, version: i64) -> Result<(DashboardRecord, VersionInfo, Value)> {
        let state = self.state.lock();
        let entry = state.by_uid.get(uid).ok_or(Error::NotFound)?;
        let info = entry.versions.iter().find(|info| info.version == version).cloned().ok_or(Error::VersionNotFound)?;
        if entry.record.provisioned_from.is_some() || version == entry.record.version {
            return Ok((entry.record.clone(), info, entry.record.dashboard.clone()));
        }
        let stored = disk::read_version(&self.dir, uid, version)?;
        Ok((entry.record.clone(), info, stored.dashboard))
    }
}

/// Refuses a folder title (case-insensitive) that another folder, or a dashboard of the General
/// folder, already has.
fn check_folder_title(state: &State, title: &str, uid: &str) -> Result<()> {
    let lowered = title.to_lowercase();
    let folder_has_it =
        state.folders.values().any(|folder| folder.uid != uid && folder.title.to_lowercase() == lowered);
    let dashboard_has_it = state
        .by_uid
        .values()
        .any(|entry| entry.record.folder_uid.is_empty() && entry.record.title.to_lowercase() == lowered);
    if folder_has_it || dashboard_has_it { Err(Error::FolderExists) } else { Ok(()) }
}

#[allow(clippy::too_many_arguments)]
fn record_from(
    id: i64,
    uid: &str,
    dashboard: Value,
    folder_uid: String,
    version: i64,
    created: Timestamp,
    updated: Timestamp,
    report: CompatibilityReport,
    provisioned_from: Option<String>,
) -> DashboardRecord {
    let title = dashboard.get("title").and_then(Value::as_str).unwrap_or("").to_owned();
    let tags = dashboard
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    DashboardRecord {
        id,
        uid: uid.to_owned(),
        slug: slugify(&title),
        title,
        tags,
        folder_uid,
        version,
        created,
        updated,
        dashboard,
        report,
        provisioned_from,
    }
}

/// Checks a uid as Grafana does: at most 40 characters of letters, digits, `-` and `_`.
///
/// # Errors
///
/// `UidTooLong` or `UidIllegal`.
pub fn validate_uid(uid: &str) -> Result<()> {
    if uid.len() > MAX_UID_LEN {
        return Err(Error::UidTooLong);
    }
    if uid.is_empty() || !uid.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_') {
        return Err(Error::UidIllegal);
    }
    Ok(())
}

/// Returns the URL slug of a title: lowercase ASCII letters and digits, other runs as `-`.
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    for character in title.chars().flat_map(char::to_lowercase) {
        if character.is_ascii_alphanumeric() {
            slug.push(character);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_owned()
}

/// Returns a stable uid for a provisioned file without one: its slugified stem, cut to 40.
fn uid_from_file_name(file_name: &str) -> String {
    let stem = Path::new(file_name).file_stem().and_then(|stem| stem.to_str()).unwrap_or(file_name);
    let mut uid: String = slugify(stem).chars().take(MAX_UID_LEN).collect();
    if uid.is_empty() {
        uid = "provisioned".to_owned();
    }
    uid
}

/// Returns a new random-looking 14-character uid (Grafana's are 9 to 14 characters).
fn generate_uid() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Timestamp::now().as_nanosecond().unsigned_abs());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut bits =
        u128::from(hasher.finish()) << 64 | u128::from(hasher.finish().rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15);
    let mut uid = String::with_capacity(14);
    for _ in 0..14 {
        uid.push(char::from(ALPHABET[(bits % ALPHABET.len() as u128) as usize]));
        bits /= ALPHABET.len() as u128;
    }
    uid
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn save(store: &DashboardStore, dashboard: Value, overwrite: bool) -> Result<DashboardRecord> {
        store
            .save(SaveRequest {
                dashboard,
                folder_uid: None,
                message: String::new(),
                overwrite,
                notes: Vec::new(),
                restored_from: 0,
            })
            .map(|outcome| outcome.record)
    }

    #[test]
    fn versions_survive_reopen_and_conflicts_follow_grafana() {
        let dir = tempfile::tempdir().unwrap();
        let store = DashboardStore::open(dir.path()).unwrap();
        let first = save(&store, json!({"title": "Mesh", "uid": "mesh", "tags": ["istio"]}), false).unwrap();
        assert_eq!((first.id, first.version, first.slug.as_str()), (1, 1, "mesh"));
        let second = save(&store, json!({"title": "Mesh", "uid": "mesh", "version": 1}), false).unwrap();
        assert_eq!(second.version, 2);
        assert!(matches!(
            save(&store, json!({"title": "Mesh", "uid": "mesh", "version": 1}), false),
            Err(Error::VersionMismatch)
        ));
        assert!(matches!(save(&store, json!({"title": "mesh", "uid": "other"}), false), Err(Error::NameExists)));
        assert!(matches!(save(&store, json!({"title": "x", "id": 42}), false), Err(Error::NotFound)));
        assert!(matches!(save(&store, json!({"title": ""}), false), Err(Error::TitleEmpty)));
        assert!(matches!(save(&store, json!({"title": "x", "uid": "a/b"}), false), Err(Error::UidIllegal)));
        let forced = save(&store, json!({"title": "Mesh", "uid": "mesh", "version": 1}), true).unwrap();
        assert_eq!(forced.version, 3);
        // With overwrite, a new uid over a used title replaces the title's holder, which keeps
        // its uid and id, as Grafana does.
        let taken = save(&store, json!({"title": "MESH", "uid": "imported-copy"}), true).unwrap();
        assert_eq!((taken.uid.as_str(), taken.id, taken.version), ("mesh", 1, 4));
        assert!(matches!(store.get("imported-copy"), Err(Error::NotFound)));
        let (_, _, current) = store.version("mesh", 4).unwrap();
        assert_eq!(current["title"], "MESH");
        // Back to version 3's content for the checks below.
        let restored = save(&store, json!({"title": "Mesh", "uid": "mesh", "version": 4}), false).unwrap();
        assert_eq!(restored.version, 5);
        drop(store);

        let reopened = DashboardStore::open(dir.path()).unwrap();
        let record = reopened.get("mesh").unwrap();
        assert_eq!((record.id, record.version), (1, 5));
        let (_, versions) = reopened.versions("mesh", 10, 0).unwrap();
        assert_eq!(versions.iter().map(|info| info.version).collect::<Vec<_>>(), [5, 4, 3, 2, 1]);
        let (_, _, old) = reopened.version("mesh", 1).unwrap();
        assert_eq!(old["tags"], json!(["istio"]));
        let next = save(&reopened, json!({"title": "Other"}), false).unwrap();
        assert_eq!(next.id, 2, "ids continue after a reopen");
        reopened.delete("mesh").unwrap();
        drop(reopened);
        let after_delete = DashboardStore::open(dir.path()).unwrap();
        assert!(matches!(after_delete.get("mesh"), Err(Error::NotFound)));
    }

    #[test]
    fn provisioned_dashboards_are_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = DashboardStore::open(dir.path()).unwrap();
        let record = store.provision("Node Exporter.json", json!({"title": "Node"})).unwrap();
        assert_eq!(record.uid, "node-exporter");
        assert!(matches!(
            save(&store, json!({"title": "Node", "uid": "node-exporter"}), true),
            Err(Error::CannotSaveProvisioned)
        ));
        assert!(matches!(store.delete("node-exporter"), Err(Error::CannotDeleteProvisioned)));
    }

    #[test]
    fn generated_uids_are_valid_and_distinct() {
        let first = generate_uid();
        let second = generate_uid();
        assert_ne!(first, second);
        validate_uid(&first).unwrap();
        assert_eq!(first.len(), 14);
    }

    #[test]
    fn slugs_are_like_grafana() {
        assert_eq!(slugify("Istio Mesh Dashboard"), "istio-mesh-dashboard");
        assert_eq!(slugify("  5xx / p99 (prod) "), "5xx-p99-prod");
    }
}
