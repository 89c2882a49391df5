//! QUIC settings and stream I/O shared by the server and the client: bytes
//! in to the [`crate::proto`] state machines, encoded frames out.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::{RecvStream, SendStream, TransportConfig, VarInt};

/// Most streams (calls) one connection may have open at once.
pub(crate) const MAX_STREAMS: u32 = 1024;

/// How long a connection may be silent before it is closed. Clients keep
/// theirs alive with a PING every [`KEEP_ALIVE`].
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the client pings an otherwise idle connection.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The connection's receive window: what the peer may send that has not
/// been read yet, across its streams.
pub(crate) const RECEIVE_WINDOW: u32 = 32 << 20;

/// Transport settings for both ends: up to `streams` concurrent streams
/// and a connection receive window of `window` bytes (the server may allow
/// more of both later); the full window is large enough for megabyte
/// payloads.
pub(crate) fn transport_config(
    keep_alive: bool,
    streams: u32,
    window: u32,
) -> Arc<TransportConfig> {
    let mut t = TransportConfig::default();
    let idle = VarInt::from_u32(IDLE_TIMEOUT.as_millis() as u32);
    t.max_concurrent_bidi_streams(VarInt::from_u32(streams))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .stream_receive_window(VarInt::from_u32(4 << 20))
        .receive_window(VarInt::from_u32(window))
        .send_window(32 << 20)
        .max_idle_timeout(Some(idle.into()));
    if keep_alive {
        t.keep_alive_interval(Some(KEEP_ALIVE));
    }
    Arc::new(t)
}

/// Why reading a stream stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The peer reset its sending side with this code.
    Reset(u64),
    /// The connection is gone; why.
    Lost(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Reset(code) => write!(f, "the peer reset the stream (code {code})"),
            ReadError::Lost(why) => f.write_str(why),
        }
    }
}

/// Reads what has arrived on `recv` into `push`, waiting for at least one
/// chunk: `Ok(true)` when bytes came, `Ok(false)` at the end of the stream.
/// Chunks are handed over without a copy or a zeroed buffer.
pub(crate) async fn read_some(
    recv: &mut RecvStream,
    mut push: impl FnMut(&[u8]),
) -> Result<bool, ReadError> {
    let mut chunks: [Bytes; 32] = std::array::from_fn(|_| Bytes::new());
    match recv.read_chunks(&mut chunks).await {
        Ok(Some(n)) => {
            for chunk in &chunks[..n] {
                push(chunk);
            }
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(quinn::ReadError::Reset(code)) => Err(ReadError::Reset(code.into_inner())),
        // The connection's error says why (e.g. the server's close reason).
        Err(quinn::ReadError::ConnectionLost(e)) => Err(ReadError::Lost(e.to_string())),
        Err(e) => Err(ReadError::Lost(e.to_string())),
    }
}

/// Writes frames already encoded, handing the bytes to quinn as they are.
pub(crate) async fn write_encoded(send: &mut SendStream, frames: Bytes) -> Result<(), String> {
    send.write_chunk(frames).await.map_err(|e| e.to_string())
}
