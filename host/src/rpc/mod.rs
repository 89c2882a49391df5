//! The QUIC front end: a server over the [`crate::host::Host`] service and a
//! client, both transport and framing only, driving the sans-IO
//! [`crate::proto`] state machines.
//!
//! The client half builds with the `client` feature alone (no wasmtime).

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "server")]
mod server;
pub mod tls;
mod transport;

pub use crate::proto::codes;
pub use client::{
    BlobInfo, CallOpts, CallStream, ChannelSender, Client, ClientError, ConnectOpts, Event,
    ItemStream,
};
#[cfg(feature = "server")]
pub use server::{Server, ServerConfig, ServerError, ServerStats};
pub use tls::{ServerIdentity, TlsError, Trust};

/// The default state directory of a server (its certificate, later its
/// database and cache), which local clients read the fingerprint from:
/// `$WARDEN_STATE_DIR`, else `$XDG_STATE_HOME/warden`, else
/// `~/.local/state/warden`, else `.warden`.
pub fn default_state_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(dir) = std::env::var_os("WARDEN_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("warden");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/state/warden"),
        None => PathBuf::from(".warden"),
    }
}
