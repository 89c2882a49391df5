//! What the `status` request reports: each plugin's state and the compiled
//! cache's counters.

use serde::{Deserialize, Serialize};

/// One plugin's state, as the `status` request reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginStatus {
    /// The plugin's name.
    pub name: String,
    /// `ready` or `failed`.
    pub state: String,
    /// The served version, if one is served.
    pub version: Option<String>,
    /// When the served version was loaded (RFC 3339, UTC).
    pub loaded_at: Option<String>,
    /// How many callable nodes it has.
    pub nodes: usize,
    /// Why the latest file failed to load (an older version may still be served).
    pub error: Option<String>,
    /// The manifest's description.
    pub description: Option<String>,
}

/// Counts of cache use since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Loads served from the cache.
    pub hits: u64,
    /// Loads that compiled (no entry).
    pub misses: u64,
    /// Entries found corrupt or stale and rebuilt.
    pub rejected: u64,
}

/// The answer to a `status` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Every plugin, served or failed, by name.
    pub plugins: Vec<PluginStatus>,
    /// How the compiled cache has been used since the server started.
    pub cache: CacheStats,
}

impl ServerStatus {
    /// Encodes the status as MessagePack.
    pub fn to_value(&self) -> rmpv::Value {
        rmpv::ext::to_value(self).unwrap_or(rmpv::Value::Nil)
    }

    /// Decodes a status.
    ///
    /// # Errors
    ///
    /// When the value does not have the status's fields.
    pub fn from_value(value: rmpv::Value) -> Result<ServerStatus, super::ProtoError> {
        rmpv::ext::from_value(value)
            .map_err(|e| super::ProtoError(format!("malformed status: {e}")))
    }
}
