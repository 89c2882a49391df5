//! The frames of the protocol and their MessagePack maps.

use rmpv::Value;

use crate::{CallError, ErrorKind};

/// A request: the first frame a client sends on a stream (for `blob-put`,
/// the blob's bytes follow as `bin` frames).
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `{"type": "call", "node": .., "args": .., "deadline_ms"?: .., "meta"?: ..}`
    Call {
        /// The node's full name, e.g. `math/add`.
        node: String,
        /// A map by parameter name or an array in order (nil for none).
        args: Value,
        /// Milliseconds the caller will wait, counted from when the server
        /// reads the request.
        deadline_ms: Option<u64>,
        /// Free-form caller metadata (e.g. a trace id); passed through.
        meta: Option<Value>,
    },
    /// `{"type": "catalog"}`: every node the server serves.
    Catalog,
    /// `{"type": "describe", "node": ..}`: one node.
    Describe {
        /// The node's full name.
        node: String,
    },
    /// `{"type": "status"}`: every plugin's state (served or failed) and the
    /// compiled cache's counters.
    Status,
    /// `{"type": "hello", "token": s}`: identifies the connection's caller;
    /// answered with `ok {"caller": name}` or `err unauthenticated`.
    Hello {
        /// The caller's secret token.
        token: String,
    },
    /// `{"type": "blob-put", "size"?: n}`: uploads a blob. The client then
    /// sends its bytes as MessagePack `bin` frames and finishes the stream;
    /// the answer is `ok {"ref": s, "size": n}`.
    BlobPut {
        /// The announced size, checked against the limit up front and
        /// against the bytes received at the end.
        size: Option<u64>,
    },
    /// `{"type": "submit", "node": s, "args": v, "callback"?: s}`: starts a
    /// job; answered at once with the job (`ok` with its record).
    Submit {
        /// The node's full name.
        node: String,
        /// Its arguments.
        args: Value,
        /// A node to call with the outcome.
        callback: Option<String>,
    },
    /// `{"type": "job", "id": s, "wait_ms"?: n, "keep"?: bool}`: a job's
    /// state and, once finished, its result (the job is then removed unless
    /// `keep`). `wait_ms` waits that long for it to finish.
    Job {
        /// The job's id.
        id: String,
        /// How long to wait for the job to finish.
        wait_ms: Option<u64>,
        /// Keep a finished job after returning it.
        keep: bool,
    },
    /// `{"type": "cancel", "id": s}`: cancels a job that has not finished.
    Cancel {
        /// The job's id.
        id: String,
    },
    /// `{"type": "blob-get", "ref": s}`: downloads a blob as `item` frames
    /// holding `bin` chunks, then `ok {"ref": s, "size": n}`.
    BlobGet {
        /// The blob reference, `blake3:` and 64 hex digits.
        reference: String,
    },
}

/// A frame the server sends on a request's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `{"type": "progress", "fraction": f, "message": s}`
    Progress {
        /// 0.0 to 1.0.
        fraction: f32,
        /// What the node is doing.
        message: String,
    },
    /// `{"type": "log", "level": s, "message": s}`
    Log {
        /// `trace`, `debug`, `info`, `warn` or `error`.
        level: String,
        /// The line.
        message: String,
    },
    /// `{"type": "item", "value": v}`: one item of a streaming result.
    Item(Value),
    /// `{"type": "ok", "value": v}`: the final frame of a successful request.
    Ok(Value),
    /// `{"type": "err", "kind": s, "message": s, "details"?: v}`: the final
    /// frame of a failed request.
    Err(CallError),
}

/// A frame that does not have the shape its type requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtoError(pub String);

fn get<'v>(map: &'v [(Value, Value)], key: &str) -> Option<&'v Value> {
    map.iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn field_str(map: &[(Value, Value)], frame: &str, key: &str) -> Result<String, ProtoError> {
    match get(map, key) {
        Some(Value::String(s)) => s
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ProtoError(format!("`{frame}` frame: `{key}` is not valid UTF-8"))),
        Some(_) => Err(ProtoError(format!(
            "`{frame}` frame: `{key}` must be a string"
        ))),
        None => Err(ProtoError(format!("`{frame}` frame: missing `{key}`"))),
    }
}

fn take_map(value: Value) -> Result<Vec<(Value, Value)>, ProtoError> {
    match value {
        Value::Map(map) => Ok(map),
        other => Err(ProtoError(format!(
            "a frame must be a MessagePack map with a `type` key, got {}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(value: &Value) -> &'static str {
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

fn frame_type(map: &[(Value, Value)]) -> Result<String, ProtoError> {
    field_str(map, "frame", "type")
}

fn entry(key: &'static str, value: Value) -> (Value, Value) {
    (Value::from(key), value)
}

impl Request {
    /// Reads a request from a decoded frame.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming what is missing or of the wrong type, or an
    /// unknown frame type.
    pub fn from_value(value: Value) -> Result<Request, ProtoError> {
        let mut map = take_map(value)?;
        let ty = frame_type(&map)?;
        match ty.as_str() {
            "call" => {
                let node = field_str(&map, "call", "node")?;
                let deadline_ms = match get(&map, "deadline_ms") {
                    None | Some(Value::Nil) => None,
                    Some(v) => Some(v.as_u64().ok_or_else(|| {
                        ProtoError(
                            "`call` frame: `deadline_ms` must be a non-negative integer".into(),
                        )
                    })?),
                };
                let mut args = Value::Nil;
                let mut meta = None;
                for (k, v) in map.drain(..) {
                    match k.as_str() {
                        Some("args") => args = v,
                        Some("meta") if !v.is_nil() => meta = Some(v),
                        _ => {}
                    }
                }
                Ok(Request::Call {
                    node,
                    args,
                    deadline_ms,
                    meta,
                })
            }
            "catalog" => Ok(Request::Catalog),
            "status" => Ok(Request::Status),
            "describe" => Ok(Request::Describe {
                node: field_str(&map, "describe", "node")?,
            }),
            "hello" => Ok(Request::Hello {
                token: field_str(&map, "hello", "token")?,
            }),
            "blob-put" => Ok(Request::BlobPut {
                size: match get(&map, "size") {
                    None | Some(Value::Nil) => None,
                    Some(v) => Some(v.as_u64().ok_or_else(|| {
                        ProtoError("`blob-put` frame: `size` must be a non-negative integer".into())
                    })?),
                },
            }),
            "blob-get" => Ok(Request::BlobGet {
                reference: field_str(&map, "blob-get", "ref")?,
            }),
            "submit" => {
                let node = field_str(&map, "submit", "node")?;
                let callback = match get(&map, "callback") {
                    None | Some(Value::Nil) => None,
                    Some(_) => Some(field_str(&map, "submit", "callback")?),
                };
                let args = map
                    .iter()
                    .position(|(k, _)| k.as_str() == Some("args"))
                    .map_or(Value::Nil, |i| map.swap_remove(i).1);
                Ok(Request::Submit {
                    node,
                    args,
                    callback,
                })
            }
            "job" => Ok(Request::Job {
                id: field_str(&map, "job", "id")?,
                wait_ms: match get(&map, "wait_ms") {
                    None | Some(Value::Nil) => None,
                    Some(v) => Some(v.as_u64().ok_or_else(|| {
                        ProtoError("`job` frame: `wait_ms` must be a non-negative integer".into())
                    })?),
                },
                keep: get(&map, "keep").and_then(Value::as_bool).unwrap_or(false),
            }),
            "cancel" => Ok(Request::Cancel {
                id: field_str(&map, "cancel", "id")?,
            }),
            other => Err(ProtoError(format!(
                "unknown request type `{other}`; expected `call`, `catalog`, `describe`, \
                 `status`, `hello`, `blob-put`, `blob-get`, `submit`, `job` or `cancel`"
            ))),
        }
    }

    /// The request as a MessagePack map.
    pub fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    /// The request as a MessagePack map, moving its arguments (no copy of
    /// a large payload).
    pub fn into_value(self) -> Value {
        match self {
            Request::Call {
                node,
                args,
                deadline_ms,
                meta,
            } => {
                let mut map = vec![
                    entry("type", Value::from("call")),
                    entry("node", Value::from(node)),
                    entry("args", args),
                ];
                if let Some(ms) = deadline_ms {
                    map.push(entry("deadline_ms", Value::from(ms)));
                }
                if let Some(meta) = meta {
                    map.push(entry("meta", meta));
                }
                Value::Map(map)
            }
            Request::Catalog => Value::Map(vec![entry("type", Value::from("catalog"))]),
            Request::Status => Value::Map(vec![entry("type", Value::from("status"))]),
            Request::Describe { node } => Value::Map(vec![
                entry("type", Value::from("describe")),
                entry("node", Value::from(node)),
            ]),
            Request::Hello { token } => Value::Map(vec![
                entry("type", Value::from("hello")),
                entry("token", Value::from(token)),
            ]),
            Request::BlobPut { size } => {
                let mut map = vec![entry("type", Value::from("blob-put"))];
                if let Some(size) = size {
                    map.push(entry("size", Value::from(size)));
                }
                Value::Map(map)
            }
            Request::Submit {
                node,
                args,
                callback,
            } => {
                let mut map = vec![
                    entry("type", Value::from("submit")),
                    entry("node", Value::from(node)),
                    entry("args", args),
                ];
                if let Some(callback) = callback {
                    map.push(entry("callback", Value::from(callback)));
                }
                Value::Map(map)
            }
            Request::Job { id, wait_ms, keep } => {
                let mut map = vec![
                    entry("type", Value::from("job")),
                    entry("id", Value::from(id)),
                ];
                if let Some(ms) = wait_ms {
                    map.push(entry("wait_ms", Value::from(ms)));
                }
                if keep {
                    map.push(entry("keep", Value::from(true)));
                }
                Value::Map(map)
            }
            Request::Cancel { id } => Value::Map(vec![
                entry("type", Value::from("cancel")),
                entry("id", Value::from(id)),
            ]),
            Request::BlobGet { reference } => Value::Map(vec![
                entry("type", Value::from("blob-get")),
                entry("ref", Value::from(reference)),
            ]),
        }
    }
}

/// Reads one input message of a channel call: after the `call` request the
/// client sends `{"type": "item", "value": v}` frames, then finishes.
///
/// # Errors
///
/// [`ProtoError`] when the frame is not an `item` frame.
pub fn parse_input(frame: Value) -> Result<Value, ProtoError> {
    let mut map = take_map(frame)?;
    let ty = frame_type(&map)?;
    if ty != "item" {
        return Err(ProtoError(format!(
            "after a `call` request a channel node takes `item` frames, got `{ty}`"
        )));
    }
    Ok(map
        .iter()
        .position(|(k, _)| k.as_str() == Some("value"))
        .map_or(Value::Nil, |i| map.swap_remove(i).1))
}

/// An input message of a channel call as a frame.
pub fn input_frame(value: Value) -> Value {
    Value::Map(vec![
        entry("type", Value::from("item")),
        entry("value", value),
    ])
}

impl Response {
    /// Whether this is the last frame of its stream (`ok` or `err`).
    pub fn is_final(&self) -> bool {
        matches!(self, Response::Ok(_) | Response::Err(_))
    }

    /// Reads a response from a decoded frame.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming what is missing or malformed.
    pub fn from_value(value: Value) -> Result<Response, ProtoError> {
        let mut map = take_map(value)?;
        let ty = frame_type(&map)?;
        let mut take = |key: &str| {
            map.iter()
                .position(|(k, _)| k.as_str() == Some(key))
                .map(|i| map.swap_remove(i).1)
        };
        match ty.as_str() {
            "ok" => Ok(Response::Ok(take("value").unwrap_or(Value::Nil))),
            "item" => Ok(Response::Item(take("value").unwrap_or(Value::Nil))),
            "err" => {
                let kind = take("kind")
                    .and_then(|k| k.as_str().and_then(|k| k.parse::<ErrorKind>().ok()))
                    .unwrap_or(ErrorKind::Internal);
                let message = take("message")
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let details = take("details").filter(|d| !d.is_nil());
                Ok(Response::Err(CallError {
                    kind,
                    message,
                    details,
                }))
            }
            "progress" => {
                let fraction = take("fraction").and_then(|f| f.as_f64()).unwrap_or(0.0) as f32;
                let message = take("message")
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .unwrap_or_default();
                Ok(Response::Progress { fraction, message })
            }
            "log" => {
                let level = take("level")
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "info".into());
                let message = take("message")
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .unwrap_or_default();
                Ok(Response::Log { level, message })
            }
            other => Err(ProtoError(format!("unknown response type `{other}`"))),
        }
    }

    /// The response as a MessagePack map.
    pub fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    /// The response as a MessagePack map, moving its value (no copy of a
    /// large result).
    pub fn into_value(self) -> Value {
        match self {
            Response::Progress { fraction, message } => Value::Map(vec![
                entry("type", Value::from("progress")),
                entry("fraction", Value::F32(fraction)),
                entry("message", Value::from(message)),
            ]),
            Response::Log { level, message } => Value::Map(vec![
                entry("type", Value::from("log")),
                entry("level", Value::from(level)),
                entry("message", Value::from(message)),
            ]),
            Response::Item(v) => {
                Value::Map(vec![entry("type", Value::from("item")), entry("value", v)])
            }
            Response::Ok(v) => {
                Value::Map(vec![entry("type", Value::from("ok")), entry("value", v)])
            }
            Response::Err(e) => {
                let mut map = vec![
                    entry("type", Value::from("err")),
                    entry("kind", Value::from(e.kind.as_str())),
                    entry("message", Value::from(e.message)),
                ];
                if let Some(d) = e.details {
                    map.push(entry("details", d));
                }
                Value::Map(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let requests = [
            Request::Call {
                node: "math/add".into(),
                args: Value::Array(vec![1.into(), 2.into()]),
                deadline_ms: Some(500),
                meta: Some(Value::from("trace-1")),
            },
            Request::Call {
                node: "x/y".into(),
                args: Value::Nil,
                deadline_ms: None,
                meta: None,
            },
            Request::Catalog,
            Request::Describe {
                node: "math/add".into(),
            },
            Request::Hello {
                token: "wdn_x".into(),
            },
            Request::BlobPut { size: Some(7) },
            Request::BlobPut { size: None },
            Request::BlobGet {
                reference: "blake3:00".into(),
            },
            Request::Submit {
                node: "math/add".into(),
                args: Value::Array(vec![1.into()]),
                callback: Some("cb/done".into()),
            },
            Request::Job {
                id: "ab".into(),
                wait_ms: Some(10),
                keep: true,
            },
            Request::Cancel { id: "ab".into() },
        ];
        for r in requests {
            assert_eq!(Request::from_value(r.to_value()), Ok(r));
        }
    }

    #[test]
    fn responses_round_trip() {
        let responses = [
            Response::Progress {
                fraction: 0.5,
                message: "half".into(),
            },
            Response::Log {
                level: "warn".into(),
                message: "hm".into(),
            },
            Response::Item(Value::from(7)),
            Response::Ok(Value::from("done")),
            Response::Err(CallError::new(ErrorKind::Timeout, "slow")),
            Response::Err(CallError::new(ErrorKind::NodeError, "no").with_details(Value::from(3))),
        ];
        for r in responses {
            assert_eq!(Response::from_value(r.to_value()), Ok(r));
        }
    }

    /// The bytes of PROTOCOL.md's worked example.
    #[test]
    fn the_worked_example_in_the_protocol_document_is_exact() {
        let request = Request::Call {
            node: "math/add".into(),
            args: Value::Array(vec![1.into(), 2.into()]),
            deadline_ms: None,
            meta: None,
        };
        let mut bytes = Vec::new();
        crate::proto::encode_frame(&request.to_value(), &mut bytes);
        let expected = "00 00 00 21 83 a4 74 79 70 65 a4 63 61 6c 6c a4 6e 6f 64 65 a8 6d 61 \
                        74 68 2f 61 64 64 a4 61 72 67 73 92 01 02";
        assert_eq!(
            hex(&bytes),
            expected.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        let mut bytes = Vec::new();
        crate::proto::encode_frame(&Response::Ok(Value::from(3)).to_value(), &mut bytes);
        assert_eq!(
            hex(&bytes),
            "00 00 00 10 82 a4 74 79 70 65 a2 6f 6b a5 76 61 6c 75 65 03"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let err = Request::from_value(Value::from(1)).unwrap_err();
        assert!(err.0.contains("must be a MessagePack map"), "{err}");
        let no_type = Value::Map(vec![(Value::from("node"), Value::from("a/b"))]);
        assert!(
            Request::from_value(no_type)
                .unwrap_err()
                .0
                .contains("missing `type`")
        );
        let unknown = Value::Map(vec![(Value::from("type"), Value::from("dance"))]);
        assert!(
            Request::from_value(unknown)
                .unwrap_err()
                .0
                .contains("unknown request type `dance`")
        );
        let no_node = Value::Map(vec![(Value::from("type"), Value::from("call"))]);
        assert!(
            Request::from_value(no_node)
                .unwrap_err()
                .0
                .contains("missing `node`")
        );
        let bad_deadline = Value::Map(vec![
            (Value::from("type"), Value::from("call")),
            (Value::from("node"), Value::from("a/b")),
            (Value::from("deadline_ms"), Value::from(-1)),
        ]);
        assert!(
            Request::from_value(bad_deadline)
                .unwrap_err()
                .0
                .contains("deadline_ms")
        );
    }
}
