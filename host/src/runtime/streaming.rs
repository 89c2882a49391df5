//! Streaming and channel nodes, by convention over resources.
//!
//! A component model function returns one value, so a node that produces a
//! sequence returns a *resource* and the host pulls from it:
//!
//! ```wit
//! interface counter {
//!     resource numbers { next: func() -> option<u64>; }
//!     count: func(n: u64) -> numbers;            // a stream node
//! }
//! interface chat {
//!     resource session {
//!         send: func(message: string) -> list<string>;
//!         finish: func() -> list<string>;        // optional
//!     }
//!     echo: func(greeting: string) -> session;   // a channel node
//! }
//! ```
//!
//! The host calls `count`, then `next` on the same instance for each item
//! until `none` (or `err` for `result<option<T>, E>`). It only asks for the
//! next item once the previous one has been handed on, so a slow reader slows
//! the guest down instead of filling the host's memory. This works on
//! wasmtime 48 without component-model async, and plugins built with today's
//! wit-bindgen write it as an ordinary resource.

use std::time::Instant;

use rmpv::Value;
use tokio::sync::mpsc;
use wasmtime::Store;
use wasmtime::component::types::{ComponentFunc, Type};
use wasmtime::component::{ComponentExportIndex, Func, Instance, ResourceType, Val};

use super::reflect::{NodeEntry, Shape};
use super::store::CallState;
use super::{convert, schema, wit_type};
use crate::proto::{CallError, ErrorKind, NodeKind};

/// Makes `node` (whose result is `own<resource>`) a stream or channel node
/// when the resource has the conventional methods among `funcs`.
pub(crate) fn attach(
    node: &mut NodeEntry,
    resource: &ResourceType,
    funcs: &[(&str, ComponentFunc, ComponentExportIndex)],
) {
    let method = |wanted: &str| {
        funcs.iter().find(|(name, func, _)| {
            let Some(rest) = name.strip_prefix("[method]") else {
                return false;
            };
            let is_self =
                matches!(func.params().next(), Some((_, Type::Borrow(r))) if r == *resource);
            is_self && rest.rsplit_once('.').is_some_and(|(_, m)| m == wanted)
        })
    };
    let params_ok = node
        .params
        .iter()
        .all(|(_, t)| wit_type::not_callable_reason(t).is_none());
    if let Some((_, next, index)) = method("next")
        && next.params().len() == 1
        && let Some(returns) = next.results().next()
        && let Some(item) = stream_item(&returns)
        && wit_type::not_callable_reason(&item).is_none()
    {
        if params_ok {
            node.desc.not_callable = None;
        }
        let desc = &mut node.desc.info;
        desc.kind = NodeKind::Stream;
        desc.result = Some(format!("stream<{}>", wit_type::render(&item)));
        desc.item = Some(wit_type::render(&item));
        desc.item_schema = Some(schema::of(&item));
        desc.result_schema = serde_json::json!({"type": "null"});
        node.shape = Shape::Stream {
            next: *index,
            returns,
        };
        return;
    }
    if let Some((_, send, index)) = method("send")
        && send.params().len() == 2
        && let Some((_, input)) = send.params().nth(1)
        && let Some(output) = send.results().next()
        && let Type::List(list) = &output
        && wit_type::not_callable_reason(&input).is_none()
        && wit_type::not_callable_reason(&list.ty()).is_none()
    {
        let finish = method("finish")
            .filter(|(_, f, _)| f.params().len() == 1 && f.results().next() == Some(output.clone()))
            .map(|(_, _, i)| *i);
        let item = list.ty();
        if params_ok {
            node.desc.not_callable = None;
        }
        let desc = &mut node.desc.info;
        desc.kind = NodeKind::Channel;
        desc.result = Some(format!(
            "channel<{}, {}>",
            wit_type::render(&input),
            wit_type::render(&item)
        ));
        desc.item = Some(wit_type::render(&item));
        desc.item_schema = Some(schema::of(&item));
        desc.input = Some(wit_type::render(&input));
        desc.input_schema = Some(schema::of(&input));
        desc.result_schema = serde_json::json!({"type": "null"});
        node.shape = Shape::Channel {
            send: *index,
            finish,
            input,
            output,
        };
    }
}

/// `T` of `option<T>` or `result<option<T>, E>`.
fn stream_item(returns: &Type) -> Option<Type> {
    match returns {
        Type::Option(o) => Some(o.ty()),
        Type::Result(r) => match r.ok() {
            Some(Type::Option(o)) => Some(o.ty()),
            _ => None,
        },
        _ => None,
    }
}

/// Where a stream's items go and where a channel's input messages come from.
pub struct StreamIo {
    /// Receives each item as it is produced. Bounded: when it is full the
    /// guest is not asked for more until there is room.
    pub items: mpsc::Sender<Value>,
    /// The caller's messages for a channel node; `None` or a closed channel
    /// ends the input.
    pub inputs: Option<mpsc::Receiver<Value>>,
}

/// Why running a node failed: in wasm (to be classified) or already typed.
pub(crate) enum RunError {
    Wasm(wasmtime::Error),
    Call(CallError),
}

impl From<wasmtime::Error> for RunError {
    fn from(e: wasmtime::Error) -> Self {
        RunError::Wasm(e)
    }
}

impl From<CallError> for RunError {
    fn from(e: CallError) -> Self {
        RunError::Call(e)
    }
}

/// Hands items on (or collects them, without a [`StreamIo`]) and takes
/// channel inputs, within the call's deadline and size limits.
pub(crate) struct Pump {
    io: Option<StreamIo>,
    collected: Vec<Value>,
    /// Bytes the collected items may still take.
    collect_budget: usize,
    item_cap: usize,
    deadline: Instant,
    full: String,
}

impl Pump {
    pub(crate) fn new(
        io: Option<StreamIo>,
        item_cap: usize,
        deadline: Instant,
        full: String,
    ) -> Self {
        Pump {
            io,
            collected: Vec::new(),
            collect_budget: item_cap,
            item_cap,
            deadline,
            full,
        }
    }

    fn too_large(&self, what: &str) -> CallError {
        CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "{what} of `{}` is larger than the result cap of {} bytes",
                self.full, self.item_cap
            ),
        )
    }

    /// Converts `val` of type `ty` and hands it on.
    async fn emit(&mut self, ty: &Type, val: &Val) -> Result<(), CallError> {
        let mut budget = self.item_cap;
        let value =
            convert::from_val(ty, val, &mut budget).map_err(|_| self.too_large("an item"))?;
        let Some(io) = &self.io else {
            let used = self.item_cap - budget;
            self.collect_budget = self
                .collect_budget
                .checked_sub(used)
                .ok_or_else(|| self.too_large("the collected items"))?;
            self.collected.push(value);
            return Ok(());
        };
        match tokio::time::timeout_at(self.deadline.into(), io.items.send(value)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(CallError::new(
                ErrorKind::Cancelled,
                format!("the caller of `{}` stopped reading its items", self.full),
            )),
            Err(_) => Err(CallError::new(
                ErrorKind::Timeout,
                format!(
                    "`{}` did not finish within its deadline (its caller read items too slowly)",
                    self.full
                ),
            )),
        }
    }

    /// The caller's next message; `None` when the input has ended.
    async fn input(&mut self) -> Result<Option<Value>, CallError> {
        let Some(inputs) = self.io.as_mut().and_then(|io| io.inputs.as_mut()) else {
            return Ok(None);
        };
        tokio::time::timeout_at(self.deadline.into(), inputs.recv())
            .await
            .map_err(|_| {
                CallError::new(
                    ErrorKind::Timeout,
                    format!("`{}` did not finish within its deadline", self.full),
                )
            })
    }

    /// The final value: nil when streamed, the items when collected.
    pub(crate) fn finish(self) -> Value {
        match self.io {
            Some(_) => Value::Nil,
            None => Value::Array(self.collected),
        }
    }
}

fn export(
    store: &mut Store<CallState>,
    instance: &Instance,
    index: ComponentExportIndex,
) -> Result<Func, RunError> {
    instance
        .get_func(&mut *store, index)
        .ok_or_else(|| RunError::Wasm(wasmtime::format_err!("a stream method disappeared")))
}

/// Pulls items with `next` until it returns `none` (or `err`).
pub(crate) async fn run_stream(
    store: &mut Store<CallState>,
    instance: &Instance,
    next: ComponentExportIndex,
    returns: &Type,
    handle: Val,
    pump: &mut Pump,
) -> Result<(), RunError> {
    let func = export(store, instance, next)?;
    let (item_ty, err_ty) = match returns {
        Type::Option(o) => (o.ty(), None),
        Type::Result(r) => match r.ok() {
            Some(Type::Option(o)) => (o.ty(), r.err()),
            _ => return Err(RunError::Wasm(wasmtime::format_err!("bad stream type"))),
        },
        _ => return Err(RunError::Wasm(wasmtime::format_err!("bad stream type"))),
    };
    let args = [handle];
    loop {
        let mut out = [Val::Bool(false)];
        func.call_async(&mut *store, &args, &mut out).await?;
        let item = match &out[0] {
            Val::Option(None) => return Ok(()),
            Val::Option(Some(v)) => v.as_ref(),
            Val::Result(Ok(Some(inner))) => match inner.as_ref() {
                Val::Option(None) => return Ok(()),
                Val::Option(Some(v)) => v.as_ref(),
                _ => return Err(RunError::Wasm(wasmtime::format_err!("bad stream value"))),
            },
            Val::Result(Err(payload)) => {
                return Err(stream_error(&pump.full, err_ty.as_ref(), payload.as_deref()).into());
            }
            _ => return Err(RunError::Wasm(wasmtime::format_err!("bad stream value"))),
        };
        pump.emit(&item_ty, item).await?;
    }
}

/// The `err(E)` a stream ended with, as a `node-error` like a call's.
fn stream_error(full: &str, ty: Option<&Type>, payload: Option<&Val>) -> CallError {
    let mut budget = 64 << 10;
    let details = match (ty, payload) {
        (Some(ty), Some(val)) => convert::from_val(ty, val, &mut budget).ok(),
        _ => None,
    };
    let message = details.as_ref().and_then(|d| d.as_str()).map_or_else(
        || format!("the stream of `{full}` ended with an error"),
        str::to_owned,
    );
    let error = CallError::new(ErrorKind::NodeError, message);
    match details {
        Some(d) => error.with_details(d),
        None => error,
    }
}

/// Sends each input message with `send`, then calls `finish`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_channel(
    store: &mut Store<CallState>,
    instance: &Instance,
    send: ComponentExportIndex,
    finish: Option<ComponentExportIndex>,
    input_ty: &Type,
    output: &Type,
    handle: Val,
    pump: &mut Pump,
) -> Result<(), RunError> {
    let send = export(store, instance, send)?;
    let Type::List(list) = output else {
        return Err(RunError::Wasm(wasmtime::format_err!("bad channel type")));
    };
    let item_ty = list.ty();
    while let Some(message) = pump.input().await? {
        let val = convert::to_val(input_ty, &message).map_err(|e| {
            CallError::new(
                ErrorKind::BadArgs,
                format!(
                    "a message to `{}`: expected {}, got {}",
                    pump.full, e.expected, e.got
                ),
            )
        })?;
        let mut out = [Val::Bool(false)];
        send.call_async(&mut *store, &[handle.clone(), val], &mut out)
            .await?;
        if let Val::List(items) = &out[0] {
            for item in items {
                pump.emit(&item_ty, item).await?;
            }
        }
    }
    if let Some(finish) = finish {
        let finish = export(store, instance, finish)?;
        let mut out = [Val::Bool(false)];
        finish.call_async(&mut *store, &[handle], &mut out).await?;
        if let Val::List(items) = &out[0] {
            for item in items {
                pump.emit(&item_ty, item).await?;
            }
        }
    }
    Ok(())
}
