//! The notification log: for each aggregation group and integration, what was last notified
//! (firing and resolved alert fingerprints) and when. It decides whether a flush must notify
//! (Alertmanager's `DedupStage`) and is saved to `nflog.json` after every entry, so a restart
//! neither repeats nor drops notifications.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::persist;
use crate::types::Fingerprint;

/// One notification log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The aggregation group's key.
    pub(crate) group_key: String,
    /// `receiver/integration/index`.
    pub(crate) receiver: String,
    /// When the notification was sent.
    pub(crate) timestamp: Timestamp,
    /// The fingerprints notified as firing.
    pub(crate) firing: BTreeSet<Fingerprint>,
    /// The fingerprints notified as resolved.
    pub(crate) resolved: BTreeSet<Fingerprint>,
    /// When the entry may be forgotten.
    pub(crate) expires_at: Timestamp,
}

/// The notification log. Thread-safe.
pub(crate) struct NotificationLog {
    path: Option<PathBuf>,
    retention: Duration,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl std::fmt::Debug for NotificationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationLog").field("path", &self.path).finish_non_exhaustive()
    }
}

impl NotificationLog {
    /// Opens the log stored at `path` (empty when missing); `None` keeps it in memory only.
    ///
    /// # Errors
    ///
    /// Returns an error when the file cannot be read or does not decode.
    pub(crate) fn open(path: Option<PathBuf>, retention: Duration) -> Result<NotificationLog> {
        let stored: Vec<Entry> = match &path {
            Some(path) => persist::read_entries(path)?,
            None => Vec::new(),
        };
        let entries =
            stored.into_iter().map(|entry| ((entry.group_key.clone(), entry.receiver.clone()), entry)).collect();
        Ok(NotificationLog { path, retention, entries: Mutex::new(entries) })
    }

    /// Returns the last entry of a group and integration.
    pub(crate) fn query(&self, group_key: &str, receiver: &str) -> Option<Entry> {
        self.entries.lock().get(&(group_key.to_owned(), receiver.to_owned())).cloned()
    }

    /// Records a notification and saves the log.
    ///
    /// # Errors
    ///
    /// Returns I/O errors from saving; the entry is kept in memory regardless.
    pub(crate) fn log(
        &self,
        group_key: &str,
        receiver: &str,
        firing: BTreeSet<Fingerprint>,
        resolved: BTreeSet<Fingerprint>,
        now: Timestamp,
    ) -> Result<()> {
        let retention = jiff::SignedDuration::try_from(self.retention).unwrap_or(jiff::SignedDuration::MAX);
        let entry = Entry {
            group_key: group_key.to_owned(),
            receiver: receiver.to_owned(),
            timestamp: now,
            firing,
            resolved,
            expires_at: now.saturating_add(retention).unwrap_or(now),
        };
        let mut entries = self.entries.lock();
        entries.insert((group_key.to_owned(), receiver.to_owned()), entry);
        self.save(&entries)
    }

    fn save(&self, entries: &HashMap<(String, String), Entry>) -> Result<()> {
        if let Some(path) = &self.path {
            let mut list: Vec<&Entry> = entries.values().collect();
            list.sort_by(|a, b| (&a.group_key, &a.receiver).cmp(&(&b.group_key, &b.receiver)));
            persist::write_entries(path, &list)?;
        }
        Ok(())
    }

    /// Drops expired entries.
    ///
    /// # Errors
    ///
    /// Returns I/O errors from saving.
    pub(crate) fn gc(&self, now: Timestamp) -> Result<usize> {
        let mut entries = self.entries.lock();
        let before = entries.len();
        entries.retain(|_, entry| entry.expires_at > now);
        let removed = before - entries.len();
        if removed > 0 {
            self.save(&entries)?;
        }
        Ok(removed)
    }
}

/// Alertmanager's `DedupStage.needsUpdate`: whether a flush with these firing and resolved
/// alerts must notify, given the last entry.
pub(crate) fn needs_update(
    entry: Option<&Entry>,
    firing: &BTreeSet<Fingerprint>,
    resolved: &BTreeSet<Fingerprint>,
    send_resolved: bool,
    repeat_interval: Duration,
    now: Timestamp,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only firing alerts are worth a message.
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: tell the receiver, whatever send_resolved says, so that the log
        // forgets the firing alerts; unless the receiver never heard of them.
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved) {
        return true;
    }
    let repeat = jiff::SignedDuration::try_from(repeat_interval).unwrap_or(jiff::SignedDuration::MAX);
    entry.timestamp.saturating_add(repeat).is_ok_and(|due| due <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[u64]) -> BTreeSet<u64> {
        items.iter().copied().collect()
    }

    #[test]
    fn dedups_like_alertmanager() {
        let now = Timestamp::now();
        let hour = Duration::from_secs(3600);
        assert!(needs_update(None, &set(&[1]), &set(&[]), true, hour, now));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, hour, now));
        let entry = Entry {
            group_key: "g".into(),
            receiver: "r".into(),
            timestamp: now,
            firing: set(&[1, 2]),
            resolved: set(&[]),
            expires_at: now,
        };
        assert!(!needs_update(Some(&entry), &set(&[1]), &set(&[]), false, hour, now));
        assert!(needs_update(Some(&entry), &set(&[1, 3]), &set(&[]), false, hour, now));
        assert!(needs_update(Some(&entry), &set(&[1]), &set(&[2]), true, hour, now));
        assert!(!needs_update(Some(&entry), &set(&[1]), &set(&[2]), false, hour, now));
        assert!(needs_update(Some(&entry), &set(&[]), &set(&[1, 2]), false, hour, now));
        let later = now + jiff::SignedDuration::from_secs(3600);
        assert!(needs_update(Some(&entry), &set(&[1]), &set(&[]), false, hour, later));
    }

    #[test]
    fn log_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nflog.json");
        let log = NotificationLog::open(Some(path.clone()), Duration::from_secs(3600)).unwrap();
        log.log("g", "r/webhook/0", set(&[7]), set(&[]), Timestamp::now()).unwrap();
        let reopened = NotificationLog::open(Some(path), Duration::from_secs(3600)).unwrap();
        assert_eq!(reopened.query("g", "r/webhook/0").unwrap().firing, set(&[7]));
    }
}
