//! Reading and writing the protocol's records: MessagePack maps with named
//! string keys, every key always present (nil when unset), in the order
//! PROTOCOL.md shows them.

use rmpv::Value;
use serde_json::Value as Json;

/// A frame or record that does not have the shape its type requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtoError(pub String);

/// Builds a record map in key order.
#[derive(Debug, Default)]
pub(crate) struct MapOut(Vec<(Value, Value)>);

impl MapOut {
    pub(crate) fn new() -> Self {
        MapOut(Vec::new())
    }

    /// Adds `key: value`.
    pub(crate) fn put(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.0.push((Value::from(key), value.into()));
        self
    }

    /// Adds `key: value`, or `key: nil` when `None`.
    pub(crate) fn opt(self, key: &'static str, value: Option<impl Into<Value>>) -> Self {
        let value = value.map_or(Value::Nil, Into::into);
        self.put(key, value)
    }

    /// Adds `key` only when `value` is set (for optional request fields).
    pub(crate) fn some(self, key: &'static str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.put(key, v),
            None => self,
        }
    }

    pub(crate) fn build(self) -> Value {
        Value::Map(self.0)
    }
}

/// Takes the fields of a record map by name.
#[derive(Debug)]
pub(crate) struct MapIn {
    entries: Vec<(Value, Value)>,
    what: &'static str,
}

impl MapIn {
    /// The map in `value`, which is a `what` (named in errors).
    pub(crate) fn new(value: Value, what: &'static str) -> Result<Self, ProtoError> {
        match value {
            Value::Map(entries) => Ok(MapIn { entries, what }),
            other => Err(ProtoError(format!(
                "{what}: expected a MessagePack map, got {}",
                kind_of(&other)
            ))),
        }
    }

    /// The same map, named `what` in errors from now on.
    pub(crate) fn renamed(map: MapIn, what: &'static str) -> Self {
        MapIn { what, ..map }
    }

    fn error(&self, message: String) -> ProtoError {
        ProtoError(format!("{}: {message}", self.what))
    }

    /// The value of `key`, moved out; `None` when absent or nil.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.as_str() == Some(key))?;
        Some(self.entries.swap_remove(i).1).filter(|v| !v.is_nil())
    }

    pub(crate) fn opt_str(&mut self, key: &str) -> Result<Option<String>, ProtoError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => match s.into_str() {
                Some(s) => Ok(Some(s)),
                None => Err(self.error(format!("`{key}` is not valid UTF-8"))),
            },
            Some(other) => {
                Err(self.error(format!("`{key}` must be a string, got {}", kind_of(&other))))
            }
        }
    }

    pub(crate) fn str(&mut self, key: &str) -> Result<String, ProtoError> {
        self.opt_str(key)?
            .ok_or_else(|| self.error(format!("missing `{key}`")))
    }

    /// A string of at most `max` bytes (a name, an id).
    pub(crate) fn short_str(&mut self, key: &str, max: usize) -> Result<String, ProtoError> {
        let text = self.str(key)?;
        self.check_len(key, text, max)
    }

    /// An optional string of at most `max` bytes.
    pub(crate) fn opt_short_str(
        &mut self,
        key: &str,
        max: usize,
    ) -> Result<Option<String>, ProtoError> {
        match self.opt_str(key)? {
            Some(text) => self.check_len(key, text, max).map(Some),
            None => Ok(None),
        }
    }

    fn check_len(&self, key: &str, text: String, max: usize) -> Result<String, ProtoError> {
        if text.len() > max {
            return Err(self.error(format!(
                "`{key}` is {} bytes long; at most {max} are allowed",
                text.len()
            )));
        }
        Ok(text)
    }

    pub(crate) fn opt_u64(&mut self, key: &str) -> Result<Option<u64>, ProtoError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                self.error(format!(
                    "`{key}` must be a non-negative integer, got {}",
                    shown(&v)
                ))
            }),
        }
    }

    pub(crate) fn u64(&mut self, key: &str) -> Result<u64, ProtoError> {
        self.opt_u64(key)?
            .ok_or_else(|| self.error(format!("missing `{key}`")))
    }

    pub(crate) fn bool(&mut self, key: &str) -> Result<bool, ProtoError> {
        match self.take(key) {
            None => Ok(false),
            Some(Value::Boolean(b)) => Ok(b),
            Some(other) => {
                Err(self.error(format!("`{key}` must be a bool, got {}", kind_of(&other))))
            }
        }
    }

    pub(crate) fn f64(&mut self, key: &str) -> Result<Option<f64>, ProtoError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .or_else(|| v.as_i64().map(|i| i as f64))
                .map(Some)
                .ok_or_else(|| self.error(format!("`{key}` must be a number, got {}", shown(&v)))),
        }
    }

    /// A JSON Schema (a map) as JSON.
    pub(crate) fn schema(&mut self, key: &str) -> Result<Option<Json>, ProtoError> {
        match self.take(key) {
            None => Ok(None),
            Some(v @ (Value::Map(_) | Value::Boolean(_))) => {
                Ok(Some(crate::json::from_msgpack(&v)))
            }
            Some(other) => Err(self.error(format!(
                "`{key}` must be a JSON Schema (a map), got {}",
                kind_of(&other)
            ))),
        }
    }

    /// An array, each element read by `read`.
    pub(crate) fn list<T>(
        &mut self,
        key: &str,
        read: impl Fn(Value) -> Result<T, ProtoError>,
    ) -> Result<Vec<T>, ProtoError> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items.into_iter().map(read).collect(),
            Some(other) => {
                Err(self.error(format!("`{key}` must be an array, got {}", kind_of(&other))))
            }
        }
    }

    /// A string naming one of an enum's values, read by `parse`.
    pub(crate) fn name<T>(
        &mut self,
        key: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T, ProtoError> {
        let text = self.str(key)?;
        parse(&text).ok_or_else(|| self.error(format!("`{key}` is `{text}`; expected {expected}")))
    }
}

/// A JSON Schema as a MessagePack map.
pub(crate) fn schema(json: &Json) -> Value {
    crate::json::to_msgpack(json)
}

/// At most 64 characters of `text`, for messages that echo input.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A value as messages show it: small ones in full, others by kind.
fn shown(value: &Value) -> String {
    match value {
        Value::Integer(_) | Value::F32(_) | Value::F64(_) | Value::Boolean(_) | Value::Nil => {
            value.to_string()
        }
        other => kind_of(other).to_owned(),
    }
}

/// A short description of what a value is, for error messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "a bool",
        Value::Integer(_) => "an integer",
        Value::F32(_) | Value::F64(_) => "a float",
        Value::String(_) => "a string",
        Value::Binary(_) => "binary",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Ext(..) => "an extension value",
    }
}
