//! The plugins a host serves: the registry (by node name), the watched plugin
//! directory with manifests, and the compiled-artifact cache.
//!
//! - [`Registry`]: an immutable snapshot of served plugins and failed files.
//! - [`Plugins`]: the current registry, replaced atomically on every change;
//!   a running call keeps the [`Plugin`](crate::Plugin) it started with.
//! - [`PluginDir`]: loads `NAME.wasm` (+ `NAME.toml`) files and keeps the
//!   registry in step with the directory as files appear, change and vanish.
//! - [`Manifest`], [`HostConfig`]: the operator's files.
//! - [`CompiledCache`]: compiled components on disk.

mod cache;
mod dir;
mod invoke;
mod manifest;
mod registry;

pub use crate::proto::{CacheStats, PluginStatus};
pub use cache::{CacheOutcome, CompiledCache};
pub use dir::{DirConfig, PluginDir};
pub use manifest::{
    Access, BlobsGrant, DirGrant, Grants, HostConfig, LimitsConfig, Manifest, ManifestError,
    parse_duration, parse_size, pattern_matches,
};
pub use registry::{Failed, Plugins, Registry, Served};
