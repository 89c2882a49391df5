//! Compiled components on disk, so a restart does not recompile.
//!
//! An entry is keyed by the SHA-256 of the component's bytes and a hash of
//! the engine's compilation settings (wasmtime version, target, tunables),
//! so a different wasmtime or configuration never picks up a stale entry.
//! Beside each artifact is the SHA-256 of the artifact itself; an entry whose
//! checksum does not match, or that wasmtime refuses, is deleted and rebuilt.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::digest::sha256_hex;
use crate::proto::CacheStats;

/// Where compiled artifacts live, and how often they were used.
#[derive(Debug)]
pub struct CompiledCache {
    dir: PathBuf,
    engine_key: String,
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
}

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a verified cache entry.
    Hit,
    /// Compiled now (and stored).
    Miss,
    /// A cache entry existed but was corrupt or stale; compiled again.
    Rejected,
}

impl CompiledCache {
    /// A cache in `dir` for components compiled by `engine`.
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompiledCache {
            dir: dir.into(),
            engine_key: format!("{:016x}", hasher.finish()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// How the cache has been used.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    fn paths(&self, content_hash: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{content_hash}-{}", self.engine_key);
        (
            self.dir.join(format!("{stem}.cwasm")),
            self.dir.join(format!("{stem}.sha256")),
        )
    }

    /// The component for `bytes` (whose SHA-256 is `content_hash`): from the
    /// cache when a verified entry exists, else compiled with `compile` and
    /// stored. Failing to write the cache is logged, never fatal.
    ///
    /// # Errors
    ///
    /// Whatever `compile` returns.
    pub fn get_or_compile<E>(
        &self,
        engine: &Engine,
        content_hash: &str,
        compile: impl FnOnce() -> Result<Component, E>,
    ) -> Result<(Component, CacheOutcome), E> {
        let (artifact, checksum) = self.paths(content_hash);
        let mut outcome = CacheOutcome::Miss;
        if artifact.exists() {
            match Self::read_verified(engine, &artifact, &checksum) {
                Ok(component) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok((component, CacheOutcome::Hit));
                }
                Err(why) => {
                    tracing::warn!(file = %artifact.display(), "discarding cache entry: {why}");
                    let _ = std::fs::remove_file(&artifact);
                    let _ = std::fs::remove_file(&checksum);
                    outcome = CacheOutcome::Rejected;
                }
            }
        }
        let component = compile()?;
        match outcome {
            CacheOutcome::Rejected => self.rejected.fetch_add(1, Ordering::Relaxed),
            _ => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        if let Err(e) = self.store(&component, &artifact, &checksum) {
            tracing::warn!(dir = %self.dir.display(), "cannot write the compiled cache: {e}");
        }
        Ok((component, outcome))
    }

    fn read_verified(
        engine: &Engine,
        artifact: &Path,
        checksum: &Path,
    ) -> Result<Component, String> {
        let bytes = std::fs::read(artifact).map_err(|e| e.to_string())?;
        let expected =
            std::fs::read_to_string(checksum).map_err(|e| format!("no checksum: {e}"))?;
        if sha256_hex(&bytes) != expected.trim() {
            return Err("checksum mismatch (corrupt entry)".into());
        }
        // SAFETY: the bytes are an artifact this cache wrote with
        // `Component::serialize` (the checksum above rules out corruption of
        // the file since), and wasmtime checks the engine compatibility header.
        unsafe { Component::deserialize(engine, &bytes) }.map_err(|e| format!("{e:#}"))
    }

    fn store(
        &self,
        component: &Component,
        artifact: &Path,
        checksum: &Path,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = component
            .serialize()
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        // Write to temporary names and rename, so a crash never leaves a
        // half-written entry under the real name.
        let tmp_artifact = artifact.with_extension("cwasm.tmp");
        let tmp_checksum = checksum.with_extension("sha256.tmp");
        std::fs::write(&tmp_artifact, &bytes)?;
        std::fs::write(&tmp_checksum, sha256_hex(&bytes))?;
        std::fs::rename(&tmp_checksum, checksum)?;
        std::fs::rename(&tmp_artifact, artifact)?;
        Ok(())
    }
}
