//! The store's series handles by the encoded labels a remote-write sender sends for them.
//!
//! A sender writes the same label fields for a series in every request, so the 128-bit hash of
//! those bytes names the series: a request's known series reach the store through their handle
//! without decoding, checking or hashing their labels again (VictoriaMetrics keeps a similar
//! cache of raw metric names). Equal bytes always decode to the same labels; two different
//! label encodings sharing a 128-bit hash is far less likely than a disk error, and a sender
//! can only misfile its own samples that way.
//!
//! Entries not used for a while are dropped by generation: lookups move entries from the
//! previous generation into the current one, and the previous generation (the series no one
//! sent since) is dropped when the current one is [`GENERATION`] old. Handles of series the
//! store dropped answer `false` in [`panoptes_storage::Appender::append_by_handle`] and are
//! forgotten.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::time::{Duration, Instant};

use panoptes_storage::SeriesHandle;
use parking_lot::Mutex;

/// How long a generation lasts; a series unsent for one to two generations is forgotten.
const GENERATION: Duration = Duration::from_secs(15 * 60);

/// Lock shards; requests are ingested concurrently.
const SHARDS: usize = 16;

/// Hashes the keys, which are already hashes, by taking their low bits.
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
    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

type Map = HashMap<u128, SeriesHandle, BuildHasherDefault<KeyHasher>>;

#[derive(Default)]
struct Shard {
    current: Map,
    previous: Map,
}

/// Series handles by the hash of their encoded label fields.
pub(crate) struct SeriesCache {
    shards: Vec<Mutex<Shard>>,
    generation_started: Mutex<Instant>,
}

impl Default for SeriesCache {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), generation_started: Mutex::new(Instant::now()) }
    }
}

/// Returns the cache key of a series' encoded label fields.
pub(crate) fn key(label_bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(label_bytes)
}

impl SeriesCache {
    fn shard(&self, key: u128) -> &Mutex<Shard> {
        // The low bits pick the map bucket; the shard comes from the high ones.
        &self.shards[(key >> 64) as usize % SHARDS]
    }

    /// Returns the handle remembered for `key`.
    pub(crate) fn get(&self, key: u128) -> Option<SeriesHandle> {
        let mut shard = self.shard(key).lock();
        if let Some(handle) = shard.current.get(&key) {
            return Some(handle.clone());
        }
        let handle = shard.previous.remove(&key)?;
        shard.current.insert(key, handle.clone());
        Some(handle)
    }

    /// Remembers `handle` for `key`.
    pub(crate) fn insert(&self, key: u128, handle: SeriesHandle) {
        self.shard(key).lock().current.insert(key, handle);
    }

    /// Forgets `key` (its handle no longer works).
    pub(crate) fn remove(&self, key: u128) {
        let mut shard = self.shard(key).lock();
        shard.current.remove(&key);
        shard.previous.remove(&key);
    }

    /// Starts a new generation when the current one is old enough; called once per request.
    pub(crate) fn maybe_rotate(&self) {
        self.rotate_if_older_than(GENERATION);
    }

    fn rotate_if_older_than(&self, age: Duration) {
        let mut started = self.generation_started.lock();
        if started.elapsed() < age {
            return;
        }
        *started = Instant::now();
        drop(started);
        for shard in &self.shards {
            let mut shard = shard.lock();
            shard.previous = std::mem::take(&mut shard.current);
        }
    }

    /// Returns the number of remembered series.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard.lock();
                shard.current.len() + shard.previous.len()
            })
            .sum()
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
        cache.insert(used, handle(1));
        cache.insert(unused, handle(2));
        cache.rotate_if_older_than(Duration::ZERO);
        assert_eq!(cache.get(used).as_ref().map(id), Some(1), "found in the previous generation");
        cache.rotate_if_older_than(Duration::ZERO);
        assert_eq!(cache.get(used).as_ref().map(id), Some(1), "moved into the current one when used");
        assert!(cache.get(unused).is_none(), "unused for a whole generation");
        assert_eq!(cache.len(), 1);
        cache.remove(used);
        assert!(cache.get(used).is_none());
        cache.rotate_if_older_than(Duration::from_secs(3600));
        assert_eq!(cache.len(), 0);
    }
}
