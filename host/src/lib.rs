//! Warden: a WebAssembly plugin host.
//!
//! People write functions ("nodes"), compile them to sandboxed wasm components
//! described by WIT, and Warden calls them with typed values, giving each plugin
//! only the capabilities its operator granted.
//!
//! # Layout
//!
//! - [`runtime`]: the wasmtime engine (pooling allocator, epoch ticker), loading a
//!   component, reflecting its exports into [`NodeDesc`]s, converting MessagePack
//!   values to and from WIT values, and invoking a node with per-call limits.
//! - [`caps`]: the host side of the `warden:node` WIT interfaces (`log`,
//!   `progress`, `kv`, `blobs`, `invoke`) and the grants that allow them.
//! - [`access`]: caller identities (tokens), what each may call, and guards on
//!   incoming connections.
//! - [`ErrorKind`]: the error kinds shared by the runtime, the wire protocol and
//!   the CLI.
//! - `cli`: the `warden` command line, a thin front end over the library.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use warden_host::{Limits, Runtime};
//!
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load_file("math", "math.wasm", Limits::default())?;
//! let args = rmpv::Value::Array(vec![1.into(), 2.into()]);
//! let sum = plugin.call("add", args, Default::default()).await?;
//! assert_eq!(sum, rmpv::Value::from(3));
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
pub mod caps;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod jobs;
pub mod json;
mod kind;
#[cfg(feature = "server")]
pub mod plugins;
pub mod proto;
#[cfg(feature = "client")]
pub mod rpc;
#[cfg(feature = "server")]
pub mod runtime;

pub use kind::{CallError, ErrorKind, UnknownErrorKind};
#[cfg(feature = "server")]
pub use runtime::{
    CallEvent, CallOptions, Limits, LoadError, LogLevel, NodeDesc, NodeKind, Plugin, Runtime,
    RuntimeConfig, StreamIo,
};
