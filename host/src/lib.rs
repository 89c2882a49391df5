//! Warden: a WebAssembly plugin host.
//!
//! People write functions ("nodes"), compile them to sandboxed wasm components
//! described by WIT, and Warden calls them with typed values, giving each plugin
//! only the capabilities its operator granted.
//!
//! # Layout
//!
//! Layers, top to bottom; a module only uses the ones below it:
//!
//! - front ends: `cli` (the `warden` command) and [`rpc`] (the QUIC server
//!   and client): transport and framing only; `http` and [`cluster`] (hosts
//!   joined over NATS);
//! - [`host`]: the service every front end uses — admission (one path for
//!   calls, jobs and `invoke`), calls with an event sink, catalog, describe
//!   and status per caller, jobs, blobs — built from the host config;
//! - [`plugins`] (registry, watched directory, manifests, compiled cache),
//!   [`access`] (caller identities, patterns, connection guards) and
//!   [`jobs`] (job records and their runner);
//! - [`runtime`]: the wasmtime engine, loading, reflection, value
//!   conversion, calls with limits;
//! - [`caps`]: the host side of `warden:node`, reached through a view trait
//!   on the call's store data;
//! - [`proto`]: the wire vocabulary (frames, records, events, error kinds)
//!   and the sans-IO state machine of a request stream; no wasmtime, no I/O.
//!
//! The client (`proto` and [`rpc::Client`]) builds without wasmtime:
//! `default-features = false, features = ["client"]`.
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
pub mod cluster;
#[cfg(feature = "client")]
mod digest;
#[cfg(feature = "server")]
pub mod host;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod jobs;
pub mod json;
#[cfg(feature = "server")]
pub mod pattern;
#[cfg(feature = "server")]
pub mod plugins;
pub mod proto;
#[cfg(feature = "client")]
pub mod rpc;
#[cfg(feature = "server")]
pub mod runtime;
#[cfg(feature = "server")]
mod state_dir;
#[cfg(feature = "server")]
mod text;
#[cfg(feature = "server")]
pub mod units;
#[cfg(feature = "server")]
mod urls;

#[cfg(feature = "server")]
pub use host::{Host, HostBuilder, HostConfig};
pub use proto::{CallError, CallEvent, ErrorKind, LogLevel, NodeInfo, NodeKind, UnknownErrorKind};
#[cfg(feature = "server")]
pub use runtime::{
    Args, CallOptions, Limits, LoadError, NodeDesc, Plugin, Reply, Runtime, RuntimeConfig,
    StreamIo, WIT_SECTION, WitSource,
};
