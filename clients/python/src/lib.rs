//! `warden._warden`: the native half of the `warden` Python package.
//!
//! The package's Python code (`python/warden/`) is the API people use; this
//! module puts the Rust client ([`warden_host::rpc::Client`]) under it, so
//! QUIC, TLS, framing and MessagePack run in Rust, off the interpreter.
//!
//! # Goals and non-goals
//!
//! - Calls cost the interpreter as little as possible: arguments are
//!   converted to MessagePack values on the calling thread, everything else
//!   (requests, answers, events) runs on a small tokio runtime shared by
//!   every client of the process, and the GIL is **never** taken on its
//!   threads: they hand finished requests to a completer (`completer::Completer`) that
//!   the asyncio loop drains (one wake-up for many answers).
//! - The blocking API uses the same requests, run on the calling thread with
//!   the GIL released, checking for Ctrl-C every 100 ms.
//! - Not a second client: reconnection, deadlines, cancellation and the
//!   protocol all come from the Rust client.
//!
//! # Layout
//!
//! - `runtime`: the tokio runtime and blocking with signal checks;
//! - `completer`: answers handed from tokio to the asyncio loop;
//! - `convert`: Python values ⇄ MessagePack values (the README's table);
//! - `errors`: [`warden_host::rpc::ClientError`] → `warden.Error` subclasses;
//! - `client`: connecting, trust, and the one-answer requests;
//! - `call`: calls read event by event: streams, channels, progress.
//!
//! Every request method takes an optional `fut` last: given an asyncio
//! future, the method starts the request and returns at once (the answer
//! completes the future); without one it blocks until the answer.

mod call;
mod client;
mod completer;
mod convert;
mod errors;
mod runtime;

use pyo3::prelude::*;

/// The module object: classes and functions the Python package wraps.
#[pymodule]
fn _warden(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<completer::Completer>()?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<client::Pending>()?;
    m.add_class::<call::NativeCall>()?;
    m.add_function(wrap_pyfunction!(client::connect, m)?)?;
    m.add_function(wrap_pyfunction!(client::default_state_dir, m)?)?;
    m.add("MAX_DEPTH", convert::MAX_DEPTH)?;
    Ok(())
}
