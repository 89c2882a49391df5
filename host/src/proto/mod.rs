//! The wire vocabulary, without I/O: frames and their codec, the records
//! every front end sends (node descriptions, job records, status), call
//! events, error kinds, and the sans-IO state machine of one request stream.
//!
//! `PROTOCOL.md` at the repository root is the normative description. In
//! short: ALPN `warden/2`, one bidirectional QUIC stream per request, each
//! frame a big-endian `u32` length followed by one MessagePack map whose
//! `"type"` says what it is. The client sends one request frame and finishes
//! its side; the server answers with any number of `progress`, `log` and
//! `item` frames and exactly one final `ok` or `err` frame. Every record is
//! a map with named keys and every enum a string.
//!
//! This module knows nothing of the sandbox engine or of sockets: the
//! client builds it alone (feature `client`), and the runtime produces its
//! types directly.

mod codec;
pub mod codes;
mod decode;
mod error;
mod event;
mod frame;
mod job;
mod lazy;
mod node;
mod record;
pub mod session;
mod status;
mod stream;
mod trace;

pub use codec::{DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameError, encode_frame, frame_bytes};
pub use decode::{DecodeError, Extent, MAX_DEPTH, decode_value, skip_value};
pub use error::{CallError, ErrorKind, UnknownErrorKind};
pub use event::{CallEvent, LogLevel};
pub use frame::{
    BlobInfo, Follows, MAX_NAME_BYTES, Request, Response, caller_value, input_frame, parse_caller,
    parse_input,
};
pub use job::{JobInfo, JobState};
pub use lazy::{RawError, RawValue, chunk_bytes, parse_request};
pub use node::{NodeInfo, NodeKind, ParamInfo};
pub use record::ProtoError;
#[cfg(feature = "server")]
pub(crate) use record::shorten;
pub use status::{CacheStats, PluginState, PluginStatus, ServerStatus};
pub use stream::{
    AfterFinal, Answer, Inbound, RequestReader, ResponseReader, ResponseWriter, StreamError,
};
pub use trace::TraceContext;

/// The ALPN protocol name of this protocol version. Version 2 sends every
/// record as a map with named keys (version 1 sent positional arrays).
pub const ALPN: &[u8] = b"warden/2";
