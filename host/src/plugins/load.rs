//! Loading one plugin from its files: the manifest, the compiled cache (or
//! the compiler), the grants and limits, and the served entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cache::{CacheOutcome, CompiledCache};
use super::manifest::{LimitsConfig, Manifest, ManifestError};
use super::registry::{Failed, Served};
use crate::caps::{Capabilities, Stores};
use crate::runtime::{Limits, Runtime};

/// What every plugin of a directory is loaded with.
pub(super) struct Loader {
    pub(super) runtime: Runtime,
    pub(super) cache: Option<Arc<CompiledCache>>,
    /// Host-wide default limits that manifests override.
    pub(super) limits: LimitsConfig,
    pub(super) stores: Option<Stores>,
}

/// A plugin's files as read at one moment: what a load works from, and
/// what the directory compares with the files as they are once they have
/// settled (see `dir`).
#[derive(Debug)]
pub(super) struct Contents {
    /// The component's bytes, or why they could not be read.
    wasm: Result<Vec<u8>, String>,
    /// The manifest's text (`None`: no manifest), or why it could not be read.
    toml: Option<Result<String, String>>,
}

impl Contents {
    /// Reads `wasm`, and `toml` when given.
    pub(super) fn read(wasm: &Path, toml: Option<&Path>) -> Contents {
        Contents {
            wasm: std::fs::read(wasm).map_err(|e| e.to_string()),
            toml: toml.map(|t| std::fs::read_to_string(t).map_err(|e| e.to_string())),
        }
    }

    /// Whether `other` holds the same bytes (a file unreadable both times
    /// counts as the same).
    pub(super) fn same_as(&self, other: &Contents) -> bool {
        fn same<T: PartialEq>(a: &Result<T, String>, b: &Result<T, String>) -> bool {
            match (a, b) {
                (Ok(a), Ok(b)) => a == b,
                (Err(_), Err(_)) => true,
                _ => false,
            }
        }
        same(&self.wasm, &other.wasm)
            && match (&self.toml, &other.toml) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Loader {
    /// Loads plugin `name` from `contents`, read from `wasm` and (when it
    /// holds a manifest) `toml`; the paths name the files in messages.
    pub(super) fn load(
        &self,
        name: &str,
        wasm: &Path,
        toml: PathBuf,
        contents: &Contents,
    ) -> Result<Served, Failed> {
        let fail = |file: &Path, reason: String| Failed {
            file: file.to_owned(),
            reason: format!("{}: {reason}", file.display()),
        };
        if !valid_name(name) {
            return Err(fail(
                wasm,
                format!(
                    "`{name}` is not a plugin name: use letters, digits, `-` and `_` \
                     (the name is the file name without `.wasm`)"
                ),
            ));
        }
        let manifest = match &contents.toml {
            // The manifest error names the file itself.
            Some(text) => text
                .as_ref()
                .map_err(|e| ManifestError {
                    file: toml.clone(),
                    message: format!("cannot read: {e}"),
                })
                .and_then(|text| Manifest::parse(text, &toml))
                .map_err(|e| Failed {
                    file: toml.clone(),
                    reason: e.to_string(),
                })?,
            None => Manifest::default(),
        };
        let limits_config = self.limits.overridden_by(&manifest.limits);
        let limits = limits_config.apply(&Limits::default());
        let bytes = contents
            .wasm
            .as_deref()
            .map_err(|e| fail(wasm, format!("cannot read: {e}")))?;
        let hash = crate::digest::sha256_hex(bytes);
        let compile = || self.runtime.compile(name, bytes);
        let (component, outcome) = match &self.cache {
            Some(cache) => cache.get_or_compile(self.runtime.engine(), &hash, compile),
            None => compile().map(|c| (c, CacheOutcome::Miss)),
        }
        .map_err(|e| fail(wasm, e.to_string()))?;
        let caps = Capabilities::new(manifest.grants, self.stores.clone(), Some(toml));
        let plugin = self
            .runtime
            .load_described(name, bytes, component, limits, caps)
            .map_err(|e| fail(wasm, e.to_string()))?;
        let mut served = Served::new(plugin).with_max_calls(limits_config.max_concurrent_calls);
        served.version = manifest
            .version
            .unwrap_or_else(|| format!("sha256:{}", &hash[..12]));
        served.description = manifest.description;
        served.access = manifest.access;
        served.file = wasm.to_owned();
        served.from_cache = outcome == CacheOutcome::Hit;
        Ok(served)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
