//! The one harness the integration tests (`tests/all`) and the benchmarks
//! (`host/benches`) share: plugins built from source, and a real
//! `Host` behind a real QUIC server on 127.0.0.1 with a temporary plugin
//! directory and state directory.
//!
//! Included with `#[path]` by `tests/all/main.rs` and each benchmark.

// The benchmarks' baseline; the tests do not use it.
#[allow(dead_code)]
pub(crate) mod bare_wasm;
pub(crate) mod nats;
pub(crate) mod plugins;
pub(crate) mod quic;
pub(crate) mod server;
// Used by the benchmarks that run `warden serve` as a process.
#[allow(dead_code)]
pub(crate) mod serve_process;
// The benchmarks' timing helpers; the tests do not use them.
#[allow(dead_code)]
pub(crate) mod timing;
