//! What the `status` request reports: each plugin's state and the compiled
//! cache's counters.

use rmpv::Value;

use super::record::{MapIn, MapOut, ProtoError};

/// Whether a plugin can be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginState {
    /// Its first version is being compiled; calls are `unavailable` until
    /// it is ready.
    Loading,
    /// A version is served.
    Ready,
    /// No version is served: its file failed to load (see `error`).
    Failed,
}

impl PluginState {
    /// `loading`, `ready` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginState::Loading => "loading",
            PluginState::Ready => "ready",
            PluginState::Failed => "failed",
        }
    }

    /// The state named `name`, if it is one.
    pub fn parse(name: &str) -> Option<PluginState> {
        [
            PluginState::Loading,
            PluginState::Ready,
            PluginState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// One plugin's state, as the `status` request reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginStatus {
    /// The plugin's name.
    pub name: String,
    /// Whether it can be called.
    pub state: PluginState,
    /// The served version, if one is served.
    pub version: Option<String>,
    /// When the served version was loaded (RFC 3339, UTC).
    pub loaded_at: Option<String>,
    /// How many nodes it has that callers can call.
    pub nodes: u64,
    /// Why the latest file failed to load (a `ready` plugin with an error
    /// still serves its previous version).
    pub error: Option<String>,
    /// The manifest's description.
    pub description: Option<String>,
    /// In a cluster, the hosts (cluster host ids) that have this plugin;
    /// empty on a host outside a cluster (the key is then left out).
    pub hosts: Vec<String>,
}

/// Counts of compiled-cache use since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Loads served from the cache.
    pub hits: u64,
    /// Loads that compiled (no entry).
    pub misses: u64,
    /// Entries found corrupt or stale and rebuilt.
    pub rejected: u64,
}

/// The answer to a `status` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerStatus {
    /// Every plugin, loading, served or failed, by name.
    pub plugins: Vec<PluginStatus>,
    /// How the compiled cache has been used since the server started.
    pub cache: CacheStats,
}

impl PluginStatus {
    /// The entry as a MessagePack map.
    pub fn to_value(&self) -> Value {
        MapOut::new()
            .put("name", self.name.as_str())
            .put("state", self.state.as_str())
            .opt("version", self.version.as_deref())
            .opt("loaded_at", self.loaded_at.as_deref())
            .put("nodes", self.nodes)
            .opt("error", self.error.as_deref())
            .opt("description", self.description.as_deref())
            .some(
                "hosts",
                (!self.hosts.is_empty()).then(|| {
                    Value::Array(self.hosts.iter().map(|h| Value::from(h.as_str())).collect())
                }),
            )
            .build()
    }

    /// Reads an entry.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming the field that is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<PluginStatus, ProtoError> {
        let mut map = MapIn::new(value, "plugin status")?;
        Ok(PluginStatus {
            name: map.str("name")?,
            state: map.name(
                "state",
                PluginState::parse,
                "`loading`, `ready` or `failed`",
            )?,
            version: map.opt_str("version")?,
            loaded_at: map.opt_str("loaded_at")?,
            nodes: map.opt_u64("nodes")?.unwrap_or(0),
            error: map.opt_str("error")?,
            description: map.opt_str("description")?,
            hosts: match map.take("hosts") {
                None | Some(Value::Nil) => Vec::new(),
                Some(Value::Array(hosts)) => hosts
                    .into_iter()
                    .map(|h| match h {
                        Value::String(s) => s
                            .into_str()
                            .ok_or_else(|| ProtoError("`hosts` holds a non-UTF-8 name".into())),
                        _ => Err(ProtoError("`hosts` must be an array of strings".into())),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(ProtoError("`hosts` must be an array of strings".into())),
            },
        })
    }
}

impl CacheStats {
    /// The counters as a MessagePack map.
    pub fn to_value(&self) -> Value {
        MapOut::new()
            .put("hits", self.hits)
            .put("misses", self.misses)
            .put("rejected", self.rejected)
            .build()
    }

    /// Reads the counters.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming the field that is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<CacheStats, ProtoError> {
        let mut map = MapIn::new(value, "cache counters")?;
        Ok(CacheStats {
            hits: map.opt_u64("hits")?.unwrap_or(0),
            misses: map.opt_u64("misses")?.unwrap_or(0),
            rejected: map.opt_u64("rejected")?.unwrap_or(0),
        })
    }
}

impl ServerStatus {
    /// The status as a MessagePack map.
    pub fn to_value(&self) -> Value {
        MapOut::new()
            .put(
                "plugins",
                Value::Array(self.plugins.iter().map(PluginStatus::to_value).collect()),
            )
            .put("cache", self.cache.to_value())
            .build()
    }

    /// Reads a status.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming the field that is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<ServerStatus, ProtoError> {
        let mut map = MapIn::new(value, "status")?;
        Ok(ServerStatus {
            plugins: map.list("plugins", PluginStatus::from_value)?,
            cache: match map.take("cache") {
                Some(cache) => CacheStats::from_value(cache)?,
                None => CacheStats::default(),
            },
        })
    }
}
