//! The watched plugin directory.
//!
//! Every `NAME.wasm` in the directory is served as plugin `NAME`, with
//! `NAME.toml` beside it as its manifest when present. The directory is
//! watched (inotify through `notify`, plus a periodic rescan as a safety net):
//!
//! - a new file is validated, compiled (or taken from the compiled cache) and
//!   served;
//! - a changed `.wasm` or manifest replaces the old version atomically: calls
//!   already running finish on the old version, new calls get the new one;
//! - a removed `.wasm` stops being served (running calls finish);
//! - a file that fails to load is reported (log and `status`) with the reason;
//!   if an older version was being served it goes on being served.
//!
//! **When is a file picked up?** Once neither the `.wasm` nor its manifest has
//! changed (size and modification time) for the quiet period, 100 ms by
//! default. A file being copied in is therefore not loaded half-way as long
//! as the writer keeps writing; a writer that pauses longer than the quiet
//! period may get the partial file reported as failed (never served) until it
//! finishes. For files arriving slowly, copy to a name that does not end in
//! `.wasm` in the same directory and rename it into place: a rename is atomic.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::cache::{CacheOutcome, CompiledCache};
use super::manifest::{HostConfig, Manifest};
use super::registry::{Failed, Plugins, Served};
use crate::caps::{Capabilities, Stores};
use crate::proto::CacheStats;
use crate::{Limits, Runtime};

/// Settings of a [`PluginDir`].
#[derive(Debug, Clone)]
pub struct DirConfig {
    /// How long a file must stay unchanged before it is loaded. Default: 100 ms.
    pub quiet: Duration,
    /// How often the whole directory is rescanned even without events.
    /// Default: 2 s.
    pub rescan: Duration,
    /// Host-wide defaults (limits) that manifests override.
    pub host: HostConfig,
    /// The key-value and blob stores granted plugins use; without them,
    /// `kv` and `blobs` calls fail with `failed`.
    pub stores: Option<Stores>,
}

impl Default for DirConfig {
    fn default() -> Self {
        DirConfig {
            quiet: Duration::from_millis(100),
            rescan: Duration::from_secs(2),
            host: HostConfig::default(),
            stores: None,
        }
    }
}

/// Size and modification time of a file: what "changed" means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sig {
    len: u64,
    modified: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Files {
    wasm: Option<Sig>,
    toml: Option<Sig>,
}

/// A plugin directory kept in step with a [`Plugins`] set.
pub struct PluginDir {
    dir: PathBuf,
    runtime: Runtime,
    cache: Option<Arc<CompiledCache>>,
    config: DirConfig,
    plugins: Plugins,
    /// The files as they were when each plugin was last (re)loaded.
    seen: Mutex<HashMap<String, Files>>,
}

impl PluginDir {
    /// A directory whose plugins go into `plugins`; `cache` keeps compiled
    /// components (e.g. under the state directory).
    pub fn new(
        dir: impl Into<PathBuf>,
        runtime: Runtime,
        cache: Option<CompiledCache>,
        config: DirConfig,
        plugins: Plugins,
    ) -> Self {
        let cache = cache.map(Arc::new);
        if let Some(cache) = &cache {
            plugins.attach_cache(cache.clone());
        }
        PluginDir {
            dir: dir.into(),
            runtime,
            cache,
            config,
            plugins,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The served set this directory updates.
    pub fn plugins(&self) -> &Plugins {
        &self.plugins
    }

    /// How the compiled cache has been used.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.as_ref().map(|c| c.stats()).unwrap_or_default()
    }

    /// Brings the served set in step with the directory once. Returns how
    /// long to wait before scanning again when some file was still changing.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn scan(&self) -> std::io::Result<Option<Duration>> {
        let found = self.list()?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = found.keys().chain(seen.keys()).cloned().collect();
        names.sort();
        names.dedup();
        let now = SystemTime::now();
        let mut again: Option<Duration> = None;
        for name in names {
            let files = found.get(&name).copied().unwrap_or_default();
            let before = seen.get(&name).copied();
            if files.wasm.is_none() {
                if before.is_some_and(|b| b.wasm.is_some())
                    || self.plugins.snapshot().get(&name).is_some()
                {
                    tracing::info!(plugin = %name, "removed: no longer served");
                    self.plugins.update(|r| r.remove(&name));
                }
                seen.remove(&name);
                continue;
            }
            if before == Some(files) {
                continue;
            }
            let newest = [files.wasm, files.toml]
                .into_iter()
                .flatten()
                .map(|s| s.modified)
                .max()
                .unwrap_or(now);
            let age = now.duration_since(newest).unwrap_or_default();
            if age < self.config.quiet {
                let wait = self.config.quiet - age;
                again = Some(again.map_or(wait, |a| a.min(wait)));
                continue;
            }
            seen.insert(name.clone(), files);
            self.load(&name, files);
        }
        Ok(again.map(|d| d + Duration::from_millis(5)))
    }

    /// Scans until no file is still changing (waiting out quiet periods),
    /// for the first load at startup: everything already in the directory
    /// is served before the first call is accepted.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn scan_settled(&self) -> std::io::Result<()> {
        // A file that keeps changing is left to the watcher after a while.
        for _ in 0..50 {
            match self.scan()? {
                Some(wait) => std::thread::sleep(wait),
                None => return Ok(()),
            }
        }
        Ok(())
    }

    fn wasm_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.wasm"))
    }

    fn toml_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.toml"))
    }

    /// `NAME.wasm` and `NAME.toml` files in the directory, by name.
    fn list(&self) -> std::io::Result<BTreeMap<String, Files>> {
        let mut found: BTreeMap<String, Files> = BTreeMap::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let sig = Sig {
                len: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            };
            let name = stem.to_string_lossy().into_owned();
            match ext.to_str() {
                Some("wasm") => found.entry(name).or_default().wasm = Some(sig),
                Some("toml") => found.entry(name).or_default().toml = Some(sig),
                _ => {}
            }
        }
        Ok(found)
    }

    fn load(&self, name: &str, files: Files) {
        let replacing = self.plugins.snapshot().get(name).is_some();
        match self.build(name, files) {
            Ok(served) => {
                tracing::info!(
                    plugin = %name,
                    version = %served.version,
                    nodes = served.plugin.nodes().count(),
                    from_cache = served.from_cache,
                    "{}",
                    if replacing { "replaced" } else { "loaded" }
                );
                self.plugins.update(|r| r.insert_served(served));
            }
            Err(failed) => {
                if replacing {
                    tracing::error!(plugin = %name, file = %failed.file.display(), "not loaded, still serving the previous version: {}", failed.reason);
                } else {
                    tracing::error!(plugin = %name, file = %failed.file.display(), "not loaded: {}", failed.reason);
                }
                self.plugins.update(|r| r.set_failed(name, failed));
            }
        }
    }

    fn build(&self, name: &str, files: Files) -> Result<Served, Failed> {
        let wasm = self.wasm_path(name);
        let fail = |file: &Path, reason: String| Failed {
            file: file.to_owned(),
            reason: format!("{}: {reason}", file.display()),
        };
        if !valid_name(name) {
            return Err(fail(
                &wasm,
                format!(
                    "`{name}` is not a plugin name: use letters, digits, `-` and `_` \
                     (the name is the file name without `.wasm`)"
                ),
            ));
        }
        let toml = self.toml_path(name);
        let manifest = match files.toml {
            Some(_) => {
                // The manifest error names the file itself.
                Manifest::load(&toml).map_err(|e| Failed {
                    file: toml.clone(),
                    reason: e.to_string(),
                })?
            }
            None => Manifest::default(),
        };
        let limits_config = self.config.host.limits.overridden_by(&manifest.limits);
        let limits = limits_config.apply(&Limits::default());
        let bytes = std::fs::read(&wasm).map_err(|e| fail(&wasm, format!("cannot read: {e}")))?;
        let hash = crate::rpc::tls::fingerprint(&bytes);
        let compile = || self.runtime.compile(name, &bytes);
        let (component, outcome) = match &self.cache {
            Some(cache) => cache.get_or_compile(self.runtime.engine(), &hash, compile),
            None => compile().map(|c| (c, CacheOutcome::Miss)),
        }
        .map_err(|e| fail(&wasm, e.to_string()))?;
        let plugin = self
            .runtime
            .load_granted(
                name,
                component,
                limits,
                Capabilities::new(manifest.grants, self.config.stores.clone(), Some(toml)),
            )
            .map_err(|e| fail(&wasm, e.to_string()))?;
        let mut served = Served::new(plugin).with_max_calls(limits_config.max_concurrent_calls);
        served.version = manifest
            .version
            .unwrap_or_else(|| format!("sha256:{}", &hash[..12]));
        served.description = manifest.description;
        served.access = manifest.access;
        served.file = wasm;
        served.from_cache = outcome == CacheOutcome::Hit;
        Ok(served)
    }

    /// Watches the directory until `shutdown` completes, rescanning after
    /// file events (once the quiet period has passed) and periodically.
    ///
    /// # Errors
    ///
    /// When the directory cannot be watched.
    pub async fn watch(self: Arc<Self>, shutdown: impl Future<Output = ()>) -> notify::Result<()> {
        use notify::Watcher;
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
                let _ = tx.send(());
            })?;
        watcher.watch(&self.dir, notify::RecursiveMode::NonRecursive)?;
        tokio::pin!(shutdown);
        let mut next: Option<tokio::time::Instant> = None;
        loop {
            let at = next.unwrap_or_else(|| tokio::time::Instant::now() + self.config.rescan);
            tokio::select! {
                () = &mut shutdown => break,
                Some(()) = events.recv() => {
                    // Scan after the quiet period; more events do not push it back.
                    next.get_or_insert_with(|| tokio::time::Instant::now() + self.config.quiet);
                }
                () = tokio::time::sleep_until(at) => {
                    while events.try_recv().is_ok() {}
                    let dir = self.clone();
                    let again = tokio::task::spawn_blocking(move || dir.scan()).await;
                    let mut wait = match again {
                        Ok(Ok(wait)) => wait,
                        Ok(Err(e)) => {
                            tracing::error!(dir = %self.dir.display(), "cannot read the plugin directory: {e}");
                            None
                        }
                        Err(e) => {
                            tracing::error!("plugin directory scan failed: {e}");
                            None
                        }
                    };
                    // Files that changed while the scan ran get a scan of their own.
                    if events.try_recv().is_ok() {
                        while events.try_recv().is_ok() {}
                        wait = Some(wait.map_or(self.config.quiet, |w| w.min(self.config.quiet)));
                    }
                    next = wait.map(|w| tokio::time::Instant::now() + w);
                }
            }
        }
        drop(watcher);
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
