//! `warden:node/kv`: a key-value store per plugin in one redb database file
//! under the host's state directory.
//!
//! Keys live in one table keyed by `(plugin, key)`, so a plugin's reads and
//! listings are confined to its own name by construction. A second table
//! keeps each plugin's usage (key plus value bytes) for the quota check,
//! updated in the same transaction as the write it accounts for.
//!
//! In a cluster the store is shared instead: the cluster sets a
//! [`SharedKv`] ([`KvStore::share`]) and every host's plugins read and
//! write it (a JetStream KV bucket) with the same keys, limits and quotas.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;

use redb::{Database, ReadableTable, TableDefinition};

use super::CapError;

const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("kv");
const USAGE: TableDefinition<&str, u64> = TableDefinition::new("kv_usage");

/// The database's page cache (redb's default is a gigabyte).
const CACHE_BYTES: usize = 32 << 20;

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The largest value, in bytes; bigger data belongs in `blobs`.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most keys one `list-keys` call returns.
pub const MAX_LISTED_KEYS: usize = 10_000;

/// The host's key-value store. Cheap to clone; clones share everything,
/// the [`SharedKv`] set later included.
#[derive(Clone)]
pub struct KvStore {
    db: Arc<Database>,
    shared: Arc<OnceLock<Arc<dyn SharedKv>>>,
}

/// A key-value store shared by the hosts of a cluster, used instead of
/// the local database once set with [`KvStore::share`]. Keys and values
/// reach it already checked ([`MAX_KEY_BYTES`], [`MAX_VALUE_BYTES`]); it
/// keeps each plugin's keys apart and enforces the quota.
pub trait SharedKv: Send + Sync {
    /// The value of `plugin`'s `key`.
    fn get(&self, plugin: &str, key: &str)
    -> BoxFuture<'static, Result<Option<Vec<u8>>, CapError>>;
    /// Stores `value` under `plugin`'s `key` within `quota` bytes.
    fn set(
        &self,
        plugin: &str,
        key: &str,
        value: Vec<u8>,
        quota: u64,
    ) -> BoxFuture<'static, Result<(), CapError>>;
    /// Removes `plugin`'s `key`; whether it existed.
    fn delete(&self, plugin: &str, key: &str) -> BoxFuture<'static, Result<bool, CapError>>;
    /// `plugin`'s keys starting with `prefix`, in byte order, at most
    /// [`MAX_LISTED_KEYS`].
    fn list(&self, plugin: &str, prefix: &str)
    -> BoxFuture<'static, Result<Vec<String>, CapError>>;
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore").finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> CapError {
    CapError::Failed(format!("the key-value store failed: {e}"))
}

impl KvStore {
    /// Opens (or creates) the database file `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be created or opened, or is held by another
    /// process (one host per state directory).
    pub fn open(path: &Path) -> Result<KvStore, String> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| {
                format!(
                    "cannot open the key-value store `{}`: {e} (is another `warden serve` \
                 using the same --state-dir?)",
                    path.display()
                )
            })?;
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        txn.open_table(ENTRIES).map_err(|e| e.to_string())?;
        txn.open_table(USAGE).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())?;
        Ok(KvStore {
            db: Arc::new(db),
            shared: Arc::new(OnceLock::new()),
        })
    }

    /// From now on, keeps every plugin's data in `shared` instead of the
    /// local database (which stays as it is). Set once; a second call
    /// returns `false` and changes nothing.
    pub fn share(&self, shared: Arc<dyn SharedKv>) -> bool {
        self.shared.set(shared).is_ok()
    }

    /// The shared store, once set.
    pub(crate) fn shared(&self) -> Option<Arc<dyn SharedKv>> {
        self.shared.get().cloned()
    }

    /// The value of `plugin`'s `key`.
    pub(crate) fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, CapError> {
        check_key(key)?;
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(ENTRIES).map_err(failed)?;
        let value = table.get((plugin, key)).map_err(failed)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Stores `value` under `plugin`'s `key` if the plugin's usage stays
    /// within `quota` bytes; durable when it returns.
    pub(crate) fn set(
        &self,
        plugin: &str,
        key: &str,
        value: &[u8],
        quota: u64,
    ) -> Result<(), CapError> {
        check_key(key)?;
        check_value(value)?;
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut entries = txn.open_table(ENTRIES).map_err(failed)?;
            let mut usage = txn.open_table(USAGE).map_err(failed)?;
            let old = entries
                .get((plugin, key))
                .map_err(failed)?
                .map_or(0, |v| (key.len() + v.value().len()) as u64);
            let used = usage.get(plugin).map_err(failed)?.map_or(0, |v| v.value());
            let next = used.saturating_sub(old) + (key.len() + value.len()) as u64;
            if next > quota {
                return Err(CapError::QuotaExceeded(format!(
                    "the plugin's key-value quota of {quota} bytes is used up ({used} bytes \
                     stored, this write needs {next}); delete keys or raise `limits.kv_quota` \
                     in its manifest"
                )));
            }
            entries.insert((plugin, key), value).map_err(failed)?;
            usage.insert(plugin, next).map_err(failed)?;
        }
        txn.commit().map_err(failed)
    }

    /// Removes `plugin`'s `key`; whether it existed.
    pub(crate) fn delete(&self, plugin: &str, key: &str) -> Result<bool, CapError> {
        check_key(key)?;
        let txn = self.db.begin_write().map_err(failed)?;
        let existed = {
            let mut entries = txn.open_table(ENTRIES).map_err(failed)?;
            let mut usage = txn.open_table(USAGE).map_err(failed)?;
            let removed = entries
                .remove((plugin, key))
                .map_err(failed)?
                .map(|v| (key.len() + v.value().len()) as u64);
            if let Some(size) = removed {
                let used = usage.get(plugin).map_err(failed)?.map_or(0, |v| v.value());
                usage
                    .insert(plugin, used.saturating_sub(size))
                    .map_err(failed)?;
            }
            removed.is_some()
        };
        txn.commit().map_err(failed)?;
        Ok(existed)
    }

    /// `plugin`'s keys starting with `prefix`, in byte order.
    pub(crate) fn list(&self, plugin: &str, prefix: &str) -> Result<Vec<String>, CapError> {
        check_prefix(prefix)?;
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(ENTRIES).map_err(failed)?;
        let mut keys = Vec::new();
        for entry in table.range((plugin, prefix)..).map_err(failed)? {
            let (key, _) = entry.map_err(failed)?;
            let (owner, key) = key.value();
            if owner != plugin || !key.starts_with(prefix) {
                break;
            }
            if keys.len() == MAX_LISTED_KEYS {
                return Err(CapError::QuotaExceeded(format!(
                    "more than {MAX_LISTED_KEYS} keys start with `{prefix}`; list with a \
                     longer prefix"
                )));
            }
            keys.push(key.to_owned());
        }
        Ok(keys)
    }

    /// Bytes (keys plus values) `plugin` stores.
    pub fn usage(&self, plugin: &str) -> Result<u64, String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(USAGE).map_err(|e| e.to_string())?;
        let used = table.get(plugin).map_err(|e| e.to_string())?;
        Ok(used.map_or(0, |v| v.value()))
    }
}

/// Checks a key's length (what every store allows).
///
/// # Errors
///
/// [`CapError::Invalid`] for an empty or too long key.
pub fn check_key(key: &str) -> Result<(), CapError> {
    if key.is_empty() {
        return Err(CapError::Invalid("a key must not be empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(CapError::Invalid(format!(
            "a key of {} bytes is longer than the limit of {MAX_KEY_BYTES} bytes",
            key.len()
        )));
    }
    Ok(())
}

/// Checks a value's size (what every store allows).
///
/// # Errors
///
/// [`CapError::QuotaExceeded`] for a value over [`MAX_VALUE_BYTES`].
pub fn check_value(value: &[u8]) -> Result<(), CapError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(CapError::QuotaExceeded(format!(
            "a value of {} bytes is over the limit of {MAX_VALUE_BYTES} bytes per value; \
             store big data with `blobs` and keep its reference here",
            value.len()
        )));
    }
    Ok(())
}

/// Checks a listing prefix's length.
///
/// # Errors
///
/// [`CapError::Invalid`] for a prefix longer than any key.
pub fn check_prefix(prefix: &str) -> Result<(), CapError> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(CapError::Invalid(format!(
            "a prefix of {} bytes is longer than the longest key ({MAX_KEY_BYTES} bytes)",
            prefix.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_see_only_their_own_keys_and_usage_is_accounted() {
        let dir = tempfile::tempdir().unwrap();
        let kv = KvStore::open(&dir.path().join("kv.redb")).unwrap();
        kv.set("a", "k1", b"one", 1000).unwrap();
        kv.set("a", "k2", b"two", 1000).unwrap();
        kv.set("ab", "k1", b"other", 1000).unwrap();
        assert_eq!(kv.get("b", "k1").unwrap(), None);
        assert_eq!(kv.list("a", "").unwrap(), ["k1", "k2"]);
        assert_eq!(kv.list("a", "k2").unwrap(), ["k2"]);
        assert_eq!(kv.usage("a").unwrap(), 10);
        kv.set("a", "k1", b"1", 1000).unwrap();
        assert_eq!(kv.usage("a").unwrap(), 8);
        assert!(kv.delete("a", "k1").unwrap());
        assert!(!kv.delete("a", "k1").unwrap());
        assert_eq!(kv.usage("a").unwrap(), 5);
        let over = kv.set("a", "big", &[0; 100], 50).unwrap_err();
        assert!(matches!(over, CapError::QuotaExceeded(_)), "{over:?}");
        assert!(matches!(kv.get("a", ""), Err(CapError::Invalid(_))));
    }
}
