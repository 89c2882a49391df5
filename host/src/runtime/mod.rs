//! The sandbox: one wasmtime engine, plugins loaded from component files, and
//! calls into their exported functions with typed values and per-call limits.
//!
//! - [`Runtime`] owns the engine (pooling allocator, epoch ticker thread) and
//!   the linker with the host interfaces.
//! - [`Plugin`] is one loaded component: its [`NodeDesc`]s and a pre-linked
//!   instance template. [`Plugin::call`] runs one node in a fresh instance.
//! - Values cross the boundary as MessagePack ([`rmpv::Value`]) using the
//!   mapping in `DESIGN.md`; the `convert` module implements it and the
//!   `schema` module derives JSON Schemas from the same rules.

mod config;
mod convert;
mod engine;
mod error;
mod output;
mod plugin;
mod reflect;
mod schema;
mod state;
mod streaming;
mod warm;
mod wit_type;

pub use config::{Limits, RuntimeConfig};
pub use engine::Runtime;
pub use error::LoadError;
pub use plugin::{CallEvent, CallOptions, EventSink, Plugin};
pub use reflect::{ImportDesc, NodeDesc, NodeKind, ParamDesc};
pub use state::LogLevel;
pub use streaming::StreamIo;

pub(crate) use convert::shorten;
pub(crate) use state::CallState;
