//! A loaded plugin: its nodes, imports, limits, grants and the pre-linked
//! instance template every call is instantiated from.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Component, Instance, InstancePre};

use super::config::Limits;
use super::engine::Runtime;
use super::error::LoadError;
use super::reflect::{self, ImportDesc, NodeDesc, NodeEntry};
use super::store::{CallState, new_store};
use super::warm::Pool;
use super::wit_docs::{self, WitSource, WitWorld};
use crate::caps::{Capabilities, GrantError};

/// One loaded component: its nodes and a pre-linked instance template.
///
/// Cheap to clone. Every call runs in a fresh instance with the plugin's
/// [`Limits`], so calls share no state and one call's failure cannot affect
/// another.
#[derive(Clone)]
pub struct Plugin {
    pub(super) inner: Arc<PluginInner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("nodes", &self.inner.nodes.len())
            .finish_non_exhaustive()
    }
}

pub(super) struct PluginInner {
    pub(super) runtime: Runtime,
    pub(super) name: Arc<str>,
    pub(super) pre: InstancePre<CallState>,
    pub(super) nodes: Vec<NodeEntry>,
    by_name: HashMap<String, usize>,
    imports: Vec<ImportDesc>,
    pub(super) limits: Limits,
    pub(super) caps: Arc<Capabilities>,
    /// Instances made ahead of calls.
    pub(super) warm: Pool,
    /// The component's WIT, when it could be read.
    wit: Option<WitWorld>,
}

impl Plugin {
    pub(crate) fn new(
        runtime: Runtime,
        name: &str,
        component: Component,
        bytes: Option<&[u8]>,
        limits: Limits,
        caps: Capabilities,
    ) -> Result<Plugin, LoadError> {
        let engine = &runtime.inner.engine;
        let imports = reflect::imports(engine, &component);
        crate::caps::check(name, imports.iter().map(|i| i.name.as_str()), &caps)
            .map_err(|e| grant_error(name, e))?;
        if let Some(missing) = imports.iter().find(|i| !i.provided) {
            return Err(LoadError::UnsatisfiedImport {
                plugin: name.to_owned(),
                import: missing.name.clone(),
                hint: format!("Warden provides {}", super::imports::PROVIDED),
            });
        }
        let pre = runtime
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link {
                plugin: name.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let started = std::time::Instant::now();
        let wit = bytes.and_then(wit_docs::read);
        tracing::debug!(plugin = name, elapsed = ?started.elapsed(), found = wit.is_some(), "read the component's WIT");
        let nodes = reflect::nodes(engine, &component, name, wit.as_ref());
        let by_name = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.desc.name().to_owned(), i))
            .collect();
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                runtime,
                name: name.into(),
                pre,
                nodes,
                by_name,
                imports,
                limits,
                caps: Arc::new(caps),
                warm: Pool::default(),
                wit,
            }),
        })
    }

    /// The plugin's name (the first part of its nodes' full names).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The plugin's limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Every exported function, sorted by name, including those that cannot
    /// be called (see [`NodeDesc::not_callable`]).
    pub fn nodes(&self) -> impl Iterator<Item = &NodeDesc> {
        self.inner.nodes.iter().map(|n| &n.desc)
    }

    /// The node called `name` inside the plugin (`f` or `iface/f`).
    pub fn node(&self, name: &str) -> Option<&NodeDesc> {
        self.entry(name).map(|n| &n.desc)
    }

    /// What the plugin was granted.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.caps
    }

    /// What the component imports.
    pub fn imports(&self) -> &[ImportDesc] {
        &self.inner.imports
    }

    /// The component's world as WIT text (what callers see), and where it
    /// came from: the `warden:wit` section the SDKs embed (with docs) or the
    /// component's own types. `None` when the plugin was loaded without its
    /// bytes or they hold no readable world.
    pub fn wit(&self) -> Option<(WitSource, String)> {
        let wit = self.inner.wit.as_ref()?;
        Some((wit.source(), wit.text()))
    }

    /// Why the component's embedded WIT was ignored, when it was.
    pub fn wit_warning(&self) -> Option<&str> {
        self.inner.wit.as_ref()?.warning.as_deref()
    }

    /// Instances made ahead of calls and waiting for one (see
    /// [`crate::RuntimeConfig::warm_instances`]).
    pub fn ready_instances(&self) -> usize {
        self.inner.warm.len()
    }

    /// Instances made ahead of calls since the plugin was loaded.
    pub fn instances_made_ahead(&self) -> u64 {
        self.inner.warm.made()
    }

    pub(super) fn entry(&self, name: &str) -> Option<&NodeEntry> {
        self.inner.by_name.get(name).map(|&i| &self.inner.nodes[i])
    }

    /// `plugin/node`.
    pub(super) fn full(&self, node: &NodeEntry) -> String {
        node.desc.info.node.clone()
    }

    /// A store for one instance, with the plugin's limits.
    pub(super) fn new_store(&self) -> Result<Store<CallState>, String> {
        new_store(
            &self.inner.runtime.inner.engine,
            self.inner.name.clone(),
            &self.inner.limits,
            self.inner.caps.clone(),
        )
    }

    /// A store with a new instance, for a later call.
    async fn prepare(&self) -> Result<(Store<CallState>, Instance), String> {
        let mut store = self.new_store()?;
        let instance = self
            .inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| format!("{e:#}"))?;
        Ok((store, instance))
    }

    /// Makes one instance ahead of a later call, if the plugin's calls come
    /// far enough apart for that to pay, its pool has room (each plugin keeps
    /// up to two) and the runtime's budget
    /// ([`crate::RuntimeConfig::warm_instances`]) allows; returns whether it
    /// did. A server calls this after sending a call's answer. The next call
    /// takes the instance instead of making one; it is still fresh, touched
    /// by no other call.
    ///
    /// When making an instance fails, the plugin is not instantiated ahead
    /// any more: its calls make their own and report the failure.
    pub async fn make_ready(&self) -> bool {
        let inner = &self.inner;
        let Some(making) = inner.warm.want(&inner.runtime.inner.warm) else {
            return false;
        };
        let started = std::time::Instant::now();
        match self.prepare().await {
            Ok((store, instance)) => {
                making.put(store, instance, started.elapsed());
                true
            }
            Err(e) => {
                tracing::debug!(
                    plugin = &*inner.name,
                    "not instantiating ahead of calls any more: {e}"
                );
                inner.warm.turn_off();
                false
            }
        }
    }
}

fn grant_error(plugin: &str, e: GrantError) -> LoadError {
    let plugin = plugin.to_owned();
    match e {
        GrantError::NotGranted {
            import,
            grant,
            line,
            manifest,
        } => LoadError::NotGranted {
            plugin,
            import,
            grant,
            line,
            manifest,
        },
        GrantError::UnknownInterface { import, interface } => LoadError::UnsatisfiedImport {
            plugin,
            import,
            hint: format!(
                "`warden:node` has no interface `{interface}`; rebuild the plugin against \
                 this host's warden-guest"
            ),
        },
        GrantError::MissingDir { host, guest } => LoadError::BadGrant {
            plugin,
            reason: format!(
                "granted directory `{host}` (guest `{guest}`) does not exist or is not a directory"
            ),
        },
    }
}

/// Rejects bytes that are not a component before compiling them, with a
/// message that says what they are instead.
pub(crate) fn check_is_component(name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8; 4] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm {
            plugin: name.to_owned(),
            reason: "the file does not start with the WebAssembly magic bytes `\\0asm`".into(),
        });
    }
    // Core modules have layer 0, components layer 1 (bytes 6..8, little endian).
    match u16::from_le_bytes([bytes[6], bytes[7]]) {
        0 => Err(LoadError::CoreModule {
            plugin: name.to_owned(),
        }),
        1 => Ok(()),
        layer => Err(LoadError::NotWasm {
            plugin: name.to_owned(),
            reason: format!("unknown WebAssembly layer {layer}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_modules_and_garbage_are_told_apart() {
        let core = b"\0asm\x01\0\0\0";
        let component = b"\0asm\x0d\0\x01\0";
        assert!(matches!(
            check_is_component("x", core),
            Err(LoadError::CoreModule { .. })
        ));
        assert!(check_is_component("x", component).is_ok());
        assert!(matches!(
            check_is_component("x", b"hello world"),
            Err(LoadError::NotWasm { .. })
        ));
    }
}
