//! Calling a node: a fresh instance with the plugin's limits, the call's
//! capabilities set, the arguments bound, the guest run, and the result (or
//! stream) handed back.

use std::sync::Arc;
use std::time::Instant;

use rmpv::Value;
use wasmtime::Store;
use wasmtime::component::types::Type;
use wasmtime::component::{Instance, Val};

use super::args::{Args, Params, bind};
use super::classify::classify;
use super::convert;
use super::plugin::Plugin;
use super::reflect::{BytesResult, NodeEntry, Shape};
use super::store::CallState;
use super::streaming::{self, Pump, RunError, StreamIo};
use super::val_wire;
use crate::caps::{EventSink, Invoker};
use crate::proto::{CallError, CallEvent, ErrorKind};
use crate::text::bytes_text;

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
    /// This call's place in the caller's trace: the nodes it invokes are
    /// below it.
    pub trace: Option<crate::proto::TraceContext>,
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

/// A call's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The result value.
    Value(Value),
    /// The result as one MessagePack value, written straight from the
    /// guest's result without `Value`s: a call node's result when asked
    /// for with [`Plugin::call_encoded`].
    Encoded(Vec<u8>),
    /// Bytes to write as MessagePack `bin` without copying them into a
    /// frame first: a bytes node's result, when asked for with
    /// [`Plugin::call_encoded`].
    Bin(Vec<u8>),
}

impl Reply {
    /// The answer as a value, decoding an encoded one.
    ///
    /// # Errors
    ///
    /// `internal` if encoded bytes do not decode (the host wrote them, so
    /// this is a bug).
    pub fn into_value(self) -> Result<Value, CallError> {
        match self {
            Reply::Value(value) => Ok(value),
            Reply::Bin(bytes) => Ok(Value::Binary(bytes)),
            Reply::Encoded(bytes) => crate::proto::decode_value(&bytes, crate::proto::MAX_DEPTH)
                .map_err(|e| {
                    CallError::new(ErrorKind::Internal, format!("an encoded answer: {e}"))
                }),
        }
    }
}

/// How a node's run ended.
enum Ran {
    /// A bytes node's result.
    Bytes(Result<Vec<u8>, String>),
    /// A numbers node's result.
    Numbers(super::numbers::Numbers),
    /// A call node's result value, to convert.
    Result(Option<Val>),
    /// A stream or channel node's final value.
    Streamed(Value),
}

impl Plugin {
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
    /// `trap`, `timeout`, `resource-limit`, `node-error`, `overloaded` (no
    /// instance slot) or `internal`.
    pub async fn call(
        &self,
        name: &str,
        args: Value,
        options: CallOptions,
    ) -> Result<Value, CallError> {
        self.call_with(name, args.into(), options, None, false)
            .await?
            .into_value()
    }

    /// Calls node `name` like [`Plugin::call`] (or [`Plugin::call_stream`]
    /// when `io` is given), for a front end that speaks MessagePack: the
    /// arguments may stay encoded as they arrived (read straight into the
    /// guest's values), a call node answers encoded ([`Reply::Encoded`],
    /// written straight from the guest's result) and a bytes node its bytes
    /// as [`Reply::Bin`]. A stream or channel node's final value is a value.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub async fn call_encoded(
        &self,
        name: &str,
        args: Args,
        options: CallOptions,
        io: Option<StreamIo>,
    ) -> Result<Reply, CallError> {
        self.call_with(name, args, options, io, true).await
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
        self.call_with(name, args.into(), options, Some(io), false)
            .await?
            .into_value()
    }

    /// Checks that `args` fit node `name`'s parameters, without calling it
    /// (e.g. before a job is queued).
    ///
    /// # Errors
    ///
    /// `not-found` for an unknown or uncallable node, `bad-args` naming the
    /// parameter that does not fit.
    pub fn check_args(&self, name: &str, args: &Value) -> Result<(), CallError> {
        let node = self.callable(name)?;
        bind(node, args).map(drop)
    }

    /// The node called `name`, if it can be called.
    fn callable(&self, name: &str) -> Result<&NodeEntry, CallError> {
        let node = self.entry(name).ok_or_else(|| self.not_found(name))?;
        if let Some(why) = &node.desc.not_callable {
            return Err(CallError::new(
                ErrorKind::NotFound,
                format!("`{}` is not callable: {why}", self.full(node)),
            ));
        }
        Ok(node)
    }

    /// One call: `io` for a stream or channel node's items and input, and
    /// with `encoded` a call node's answer ready to write (what
    /// [`Plugin::call_encoded`] gives); without it, always a value.
    pub(crate) async fn call_with(
        &self,
        name: &str,
        args: Args,
        options: CallOptions,
        io: Option<StreamIo>,
        encoded: bool,
    ) -> Result<Reply, CallError> {
        let node = self.callable(name)?;
        let params = Params::take(node, args)?;
        let limits = &self.inner.limits;
        let timeout_at = Instant::now() + limits.timeout;
        let deadline = options.deadline.map_or(timeout_at, |d| d.min(timeout_at));
        let callers_deadline = deadline < timeout_at;
        // A fresh instance: one made ahead of the call (`make_ready`) if one
        // is waiting, else a new store, instantiated in `run`.
        let (mut store, instance) = match self.inner.warm.enter() {
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
        begin(&mut store, node, options, deadline);

        let full = self.full(node);
        let pump = Pump::new(io, limits.max_result_bytes, deadline, full.clone());
        let outcome = self.run(&mut store, node, instance, params, pump).await;
        let stderr = flush_output(&store);
        let budget = self.inner.limits.max_result_bytes;
        match outcome {
            Ok(Ran::Result(val)) if encoded => self.encode_result(node, val.as_ref()),
            Ok(Ran::Result(val)) => self.convert_result(node, val.as_ref()).map(Reply::Value),
            Ok(Ran::Bytes(result)) => self.bytes_result(node, result).map(|bytes| match encoded {
                true => Reply::Bin(bytes),
                false => Reply::Value(Value::Binary(bytes)),
            }),
            Ok(Ran::Numbers(list)) if encoded => list
                .encode(budget)
                .map(Reply::Encoded)
                .map_err(|_| self.too_large(node)),
            Ok(Ran::Numbers(list)) => list
                .into_value(budget)
                .map(Reply::Value)
                .map_err(|_| self.too_large(node)),
            Ok(Ran::Streamed(value)) => Ok(Reply::Value(value)),
            Err(RunError::Call(e)) => Err(e),
            Err(RunError::Wasm(error)) => {
                let mut error = classify(
                    store.data(),
                    &full,
                    limits,
                    &self.inner.runtime.inner.config,
                    error,
                    &stderr,
                );
                if error.kind == ErrorKind::Timeout && callers_deadline {
                    error.message = format!("`{full}` did not finish before the caller's deadline");
                }
                Err(error)
            }
        }
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
            .ok_or_else(|| wasmtime::format_err!("export `{}` disappeared", node.desc.name()))?;
        let params = match params {
            Params::Vals(vals) => vals,
            Params::Bytes(bytes) => {
                let result = match node.bytes {
                    Some(BytesResult::BytesOrError) => {
                        let typed = func.typed::<(&[u8],), (Result<Vec<u8>, String>,)>(&*store)?;
                        typed.call_async(&mut *store, (&bytes[..],)).await?.0
                    }
                    _ => {
                        let typed = func.typed::<(&[u8],), (Vec<u8>,)>(&*store)?;
                        Ok(typed.call_async(&mut *store, (&bytes[..],)).await?.0)
                    }
                };
                return Ok(Ran::Bytes(result));
            }
            Params::Numbers(list) => return Ok(Ran::Numbers(list.call(func, store).await?)),
        };
        let mut results = vec![Val::Bool(false); usize::from(node.result.is_some())];
        func.call_async(&mut *store, &params, &mut results).await?;
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
        let mut known: Vec<&str> = self.nodes().map(|n| n.name()).collect();
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

    fn bytes_result(
        &self,
        node: &NodeEntry,
        result: Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>, CallError> {
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
            Ok(bytes) => Ok(bytes),
            Err(message) => Err(CallError::new(ErrorKind::NodeError, message.clone())
                .with_details(Value::from(message))),
        }
    }

    /// The error for a result over the plugin's result cap.
    fn too_large(&self, node: &NodeEntry) -> CallError {
        CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "the result of `{}` is larger than the result cap of {}",
                self.full(node),
                bytes_text(self.inner.limits.max_result_bytes)
            ),
        )
    }

    /// A call node's result written as MessagePack, meaning what
    /// `convert_result` makes of it (an error from a top-level
    /// `result` is made there).
    fn encode_result(&self, node: &NodeEntry, result: Option<&Val>) -> Result<Reply, CallError> {
        let (Some(ty), Some(val)) = (&node.result, result) else {
            return Ok(Reply::Value(Value::Nil));
        };
        let mut budget = self.inner.limits.max_result_bytes;
        let mut out = Vec::new();
        let written = match (ty, val) {
            // A top-level result<T, E>: ok(T) is the value.
            (Type::Result(result), Val::Result(Ok(payload))) if node.unwraps_result() => {
                // What the `{"ok": ..}` around it would have cost.
                budget = budget.checked_sub(8).ok_or_else(|| self.too_large(node))?;
                match (result.ok(), payload) {
                    (Some(t), Some(p)) => val_wire::write(&t, p, &mut budget, &mut out),
                    _ => return Ok(Reply::Value(Value::Nil)),
                }
            }
            (Type::Result(_), _) if node.unwraps_result() => {
                return self.convert_result(node, result).map(Reply::Value);
            }
            _ => val_wire::write(ty, val, &mut budget, &mut out),
        };
        written.map_err(|_| self.too_large(node))?;
        Ok(Reply::Encoded(out))
    }

    fn convert_result(&self, node: &NodeEntry, result: Option<&Val>) -> Result<Value, CallError> {
        let (Some(ty), Some(val)) = (&node.result, result) else {
            return Ok(Value::Nil);
        };
        let mut budget = self.inner.limits.max_result_bytes;
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
            None => format!("`{}` returned an error", self.full(node)),
        };
        Err(CallError::new(ErrorKind::NodeError, message).with_details(payload))
    }
}

/// Makes the store's state that of a call of `node`.
fn begin(store: &mut Store<CallState>, node: &NodeEntry, options: CallOptions, deadline: Instant) {
    let caps = &mut store.data_mut().caps;
    let mut chain = options.chain;
    chain.push(node.desc.info.node.clone());
    caps.node = node.desc.name().into();
    caps.events = options.events;
    caps.invoker = options.invoker;
    caps.chain = chain;
    caps.trace = options.trace;
    caps.deadline = deadline;
    let node_name = caps.node.clone();
    let events = caps.events.clone();
    let outbound = &mut store.data_mut().outbound;
    outbound.node = node_name;
    outbound.events = events;
    outbound.deadline = deadline;
    store.set_epoch_deadline(1);
}

/// Sends what the guest printed to the log; returns its stderr.
fn flush_output(store: &Store<CallState>) -> String {
    let data = store.data();
    let (plugin, node) = (&*data.caps.plugin, &*data.caps.node);
    let mut stderr = String::new();
    for (capture, stream) in [(&data.stdout, "stdout"), (&data.stderr, "stderr")] {
        let (text, dropped) = capture.take();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(target: "warden::guest", plugin, node, stream, "{line}");
        }
        if dropped > 0 {
            tracing::warn!(target: "warden::guest", plugin, node, stream, "{dropped} bytes of output dropped");
        }
        if stream == "stderr" {
            stderr = text;
        }
    }
    stderr
}
