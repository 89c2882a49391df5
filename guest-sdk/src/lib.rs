//! Write [Warden](https://example.invalid/warden) plugins in Rust.
//!
//! A Warden plugin is a WebAssembly component built for `wasm32-wasip2`. Every
//! function it exports becomes a *node* that callers reach by name over the
//! network (`PLUGIN/function` or `PLUGIN/interface/function`), with arguments and
//! results converted from the function's WIT types.
//!
//! This crate gives a plugin author three things:
//!
//! - [`plugin`]: an attribute that turns the `pub fn`s of a module into the
//!   plugin's nodes. It writes the WIT from their signatures and doc
//!   comments, so a plugin is plain Rust: no WIT file, no bindings to
//!   implement.
//! - The host capabilities of the `warden:node` WIT package as ordinary Rust
//!   functions: [`log::info`], [`progress::report`], [`kv::get`], … The
//!   component imports the interfaces you call, and only those.
//! - [`define_plugin!`], for a plugin that writes its own WIT: it generates
//!   the Rust bindings of *your* WIT world without your crate depending on
//!   `wit-bindgen`.
//!
//! Both embed the plugin's WIT, docs included, in a `warden:wit` custom
//! section, from which the host shows docs and type names in its catalog
//! (`warden check`, `warden describe`, `/docs`).
//!
//! # Goals and non-goals
//!
//! The SDK turns plain Rust functions into a plugin and hides the binding
//! generator, not the component model: what callers see is WIT, and
//! `warden check` shows it. Types that have no WIT equivalent (maps,
//! references, generics, `u128`, trait objects) are compile errors saying
//! what to use instead, never silent conversions. Component-model async,
//! resources other than streams and channels, and recursive types are not
//! supported; a plugin that needs WIT the attribute cannot express writes
//! its WIT by hand and uses [`define_plugin!`].
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
//! `src/lib.rs`:
//!
//! ```no_run
//! /// Arithmetic nodes.
//! #[warden_guest::plugin]
//! mod math {
//!     /// Adds two integers.
//!     pub fn add(a: i64, b: i64) -> i64 {
//!         warden_guest::log::debug(&format!("adding {a} and {b}"));
//!         a.wrapping_add(b)
//!     }
//!
//!     /// Divides `a` by `b`; dividing by zero is an error.
//!     pub fn divide(a: f64, b: f64) -> Result<f64, String> {
//!         if b == 0.0 {
//!             return Err(format!("cannot divide {a} by zero"));
//!         }
//!         Ok(a / b)
//!     }
//!
//!     /// Counts to `n`, reporting progress.
//!     pub fn count(n: u32) -> u32 {
//!         for i in 0..n {
//!             warden_guest::progress::report(i as f32 / n as f32, &format!("at {i}"));
//!         }
//!         n
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` and check the
//! result with `warden check target/wasm32-wasip2/release/math.wasm`, which
//! lists the nodes `math/add`, `math/divide` and `math/count` with their
//! docs (`warden check --wit` prints the WIT). The attribute generated this
//! WIT:
//!
//! ```wit
//! package warden-plugin:math;
//!
//! /// Arithmetic nodes.
//! world math {
//!     /// Adds two integers.
//!     export add: func(a: s64, b: s64) -> s64;
//!     /// Divides `a` by `b`; dividing by zero is an error.
//!     export divide: func(a: f64, b: f64) -> result<f64, string>;
//!     /// Counts to `n`, reporting progress.
//!     export count: func(n: u32) -> u32;
//! }
//! ```
//!
//! # Types
//!
//! | Rust | WIT |
//! |---|---|
//! | `bool`, `char`, `String` (`&str` for parameters of plain nodes) | `bool`, `char`, `string` |
//! | `i8` .. `i64`, `u8` .. `u64`, `f32`, `f64` | `s8` .. `s64`, `u8` .. `u64`, `f32`, `f64` |
//! | `Vec<T>` (`Vec<u8>`: bytes), `Option<T>`, `(A, B)` | `list<T>`, `option<T>`, `tuple<A, B>` |
//! | `Result<T, E>` | `result<T, E>`; a node's `Err(e)` is a `node-error` with `e` as details |
//! | `()` or no result | no result |
//! | `#[derive(Type)] struct` with named fields | `record` |
//! | `#[derive(Type)] #[warden(flags)] struct` of `bool`s | `flags` |
//! | `#[derive(Type)] enum` of unit cases | `enum` |
//! | `#[derive(Type)] enum` whose cases carry a value | `variant` |
//! | result `impl Iterator<Item = T>` | a stream node |
//! | result [`Channel<I, O>`] | a channel node |
//!
//! Plain functions are exported by the world (node `PLUGIN/add`). Stream
//! and channel functions return resources, which only interfaces have, so
//! they go into an exported interface named after the module: in
//! `mod counter { pub fn count(n: u64) -> impl Iterator<Item = u64> }`
//! the node is `PLUGIN/counter/count`. A `pub mod` of the module is an
//! interface of its own: `pub fn upper` in `pub mod strings` is node
//! `PLUGIN/strings/upper`, stream and channel functions included
//! (`examples/plugins/text` is written that way). [`plugin`] has the
//! details.
//!
//! # Writing the WIT by hand
//!
//! `wit/math.wit`:
//!
//! ```wit
//! package example:math;
//!
//! world math {
//!     /// Adds two numbers.
//!     export add: func(a: s32, b: s32) -> s32;
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
//!         a.wrapping_add(b)
//!     }
//! }
//!
//! export!(Math);
//! ```
//!
//! # Layout
//!
//! The macros live in the `warden-guest-macros` crate (`guest-sdk/macros`)
//! and are re-exported here: [`plugin`], [`Type`], [`define_plugin!`].
//! [`Channel`] is what a channel node returns. The capability modules
//! ([`log`], [`progress`], [`kv`], [`blobs`], [`invoke`]) wrap bindings
//! generated from the repository's `wit/node.wit`.
//!
//! # Capabilities
//!
//! [`log`] and [`progress`] are always available. [`kv`], [`blobs`] and
//! [`invoke`] must be granted by the operator in the plugin's manifest; a
//! plugin that uses one without the grant fails to load, naming the grant.

#![warn(missing_docs)]

/// Re-exported for the code that [`plugin`] and [`define_plugin!`]
/// generate. Not part of the public API.
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

pub use warden_guest_macros::{Type, define_plugin, plugin};

mod channel;
pub use channel::Channel;

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
