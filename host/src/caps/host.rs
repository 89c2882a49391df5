//! The `warden:node` host functions on a call's [`CallCaps`]. Every function
//! checks the plugin's grants again (load time already refused ungranted
//! imports), and every failure is a `types.error` value for the guest, never
//! a trap.

use std::sync::Arc;

use super::bindings::warden::node::types::Error;
use super::bindings::warden::node::{blobs, invoke, kv, log, progress, types};
use super::{
    BlobRef, BlobStore, BlobsGrant, CallCaps, CapError, Invocation, KvStore, MAX_INVOKE_DEPTH,
};
use crate::pattern::any_matches;
use crate::proto::{CallError, CallEvent, ErrorKind, LogLevel};

/// The longest log or progress message kept; longer ones are cut.
const MAX_MESSAGE_BYTES: usize = 64 << 10;

impl From<CapError> for Error {
    fn from(e: CapError) -> Self {
        match e {
            CapError::Denied(m) => Error::Denied(m),
            CapError::NotFound(m) => Error::NotFound(m),
            CapError::QuotaExceeded(m) => Error::QuotaExceeded(m),
            CapError::Invalid(m) => Error::Invalid(m),
            CapError::Failed(m) => Error::Failed(m),
        }
    }
}

fn truncate(message: String) -> String {
    crate::text::shorten(message, MAX_MESSAGE_BYTES)
}

/// Runs storage work off the async threads when a tokio runtime is there.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CapError> + Send + 'static,
) -> Result<T, Error> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(work).await {
            Ok(result) => result.map_err(Error::from),
            Err(e) => Err(Error::Failed(format!("the storage task failed: {e}"))),
        },
        Err(_) => work().map_err(Error::from),
    }
}

impl CallCaps {
    fn kv_store(&self) -> Result<(KvStore, Arc<str>), CapError> {
        if !self.caps.grants.kv {
            return Err(CapError::Denied(format!(
                "plugin `{}` is not granted `kv`; add `kv = true` under `[grants]` {}",
                self.plugin,
                self.manifest_hint()
            )));
        }
        let stores = self.caps.stores.as_ref().ok_or_else(no_stores)?;
        Ok((stores.kv.clone(), self.plugin.clone()))
    }

    fn blob_store(&self, write: bool) -> Result<BlobStore, CapError> {
        let granted = self.caps.grants.blobs;
        let allowed = match granted {
            Some(BlobsGrant::ReadWrite) => true,
            Some(BlobsGrant::Read) => !write,
            None => false,
        };
        if !allowed {
            let (has, needs) = match granted {
                Some(_) => ("`blobs = \"read\"`", "`blobs = \"read-write\"`"),
                None => ("no `blobs` grant", "`blobs = \"read\"`"),
            };
            return Err(CapError::Denied(format!(
                "plugin `{}` has {has}; this needs {needs} under `[grants]` {}",
                self.plugin,
                self.manifest_hint()
            )));
        }
        let stores = self.caps.stores.as_ref().ok_or_else(no_stores)?;
        Ok(stores.blobs.clone())
    }
}

fn no_stores() -> CapError {
    CapError::Failed(
        "this host runs without a state directory, so it has no key-value or blob store".into(),
    )
}

impl log::Host for CallCaps {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        CallCaps::log(self, level, &truncate(message));
    }
}

impl progress::Host for CallCaps {
    fn report(&mut self, fraction: f32, message: String) {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.emit(CallEvent::Progress {
            fraction,
            message: truncate(message),
        });
    }
}

impl types::Host for CallCaps {}

/// A cluster's shared store goes first; each operation is checked the
/// same way before it reaches either store.
impl kv::Host for CallCaps {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        let (store, plugin) = self.kv_store()?;
        if let Some(shared) = store.shared() {
            super::check_key(&key)?;
            return Ok(shared.get(&plugin, &key).await?);
        }
        blocking(move || store.get(&plugin, &key)).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        let (store, plugin) = self.kv_store()?;
        let quota = self.kv_quota;
        if let Some(shared) = store.shared() {
            super::check_key(&key)?;
            super::check_value(&value)?;
            return Ok(shared.set(&plugin, &key, value, quota).await?);
        }
        blocking(move || store.set(&plugin, &key, &value, quota)).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, Error> {
        let (store, plugin) = self.kv_store()?;
        if let Some(shared) = store.shared() {
            super::check_key(&key)?;
            return Ok(shared.delete(&plugin, &key).await?);
        }
        blocking(move || store.delete(&plugin, &key)).await
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, Error> {
        let (store, plugin) = self.kv_store()?;
        if let Some(shared) = store.shared() {
            super::check_prefix(&prefix)?;
            return Ok(shared.list(&plugin, &prefix).await?);
        }
        blocking(move || store.list(&plugin, &prefix)).await
    }
}

fn parse_ref(text: &str) -> Result<BlobRef, CapError> {
    BlobRef::parse(text).map_err(CapError::Invalid)
}

impl blobs::Host for CallCaps {
    async fn put(&mut self, data: Vec<u8>) -> Result<String, Error> {
        let store = self.blob_store(true)?;
        let writer = store.clone();
        let r = blocking(move || writer.put(&data)).await?;
        store.publish(r).await?;
        Ok(r.to_string())
    }

    async fn get(&mut self, reference: String) -> Result<Vec<u8>, Error> {
        let store = self.blob_store(false)?;
        let r = parse_ref(&reference)?;
        let max = self.max_blob_get;
        store.ensure_local(&r).await?;
        blocking(move || store.get(&r, max)).await
    }

    async fn stat(&mut self, reference: String) -> Result<Option<blobs::BlobStat>, Error> {
        let store = self.blob_store(false)?;
        let r = parse_ref(&reference)?;
        store.ensure_local(&r).await?;
        let size = blocking(move || store.stat(&r)).await?;
        Ok(size.map(|size| blobs::BlobStat { size }))
    }
}

impl invoke::Host for CallCaps {
    async fn call(&mut self, node: String, args: Vec<u8>) -> Result<Vec<u8>, Error> {
        let patterns = &self.caps.grants.invoke;
        if !any_matches(patterns, &node) {
            let granted = if patterns.is_empty() {
                "no `invoke` grant".to_owned()
            } else {
                format!("`invoke = {patterns:?}`")
            };
            return Err(CapError::Denied(format!(
                "plugin `{}` may not invoke `{node}`: it has {granted}; add a pattern \
                 matching `{node}` to `grants.invoke` {}",
                self.plugin,
                self.manifest_hint()
            ))
            .into());
        }
        if self.chain.len() >= MAX_INVOKE_DEPTH {
            return Err(Error::Failed(format!(
                "invoke chain too deep: at most {MAX_INVOKE_DEPTH} nodes may call one another \
                 in a chain ({} → {node}); is there a cycle?",
                self.chain.join(" → ")
            )));
        }
        let Some(invoker) = self.invoker.clone() else {
            return Err(Error::Failed(
                "this host does not route `invoke` calls (the node runs outside a server)".into(),
            ));
        };
        let mut slice = args.as_slice();
        let value = rmpv::decode::read_value(&mut slice)
            .map_err(|e| Error::Invalid(format!("`args` is not MessagePack: {e}")))?;
        if !slice.is_empty() {
            return Err(Error::Invalid(format!(
                "`args` has {} bytes after its MessagePack value",
                slice.len()
            )));
        }
        let call = Invocation {
            node,
            args: value,
            deadline: self.deadline,
            chain: self.chain.clone(),
            trace: self.trace.clone(),
        };
        let result = invoker.invoke(call).await.map_err(callee_error)?;
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &result)
            .map_err(|e| Error::Failed(format!("cannot encode the result: {e}")))?;
        Ok(out)
    }
}

fn callee_error(e: CallError) -> Error {
    let message = e.message;
    match e.kind {
        ErrorKind::NotFound => Error::NotFound(message),
        ErrorKind::Denied | ErrorKind::Unauthenticated => Error::Denied(message),
        ErrorKind::BadArgs => Error::Invalid(message),
        ErrorKind::ResourceLimit => Error::QuotaExceeded(message),
        kind => Error::Failed(format!("{kind}: {message}")),
    }
}
