//! Blobs shared by the hosts of a cluster: the JetStream object store
//! `warden_<cluster>_blobs`, one object per blob named by its hash, so a
//! reference handed out by one host is valid on every host.
//!
//! Each host's own store stays a cache in front of it: a blob is published
//! (if the object store does not have it yet) before its reference is
//! handed out, and a blob missing here is fetched into the local store, its
//! hash checked, before it is read. The object store splits objects into
//! 128 KiB chunks, below NATS's message cap.

use std::path::PathBuf;

use async_nats::jetstream;
use async_nats::jetstream::object_store::{GetErrorKind, InfoErrorKind, ObjectMetadata};
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt;

use super::{ClusterError, Shared};
use crate::caps::{BlobRef, BlobWriter, CapError, SharedBlobs};

/// Bytes read from the object store at a time.
const READ_CHUNK: usize = 128 << 10;

/// The cluster's object store as a [`SharedBlobs`].
#[derive(Clone)]
pub(super) struct JetStreamBlobs {
    store: jetstream::object_store::ObjectStore,
}

fn failed(what: &str, e: impl std::fmt::Display) -> CapError {
    CapError::Failed(format!("the cluster's blob store failed to {what}: {e}"))
}

/// The object holding blob `r`.
fn object_name(r: &BlobRef) -> String {
    format!("blake3-{}", r.hex())
}

impl JetStreamBlobs {
    /// Opens (or creates) the object store of the cluster.
    pub(super) async fn open(shared: &Shared) -> Result<JetStreamBlobs, ClusterError> {
        let bucket = format!("warden_{}_blobs", shared.name);
        let store = object_store(&shared.client, &bucket, "Warden: blobs, by content hash").await?;
        Ok(JetStreamBlobs { store })
    }
}

/// Opens the object store `bucket`, creating it if needed. Its stream is
/// made directly (as `create_object_store` would), so that a second host
/// finds it rather than failing.
pub(super) async fn object_store(
    client: &async_nats::Client,
    bucket: &str,
    description: &str,
) -> Result<jetstream::object_store::ObjectStore, ClusterError> {
    use jetstream::stream::{Config, DiscardPolicy, StorageType};
    let js = jetstream::new(client.clone());
    let stream = Config {
        name: format!("OBJ_{bucket}"),
        description: Some(description.into()),
        subjects: vec![format!("$O.{bucket}.C.>"), format!("$O.{bucket}.M.>")],
        // Bounded by the NATS server's JetStream storage (a limit here
        // would be reserved up front, which a small server refuses).
        max_bytes: -1,
        storage: StorageType::File,
        num_replicas: 1,
        discard: DiscardPolicy::New,
        allow_rollup: true,
        allow_direct: true,
        ..Config::default()
    };
    let failed =
        |e: String| ClusterError::Store(format!("cannot open the object store `{bucket}`: {e}"));
    js.get_or_create_stream(stream)
        .await
        .map_err(|e| failed(e.to_string()))?;
    js.get_object_store(bucket)
        .await
        .map_err(|e| failed(e.to_string()))
}

impl SharedBlobs for JetStreamBlobs {
    fn publish(&self, r: BlobRef, path: PathBuf) -> BoxFuture<'static, Result<(), CapError>> {
        let store = self.store.clone();
        Box::pin(async move {
            let name = object_name(&r);
            match store.info(&name).await {
                // Content-addressed: the same name is the same content.
                Ok(info) if !info.deleted => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == InfoErrorKind::NotFound => {}
                Err(e) => return Err(failed("look a blob up", e)),
            }
            let mut file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| failed("read the blob to share", e))?;
            let meta = ObjectMetadata {
                name,
                description: Some(r.to_string()),
                ..ObjectMetadata::default()
            };
            store
                .put(meta, &mut file)
                .await
                .map_err(|e| failed("store a blob", e))?;
            Ok(())
        })
    }

    fn fetch(
        &self,
        r: BlobRef,
        mut writer: BlobWriter,
        max: u64,
    ) -> BoxFuture<'static, Result<Option<BlobWriter>, CapError>> {
        let store = self.store.clone();
        Box::pin(async move {
            let mut object = match store.get(object_name(&r)).await {
                Ok(object) => object,
                Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(failed("read a blob", e)),
            };
            if object.info().size as u64 > max {
                return Err(CapError::QuotaExceeded(format!(
                    "blob {r} takes {} bytes, more than this host's limit of {max}",
                    object.info().size
                )));
            }
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                let n = object
                    .read(&mut buf)
                    .await
                    .map_err(|e| failed("read a blob", e))?;
                if n == 0 {
                    break;
                }
                let chunk = buf[..n].to_vec();
                writer = tokio::task::spawn_blocking(move || writer.write(&chunk).map(|()| writer))
                    .await
                    .map_err(|e| failed("copy a blob", e))??;
            }
            Ok(Some(writer))
        })
    }
}
