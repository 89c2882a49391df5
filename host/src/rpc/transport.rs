//! QUIC settings and frame I/O shared by the server and the client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::{RecvStream, SendStream, TransportConfig, VarInt};
use rmpv::Value;

use crate::proto::{FrameDecoder, FrameError, encode_frame};

/// Most streams (calls) one connection may have open at once.
pub(crate) const MAX_STREAMS: u32 = 1024;

/// Transport settings for both ends: many concurrent streams and windows
/// large enough for megabyte payloads.
pub(crate) fn transport_config(keep_alive: bool) -> Arc<TransportConfig> {
    let mut t = TransportConfig::default();
    t.max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .stream_receive_window(VarInt::from_u32(4 << 20))
        .receive_window(VarInt::from_u32(32 << 20))
        .send_window(32 << 20)
        .max_idle_timeout(Some(VarInt::from_u32(60_000).into()));
    if keep_alive {
        t.keep_alive_interval(Some(Duration::from_secs(10)));
    }
    Arc::new(t)
}

/// Why reading a frame failed.
#[derive(Debug)]
pub(crate) enum ReadFrameError {
    /// The bytes were bad (too large, malformed, truncated).
    Frame(FrameError),
    /// The stream or connection failed.
    Stream(String),
}

/// Reads the next frame; `Ok(None)` when the stream ended cleanly between frames.
pub(crate) async fn read_frame(
    recv: &mut RecvStream,
    decoder: &mut FrameDecoder,
) -> Result<Option<Value>, ReadFrameError> {
    // Up to 32 received chunks at a time, handed over without a copy.
    let mut chunks: [Bytes; 32] = std::array::from_fn(|_| Bytes::new());
    loop {
        if let Some(value) = decoder.next_frame().map_err(ReadFrameError::Frame)? {
            return Ok(Some(value));
        }
        match recv.read_chunks(&mut chunks).await {
            Ok(Some(n)) => {
                for chunk in &mut chunks[..n] {
                    decoder.push(chunk);
                    *chunk = Bytes::new();
                }
            }
            Ok(None) => {
                decoder.finish().map_err(ReadFrameError::Frame)?;
                return Ok(None);
            }
            // The connection's error says why (e.g. the server's close reason).
            Err(quinn::ReadError::ConnectionLost(e)) => {
                return Err(ReadFrameError::Stream(e.to_string()));
            }
            Err(e) => return Err(ReadFrameError::Stream(e.to_string())),
        }
    }
}

/// Writes one frame. The encoded frame is handed to quinn as it is, not
/// copied again into its send buffer.
pub(crate) async fn write_frame(send: &mut SendStream, value: &Value) -> Result<(), String> {
    let mut out = Vec::new();
    encode_frame(value, &mut out);
    write_encoded(send, out.into()).await
}

/// Writes frames already encoded.
pub(crate) async fn write_encoded(send: &mut SendStream, frames: Bytes) -> Result<(), String> {
    send.write_chunk(frames).await.map_err(|e| e.to_string())
}
