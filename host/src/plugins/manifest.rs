//! Plugin manifests (`NAME.toml` beside `NAME.wasm`) and the host config
//! file (`warden.toml`), both written by the operator, never by the plugin.
//!
//! ```toml
//! description = "Arithmetic"
//! version = "1.2.0"
//!
//! [limits]
//! memory = "64 MiB"          # or a number of bytes
//! timeout = "2s"             # or a number of seconds; "500ms" works too
//! max_concurrent_calls = 8
//! max_result = "1 MiB"
//!
//! [grants]                   # absent means denied
//! kv = true
//! blobs = "read"             # or "read-write"
//! invoke = ["text/*"]
//! env = { GREETING = "hi" }
//! dirs = [{ host = "data", guest = "/data", write = false }]
//!
//! [access]
//! callers = ["alice", "ci-*"]    # who may call it (default: whoever the host allows)
//! private = ["helper"]           # nodes callable only by other nodes
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::caps::Grants;
use crate::pattern::any_matches;
use crate::runtime::Limits;

/// A plugin manifest.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// What the plugin does, shown in the catalog.
    pub description: Option<String>,
    /// The plugin's version, shown in the catalog. Default: a hash of the
    /// component's bytes.
    pub version: Option<String>,
    /// Per-call limits; each overrides the host default.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Capabilities granted to the plugin. Anything absent is denied.
    #[serde(default)]
    pub grants: Grants,
    /// Who may call the plugin's nodes.
    #[serde(default)]
    pub access: Access,
}

/// Limits as written in a manifest or the host config; absent ones inherit.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Memory of one call's instance: a size like `"64 MiB"` or bytes.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub memory: Option<usize>,
    /// Wall-clock time of one call: `"10s"`, `"500ms"` or seconds.
    #[serde(default, deserialize_with = "crate::units::duration")]
    pub timeout: Option<Duration>,
    /// Calls of this plugin that may run at once; more are `overloaded`.
    pub max_concurrent_calls: Option<usize>,
    /// Largest result of a call: a size like `"8 MiB"` or bytes.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub max_result: Option<usize>,
    /// Most data a guest may pass to the host in one host call.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub hostcall_fuel: Option<usize>,
    /// Bytes the plugin may keep in its key-value store: a size or bytes.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub kv_quota: Option<usize>,
}

impl LimitsConfig {
    /// `base` with every limit set here replacing its value.
    pub fn apply(&self, base: &Limits) -> Limits {
        let mut limits = base.clone();
        if let Some(m) = self.memory {
            limits.memory_bytes = m;
        }
        if let Some(t) = self.timeout {
            limits.timeout = t;
        }
        if let Some(r) = self.max_result {
            limits.max_result_bytes = r;
        }
        if let Some(f) = self.hostcall_fuel {
            limits.hostcall_fuel = f;
        }
        if let Some(q) = self.kv_quota {
            limits.kv_quota_bytes = q as u64;
        }
        limits
    }

    /// `self` with the values of `over` where `over` sets them.
    pub fn overridden_by(&self, over: &LimitsConfig) -> LimitsConfig {
        LimitsConfig {
            memory: over.memory.or(self.memory),
            timeout: over.timeout.or(self.timeout),
            max_concurrent_calls: over.max_concurrent_calls.or(self.max_concurrent_calls),
            max_result: over.max_result.or(self.max_result),
            hostcall_fuel: over.hostcall_fuel.or(self.hostcall_fuel),
            kv_quota: over.kv_quota.or(self.kv_quota),
        }
    }

    /// Checks every limit against its allowed range.
    ///
    /// # Errors
    ///
    /// A message naming the key, its value and the range.
    pub fn validate(&self) -> Result<(), String> {
        use crate::text::{bytes_text, duration_text};
        use crate::units::in_range;
        let size = |n: usize| bytes_text(n);
        in_range("limits.memory", self.memory, 1 << 20, 4 << 30, size)?;
        in_range(
            "limits.timeout",
            self.timeout,
            Duration::from_millis(1),
            Duration::from_secs(24 * 3600),
            duration_text,
        )?;
        in_range(
            "limits.max_concurrent_calls",
            self.max_concurrent_calls,
            1,
            100_000,
            |n| n.to_string(),
        )?;
        in_range("limits.max_result", self.max_result, 1 << 10, 1 << 30, size)?;
        in_range(
            "limits.hostcall_fuel",
            self.hostcall_fuel,
            64 << 10,
            4 << 30,
            size,
        )?;
        in_range("limits.kv_quota", self.kv_quota, 0, 1 << 40, size)?;
        Ok(())
    }
}

/// Who may call a plugin's nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// Caller names (patterns) allowed to call this plugin; absent means any
    /// caller the host config allows.
    pub callers: Option<Vec<String>>,
    /// Nodes (patterns, without the plugin name) that only other nodes may
    /// call through `invoke`; they are not in the catalog.
    #[serde(default)]
    pub private: Vec<String>,
}

impl Access {
    /// Whether node `name` (inside the plugin) is private.
    pub fn is_private(&self, name: &str) -> bool {
        any_matches(&self.private, name)
    }
}

/// A manifest or config file that could not be used: names the file and
/// says what is wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Parses manifest text; `file` is used in error messages and to resolve
    /// relative directory grants.
    ///
    /// # Errors
    ///
    /// [`ManifestError`] naming the key and what is expected.
    pub fn parse(text: &str, file: &Path) -> Result<Manifest, ManifestError> {
        let error = |message: String| ManifestError {
            file: file.to_owned(),
            message,
        };
        let mut manifest: Manifest = toml::from_str(text).map_err(|e| error(toml_message(&e)))?;
        manifest.limits.validate().map_err(error)?;
        let base = file.parent().unwrap_or(Path::new("."));
        for dir in &mut manifest.grants.dirs {
            if !dir.guest.starts_with('/') {
                return Err(error(format!(
                    "`grants.dirs`: guest path `{}` must be absolute, like `/data`",
                    dir.guest
                )));
            }
            if dir.host.is_relative() {
                dir.host = base.join(&dir.host);
            }
        }
        for pattern in &manifest.grants.http {
            crate::urls::UrlPattern::parse(pattern).map_err(|why| {
                error(format!(
                    "`grants.http`: {why}; write destinations like `https://api.example.com/*` \
                     or `http://127.0.0.1:9000`"
                ))
            })?;
        }
        for pattern in &manifest.grants.invoke {
            if !pattern.contains('/') && pattern != "*" {
                return Err(error(format!(
                    "`grants.invoke`: `{pattern}` is not a node pattern; write `plugin/node`, \
                     `plugin/*` or `*`"
                )));
            }
        }
        Ok(manifest)
    }

    /// Reads and parses a manifest file.
    ///
    /// # Errors
    ///
    /// As [`Manifest::parse`], or when the file cannot be read.
    pub fn load(file: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(file).map_err(|e| ManifestError {
            file: file.to_owned(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, file)
    }
}

/// toml's message with its source excerpt, on one logical block.
pub(crate) fn toml_message(e: &toml::de::Error) -> String {
    e.to_string().trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_manifest_parses() {
        let text = r#"
            description = "Arithmetic"
            version = "1.2.0"
            [limits]
            memory = "64 MiB"
            timeout = "500ms"
            max_concurrent_calls = 4
            max_result = 1024
            [grants]
            kv = true
            blobs = "read-write"
            invoke = ["text/*"]
            env = { GREETING = "hi" }
            dirs = [{ host = "data", guest = "/data" }]
            [access]
            callers = ["alice"]
            private = ["helper*"]
        "#;
        let m = Manifest::parse(text, Path::new("/plugins/math.toml")).unwrap();
        assert_eq!(m.limits.memory, Some(64 << 20));
        assert_eq!(m.limits.timeout, Some(Duration::from_millis(500)));
        assert_eq!(m.limits.max_result, Some(1024));
        assert_eq!(m.grants.blobs, Some(crate::caps::BlobsGrant::ReadWrite));
        assert_eq!(m.grants.dirs[0].host, Path::new("/plugins/data"));
        assert!(!m.grants.dirs[0].write);
        assert!(m.access.is_private("helper-one"));
        assert!(!m.access.is_private("add"));
    }

    #[test]
    fn an_empty_manifest_grants_nothing() {
        let m = Manifest::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(m.grants, Grants::default());
        assert!(!m.grants.kv && m.grants.blobs.is_none() && m.grants.invoke.is_empty());
        assert!(m.grants.env.is_empty() && m.grants.dirs.is_empty());
        assert_eq!(m.access.callers, None);
    }
}
