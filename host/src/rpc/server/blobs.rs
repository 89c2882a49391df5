//! `blob-put` and `blob-get`: blobs streamed over a request stream in
//! chunks, so neither side holds a whole blob in memory.

use quinn::{RecvStream, SendStream, VarInt};
use rmpv::Value;

use super::Shared;
use crate::access::Identity;
use crate::caps::{BlobRef, BlobStore, CapError};
use crate::proto::{FrameDecoder, Response};
use crate::rpc::codes;
use crate::rpc::transport::{ReadFrameError, read_frame, write_frame};
use crate::{CallError, ErrorKind};

/// Bytes per `item` frame of a download.
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

fn store<'s>(
    shared: &'s Shared,
    identity: &Identity,
    write: bool,
) -> Result<&'s BlobStore, CallError> {
    identity.authorize_blobs(write)?;
    shared.blobs.as_ref().ok_or_else(|| {
        CallError::new(
            ErrorKind::NotFound,
            "this server has no blob store (it runs without a state directory)",
        )
    })
}

fn done(r: &BlobRef, size: u64) -> Response {
    Response::Ok(Value::Map(vec![
        (Value::from("ref"), Value::from(r.to_string())),
        (Value::from("size"), Value::from(size)),
    ]))
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

/// Receives a blob; `None` when the client went away.
pub(super) async fn put(
    recv: &mut RecvStream,
    decoder: &mut FrameDecoder,
    shared: &Shared,
    identity: &Identity,
    size: Option<u64>,
) -> Option<Response> {
    let refuse = |recv: &mut RecvStream, e: CallError| {
        let _ = recv.stop(VarInt::from_u32(codes::BAD_REQUEST));
        Some(Response::Err(e))
    };
    let store = match store(shared, identity, true) {
        Ok(store) => store.clone(),
        Err(e) => return refuse(recv, e),
    };
    if let Some(size) = size.filter(|&s| s > store.max_blob_bytes()) {
        return refuse(
            recv,
            CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "a blob of {size} bytes is larger than this server's limit of {} bytes",
                    store.max_blob_bytes()
                ),
            ),
        );
    }
    let mut writer = match blocking(move || store.writer()).await {
        Ok(w) => w,
        Err(e) => return refuse(recv, e),
    };
    loop {
        match read_frame(recv, decoder).await {
            Ok(Some(Value::Binary(chunk))) => {
                let written = blocking(move || writer.write(&chunk).map(|()| writer)).await;
                writer = match written {
                    Ok(w) => w,
                    Err(e) => return refuse(recv, e),
                };
            }
            Ok(Some(other)) => {
                let e = CallError::new(
                    ErrorKind::BadRequest,
                    format!(
                        "`blob-put`: after the request, send the blob as MessagePack `bin` \
                         frames; got {}",
                        crate::json::from_msgpack(&other)
                    ),
                );
                return refuse(recv, e);
            }
            Ok(None) => break,
            Err(ReadFrameError::Frame(e)) => {
                return refuse(recv, CallError::new(ErrorKind::BadRequest, e.to_string()));
            }
            Err(ReadFrameError::Stream(e)) => {
                tracing::debug!("blob upload ended early: {e}");
                return None;
            }
        }
    }
    let received = writer.size();
    if let Some(size) = size.filter(|&s| s != received) {
        return Some(Response::Err(CallError::new(
            ErrorKind::BadRequest,
            format!("`blob-put` announced {size} bytes but sent {received}"),
        )));
    }
    Some(match blocking(move || writer.finish()).await {
        Ok(r) => {
            tracing::debug!(blob = %r, size = received, "blob stored");
            done(&r, received)
        }
        Err(e) => Response::Err(e),
    })
}

/// Sends a blob as `item` frames; `None` when the client went away.
pub(super) async fn get(
    send: &mut SendStream,
    shared: &Shared,
    identity: &Identity,
    reference: &str,
) -> Option<Response> {
    let store = match store(shared, identity, false) {
        Ok(store) => store.clone(),
        Err(e) => return Some(Response::Err(e)),
    };
    let r = match BlobRef::parse(reference) {
        Ok(r) => r,
        Err(e) => return Some(Response::Err(CallError::new(ErrorKind::BadArgs, e))),
    };
    let (size, mut reader) = match blocking(move || store.reader(&r)).await {
        Ok(opened) => opened,
        Err(e) => return Some(Response::Err(e)),
    };
    loop {
        let read = blocking(move || {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let n = reader.read_chunk(&mut buf)?;
            buf.truncate(n);
            Ok((reader, buf))
        })
        .await;
        let chunk;
        (reader, chunk) = match read {
            Ok(next) => next,
            Err(e) => return Some(Response::Err(e)),
        };
        if chunk.is_empty() {
            return Some(done(&r, size));
        }
        let frame = Response::Item(Value::Binary(chunk)).into_value();
        if write_frame(send, &frame).await.is_err() {
            return None;
        }
    }
}
