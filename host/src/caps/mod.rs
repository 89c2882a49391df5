//! Host implementations of the `warden:node` WIT interfaces and the grants
//! that allow them.
//!
//! - [`Grants`] and [`Capabilities`]: what a plugin was given; checked when
//!   it loads (an ungranted import fails the load, naming the manifest line
//!   to add) and again on every host call.
//! - `log` and `progress` (always granted), [`KvStore`] (`kv`),
//!   [`BlobStore`] (`blobs`) and [`Invoker`] (`invoke`).
//! - WASI directories and environment variables from the grants are set up
//!   per call in the runtime's call state.

mod blobs;
mod grants;
mod host;
mod invoke;
mod kv;

use std::path::Path;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::CallState;

pub use blobs::{BlobReader, BlobRef, BlobStore, BlobWriter, DEFAULT_MAX_BLOB_BYTES, REF_PREFIX};
pub use grants::{BlobsGrant, Capabilities, DirGrant, Grants, INTERFACES, pattern_matches};
pub(crate) use grants::{check, invoke_allowed};
pub use invoke::{InvokeFuture, Invoker, MAX_INVOKE_DEPTH};
pub use kv::{KvStore, MAX_KEY_BYTES, MAX_LISTED_KEYS, MAX_VALUE_BYTES};

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
        std::fs::create_dir_all(state_dir).map_err(|e| {
            format!(
                "cannot create the state directory `{}`: {e}",
                state_dir.display()
            )
        })?;
        Ok(Stores {
            kv: KvStore::open(&state_dir.join("kv.redb"))?,
            blobs: BlobStore::open(&state_dir.join("blobs"))?,
        })
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> anyhow::Result<()> {
    use bindings::warden::node::{blobs, invoke, kv, log, progress, types};
    let link = |e: wasmtime::Error, iface: &str| {
        anyhow::anyhow!("failed to link warden:node/{iface}: {e:#}")
    };
    log::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        .map_err(|e| link(e, "log"))?;
    progress::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        .map_err(|e| link(e, "progress"))?;
    types::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        .map_err(|e| link(e, "types"))?;
    kv::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s).map_err(|e| link(e, "kv"))?;
    blobs::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        .map_err(|e| link(e, "blobs"))?;
    invoke::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        .map_err(|e| link(e, "invoke"))?;
    Ok(())
}
