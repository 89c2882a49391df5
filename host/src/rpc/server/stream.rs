//! One request stream: read the request frame, check who is asking, answer.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use quinn::{RecvStream, SendStream, VarInt};
use rmpv::Value;

use super::Shared;
use crate::access::Identity;
use crate::proto::{FrameDecoder, FrameError, Request, Response};
use crate::rpc::codes;
use crate::rpc::transport::{ReadFrameError, read_frame, write_frame};
use crate::{CallError, ErrorKind};

/// What the server knows about one connection.
pub(super) struct Conn {
    /// Who is calling; replaced by a successful `hello`.
    pub(super) identity: RwLock<Identity>,
}

impl Conn {
    fn identity(&self) -> Identity {
        self.identity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub(super) async fn serve_stream(
    mut send: SendStream,
    mut recv: RecvStream,
    shared: Arc<Shared>,
    conn: Arc<Conn>,
) {
    let mut decoder = FrameDecoder::new(shared.max_frame);
    let request = match read_frame(&mut recv, &mut decoder).await {
        Ok(Some(value)) => {
            Request::from_value(value).map_err(|e| CallError::new(ErrorKind::BadRequest, e.0))
        }
        Ok(None) => Err(CallError::new(
            ErrorKind::BadRequest,
            "the stream ended before a request frame",
        )),
        Err(ReadFrameError::Frame(e)) => {
            let code = match e {
                FrameError::TooLarge { .. } => codes::FRAME_TOO_LARGE,
                _ => codes::BAD_REQUEST,
            };
            let _ = recv.stop(VarInt::from_u32(code));
            Err(CallError::new(ErrorKind::BadRequest, e.to_string()))
        }
        Err(ReadFrameError::Stream(e)) => {
            tracing::debug!("request stream failed: {e}");
            return;
        }
    };
    let identity = conn.identity();
    // The plugin a call ran in: after the answer, it makes an instance ahead
    // for its next call.
    let mut ran = None;
    let response = match request {
        Err(e) => Response::Err(e),
        Ok(Request::Hello { token }) => hello(&shared, &conn, &token),
        Ok(Request::Catalog) => {
            let registry = shared.plugins.snapshot();
            let visible = registry.catalog().into_iter().filter(|info| {
                registry
                    .resolve(&info.node)
                    .is_some_and(|(s, _)| identity.authorize(&info.node, &s.access).is_ok())
            });
            Response::Ok(Value::Array(visible.map(|n| n.to_value()).collect()))
        }
        Ok(Request::Status) => match identity {
            Identity::Anonymous(_) => Response::Err(CallError::new(
                ErrorKind::Unauthenticated,
                "the server's status needs a caller token",
            )),
            _ => Response::Ok(shared.plugins.status().to_value()),
        },
        Ok(Request::Describe { node }) => {
            let registry = shared.plugins.snapshot();
            match (registry.describe(&node), registry.resolve(&node)) {
                (Some(info), Some((served, _))) => {
                    match identity.authorize(&node, &served.access) {
                        Ok(()) => Response::Ok(info.to_value()),
                        Err(e) => Response::Err(e),
                    }
                }
                _ => Response::Err(not_found(&node)),
            }
        }
        Ok(Request::Call {
            node,
            args,
            deadline_ms,
            meta: _,
        }) => {
            let io = super::call::Io {
                send: &mut send,
                recv: &mut recv,
                decoder: &mut decoder,
            };
            let request = super::call::CallRequest {
                node,
                args,
                deadline_ms,
            };
            let called = super::call::call(io, &shared, &identity, request, &mut ran);
            match called.await {
                Some(response) => response,
                None => return, // cancelled: the stream was reset
            }
        }
        Ok(Request::BlobPut { size }) => {
            match super::blobs::put(&mut recv, &mut decoder, &shared, &identity, size).await {
                Some(response) => response,
                None => return,
            }
        }
        Ok(Request::Submit {
            node,
            args,
            callback,
        }) => super::jobs::submit(&shared, &identity, &node, args, callback),
        Ok(Request::Job { id, wait_ms, keep }) => {
            super::jobs::get(&shared, &identity, &id, wait_ms, keep).await
        }
        Ok(Request::Cancel { id }) => super::jobs::cancel(&shared, &identity, &id),
        Ok(Request::BlobGet { reference }) => {
            match super::blobs::get(&mut send, &shared, &identity, &reference).await {
                Some(response) => response,
                None => return,
            }
        }
    };
    if write_frame(&mut send, &response.into_value()).await.is_ok() && send.finish().is_ok() {
        if let Some(plugin) = ran {
            // Let the connection send the answer first: making an instance
            // does not yield, and the answer must not wait for it.
            tokio::task::yield_now().await;
            plugin.make_ready().await;
        }
        // Wait until the client has the whole answer, so a connection closed
        // at shutdown does not cut it off.
        let _ = tokio::time::timeout(Duration::from_secs(5), send.stopped()).await;
    }
}

fn hello(shared: &Shared, conn: &Conn, token: &str) -> Response {
    let Some(access) = &shared.access else {
        return Response::Ok(caller_value("anonymous"));
    };
    match access.caller_for(token) {
        Some(caller) => {
            let name = caller.name.clone();
            tracing::debug!(caller = %name, "caller authenticated");
            *conn.identity.write().unwrap_or_else(|e| e.into_inner()) =
                Identity::Caller(Arc::new(caller));
            Response::Ok(caller_value(&name))
        }
        None => {
            tracing::warn!("a connection presented a token that matches no caller");
            Response::Err(CallError::new(
                ErrorKind::Unauthenticated,
                "the token matches no caller in this server's config; check it, or ask the \
                 operator for one (`warden token NAME` makes one)",
            ))
        }
    }
}

fn caller_value(name: &str) -> Value {
    Value::Map(vec![(Value::from("caller"), Value::from(name))])
}

pub(super) fn not_found(node: &str) -> CallError {
    CallError::new(
        ErrorKind::NotFound,
        format!("no node `{node}` is served here; `warden nodes` lists them"),
    )
}
