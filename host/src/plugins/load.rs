//! Loading one plugin from its files: the manifest, the compiled cache (or
//! the compiler), the grants and limits, and the served entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cache::{CacheOutcome, CompiledCache};
use super::manifest::{LimitsConfig, Manifest};
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

impl Loader {
    /// Loads `wasm` (with `toml` as its manifest when `has_manifest`) as
    /// plugin `name`.
    pub(super) fn load(
        &self,
        name: &str,
        wasm: &Path,
        toml: PathBuf,
        has_manifest: bool,
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
        let manifest = if has_manifest {
            // The manifest error names the file itself.
            Manifest::load(&toml).map_err(|e| Failed {
                file: toml.clone(),
                reason: e.to_string(),
            })?
        } else {
            Manifest::default()
        };
        let limits_config = self.limits.overridden_by(&manifest.limits);
        let limits = limits_config.apply(&Limits::default());
        let bytes = std::fs::read(wasm).map_err(|e| fail(wasm, format!("cannot read: {e}")))?;
        let hash = crate::digest::sha256_hex(&bytes);
        let compile = || self.runtime.compile(name, &bytes);
        let (component, outcome) = match &self.cache {
            Some(cache) => cache.get_or_compile(self.runtime.engine(), &hash, compile),
            None => compile().map(|c| (c, CacheOutcome::Miss)),
        }
        .map_err(|e| fail(wasm, e.to_string()))?;
        let caps = Capabilities::new(manifest.grants, self.stores.clone(), Some(toml));
        let plugin = self
            .runtime
            .load_described(name, &bytes, component, limits, caps)
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
