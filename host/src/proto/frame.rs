//! The frames of the protocol and their MessagePack maps.

use rmpv::Value;

use super::error::{CallError, ErrorKind};
use super::event::{CallEvent, LogLevel};
use super::record::{MapIn, MapOut, ProtoError, shorten};

/// The longest node name, token, job id or blob reference a request may
/// carry, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// A request: the first frame a client sends on a stream (a channel call's
/// input messages and a `blob-put`'s chunks follow it).
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
    /// `{"type": "catalog"}`: every node the caller may call.
    Catalog,
    /// `{"type": "describe", "node": ..}`: one node.
    Describe {
        /// The node's full name.
        node: String,
    },
    /// `{"type": "status"}`: every plugin's state (loading, served or
    /// failed) and the compiled cache's counters.
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
    /// `{"type": "blob-get", "ref": s}`: downloads a blob as `item` frames
    /// holding `bin` chunks, then `ok {"ref": s, "size": n}`.
    BlobGet {
        /// The blob reference, `blake3:` and 64 hex digits.
        reference: String,
    },
    /// `{"type": "submit", "node": s, "args": v, "callback"?: s}`: starts a
    /// job; answered at once with the job's record.
    Submit {
        /// The node's full name.
        node: String,
        /// Its arguments.
        args: Value,
        /// A node to call with the outcome.
        callback: Option<String>,
    },
    /// `{"type": "job", "id": s, "wait_ms"?: n, "keep"?: bool}`: a job's
    /// record and, once finished, its result (the job is then removed unless
    /// `keep`). `wait_ms` waits that long for it to finish.
    Job {
        /// The job's id.
        id: String,
        /// How long to wait for the job to finish.
        wait_ms: Option<u64>,
        /// Keep a finished job after returning it.
        keep: bool,
    },
    /// `{"type": "cancel", "id": s}`: cancels a job that has not finished;
    /// answered with its record as it is then.
    Cancel {
        /// The job's id.
        id: String,
    },
    /// `{"type": "session"}`: opens a session, a stream carrying many plain
    /// calls, each with an id (see [`super::session`]).
    Session,
}

/// What kind of frames follow a request on the client's side of its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follows {
    /// Nothing: the client finishes its side after the request.
    Nothing,
    /// A channel call's input messages, as `item` frames.
    Inputs,
    /// A blob's bytes, as `bin` frames.
    Chunks,
    /// A session's `call` and `cancel` frames, each with an id.
    Session,
}

impl Request {
    /// The `traceparent` in a call's `meta`, if it holds a valid one.
    pub fn trace(&self) -> Option<super::TraceContext> {
        let Request::Call {
            meta: Some(Value::Map(meta)),
            ..
        } = self
        else {
            return None;
        };
        meta.iter()
            .find(|(k, _)| k.as_str() == Some("traceparent"))
            .and_then(|(_, v)| v.as_str())
            .and_then(super::TraceContext::parse)
    }

    /// The request's `type`, e.g. `"call"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Request::Call { .. } => "call",
            Request::Catalog => "catalog",
            Request::Describe { .. } => "describe",
            Request::Status => "status",
            Request::Hello { .. } => "hello",
            Request::BlobPut { .. } => "blob-put",
            Request::BlobGet { .. } => "blob-get",
            Request::Submit { .. } => "submit",
            Request::Job { .. } => "job",
            Request::Cancel { .. } => "cancel",
            Request::Session => "session",
        }
    }

    /// Reads a request from a decoded frame.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming what is missing or of the wrong type, or an
    /// unknown frame type.
    pub fn from_value(value: Value) -> Result<Request, ProtoError> {
        let mut map = MapIn::new(value, "a request frame")?;
        let ty = map.str("type")?;
        let mut map = MapIn::renamed(map, request_what(&ty));
        Ok(match ty.as_str() {
            "call" => Request::Call {
                node: map.short_str("node", MAX_NAME_BYTES)?,
                deadline_ms: map.opt_u64("deadline_ms")?,
                args: map.take("args").unwrap_or(Value::Nil),
                meta: map.take("meta"),
            },
            "catalog" => Request::Catalog,
            "status" => Request::Status,
            "describe" => Request::Describe {
                node: map.short_str("node", MAX_NAME_BYTES)?,
            },
            "hello" => Request::Hello {
                token: map.short_str("token", MAX_NAME_BYTES)?,
            },
            "blob-put" => Request::BlobPut {
                size: map.opt_u64("size")?,
            },
            "blob-get" => Request::BlobGet {
                reference: map.short_str("ref", MAX_NAME_BYTES)?,
            },
            "submit" => Request::Submit {
                node: map.short_str("node", MAX_NAME_BYTES)?,
                callback: map.opt_short_str("callback", MAX_NAME_BYTES)?,
                args: map.take("args").unwrap_or(Value::Nil),
            },
            "job" => Request::Job {
                id: map.short_str("id", MAX_NAME_BYTES)?,
                wait_ms: map.opt_u64("wait_ms")?,
                keep: map.bool("keep")?,
            },
            "cancel" => Request::Cancel {
                id: map.short_str("id", MAX_NAME_BYTES)?,
            },
            "session" => Request::Session,
            other => {
                return Err(ProtoError(format!(
                    "unknown request type `{}`; expected `call`, `catalog`, `describe`, \
                     `status`, `hello`, `blob-put`, `blob-get`, `submit`, `job`, `cancel` or \
                     `session`",
                    shorten(other)
                )));
            }
        })
    }

    /// The request as a MessagePack map.
    pub fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    /// The request as a MessagePack map, moving its arguments (no copy of
    /// a large payload).
    pub fn into_value(self) -> Value {
        let map = MapOut::new().put("type", self.type_name());
        match self {
            Request::Call {
                node,
                args,
                deadline_ms,
                meta,
            } => map
                .put("node", node)
                .put("args", args)
                .some("deadline_ms", deadline_ms)
                .some("meta", meta),
            Request::Catalog | Request::Status | Request::Session => map,
            Request::Describe { node } => map.put("node", node),
            Request::Hello { token } => map.put("token", token),
            Request::BlobPut { size } => map.some("size", size),
            Request::BlobGet { reference } => map.put("ref", reference),
            Request::Submit {
                node,
                args,
                callback,
            } => map
                .put("node", node)
                .put("args", args)
                .some("callback", callback),
            Request::Job { id, wait_ms, keep } => map
                .put("id", id)
                .some("wait_ms", wait_ms)
                .some("keep", keep.then_some(true)),
            Request::Cancel { id } => map.put("id", id),
        }
        .build()
    }
}

fn request_what(ty: &str) -> &'static str {
    match ty {
        "call" => "`call` frame",
        "describe" => "`describe` frame",
        "hello" => "`hello` frame",
        "blob-put" => "`blob-put` frame",
        "blob-get" => "`blob-get` frame",
        "submit" => "`submit` frame",
        "job" => "`job` frame",
        "cancel" => "`cancel` frame",
        _ => "a request frame",
    }
}

/// Reads one input message of a channel call: after the `call` request the
/// client sends `{"type": "item", "value": v}` frames, then finishes.
///
/// # Errors
///
/// [`ProtoError`] when the frame is not an `item` frame.
pub fn parse_input(frame: Value) -> Result<Value, ProtoError> {
    let mut map = MapIn::new(frame, "a channel input frame")?;
    let ty = map.str("type")?;
    if ty != "item" {
        return Err(ProtoError(format!(
            "after a `call` request a channel node takes `item` frames, got `{}`",
            shorten(&ty)
        )));
    }
    Ok(map.take("value").unwrap_or(Value::Nil))
}

/// An input message of a channel call as a frame.
pub fn input_frame(value: Value) -> Value {
    Response::Event(CallEvent::Item(value)).into_value()
}

/// A frame the server sends on a request's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `progress`, `log` or `item`: something that happened before the
    /// result.
    Event(CallEvent),
    /// `{"type": "ok", "value": v}`: the final frame of a successful request.
    Ok(Value),
    /// `{"type": "err", "kind": s, "message": s, "details"?: v}`: the final
    /// frame of a failed request.
    Err(CallError),
}

impl Response {
    /// Whether this is the last frame of its stream (`ok` or `err`).
    pub fn is_final(&self) -> bool {
        !matches!(self, Response::Event(_))
    }

    /// The final frame for `result`.
    pub fn outcome(result: Result<Value, CallError>) -> Response {
        match result {
            Ok(v) => Response::Ok(v),
            Err(e) => Response::Err(e),
        }
    }

    /// Reads a response from a decoded frame. Unknown error kinds read as
    /// `internal` and unknown log levels as `info`, so a newer server's
    /// additions reach an older client as something it can show.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming what is missing or malformed.
    pub fn from_value(value: Value) -> Result<Response, ProtoError> {
        let mut map = MapIn::new(value, "a response frame")?;
        let ty = map.str("type")?;
        Ok(match ty.as_str() {
            "ok" => Response::Ok(map.take("value").unwrap_or(Value::Nil)),
            "item" => Response::Event(CallEvent::Item(map.take("value").unwrap_or(Value::Nil))),
            "err" => {
                let kind = map
                    .opt_str("kind")?
                    .and_then(|k| k.parse::<ErrorKind>().ok())
                    .unwrap_or(ErrorKind::Internal);
                Response::Err(CallError {
                    kind,
                    message: map.opt_str("message")?.unwrap_or_default(),
                    details: map.take("details"),
                })
            }
            "progress" => Response::Event(CallEvent::Progress {
                fraction: map.f64("fraction")?.unwrap_or(0.0) as f32,
                message: map.opt_str("message")?.unwrap_or_default(),
            }),
            "log" => Response::Event(CallEvent::Log {
                level: map
                    .opt_str("level")?
                    .and_then(|l| LogLevel::parse(&l))
                    .unwrap_or(LogLevel::Info),
                message: map.opt_str("message")?.unwrap_or_default(),
            }),
            other => {
                return Err(ProtoError(format!(
                    "unknown response type `{}`; expected `ok`, `err`, `item`, `progress` or \
                     `log`",
                    shorten(other)
                )));
            }
        })
    }

    /// The response as a MessagePack map.
    pub fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    /// The response as a MessagePack map, moving its value (no copy of a
    /// large result).
    pub fn into_value(self) -> Value {
        match self {
            Response::Event(CallEvent::Progress { fraction, message }) => MapOut::new()
                .put("type", "progress")
                .put("fraction", Value::F32(fraction))
                .put("message", message),
            Response::Event(CallEvent::Log { level, message }) => MapOut::new()
                .put("type", "log")
                .put("level", level.as_str())
                .put("message", message),
            Response::Event(CallEvent::Item(v)) => {
                MapOut::new().put("type", "item").put("value", v)
            }
            Response::Ok(v) => MapOut::new().put("type", "ok").put("value", v),
            Response::Err(e) => MapOut::new()
                .put("type", "err")
                .put("kind", e.kind.as_str())
                .put("message", e.message)
                .some("details", e.details),
        }
        .build()
    }
}

/// The answer to `hello`: `{"caller": name}`.
pub fn caller_value(name: &str) -> Value {
    MapOut::new().put("caller", name).build()
}

/// Reads the answer to `hello`.
///
/// # Errors
///
/// [`ProtoError`] when it has no `caller`.
pub fn parse_caller(value: Value) -> Result<String, ProtoError> {
    MapIn::new(value, "the answer to `hello`")?.str("caller")
}

/// A stored blob: the answer to `blob-put` and `blob-get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// `blake3:` and 64 lowercase hex digits.
    pub reference: String,
    /// Size in bytes.
    pub size: u64,
}

impl BlobInfo {
    /// `{"ref": s, "size": n}`.
    pub fn to_value(&self) -> Value {
        MapOut::new()
            .put("ref", self.reference.as_str())
            .put("size", self.size)
            .build()
    }

    /// Reads a blob answer.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] when `ref` or `size` is missing.
    pub fn from_value(value: Value) -> Result<BlobInfo, ProtoError> {
        let mut map = MapIn::new(value, "a blob answer")?;
        Ok(BlobInfo {
            reference: map.str("ref")?,
            size: map.u64("size")?,
        })
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
            Request::Status,
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
            Response::Event(CallEvent::Progress {
                fraction: 0.5,
                message: "half".into(),
            }),
            Response::Event(CallEvent::Log {
                level: LogLevel::Warn,
                message: "hm".into(),
            }),
            Response::Event(CallEvent::Item(Value::from(7))),
            Response::Ok(Value::from("done")),
            Response::Err(CallError::new(ErrorKind::Timeout, "slow")),
            Response::Err(CallError::new(ErrorKind::Unavailable, "loading")),
            Response::Err(CallError::new(ErrorKind::NodeError, "no").with_details(Value::from(3))),
        ];
        for r in responses {
            assert_eq!(Response::from_value(r.to_value()), Ok(r));
        }
        let blob = BlobInfo {
            reference: "blake3:ab".into(),
            size: 3,
        };
        assert_eq!(BlobInfo::from_value(blob.to_value()), Ok(blob));
        assert_eq!(parse_caller(caller_value("alice")).as_deref(), Ok("alice"));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let message = |v: Value| Request::from_value(v).unwrap_err().0;
        assert!(message(Value::from(1)).contains("expected a MessagePack map"));
        let no_type = Value::Map(vec![(Value::from("node"), Value::from("a/b"))]);
        assert!(message(no_type).contains("missing `type`"));
        let unknown = Value::Map(vec![(Value::from("type"), Value::from("dance"))]);
        assert!(message(unknown).contains("unknown request type `dance`"));
        let no_node = Value::Map(vec![(Value::from("type"), Value::from("call"))]);
        assert_eq!(message(no_node), "`call` frame: missing `node`");
        let bad_deadline = Value::Map(vec![
            (Value::from("type"), Value::from("call")),
            (Value::from("node"), Value::from("a/b")),
            (Value::from("deadline_ms"), Value::from(-1)),
        ]);
        assert!(message(bad_deadline).contains("`deadline_ms` must be a non-negative integer"));
        let long = Value::Map(vec![
            (Value::from("type"), Value::from("call")),
            (
                Value::from("node"),
                Value::from("x".repeat(MAX_NAME_BYTES + 1)),
            ),
        ]);
        assert!(message(long).contains("at most 1024"));
    }

    #[test]
    fn unknown_kinds_and_levels_read_as_something_a_client_can_show() {
        let err = Value::Map(vec![
            (Value::from("type"), Value::from("err")),
            (Value::from("kind"), Value::from("brand-new")),
            (Value::from("message"), Value::from("m")),
        ]);
        assert_eq!(
            Response::from_value(err),
            Ok(Response::Err(CallError::new(ErrorKind::Internal, "m")))
        );
        let log = Value::Map(vec![
            (Value::from("type"), Value::from("log")),
            (Value::from("level"), Value::from("notice")),
            (Value::from("message"), Value::from("m")),
        ]);
        assert_eq!(
            Response::from_value(log),
            Ok(Response::Event(CallEvent::Log {
                level: LogLevel::Info,
                message: "m".into()
            }))
        );
    }
}
