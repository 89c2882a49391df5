//! The set of plugins a host knows, looked up by node name: served ones,
//! ones being loaded, and files that failed to load.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::manifest::Access;
use crate::proto::{NodeInfo, PluginState, PluginStatus, ServerStatus};
use crate::runtime::{NodeDesc, Plugin};

/// A plugin as served: the loaded component plus what the operator said
/// about it.
#[derive(Debug)]
pub struct Served {
    /// The loaded component.
    pub plugin: Plugin,
    /// The manifest's version, or `sha256:` and the first 12 hex digits of
    /// the component's hash.
    pub version: String,
    /// When this version was loaded.
    pub loaded_at: SystemTime,
    /// The manifest's description.
    pub description: Option<String>,
    /// Who may call it and which nodes are private.
    pub access: Access,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// Whether the compiled component came from the cache.
    pub from_cache: bool,
    calls: Option<(Arc<Semaphore>, usize)>,
}

impl Served {
    /// Wraps a loaded plugin with default metadata (no manifest).
    pub fn new(plugin: Plugin) -> Self {
        Served {
            plugin,
            version: String::new(),
            loaded_at: SystemTime::now(),
            description: None,
            access: Access::default(),
            file: PathBuf::new(),
            from_cache: false,
            calls: None,
        }
    }

    /// Limits how many calls of this plugin run at once.
    pub fn with_max_calls(mut self, max: Option<usize>) -> Self {
        self.calls = max.map(|n| (Arc::new(Semaphore::new(n)), n));
        self
    }

    /// The most calls of this plugin that may run at once, if limited.
    pub fn max_calls(&self) -> Option<usize> {
        self.calls.as_ref().map(|(_, max)| *max)
    }

    /// Calls of this plugin running now (counted only when limited).
    pub fn running_calls(&self) -> usize {
        self.calls
            .as_ref()
            .map_or(0, |(sem, max)| max - sem.available_permits())
    }

    /// Takes a slot for one call, when the plugin limits concurrent calls.
    /// `Err(max)` when all its slots are taken.
    pub fn try_start_call(&self) -> Result<Option<OwnedSemaphorePermit>, usize> {
        match &self.calls {
            None => Ok(None),
            Some((sem, max)) => sem.clone().try_acquire_owned().map(Some).map_err(|_| *max),
        }
    }

    /// Waits for a slot for one call, when the plugin limits concurrent
    /// calls.
    pub async fn start_call(&self) -> Option<OwnedSemaphorePermit> {
        let (sem, _) = self.calls.as_ref()?;
        // The semaphore is never closed.
        sem.clone().acquire_owned().await.ok()
    }

    /// Whether node `name` (inside the plugin) is private.
    pub fn is_private(&self, name: &str) -> bool {
        self.access.is_private(name)
    }

    /// Its nodes that callers can call: callable and not private.
    pub fn public_nodes(&self) -> impl Iterator<Item = &NodeDesc> {
        self.plugin
            .nodes()
            .filter(|n| n.not_callable.is_none() && !self.is_private(n.name()))
    }
}

/// A plugin file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The `.wasm` (or `.toml`) file.
    pub file: PathBuf,
    /// Why, naming the file and what to do.
    pub reason: String,
}

/// A plugin file being loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loading {
    /// The `.wasm` file.
    pub file: PathBuf,
    /// When loading started.
    pub since: Instant,
}

/// Why a full node name does not lead to a served plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No plugin by that name is known (or the name has no `/`).
    Unknown,
    /// The plugin's first version is still loading.
    Loading(Loading),
    /// The plugin's file failed to load and no version is served.
    Failed(Failed),
}

/// An immutable set of plugins by name: served, loading and failed.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    served: BTreeMap<String, Arc<Served>>,
    loading: BTreeMap<String, Loading>,
    failed: BTreeMap<String, Failed>,
}

impl Registry {
    /// Serves `plugin` with default metadata under its name.
    pub fn insert(&mut self, plugin: Plugin) {
        self.insert_served(Served::new(plugin));
    }

    /// Serves a plugin (replacing one of the same name); it is no longer
    /// loading or failed. A new version with the same call limit shares the
    /// old version's slots, so calls still running on the old one count.
    pub fn insert_served(&mut self, mut served: Served) {
        let name = served.plugin.name().to_owned();
        if let Some(previous) = self.served.get(&name)
            && previous.max_calls() == served.max_calls()
        {
            served.calls = previous.calls.clone();
        }
        self.failed.remove(&name);
        self.loading.remove(&name);
        self.served.insert(name, Arc::new(served));
    }

    /// Forgets plugin `name` entirely.
    pub fn remove(&mut self, name: &str) {
        self.served.remove(name);
        self.loading.remove(name);
        self.failed.remove(name);
    }

    /// Records that plugin `name`'s file is being loaded (a served version
    /// goes on being served meanwhile).
    pub fn set_loading(&mut self, name: &str, loading: Loading) {
        self.loading.insert(name.to_owned(), loading);
    }

    /// Records that the latest file of plugin `name` failed to load.
    pub fn set_failed(&mut self, name: &str, failed: Failed) {
        self.loading.remove(name);
        self.failed.insert(name.to_owned(), failed);
    }

    /// The served plugin `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Served>> {
        self.served.get(name)
    }

    /// The served plugins, by name.
    pub fn served(&self) -> impl Iterator<Item = &Arc<Served>> {
        self.served.values()
    }

    /// The failed files, by plugin name.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &Failed)> {
        self.failed.iter().map(|(n, f)| (n.as_str(), f))
    }

    /// Plugins with nothing served yet whose file is being loaded.
    pub fn loading(&self) -> impl Iterator<Item = (&str, &Loading)> {
        self.loading
            .iter()
            .filter(|(n, _)| !self.served.contains_key(*n))
            .map(|(n, l)| (n.as_str(), l))
    }

    /// Splits a full node name (`math/add`, `text/strings/upper`) into its
    /// served plugin and the node's name inside it.
    ///
    /// # Errors
    ///
    /// [`Unresolved`] saying whether the plugin is unknown, loading or failed.
    pub fn resolve<'n>(&self, full: &'n str) -> Result<(&Arc<Served>, &'n str), Unresolved> {
        let Some((plugin, node)) = full.split_once('/') else {
            return Err(Unresolved::Unknown);
        };
        if let Some(served) = self.served.get(plugin) {
            return Ok((served, node));
        }
        if let Some(loading) = self.loading.get(plugin) {
            return Err(Unresolved::Loading(loading.clone()));
        }
        match self.failed.get(plugin) {
            Some(failed) => Err(Unresolved::Failed(failed.clone())),
            None => Err(Unresolved::Unknown),
        }
    }

    /// Every public node (callable, not private) of every served plugin,
    /// sorted by full name, with its plugin.
    pub fn public_nodes(&self) -> Vec<(&Arc<Served>, &NodeInfo)> {
        let mut nodes: Vec<(&Arc<Served>, &NodeInfo)> = self
            .served
            .values()
            .flat_map(|s| s.public_nodes().map(move |n| (s, &n.info)))
            .collect();
        nodes.sort_by(|a, b| a.1.node.cmp(&b.1.node));
        nodes
    }

    /// Every plugin's state (loading, served or failed), by name.
    pub fn status(&self) -> Vec<PluginStatus> {
        let mut names: Vec<&String> = self
            .served
            .keys()
            .chain(self.failed.keys())
            .chain(self.loading.keys())
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let served = self.served.get(name);
                let state = match (served, self.loading.contains_key(name)) {
                    (Some(_), _) => PluginState::Ready,
                    (None, true) => PluginState::Loading,
                    (None, false) => PluginState::Failed,
                };
                PluginStatus {
                    name: name.clone(),
                    state,
                    version: served.map(|s| s.version.clone()),
                    loaded_at: served.map(|s| rfc3339(s.loaded_at)),
                    nodes: served.map_or(0, |s| s.public_nodes().count() as u64),
                    error: self.failed.get(name).map(|f| f.reason.clone()),
                    description: served.and_then(|s| s.description.clone()),
                    hosts: Vec::new(),
                }
            })
            .collect()
    }
}

/// `SystemTime` as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The plugins a host serves right now: a shared, replaceable [`Registry`].
///
/// Readers take a snapshot; a writer swaps in a new registry without waiting
/// for calls that hold the old one.
#[derive(Debug, Clone)]
pub struct Plugins {
    current: Arc<RwLock<Arc<Registry>>>,
    cache: Arc<RwLock<Option<Arc<super::CompiledCache>>>>,
    /// Bumped on every change, for whoever waits for a plugin to load.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for Plugins {
    fn default() -> Self {
        Plugins::new(Registry::default())
    }
}

impl Plugins {
    /// Serves `registry`.
    pub fn new(registry: Registry) -> Self {
        Plugins {
            current: Arc::new(RwLock::new(Arc::new(registry))),
            cache: Arc::default(),
            changes: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    /// A receiver that sees every later change of the registry.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Reports `cache`'s counters in [`Plugins::status`].
    pub fn attach_cache(&self, cache: Arc<super::CompiledCache>) {
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some(cache);
    }

    /// Every plugin's state and the compiled cache's counters.
    pub fn status(&self) -> ServerStatus {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|c| c.stats());
        ServerStatus {
            plugins: self.snapshot().status(),
            cache: cache.unwrap_or_default(),
        }
    }

    /// The registry as it is now.
    pub fn snapshot(&self) -> Arc<Registry> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the registry; calls already running keep their plugin.
    pub fn replace(&self, registry: Registry) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Applies `change` to a copy of the current registry and serves the result.
    pub fn update(&self, change: impl FnOnce(&mut Registry)) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**guard).clone();
        change(&mut next);
        *guard = Arc::new(next);
        drop(guard);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Forgets every plugin (a host shutting down lets go of them).
    pub fn clear(&self) {
        self.replace(Registry::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_name_resolves_to_served_loading_failed_or_unknown() {
        let mut registry = Registry::default();
        let loading = Loading {
            file: "big.wasm".into(),
            since: Instant::now(),
        };
        registry.set_loading("big", loading.clone());
        let failed = Failed {
            file: "bad.wasm".into(),
            reason: "bad.wasm: not wasm".into(),
        };
        registry.set_failed("bad", failed.clone());
        assert_eq!(
            registry.resolve("big/f").err(),
            Some(Unresolved::Loading(loading))
        );
        assert_eq!(
            registry.resolve("bad/f").err(),
            Some(Unresolved::Failed(failed))
        );
        assert_eq!(registry.resolve("none/f").err(), Some(Unresolved::Unknown));
        assert_eq!(registry.resolve("noslash").err(), Some(Unresolved::Unknown));
        let states: Vec<PluginState> = registry.status().iter().map(|p| p.state).collect();
        assert_eq!(states, [PluginState::Failed, PluginState::Loading]);
    }
}
