//! Host implementations of the `warden:node` WIT interfaces and the grants
//! that allow them.
//!
//! - [`Grants`] and [`Capabilities`]: what a plugin was given; checked when
//!   it loads ([`check`]: an ungranted import fails the load, naming the
//!   manifest line to add) and again on every host call.
//! - `log` and `progress` (always granted), [`KvStore`] (`kv`),
//!   [`BlobStore`] (`blobs`) and [`Invoker`] (`invoke`).
//! - [`CallCaps`]: what one call may reach, owned by the call's store data;
//!   the host functions find it through [`CapsView`], as `wasmtime_wasi`'s
//!   functions find theirs through `WasiView`. This module knows nothing of
//!   the runtime that owns the store.
//! - WASI directories and environment variables from the grants are set up
//!   per call by the runtime.

mod blobs;
mod context;
mod grants;
mod host;
mod invoke;
mod kv;
mod outbound;

use std::path::Path;

use wasmtime::component::{HasSelf, Linker};

pub use blobs::{
    BlobReader, BlobRef, BlobStore, BlobWriter, DEFAULT_MAX_BLOB_BYTES, REF_PREFIX, SharedBlobs,
};
pub use context::{CallCaps, CapsView, EventSink};
pub use grants::{BlobsGrant, Capabilities, DirGrant, GrantError, Grants, INTERFACES, check};
pub use invoke::{Invocation, InvokeFuture, Invoker, MAX_INVOKE_DEPTH};
pub use kv::{
    KvStore, MAX_KEY_BYTES, MAX_LISTED_KEYS, MAX_VALUE_BYTES, SharedKv, check_key, check_prefix,
    check_value,
};
pub use outbound::MAX_RESPONSE_BYTES;
pub(crate) use outbound::OutboundHttp;

/// Bindings generated from `wit/`, the single source of truth.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "warden:node/host",
        imports: {
            "warden:node/kv": async,
            "warden:node/blobs": async,
            "warden:node/invoke": async,
        },
    });
}

/// Why a capability call failed; the guest receives it as
/// `warden:node/types.error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// The operation was not granted.
    #[error("denied: {0}")]
    Denied(String),
    /// The key, blob or node does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A size or count limit was reached.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// An argument is malformed.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The host failed.
    #[error("failed: {0}")]
    Failed(String),
}

/// The host's stores: the key-value database and the blob directory, both
/// under the state directory.
#[derive(Debug, Clone)]
pub struct Stores {
    /// `STATE/kv.redb`.
    pub kv: KvStore,
    /// `STATE/blobs/`.
    pub blobs: BlobStore,
}

impl Stores {
    /// Opens (or creates) the stores in `state_dir`.
    ///
    /// # Errors
    ///
    /// When a store cannot be opened, with the path and the reason.
    pub fn open(state_dir: &Path) -> Result<Stores, String> {
        Self::open_with(state_dir, DEFAULT_MAX_BLOB_BYTES)
    }

    /// Opens the stores with blobs of at most `max_blob` bytes.
    ///
    /// # Errors
    ///
    /// As [`Stores::open`].
    pub fn open_with(state_dir: &Path, max_blob: u64) -> Result<Stores, String> {
        crate::state_dir::prepare(state_dir)?;
        // The key-value store's lock comes first: a second host on the same
        // directory stops there, before touching the blob store.
        let kv = KvStore::open(&state_dir.join("kv.redb"))?;
        Ok(Stores {
            kv,
            blobs: BlobStore::open(&state_dir.join("blobs"), max_blob)?,
        })
    }
}

/// Links every `warden:node` interface for store data `T`; each host
/// function reaches the call's [`CallCaps`] through `T`'s [`CapsView`].
///
/// # Errors
///
/// When an interface cannot be linked (a name defined twice).
pub fn add_to_linker<T: CapsView + Send + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    use bindings::warden::node::{blobs, invoke, kv, log, progress, types};
    let link = |e: wasmtime::Error, iface: &str| {
        anyhow::anyhow!("failed to link warden:node/{iface}: {e:#}")
    };
    let get: fn(&mut T) -> &mut CallCaps = T::caps;
    log::add_to_linker::<T, HasSelf<CallCaps>>(linker, get).map_err(|e| link(e, "log"))?;
    progress::add_to_linker::<T, HasSelf<CallCaps>>(linker, get)
        .map_err(|e| link(e, "progress"))?;
    types::add_to_linker::<T, HasSelf<CallCaps>>(linker, get).map_err(|e| link(e, "types"))?;
    kv::add_to_linker::<T, HasSelf<CallCaps>>(linker, get).map_err(|e| link(e, "kv"))?;
    blobs::add_to_linker::<T, HasSelf<CallCaps>>(linker, get).map_err(|e| link(e, "blobs"))?;
    invoke::add_to_linker::<T, HasSelf<CallCaps>>(linker, get).map_err(|e| link(e, "invoke"))?;
    Ok(())
}
