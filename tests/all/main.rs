//! Integration tests: one binary, a module per area.
//!
//! The wasm plugins they call are built from source on first use (see
//! `harness::plugins`), so `cargo test` works from a clean clone; servers
//! are started by the harness the benchmarks share.

#![allow(missing_docs)]

#[path = "../harness/mod.rs"]
mod harness;

mod access;
mod authoring;
mod bench_cli;
mod browser;
mod caps;
mod cli;
mod cli_rpc;
mod cluster;
mod cluster_shared;
mod conformance;
mod hardening;
mod hostile;
mod http;
mod jobs;
mod macro_plugins;
mod openapi;
mod outbound;
mod plugin_dir;
mod properties;
mod protocol_doc;
mod python;
mod python_tool;
mod rpc;
mod runtime;
mod scaffold;
mod sessions;
mod slow_peers;
mod streams;
mod support;
mod traces;
mod values;
mod warm;
mod wire;
