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

use serde::{Deserialize, Deserializer};

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
    #[serde(default, deserialize_with = "size")]
    pub memory: Option<usize>,
    /// Wall-clock time of one call: `"10s"`, `"500ms"` or seconds.
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    /// Calls of this plugin that may run at once; more are `overloaded`.
    pub max_concurrent_calls: Option<usize>,
    /// Largest result of a call: a size like `"8 MiB"` or bytes.
    #[serde(default, deserialize_with = "size")]
    pub max_result: Option<usize>,
    /// Most data a guest may pass to the host in one host call.
    #[serde(default, deserialize_with = "size")]
    pub hostcall_fuel: Option<usize>,
    /// Bytes the plugin may keep in its key-value store: a size or bytes.
    #[serde(default, deserialize_with = "size")]
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

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.memory.is_some_and(|m| m < (1 << 20)) {
            return Err("`limits.memory` must be at least 1 MiB".into());
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err("`limits.timeout` must be longer than zero".into());
        }
        if self.max_concurrent_calls == Some(0) {
            return Err("`limits.max_concurrent_calls` must be at least 1".into());
        }
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

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    let expected = "a size like \"64 MiB\" (units B, KiB, MiB, GiB) or a number of bytes";
    match Raw::deserialize(d)
        .map_err(|_| serde::de::Error::custom(format!("expected {expected}")))?
    {
        Raw::Bytes(n) => Ok(Some(n as usize)),
        Raw::Text(t) => parse_size(&t).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid size `{t}`: expected {expected}"))
        }),
    }
}

/// Parses `"64 MiB"`, `"512KiB"`, `"1GiB"`, `"100"` (bytes).
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(f64),
        Text(String),
    }
    let expected = "a duration like \"10s\" or \"500ms\" (units ms, s, m) or a number of seconds";
    let raw = Raw::deserialize(d)
        .map_err(|_| serde::de::Error::custom(format!("expected {expected}")))?;
    let parsed = match raw {
        Raw::Secs(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
        Raw::Secs(_) => None,
        Raw::Text(ref t) => parse_duration(t),
    };
    parsed
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid duration: expected {expected}")))
}

/// Parses `"10s"`, `"500ms"`, `"2m"`, `"1.5s"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => number / 1000.0,
        "s" | "" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
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

    #[test]
    fn sizes_and_durations_read_like_people_write_them() {
        assert_eq!(parse_size("64 MiB"), Some(64 << 20));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("64 MB"), None);
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("soon"), None);
    }
}
