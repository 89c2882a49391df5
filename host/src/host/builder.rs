//! Building a [`Host`] from the host config, a state directory and a
//! plugin directory.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::config::HostConfig;
use super::invoke::HostInvoker;
use super::jobs::HostJobs;
use super::{Host, HostInner};
use crate::access::ConnectionGuard;
use crate::caps::Stores;
use crate::jobs::Jobs;
use crate::plugins::{CompiledCache, DirConfig, PluginDir, Plugins};
use crate::runtime::Runtime;

/// Why a host could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The host config is invalid.
    #[error("invalid host config: {0}")]
    Config(String),
    /// The state directory or one of its stores cannot be opened.
    #[error("{0}")]
    State(String),
    /// The wasm engine could not be created.
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    /// The plugin directory does not exist.
    #[error("plugin directory `{0}` does not exist or is not a directory")]
    NoPluginDir(PathBuf),
    /// The plugin directory cannot be read.
    #[error("cannot read plugin directory `{path}`: {source}")]
    PluginDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Jobs and the directory watcher run as tokio tasks.
    #[error("a host with a state or plugin directory must be built inside a tokio runtime")]
    NoRuntime,
}

/// Builds a [`Host`].
///
/// ```no_run
/// # async fn demo() -> Result<(), warden_host::host::HostError> {
/// use warden_host::host::{Host, HostConfig};
///
/// let host = Host::builder()
///     .config(HostConfig::default())
///     .state_dir("/var/lib/warden")
///     .plugin_dir("plugins")
///     .build()?;
/// # Ok(())
/// # }
/// ```
pub struct HostBuilder {
    config: HostConfig,
    runtime: Option<Runtime>,
    state_dir: Option<PathBuf>,
    plugin_dir: Option<PathBuf>,
    dir_config: DirConfig,
    plugins: Option<Plugins>,
    max_calls: usize,
    watch: bool,
}

impl std::fmt::Debug for HostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBuilder")
            .field("state_dir", &self.state_dir)
            .field("plugin_dir", &self.plugin_dir)
            .field("max_calls", &self.max_calls)
            .finish_non_exhaustive()
    }
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HostBuilder {
    /// The defaults: open access, no state directory (no jobs, blobs or
    /// key-value store), no plugins, 512 calls at once.
    pub fn new() -> Self {
        HostBuilder {
            config: HostConfig::default(),
            runtime: None,
            state_dir: None,
            plugin_dir: None,
            dir_config: DirConfig::default(),
            plugins: None,
            max_calls: 512,
            watch: true,
        }
    }

    /// The host config: default limits, callers, connection guards.
    /// Default: [`HostConfig::default`], open to every connection.
    pub fn config(mut self, config: HostConfig) -> Self {
        self.config = config;
        self
    }

    /// The sandbox runtime to load plugins into. Default: a new
    /// [`Runtime`] with the default engine settings.
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Where the host keeps its state: `kv.redb`, `blobs/`, `jobs.redb` and
    /// the compiled cache `cache/`. Default: none, so no jobs, no blobs, no
    /// key-value store and no cache.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Serves every `NAME.wasm` in `dir` and watches it (see
    /// [`PluginDir`]). Default: no directory.
    pub fn plugin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugin_dir = Some(dir.into());
        self
    }

    /// Whether the plugin directory is watched after its first scan.
    /// Default: true. Without, it is loaded once (call
    /// [`PluginDir::scan`] to bring it in step again) and no task holds it.
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// How the plugin directory is watched and loaded (its limits and
    /// stores come from the config and the state directory).
    pub fn dir_config(mut self, config: DirConfig) -> Self {
        self.dir_config = config;
        self
    }

    /// Serves this set of plugins (a directory, if any, loads into it).
    /// Default: an empty set.
    pub fn plugins(mut self, plugins: Plugins) -> Self {
        self.plugins = Some(plugins);
        self
    }

    /// Calls from outside that may run at once across all front ends; more
    /// are `overloaded` (jobs wait instead). Default: 512. Worst case: each
    /// running call holds an instance with up to its plugin's memory limit.
    pub fn max_concurrent_calls(mut self, max: usize) -> Self {
        self.max_calls = max;
        self
    }

    /// Builds the host: opens the state directory, starts the jobs queued
    /// before a restart, and starts loading and watching the plugin
    /// directory (plugins are served as each is ready).
    ///
    /// # Errors
    ///
    /// [`HostError`] when the config is invalid, a store or the directory
    /// cannot be opened, or the engine cannot be made.
    pub fn build(self) -> Result<Host, HostError> {
        self.config.validate().map_err(HostError::Config)?;
        let needs_tasks = self.state_dir.is_some() || self.plugin_dir.is_some();
        if needs_tasks && tokio::runtime::Handle::try_current().is_err() {
            return Err(HostError::NoRuntime);
        }
        if let Some(dir) = self.plugin_dir.as_ref().filter(|d| !d.is_dir()) {
            return Err(HostError::NoPluginDir(dir.clone()));
        }
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => Runtime::new().map_err(|e| HostError::Engine(format!("{e:#}")))?,
        };
        let max_blob = self.config.blobs.max_blob();
        let stores = self
            .state_dir
            .as_deref()
            .map(|dir| Stores::open_with(dir, max_blob))
            .transpose()
            .map_err(HostError::State)?;
        let jobs = self
            .state_dir
            .as_deref()
            .map(|d| Jobs::open(&d.join("jobs.redb"), self.config.jobs.quotas()))
            .transpose()
            .map_err(HostError::State)?;
        let guard = ConnectionGuard::new(&self.config.connections).map_err(HostError::Config)?;
        let webhooks =
            super::webhooks::Webhooks::new(&self.config.callbacks, self.state_dir.as_deref())
                .map_err(HostError::State)?;
        let plugins = self.plugins.unwrap_or_default();
        let dir = self.plugin_dir.as_ref().map(|path| {
            let cache = self
                .state_dir
                .as_ref()
                .map(|d| CompiledCache::new(d.join("cache"), runtime.engine()));
            let config = DirConfig {
                limits: self.config.limits.clone(),
                stores: stores.clone(),
                ..self.dir_config.clone()
            };
            Arc::new(PluginDir::new(
                path,
                runtime.clone(),
                cache,
                config,
                plugins.clone(),
            ))
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let inner = Arc::new_cyclic(|weak| HostInner {
            runtime,
            plugins,
            dir: dir.clone(),
            access: self.config.access.clone().map(Arc::new),
            connections: self.config.connections.clone(),
            guard,
            jobs,
            kv: stores.as_ref().map(|s| s.kv.clone()),
            blobs: stores.map(|s| s.blobs),
            metrics: super::metrics::Metrics::new(),
            webhooks,
            blob_limits: self.config.blobs.clone(),
            uploads: std::sync::Mutex::default(),
            calls: Arc::new(Semaphore::new(self.max_calls)),
            max_calls: self.max_calls,
            invoker: Arc::new(HostInvoker(weak.clone())),
            stop,
            watcher: std::sync::Mutex::new(None),
            closed: std::sync::atomic::AtomicBool::new(false),
            remote: std::sync::OnceLock::new(),
        });
        if let (Some(dir), Some(path)) = (&dir, self.plugin_dir) {
            // What is there now starts loading at once (the watcher takes
            // over from here), and shows as loading before jobs start: a
            // job queued before a restart waits for its plugin.
            dir.scan()
                .map_err(|source| HostError::PluginDir { path, source })?;
        }
        if let Some(jobs) = &inner.jobs {
            jobs.start(Arc::new(HostJobs(Arc::downgrade(&inner))))
                .map_err(HostError::State)?;
        }
        if let (Some(dir), true) = (dir, self.watch) {
            let mut stopped = stopped;
            let watcher = tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(e) = dir.watch(shutdown).await {
                    tracing::error!("watching the plugin directory failed: {e}");
                }
            });
            *inner.watcher.lock().unwrap_or_else(|e| e.into_inner()) = Some(watcher);
        }
        Ok(Host { inner })
    }
}
