//! The sandbox: one wasmtime engine, plugins loaded from component files, and
//! calls into their exported functions with typed values and per-call limits.
//!
//! - [`Runtime`] (`engine`) owns the engine (pooling allocator, epoch ticker
//!   thread) and the linker with WASI and `warden:node`; it compiles and
//!   loads components.
//! - [`Plugin`] (`plugin`) is one loaded component: its [`NodeDesc`]s,
//!   imports, limits and a pre-linked instance template.
//! - `call`: [`Plugin::call`] runs one node in a fresh instance (`store`,
//!   `warm` for instances made ahead), binding arguments (`args`), pumping
//!   stream items (`streaming`) and typing failures (`classify`).
//! - Values cross the boundary as MessagePack ([`rmpv::Value`]) using the
//!   mapping in `DESIGN.md` (`convert`); `schema` derives JSON Schemas from
//!   the same rules and `reflect` the node descriptions, which are the wire's
//!   [`NodeInfo`](crate::proto::NodeInfo)s, with docs and type names from
//!   the component's WIT (`wit_docs`).

mod args;
mod call;
mod classify;
mod config;
mod convert;
mod engine;
mod error;
mod imports;
mod msgpack;
mod numbers;
mod output;
mod plugin;
mod reflect;
mod schema;
mod store;
mod streaming;
mod val_wire;
mod warm;
mod wit_docs;
mod wit_type;

pub use args::Args;
pub use call::{CallOptions, Reply};
pub use config::{Limits, RuntimeConfig};
pub use engine::Runtime;
pub use error::LoadError;
pub use plugin::Plugin;
pub use reflect::{ImportDesc, NodeDesc};
pub use streaming::StreamIo;
pub use wit_docs::{SECTION as WIT_SECTION, WitSource, custom_section, section_for_dir};
