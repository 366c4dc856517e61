//! Per-instance caches with a time to live: what each instance may keep
//! for a short while instead of asking the database again. Only ever a
//! cache: an entry may be stale for up to its TTL, nothing is shared between
//! instances, and a TTL of 0 turns the cache off (every read misses).

use std::hash::Hash;
use std::time::Duration;

use moka::sync::Cache;

#[derive(Clone)]
pub struct TtlCache<K, V> {
    entries: Option<Cache<K, V>>,
}

impl<K, V> std::fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache")
            .field("enabled", &self.entries.is_some())
            .finish()
    }
}

impl<K, V> TtlCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Keeps at most `capacity` entries, each for `ttl_ms` (0 = off).
    pub fn new(ttl_ms: u64, capacity: u64) -> Self {
        Self {
            entries: (ttl_ms > 0).then(|| {
                Cache::builder()
                    .max_capacity(capacity)
                    .time_to_live(Duration::from_millis(ttl_ms))
                    .build()
            }),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.entries.as_ref()?.get(key)
    }

    pub fn insert(&self, key: K, value: V) {
        if let Some(entries) = &self.entries {
            entries.insert(key, value);
        }
    }

    /// Forget `key` after a change to what it holds.
    pub fn invalidate(&self, key: &K) {
        if let Some(entries) = &self.entries {
            entries.invalidate(key);
        }
    }
}
