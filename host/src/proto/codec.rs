//! Length-prefixed MessagePack frames: encoding, and an incremental decoder.

use bytes::{Buf, Bytes, BytesMut};
use rmpv::Value;

use super::decode::{DecodeError, MAX_DEPTH, decode_value};

/// The default maximum frame size: 16 MiB (a length prefix above it is refused).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 << 20;

/// Why bytes could not be decoded into a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than the maximum.
    #[error("frame of {len} bytes exceeds the maximum frame size of {max} bytes")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The frame body is not one MessagePack value (or nests too deep).
    #[error("frame is not valid MessagePack: {0}")]
    Malformed(#[from] DecodeError),
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame ({have} of {want} bytes)")]
    Truncated {
        /// Bytes of the frame (prefix included) that arrived.
        have: usize,
        /// Bytes the frame needed.
        want: usize,
    },
}

/// Appends `value` as one frame (length prefix and MessagePack body) to `out`.
pub fn encode_frame(value: &Value, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(out, value);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// `value` as one frame, length prefix included.
pub fn frame_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(value, &mut out);
    out
}

/// Splits a byte stream into frames.
///
/// Feed it bytes with [`FrameDecoder::push`] and take frames with
/// [`FrameDecoder::next_frame`] (decoded) or [`FrameDecoder::next_frame_bytes`]
/// (the body as it is, without a copy). A length prefix is checked against
/// the maximum before any of the frame's body is buffered, and the buffer
/// grows only as bytes arrive: announcing a large frame costs nothing, and
/// what is buffered is [`FrameDecoder::buffered`] (what budgets count).
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: BytesMut::new(),
            max,
        }
    }

    /// The maximum frame size.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet taken as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of memory the buffer takes (at least [`FrameDecoder::buffered`]:
    /// it grows by doubling as bytes arrive). What budgets count.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops everything buffered and gives its memory back.
    pub fn discard(&mut self) {
        self.buf = BytesMut::new();
    }

    /// How many bytes the frame being received has in its body, once its
    /// length prefix has arrived.
    pub fn announced_len(&self) -> Option<usize> {
        let prefix: [u8; 4] = self.buf.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(prefix) as usize)
    }

    /// Takes the body of the next complete frame, if one has arrived, as it
    /// is: no copy, nothing decoded.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLarge`] as soon as a length prefix over the maximum
    /// arrives. After an error the stream cannot be resynchronised.
    pub fn next_frame_bytes(&mut self) -> Result<Option<Bytes>, FrameError> {
        let Some(len) = self.announced_len() else {
            return Ok(None);
        };
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(4 + len);
        frame.advance(4);
        Ok(Some(frame.freeze()))
    }

    /// Takes the next complete frame, decoded, if one has arrived.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLarge`] as soon as a length prefix over the maximum
    /// arrives; [`FrameError::Malformed`] when a complete frame is not exactly
    /// one MessagePack value nesting at most
    /// [`MAX_DEPTH`] containers. After an error the stream cannot be resynchronised.
    pub fn next_frame(&mut self) -> Result<Option<Value>, FrameError> {
        match self.next_frame_bytes()? {
            Some(body) => Ok(Some(decode_value(&body, MAX_DEPTH)?)),
            None => Ok(None),
        }
    }

    /// Call when the stream has ended: fails if a partial frame is buffered.
    ///
    /// # Errors
    ///
    /// [`FrameError::Truncated`] when bytes of an unfinished frame remain.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let want = self.announced_len().map_or(4, |len| len + 4);
        Err(FrameError::Truncated {
            have: self.buf.len(),
            want,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_byte_by_byte() {
        let values = [
            Value::from("hello"),
            Value::Map(vec![(Value::from("type"), Value::from("ok"))]),
            Value::Array(vec![]),
        ];
        let bytes: Vec<u8> = values.iter().flat_map(frame_bytes).collect();
        let mut decoder = FrameDecoder::new(1024);
        let mut got = Vec::new();
        for b in bytes {
            decoder.push(&[b]);
            while let Some(v) = decoder.next_frame().unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got, values);
        assert_eq!(decoder.finish(), Ok(()));
    }

    #[test]
    fn a_length_over_the_maximum_is_refused_before_the_body_arrives() {
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&101u32.to_be_bytes());
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::TooLarge { len: 101, max: 100 })
        );
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn garbage_and_trailing_bytes_are_malformed() {
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&[0, 0, 0, 2, 0xa5, 0x61]); // a 5-byte string with 1 byte
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::Malformed(_))
        ));
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&[0, 0, 0, 2, 0x01, 0x02]); // two values in one frame
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::Malformed(_))
        ));
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&[0, 0, 0, 2, 0x92, 0x01]); // an array cut short inside its frame
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn a_stream_ending_inside_a_frame_is_truncated() {
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&[0, 0, 0, 10, 1, 2]);
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(
            decoder.finish(),
            Err(FrameError::Truncated { have: 6, want: 14 })
        );
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&[0, 0]);
        assert_eq!(
            decoder.finish(),
            Err(FrameError::Truncated { have: 2, want: 4 })
        );
    }

    #[test]
    fn deeply_nested_values_are_refused_not_overflowing_the_stack() {
        let mut body = vec![0x91u8; 100_000]; // arrays of one element, nested
        body.push(0xc0);
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let mut decoder = FrameDecoder::new(1 << 20);
        decoder.push(&bytes);
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::Malformed(_))
        ));
    }
}
