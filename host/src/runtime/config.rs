//! Engine-wide settings and per-plugin call limits.

use std::time::Duration;

/// Limits applied to every call of one plugin.
///
/// Every call gets a fresh instance, so the limits hold per call, not per
/// plugin. The defaults are sized so that components from other toolchains
/// (componentize-py's CPython, componentize-js's StarlingMonkey) run with them.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use warden_host::Limits;
///
/// let limits = Limits::default()
///     .with_memory_bytes(16 << 20)
///     .with_timeout(Duration::from_secs(2));
/// assert_eq!(limits.memory_bytes, 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory of one call's instance, all memories together, in
    /// bytes. Default: 128 MiB. Worst case: each concurrent call can touch
    /// this much resident memory.
    pub memory_bytes: usize,
    /// Wall-clock time a call may run. Default: 10 s. Enforced by epoch
    /// interruption, so a call ends at most one epoch tick after it.
    pub timeout: Duration,
    /// Maximum elements of any one table. Default: 100,000 (CPython needs tens of thousands).
    pub table_elements: usize,
    /// Maximum entries in the call's resource table (open handles). Default: 1,024.
    pub resources: usize,
    /// Maximum bytes the host may allocate for what a guest passes to it in
    /// one host call or returns from a call. Default: 256 MiB. The dynamic
    /// value path spends about 32 bytes per list element, so this lets a
    /// node return an 8 MiB `list<u8>` (the default result cap).
    pub hostcall_fuel: usize,
    /// Maximum size of a call's result, measured as MessagePack. Default: 8 MiB.
    pub max_result_bytes: usize,
    /// How much of a call's stdout and stderr is kept for the log and for
    /// panic messages. Default: 64 KiB each; output past it is dropped.
    pub max_output_bytes: usize,
    /// Bytes (keys plus values) the plugin may keep in its key-value store.
    /// Default: 64 MiB.
    pub kv_quota_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 128 << 20,
            timeout: Duration::from_secs(10),
            table_elements: 100_000,
            resources: 1024,
            hostcall_fuel: 256 << 20,
            max_result_bytes: 8 << 20,
            max_output_bytes: 64 << 10,
            kv_quota_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// Sets [`Limits::memory_bytes`].
    pub fn with_memory_bytes(mut self, bytes: usize) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets [`Limits::timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`Limits::resources`].
    pub fn with_resources(mut self, resources: usize) -> Self {
        self.resources = resources;
        self
    }

    /// Sets [`Limits::hostcall_fuel`].
    pub fn with_hostcall_fuel(mut self, bytes: usize) -> Self {
        self.hostcall_fuel = bytes;
        self
    }

    /// Sets [`Limits::max_result_bytes`].
    pub fn with_max_result_bytes(mut self, bytes: usize) -> Self {
        self.max_result_bytes = bytes;
        self
    }
}

/// Settings of the one engine a host runs, fixed when the [`crate::Runtime`] is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// How often the epoch ticker advances. Timeouts and cancellation take
    /// effect within one tick. Default: 2 ms.
    pub epoch_tick: Duration,
    /// Instance slots of the pooling allocator: how many calls (component
    /// instances) can run at once across all plugins. Default: 1,000.
    pub max_instances: u32,
    /// Core instances one component may create. CPython from componentize-py
    /// uses a few dozen. Default: 100.
    pub max_core_instances_per_component: u32,
    /// Memories one component may create. Default: 10.
    pub max_memories_per_component: u32,
    /// Tables one component may create. Default: 100.
    pub max_tables_per_component: u32,
    /// The largest memory a single call may be given, in bytes; a plugin's
    /// [`Limits::memory_bytes`] above it fails when the plugin is loaded.
    /// Default: 1 GiB.
    pub max_memory_bytes: usize,
    /// Maximum wasm stack of one call. Default: 1 MiB.
    pub max_wasm_stack: usize,
    /// Instances made ahead of calls, across all plugins (each keeps up to
    /// two ready), so a call does not wait for its instance to be made.
    /// Every call still gets an instance of its own. They have pooling slots
    /// of their own, beyond [`RuntimeConfig::max_instances`]. Default: 32;
    /// 0 makes every instance on the call path.
    pub warm_instances: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            epoch_tick: Duration::from_millis(2),
            max_instances: 1000,
            max_core_instances_per_component: 100,
            max_memories_per_component: 10,
            max_tables_per_component: 100,
            max_memory_bytes: 1 << 30,
            max_wasm_stack: 1 << 20,
            warm_instances: 32,
        }
    }
}
