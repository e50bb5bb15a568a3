//! The store's series handles by the encoded labels a remote-write sender sends for them.
//!
//! A sender writes the same label fields for a series in every request, so the 128-bit hash of
//! those bytes names the series: a request's known series reach the store through their handle
//! without decoding, checking or hashing their labels again (VictoriaMetrics keeps a similar
//! cache of raw metric names). Equal bytes always decode to the same labels; two different
//! label encodings sharing a 128-bit hash is far less likely than a disk error, and a sender
//! can only misfile its own samples that way.
//!
//! Entries are kept in the order they were first remembered, and a request's lookups guess that
//! the next series is the one remembered after the last: a sender sends its series in a
//! stable order, so the guess usually holds and the lookups walk the entries forward (memory
//! the processor prefetches) instead of probing a hash table at random, which missed the cache
//! on nearly every lookup (14 % of server CPU under `bench/run.sh`).
//!
//! Entries not used for a while are dropped by generation: an entry used during a generation
//! is kept at the next rotation, the others (the series no one sent since) are dropped when the
//! generation is [`GENERATION`] old. Handles of series the store dropped answer `false` in
//! [`panoptes_storage::Appender::append_by_handle`] and are forgotten.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use panoptes_storage::SeriesHandle;
use parking_lot::{Mutex, RwLock, RwLockReadGuard};

/// How long a generation lasts; a series unsent for one to two generations is forgotten.
const GENERATION: Duration = Duration::from_secs(15 * 60);

/// Hashes the index keys, which are parts of hashes already, by taking them as they are.
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }
    fn write_u32(&mut self, value: u32) {
        // The table takes a slot from the low bits and a tag from the top seven: both from the
        // key's bits.
        self.0 = u64::from(value) << 32 | u64::from(value);
    }
}

/// A remembered series. The key is stored as two halves so that an entry needs no 16-byte
/// alignment; whether it was used is kept apart ([`Slots::used`]), so that an entry takes 32
/// bytes, not 40 (one per series sent).
struct Entry {
    key: [u64; 2],
    /// `None` once forgotten; the slot is reclaimed at the next rotation.
    handle: Option<SeriesHandle>,
}

fn halves(key: u128) -> [u64; 2] {
    [key as u64, (key >> 64) as u64]
}

#[derive(Default)]
struct Slots {
    /// In the order the series were first remembered.
    entries: Vec<Entry>,
    /// Whether each entry was used during the current generation.
    used: Vec<AtomicBool>,
    /// Entry positions by the low 32 bits of their key: 9 bytes a slot, not 17 with the low
    /// half. A clash leaves the second series unindexed (with 100,000 series, one or two do):
    /// it is found in the order of the entries, or looked up in the store as a new series is.
    index: HashMap<u32, u32, BuildHasherDefault<KeyHasher>>,
}

/// The index key of a key's halves.
fn index_key(key: &[u64; 2]) -> u32 {
    key[0] as u32
}

/// Series handles by the hash of their encoded label fields.
pub(crate) struct SeriesCache {
    slots: RwLock<Slots>,
    generation_started: Mutex<Instant>,
}

impl Default for SeriesCache {
    fn default() -> Self {
        Self { slots: RwLock::default(), generation_started: Mutex::new(Instant::now()) }
    }
}

/// Returns the cache key of a series' encoded label fields.
pub(crate) fn key(label_bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(label_bytes)
}

/// One request's view of the cache: lookups share one read lock for the whole request, and
/// what the request learns is applied by [`SeriesCache::update`] once it is done.
pub(crate) struct CacheReader<'a> {
    slots: RwLockReadGuard<'a, Slots>,
    /// Where the next lookup looks first: after the entry found last.
    next: usize,
}

impl CacheReader<'_> {
    /// Returns the handle remembered for `key`.
    pub(crate) fn get(&mut self, key: u128) -> Option<SeriesHandle> {
        let key = halves(key);
        // A forgotten entry can still hold the key (the series was remembered again later on).
        let position = match self.slots.entries.get(self.next) {
            Some(entry) if entry.key == key && entry.handle.is_some() => self.next,
            _ => *self.slots.index.get(&index_key(&key))? as usize,
        };
        let entry = &self.slots.entries[position];
        if entry.key != key {
            return None;
        }
        let handle = entry.handle.clone()?;
        let used = &self.slots.used[position];
        if !used.load(Ordering::Relaxed) {
            used.store(true, Ordering::Relaxed);
        }
        self.next = position + 1;
        Some(handle)
    }
}

/// What a request learned: series to remember and keys whose handles stopped working.
#[derive(Default)]
pub(crate) struct CacheUpdates {
    pub(crate) remember: Vec<(u128, SeriesHandle)>,
    pub(crate) forget: Vec<u128>,
}

impl SeriesCache {
    /// Returns a reader for one request; starts a new generation first when the current one is
    /// old enough.
    pub(crate) fn reader(&self) -> CacheReader<'_> {
        self.rotate_if_older_than(GENERATION);
        CacheReader { slots: self.slots.read(), next: 0 }
    }

    /// Applies what a request learned (after its reader is dropped).
    pub(crate) fn update(&self, updates: CacheUpdates) {
        if updates.remember.is_empty() && updates.forget.is_empty() {
            return;
        }
        let mut slots = self.slots.write();
        let slots = &mut *slots;
        for key in updates.forget {
            let key = halves(key);
            if let Some(&position) = slots.index.get(&index_key(&key))
                && slots.entries[position as usize].key == key
            {
                slots.index.remove(&index_key(&key));
                slots.entries[position as usize].handle = None;
            }
        }
        for (key, handle) in updates.remember {
            let key = halves(key);
            match slots.index.get(&index_key(&key)) {
                Some(&position) if slots.entries[position as usize].key == key => {
                    slots.entries[position as usize].handle = Some(handle);
                }
                Some(_) => {}
                None => {
                    let Ok(position) = u32::try_from(slots.entries.len()) else { continue };
                    slots.index.insert(index_key(&key), position);
                    slots.entries.push(Entry { key, handle: Some(handle) });
                    slots.used.push(AtomicBool::new(true));
                }
            }
        }
    }

    fn rotate_if_older_than(&self, age: Duration) {
        let mut started = self.generation_started.lock();
        if started.elapsed() < age {
            return;
        }
        *started = Instant::now();
        drop(started);
        let mut slots = self.slots.write();
        let slots = &mut *slots;
        let mut used = slots.used.iter();
        slots.entries.retain(|entry| {
            let was_used = used.next().is_some_and(|used| used.load(Ordering::Relaxed));
            entry.handle.is_some() && was_used
        });
        slots.entries.shrink_to_fit();
        slots.used = slots.entries.iter().map(|_| AtomicBool::new(false)).collect();
        slots.index.clear();
        for (position, entry) in slots.entries.iter().enumerate() {
            slots.index.insert(index_key(&entry.key), position as u32);
        }
        slots.index.shrink_to_fit();
    }

    /// Returns the number of remembered series.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.read().entries.iter().filter(|entry| entry.handle.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn handle(id: u32) -> SeriesHandle {
        SeriesHandle::new(Arc::new(id))
    }

    fn id(handle: &SeriesHandle) -> u32 {
        *handle.get::<u32>().expect("a test handle")
    }

    #[test]
    fn keys_differ_for_different_bytes_and_match_for_equal_ones() {
        assert_eq!(key(b"\x0a\x04\x0a\x01a\x12\x01b"), key(b"\x0a\x04\x0a\x01a\x12\x01b"));
        assert_ne!(key(b"\x0a\x04\x0a\x01a\x12\x01b"), key(b"\x0a\x04\x0a\x01a\x12\x01c"));
    }

    #[test]
    fn entries_used_in_a_generation_survive_the_next_rotation_and_unused_ones_are_dropped() {
        let cache = SeriesCache::default();
        let (used, unused) = (key(b"used"), key(b"unused"));
        cache.update(CacheUpdates { remember: vec![(used, handle(1)), (unused, handle(2))], forget: vec![] });
        cache.rotate_if_older_than(Duration::ZERO);
        assert_eq!(cache.reader().get(used).as_ref().map(id), Some(1), "remembered in the last generation");
        cache.rotate_if_older_than(Duration::ZERO);
        assert_eq!(cache.reader().get(used).as_ref().map(id), Some(1), "used in the last generation");
        assert!(cache.reader().get(unused).is_none(), "unused for a whole generation");
        assert_eq!(cache.len(), 1);
        cache.update(CacheUpdates { remember: vec![], forget: vec![used] });
        assert!(cache.reader().get(used).is_none());
        cache.rotate_if_older_than(Duration::from_secs(3600));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn lookups_find_every_entry_in_and_out_of_the_remembered_order() {
        let cache = SeriesCache::default();
        let keys: Vec<u128> = (0..100u32).map(|i| key(&i.to_le_bytes())).collect();
        cache.update(CacheUpdates {
            remember: keys.iter().enumerate().map(|(i, &k)| (k, handle(i as u32))).collect(),
            forget: vec![],
        });
        let mut reader = cache.reader();
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(reader.get(k).as_ref().map(id), Some(i as u32), "in order");
        }
        for (i, &k) in keys.iter().enumerate().rev().step_by(3) {
            assert_eq!(reader.get(k).as_ref().map(id), Some(i as u32), "backwards");
        }
        assert!(reader.get(key(b"never sent")).is_none());
        drop(reader);
        // Forgotten series are not found, also where the guess points at them; a key remembered
        // again gets its new handle.
        cache.update(CacheUpdates { remember: vec![(keys[7], handle(700))], forget: vec![keys[5]] });
        let mut reader = cache.reader();
        assert_eq!(reader.get(keys[4]).as_ref().map(id), Some(4));
        assert!(reader.get(keys[5]).is_none());
        assert_eq!(reader.get(keys[6]).as_ref().map(id), Some(6));
        assert_eq!(reader.get(keys[7]).as_ref().map(id), Some(700));
        drop(reader);
        // Remembered again after being forgotten: found through the index, although the guess
        // points at the old entry.
        cache.update(CacheUpdates { remember: vec![(keys[5], handle(500))], forget: vec![] });
        let mut reader = cache.reader();
        assert_eq!(reader.get(keys[4]).as_ref().map(id), Some(4));
        assert_eq!(reader.get(keys[5]).as_ref().map(id), Some(500));
    }
}
