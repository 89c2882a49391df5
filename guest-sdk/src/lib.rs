//! Write [Warden](https://example.invalid/warden) plugins in Rust.
//!
//! A Warden plugin is a WebAssembly component built for `wasm32-wasip2`. Every
//! function it exports becomes a *node* that callers reach by name over the
//! network (`PLUGIN/function` or `PLUGIN/interface/function`), with arguments and
//! results converted from the function's WIT types.
//!
//! This crate gives a plugin author two things:
//!
//! - The host capabilities of the `warden:node` WIT package as ordinary Rust
//!   functions: [`log::info`], [`progress::report`], [`kv::get`], … You do not
//!   mention `warden:node` in your own WIT: the interfaces you call are imported
//!   by the component automatically, and only those.
//! - [`define_plugin!`], which generates the Rust bindings of *your* WIT world
//!   (your exported functions) without your crate depending on `wit-bindgen`.
//!
//! # Goals and non-goals
//!
//! The SDK is a thin layer: it hides the binding generator, not the component
//! model. Your WIT file stays the contract callers see. It does not (yet) turn
//! plain Rust functions into WIT; write the WIT by hand.
//!
//! # Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "math"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! warden-guest = { path = "../../guest-sdk" }
//! ```
//!
//! `wit/math.wit`:
//!
//! ```wit
//! package example:math;
//!
//! world math {
//!     /// Adds two numbers.
//!     export add: func(a: s32, b: s32) -> s32;
//!     /// Counts to `n`, reporting progress.
//!     export count: func(n: u32) -> u32;
//! }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```ignore
//! warden_guest::define_plugin!({ world: "math", path: "wit" });
//!
//! struct Math;
//!
//! impl Guest for Math {
//!     fn add(a: i32, b: i32) -> i32 {
//!         warden_guest::log::debug(&format!("adding {a} and {b}"));
//!         a.wrapping_add(b)
//!     }
//!
//!     fn count(n: u32) -> u32 {
//!         for i in 0..n {
//!             warden_guest::progress::report(i as f32 / n as f32, &format!("at {i}"));
//!         }
//!         n
//!     }
//! }
//!
//! export!(Math);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` and check the
//! result with `warden check target/wasm32-wasip2/release/math.wasm`.
//!
//! # Capabilities
//!
//! [`log`] and [`progress`] are always available. [`kv`], [`blobs`] and
//! [`invoke`] must be granted by the operator in the plugin's manifest; a
//! plugin that uses one without the grant fails to load, naming the grant.

#![warn(missing_docs)]

/// Re-exported for the code that [`define_plugin!`] generates. Not part of the
/// public API.
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// MessagePack values, for [`invoke::call_value`].
pub use rmpv;

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "warden:node/host",
        type_section_suffix: "warden-guest",
    });
}

use bindings::warden::node as imports;

/// Generates the bindings of your plugin's WIT world.
///
/// Takes the same options as `wit_bindgen::generate!` (most often just
/// `world` and `path`, relative to your crate's `Cargo.toml`). It produces a
/// `Guest` trait (plus one trait per exported interface) for you to implement
/// and an `export!` macro to name the type that implements them.
///
/// # Examples
///
/// ```ignore
/// warden_guest::define_plugin!({ world: "math", path: "wit" });
///
/// struct Math;
/// impl Guest for Math {
///     fn add(a: i32, b: i32) -> i32 { a + b }
/// }
/// export!(Math);
/// ```
#[macro_export]
macro_rules! define_plugin {
    ({ $($options:tt)* }) => {
        $crate::__wit_bindgen::generate!({
            runtime_path: "::warden_guest::__wit_bindgen::rt",
            $($options)*
        });
    };
}

/// Log lines, tagged by the host with the plugin, node and call.
///
/// Lines go to the host's log and are streamed to the caller while the call runs.
pub mod log {
    use super::imports::log::{Level, log};

    /// Logs `message` at trace level.
    pub fn trace(message: &str) {
        log(Level::Trace, message);
    }

    /// Logs `message` at debug level.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    /// Logs `message` at info level.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Logs `message` at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Logs `message` at error level.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// Progress of the current call, streamed to the caller.
pub mod progress {
    /// Reports that the call is `fraction` done (clamped to 0.0..=1.0), with a
    /// short message such as `"step 3 of 10"`.
    pub fn report(fraction: f32, message: &str) {
        super::imports::progress::report(fraction, message);
    }
}

/// The error the capability functions return; the guest can handle it.
pub use imports::types::Error;

/// Key-value store private to this plugin (grant `kv = true`).
pub mod kv {
    pub use super::Error;
    use super::imports::kv as raw;

    /// Returns the value under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Denied`] without the `kv` grant; [`Error::Failed`] on storage errors.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
        raw::get(key)
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    ///
    /// [`Error::QuotaExceeded`] when the key, the value or the plugin's total is
    /// over its limit.
    pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
        raw::set(key, value)
    }

    /// Removes `key`, returning whether it existed.
    ///
    /// # Errors
    ///
    /// [`Error::Failed`] on storage errors.
    pub fn delete(key: &str) -> Result<bool, Error> {
        raw::delete(key)
    }

    /// Lists the keys starting with `prefix`, in byte order.
    ///
    /// # Errors
    ///
    /// [`Error::Failed`] on storage errors.
    pub fn list_keys(prefix: &str) -> Result<Vec<String>, Error> {
        raw::list_keys(prefix)
    }
}

/// Content-addressed blobs (grant `blobs = "read"` or `"read-write"`).
pub mod blobs {
    pub use super::Error;
    use super::imports::blobs as raw;

    /// Stores `data` and returns its reference (`blake3:<hex>`).
    ///
    /// # Errors
    ///
    /// [`Error::Denied`] with a read-only grant.
    pub fn put(data: &[u8]) -> Result<String, Error> {
        raw::put(data)
    }

    /// Returns the bytes of blob `reference`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no such blob is stored.
    pub fn get(reference: &str) -> Result<Vec<u8>, Error> {
        raw::get(reference)
    }

    /// Returns the size of blob `reference`, or `None` when it is not stored.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a malformed reference.
    pub fn size(reference: &str) -> Result<Option<u64>, Error> {
        raw::stat(reference).map(|s| s.map(|s| s.size))
    }
}

/// Calling other nodes (grant `invoke = ["pattern", ...]`).
pub mod invoke {
    pub use super::Error;

    /// Calls `node` with MessagePack-encoded `args` and returns the
    /// MessagePack-encoded result.
    ///
    /// # Errors
    ///
    /// [`Error::Denied`] when `node` is outside the plugin's `invoke` patterns;
    /// [`Error::Failed`] when the callee fails.
    pub fn call(node: &str, args: &[u8]) -> Result<Vec<u8>, Error> {
        super::imports::invoke::call(node, args)
    }

    /// Calls `node` with `args` in order and decodes its result: the same as
    /// [`call`] without handling MessagePack yourself.
    ///
    /// ```ignore
    /// use warden_guest::rmpv::Value;
    /// let sum = warden_guest::invoke::call_value("math/add", &[Value::from(2), Value::from(3)])?;
    /// assert_eq!(sum.as_i64(), Some(5));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call`], and [`Error::Invalid`] when the result is not MessagePack.
    pub fn call_value(node: &str, args: &[rmpv::Value]) -> Result<rmpv::Value, Error> {
        let mut encoded = Vec::new();
        rmpv::encode::write_value(&mut encoded, &rmpv::Value::Array(args.to_vec()))
            .map_err(|e| Error::Invalid(format!("cannot encode the arguments: {e}")))?;
        let result = call(node, &encoded)?;
        rmpv::decode::read_value(&mut result.as_slice()).map_err(|e| {
            Error::Invalid(format!(
                "`{node}` returned something that is not MessagePack: {e}"
            ))
        })
    }
}
