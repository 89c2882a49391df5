//! The set of plugins a host serves, looked up by node name.
//!
//! For now `warden serve DIR` loads the `*.wasm` files of DIR once at start;
//! the watched, hot-reloading directory builds on [`Plugins`], which already
//! lets the set be replaced while calls run (a running call keeps the
//! [`Plugin`] it started with).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::proto::{NodeInfo, ParamInfo};
use crate::{Limits, LoadError, NodeDesc, Plugin, Runtime};

/// An immutable set of loaded plugins, by name.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    plugins: BTreeMap<String, Plugin>,
}

impl Registry {
    /// Adds (or replaces) a plugin under its name.
    pub fn insert(&mut self, plugin: Plugin) {
        self.plugins.insert(plugin.name().to_owned(), plugin);
    }

    /// The plugins, by name.
    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins.values()
    }

    /// Splits a full node name (`math/add`, `text/strings/upper`) into its
    /// plugin and the node's name inside it.
    pub fn resolve<'n>(&self, full: &'n str) -> Option<(&Plugin, &'n str)> {
        let (plugin, node) = full.split_once('/')?;
        Some((self.plugins.get(plugin)?, node))
    }

    /// Every callable node, sorted by full name.
    pub fn catalog(&self) -> Vec<NodeInfo> {
        self.plugins
            .values()
            .flat_map(|p| {
                p.nodes()
                    .filter(|n| n.not_callable.is_none())
                    .map(|n| node_info(p.name(), n))
            })
            .collect()
    }

    /// The catalog entry of one node.
    pub fn describe(&self, full: &str) -> Option<NodeInfo> {
        let (plugin, node) = self.resolve(full)?;
        let desc = plugin.node(node)?;
        desc.not_callable
            .is_none()
            .then(|| node_info(plugin.name(), desc))
    }

    /// Loads every `*.wasm` file in `dir` (not recursively), named by file
    /// stem. Files that fail to load are returned beside the registry, so
    /// one bad file never stops the others.
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
    }
}

/// The plugins a server serves right now: a shared, replaceable [`Registry`].
///
/// Readers take a snapshot; a writer swaps in a new registry without waiting
/// for calls that hold the old one.
#[derive(Debug, Clone, Default)]
pub struct Plugins {
    current: Arc<RwLock<Arc<Registry>>>,
}

impl Plugins {
    /// Serves `registry`.
    pub fn new(registry: Registry) -> Self {
        Plugins {
            current: Arc::new(RwLock::new(Arc::new(registry))),
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
}
