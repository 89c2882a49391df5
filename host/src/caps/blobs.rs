//! `warden:node/blobs`: immutable content-addressed blobs, one file per blob
//! under `STATE/blobs`, named by its BLAKE3 hash.
//!
//! A blob is written to a temporary file, synced and renamed into place, so
//! a crash never leaves a partial blob under a real name. Reads check the
//! hash, so a corrupted file is reported instead of returned.
//!
//! In a cluster, a [`SharedBlobs`] set with [`BlobStore::share`] makes the
//! local directory a cache of a store every host reaches: a blob stored
//! here is published there before its reference is handed out
//! ([`BlobStore::publish`]), and a blob missing here is fetched from there
//! (and its hash checked) before it is read ([`BlobStore::ensure_local`]).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;

use super::CapError;

/// A blob store shared by the hosts of a cluster, behind each host's own
/// (which becomes a cache of it).
pub trait SharedBlobs: Send + Sync {
    /// Publishes blob `reference`, stored here in the file `path`, so that
    /// every host can read it. Returns once it is durable there.
    fn publish(
        &self,
        reference: BlobRef,
        path: PathBuf,
    ) -> BoxFuture<'static, Result<(), CapError>>;
    /// Copies blob `reference` into `writer` (of this host's store), at
    /// most `max` bytes; `None` when the shared store does not have it.
    fn fetch(
        &self,
        reference: BlobRef,
        writer: BlobWriter,
        max: u64,
    ) -> BoxFuture<'static, Result<Option<BlobWriter>, CapError>>;
}

/// The prefix of every blob reference.
pub const REF_PREFIX: &str = "blake3:";

/// The default largest blob: 1 GiB.
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 1 << 30;

/// The host's blob store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    max_blob: u64,
    temp_counter: AtomicU64,
    shared: OnceLock<Arc<dyn SharedBlobs>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("dir", &self.dir)
            .field("shared", &self.shared.get().is_some())
            .finish_non_exhaustive()
    }
}

/// A validated blob reference: 32 hash bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobRef([u8; 32]);

impl BlobRef {
    /// Parses `blake3:` followed by 64 lowercase hex digits.
    ///
    /// # Errors
    ///
    /// A message saying what a reference looks like.
    pub fn parse(text: &str) -> Result<BlobRef, String> {
        let bad = || {
            format!(
                "`{text}` is not a blob reference: expected `blake3:` and 64 lowercase hex digits"
            )
        };
        let hex = text.strip_prefix(REF_PREFIX).ok_or_else(bad)?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(BlobRef(bytes))
    }

    /// The hash as 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for BlobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{REF_PREFIX}{}", self.hex())
    }
}

impl BlobStore {
    /// Opens (or creates) the store in `dir`, for blobs of at most
    /// `max_blob` bytes. Partial uploads left by a host that stopped (or
    /// was killed) in the middle of one are removed.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created.
    pub fn open(dir: &Path, max_blob: u64) -> Result<BlobStore, String> {
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| format!("cannot create the blob store `{}`: {e}", dir.display()))?;
        let mut removed = 0;
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                if std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            tracing::info!(dir = %tmp.display(), removed, "removed partial uploads");
        }
        Ok(BlobStore {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                max_blob,
                temp_counter: AtomicU64::new(0),
                shared: OnceLock::new(),
            }),
        })
    }

    /// From now on, publishes new blobs to `shared` and fetches missing
    /// ones from it. Set once; a second call returns `false`.
    pub fn share(&self, shared: Arc<dyn SharedBlobs>) -> bool {
        self.inner.shared.set(shared).is_ok()
    }

    /// Publishes blob `r` (stored here) to the shared store, if there is
    /// one.
    ///
    /// # Errors
    ///
    /// The shared store's failure: the blob is then not shared.
    pub async fn publish(&self, r: BlobRef) -> Result<(), CapError> {
        match self.inner.shared.get() {
            Some(shared) => shared.publish(r, self.path(&r)).await,
            None => Ok(()),
        }
    }

    /// Makes sure blob `r` is stored here: with a shared store, fetches it
    /// from there (checking its hash) when it is not. A blob found nowhere
    /// is left for the read to report.
    ///
    /// # Errors
    ///
    /// The shared store's failure, or `failed` when what it holds does not
    /// match the reference.
    pub async fn ensure_local(&self, r: &BlobRef) -> Result<(), CapError> {
        let Some(shared) = self.inner.shared.get().cloned() else {
            return Ok(());
        };
        let store = self.clone();
        let (r, here) = (*r, self.path(r));
        if tokio::fs::try_exists(&here).await.unwrap_or(false) {
            return Ok(());
        }
        let writer = tokio::task::spawn_blocking(move || store.writer())
            .await
            .map_err(|e| failed("fetch a blob", e))??;
        let Some(writer) = shared.fetch(r, writer, self.inner.max_blob).await? else {
            return Ok(());
        };
        let stored = tokio::task::spawn_blocking(move || writer.finish())
            .await
            .map_err(|e| failed("fetch a blob", e))??;
        if stored != r {
            return Err(CapError::Failed(format!(
                "the cluster's blob store holds other content under {r} (it hashes to \
                 {stored}); the shared copy is corrupt"
            )));
        }
        Ok(())
    }

    /// Bytes of the blobs stored now (their files, read from the
    /// directory: call it off the async threads).
    pub fn stored_bytes(&self) -> u64 {
        let Ok(dirs) = std::fs::read_dir(&self.inner.dir) else {
            return 0;
        };
        let mut total = 0u64;
        for dir in dirs.flatten() {
            // The two-digit fan-out directories; `tmp` holds no blob.
            if dir.file_name() == "tmp" {
                continue;
            }
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                if let Ok(meta) = file.metadata() {
                    total = total.saturating_add(meta.len());
                }
            }
        }
        total
    }

    /// The largest blob accepted, in bytes.
    pub fn max_blob_bytes(&self) -> u64 {
        self.inner.max_blob
    }

    fn path(&self, r: &BlobRef) -> PathBuf {
        let hex = r.hex();
        self.inner.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Stores `data`; its reference.
    pub(crate) fn put(&self, data: &[u8]) -> Result<BlobRef, CapError> {
        let mut writer = self.writer()?;
        writer.write(data)?;
        writer.finish()
    }

    /// Starts a streamed upload.
    ///
    /// # Errors
    ///
    /// When the temporary file cannot be created.
    pub fn writer(&self) -> Result<BlobWriter, CapError> {
        let n = self.inner.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = self
            .inner
            .dir
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()));
        let file = File::create(&temp).map_err(|e| failed("create a temporary blob file", e))?;
        Ok(BlobWriter {
            store: self.clone(),
            file: Some(file),
            temp,
            hasher: blake3::Hasher::new(),
            size: 0,
        })
    }

    /// The size of blob `r`, or `None` when it is not stored.
    pub(crate) fn stat(&self, r: &BlobRef) -> Result<Option<u64>, CapError> {
        match std::fs::metadata(self.path(r)) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed("read a blob's size", e)),
        }
    }

    /// Opens blob `r` for reading; its size and a reader that checks the
    /// hash when it reaches the end.
    ///
    /// # Errors
    ///
    /// `not-found` when it is not stored.
    pub fn reader(&self, r: &BlobRef) -> Result<(u64, BlobReader), CapError> {
        let file = match File::open(self.path(r)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CapError::NotFound(format!("no blob `{r}` is stored here")));
            }
            Err(e) => return Err(failed("open a blob", e)),
        };
        let size = file
            .metadata()
            .map_err(|e| failed("read a blob's size", e))?
            .len();
        Ok((
            size,
            BlobReader {
                file,
                hasher: blake3::Hasher::new(),
                expected: *r,
            },
        ))
    }

    /// The bytes of blob `r` if it has at most `max` bytes.
    pub(crate) fn get(&self, r: &BlobRef, max: usize) -> Result<Vec<u8>, CapError> {
        let (size, mut reader) = self.reader(r)?;
        if size > max as u64 {
            return Err(CapError::QuotaExceeded(format!(
                "blob `{r}` has {size} bytes, more than this call may take in at once \
                 ({max} bytes)"
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        let mut chunk = vec![0u8; 256 << 10];
        loop {
            let n = reader.read_chunk(&mut chunk)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&chunk[..n]);
            if data.len() as u64 > size {
                return Err(CapError::Failed(format!(
                    "blob `{r}` changed while it was read"
                )));
            }
        }
        Ok(data)
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> CapError {
    CapError::Failed(format!("the blob store could not {what}: {e}"))
}

/// A blob being written: hashes as it goes, renamed into place by
/// [`BlobWriter::finish`], deleted when dropped unfinished.
#[derive(Debug)]
pub struct BlobWriter {
    store: BlobStore,
    file: Option<File>,
    temp: PathBuf,
    hasher: blake3::Hasher,
    size: u64,
}

impl BlobWriter {
    /// Appends `data`.
    ///
    /// # Errors
    ///
    /// `quota-exceeded` past the store's largest blob; `failed` on I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), CapError> {
        self.size += data.len() as u64;
        if self.size > self.store.inner.max_blob {
            return Err(CapError::QuotaExceeded(format!(
                "the blob is larger than the host's limit of {} bytes",
                self.store.inner.max_blob
            )));
        }
        self.hasher.update(data);
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| CapError::Failed("the blob was already finished".into()))?;
        file.write_all(data).map_err(|e| failed("write a blob", e))
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Syncs the blob and moves it into place; its reference.
    ///
    /// # Errors
    ///
    /// `failed` on I/O errors.
    pub fn finish(mut self) -> Result<BlobRef, CapError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| CapError::Failed("the blob was already finished".into()))?;
        file.sync_all().map_err(|e| failed("sync a blob", e))?;
        drop(file);
        let r = BlobRef(*self.hasher.finalize().as_bytes());
        let path = self.store.path(&r);
        if path.exists() {
            // Same content, same name: the stored copy is kept.
            let _ = std::fs::remove_file(&self.temp);
            return Ok(r);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed("create a blob directory", e))?;
        }
        std::fs::rename(&self.temp, &path).map_err(|e| failed("store a blob", e))?;
        Ok(r)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Reads a stored blob and checks its hash at the end.
#[derive(Debug)]
pub struct BlobReader {
    file: File,
    hasher: blake3::Hasher,
    expected: BlobRef,
}

impl BlobReader {
    /// Reads the next bytes into `buf`; 0 at the end, after the hash matched.
    ///
    /// # Errors
    ///
    /// `failed` on I/O errors or when the content does not match its hash.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, CapError> {
        let n = self.file.read(buf).map_err(|e| failed("read a blob", e))?;
        if n == 0 {
            if self.hasher.finalize().as_bytes() != &self.expected.0 {
                return Err(CapError::Failed(format!(
                    "blob `{}` is corrupted on disk (its content does not match its hash)",
                    self.expected
                )));
            }
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_corruption_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), DEFAULT_MAX_BLOB_BYTES).unwrap();
        let r = store.put(b"hello").unwrap();
        assert_eq!(
            r.to_string(),
            format!("blake3:{}", blake3::hash(b"hello").to_hex())
        );
        assert_eq!(BlobRef::parse(&r.to_string()), Ok(r));
        assert_eq!(store.put(b"hello").unwrap(), r);
        assert_eq!(store.stat(&r).unwrap(), Some(5));
        assert_eq!(store.get(&r, 100).unwrap(), b"hello");
        assert!(matches!(store.get(&r, 2), Err(CapError::QuotaExceeded(_))));
        std::fs::write(store.path(&r), b"jello").unwrap();
        assert!(matches!(store.get(&r, 100), Err(CapError::Failed(m)) if m.contains("corrupted")));
        assert!(BlobRef::parse("blake3:XYZ").is_err());
        assert!(BlobRef::parse(&format!("sha256:{}", "0".repeat(64))).is_err());
        let missing = BlobRef::parse(&format!("blake3:{}", "0".repeat(64))).unwrap();
        assert_eq!(store.stat(&missing).unwrap(), None);
        assert!(matches!(store.get(&missing, 1), Err(CapError::NotFound(_))));
    }

    #[test]
    fn partial_uploads_are_removed_on_failure_and_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let tmp_files = || std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
        let store = BlobStore::open(dir.path(), DEFAULT_MAX_BLOB_BYTES).unwrap();
        let mut abandoned = store.writer().unwrap();
        abandoned.write(b"half of it").unwrap();
        assert_eq!(tmp_files(), 1);
        drop(abandoned);
        assert_eq!(tmp_files(), 0, "an upload that fails leaves no file");
        // A host killed in the middle of an upload leaves one behind.
        let killed = store.writer().unwrap();
        std::mem::forget(killed);
        std::fs::write(dir.path().join("tmp").join("999-0"), b"stale").unwrap();
        assert_eq!(tmp_files(), 2);
        let reopened = BlobStore::open(dir.path(), DEFAULT_MAX_BLOB_BYTES).unwrap();
        assert_eq!(tmp_files(), 0, "opening the store removes them");
        assert!(reopened.put(b"fine").is_ok());
    }
}
