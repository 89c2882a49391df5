//! `blob-put` and `blob-get` over a stream: chunks in or out, so neither
//! side holds a whole blob in memory.

use rmpv::Value;

use super::Shared;
use super::stream::{Conn, Exchange, Outcome, Stop};
use crate::host::Identity;
use crate::proto::{CallError, CallEvent, ErrorKind, Follows, Inbound, codes};

/// Receives a blob.
pub(super) async fn put(
    ex: &mut Exchange,
    shared: &Shared,
    identity: &Identity,
    size: Option<u64>,
    conn: &Conn,
) -> Outcome {
    let refuse = |ex: &mut Exchange, e| {
        // Refused before any chunk: the client need not send them.
        ex.input.stop(codes::DONE);
        Outcome::Answer(Err(e))
    };
    let Some(_slot) = conn.upload_slot(shared.budgets.uploads_per_connection) else {
        let e = CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "this connection has its maximum of {} uploads in progress; finish one first",
                shared.budgets.uploads_per_connection
            ),
        );
        return refuse(ex, e);
    };
    let mut upload = match shared.host.blob_put(identity, size).await {
        Ok(upload) => upload,
        Err(e) => return refuse(ex, e),
    };
    ex.input.reader.expect(Follows::Chunks);
    let idle = shared.host.blob_limits().upload_idle();
    loop {
        // An upload that sends nothing for a while gives its file back.
        let Ok(next) = tokio::time::timeout(idle, ex.input.next()).await else {
            ex.input.stop(codes::TOO_SLOW);
            let e = CallError::new(
                ErrorKind::Timeout,
                format!(
                    "the upload sent nothing for {}; it was dropped",
                    crate::text::duration_text(idle)
                ),
            );
            return Outcome::Answer(Err(e));
        };
        match next {
            Ok(Inbound::Chunk(chunk)) => {
                if let Err(e) = upload.write(chunk).await {
                    ex.input.stop(codes::DONE);
                    return Outcome::Answer(Err(e));
                }
            }
            Ok(_) => break,
            Err(Stop::Bad(e)) => {
                ex.input.stop(e.code);
                return Outcome::Answer(Err(e.error));
            }
            Err(Stop::Gone) => {
                tracing::debug!("blob upload ended early");
                return Outcome::Done;
            }
        }
    }
    Outcome::Answer(upload.finish().await.map(|info| info.to_value()))
}

/// Sends a blob as `item` frames holding `bin` chunks.
pub(super) async fn get(
    ex: &mut Exchange,
    shared: &Shared,
    identity: &Identity,
    reference: &str,
) -> Outcome {
    let mut download = match shared.host.blob_get(identity, reference).await {
        Ok(download) => download,
        Err(e) => return Outcome::Answer(Err(e)),
    };
    loop {
        match download.next_chunk().await {
            Ok(Some(chunk)) => {
                let item = CallEvent::Item(Value::Binary(chunk));
                if ex.output.event(item).await.is_err() {
                    return Outcome::Done;
                }
            }
            Ok(None) => return Outcome::Answer(Ok(download.info().to_value())),
            Err(e) => return Outcome::Answer(Err(e)),
        }
    }
}
