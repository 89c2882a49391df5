//! One `call` request: permission checks, concurrency limits, the node's
//! events streamed as frames, cancellation when the client goes away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::{RecvStream, SendStream, VarInt};
use rmpv::Value;
use tokio::sync::mpsc;

use super::Shared;
use super::stream::not_found;
use crate::access::Identity;
use crate::proto::Response;
use crate::rpc::codes;
use crate::rpc::transport::write_frame;
use crate::{CallError, CallEvent, CallOptions, ErrorKind};

/// Runs one call, streaming its events. Returns the final frame, or `None`
/// when the client cancelled (the stream has been reset then).
pub(super) async fn call(
    send: &mut SendStream,
    recv: &mut RecvStream,
    shared: &Shared,
    identity: &Identity,
    node: &str,
    args: Value,
    deadline_ms: Option<u64>,
) -> Option<Response> {
    let started = Instant::now();
    let registry = shared.plugins.snapshot();
    let Some((served, name)) = registry.resolve(node) else {
        return Some(Response::Err(not_found(node)));
    };
    if served.access.is_private(name) {
        return Some(Response::Err(CallError::new(
            ErrorKind::Denied,
            format!("`{node}` is private: only other nodes may call it, through `invoke`"),
        )));
    }
    if let Err(e) = identity.authorize(node, &served.access) {
        return Some(Response::Err(e));
    }
    let _plugin_permit = match served.try_start_call() {
        Ok(permit) => permit,
        Err(max) => {
            return Some(Response::Err(CallError::new(
                ErrorKind::Overloaded,
                format!(
                    "plugin `{}` is running its maximum of {max} concurrent calls; retry later",
                    served.plugin.name()
                ),
            )));
        }
    };
    let plugin = served.plugin.clone();
    let Ok(_permit) = shared.calls.clone().try_acquire_owned() else {
        return Some(Response::Err(CallError::new(
            ErrorKind::Overloaded,
            format!(
                "the server is running its maximum of {} calls; retry later",
                shared.max_calls
            ),
        )));
    };
    // Progress and log events are lossy past a bounded buffer, so a guest
    // that reports faster than the client reads cannot grow the host's memory.
    let (tx, mut rx) = mpsc::channel::<Response>(256);
    let options = CallOptions {
        events: Some(Arc::new(move |event| {
            let _ = tx.try_send(event_frame(event));
        })),
        deadline: deadline_ms.map(|ms| started + Duration::from_millis(ms)),
        invoker: Some(Arc::new(shared.plugins.clone())),
        chain: Vec::new(),
    };
    let running = plugin.call(name, args, options);
    tokio::pin!(running);
    let stopped = send.stopped();
    tokio::pin!(stopped);
    let reset = async {
        match recv.received_reset().await {
            Ok(Some(_)) | Err(_) => {}
            // Finished normally: no reset can come any more.
            Ok(None) => std::future::pending().await,
        }
    };
    tokio::pin!(reset);
    let outcome = loop {
        tokio::select! {
            biased;
            result = &mut running => break Some(result),
            Some(event) = rx.recv() => {
                if write_frame(send, &event.to_value()).await.is_err() {
                    break None;
                }
            }
            _ = &mut stopped => break None,
            () = &mut reset => break None,
        }
    };
    let Some(result) = outcome else {
        tracing::debug!(node, "call cancelled by the client");
        let _ = send.reset(VarInt::from_u32(codes::CANCELLED));
        return None;
    };
    // Events sent before the result go out before it.
    while let Ok(event) = rx.try_recv() {
        if write_frame(send, &event.to_value()).await.is_err() {
            return None;
        }
    }
    let elapsed = started.elapsed();
    Some(match result {
        Ok(value) => {
            tracing::debug!(node, ?elapsed, "call ok");
            Response::Ok(value)
        }
        Err(e) => {
            tracing::debug!(node, ?elapsed, kind = %e.kind, "call failed: {}", e.message);
            Response::Err(e)
        }
    })
}

fn event_frame(event: CallEvent) -> Response {
    match event {
        CallEvent::Progress { fraction, message } => Response::Progress { fraction, message },
        CallEvent::Log { level, message } => Response::Log {
            level: level.as_str().to_owned(),
            message,
        },
    }
}
