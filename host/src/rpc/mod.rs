//! The QUIC transport: a server that serves a [`crate::plugins::Plugins`] set
//! and a client, both driving the sans-IO [`crate::proto`] core.
//!
//! The client half builds with the `client` feature alone (no wasmtime).

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "server")]
mod server;
pub mod tls;
mod transport;

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

/// Application error codes on streams and connections.
pub mod codes {
    /// The client cancelled the call (`STOP_SENDING` / `RESET_STREAM`).
    pub const CANCELLED: u32 = 1;
    /// A frame was larger than the receiver's maximum; it stops reading.
    pub const FRAME_TOO_LARGE: u32 = 2;
    /// The stream was malformed; the receiver stops reading.
    pub const BAD_REQUEST: u32 = 3;
    /// The server is shutting down (connection close code).
    pub const SHUTDOWN: u32 = 4;
    /// The client's address is refused by the server's allow or deny list
    /// (connection close code; the reason names the rule).
    pub const IP_REFUSED: u32 = 5;
    /// The server or the client's address has its maximum of connections
    /// open (connection close code).
    pub const CONNECTION_LIMIT: u32 = 6;
}
