//! The plugins' key-value store shared by the hosts of a cluster: one
//! JetStream KV bucket, `warden_<cluster>_kv`.
//!
//! A plugin's key `k` is stored as `k.<plugin>.<k in hex>` (KV keys allow
//! few characters; hex keeps any key, and the plugin's token keeps each
//! plugin to its own keys). The plugin's usage (key plus value bytes, as
//! the local store counts it) is kept under `u.<plugin>` and changed with
//! compare-and-set on its revision, so the quota holds across hosts. The
//! usage is updated before the value is written: a host that dies between
//! the two leaves the usage counted high, never low. Listing reads every
//! key of the bucket (JetStream 2.9 has no filtered key listing) and keeps
//! the plugin's.

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;

use super::ClusterError;
use crate::caps::{CapError, MAX_LISTED_KEYS, MAX_VALUE_BYTES, SharedKv};
use crate::host::is_token;

/// How often a usage update is retried when other hosts change it too.
const CAS_TRIES: usize = 64;

/// The cluster's KV bucket as a [`SharedKv`].
#[derive(Clone)]
pub(super) struct JetStreamKv {
    store: async_nats::jetstream::kv::Store,
}

fn failed(e: impl std::fmt::Display) -> CapError {
    CapError::Failed(format!("the cluster's key-value store failed: {e}"))
}

pub(super) fn hex(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn entry_key(plugin: &str, key: &str) -> Result<String, CapError> {
    if !is_token(plugin) {
        return Err(CapError::Failed(format!(
            "plugin `{plugin}` has a name the cluster's store cannot hold"
        )));
    }
    Ok(format!("k.{plugin}.{}", hex(key)))
}

/// A JetStream key-value bucket (history 1) as the cluster makes them.
pub(super) struct Bucket {
    /// The bucket's name.
    pub(super) name: String,
    /// What it holds, for `nats stream info`.
    pub(super) description: &'static str,
    /// The largest message: a value, its key and the protocol's headers.
    pub(super) max_value: usize,
    /// How long an entry is kept (zero: for ever).
    pub(super) max_age: std::time::Duration,
    /// The most bytes it holds (-1: no limit); writes past it fail.
    pub(super) max_bytes: i64,
}

impl Bucket {
    /// Opens the bucket, creating it if needed.
    ///
    /// Its stream is made directly: `create_key_value` first asks for
    /// account details that a 2.9 server answers in a shape this client
    /// does not read.
    pub(super) async fn open(
        &self,
        client: &async_nats::Client,
    ) -> Result<async_nats::jetstream::kv::Store, ClusterError> {
        use async_nats::jetstream::stream::{Config, DiscardPolicy, StorageType};
        let js = async_nats::jetstream::new(client.clone());
        let bucket = &self.name;
        let stream = Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            description: Some(self.description.into()),
            max_messages_per_subject: 1,
            max_messages: -1,
            max_bytes: self.max_bytes,
            max_age: self.max_age,
            max_consumers: -1,
            max_message_size: i32::try_from(self.max_value).unwrap_or(i32::MAX),
            discard: DiscardPolicy::New,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            storage: StorageType::File,
            num_replicas: 1,
            ..Config::default()
        };
        let failed =
            |e: String| ClusterError::Store(format!("cannot open the KV bucket `{bucket}`: {e}"));
        js.get_or_create_stream(stream)
            .await
            .map_err(|e| failed(e.to_string()))?;
        js.get_key_value(bucket)
            .await
            .map_err(|e| failed(e.to_string()))
    }
}

impl JetStreamKv {
    /// Opens (or creates) the bucket of cluster `name`.
    pub(super) async fn open(
        client: &async_nats::Client,
        name: &str,
    ) -> Result<JetStreamKv, ClusterError> {
        let bucket = Bucket {
            name: format!("warden_{name}_kv"),
            description: "Warden: the plugins' key-value data",
            // The key and the protocol's headers fit beside a value.
            max_value: MAX_VALUE_BYTES + 8192,
            max_age: std::time::Duration::ZERO,
            max_bytes: -1,
        };
        let store = bucket.open(client).await?;
        Ok(JetStreamKv { store })
    }

    /// `plugin`'s usage and its revision (none yet: `None`).
    async fn usage(&self, plugin: &str) -> Result<(u64, Option<u64>), CapError> {
        let entry = self
            .store
            .entry(format!("u.{plugin}"))
            .await
            .map_err(failed)?;
        Ok(match entry {
            None => (0, None),
            Some(e) => {
                let used = <[u8; 8]>::try_from(e.value.as_ref()).map_or(0, u64::from_be_bytes);
                (used, Some(e.revision))
            }
        })
    }

    /// Changes `plugin`'s usage with `change` (which may refuse), retrying
    /// when another host changed it meanwhile.
    async fn account(
        &self,
        plugin: &str,
        change: impl Fn(u64) -> Result<u64, CapError>,
    ) -> Result<(), CapError> {
        let key = format!("u.{plugin}");
        let mut last = None;
        for _ in 0..CAS_TRIES {
            let (used, revision) = self.usage(plugin).await?;
            let next = Bytes::copy_from_slice(&change(used)?.to_be_bytes());
            let written = match revision {
                Some(revision) => self
                    .store
                    .update(&key, next, revision)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => self
                    .store
                    .create(&key, next)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            match written {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(failed(format!(
            "the usage of plugin `{plugin}` kept changing: {}",
            last.unwrap_or_default()
        )))
    }

    /// The stored size of `plugin`'s `key` (key plus value), if it exists.
    async fn size(&self, entry: &str, key: &str) -> Result<Option<u64>, CapError> {
        let value = self.store.get(entry).await.map_err(failed)?;
        Ok(value.map(|v| (key.len() + v.len()) as u64))
    }
}

impl SharedKv for JetStreamKv {
    fn get(
        &self,
        plugin: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Option<Vec<u8>>, CapError>> {
        let (kv, entry) = (self.clone(), entry_key(plugin, key));
        Box::pin(async move {
            let value = kv.store.get(entry?).await.map_err(failed)?;
            Ok(value.map(|v| v.to_vec()))
        })
    }

    fn set(
        &self,
        plugin: &str,
        key: &str,
        value: Vec<u8>,
        quota: u64,
    ) -> BoxFuture<'static, Result<(), CapError>> {
        let (kv, plugin, key) = (self.clone(), plugin.to_owned(), key.to_owned());
        Box::pin(async move {
            let entry = entry_key(&plugin, &key)?;
            let old = kv.size(&entry, &key).await?.unwrap_or(0);
            let new = (key.len() + value.len()) as u64;
            kv.account(&plugin, |used| {
                let next = used.saturating_sub(old) + new;
                if next > quota {
                    return Err(CapError::QuotaExceeded(format!(
                        "the plugin's key-value quota of {quota} bytes is used up ({used} bytes \
                         stored, this write needs {next}); delete keys or raise \
                         `limits.kv_quota` in its manifest"
                    )));
                }
                Ok(next)
            })
            .await?;
            kv.store
                .put(&entry, Bytes::from(value))
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    fn delete(&self, plugin: &str, key: &str) -> BoxFuture<'static, Result<bool, CapError>> {
        let (kv, plugin, key) = (self.clone(), plugin.to_owned(), key.to_owned());
        Box::pin(async move {
            let entry = entry_key(&plugin, &key)?;
            let Some(size) = kv.size(&entry, &key).await? else {
                return Ok(false);
            };
            kv.store.purge(&entry).await.map_err(failed)?;
            kv.account(&plugin, |used| Ok(used.saturating_sub(size)))
                .await?;
            Ok(true)
        })
    }

    fn list(
        &self,
        plugin: &str,
        prefix: &str,
    ) -> BoxFuture<'static, Result<Vec<String>, CapError>> {
        let (kv, plugin, prefix) = (self.clone(), plugin.to_owned(), prefix.to_owned());
        Box::pin(async move {
            let mine = format!("k.{plugin}.");
            let mut keys = Vec::new();
            let mut all = kv.store.keys().await.map_err(failed)?;
            while let Some(name) = all.next().await {
                let name = name.map_err(failed)?;
                let Some(key) = name.strip_prefix(&mine).and_then(unhex) else {
                    continue;
                };
                if !key.starts_with(&prefix) {
                    continue;
                }
                if keys.len() == MAX_LISTED_KEYS {
                    return Err(CapError::QuotaExceeded(format!(
                        "more than {MAX_LISTED_KEYS} keys start with `{prefix}`; list with a \
                         longer prefix"
                    )));
                }
                keys.push(key);
            }
            keys.sort();
            Ok(keys)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_bucket_keys_and_back() {
        for key in ["a", "with space/and.dots", "ünï", "*>"] {
            let entry = entry_key("notes", key).expect("a valid plugin");
            let encoded = entry.strip_prefix("k.notes.").expect("the plugin's prefix");
            assert!(encoded.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(unhex(encoded).as_deref(), Some(key));
        }
        assert!(entry_key("a.b", "k").is_err());
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("6"), None);
    }
}
