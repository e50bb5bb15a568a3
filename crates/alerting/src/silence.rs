//! Silences: matchers, a time range, author and comment; states pending / active / expired;
//! updates in place when Alertmanager allows it, else expire-and-recreate; persisted whole to
//! `silences.json` after every change and kept for a retention period after they expire.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use panoptes_model::{MatchOp, Matcher};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matchers::Matchers;
use crate::persist;
use crate::types::LabelSet;

/// One matcher of a silence, in the API's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    /// The label name.
    pub name: String,
    /// The value or regular expression.
    pub value: String,
    /// Whether `value` is a regular expression.
    pub is_regex: bool,
    /// Whether the matcher is positive (`=`, `=~`); defaults to true.
    #[serde(default = "default_true")]
    pub is_equal: bool,
}

fn default_true() -> bool {
    true
}

impl SilenceMatcher {
    fn to_matcher(&self) -> Result<Matcher> {
        if self.name.is_empty() {
            return Err(Error::BadData("invalid label matcher: empty label name".to_owned()));
        }
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(op, self.name.clone(), self.value.clone()).map_err(|e| Error::BadData(e.to_string()))
    }

    /// Returns the API matcher for a parsed matcher.
    pub fn from_matcher(matcher: &Matcher) -> SilenceMatcher {
        SilenceMatcher {
            name: matcher.name.clone(),
            value: matcher.value.clone(),
            is_regex: matches!(matcher.op, MatchOp::Regex | MatchOp::NotRegex),
            is_equal: matches!(matcher.op, MatchOp::Equal | MatchOp::Regex),
        }
    }
}

/// The state of a silence at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Starts in the future.
    Pending,
    /// Mutes alerts now.
    Active,
    /// Ended.
    Expired,
}

impl SilenceState {
    /// Returns the state's API name.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// The id (a UUID); empty when creating.
    #[serde(default)]
    pub id: String,
    /// Alerts matching all of these are muted.
    pub matchers: Vec<SilenceMatcher>,
    /// When the silence starts.
    pub starts_at: Timestamp,
    /// When the silence ends.
    pub ends_at: Timestamp,
    /// When the silence was last changed.
    #[serde(default = "Timestamp::now")]
    pub updated_at: Timestamp,
    /// Who created it.
    #[serde(default)]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

impl Silence {
    /// Returns the state at `now`.
    pub fn state_at(&self, now: Timestamp) -> SilenceState {
        if self.ends_at <= now {
            SilenceState::Expired
        } else if self.starts_at > now {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    fn compile(&self) -> Result<Matchers> {
        if self.matchers.is_empty() {
            return Err(Error::BadData("at least one matcher required".to_owned()));
        }
        let matchers = self.matchers.iter().map(SilenceMatcher::to_matcher).collect::<Result<Vec<_>>>()?;
        if matchers.iter().all(Matcher::matches_empty) {
            return Err(Error::BadData("at least one matcher must not match the empty string".to_owned()));
        }
        Ok(Matchers(matchers))
    }
}

struct Entry {
    silence: Silence,
    matchers: Matchers,
}

/// The silences of the router. Thread-safe.
pub struct Silences {
    path: Option<PathBuf>,
    retention: Duration,
    entries: Mutex<Vec<Entry>>,
}

impl std::fmt::Debug for Silences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Silences").field("path", &self.path).field("count", &self.entries.lock().len()).finish()
    }
}

/// Returns a random version-4 UUID, the form of Alertmanager's silence ids.
fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut bytes = bytes;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl Silences {
    /// Opens the silences stored at `path` (none when the file is missing); `None` keeps them in
    /// memory only.
    ///
    /// # Errors
    ///
    /// Returns an error when the file cannot be read or does not decode.
    pub fn open(path: Option<PathBuf>, retention: Duration) -> Result<Silences> {
        let stored: Vec<Silence> = match &path {
            Some(path) => persist::read_entries(path)?,
            None => Vec::new(),
        };
        let mut entries = Vec::new();
        for silence in stored {
            match silence.compile() {
                Ok(matchers) => entries.push(Entry { silence, matchers }),
                Err(error) => {
                    tracing::warn!(id = %silence.id, error = %error, "dropping stored silence that no longer compiles")
                }
            }
        }
        Ok(Silences { path, retention, entries: Mutex::new(entries) })
    }

    fn save(&self, entries: &[Entry]) -> Result<()> {
        if let Some(path) = &self.path {
            let silences: Vec<&Silence> = entries.iter().map(|entry| &entry.silence).collect();
            persist::write_entries(path, &silences)?;
        }
        Ok(())
    }

    /// Creates or updates a silence and returns its id. A silence with an id is changed in
    /// place when only its comment, author or (allowed) times change; otherwise the old one is
    /// expired and a new one created, as Alertmanager does.
    ///
    /// # Errors
    ///
    /// Returns [`Error::BadData`] for invalid matchers or times, [`Error::NotFound`] for an
    /// unknown id, and I/O errors from saving.
    pub fn set(&self, mut silence: Silence) -> Result<String> {
        let now = Timestamp::now();
        let matchers = silence.compile()?;
        if silence.ends_at <= silence.starts_at {
            return Err(Error::BadData("start time must be before end time".to_owned()));
        }
        if silence.ends_at < now {
            return Err(Error::BadData("end time can't be in the past".to_owned()));
        }
        silence.updated_at = now;
        let mut entries = self.entries.lock();
        if !silence.id.is_empty() {
            let Some(index) = entries.iter().position(|entry| entry.silence.id == silence.id) else {
                return Err(Error::NotFound(format!("silence {} not found", silence.id)));
            };
            let existing = &entries[index].silence;
            if can_update(existing, &silence, now) {
                entries[index] = Entry { silence: silence.clone(), matchers };
                self.save(&entries)?;
                return Ok(silence.id);
            }
            if existing.state_at(now) != SilenceState::Expired {
                expire_entry(&mut entries[index].silence, now);
            }
        }
        if silence.starts_at < now {
            silence.starts_at = now;
        }
        silence.id = new_id();
        let id = silence.id.clone();
        entries.push(Entry { silence, matchers });
        self.save(&entries)?;
        Ok(id)
    }

    /// Expires a silence now.
    ///
    /// # Errors
    ///
    /// Returns [`Error::NotFound`] for an unknown id, [`Error::BadData`] when it already expired.
    pub fn expire(&self, id: &str) -> Result<()> {
        let now = Timestamp::now();
        let mut entries = self.entries.lock();
        let entry = entries
            .iter_mut()
            .find(|entry| entry.silence.id == id)
            .ok_or_else(|| Error::NotFound(format!("silence {id} not found")))?;
        if entry.silence.state_at(now) == SilenceState::Expired {
            return Err(Error::BadData(format!("silence {id} already expired")));
        }
        expire_entry(&mut entry.silence, now);
        self.save(&entries)
    }

    /// Returns the silence with `id`.
    pub fn get(&self, id: &str) -> Option<Silence> {
        self.entries.lock().iter().find(|entry| entry.silence.id == id).map(|entry| entry.silence.clone())
    }

    /// Returns every silence.
    pub fn list(&self) -> Vec<Silence> {
        self.entries.lock().iter().map(|entry| entry.silence.clone()).collect()
    }

    /// Returns the ids of the active silences that mute `labels` at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: Timestamp) -> Vec<String> {
        self.entries
            .lock()
            .iter()
            .filter(|entry| entry.silence.state_at(now) == SilenceState::Active && entry.matchers.matches(labels))
            .map(|entry| entry.silence.id.clone())
            .collect()
    }

    /// Returns how many silences are in each state at `now` (pending, active, expired).
    pub fn count_by_state(&self, now: Timestamp) -> [(SilenceState, usize); 3] {
        let entries = self.entries.lock();
        let count = |state| entries.iter().filter(|entry| entry.silence.state_at(now) == state).count();
        [
            (SilenceState::Pending, count(SilenceState::Pending)),
            (SilenceState::Active, count(SilenceState::Active)),
            (SilenceState::Expired, count(SilenceState::Expired)),
        ]
    }

    /// Drops silences that expired longer than the retention ago.
    ///
    /// # Errors
    ///
    /// Returns I/O errors from saving.
    pub fn gc(&self, now: Timestamp) -> Result<usize> {
        let mut entries = self.entries.lock();
        let before = entries.len();
        let retention = jiff::SignedDuration::try_from(self.retention).unwrap_or(jiff::SignedDuration::MAX);
        entries.retain(|entry| entry.silence.ends_at.saturating_add(retention).is_ok_and(|until| until > now));
        let removed = before - entries.len();
        if removed > 0 {
            self.save(&entries)?;
        }
        Ok(removed)
    }
}

fn expire_entry(silence: &mut Silence, now: Timestamp) {
    if silence.starts_at > now {
        silence.starts_at = now;
    }
    silence.ends_at = now;
    silence.updated_at = now;
}

/// Alertmanager's `canUpdate`: same matchers, and times changed only as the state allows.
fn can_update(existing: &Silence, update: &Silence, now: Timestamp) -> bool {
    if existing.matchers != update.matchers {
        return false;
    }
    match existing.state_at(now) {
        SilenceState::Active => update.starts_at == existing.starts_at && update.ends_at >= now,
        SilenceState::Pending => update.starts_at >= now,
        SilenceState::Expired => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(matchers: &[(&str, &str, bool)], starts_in_secs: i64, ends_in_secs: i64) -> Silence {
        let now = Timestamp::now();
        Silence {
            id: String::new(),
            matchers: matchers
                .iter()
                .map(|(name, value, is_regex)| SilenceMatcher {
                    name: name.to_string(),
                    value: value.to_string(),
                    is_regex: *is_regex,
                    is_equal: true,
                })
                .collect(),
            starts_at: now + jiff::SignedDuration::from_secs(starts_in_secs),
            ends_at: now + jiff::SignedDuration::from_secs(ends_in_secs),
            updated_at: now,
            created_by: "ops".to_owned(),
            comment: "maintenance".to_owned(),
        }
    }

    #[test]
    fn silences_mute_expire_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silences.json");
        let silences = Silences::open(Some(path.clone()), Duration::from_secs(3600)).unwrap();
        let id = silences.set(silence(&[("job", "api.*", true)], -10, 3600)).unwrap();
        let labels: LabelSet = [("job".to_owned(), "api-server".to_owned())].into();
        assert_eq!(silences.mutes(&labels, Timestamp::now()), std::slice::from_ref(&id));
        let pending = silences.set(silence(&[("job", "db", false)], 600, 3600)).unwrap();
        assert_eq!(silences.get(&pending).unwrap().state_at(Timestamp::now()), SilenceState::Pending);

        let reopened = Silences::open(Some(path.clone()), Duration::from_secs(3600)).unwrap();
        assert_eq!(reopened.mutes(&labels, Timestamp::now()), std::slice::from_ref(&id));
        reopened.expire(&id).unwrap();
        assert!(reopened.mutes(&labels, Timestamp::now()).is_empty());
        assert!(matches!(reopened.expire(&id), Err(Error::BadData(_))));
        assert!(matches!(reopened.expire("nope"), Err(Error::NotFound(_))));
        let again = Silences::open(Some(path), Duration::from_secs(3600)).unwrap();
        assert_eq!(again.get(&id).unwrap().state_at(Timestamp::now()), SilenceState::Expired);
    }

    #[test]
    fn updates_in_place_only_when_alertmanager_would() {
        let silences = Silences::open(None, Duration::from_secs(3600)).unwrap();
        let id = silences.set(silence(&[("a", "b", false)], -10, 3600)).unwrap();
        let mut update = silences.get(&id).unwrap();
        update.comment = "longer".to_owned();
        update.ends_at += jiff::SignedDuration::from_secs(60);
        assert_eq!(silences.set(update.clone()).unwrap(), id);
        update.matchers[0].value = "c".to_owned();
        let new_id = silences.set(update).unwrap();
        assert_ne!(new_id, id);
        assert_eq!(silences.get(&id).unwrap().state_at(Timestamp::now()), SilenceState::Expired);
    }

    #[test]
    fn refuses_invalid_silences() {
        let silences = Silences::open(None, Duration::from_secs(3600)).unwrap();
        let error = |s: Silence| silences.set(s).unwrap_err().to_string();
        assert_eq!(error(silence(&[], -10, 10)), "at least one matcher required");
        assert_eq!(
            error(silence(&[("a", ".*", true)], -10, 10)),
            "at least one matcher must not match the empty string"
        );
        assert_eq!(error(silence(&[("a", "b", false)], 10, 5)), "start time must be before end time");
        assert_eq!(error(silence(&[("a", "b", false)], -20, -10)), "end time can't be in the past");
        assert!(error(silence(&[("a", "(", true)], -10, 10)).contains("invalid regular expression"));
    }
}
