//! What hosts of a cluster say to each other, without I/O: the chunk
//! envelope and the frames of a forwarded call.
//!
//! Every NATS payload starts with one byte: [`WHOLE`] (a whole message
//! follows), [`PART`] (a part; more follow) or [`LAST`] (the last part). The
//! message is one MessagePack map with a `"type"`:
//!
//! | type | direction | keys |
//! |---|---|---|
//! | `call` | entry → `warden.<c>.call.<plugin>` | `node`, `caller`? (absent for `invoke`), `chain` (array of str), `deadline_ms`, `trace`? (a `traceparent`), `collect` (bool: items go into the result), `window` (items the server may send ahead), `args`? (absent: they follow as `args` on the control inbox) |
//! | `accepted` | server → entry | `host`, `control` (the server's control inbox), `window` (channel inputs the entry may send ahead) |
//! | `progress`, `log`, `item`, `ok`, `err` | server → entry | as in the QUIC protocol's response frames |
//! | `credit` | both | `n`: that many more items (server → entry: inputs) may be sent |
//! | `alive` | both | — |
//! | `args` | entry → server | `value` |
//! | `input` | entry → server | `value`: one channel input |
//! | `end` | entry → server | the channel input has ended |
//! | `cancel` | entry → server | the caller went away |

use bytes::Bytes;
use rmpv::Value;

use crate::proto::{MAX_DEPTH, ProtoError, Response, decode_value};

/// The envelope byte of a whole message.
pub const WHOLE: u8 = 0;
/// The envelope byte of a part with more to follow.
pub const PART: u8 = 1;
/// The envelope byte of a message's last part.
pub const LAST: u8 = 2;

/// The largest part sent, whatever the server allows (smaller parts keep
/// other messages on the connection moving).
pub const CHUNK: usize = 256 * 1024;

/// The largest message a receiver joins from parts (an argument, a
/// result, an item, an announcement).
pub const MAX_MESSAGE: usize = 256 << 20;

/// Items (or channel inputs) one side may send ahead of the other.
pub const WINDOW: u32 = 16;

/// Encodes `message` as MessagePack.
pub fn encode(message: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, message);
    out
}

/// Splits an encoded message into payloads of at most `chunk` bytes (plus
/// the envelope byte).
pub fn split(message: &[u8], chunk: usize) -> Vec<Bytes> {
    let chunk = chunk.max(1);
    if message.len() <= chunk {
        let mut one = Vec::with_capacity(message.len() + 1);
        one.push(WHOLE);
        one.extend_from_slice(message);
        return vec![Bytes::from(one)];
    }
    let parts = message.chunks(chunk);
    let last = parts.len() - 1;
    parts
        .enumerate()
        .map(|(i, data)| {
            let mut part = Vec::with_capacity(data.len() + 1);
            part.push(if i == last { LAST } else { PART });
            part.extend_from_slice(data);
            Bytes::from(part)
        })
        .collect()
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The payload is empty or its envelope byte unknown.
    #[error("a payload with no valid envelope byte")]
    Envelope,
    /// The parts add up to more than allowed.
    #[error("a message larger than {0} bytes")]
    TooLarge(usize),
    /// The message is not MessagePack, or not the frame expected.
    #[error("a malformed message: {0}")]
    Malformed(String),
}

impl From<ProtoError> for WireError {
    fn from(e: ProtoError) -> Self {
        WireError::Malformed(e.0)
    }
}

/// Joins the parts of messages arriving on one subject. Only one publisher
/// sends messages in parts on a subject at a time, but whole messages from
/// others may come between them.
#[derive(Debug)]
pub struct Joiner {
    buf: Vec<u8>,
    max: usize,
}

impl Joiner {
    /// A joiner of messages up to `max` bytes.
    pub fn new(max: usize) -> Self {
        Joiner {
            buf: Vec::new(),
            max,
        }
    }

    /// Takes one payload; returns the message once it is whole, decoded.
    ///
    /// # Errors
    ///
    /// [`WireError`] for a bad envelope, an oversized or malformed message
    /// (the parts so far are dropped).
    pub fn push(&mut self, payload: &[u8]) -> Result<Option<Value>, WireError> {
        let Some((&kind, data)) = payload.split_first() else {
            return Err(WireError::Envelope);
        };
        let whole = match kind {
            // A whole message may come between the parts of another (an
            // `alive` sent while a large input goes out in parts): the parts
            // so far stay.
            WHOLE => {
                if data.len() > self.max {
                    return Err(WireError::TooLarge(self.max));
                }
                return decode(data).map(Some);
            }
            PART | LAST => {
                if self.buf.len() + data.len() > self.max {
                    self.buf = Vec::new();
                    return Err(WireError::TooLarge(self.max));
                }
                self.buf.extend_from_slice(data);
                kind == LAST
            }
            _ => return Err(WireError::Envelope),
        };
        if !whole {
            return Ok(None);
        }
        let message = std::mem::take(&mut self.buf);
        decode(&message).map(Some)
    }
}

fn decode(bytes: &[u8]) -> Result<Value, WireError> {
    decode_value(bytes, MAX_DEPTH).map_err(|e| WireError::Malformed(e.to_string()))
}

/// A call request, as the entry host sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRequest {
    /// The node's full name.
    pub node: String,
    /// The caller's name; `None` for a node's `invoke`.
    pub caller: Option<String>,
    /// The calls that led here (for `invoke`).
    pub chain: Vec<String>,
    /// Milliseconds the call has left.
    pub deadline_ms: u64,
    /// The caller's `traceparent`.
    pub trace: Option<String>,
    /// Whether a stream node's items go into its result (the caller reads
    /// no stream).
    pub collect: bool,
    /// Items the server may send before the entry grants more.
    pub window: u32,
    /// The arguments; `None`: they follow on the control inbox.
    pub args: Option<Value>,
}

impl CallRequest {
    /// The request as a map.
    pub fn to_value(&self) -> Value {
        let mut map = vec![
            (Value::from("type"), Value::from("call")),
            (Value::from("node"), Value::from(self.node.as_str())),
            (
                Value::from("chain"),
                Value::Array(self.chain.iter().map(|c| Value::from(c.as_str())).collect()),
            ),
            (Value::from("deadline_ms"), Value::from(self.deadline_ms)),
            (Value::from("collect"), Value::from(self.collect)),
            (Value::from("window"), Value::from(self.window)),
        ];
        if let Some(caller) = &self.caller {
            map.push((Value::from("caller"), Value::from(caller.as_str())));
        }
        if let Some(trace) = &self.trace {
            map.push((Value::from("trace"), Value::from(trace.as_str())));
        }
        if let Some(args) = &self.args {
            map.push((Value::from("args"), args.clone()));
        }
        Value::Map(map)
    }

    /// Reads a request.
    ///
    /// # Errors
    ///
    /// [`WireError::Malformed`] naming what is wrong.
    pub fn from_value(value: Value) -> Result<CallRequest, WireError> {
        let mut map = Fields::new(value)?;
        if map.str("type")?.as_deref() != Some("call") {
            return Err(WireError::Malformed("not a call request".into()));
        }
        Ok(CallRequest {
            node: map
                .str("node")?
                .ok_or_else(|| WireError::Malformed("a call without `node`".into()))?,
            caller: map.str("caller")?,
            chain: match map.take("chain") {
                None => Vec::new(),
                Some(Value::Array(items)) => items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => s
                            .into_str()
                            .ok_or_else(|| WireError::Malformed("`chain`: not UTF-8".into())),
                        _ => Err(WireError::Malformed("`chain` holds a non-string".into())),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(WireError::Malformed("`chain` is not an array".into())),
            },
            deadline_ms: map.u64("deadline_ms")?.unwrap_or(0),
            trace: map.str("trace")?,
            collect: matches!(map.take("collect"), Some(Value::Boolean(true))),
            window: map
                .u64("window")?
                .map_or(WINDOW, |w| u32::try_from(w).unwrap_or(u32::MAX)),
            args: map.take("args"),
        })
    }
}

/// A frame of a forwarded call other than the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The server took the call.
    Accepted {
        /// The serving host's id.
        host: String,
        /// Where the entry sends its side of the call.
        control: String,
        /// Channel inputs the entry may send ahead.
        window: u32,
    },
    /// An event, an item or the final answer.
    Response(Response),
    /// That many more items (or inputs) may be sent.
    Credit(u32),
    /// Still there.
    Alive,
    /// The arguments, when they did not fit the request.
    Args(Value),
    /// One channel input.
    Input(Value),
    /// The channel input ended.
    End,
    /// The caller went away.
    Cancel,
}

impl Frame {
    /// The frame as a map.
    pub fn into_value(self) -> Value {
        let typed = |ty: &str, rest: Vec<(Value, Value)>| {
            let mut map = vec![(Value::from("type"), Value::from(ty))];
            map.extend(rest);
            Value::Map(map)
        };
        match self {
            Frame::Accepted {
                host,
                control,
                window,
            } => typed(
                "accepted",
                vec![
                    (Value::from("host"), Value::from(host)),
                    (Value::from("control"), Value::from(control)),
                    (Value::from("window"), Value::from(window)),
                ],
            ),
            Frame::Response(response) => response.into_value(),
            Frame::Credit(n) => typed("credit", vec![(Value::from("n"), Value::from(n))]),
            Frame::Alive => typed("alive", Vec::new()),
            Frame::Args(v) => typed("args", vec![(Value::from("value"), v)]),
            Frame::Input(v) => typed("input", vec![(Value::from("value"), v)]),
            Frame::End => typed("end", Vec::new()),
            Frame::Cancel => typed("cancel", Vec::new()),
        }
    }

    /// Reads a frame.
    ///
    /// # Errors
    ///
    /// [`WireError::Malformed`] for an unknown type or missing keys.
    pub fn from_value(value: Value) -> Result<Frame, WireError> {
        let mut map = Fields::new(value.clone())?;
        let ty = map
            .str("type")?
            .ok_or_else(|| WireError::Malformed("a frame without `type`".into()))?;
        Ok(match ty.as_str() {
            "accepted" => Frame::Accepted {
                host: map.str("host")?.unwrap_or_default(),
                control: map
                    .str("control")?
                    .ok_or_else(|| WireError::Malformed("`accepted` without `control`".into()))?,
                window: map
                    .u64("window")?
                    .map_or(WINDOW, |w| u32::try_from(w).unwrap_or(u32::MAX)),
            },
            "credit" => Frame::Credit(
                map.u64("n")?
                    .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            ),
            "alive" => Frame::Alive,
            "args" => Frame::Args(map.take("value").unwrap_or(Value::Nil)),
            "input" => Frame::Input(map.take("value").unwrap_or(Value::Nil)),
            "end" => Frame::End,
            "cancel" => Frame::Cancel,
            _ => Frame::Response(Response::from_value(value)?),
        })
    }
}

/// The fields of a map, taken one by one.
pub(super) struct Fields(Vec<(Value, Value)>);

impl Fields {
    pub(super) fn new(value: Value) -> Result<Fields, WireError> {
        match value {
            Value::Map(map) => Ok(Fields(map)),
            _ => Err(WireError::Malformed("not a map".into())),
        }
    }

    pub(super) fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| k.as_str() == Some(key))?;
        Some(self.0.swap_remove(i).1)
    }

    pub(super) fn str(&mut self, key: &str) -> Result<Option<String>, WireError> {
        match self.take(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(Value::String(s)) => s
                .into_str()
                .map(Some)
                .ok_or_else(|| WireError::Malformed(format!("`{key}` is not UTF-8"))),
            Some(_) => Err(WireError::Malformed(format!("`{key}` is not a string"))),
        }
    }

    pub(super) fn u64(&mut self, key: &str) -> Result<Option<u64>, WireError> {
        match self.take(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| WireError::Malformed(format!("`{key}` is not an unsigned int"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{CallError, ErrorKind};

    #[test]
    fn a_large_message_travels_in_parts_and_joins_whole() {
        let big = Value::Binary(vec![7u8; 10_000]);
        let bytes = encode(&big);
        let parts = split(&bytes, 1000);
        assert_eq!(parts.len(), bytes.len().div_ceil(1000));
        assert!(parts.iter().all(|p| p.len() <= 1001));
        let mut joiner = Joiner::new(1 << 20);
        let mut out = None;
        for (i, part) in parts.iter().enumerate() {
            let got = joiner.push(part).expect("a valid part");
            assert_eq!(got.is_some(), i == parts.len() - 1);
            out = got.or(out);
        }
        assert_eq!(out.as_ref(), Some(&big));
        // A small one is one payload, and may come between another's parts.
        let small = split(&encode(&Value::from(1)), 1000);
        assert_eq!(small.len(), 1);
        assert_eq!(joiner.push(&small[0]), Ok(Some(Value::from(1))));
        assert_eq!(joiner.push(&parts[0]), Ok(None));
        assert_eq!(joiner.push(&small[0]), Ok(Some(Value::from(1))));
        for part in &parts[1..parts.len() - 1] {
            assert_eq!(joiner.push(part), Ok(None));
        }
        assert_eq!(joiner.push(&parts[parts.len() - 1]), Ok(Some(big)));
    }

    #[test]
    fn joining_is_bounded_and_envelopes_checked() {
        let bytes = encode(&Value::Binary(vec![1u8; 5000]));
        let mut joiner = Joiner::new(3000);
        let results: Vec<_> = split(&bytes, 1000).iter().map(|p| joiner.push(p)).collect();
        assert!(results.contains(&Err(WireError::TooLarge(3000))));
        assert_eq!(joiner.push(&[]), Err(WireError::Envelope));
        assert_eq!(joiner.push(&[9, 1]), Err(WireError::Envelope));
        assert!(matches!(
            joiner.push(&[WHOLE, 0xc1]),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn frames_round_trip_and_errors_keep_their_kind() {
        let frames = [
            Frame::Accepted {
                host: "h".into(),
                control: "_INBOX.x".into(),
                window: 4,
            },
            Frame::Credit(3),
            Frame::Alive,
            Frame::Args(Value::from("a")),
            Frame::Input(Value::from(2)),
            Frame::End,
            Frame::Cancel,
            Frame::Response(Response::Ok(Value::from(5))),
            Frame::Response(Response::Err(
                CallError::new(ErrorKind::NodeError, "no").with_details(Value::from("d")),
            )),
        ];
        for frame in frames {
            let back = Frame::from_value(frame.clone().into_value()).expect("a frame");
            assert_eq!(back, frame);
        }
        let request = CallRequest {
            node: "p/n".into(),
            caller: Some("alice".into()),
            chain: vec!["q/m".into()],
            deadline_ms: 1500,
            trace: None,
            collect: true,
            window: 16,
            args: Some(Value::Array(vec![Value::from(1)])),
        };
        assert_eq!(
            CallRequest::from_value(request.to_value()).expect("a request"),
            request
        );
        assert!(CallRequest::from_value(Value::from(1)).is_err());
    }
}
