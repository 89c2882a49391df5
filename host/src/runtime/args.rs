//! Binding a call's arguments (a map by parameter name, an array in order,
//! or nil) to a node's parameters.

use bytes::Bytes;
use rmpv::Value;
use wasmtime::component::Val;
use wasmtime::component::types::Type;

use super::convert::{self, ConvError};
use super::msgpack;
use super::numbers::Numbers;
use super::reflect::NodeEntry;
use super::val_wire;
use crate::proto::{CallError, ErrorKind, RawValue};

/// A call's arguments as a front end has them.
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    /// Decoded values: a map by parameter name, an array in order, or nil.
    Value(Value),
    /// The same as MessagePack, as it came off the wire, already checked
    /// against the caller's bound on its decoded size
    /// ([`RawValue::extent`]). They are read straight into the guest's
    /// values (a bytes node takes its bytes as a slice of them), without
    /// `Value`s in between.
    Encoded(RawValue),
}

impl From<Value> for Args {
    fn from(value: Value) -> Self {
        Args::Value(value)
    }
}

impl Args {
    /// The arguments as values, decoding encoded ones.
    ///
    /// # Errors
    ///
    /// `bad-request` for bytes that are not one MessagePack value (which a
    /// request read by the protocol's parser cannot hold).
    pub fn into_value(self) -> Result<Value, CallError> {
        match self {
            Args::Value(value) => Ok(value),
            Args::Encoded(raw) => raw
                .decode(usize::MAX)
                .map_err(|e| CallError::new(ErrorKind::BadRequest, e.to_string())),
        }
    }
}

/// A node's arguments, ready for the guest.
pub(super) enum Params {
    /// Converted to `Val`s.
    Vals(Vec<Val>),
    /// The one `list<u8>` argument of a bytes node, taken as it is (from
    /// the request's own bytes when they arrived encoded).
    Bytes(Bytes),
    /// The one list argument of a numbers node.
    Numbers(Numbers),
}

impl Params {
    /// The arguments of a call of `node`; encoded arguments are read
    /// straight into a numbers node's list, a slice of their bytes for a
    /// bytes node, or `Val`s, and go through `Value`s only when they do not
    /// fit (the general path then says why).
    pub(super) fn take(node: &NodeEntry, args: Args) -> Result<Params, CallError> {
        if let Args::Encoded(raw) = &args {
            let param = node.params.first().map_or("", |(name, _)| name.as_str());
            if let Some(kind) = node.numbers
                && let Some(numbers) = Numbers::decode(kind, param, raw.bytes())
            {
                return Ok(Params::Numbers(numbers));
            }
            if node.bytes.is_some()
                && let Some(range) = msgpack::bin_in_args(raw.bytes(), param)
            {
                return Ok(Params::Bytes(raw.bytes().slice(range)));
            }
            // A numbers node's list the fast reader did not take (floats
            // written as "NaN", say) may still fit its typed path.
            if node.numbers.is_none()
                && let Some(vals) = val_wire::read_args(node, raw.bytes())
            {
                return Ok(Params::Vals(vals));
            }
        }
        Params::take_value(node, args.into_value()?)
    }

    /// The arguments of a call of `node`, moving a bytes node's bytes.
    fn take_value(node: &NodeEntry, args: Value) -> Result<Params, CallError> {
        match take_bytes(node, args) {
            Ok(bytes) => Ok(Params::Bytes(bytes.into())),
            Err(args) => match take_numbers(node, &args) {
                Some(numbers) => Ok(Params::Numbers(numbers)),
                None => bind(node, &args).map(Params::Vals),
            },
        }
    }
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

/// The list argument of a numbers node (see `NodeEntry::numbers`), when
/// every element fits; `None` sends the call the general way.
fn take_numbers(node: &NodeEntry, args: &Value) -> Option<Numbers> {
    let kind = node.numbers?;
    let items = match args {
        Value::Array(items) if items.len() == 1 => &items[0],
        Value::Map(entries)
            if entries.len() == 1 && entries[0].0.as_str() == Some(node.params[0].0.as_str()) =>
        {
            &entries[0].1
        }
        _ => return None,
    };
    match items {
        Value::Array(items) => Numbers::take(kind, items),
        _ => None,
    }
}

/// Converts `args` to `node`'s parameter values.
pub(super) fn bind(node: &NodeEntry, args: &Value) -> Result<Vec<Val>, CallError> {
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
    let name = node.desc.name();
    match args {
        Value::Array(items) => {
            if items.len() != params.len() {
                return Err(CallError::new(
                    ErrorKind::BadArgs,
                    format!(
                        "`{name}` takes {} argument(s) ({}), got {}",
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
                            "`{name}` has no parameter {}; its parameters are: {}",
                            k.as_str()
                                .map_or_else(|| convert::describe(k), |k| format!("`{k}`")),
                            param_list(node)
                        ),
                    ));
                }
            }
            params
                .iter()
                .map(|(pname, ty)| {
                    let v = entries.iter().find(|(k, _)| k.as_str() == Some(pname));
                    match v {
                        Some((_, v)) => convert::to_val(ty, v).map_err(|e| bad(pname, e)),
                        // An omitted optional parameter is `none`.
                        None if matches!(ty, Type::Option(_)) => Ok(Val::Option(None)),
                        None => Err(CallError::new(
                            ErrorKind::BadArgs,
                            format!("missing parameter `{pname}` ({})", param_list(node)),
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

fn param_list(node: &NodeEntry) -> String {
    let params = &node.desc.info.params;
    if params.is_empty() {
        return "no parameters".into();
    }
    params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.ty))
        .collect::<Vec<_>>()
        .join(", ")
}
