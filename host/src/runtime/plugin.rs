//! A loaded plugin and calling its nodes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmpv::Value;
use wasmtime::component::{Component, Instance, InstancePre, Val};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::config::Limits;
use super::convert::{self, ConvError};
use super::engine::Runtime;
use super::error::LoadError;
use super::reflect::{self, BytesResult, ImportDesc, NodeDesc, NodeEntry, Shape};
use super::state::{CallState, LogLevel};
use super::streaming::{self, Pump, RunError, StreamIo};
use crate::caps::{Capabilities, Invoker};
use crate::{CallError, ErrorKind};

/// Something that happens while a call runs, delivered to the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// The node reported progress.
    Progress {
        /// How far along the call is, 0.0 to 1.0.
        fraction: f32,
        /// What the node is doing.
        message: String,
    },
    /// The node wrote a log line.
    Log {
        /// The line's severity.
        level: LogLevel,
        /// The line.
        message: String,
    },
}

/// A node's arguments, ready for the guest.
enum Params {
    /// Converted to `Val`s.
    Vals(Vec<Val>),
    /// The one `list<u8>` argument of a bytes node.
    Bytes(Vec<u8>),
}

/// The bytes argument of a bytes node (see `NodeEntry::bytes`), or the
/// arguments back when they take the general path.
fn take_bytes(node: &NodeEntry, args: Value) -> Result<Vec<u8>, Value> {
    if node.bytes.is_none() {
        return Err(args);
    }
    match args {
        Value::Array(mut items) if items.len() == 1 && matches!(items[0], Value::Binary(_)) => {
            match items.pop() {
                Some(Value::Binary(bytes)) => Ok(bytes),
                _ => Err(Value::Nil),
            }
        }
        Value::Map(mut entries)
            if entries.len() == 1
                && entries[0].0.as_str() == Some(node.params[0].0.as_str())
                && matches!(entries[0].1, Value::Binary(_)) =>
        {
            match entries.pop() {
                Some((_, Value::Binary(bytes))) => Ok(bytes),
                _ => Err(Value::Nil),
            }
        }
        other => Err(other),
    }
}

/// How a node's run ended.
enum Ran {
    /// A bytes node's result.
    Bytes(Result<Vec<u8>, String>),
    /// A call node's result value, to convert.
    Result(Option<Val>),
    /// A stream or channel node's final value.
    Streamed(Value),
}

/// Receives a call's [`CallEvent`]s, on the thread running the call. It must
/// not block for long: the guest waits for it.
pub type EventSink = Arc<dyn Fn(CallEvent) + Send + Sync>;

/// Options of one call.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Where progress and log events go; `None` drops them (log lines still
    /// reach the host's log).
    pub events: Option<EventSink>,
    /// A deadline earlier than the plugin's timeout, e.g. the caller's.
    pub deadline: Option<Instant>,
    /// Routes the node's `invoke` calls to other nodes; without one they
    /// fail with `failed`.
    pub invoker: Option<Arc<dyn Invoker>>,
    /// Full names of the nodes whose `invoke` led to this call, outermost
    /// first; empty for a call from outside.
    pub chain: Vec<String>,
}

impl CallOptions {
    /// Options that deliver events to `sink`.
    pub fn with_events(sink: impl Fn(CallEvent) + Send + Sync + 'static) -> Self {
        CallOptions {
            events: Some(Arc::new(sink)),
            ..CallOptions::default()
        }
    }
}

/// One loaded component: its nodes and a pre-linked instance template.
///
/// Cheap to clone. Every call runs in a fresh instance with the plugin's
/// [`Limits`], so calls share no state and one call's failure cannot affect
/// another.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("nodes", &self.inner.nodes.len())
            .finish_non_exhaustive()
    }
}

struct PluginInner {
    runtime: Runtime,
    name: Arc<str>,
    pre: InstancePre<CallState>,
    nodes: Vec<NodeEntry>,
    by_name: HashMap<String, usize>,
    imports: Vec<ImportDesc>,
    limits: Limits,
    caps: Arc<Capabilities>,
    /// Instances made ahead of calls.
    warm: super::warm::Pool,
}

impl Plugin {
    pub(crate) fn new(
        runtime: Runtime,
        name: &str,
        component: Component,
        limits: Limits,
        caps: Capabilities,
    ) -> Result<Plugin, LoadError> {
        let engine = &runtime.inner.engine;
        let imports = reflect::imports(engine, &component);
        crate::caps::check(name, &imports, &caps)?;
        let pre = runtime
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| link_error(name, &imports, &e))?;
        let nodes = reflect::nodes(engine, &component);
        let by_name = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.desc.name.clone(), i))
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
                warm: Default::default(),
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

    /// The node called `name` (`f` or `iface/f`).
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

    /// Instances made ahead of calls and waiting for one (see
    /// [`crate::RuntimeConfig::warm_instances`]).
    pub fn ready_instances(&self) -> usize {
        self.inner.warm.len()
    }

    /// Instances made ahead of calls since the plugin was loaded.
    pub fn instances_made_ahead(&self) -> u64 {
        self.inner.warm.made()
    }

    fn entry(&self, name: &str) -> Option<&NodeEntry> {
        self.inner.by_name.get(name).map(|&i| &self.inner.nodes[i])
    }

    /// Calls node `name` with `args` (a map by parameter name, or an array in
    /// order) in a fresh instance and returns its result. A stream node's
    /// items (and a channel node's answers to no input) come back as one
    /// array, within the result cap; [`Plugin::call_stream`] hands them on
    /// one by one instead.
    ///
    /// Dropping the returned future cancels the call; the guest is interrupted
    /// at its next epoch tick.
    ///
    /// # Errors
    ///
    /// A [`CallError`] whose kind says what failed: `not-found`, `bad-args`,
    /// `trap`, `timeout`, `resource-limit`, `node-error` or `internal`.
    pub async fn call(
        &self,
        name: &str,
        args: Value,
        options: CallOptions,
    ) -> Result<Value, CallError> {
        self.call_inner(name, args, options, None).await
    }

    /// Calls node `name` like [`Plugin::call`], handing each item of a
    /// stream or channel node to `io.items` as it is produced (the final
    /// value is then nil) and feeding a channel node `io.inputs`. The guest
    /// produces the next item only when `io.items` has room, and the whole
    /// exchange counts against the call's deadline.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`]; an error after some items ends the stream.
    pub async fn call_stream(
        &self,
        name: &str,
        args: Value,
        options: CallOptions,
        io: StreamIo,
    ) -> Result<Value, CallError> {
        self.call_inner(name, args, options, Some(io)).await
    }

    async fn call_inner(
        &self,
        name: &str,
        args: Value,
        options: CallOptions,
        io: Option<StreamIo>,
    ) -> Result<Value, CallError> {
        let node = self.entry(name).ok_or_else(|| self.not_found(name))?;
        if let Some(why) = &node.desc.not_callable {
            return Err(CallError::new(
                ErrorKind::NotFound,
                format!("`{}/{name}` is not callable: {why}", self.inner.name),
            ));
        }
        let params = match take_bytes(node, args) {
            Ok(bytes) => Params::Bytes(bytes),
            Err(args) => Params::Vals(self.convert_args(node, &args)?),
        };
        let limits = &self.inner.limits;
        let timeout_at = Instant::now() + limits.timeout;
        let deadline = options.deadline.map_or(timeout_at, |d| d.min(timeout_at));
        let callers_deadline = deadline < timeout_at;
        // A fresh instance: one made ahead of the call (`make_ready`) if one
        // is waiting, else a new store, instantiated in `run`.
        let ready = self.inner.warm.enter();
        let (mut store, instance) = match ready {
            Some(ready) => {
                let (store, instance) = ready.into_parts();
                (store, Some(instance))
            }
            None => (
                self.new_store()
                    .map_err(|e| CallError::new(ErrorKind::Internal, e))?,
                None,
            ),
        };
        store
            .data_mut()
            .begin(node.desc.name.as_str().into(), options, deadline);
        store.set_epoch_deadline(1);

        let full = format!("{}/{}", self.inner.name, node.desc.name);
        let pump = Pump::new(io, limits.max_result_bytes, deadline, full);
        let outcome = self.run(&mut store, node, instance, params, pump).await;
        let stderr = self.flush_output(&store);
        match outcome {
            Ok(Ran::Result(val)) => self.convert_result(node, val.as_ref()),
            Ok(Ran::Bytes(result)) => self.bytes_result(node, result),
            Ok(Ran::Streamed(value)) => Ok(value),
            Err(RunError::Call(e)) => Err(e),
            Err(RunError::Wasm(error)) => {
                let mut error = self.classify(&store, node, error, &stderr);
                if error.kind == ErrorKind::Timeout && callers_deadline {
                    error.message = format!(
                        "`{}/{}` did not finish before the caller's deadline",
                        self.inner.name, node.desc.name
                    );
                }
                Err(error)
            }
        }
    }

    /// A store for one instance, with the plugin's limits; the epoch
    /// callback ends it at its state's deadline.
    fn new_store(&self) -> Result<Store<CallState>, String> {
        let limits = &self.inner.limits;
        let state = CallState::new(self.inner.name.clone(), limits, self.inner.caps.clone())?;
        let mut store = Store::new(&self.inner.runtime.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(limits.hostcall_fuel);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            if Instant::now() >= ctx.data().deadline {
                ctx.data_mut().timed_out = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            // Yield so other calls on this thread run and a dropped call ends.
            Ok(UpdateDeadline::Yield(1))
        });
        Ok(store)
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
        let started = Instant::now();
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

    async fn run(
        &self,
        store: &mut Store<CallState>,
        node: &NodeEntry,
        instance: Option<Instance>,
        params: Params,
        mut pump: Pump,
    ) -> Result<Ran, RunError> {
        let instance = match instance {
            Some(instance) => instance,
            None => self.inner.pre.instantiate_async(&mut *store).await?,
        };
        let func = instance
            .get_func(&mut *store, node.export)
            .ok_or_else(|| wasmtime::format_err!("export `{}` disappeared", node.desc.name))?;
        let params = match params {
            Params::Vals(vals) => vals,
            Params::Bytes(bytes) => {
                let result = match node.bytes {
                    Some(BytesResult::BytesOrError) => {
                        let typed = func.typed::<(&[u8],), (Result<Vec<u8>, String>,)>(&*store)?;
                        typed.call_async(&mut *store, (&bytes,)).await?.0
                    }
                    _ => {
                        let typed = func.typed::<(&[u8],), (Vec<u8>,)>(&*store)?;
                        Ok(typed.call_async(&mut *store, (&bytes,)).await?.0)
                    }
                };
                return Ok(Ran::Bytes(result));
            }
        };
        let params = params.as_slice();
        let mut results = vec![Val::Bool(false); usize::from(node.result.is_some())];
        func.call_async(&mut *store, params, &mut results).await?;
        let handle = results.pop();
        match (&node.shape, handle) {
            (Shape::Call, result) => return Ok(Ran::Result(result)),
            (Shape::Stream { next, returns }, Some(handle)) => {
                streaming::run_stream(store, &instance, *next, returns, handle, &mut pump).await?;
            }
            (
                Shape::Channel {
                    send,
                    finish,
                    input,
                    output,
                },
                Some(handle),
            ) => {
                streaming::run_channel(
                    store, &instance, *send, *finish, input, output, handle, &mut pump,
                )
                .await?;
            }
            (_, None) => return Err(wasmtime::format_err!("a stream node returned nothing").into()),
        }
        Ok(Ran::Streamed(pump.finish()))
    }

    fn not_found(&self, name: &str) -> CallError {
        let mut known: Vec<&str> = self.nodes().map(|n| n.name.as_str()).collect();
        known.truncate(20);
        CallError::new(
            ErrorKind::NotFound,
            format!(
                "plugin `{}` has no node `{name}`; it has: {}",
                self.inner.name,
                known.join(", ")
            ),
        )
    }

    fn convert_args(&self, node: &NodeEntry, args: &Value) -> Result<Vec<Val>, CallError> {
        let bad = |param: &str, e: ConvError| {
            let at = if e.path.is_empty() {
                String::new()
            } else {
                format!(" at `{}`", e.path)
            };
            CallError::new(
                ErrorKind::BadArgs,
                format!(
                    "parameter `{param}`{at}: expected {}, got {}",
                    e.expected, e.got
                ),
            )
        };
        let params = &node.params;
        match args {
            Value::Array(items) => {
                if items.len() != params.len() {
                    return Err(CallError::new(
                        ErrorKind::BadArgs,
                        format!(
                            "`{}` takes {} argument(s) ({}), got {}",
                            node.desc.name,
                            params.len(),
                            param_list(node),
                            items.len()
                        ),
                    ));
                }
                params
                    .iter()
                    .zip(items)
                    .map(|((name, ty), v)| convert::to_val(ty, v).map_err(|e| bad(name, e)))
                    .collect()
            }
            Value::Map(entries) => {
                for (k, _) in entries {
                    if !k
                        .as_str()
                        .is_some_and(|k| params.iter().any(|(n, _)| n == k))
                    {
                        return Err(CallError::new(
                            ErrorKind::BadArgs,
                            format!(
                                "`{}` has no parameter {}; its parameters are: {}",
                                node.desc.name,
                                k.as_str()
                                    .map_or_else(|| convert::describe(k), |k| format!("`{k}`")),
                                param_list(node)
                            ),
                        ));
                    }
                }
                params
                    .iter()
                    .map(|(name, ty)| {
                        let v = entries.iter().find(|(k, _)| k.as_str() == Some(name));
                        match v {
                            Some((_, v)) => convert::to_val(ty, v).map_err(|e| bad(name, e)),
                            // An omitted optional parameter is `none`.
                            None if matches!(ty, wasmtime::component::types::Type::Option(_)) => {
                                Ok(Val::Option(None))
                            }
                            None => Err(CallError::new(
                                ErrorKind::BadArgs,
                                format!("missing parameter `{name}` ({})", param_list(node)),
                            )),
                        }
                    })
                    .collect()
            }
            Value::Nil if params.is_empty() => Ok(Vec::new()),
            other => Err(CallError::new(
                ErrorKind::BadArgs,
                format!(
                    "arguments must be a map by parameter name or an array in order ({}), got {}",
                    param_list(node),
                    convert::describe(other)
                ),
            )),
        }
    }

    fn bytes_result(
        &self,
        node: &NodeEntry,
        result: Result<Vec<u8>, String>,
    ) -> Result<Value, CallError> {
        let cap = self.inner.limits.max_result_bytes;
        let size = match &result {
            Ok(b) => b.len(),
            Err(s) => s.len(),
        };
        // The MessagePack header of a bin or str is at most 5 bytes.
        if size.saturating_add(5) > cap {
            return Err(self.too_large(node));
        }
        match result {
            Ok(bytes) => Ok(Value::Binary(bytes)),
            Err(message) => Err(CallError::new(ErrorKind::NodeError, message.clone())
                .with_details(Value::from(message))),
        }
    }

    /// The error for a result over the plugin's result cap.
    fn too_large(&self, node: &NodeEntry) -> CallError {
        CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "the result of `{}/{}` is larger than the result cap of {}",
                self.inner.name,
                node.desc.name,
                bytes_text(self.inner.limits.max_result_bytes)
            ),
        )
    }

    fn convert_result(&self, node: &NodeEntry, result: Option<&Val>) -> Result<Value, CallError> {
        let (Some(ty), Some(val)) = (&node.result, result) else {
            return Ok(Value::Nil);
        };
        let cap = self.inner.limits.max_result_bytes;
        let mut budget = cap;
        let value = convert::from_val(ty, val, &mut budget).map_err(|_| self.too_large(node))?;
        if !node.unwraps_result() {
            return Ok(value);
        }
        // A top-level result<T, E>: ok(T) is the value, err(E) a node-error.
        let Value::Map(mut entries) = value else {
            return Ok(value);
        };
        let Some((case, payload)) = entries.pop() else {
            return Ok(Value::Nil);
        };
        if case.as_str() == Some("ok") {
            return Ok(payload);
        }
        let message = match payload.as_str() {
            Some(text) => text.to_owned(),
            None => format!("`{}/{}` returned an error", self.inner.name, node.desc.name),
        };
        Err(CallError::new(ErrorKind::NodeError, message).with_details(payload))
    }

    /// Sends what the guest printed to the log; returns its stderr.
    fn flush_output(&self, store: &Store<CallState>) -> String {
        let data = store.data();
        for (capture, stream) in [(&data.stdout, "stdout"), (&data.stderr, "stderr")] {
            let (text, dropped) = capture.take();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                tracing::info!(target: "warden::guest", plugin = &*data.plugin, node = &*data.node, stream, "{line}");
            }
            if dropped > 0 {
                tracing::warn!(target: "warden::guest", plugin = &*data.plugin, node = &*data.node, stream, "{dropped} bytes of output dropped");
            }
            if stream == "stderr" {
                return text;
            }
        }
        String::new()
    }

    fn classify(
        &self,
        store: &Store<CallState>,
        node: &NodeEntry,
        error: wasmtime::Error,
        stderr: &str,
    ) -> CallError {
        let data = store.data();
        let full = format!("{}/{}", self.inner.name, node.desc.name);
        if data.timed_out {
            return CallError::new(
                ErrorKind::Timeout,
                format!(
                    "`{full}` did not finish within its deadline ({})",
                    duration_text(self.inner.limits.timeout)
                ),
            );
        }
        if let Some(asked) = data.limiter.memory_hit {
            return CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "`{full}` hit its memory limit of {} (it asked for {} more)",
                    bytes_text(data.limiter.memory_limit()),
                    bytes_text(asked)
                ),
            );
        }
        if data.limiter.table_hit {
            return CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "`{full}` hit its table size limit of {} elements",
                    self.inner.limits.table_elements
                ),
            );
        }
        let trap = error.downcast_ref::<Trap>().copied();
        if trap == Some(Trap::StackOverflow) {
            return CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "`{full}` overflowed its stack (limit {}); unbounded recursion?",
                    bytes_text(self.inner.runtime.inner.config.max_wasm_stack)
                ),
            );
        }
        if let Some(panic) = panic_message(stderr) {
            return CallError::new(ErrorKind::Trap, format!("`{full}` panicked: {panic}"));
        }
        let text = format!("{error:#}");
        match trap {
            Some(Trap::MemoryOutOfBounds) => CallError::new(
                ErrorKind::Trap,
                format!(
                    "`{full}` trapped: out of bounds memory access (a guest whose stack \
                     overflows, e.g. by unbounded recursion, ends like this)"
                ),
            ),
            Some(trap) => CallError::new(ErrorKind::Trap, format!("`{full}` trapped: {trap}")),
            // wasmtime's hostcall-fuel error type is private; its message is stable.
            None if text.contains("fuel allocated for hostcalls") => CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "`{full}` moved more than {} between guest and host in one step \
                     (the plugin's hostcall fuel)",
                    bytes_text(self.inner.limits.hostcall_fuel)
                ),
            ),
            None if text.contains("pooling allocator") || text.contains("maximum concurrent") => {
                CallError::new(
                    ErrorKind::Overloaded,
                    format!("no instance slot is free for `{full}`: {text}"),
                )
            }
            None => CallError::new(ErrorKind::Trap, format!("`{full}` failed: {text}")),
        }
    }
}

/// Finds a Rust panic message (`thread '…' panicked at FILE:\nMESSAGE`) in
/// a guest's stderr.
fn panic_message(stderr: &str) -> Option<String> {
    let at = stderr.find("panicked at")?;
    let rest = &stderr[at + "panicked at".len()..];
    let mut lines = rest.lines();
    let location = lines
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches(':');
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note:") && !l.trim().is_empty())
        .collect();
    if message.is_empty() {
        return Some(format!("at {location}"));
    }
    Some(format!("{} (at {location})", message.join("\n")))
}

fn param_list(node: &NodeEntry) -> String {
    if node.desc.params.is_empty() {
        return "no parameters".into();
    }
    node.desc
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.ty))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1536` → `1.5 KiB`.
pub(crate) fn bytes_text(n: usize) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn duration_text(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
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

fn link_error(name: &str, imports: &[ImportDesc], error: &wasmtime::Error) -> LoadError {
    let text = format!("{error:#}");
    // wasmtime names the import it could not find; point at it.
    if let Some(import) = imports.iter().find(|i| text.contains(i.name.as_str())) {
        return LoadError::UnsatisfiedImport {
            plugin: name.to_owned(),
            import: import.name.clone(),
            hint: format!("{text}; Warden provides WASI 0.2 and `warden:node`"),
        };
    }
    LoadError::Link {
        plugin: name.to_owned(),
        reason: text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rust_panic_messages() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:12:5:\nboom: 42\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("boom: 42 (at src/lib.rs:12:5)")
        );
        assert_eq!(panic_message("nothing here"), None);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes_text(512), "512 bytes");
        assert_eq!(bytes_text(64 << 20), "64 MiB");
        assert_eq!(bytes_text(1536), "1.5 KiB");
    }

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
