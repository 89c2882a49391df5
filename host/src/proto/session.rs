//! A session: one stream carrying many plain calls, each with an id.
//!
//! A stream per call costs both ends a stream's setup, its flow-control
//! bookkeeping and a wake-up of the connection for each; a session pays
//! them once. The client opens a stream with `{"type": "session"}`, then
//! sends `{"type": "call", "id": n, …}` frames (a `call` request with an
//! id) and `{"type": "cancel", "id": n}` frames; the server answers each
//! call with `progress`/`log` frames and one final `ok`/`err` frame, all
//! carrying the call's `id`, in whatever order the calls finish. Only
//! plain calls run in a session: stream and channel nodes keep a stream
//! each. `PROTOCOL.md` ("Sessions") is the normative description.

use bytes::Bytes;
use rmpv::Value;

use super::codec::encode_frame;
use super::frame::{Request, Response};
use super::lazy::{RawValue, request_fields};
use super::record::{ProtoError, shorten};

/// The most calls one session may have running at once; a call past it is
/// answered `overloaded` at once.
pub const MAX_SESSION_CALLS: usize = 256;

/// A frame the client sends on a session after `{"type": "session"}`.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionFrame {
    /// `{"type": "call", "id": n, "node": s, "args": v, …}`: a call; its
    /// `args` not decoded yet (the request's own `args` is nil).
    Call {
        /// The call's id, chosen by the client.
        id: u64,
        /// The call request.
        request: Request,
        /// Its arguments, not decoded.
        args: RawValue,
    },
    /// `{"type": "cancel", "id": n}`: cancels the call with this id, if it
    /// is still running.
    Cancel {
        /// The call's id.
        id: u64,
    },
}

/// Reads one frame of a session (after its `session` request).
///
/// # Errors
///
/// [`ProtoError`] when the frame is not a `call` or `cancel` frame with an
/// unsigned integer `id`, or is malformed.
pub fn parse_session_frame(body: Bytes) -> Result<SessionFrame, ProtoError> {
    let (small, args) = request_fields(body)?;
    let field = |name: &str| {
        small
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    };
    let ty = field("type").and_then(Value::as_str).unwrap_or_default();
    if ty != "call" && ty != "cancel" {
        return Err(ProtoError(format!(
            "a session carries `call` and `cancel` frames, not `{}`; open a stream of its own \
             for other requests",
            shorten(ty)
        )));
    }
    let Some(id) = field("id").and_then(Value::as_u64) else {
        return Err(ProtoError(format!(
            "a session's `{ty}` frame needs `id`, an unsigned integer naming the call"
        )));
    };
    if ty == "cancel" {
        return Ok(SessionFrame::Cancel { id });
    }
    let request = Request::from_value(Value::Map(small))?;
    Ok(SessionFrame::Call { id, request, args })
}

/// A call of a session as a frame: the `call` request with `id`.
pub fn call_frame(id: u64, request: Request) -> Vec<u8> {
    frame_with_id(id, request.into_value())
}

/// The frame cancelling call `id` of a session.
pub fn cancel_frame(id: u64) -> Vec<u8> {
    frame_with_id(
        id,
        Value::Map(vec![(Value::from("type"), Value::from("cancel"))]),
    )
}

/// Appends `response` as a frame to `out`: for call `id` of a session, or
/// without an id (a stream's frame, or an error about a session itself).
pub fn answer_frame(id: Option<u64>, response: Response, out: &mut Vec<u8>) {
    let value = response.into_value();
    match id {
        Some(id) => encode_frame(&with_id(id, value), out),
        None => encode_frame(&value, out),
    }
}

/// Reads a frame the server sent on a session: the call it belongs to and
/// what it says. A frame without `id` is about the session itself (an
/// `err` saying why it ended, e.g. a malformed frame from the client, or
/// the server shutting down): every call still waiting fails with it.
///
/// # Errors
///
/// [`ProtoError`] when it is not a response or its `id` is not an
/// unsigned integer.
pub fn parse_answer(frame: Value) -> Result<(Option<u64>, Response), ProtoError> {
    let id = match &frame {
        Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some("id")),
        _ => None,
    };
    let id = match id {
        None => None,
        Some((_, v)) => Some(v.as_u64().ok_or_else(|| {
            ProtoError(
                "a session's frame from the server has an `id` that is not an unsigned integer"
                    .into(),
            )
        })?),
    };
    Ok((id, Response::from_value(frame)?))
}

/// Appends the length prefix and the start of an `ok` frame whose value
/// takes `value_len` bytes (the caller writes them next), with `id` in a
/// session: `{"type": "ok", "id"?: n, "value": …}`, the bytes
/// [`answer_frame`] would write for the value.
pub fn ok_head(id: Option<u64>, value_len: usize, out: &mut Vec<u8>) {
    let mut head = Vec::with_capacity(24);
    match id {
        None => head.extend_from_slice(b"\x82\xa4type\xa2ok"),
        Some(id) => {
            head.extend_from_slice(b"\x83\xa4type\xa2ok\xa2id");
            // Writing into a Vec cannot fail.
            let _ = rmpv::encode::write_value(&mut head, &Value::from(id));
        }
    }
    head.extend_from_slice(b"\xa5value");
    let len = u32::try_from(head.len() + value_len).unwrap_or(u32::MAX);
    out.reserve(4 + head.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&head);
}

/// Appends the head of an `ok` frame whose value is `len` bytes of
/// MessagePack `bin` (see [`ok_head`]), the `bin` header included: the
/// caller sends the bytes next.
pub fn ok_bin_head(id: Option<u64>, len: usize, out: &mut Vec<u8>) {
    let mut header = Vec::with_capacity(5);
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(len), _) => header.extend_from_slice(&[0xc4, len]),
        (_, Ok(len)) => {
            header.push(0xc5);
            header.extend_from_slice(&len.to_be_bytes());
        }
        _ => {
            header.push(0xc6);
            header.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        }
    }
    ok_head(id, header.len() + len, out);
    out.extend_from_slice(&header);
}

/// `value` (a map) with `"id": id` after its `type`.
fn with_id(id: u64, value: Value) -> Value {
    match value {
        Value::Map(mut entries) => {
            let at = entries.len().min(1);
            entries.insert(at, (Value::from("id"), Value::from(id)));
            Value::Map(entries)
        }
        other => other,
    }
}

fn frame_with_id(id: u64, value: Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&with_id(id, value), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{CallError, CallEvent, ErrorKind, FrameDecoder};

    fn body(frame: &[u8]) -> Bytes {
        Bytes::copy_from_slice(&frame[4..])
    }

    fn call(node: &str, args: Value) -> Request {
        Request::Call {
            node: node.into(),
            args,
            deadline_ms: Some(5),
            meta: None,
        }
    }

    #[test]
    fn calls_and_cancels_are_read_with_their_ids_and_args_left_encoded() {
        let frame = call_frame(7, call("math/add", Value::Array(vec![1.into(), 2.into()])));
        let SessionFrame::Call { id, request, args } = parse_session_frame(body(&frame)).unwrap()
        else {
            panic!("not a call");
        };
        assert_eq!(id, 7);
        assert_eq!(request, call("math/add", Value::Nil));
        assert_eq!(args.bytes().as_ref(), &[0x92, 1, 2]);
        assert_eq!(
            parse_session_frame(body(&cancel_frame(u64::MAX))).unwrap(),
            SessionFrame::Cancel { id: u64::MAX }
        );
    }

    #[test]
    fn other_frames_and_missing_ids_are_refused_saying_what_a_session_takes() {
        let catalog = crate::proto::frame_bytes(&Request::Catalog.into_value());
        let e = parse_session_frame(body(&catalog)).unwrap_err();
        assert!(e.0.contains("`call` and `cancel`"), "{e}");
        let no_id = crate::proto::frame_bytes(&call("math/add", Value::Nil).into_value());
        let e = parse_session_frame(body(&no_id)).unwrap_err();
        assert!(e.0.contains("needs `id`"), "{e}");
        let string_id = frame_with_id(1, call("math/add", Value::Nil).into_value());
        let mut value = crate::proto::decode_value(&string_id[4..], 8).unwrap();
        if let Value::Map(entries) = &mut value {
            entries[1].1 = Value::from("one");
        }
        let e = parse_session_frame(body(&crate::proto::frame_bytes(&value))).unwrap_err();
        assert!(e.0.contains("unsigned integer"), "{e}");
        let e = parse_session_frame(body(&frame_with_id(
            1,
            Value::Map(vec![(Value::from("type"), Value::from("call"))]),
        )))
        .unwrap_err();
        assert!(e.0.contains("node"), "{e}");
    }

    #[test]
    fn answers_carry_their_ids_and_the_heads_match_whole_frames() {
        let mut decoder = FrameDecoder::new(1 << 20);
        let mut out = Vec::new();
        answer_frame(
            Some(3),
            Response::Event(CallEvent::Progress {
                fraction: 0.5,
                message: "half".into(),
            }),
            &mut out,
        );
        answer_frame(
            Some(4),
            Response::Err(CallError::new(ErrorKind::Overloaded, "busy")),
            &mut out,
        );
        decoder.push(&out);
        let (id, response) = parse_answer(decoder.next_frame().unwrap().unwrap()).unwrap();
        assert_eq!(id, Some(3));
        assert!(matches!(
            response,
            Response::Event(CallEvent::Progress { .. })
        ));
        let (id, response) = parse_answer(decoder.next_frame().unwrap().unwrap()).unwrap();
        assert_eq!(id, Some(4));
        assert_eq!(
            response,
            Response::Err(CallError::new(ErrorKind::Overloaded, "busy"))
        );

        for id in [0, 200, 70_000, u64::MAX] {
            let value = Value::Array(vec![1.into(), "two".into()]);
            let mut whole = Vec::new();
            answer_frame(Some(id), Response::Ok(value.clone()), &mut whole);
            let mut encoded = Vec::new();
            rmpv::encode::write_value(&mut encoded, &value).unwrap();
            let mut split = Vec::new();
            ok_head(Some(id), encoded.len(), &mut split);
            split.extend_from_slice(&encoded);
            assert_eq!(split, whole, "id {id}");

            for len in [0, 255, 256, 65_536] {
                let bytes = vec![9u8; len];
                let mut whole = Vec::new();
                answer_frame(
                    Some(id),
                    Response::Ok(Value::Binary(bytes.clone())),
                    &mut whole,
                );
                let mut split = Vec::new();
                ok_bin_head(Some(id), len, &mut split);
                split.extend_from_slice(&bytes);
                assert_eq!(split, whole, "id {id}, {len} bytes");
            }
        }
        let session_error = Response::Err(CallError::new(ErrorKind::Cancelled, "shutting down"));
        assert_eq!(
            parse_answer(session_error.to_value()).unwrap(),
            (None, session_error)
        );
        let bad_id = with_id(1, Response::Ok(Value::Nil).into_value());
        let Value::Map(mut entries) = bad_id else {
            unreachable!()
        };
        entries[1].1 = Value::from(-1);
        let e = parse_answer(Value::Map(entries)).unwrap_err();
        assert!(e.0.contains("not an unsigned integer"), "{e}");
    }
}
