//! Blobs through the host: uploads and downloads in chunks, with the
//! caller's blob permission checked first. File work runs off the async
//! threads.

use super::Host;
use crate::access::Identity;
use crate::caps::{BlobReader, BlobRef, BlobStore, BlobWriter, CapError};
use crate::proto::{BlobInfo, CallError, ErrorKind};

/// Bytes per chunk of a download.
const CHUNK_BYTES: usize = 256 << 10;

fn cap_error(e: CapError) -> CallError {
    match e {
        CapError::Denied(m) => CallError::new(ErrorKind::Denied, m),
        CapError::NotFound(m) => CallError::new(ErrorKind::NotFound, m),
        CapError::QuotaExceeded(m) => CallError::new(ErrorKind::ResourceLimit, m),
        CapError::Invalid(m) => CallError::new(ErrorKind::BadArgs, m),
        CapError::Failed(m) => CallError::new(ErrorKind::Internal, m),
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CapError> + Send + 'static,
) -> Result<T, CallError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CallError::new(ErrorKind::Internal, format!("blob task failed: {e}")))?
        .map_err(cap_error)
}

/// A blob being uploaded: written to a temporary file and hashed as it
/// arrives, removed if dropped before [`BlobUpload::finish`]. It counts
/// against its caller's uploads in progress until it ends.
#[derive(Debug)]
pub struct BlobUpload {
    store: BlobStore,
    writer: Option<BlobWriter>,
    announced: Option<u64>,
    _slot: UploadSlot,
}

/// One upload in progress of one caller; given back when dropped.
#[derive(Debug)]
struct UploadSlot {
    host: Host,
    caller: String,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut uploads = self.host.uploads();
        if let Some(n) = uploads.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                uploads.remove(&self.caller);
            }
        }
    }
}

impl BlobUpload {
    /// Appends one chunk.
    ///
    /// # Errors
    ///
    /// `resource-limit` past the host's largest blob, `internal` on I/O
    /// errors.
    pub async fn write(
        &mut self,
        chunk: impl AsRef<[u8]> + Send + 'static,
    ) -> Result<(), CallError> {
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| CallError::new(ErrorKind::Internal, "the upload already failed"))?;
        let writer = blocking(move || writer.write(chunk.as_ref()).map(|()| writer)).await?;
        self.writer = Some(writer);
        Ok(())
    }

    /// Stores the blob under its hash; its reference and size.
    ///
    /// # Errors
    ///
    /// `bad-request` when the size announced in the request differs from
    /// the bytes received, `internal` on I/O errors.
    pub async fn finish(mut self) -> Result<BlobInfo, CallError> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| CallError::new(ErrorKind::Internal, "the upload already failed"))?;
        let received = writer.size();
        if let Some(size) = self.announced.filter(|&s| s != received) {
            return Err(CallError::new(
                ErrorKind::BadRequest,
                format!("`blob-put` announced {size} bytes but sent {received}"),
            ));
        }
        let reference = blocking(move || writer.finish()).await?;
        // In a cluster, shared before its reference is handed out.
        self.store.publish(reference).await.map_err(cap_error)?;
        tracing::debug!(blob = %reference, size = received, "blob stored");
        Ok(BlobInfo {
            reference: reference.to_string(),
            size: received,
        })
    }
}

/// A blob being downloaded in chunks; the hash is checked at the end.
#[derive(Debug)]
pub struct BlobDownload {
    reader: Option<BlobReader>,
    info: BlobInfo,
}

impl BlobDownload {
    /// The blob's reference and size.
    pub fn info(&self) -> &BlobInfo {
        &self.info
    }

    /// The next chunk, or `None` at the end (after the hash matched).
    ///
    /// # Errors
    ///
    /// `internal` on I/O errors or when the stored content does not match
    /// its hash.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, CallError> {
        let Some(mut reader) = self.reader.take() else {
            return Ok(None);
        };
        let (reader, chunk) = blocking(move || {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let n = reader.read_chunk(&mut buf)?;
            buf.truncate(n);
            Ok((reader, buf))
        })
        .await?;
        if chunk.is_empty() {
            return Ok(None);
        }
        self.reader = Some(reader);
        Ok(Some(chunk))
    }
}

impl Host {
    fn blob_store(&self, who: &Identity, write: bool) -> Result<BlobStore, CallError> {
        who.authorize_blobs(write)?;
        self.inner.blobs.clone().ok_or_else(|| {
            CallError::new(
                ErrorKind::NotFound,
                "this server has no blob store (it runs without a state directory)",
            )
        })
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, usize>> {
        self.inner.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an upload of `who`, within its caller's cap.
    fn upload_slot(&self, who: &Identity) -> Result<UploadSlot, CallError> {
        let max = self.inner.blob_limits.uploads_per_caller();
        let caller = who.name().to_owned();
        let mut uploads = self.uploads();
        let n = uploads.entry(caller.clone()).or_default();
        if *n >= max {
            return Err(CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "caller `{caller}` has its maximum of {max} uploads in progress; finish \
                     one first"
                ),
            ));
        }
        *n += 1;
        Ok(UploadSlot {
            host: self.clone(),
            caller,
        })
    }

    /// Starts an upload for `who`, of `size` bytes when the client said.
    ///
    /// # Errors
    ///
    /// `unauthenticated` or `denied` without the caller's blob permission,
    /// `resource-limit` when `size` is over the host's largest blob or the
    /// caller has its maximum of uploads in progress, `internal` when the
    /// temporary file cannot be made.
    pub async fn blob_put(
        &self,
        who: &Identity,
        size: Option<u64>,
    ) -> Result<BlobUpload, CallError> {
        let store = self.blob_store(who, true)?;
        let slot = self.upload_slot(who)?;
        if let Some(size) = size.filter(|&s| s > store.max_blob_bytes()) {
            return Err(CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "a blob of {size} bytes is larger than this server's limit of {} bytes",
                    store.max_blob_bytes()
                ),
            ));
        }
        let writer = {
            let store = store.clone();
            blocking(move || store.writer()).await?
        };
        Ok(BlobUpload {
            store,
            writer: Some(writer),
            announced: size,
            _slot: slot,
        })
    }

    /// Opens blob `reference` for `who` to download.
    ///
    /// # Errors
    ///
    /// `unauthenticated` or `denied` without the caller's blob permission,
    /// `bad-args` for a malformed reference, `not-found` when it is not
    /// stored.
    pub async fn blob_get(
        &self,
        who: &Identity,
        reference: &str,
    ) -> Result<BlobDownload, CallError> {
        let store = self.blob_store(who, false)?;
        let r = BlobRef::parse(reference).map_err(|e| CallError::new(ErrorKind::BadArgs, e))?;
        store.ensure_local(&r).await.map_err(cap_error)?;
        let (size, reader) = blocking(move || store.reader(&r)).await?;
        Ok(BlobDownload {
            reader: Some(reader),
            info: BlobInfo {
                reference: r.to_string(),
                size,
            },
        })
    }
}
