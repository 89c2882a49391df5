//! The plugins a host serves: the registry (by node name), the watched plugin
//! directory with manifests, and the compiled-artifact cache.
//!
//! - [`Registry`]: an immutable snapshot of served plugins, plugins being
//!   loaded and files that failed.
//! - [`Plugins`]: the current registry, replaced atomically on every change;
//!   a running call keeps the [`Plugin`](crate::Plugin) it started with.
//! - [`PluginDir`]: keeps the registry in step with a directory of
//!   `NAME.wasm` (+ `NAME.toml`) files as they appear, change and vanish,
//!   compiling several at once (`load`).
//! - [`Manifest`]: the operator's file beside each plugin.
//! - [`CompiledCache`]: compiled components on disk.

mod cache;
mod dir;
mod load;
mod manifest;
mod registry;

pub use cache::{CacheOutcome, CompiledCache};
pub use dir::{DirConfig, PluginDir};
pub(crate) use manifest::toml_message;
pub use manifest::{Access, LimitsConfig, Manifest, ManifestError};
pub use registry::{Failed, Loading, Plugins, Registry, Served, Unresolved};
