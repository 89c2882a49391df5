//! The wire protocol, without I/O: frames, their MessagePack form, and an
//! incremental decoder that checks every length before it buffers a byte.
//!
//! `PROTOCOL.md` at the repository root is the normative description. In
//! short: ALPN `warden/1`, one bidirectional QUIC stream per request, each
//! frame a big-endian `u32` length followed by one MessagePack map whose
//! `"type"` says what it is. The client sends one request frame and finishes
//! its side; the server answers with any number of `progress`, `log` and
//! `item` frames and exactly one final `ok` or `err` frame.

mod catalog;
mod codec;
mod frame;
mod job;
mod status;

pub use catalog::{NodeInfo, ParamInfo};
pub use codec::{DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameError, encode_frame};
pub use frame::{ProtoError, Request, Response, input_frame, parse_input};
pub use job::{JobInfo, JobState};
pub use status::{CacheStats, PluginStatus, ServerStatus};

/// The ALPN protocol name of this protocol version.
pub const ALPN: &[u8] = b"warden/1";
