//! Reading a request without decoding its arguments.
//!
//! A request frame is walked, not decoded: its small fields (`type`,
//! `node`, `token`, ids, numbers) are decoded, unknown keys and `meta` are
//! skipped, and `args` is kept as the bytes it arrived in ([`RawValue`]),
//! with how many values they hold. The server decodes the arguments only
//! after the caller was admitted, and only if they fit a stated bound: a
//! frame cannot make it allocate before anyone checked who sent it.

use bytes::Bytes;
use rmpv::Value;

use super::decode::{DecodeError, Extent, MAX_DEPTH, decode_value, skip_value};
use super::frame::Request;
use super::record::ProtoError;

/// The largest small field (a name, an id, a number) decoded while a
/// request is read; bigger ones are refused without being decoded.
const MAX_FIELD_BYTES: usize = 4096;

/// A value not decoded yet: its bytes and what they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct RawValue {
    bytes: Bytes,
    extent: Extent,
}

impl RawValue {
    /// The nil value (what an absent `args` means).
    pub fn nil() -> Self {
        RawValue {
            bytes: Bytes::from_static(&[0xc0]),
            extent: Extent {
                len: 1,
                values: 1,
                payload: 0,
            },
        }
    }

    /// `value` encoded, as a front end that has a value rather than bytes
    /// off the wire would hand it over.
    ///
    /// # Errors
    ///
    /// [`DecodeError::TooDeep`] for a value nested deeper than a request's
    /// arguments may be ([`MAX_DEPTH`] with the request's map), and
    /// [`DecodeError::NotUtf8`] for a string that is not UTF-8 (which
    /// MessagePack would carry as `bin`, changing its meaning): what a
    /// request with that value would be refused for.
    pub fn encode(value: &Value) -> Result<Self, DecodeError> {
        // As deep as arguments inside a request may be.
        encodable(value, 1)?;
        let mut bytes = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut bytes, value);
        let extent = skip_value(&bytes, 1, MAX_DEPTH)?;
        Ok(RawValue {
            bytes: bytes.into(),
            extent,
        })
    }

    /// How big it is, encoded and decoded.
    pub fn extent(&self) -> Extent {
        self.extent
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Whether it takes at most `max_decoded` bytes once decoded (see
    /// [`Extent::decoded_bytes`]), without decoding it.
    ///
    /// # Errors
    ///
    /// [`RawError::TooBig`] past the bound.
    pub fn check(&self, max_decoded: usize) -> Result<(), RawError> {
        let decoded = self.extent.decoded_bytes();
        if decoded > max_decoded {
            return Err(RawError::TooBig {
                decoded,
                max: max_decoded,
            });
        }
        Ok(())
    }

    /// Decodes it, if it takes at most `max_decoded` bytes once decoded
    /// (see [`Extent::decoded_bytes`]).
    ///
    /// # Errors
    ///
    /// [`RawError::TooBig`] past the bound; [`RawError::Malformed`] cannot
    /// happen for a value read by [`parse_request`], which checked it.
    pub fn decode(&self, max_decoded: usize) -> Result<Value, RawError> {
        self.check(max_decoded)?;
        // Inside the request's map: one level is used.
        decode_value(&self.bytes, MAX_DEPTH - 1).map_err(RawError::Malformed)
    }
}

/// Whether `value`, at `depth` containers deep, can be encoded as it is
/// and read back within [`MAX_DEPTH`], checked without recursing past it.
fn encodable(value: &Value, depth: usize) -> Result<(), DecodeError> {
    let deeper = || match depth + 1 > MAX_DEPTH {
        true => Err(DecodeError::TooDeep { max: MAX_DEPTH }),
        false => Ok(depth + 1),
    };
    match value {
        Value::String(s) if !s.is_str() => Err(DecodeError::NotUtf8),
        Value::Array(items) => {
            let depth = deeper()?;
            items.iter().try_for_each(|v| encodable(v, depth))
        }
        Value::Map(entries) => {
            let depth = deeper()?;
            entries
                .iter()
                .try_for_each(|(k, v)| encodable(k, depth).and_then(|()| encodable(v, depth)))
        }
        _ => Ok(()),
    }
}

/// Why a [`RawValue`] was not decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    /// It would take more memory than allowed once decoded.
    #[error(
        "the value would take {decoded} bytes once decoded, more than the {max} allowed; send \
         bytes as MessagePack `bin`, or big data as a blob reference"
    )]
    TooBig {
        /// Bytes it would take.
        decoded: usize,
        /// The bound.
        max: usize,
    },
    /// The bytes are not one value.
    #[error("{0}")]
    Malformed(DecodeError),
}

/// The keys of requests that are decoded while reading one.
const SMALL_KEYS: [&str; 10] = [
    "type",
    "node",
    "deadline_ms",
    "token",
    "size",
    "ref",
    "callback",
    "id",
    "wait_ms",
    "keep",
];

/// Reads a request frame's body, decoding only its small fields; its
/// `args` come back undecoded (nil when absent) and `meta` is skipped.
///
/// # Errors
///
/// [`ProtoError`] when the body is not a well-formed map, a field is
/// missing, of the wrong type or too long, or the type is unknown.
pub fn parse_request(body: Bytes) -> Result<(Request, RawValue), ProtoError> {
    let (small, args) = request_fields(body)?;
    let request = Request::from_value(Value::Map(small))?;
    Ok((request, args))
}

/// A request frame's small fields, decoded, and its `args`, not decoded
/// (see [`parse_request`]).
pub(super) fn request_fields(body: Bytes) -> Result<(Vec<(Value, Value)>, RawValue), ProtoError> {
    let malformed = |e: DecodeError| ProtoError(format!("frame is not valid MessagePack: {e}"));
    let Some((entries, mut pos)) = map_header(&body) else {
        return Err(match skip_value(&body, 0, MAX_DEPTH) {
            Err(e) => malformed(e),
            Ok(_) => ProtoError("a request frame: expected a MessagePack map".into()),
        });
    };
    let mut small = Vec::new();
    let mut args = RawValue::nil();
    for _ in 0..entries {
        let key = skip_value(&body[pos..], 1, MAX_DEPTH).map_err(malformed)?;
        let name = if key.values == 1 && key.len <= 64 {
            decode_value(&body[pos..pos + key.len], MAX_DEPTH)
                .ok()
                .and_then(|k| k.as_str().map(str::to_owned))
        } else {
            None
        };
        pos += key.len;
        let value = skip_value(&body[pos..], 1, MAX_DEPTH).map_err(malformed)?;
        let range = pos..pos + value.len;
        pos += value.len;
        match name.as_deref() {
            Some("args") => {
                args = RawValue {
                    bytes: body.slice(range),
                    extent: value,
                };
            }
            Some(key) if SMALL_KEYS.contains(&key) => {
                if value.values != 1 || value.len > MAX_FIELD_BYTES {
                    return Err(ProtoError(format!(
                        "a request frame: `{key}` must be a single value of at most \
                         {MAX_FIELD_BYTES} bytes"
                    )));
                }
                let decoded = decode_value(&body[range], MAX_DEPTH).map_err(malformed)?;
                small.push((Value::from(key), decoded));
            }
            // A small `meta` is read (a caller's `traceparent` is in it);
            // a big one, and keys this version does not know, are not.
            Some("meta") if value.len <= MAX_FIELD_BYTES => {
                let decoded = decode_value(&body[range], MAX_DEPTH).map_err(malformed)?;
                small.push((Value::from("meta"), decoded));
            }
            _ => {}
        }
    }
    if pos != body.len() {
        return Err(ProtoError(format!(
            "a request frame: {} bytes left over after the map",
            body.len() - pos
        )));
    }
    Ok((small, args))
}

/// The number of entries and the header's length, if `bytes` start with a
/// map.
fn map_header(bytes: &[u8]) -> Option<(usize, usize)> {
    match *bytes.first()? {
        m @ 0x80..=0x8f => Some((usize::from(m & 0x0f), 1)),
        0xde => {
            let len = u16::from_be_bytes(bytes.get(1..3)?.try_into().ok()?);
            Some((usize::from(len), 3))
        }
        0xdf => {
            let len = u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?);
            Some((len as usize, 5))
        }
        _ => None,
    }
}

/// The bytes of a `blob-put` chunk (a frame whose body is one `bin`
/// value), without a copy.
///
/// # Errors
///
/// [`ProtoError`] when the body is anything else.
pub fn chunk_bytes(body: Bytes) -> Result<Bytes, ProtoError> {
    let (len, header) = match body.first() {
        Some(0xc4) => (body.get(1).map(|&n| usize::from(n)), 2),
        Some(0xc5) => (
            body.get(1..3)
                .and_then(|b| b.try_into().ok())
                .map(|b: [u8; 2]| usize::from(u16::from_be_bytes(b))),
            3,
        ),
        Some(0xc6) => (
            body.get(1..5)
                .and_then(|b| b.try_into().ok())
                .map(|b: [u8; 4]| u32::from_be_bytes(b) as usize),
            5,
        ),
        _ => (None, 0),
    };
    match len {
        Some(len) if header + len == body.len() => Ok(body.slice(header..)),
        _ => Err(ProtoError(
            "`blob-put`: after the request, send the blob as MessagePack `bin` frames".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame_bytes;

    fn body(value: &Value) -> Bytes {
        let framed = frame_bytes(value);
        Bytes::copy_from_slice(&framed[4..])
    }

    #[test]
    fn a_call_is_read_with_its_arguments_left_as_bytes() {
        let request = Request::Call {
            node: "math/add".into(),
            args: Value::Array(vec![1.into(), 2.into()]),
            deadline_ms: Some(5),
            meta: Some(Value::from("trace")),
        };
        let (read, args) = parse_request(body(&request.to_value())).unwrap();
        assert_eq!(
            read,
            Request::Call {
                node: "math/add".into(),
                args: Value::Nil,
                deadline_ms: Some(5),
                meta: Some(Value::from("trace")),
            }
        );
        // A big `meta` is passed over.
        let big = Request::Call {
            node: "math/add".into(),
            args: Value::Nil,
            deadline_ms: None,
            meta: Some(Value::from("x".repeat(5000))),
        };
        let (read, _) = parse_request(body(&big.to_value())).unwrap();
        assert!(matches!(read, Request::Call { meta: None, .. }), "{read:?}");
        assert_eq!(args.extent().values, 3);
        assert_eq!(
            args.decode(1 << 20),
            Ok(Value::Array(vec![1.into(), 2.into()]))
        );
        assert!(matches!(args.decode(10), Err(RawError::TooBig { .. })));
    }

    #[test]
    fn unknown_keys_and_big_fields_are_not_decoded() {
        // An unknown key holding a million small values is skipped.
        let junk = Value::Array(vec![Value::from(0); 1_000_000]);
        let map = Value::Map(vec![
            (Value::from("type"), Value::from("catalog")),
            (Value::from("junk"), junk.clone()),
        ]);
        let (read, args) = parse_request(body(&map)).unwrap();
        assert_eq!(read, Request::Catalog);
        assert_eq!(args, RawValue::nil());
        // A known small field that is a container is refused.
        let map = Value::Map(vec![
            (Value::from("type"), Value::from("describe")),
            (Value::from("node"), junk),
        ]);
        let err = parse_request(body(&map)).unwrap_err();
        assert!(err.0.contains("`node` must be a single value"), "{err}");
        assert!(parse_request(body(&Value::from(1))).is_err());
        assert!(parse_request(Bytes::from_static(&[0x81, 0xa1])).is_err());
    }

    #[test]
    fn chunks_are_bin_values_taken_without_a_copy() {
        let chunk = body(&Value::Binary(vec![7; 300]));
        assert_eq!(chunk_bytes(chunk).unwrap(), Bytes::from(vec![7; 300]));
        assert!(chunk_bytes(body(&Value::from("text"))).is_err());
        assert!(chunk_bytes(Bytes::from_static(&[0xc4, 5, 1])).is_err());
    }

    #[test]
    fn values_encode_as_requests_would_carry_them() {
        let value = Value::Array(vec![1.into(), "a".into()]);
        let raw = RawValue::encode(&value).unwrap();
        assert_eq!(raw.decode(usize::MAX), Ok(value));
        assert_eq!(raw.extent().values, 3);
        // As deep as arguments inside a request may nest, and no deeper.
        let nested =
            |depth: usize| (0..depth).fold(Value::Nil, |inner, _| Value::Array(vec![inner]));
        let deepest = RawValue::encode(&nested(MAX_DEPTH - 1)).unwrap();
        assert_eq!(deepest.decode(usize::MAX), Ok(nested(MAX_DEPTH - 1)));
        assert_eq!(
            RawValue::encode(&nested(MAX_DEPTH)),
            Err(DecodeError::TooDeep { max: MAX_DEPTH })
        );
        // A string that is not UTF-8 would travel as `bin`.
        let bad = rmpv::decode::read_value(&mut &[0xa1, 0xff][..]).unwrap();
        let in_map = Value::Map(vec![("k".into(), bad)]);
        assert_eq!(RawValue::encode(&in_map), Err(DecodeError::NotUtf8));
    }
}
