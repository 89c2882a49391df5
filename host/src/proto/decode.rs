//! Decoding one MessagePack value from a complete frame body, with the
//! nesting limit the protocol states.
//!
//! The body is already in memory (its length was checked against the
//! maximum frame size before it was buffered), so every length inside it is
//! checked against the bytes that remain before anything is allocated: a
//! header announcing four billion elements costs nothing.

use rmpv::Value;

/// The deepest nesting of containers (arrays and maps) a frame may have,
/// its own map included: `{"args": [[1]]}` nests 3 deep.
pub const MAX_DEPTH: usize = 256;

/// Why bytes are not one MessagePack value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A value announces more bytes or elements than remain.
    #[error("a value is cut short: it needs {need} more bytes, {left} remain")]
    Short {
        /// Bytes (at least) the value still needs.
        need: usize,
        /// Bytes left in the frame.
        left: usize,
    },
    /// Containers nest deeper than the limit.
    #[error("values nest deeper than {max} arrays and maps")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A string is not UTF-8.
    #[error("a string is not valid UTF-8")]
    NotUtf8,
    /// The reserved marker byte `0xc1`.
    #[error("byte 0xc1 is not a MessagePack marker")]
    Reserved,
    /// Bytes remain after the value.
    #[error("{0} bytes left over after the value")]
    Trailing(usize),
}

/// Decodes `bytes` as exactly one value nesting at most `max_depth`
/// containers deep.
///
/// # Errors
///
/// [`DecodeError`] when the bytes are not exactly one well-formed value
/// within the limit.
pub fn decode_value(bytes: &[u8], max_depth: usize) -> Result<Value, DecodeError> {
    let mut reader = Reader::new(bytes, max_depth, true);
    let value = reader.value(0)?;
    if !reader.bytes.is_empty() {
        return Err(DecodeError::Trailing(reader.bytes.len()));
    }
    Ok(value)
}

/// What one value takes, found without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Its length in bytes.
    pub len: usize,
    /// How many values it holds, itself included (an array of 3 ints: 4).
    pub values: usize,
    /// Bytes of string, binary and extension data inside it.
    pub payload: usize,
}

impl Extent {
    /// About how many bytes of memory the value takes once decoded.
    pub fn decoded_bytes(&self) -> usize {
        self.values
            .saturating_mul(std::mem::size_of::<Value>())
            .saturating_add(self.payload)
    }
}

/// Walks the value at the start of `bytes` (nesting at most `max_depth`
/// containers, as `depth` already do around it) without decoding it.
///
/// # Errors
///
/// [`DecodeError`] when the bytes do not start with one well-formed value.
pub fn skip_value(bytes: &[u8], depth: usize, max_depth: usize) -> Result<Extent, DecodeError> {
    let mut reader = Reader::new(bytes, max_depth, false);
    reader.value(depth)?;
    Ok(Extent {
        len: bytes.len() - reader.bytes.len(),
        values: reader.values,
        payload: reader.payload,
    })
}

/// Reads values, building them (`build`) or only walking them.
struct Reader<'b> {
    bytes: &'b [u8],
    max_depth: usize,
    build: bool,
    values: usize,
    payload: usize,
}

impl<'b> Reader<'b> {
    fn new(bytes: &'b [u8], max_depth: usize, build: bool) -> Self {
        Reader {
            bytes,
            max_depth,
            build,
            values: 0,
            payload: 0,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'b [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::Short {
                need: n,
                left: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<usize, DecodeError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32(&mut self) -> Result<usize, DecodeError> {
        // usize is at least 32 bits on every target this builds for.
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }

    fn str(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = self.take(len)?;
        self.payload += len;
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
        Ok(if self.build {
            Value::from(text)
        } else {
            Value::Nil
        })
    }

    fn bin(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = self.take(len)?;
        self.payload += len;
        Ok(if self.build {
            Value::Binary(bytes.to_vec())
        } else {
            Value::Nil
        })
    }

    fn ext(&mut self, len: usize) -> Result<Value, DecodeError> {
        let ty = i8::from_be_bytes(self.array()?);
        let bytes = self.take(len)?;
        self.payload += len;
        Ok(if self.build {
            Value::Ext(ty, bytes.to_vec())
        } else {
            Value::Nil
        })
    }

    /// Room for `len` elements of at least `min` bytes each, never more
    /// than the bytes left could hold.
    fn capacity(&self, len: usize, min: usize) -> Result<usize, DecodeError> {
        let need = len.saturating_mul(min);
        if need > self.bytes.len() {
            return Err(DecodeError::Short {
                need,
                left: self.bytes.len(),
            });
        }
        Ok(len)
    }

    fn list(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let room = self.capacity(len, 1)?;
        if !self.build {
            for _ in 0..len {
                self.value(depth)?;
            }
            return Ok(Value::Nil);
        }
        let mut items = Vec::with_capacity(room);
        for _ in 0..len {
            items.push(self.value(depth)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let room = self.capacity(len, 2)?;
        if !self.build {
            for _ in 0..len * 2 {
                self.value(depth)?;
            }
            return Ok(Value::Nil);
        }
        let mut entries = Vec::with_capacity(room);
        for _ in 0..len {
            let key = self.value(depth)?;
            let value = self.value(depth)?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }

    fn enter(&self, depth: usize) -> Result<usize, DecodeError> {
        let depth = depth + 1;
        if depth > self.max_depth {
            return Err(DecodeError::TooDeep {
                max: self.max_depth,
            });
        }
        Ok(depth)
    }

    /// One value inside `depth` containers.
    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.values += 1;
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => return self.map(usize::from(marker & 0x0f), depth),
            0x90..=0x9f => return self.list(usize::from(marker & 0x0f), depth),
            0xa0..=0xbf => return self.str(usize::from(marker & 0x1f)),
            0xc0 => Value::Nil,
            0xc1 => return Err(DecodeError::Reserved),
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 => {
                let len = usize::from(self.u8()?);
                return self.bin(len);
            }
            0xc5 => {
                let len = self.u16()?;
                return self.bin(len);
            }
            0xc6 => {
                let len = self.u32()?;
                return self.bin(len);
            }
            0xc7 => {
                let len = usize::from(self.u8()?);
                return self.ext(len);
            }
            0xc8 => {
                let len = self.u16()?;
                return self.ext(len);
            }
            0xc9 => {
                let len = self.u32()?;
                return self.ext(len);
            }
            0xca => Value::F32(f32::from_be_bytes(self.array()?)),
            0xcb => Value::F64(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(self.u8()?),
            0xcd => Value::from(u16::from_be_bytes(self.array()?)),
            0xce => Value::from(u32::from_be_bytes(self.array()?)),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(i8::from_be_bytes(self.array()?)),
            0xd1 => Value::from(i16::from_be_bytes(self.array()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.array()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4 => return self.ext(1),
            0xd5 => return self.ext(2),
            0xd6 => return self.ext(4),
            0xd7 => return self.ext(8),
            0xd8 => return self.ext(16),
            0xd9 => {
                let len = usize::from(self.u8()?);
                return self.str(len);
            }
            0xda => {
                let len = self.u16()?;
                return self.str(len);
            }
            0xdb => {
                let len = self.u32()?;
                return self.str(len);
            }
            0xdc => {
                let len = self.u16()?;
                return self.list(len, depth);
            }
            0xdd => {
                let len = self.u32()?;
                return self.list(len, depth);
            }
            0xde => {
                let len = self.u16()?;
                return self.map(len, depth);
            }
            0xdf => {
                let len = self.u32()?;
                return self.map(len, depth);
            }
            0xe0..=0xff => Value::from(i8::from_be_bytes([marker])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, value).unwrap();
        out
    }

    #[test]
    fn every_kind_of_value_round_trips() {
        let values = [
            Value::Nil,
            Value::from(true),
            Value::from(0),
            Value::from(127),
            Value::from(128),
            Value::from(-1),
            Value::from(-33),
            Value::from(70_000),
            Value::from(u64::MAX),
            Value::from(i64::MIN),
            Value::F32(1.5),
            Value::F64(f64::INFINITY),
            Value::from(""),
            Value::from("x".repeat(40)),
            Value::from("y".repeat(70_000)),
            Value::Binary(vec![1, 2, 3]),
            Value::Binary(vec![0; 300]),
            Value::Binary(vec![0; 70_000]),
            Value::Ext(5, vec![1]),
            Value::Ext(-3, vec![1, 2, 3]),
            Value::Array((0..20).map(Value::from).collect()),
            Value::Map(vec![(Value::from("a"), Value::Array(vec![]))]),
            Value::Map((0..20).map(|i| (Value::from(i), Value::Nil)).collect()),
        ];
        for value in values {
            assert_eq!(decode_value(&encode(&value), MAX_DEPTH), Ok(value));
        }
    }

    fn nested(levels: usize) -> Vec<u8> {
        let mut bytes = vec![0x91; levels];
        bytes.push(0xa1);
        bytes.push(b'x');
        bytes
    }

    #[test]
    fn nesting_is_counted_in_containers_and_the_limit_is_exact() {
        assert!(decode_value(&nested(MAX_DEPTH), MAX_DEPTH).is_ok());
        assert_eq!(
            decode_value(&nested(MAX_DEPTH + 1), MAX_DEPTH),
            Err(DecodeError::TooDeep { max: MAX_DEPTH })
        );
        // Far deeper does not overflow the stack.
        assert!(decode_value(&nested(1_000_000), MAX_DEPTH).is_err());
    }

    #[test]
    fn skipping_measures_a_value_without_decoding_it() {
        let value = Value::Map(vec![
            (Value::from("a"), Value::Array(vec![1.into(), 2.into()])),
            (Value::from("b"), Value::Binary(vec![0; 10])),
        ]);
        let mut bytes = encode(&value);
        let len = bytes.len();
        bytes.extend_from_slice(&[0xc0, 0xc0]);
        let extent = skip_value(&bytes, 0, MAX_DEPTH).unwrap();
        // The map, two keys, an array of two, a bin: 7 values.
        assert_eq!(
            extent,
            Extent {
                len,
                values: 7,
                payload: 12
            }
        );
        assert!(skip_value(&nested(MAX_DEPTH + 1), 0, MAX_DEPTH).is_err());
        assert!(skip_value(&nested(10), MAX_DEPTH - 10, MAX_DEPTH).is_ok());
        assert!(skip_value(&nested(11), MAX_DEPTH - 10, MAX_DEPTH).is_err());
    }

    #[test]
    fn lengths_past_the_end_are_refused_before_allocating() {
        // An array of u32::MAX elements in 5 bytes.
        assert!(matches!(
            decode_value(&[0xdd, 0xff, 0xff, 0xff, 0xff], MAX_DEPTH),
            Err(DecodeError::Short { .. })
        ));
        assert!(matches!(
            decode_value(&[0xdf, 0xff, 0xff, 0xff, 0xff], MAX_DEPTH),
            Err(DecodeError::Short { .. })
        ));
        assert!(matches!(
            decode_value(&[0xc6, 0xff, 0xff, 0xff, 0xff], MAX_DEPTH),
            Err(DecodeError::Short { .. })
        ));
        assert_eq!(
            decode_value(&[0x01, 0x02], MAX_DEPTH),
            Err(DecodeError::Trailing(1))
        );
        assert_eq!(decode_value(&[0xc1], MAX_DEPTH), Err(DecodeError::Reserved));
        assert_eq!(
            decode_value(&[0xa2, 0xff, 0xfe], MAX_DEPTH),
            Err(DecodeError::NotUtf8)
        );
    }
}
