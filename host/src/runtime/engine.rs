//! The one wasmtime engine of a host, its epoch ticker and its linker.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::config::{Limits, RuntimeConfig};
use super::error::LoadError;
use super::plugin::Plugin;
use super::store::CallState;
use crate::caps::Capabilities;

/// The sandbox runtime: one engine with the pooling allocator, an epoch ticker
/// thread, and a linker with WASI and the `warden:node` host interfaces.
///
/// Cheap to clone; clones share the engine. The ticker thread stops when the
/// last clone (and every [`Plugin`] made from it) is dropped.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) config: RuntimeConfig,
    /// The engine's compilation settings without its instance allocator:
    /// what [`Runtime::compile`] makes a short-lived compiling engine with.
    compiler: Config,
    /// Instances made ahead of calls, against their budget.
    pub(crate) warm: super::warm::Budget,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Makes a runtime with [`RuntimeConfig::default`].
    ///
    /// # Errors
    ///
    /// Fails when the engine cannot be created, for example when the machine
    /// cannot reserve the pooling allocator's address space.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_config(RuntimeConfig::default())
    }

    /// Makes a runtime with the given engine settings.
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`].
    pub fn with_config(config: RuntimeConfig) -> anyhow::Result<Self> {
        let mut pooling = PoolingAllocationConfig::default();
        // Calls, and instances made ahead of calls.
        let instances = config.max_instances.saturating_add(config.warm_instances);
        pooling
            .total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(4).max(1))
            .total_memories(instances.saturating_mul(2).max(1))
            .total_tables(instances.saturating_mul(4).max(1))
            .total_stacks(instances)
            .max_core_instances_per_component(config.max_core_instances_per_component)
            .max_memories_per_component(config.max_memories_per_component)
            .max_tables_per_component(config.max_tables_per_component)
            .max_memory_size(config.max_memory_bytes)
            .table_elements(200_000)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(4 << 20)
            // Reset only the pages a call touched (PAGEMAP_SCAN, Linux 6.7+;
            // `Auto` falls back elsewhere) and keep them resident, instead of
            // madvise + page faults on every call: a Rust guest touches its
            // stack near 1 MiB and its heap above it.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(4 << 20)
            .table_keep_resident(64 << 10)
            .decommit_batch_size(16);

        // Settings that shape compiled code go in `compilation_config`, which
        // `compile`'s short-lived engines share; only the allocator is added.
        let compiler = compilation_config(&config);
        let mut wasm = compiler.clone();
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&wasm).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let linker = super::store::linker(&engine)?;
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)
            .map_err(|e| anyhow::anyhow!("failed to start the epoch ticker thread: {e}"))?;
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                warm: super::warm::Budget::new(config.warm_instances as usize),
                compiler,
                config,
                _ticker: ticker,
            }),
        })
    }

    /// The engine settings this runtime was made with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Loads the component in `path` as plugin `name`.
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the file cannot be read, is not a valid component,
    /// imports something the host does not provide, or asks for limits above
    /// the engine's maximums.
    pub fn load_file(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.load_bytes(name, &bytes, limits)
    }

    /// Loads a component from its bytes as plugin `name`.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load_file`].
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        self.check_limits(name, &limits)?;
        let component = self.compile(name, bytes)?;
        Plugin::new(
            self.clone(),
            name,
            component,
            Some(bytes),
            limits,
            Capabilities::default(),
        )
    }

    /// Validates and compiles a component without instantiating anything.
    ///
    /// Compiling happens on a short-lived engine with this runtime's
    /// compilation settings; the artifact is then loaded into this runtime's
    /// engine, as from the compiled cache. Cranelift keeps scratch buffers
    /// sized by the largest function it has compiled for as long as the
    /// engine that compiled lives (tens of MiB after the CPython inside a
    /// componentize-py component), so they go with it. glibc then keeps
    /// what was freed in the compiling threads' arenas until it is trimmed:
    /// after a component of 1 MiB or more it is handed back to the system
    /// (`malloc_trim`), all but the free memory at the top of those arenas,
    /// which `malloc_trim` leaves. After a small one the next compile
    /// reuses the little it freed, and trimming would cost more than it
    /// gives (4 ms of a 50 ms compile here).
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the bytes are not a component wasmtime accepts.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        super::plugin::check_is_component(name, bytes)?;
        let artifact = Engine::new(&self.inner.compiler)
            .and_then(|compiler| compiler.precompile_component(bytes));
        // The compiling engine is gone, and its scratch memory freed.
        let component = artifact.and_then(|artifact| {
            // SAFETY: `artifact` was made just now by `precompile_component`
            // of an engine with this engine's compilation settings, from
            // bytes it validated; wasmtime checks that the settings match.
            unsafe { Component::deserialize(&self.inner.engine, &artifact) }
        });
        if bytes.len() >= TRIM_AFTER_BYTES {
            release_freed_memory();
        }
        component.map_err(|e| LoadError::Compile {
            plugin: name.to_owned(),
            reason: format!("{e:#}"),
        })
    }

    /// Makes a plugin from a compiled component (e.g. one from a cache).
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the component's imports cannot be satisfied or the
    /// limits are above the engine's maximums.
    pub fn load_component(
        &self,
        name: &str,
        component: Component,
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        self.load_granted(name, component, limits, Capabilities::default())
    }

    /// Makes a plugin from a compiled component with capabilities: the grants
    /// from its manifest and the host's stores.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load_component`], and [`LoadError::NotGranted`] when the
    /// component imports a `warden:node` interface `caps` does not grant.
    pub fn load_granted(
        &self,
        name: &str,
        component: Component,
        limits: Limits,
        caps: Capabilities,
    ) -> Result<Plugin, LoadError> {
        self.check_limits(name, &limits)?;
        Plugin::new(self.clone(), name, component, None, limits, caps)
    }

    /// As [`Runtime::load_granted`], with the bytes the component was
    /// compiled from, which give the catalog the component's docs and type
    /// names.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load_granted`].
    pub fn load_described(
        &self,
        name: &str,
        bytes: &[u8],
        component: Component,
        limits: Limits,
        caps: Capabilities,
    ) -> Result<Plugin, LoadError> {
        self.check_limits(name, &limits)?;
        Plugin::new(self.clone(), name, component, Some(bytes), limits, caps)
    }

    /// Every import of `component`, marked with whether this host provides
    /// it, the grant it needs and what would fix it: what `warden check`
    /// lists even for a component that cannot be loaded.
    pub fn imports(&self, component: &Component) -> Vec<super::ImportDesc> {
        super::reflect::imports(&self.inner.engine, component)
    }

    /// The engine, for compiled-artifact caches.
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    fn check_limits(&self, name: &str, limits: &Limits) -> Result<(), LoadError> {
        if limits.memory_bytes > self.inner.config.max_memory_bytes {
            return Err(LoadError::LimitTooHigh {
                plugin: name.to_owned(),
                what: "memory",
                asked: limits.memory_bytes,
                max: self.inner.config.max_memory_bytes,
            });
        }
        Ok(())
    }
}

/// The settings that decide what compiled code looks like (an artifact made
/// with them loads into any engine that has them): everything but the
/// instance allocator.
fn compilation_config(config: &RuntimeConfig) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        // No component-model async here: without it every call skips
        // creating a task record (DESIGN: ~740 ns -> ~240 ns per call).
        .concurrency_support(false)
        .epoch_interruption(true)
        .max_wasm_stack(config.max_wasm_stack)
        .memory_init_cow(true);
    wasm
}

/// Components at least this big have the memory their compile freed handed
/// back to the system when it is done (see [`Runtime::compile`]).
const TRIM_AFTER_BYTES: usize = 1 << 20;

/// Hands the memory the allocator holds but no longer uses back to the
/// system. glibc keeps what is freed in the arena of the thread that had it
/// (compiling runs on every core) until it is trimmed; a no-op elsewhere.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only gives back pages of free chunks (and the
    // top of the main heap); it takes each arena's lock while it does.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Advances the engine's epoch every tick on a thread it owns; stops and joins
/// the thread when dropped.
struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: std::time::Duration) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("warden-epoch".into())
            .spawn(move || {
                // Runs until the sender is dropped (or sends).
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
