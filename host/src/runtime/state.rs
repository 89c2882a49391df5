//! The data of one call's `Store`: WASI context, resource table, limiter,
//! output capture and who to tell about progress and log lines.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::output::Capture;
use super::plugin::{CallEvent, CallOptions, EventSink};
use crate::caps::{Capabilities, Invoker};

/// Severity of a guest log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed tracing output.
    Trace,
    /// Debugging information.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected the node recovered from.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// The level's name, e.g. `"warn"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Store data of one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: CallLimiter,
    pub(crate) plugin: Arc<str>,
    pub(crate) node: Arc<str>,
    pub(crate) events: Option<EventSink>,
    pub(crate) timed_out: bool,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    /// What the plugin was granted.
    pub(crate) caps: Arc<Capabilities>,
    /// Routes `invoke` calls; `None` outside a server.
    pub(crate) invoker: Option<Arc<dyn Invoker>>,
    /// Full names of the calls that led here, this one last.
    pub(crate) chain: Vec<String>,
    /// When the call (and everything it invokes) must end.
    pub(crate) deadline: Instant,
    /// The plugin's key-value quota in bytes.
    pub(crate) kv_quota: u64,
    /// The largest blob `blobs.get` returns into this call.
    pub(crate) max_blob_get: usize,
}

impl CallState {
    /// The state of one instance of `plugin`, before [`CallState::begin`]
    /// says which call it serves. Its deadline is the plugin's timeout from
    /// now, which bounds instantiation.
    ///
    /// Fails when a granted directory cannot be opened.
    pub(crate) fn new(
        plugin: Arc<str>,
        limits: &super::Limits,
        caps: Arc<Capabilities>,
    ) -> Result<Self, String> {
        let stdout = Capture::new(limits.max_output_bytes);
        let stderr = Capture::new(limits.max_output_bytes);
        // No network; directories and variables only as granted.
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false);
        for (key, value) in &caps.grants.env {
            wasi.env(key, value);
        }
        for dir in &caps.grants.dirs {
            let perms = if dir.write {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| {
                    format!(
                        "cannot open granted directory `{}` for `{plugin}`: {e:#}",
                        dir.host.display()
                    )
                })?;
        }
        let wasi = wasi.build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.resources);
        Ok(CallState {
            wasi,
            table,
            limiter: CallLimiter {
                memory_limit: limits.memory_bytes,
                memory_used: 0,
                memory_hit: None,
                table_limit: limits.table_elements,
                table_hit: false,
            },
            plugin,
            node: Arc::from(""),
            events: None,
            timed_out: false,
            stdout,
            stderr,
            caps,
            invoker: None,
            chain: Vec::new(),
            deadline: Instant::now() + limits.timeout,
            kv_quota: limits.kv_quota_bytes,
            max_blob_get: limits.memory_bytes,
        })
    }

    /// Makes this the state of a call of `node`.
    pub(crate) fn begin(&mut self, node: Arc<str>, options: CallOptions, deadline: Instant) {
        let mut chain = options.chain;
        chain.push(format!("{}/{node}", self.plugin));
        self.node = node;
        self.events = options.events;
        self.invoker = options.invoker;
        self.chain = chain;
        self.deadline = deadline;
    }

    /// Sends a log line to the host's tracing output and to the caller.
    pub(crate) fn log(&self, level: LogLevel, message: &str) {
        let (plugin, node) = (&*self.plugin, &*self.node);
        match level {
            LogLevel::Trace => tracing::trace!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Info => tracing::info!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Error => tracing::error!(target: "warden::guest", plugin, node, "{message}"),
        }
        self.emit(CallEvent::Log {
            level,
            message: message.to_owned(),
        });
    }

    pub(crate) fn emit(&self, event: CallEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps a call's memory (all memories together) and table sizes, and records
/// which cap was hit so the error can say so.
pub(crate) struct CallLimiter {
    memory_limit: usize,
    memory_used: usize,
    /// Bytes the guest asked for when it hit the memory limit.
    pub(crate) memory_hit: Option<usize>,
    table_limit: usize,
    pub(crate) table_hit: bool,
}

impl CallLimiter {
    pub(crate) fn memory_limit(&self) -> usize {
        self.memory_limit
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let extra = desired.saturating_sub(current);
        match self.memory_used.checked_add(extra) {
            Some(total) if total <= self.memory_limit => {
                self.memory_used = total;
                Ok(true)
            }
            _ => {
                self.memory_hit = Some(extra);
                Ok(false)
            }
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_limit {
            self.table_hit = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// The linker every plugin is instantiated with: WASI p2 and the always-granted
/// `warden:node` interfaces.
pub(crate) fn linker(engine: &Engine) -> anyhow::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("failed to link WASI: {e:#}"))?;
    crate::caps::add_to_linker(&mut linker)?;
    Ok(linker)
}
