//! Blobs from the client: uploads and downloads in chunks, never the whole
//! blob in memory.

use rmpv::Value;

use super::{BlobInfo, Client, ClientError, Event};
use crate::proto::{Request, frame_bytes};
use crate::rpc::transport::write_encoded;

/// Bytes per `bin` frame of an upload.
const UPLOAD_CHUNK: usize = 1 << 20;

fn blob_info(value: Value) -> Result<BlobInfo, ClientError> {
    BlobInfo::from_value(value).map_err(|e| ClientError::Protocol(e.0))
}

impl Client {
    /// Uploads a blob read from `data` in chunks (never all in memory) and
    /// returns its reference. `size`, when known, lets the server refuse a
    /// blob over its limit before any byte is sent.
    ///
    /// # Errors
    ///
    /// `unauthenticated` / `denied` without the caller's blob permission,
    /// `resource-limit` over the server's limit, [`ClientError::Protocol`]
    /// when `data` fails to read; otherwise as [`Client::call`].
    pub async fn put_blob(
        &self,
        mut data: impl tokio::io::AsyncRead + Unpin,
        size: Option<u64>,
    ) -> Result<BlobInfo, ClientError> {
        use tokio::io::AsyncReadExt;
        let request = Request::BlobPut { size };
        let (mut send, recv) = super::start(&self.connection().await?, request).await?;
        let mut chunk = vec![0u8; UPLOAD_CHUNK];
        loop {
            let mut filled = 0;
            while filled < chunk.len() {
                let n = data.read(&mut chunk[filled..]).await.map_err(|e| {
                    ClientError::Protocol(format!("reading the blob to upload failed: {e}"))
                })?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            let frame = frame_bytes(&Value::Binary(chunk[..filled].to_vec()));
            if write_encoded(&mut send, frame.into()).await.is_err() {
                // The server stopped reading: its answer says why.
                break;
            }
        }
        let _ = send.finish();
        blob_info(self.call_stream(send, recv).result().await?)
    }

    /// Downloads blob `reference` into `out`, chunk by chunk.
    ///
    /// # Errors
    ///
    /// `not-found` when the server does not store it, `denied` without the
    /// caller's blob permission, [`ClientError::Protocol`] when `out` fails
    /// or the server sends something else; otherwise as [`Client::call`].
    pub async fn get_blob(
        &self,
        reference: &str,
        mut out: impl tokio::io::AsyncWrite + Unpin,
    ) -> Result<BlobInfo, ClientError> {
        use tokio::io::AsyncWriteExt;
        let request = Request::BlobGet {
            reference: reference.to_owned(),
        };
        let (send, recv) = self.open(request).await?;
        let mut stream = self.call_stream(send, recv);
        let mut received = 0u64;
        while let Some(event) = stream.next().await {
            if let Event::Item(Value::Binary(chunk)) = event {
                received += chunk.len() as u64;
                out.write_all(&chunk).await.map_err(|e| {
                    ClientError::Protocol(format!("writing the downloaded blob failed: {e}"))
                })?;
            }
        }
        out.flush().await.map_err(|e| {
            ClientError::Protocol(format!("writing the downloaded blob failed: {e}"))
        })?;
        let info = blob_info(stream.result().await?)?;
        if info.size != received {
            return Err(ClientError::Protocol(format!(
                "the server announced {} bytes but sent {received}",
                info.size
            )));
        }
        Ok(info)
    }
}
