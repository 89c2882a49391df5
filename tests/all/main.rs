//! Integration tests: one binary, a module per area.
//!
//! The wasm plugins they call are built from source on first use (see
//! `support`), so `cargo test` works from a clean clone.

#![allow(missing_docs)]

mod cli;
mod hostile;
mod python;
mod runtime;
mod support;
mod values;
