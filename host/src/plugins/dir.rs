//! The watched plugin directory.
//!
//! Every `NAME.wasm` in the directory is served as plugin `NAME`, with
//! `NAME.toml` beside it as its manifest when present. The directory is
//! watched (inotify through `notify`, plus a periodic rescan as a safety net):
//!
//! - a new file is validated, compiled (or taken from the compiled cache) and
//!   served; until then it is `loading` and its calls are `unavailable`;
//! - files are compiled in parallel, as many at once as the machine has
//!   cores, and each plugin is served as soon as it is ready: a small plugin
//!   does not wait for a big one;
//! - a changed `.wasm` or manifest replaces the old version atomically: calls
//!   already running finish on the old version, new calls get the new one;
//! - a removed `.wasm` stops being served (running calls finish);
//! - a file that fails to load is reported (log and `status`) with the reason;
//!   if an older version was being served it goes on being served.
//!
//! Symbolic links are followed. A `.wasm` or manifest that cannot be read
//! (a dangling link, a directory) makes its plugin fail with the reason:
//! nothing is ignored, and a manifest that cannot be read never means "no
//! manifest".
//!
//! **When is a file served?** Once neither the `.wasm` nor its manifest has
//! changed (size and modification time) for the quiet period, 100 ms by
//! default. A file being copied in is therefore not served half-way as long
//! as the writer keeps writing; a writer that pauses longer than the quiet
//! period may get the partial file reported as failed (never served) until it
//! finishes. For files arriving slowly, copy to a name that does not end in
//! `.wasm` in the same directory and rename it into place: a rename is atomic.
//!
//! Compiling does not wait for the quiet period: a file is read and compiled
//! once it has been unchanged for [`DirConfig::start_after`] (10 ms), and
//! the result (served plugin or failure) is held until the files have been
//! quiet for the full period. If they changed meanwhile, the result is
//! dropped and the new version loaded; if they look unchanged but were read
//! before they settled, they are read again and the result is used only if
//! they still hold the bytes that were compiled. So a plugin that takes
//! longer to compile than the quiet period is served as soon as it is
//! compiled (drop-in to first answer was the quiet period plus compiling; it
//! is now the longer of the two), with the same guarantee as before: what is
//! served is what the files held once they had settled.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, Weak, mpsc};
use std::time::{Duration, Instant, SystemTime};

use super::cache::CompiledCache;
use super::load::{Contents, Loader};
use super::manifest::LimitsConfig;
use super::registry::{Failed, Loading, Plugins, Served};
use crate::caps::Stores;
use crate::proto::CacheStats;
use crate::runtime::Runtime;

/// Settings of a [`PluginDir`].
#[derive(Debug, Clone)]
pub struct DirConfig {
    /// How long a file must stay unchanged before it is served (or reported
    /// failed); compiling it starts earlier, after
    /// [`DirConfig::start_after`]. Default: 100 ms.
    pub quiet: Duration,
    /// How long a new or changed file must stay unchanged before it is read
    /// and compiled, so a copy in progress is not read on every write;
    /// capped at `quiet`. Default: 10 ms.
    pub start_after: Duration,
    /// How often the whole directory is rescanned even without events.
    /// Default: 2 s.
    pub rescan: Duration,
    /// Host-wide default limits that manifests override.
    pub limits: LimitsConfig,
    /// The key-value and blob stores granted plugins use; without them,
    /// `kv` and `blobs` calls fail with `failed`.
    pub stores: Option<Stores>,
    /// Plugins compiled at once. Default: the machine's cores.
    pub parallel: usize,
}

impl Default for DirConfig {
    fn default() -> Self {
        DirConfig {
            quiet: Duration::from_millis(100),
            start_after: Duration::from_millis(10),
            rescan: Duration::from_secs(2),
            limits: LimitsConfig::default(),
            stores: None,
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Size and modification time of a file: what "changed" means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sig {
    len: u64,
    modified: SystemTime,
}

impl Sig {
    /// What an entry that is not a readable file looks like.
    const UNREADABLE: Sig = Sig {
        len: 0,
        modified: SystemTime::UNIX_EPOCH,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Files {
    wasm: Option<Sig>,
    toml: Option<Sig>,
}

impl Files {
    /// The latest modification time of the files.
    fn newest(&self) -> Option<SystemTime> {
        [self.wasm, self.toml]
            .into_iter()
            .flatten()
            .map(|s| s.modified)
            .max()
    }
}

/// One plugin to load: the files as they were, and which load of that
/// plugin this is (a newer one makes it stale).
struct Job {
    name: String,
    files: Files,
    generation: u64,
}

#[derive(Default)]
struct State {
    /// The files as they were when each plugin was last (re)loaded.
    seen: HashMap<String, Files>,
    /// The latest load of each plugin; an older load's result is dropped.
    generation: HashMap<String, u64>,
    /// Loads not finished yet.
    in_flight: usize,
}

/// A plugin directory kept in step with a [`Plugins`] set.
pub struct PluginDir {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    loader: Loader,
    config: DirConfig,
    plugins: Plugins,
    state: Mutex<State>,
    /// Signalled whenever a load finishes.
    finished: Condvar,
    /// Signalled whenever a scan makes loads stale (a newer version or a
    /// removal), to wake the loads waiting for their files to settle.
    superseded: Condvar,
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl PluginDir {
    /// A directory whose plugins go into `plugins`; `cache` keeps compiled
    /// components (e.g. under the state directory). Starts
    /// [`DirConfig::parallel`] loader threads, which end with the last
    /// clone of the directory.
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
        let (jobs, queue) = mpsc::channel::<Job>();
        let inner = Arc::new(Inner {
            dir: dir.into(),
            loader: Loader {
                runtime,
                cache,
                limits: config.limits.clone(),
                stores: config.stores.clone(),
            },
            config,
            plugins,
            state: Mutex::default(),
            finished: Condvar::new(),
            superseded: Condvar::new(),
            jobs: Mutex::new(jobs),
        });
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..inner.config.parallel.max(1) {
            let queue = queue.clone();
            let weak = Arc::downgrade(&inner);
            let spawned = std::thread::Builder::new()
                .name(format!("warden-load-{i}"))
                .spawn(move || load_jobs(&queue, &weak));
            if let Err(e) = spawned {
                tracing::error!("cannot start a plugin loader thread: {e}");
            }
        }
        PluginDir { inner }
    }

    /// The served set this directory updates.
    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.inner.dir
    }

    /// How the compiled cache has been used.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner
            .loader
            .cache
            .as_ref()
            .map(|c| c.stats())
            .unwrap_or_default()
    }

    /// Brings the served set in step with the directory once: removed files
    /// stop being served at once; new and changed ones that have been
    /// unchanged for [`DirConfig::start_after`] are handed to the loader
    /// threads, which serve them once they have been quiet for
    /// [`DirConfig::quiet`] (see [`PluginDir::wait_loaded`]). Returns how long
    /// to wait before scanning again when some file was still changing.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn scan(&self) -> std::io::Result<Option<Duration>> {
        let inner = &self.inner;
        // The listing is taken under the lock, so two scans at once never
        // act on an older listing than the other.
        let mut state = inner.lock();
        let found = inner.list()?;
        let registry = inner.plugins.snapshot();
        // Names seen before, and ones shown as loading whose file is gone.
        let mut names: Vec<String> = found
            .keys()
            .chain(state.seen.keys())
            .cloned()
            .chain(registry.loading().map(|(n, _)| n.to_owned()))
            .collect();
        names.sort();
        names.dedup();
        let now = SystemTime::now();
        let start = inner.config.start_after.min(inner.config.quiet);
        let mut again: Option<Duration> = None;
        let mut superseded = false;
        for name in names {
            let files = found.get(&name).copied().unwrap_or_default();
            let before = state.seen.get(&name).copied();
            if files.wasm.is_none() {
                // Only what this directory loaded (or shows as loading) is
                // removed: a manifest without a component touches nothing.
                let ours = before.is_some_and(|b| b.wasm.is_some())
                    || registry.loading().any(|(n, _)| n == name);
                if ours {
                    tracing::info!(plugin = %name, "removed: no longer served");
                    // A load in flight for it is stale now.
                    *state.generation.entry(name.clone()).or_default() += 1;
                    superseded = true;
                    inner.plugins.update(|r| r.remove(&name));
                }
                state.seen.remove(&name);
                continue;
            }
            if before == Some(files) {
                continue;
            }
            let newest = files.newest().unwrap_or(now);
            // A modification time in the future (a skewed clock) counts as
            // settled, or the file would wait for ever.
            let age = now.duration_since(newest).unwrap_or(inner.config.quiet);
            if age < start {
                let wait = start - age;
                again = Some(again.map_or(wait, |a| a.min(wait)));
                // Seen but not settled yet: already `loading` to callers.
                let registry = inner.plugins.snapshot();
                if registry.get(&name).is_none() && !registry.loading().any(|(n, _)| n == name) {
                    let loading = Loading {
                        file: inner.wasm_path(&name),
                        since: Instant::now(),
                    };
                    inner.plugins.update(|r| r.set_loading(&name, loading));
                }
                continue;
            }
            state.seen.insert(name.clone(), files);
            let generation = {
                let g = state.generation.entry(name.clone()).or_default();
                *g += 1;
                *g
            };
            superseded |= generation > 1;
            let loading = Loading {
                file: inner.wasm_path(&name),
                since: Instant::now(),
            };
            inner.plugins.update(|r| r.set_loading(&name, loading));
            let job = Job {
                name,
                files,
                generation,
            };
            let sent = inner
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send(job);
            match sent {
                Ok(()) => state.in_flight += 1,
                Err(mpsc::SendError(job)) => {
                    // No loader thread could start: load here.
                    drop(state);
                    inner.run(job);
                    state = inner.lock();
                }
            }
        }
        drop(state);
        if superseded {
            inner.superseded.notify_all();
        }
        Ok(again.map(|d| d + Duration::from_millis(5)))
    }

    /// Waits until no load is in flight, at most `timeout`; whether none is.
    pub fn wait_loaded(&self, timeout: Duration) -> bool {
        let inner = &self.inner;
        let state = inner.lock();
        let (state, _) = inner
            .finished
            .wait_timeout_while(state, timeout, |s| s.in_flight > 0)
            .unwrap_or_else(|e| e.into_inner());
        state.in_flight == 0
    }

    /// Scans until no file is still changing (waiting
    /// [`DirConfig::start_after`] after the last change): every file in the
    /// directory has been handed to the loaders (and shows as `loading`);
    /// loading, and waiting out the quiet period, go on in the background.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn pick_up(&self) -> std::io::Result<()> {
        // A file that keeps changing is left to the watcher after a while.
        for _ in 0..50 {
            match self.scan()? {
                Some(wait) => std::thread::sleep(wait),
                None => break,
            }
        }
        Ok(())
    }

    /// [`PluginDir::pick_up`], then waits (at most 10 minutes) for every
    /// load to finish: everything already in the directory is served (or
    /// failed) when it returns.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn scan_settled(&self) -> std::io::Result<()> {
        self.pick_up()?;
        if !self.wait_loaded(Duration::from_secs(600)) {
            tracing::warn!("plugins are still loading after 10 minutes");
        }
        Ok(())
    }

    /// Watches the directory until `shutdown` completes: scans at once, then
    /// after file events ([`DirConfig::start_after`] after the first of a
    /// burst) and periodically.
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
        watcher.watch(&self.inner.dir, notify::RecursiveMode::NonRecursive)?;
        tokio::pin!(shutdown);
        let config = &self.inner.config;
        let start = config.start_after.min(config.quiet);
        let mut next = Some(tokio::time::Instant::now());
        loop {
            let at = next.unwrap_or_else(|| tokio::time::Instant::now() + config.rescan);
            tokio::select! {
                () = &mut shutdown => break,
                Some(()) = events.recv() => {
                    // Scan once the burst is over; more events do not push it back.
                    next.get_or_insert_with(|| tokio::time::Instant::now() + start);
                }
                () = tokio::time::sleep_until(at) => {
                    while events.try_recv().is_ok() {}
                    let dir = self.clone();
                    let again = tokio::task::spawn_blocking(move || dir.scan()).await;
                    let mut wait = match again {
                        Ok(Ok(wait)) => wait,
                        Ok(Err(e)) => {
                            tracing::error!(dir = %self.inner.dir.display(), "cannot read the plugin directory: {e}");
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
                        wait = Some(wait.map_or(start, |w| w.min(start)));
                    }
                    next = wait.map(|w| tokio::time::Instant::now() + w);
                }
            }
        }
        drop(watcher);
        Ok(())
    }
}

/// A loader thread: takes jobs until the directory is gone.
fn load_jobs(queue: &Mutex<mpsc::Receiver<Job>>, dir: &Weak<Inner>) {
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.recv()
        };
        let Ok(job) = job else { return };
        let Some(inner) = dir.upgrade() else { return };
        let name = job.name.clone();
        let generation = job.generation;
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.run(job)));
        if ran.is_err() {
            // A bug in loading one file: report it, keep the thread.
            tracing::error!(plugin = %name, "loading the plugin panicked");
            let state = inner.lock();
            if state.generation.get(&name) == Some(&generation) {
                let failed = Failed {
                    file: inner.wasm_path(&name),
                    reason: format!(
                        "{}: loading it failed unexpectedly (a bug in Warden; the log has \
                         details)",
                        inner.wasm_path(&name).display()
                    ),
                };
                inner.plugins.update(|r| r.set_failed(&name, failed));
            }
        }
        let mut state = inner.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        drop(state);
        inner.finished.notify_all();
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
            // Symbolic links are followed, like any file. A link to nothing
            // (or an entry that is not a file) is still a plugin's file: it
            // fails to load with the reason, never vanishes unseen (a
            // manifest that cannot be read means its plugin does not load).
            let sig = sig_of(&path).unwrap_or(Sig::UNREADABLE);
            let name = stem.to_string_lossy().into_owned();
            match ext.to_str() {
                Some("wasm") => found.entry(name).or_default().wasm = Some(sig),
                Some("toml") => found.entry(name).or_default().toml = Some(sig),
                _ => {}
            }
        }
        Ok(found)
    }

    /// Loads one plugin and, once its files have settled, serves the result
    /// (or reports the failure), unless a newer load (or the file's removal)
    /// made it stale meanwhile.
    fn run(&self, job: Job) {
        let Job {
            name,
            files,
            generation,
        } = job;
        if self.lock().generation.get(&name) != Some(&generation) {
            // Superseded while queued; the newer load is queued too.
            return;
        }
        let wasm = self.wasm_path(&name);
        let toml = self.toml_path(&name);
        let manifest = files.toml.is_some().then_some(toml.as_path());
        let started = Instant::now();
        // Twice at most in practice: a second read happens after the files
        // settled, and needs no check. The bound guards against clocks that
        // put modification times in the future.
        for attempt in 0..3 {
            let read_at = SystemTime::now();
            let contents = Contents::read(&wasm, manifest);
            let result = self.loader.load(&name, &wasm, toml.clone(), &contents);
            let took = started.elapsed();
            let Some(settled_at) = self.wait_settled(&name, files, generation) else {
                tracing::debug!(plugin = %name, "changed or superseded while loading; dropped");
                return;
            };
            if read_at < settled_at
                && attempt < 2
                && !Contents::read(&wasm, manifest).same_as(&contents)
            {
                // Read before the files settled, and they hold other bytes
                // now although their size and time look the same.
                tracing::debug!(plugin = %name, "changed while loading; loading it again");
                continue;
            }
            self.serve(&name, generation, result, took, started.elapsed() - took);
            return;
        }
    }

    /// Waits until `files` (a plugin's files as a load saw them) have been
    /// unchanged for the quiet period, woken early when a scan supersedes
    /// loads: the moment they settled, or `None` when they changed or the
    /// load `generation` of plugin `name` became stale meanwhile.
    fn wait_settled(&self, name: &str, files: Files, generation: u64) -> Option<SystemTime> {
        let quiet = self.config.quiet;
        let newest = files.newest()?;
        let mut state = self.lock();
        loop {
            if state.generation.get(name) != Some(&generation) || self.files_now(name) != files {
                return None;
            }
            // A modification time in the future (a skewed clock) counts as
            // settled, as in `scan`.
            let age = SystemTime::now().duration_since(newest).unwrap_or(quiet);
            if age >= quiet {
                return Some(newest + quiet);
            }
            state = self
                .superseded
                .wait_timeout(state, quiet - age)
                .map_or_else(|e| e.into_inner().0, |(s, _)| s);
        }
    }

    /// Serves the result of load `generation` of plugin `name`, unless a
    /// newer load made it stale.
    fn serve(
        &self,
        name: &str,
        generation: u64,
        result: Result<Served, Failed>,
        took: Duration,
        waited: Duration,
    ) {
        let state = self.lock();
        if state.generation.get(name) != Some(&generation) {
            tracing::debug!(plugin = %name, "a newer version arrived while loading; dropped");
            return;
        }
        let replacing = self.plugins.snapshot().get(name).is_some();
        match result {
            Ok(mut served) => {
                tracing::info!(
                    plugin = %name,
                    version = %served.version,
                    nodes = served.plugin.nodes().count(),
                    from_cache = served.from_cache,
                    took_ms = took.as_millis() as u64,
                    settling_ms = waited.as_millis() as u64,
                    "{}",
                    if replacing { "replaced" } else { "loaded" }
                );
                served.loaded_at = SystemTime::now();
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
        drop(state);
    }

    /// The plugin's files as they are now (as [`Inner::list`] would see them).
    fn files_now(&self, name: &str) -> Files {
        Files {
            wasm: sig_of(&self.wasm_path(name)),
            toml: sig_of(&self.toml_path(name)),
        }
    }
}

/// A file's [`Sig`]: `None` when there is no such entry; an entry that is
/// not a readable file (a dangling link, a directory) has [`Sig::UNREADABLE`].
fn sig_of(path: &std::path::Path) -> Option<Sig> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Some(Sig {
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }),
        Ok(_) => Some(Sig::UNREADABLE),
        Err(_) if std::fs::symlink_metadata(path).is_ok() => Some(Sig::UNREADABLE),
        Err(_) => None,
    }
}
