//! The set of served plugins, looked up by node name, and the files that
//! failed to load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::manifest::Access;
use crate::proto::{NodeInfo, ParamInfo, PluginStatus};
use crate::{Limits, LoadError, NodeDesc, Plugin, Runtime};

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

    /// Takes a slot for one call, when the plugin limits concurrent calls.
    /// `Err(max)` when all its slots are taken.
    pub fn try_start_call(&self) -> Result<Option<OwnedSemaphorePermit>, usize> {
        match &self.calls {
            None => Ok(None),
            Some((sem, max)) => sem.clone().try_acquire_owned().map(Some).map_err(|_| *max),
        }
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

/// An immutable set of served plugins, by name, and of failed files.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    served: BTreeMap<String, Arc<Served>>,
    failed: BTreeMap<String, Failed>,
}

impl Registry {
    /// Serves `plugin` with default metadata under its name.
    pub fn insert(&mut self, plugin: Plugin) {
        self.insert_served(Served::new(plugin));
    }

    /// Serves a plugin (replacing one of the same name) and clears its failure.
    pub fn insert_served(&mut self, served: Served) {
        let name = served.plugin.name().to_owned();
        self.failed.remove(&name);
        self.served.insert(name, Arc::new(served));
    }

    /// Stops serving plugin `name` and forgets its failure.
    pub fn remove(&mut self, name: &str) {
        self.served.remove(name);
        self.failed.remove(name);
    }

    /// Records that the latest file of plugin `name` failed to load.
    pub fn set_failed(&mut self, name: &str, failed: Failed) {
        self.failed.insert(name.to_owned(), failed);
    }

    /// The served plugin `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Served>> {
        self.served.get(name)
    }

    /// The served plugins, by name.
    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.served.values().map(|s| &s.plugin)
    }

    /// The failed files, by plugin name.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &Failed)> {
        self.failed.iter().map(|(n, f)| (n.as_str(), f))
    }

    /// Splits a full node name (`math/add`, `text/strings/upper`) into its
    /// served plugin and the node's name inside it.
    pub fn resolve<'n>(&self, full: &'n str) -> Option<(&Arc<Served>, &'n str)> {
        let (plugin, node) = full.split_once('/')?;
        Some((self.served.get(plugin)?, node))
    }

    /// Every node callable from outside (not private), sorted by full name.
    pub fn catalog(&self) -> Vec<NodeInfo> {
        self.served
            .values()
            .flat_map(|s| {
                s.plugin
                    .nodes()
                    .filter(|n| n.not_callable.is_none() && !s.access.is_private(&n.name))
                    .map(|n| node_info(s.plugin.name(), n))
            })
            .collect()
    }

    /// The catalog entry of one node (`None` for private ones too).
    pub fn describe(&self, full: &str) -> Option<NodeInfo> {
        let (served, node) = self.resolve(full)?;
        let desc = served.plugin.node(node)?;
        (desc.not_callable.is_none() && !served.access.is_private(node))
            .then(|| node_info(served.plugin.name(), desc))
    }

    /// Every plugin's state, served and failed, by name.
    pub fn status(&self) -> Vec<PluginStatus> {
        let mut names: Vec<&String> = self.served.keys().chain(self.failed.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let served = self.served.get(name);
                let failed = self.failed.get(name);
                PluginStatus {
                    name: name.clone(),
                    state: if served.is_some() { "ready" } else { "failed" }.into(),
                    version: served.map(|s| s.version.clone()),
                    loaded_at: served.map(|s| rfc3339(s.loaded_at)),
                    nodes: served.map_or(0, |s| {
                        s.plugin
                            .nodes()
                            .filter(|n| n.not_callable.is_none() && !s.access.is_private(&n.name))
                            .count()
                    }),
                    error: failed.map(|f| f.reason.clone()),
                    description: served.and_then(|s| s.description.clone()),
                }
            })
            .collect()
    }

    /// Loads every `*.wasm` file in `dir` (not recursively) with `limits`,
    /// named by file stem and without manifests. Files that fail to load are
    /// returned beside the registry, so one bad file never stops the others.
    /// [`PluginDir`](super::PluginDir) is the full version with manifests.
    ///
    /// # Errors
    ///
    /// When `dir` itself cannot be read.
    pub fn load_dir(
        runtime: &Runtime,
        dir: &Path,
        limits: &Limits,
    ) -> std::io::Result<(Registry, Vec<(PathBuf, LoadError)>)> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
            .collect();
        paths.sort();
        let mut registry = Registry::default();
        let mut failed = Vec::new();
        for path in paths {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match runtime.load_file(&name, &path, limits.clone()) {
                Ok(plugin) => registry.insert(plugin),
                Err(e) => failed.push((path, e)),
            }
        }
        Ok((registry, failed))
    }
}

fn node_info(plugin: &str, desc: &NodeDesc) -> NodeInfo {
    NodeInfo {
        node: format!("{plugin}/{}", desc.name),
        plugin: plugin.to_owned(),
        params: desc
            .params
            .iter()
            .map(|p| ParamInfo {
                name: p.name.clone(),
                ty: p.ty.clone(),
                schema: p.schema.clone(),
            })
            .collect(),
        result: desc.result.clone(),
        docs: desc.docs.clone(),
        params_schema: desc.params_schema.clone(),
        result_schema: desc.result_schema.clone(),
        kind: desc.kind.as_str().to_owned(),
        item: desc.item.clone(),
        item_schema: desc.item_schema.clone(),
        input: desc.input.clone(),
        input_schema: desc.input_schema.clone(),
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

/// The plugins a server serves right now: a shared, replaceable [`Registry`].
///
/// Readers take a snapshot; a writer swaps in a new registry without waiting
/// for calls that hold the old one.
#[derive(Debug, Clone, Default)]
pub struct Plugins {
    current: Arc<RwLock<Arc<Registry>>>,
    cache: Arc<RwLock<Option<Arc<super::CompiledCache>>>>,
}

impl Plugins {
    /// Serves `registry`.
    pub fn new(registry: Registry) -> Self {
        Plugins {
            current: Arc::new(RwLock::new(Arc::new(registry))),
            cache: Arc::default(),
        }
    }

    /// Reports `cache`'s counters in [`Plugins::status`].
    pub fn attach_cache(&self, cache: Arc<super::CompiledCache>) {
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some(cache);
    }

    /// Every plugin's state and the compiled cache's counters.
    pub fn status(&self) -> crate::proto::ServerStatus {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|c| c.stats());
        crate::proto::ServerStatus {
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
    }

    /// Applies `change` to a copy of the current registry and serves the result.
    pub fn update(&self, change: impl FnOnce(&mut Registry)) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**guard).clone();
        change(&mut next);
        *guard = Arc::new(next);
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
}
