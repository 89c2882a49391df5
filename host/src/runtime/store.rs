//! The data of one instance's `Store`: WASI context, resource table,
//! limiter, output capture and the call's capabilities; and the linker every
//! plugin is instantiated with.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::config::Limits;
use super::output::Capture;
use crate::caps::{CallCaps, Capabilities, CapsView, OutboundHttp};

/// Store data of one instance.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: CallLimiter,
    pub(crate) timed_out: bool,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    /// What the call may reach through `warden:node`.
    pub(crate) caps: CallCaps,
    /// `wasi:http`: its context, and the hooks that check and send each
    /// outgoing request.
    http: wasmtime_wasi_http::WasiHttpCtx,
    pub(crate) outbound: OutboundHttp,
}

impl CallState {
    /// The state of one instance of `plugin`, before [`CallCaps`] says which
    /// call it serves. Its deadline is the plugin's timeout from now, which
    /// bounds instantiation.
    ///
    /// Fails when a granted directory cannot be opened.
    pub(crate) fn new(
        plugin: Arc<str>,
        limits: &Limits,
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
        let deadline = Instant::now() + limits.timeout;
        let outbound = OutboundHttp {
            grant: Arc::new(caps.grants.http.clone()),
            plugin: plugin.clone(),
            node: Arc::from(""),
            events: None,
            deadline,
        };
        Ok(CallState {
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            outbound,
            wasi,
            table,
            limiter: CallLimiter {
                memory_limit: limits.memory_bytes,
                memory_used: 0,
                memory_hit: None,
                table_limit: limits.table_elements,
                table_hit: false,
            },
            timed_out: false,
            stdout,
            stderr,
            caps: CallCaps {
                plugin,
                node: Arc::from(""),
                caps,
                events: None,
                invoker: None,
                chain: Vec::new(),
                trace: None,
                deadline,
                kv_quota: limits.kv_quota_bytes,
                max_blob_get: limits.memory_bytes,
            },
        })
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

impl wasmtime_wasi_http::WasiHttpView for CallState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl CapsView for CallState {
    fn caps(&mut self) -> &mut CallCaps {
        &mut self.caps
    }
}

/// A store for one instance of a plugin with `limits`; the epoch callback
/// ends it at its deadline.
pub(crate) fn new_store(
    engine: &Engine,
    plugin: Arc<str>,
    limits: &Limits,
    caps: Arc<Capabilities>,
) -> Result<Store<CallState>, String> {
    let state = CallState::new(plugin, limits, caps)?;
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_hostcall_fuel(limits.hostcall_fuel);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        if Instant::now() >= ctx.data().caps.deadline {
            ctx.data_mut().timed_out = true;
            return Ok(UpdateDeadline::Interrupt);
        }
        // Yield so other calls on this thread run and a dropped call ends.
        Ok(UpdateDeadline::Yield(1))
    });
    Ok(store)
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

/// The linker every plugin is instantiated with: WASI p2, `wasi:http`
/// (outgoing requests checked against the plugin's `http` grant, none by
/// default) and the `warden:node` interfaces (which ones a plugin may import
/// is checked at load against its grants).
pub(crate) fn linker(engine: &Engine) -> anyhow::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("failed to link WASI: {e:#}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("failed to link wasi:http: {e:#}"))?;
    crate::caps::add_to_linker(&mut linker)?;
    Ok(linker)
}
