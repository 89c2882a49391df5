//! One `call` request: permission checks, concurrency limits, the node's
//! events and items streamed as frames, a channel node's input read from the
//! client, cancellation when the client goes away.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use quinn::{RecvStream, SendStream, VarInt};
use rmpv::Value;
use tokio::sync::mpsc;

use super::Shared;
use super::stream::not_found;
use crate::access::Identity;
use crate::proto::{FrameDecoder, Response, parse_input};
use crate::rpc::codes;
use crate::rpc::transport::{ReadFrameError, read_frame, write_frame};
use crate::{CallError, CallEvent, CallOptions, ErrorKind, NodeKind, Plugin, StreamIo};

/// Items a stream node may produce ahead of the client. With QUIC's flow
/// control this bounds what a slow reader makes the host hold.
const ITEM_BUFFER: usize = 16;

/// What the client asked for.
pub(super) struct CallRequest {
    pub(super) node: String,
    pub(super) args: Value,
    pub(super) deadline_ms: Option<u64>,
}

/// The request's stream.
pub(super) struct Io<'s> {
    pub(super) send: &'s mut SendStream,
    pub(super) recv: &'s mut RecvStream,
    pub(super) decoder: &'s mut FrameDecoder,
}

/// Runs one call, streaming its events and items. Returns the final frame,
/// or `None` when the client cancelled (the stream has been reset then).
/// `ran` is set to the plugin once the call has started in it.
pub(super) async fn call(
    io: Io<'_>,
    shared: &Shared,
    identity: &Identity,
    request: CallRequest,
    ran: &mut Option<Plugin>,
) -> Option<Response> {
    let started = Instant::now();
    let node = request.node.as_str();
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
    *ran = Some(plugin.clone());
    let Ok(_permit) = shared.calls.clone().try_acquire_owned() else {
        return Some(Response::Err(CallError::new(
            ErrorKind::Overloaded,
            format!(
                "the server is running its maximum of {} calls; retry later",
                shared.max_calls
            ),
        )));
    };
    let kind = plugin.node(name).map_or(NodeKind::Call, |n| n.kind);
    // Progress and log events are lossy past a bounded buffer, so a guest
    // that reports faster than the client reads cannot grow the host's memory.
    let (tx, mut rx) = mpsc::channel::<Response>(256);
    let options = CallOptions {
        events: Some(Arc::new(move |event| {
            let _ = tx.try_send(event_frame(event));
        })),
        deadline: request
            .deadline_ms
            .map(|ms| started + Duration::from_millis(ms)),
        invoker: Some(shared.invoker.clone()),
        chain: Vec::new(),
    };
    // Items are not lossy: the node waits for room instead.
    let (items_tx, mut items_rx) = mpsc::channel::<Value>(ITEM_BUFFER);
    let (mut inputs_tx, inputs_rx) = if kind == NodeKind::Channel {
        let (tx, rx) = mpsc::channel::<Value>(ITEM_BUFFER);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let stream_io = StreamIo {
        items: items_tx,
        inputs: inputs_rx,
    };
    let running = plugin.call_stream(name, request.args, options, stream_io);
    tokio::pin!(running);

    let Io {
        send,
        recv,
        decoder,
    } = io;
    // A channel node reads the client's side; any other watches it for a reset.
    let (reset_recv, mut input_recv) = if kind == NodeKind::Channel {
        (None, Some(recv))
    } else {
        (Some(recv), None)
    };
    let reset = async move {
        let Some(recv) = reset_recv else {
            return std::future::pending().await;
        };
        match recv.received_reset().await {
            Ok(Some(_)) | Err(_) => {}
            // Finished normally: no reset can come any more.
            Ok(None) => std::future::pending().await,
        }
    };
    tokio::pin!(reset);
    let stopped = send.stopped();
    tokio::pin!(stopped);
    // An input read from the client, waiting for room in the node's queue.
    let mut pending: Option<Value> = None;
    let outcome = loop {
        let reading = pending.is_none() && inputs_tx.is_some() && input_recv.is_some();
        let queue = inputs_tx.clone();
        let mut close_inputs = false;
        let step = tokio::select! {
            biased;
            result = &mut running => Some(Some(result)),
            Some(event) = rx.recv() => {
                if write_frame(send, &event.into_value()).await.is_err() {
                    Some(None)
                } else {
                    None
                }
            }
            Some(item) = items_rx.recv() => {
                shared.items_sent.fetch_add(1, Ordering::Relaxed);
                if write_frame(send, &Response::Item(item).into_value()).await.is_err() {
                    Some(None)
                } else {
                    None
                }
            }
            permit = async { queue?.reserve_owned().await.ok() }, if pending.is_some() => {
                match (permit, pending.take()) {
                    (Some(permit), Some(value)) => {
                        permit.send(value);
                    }
                    // The node stopped taking input; it ends on its own.
                    _ => close_inputs = true,
                }
                None
            }
            frame = read_input(&mut input_recv, decoder), if reading => match frame {
                Ok(Some(value)) => {
                    pending = Some(value);
                    None
                }
                // The client finished its side: the input ends.
                Ok(None) => {
                    close_inputs = true;
                    None
                }
                Err(Some(e)) => {
                    // Dropping the call below stops the node.
                    tracing::debug!(node, "bad input frame: {}", e.message);
                    return Some(Response::Err(e));
                }
                Err(None) => Some(None),
            },
            _ = &mut stopped => Some(None),
            () = &mut reset => Some(None),
        };
        if close_inputs {
            inputs_tx = None;
        }
        if let Some(end) = step {
            break end;
        }
    };
    let Some(result) = outcome else {
        tracing::debug!(node, "call cancelled by the client");
        let _ = send.reset(VarInt::from_u32(codes::CANCELLED));
        return None;
    };
    // Events and items sent before the result go out before it.
    while let Ok(event) = rx.try_recv() {
        if write_frame(send, &event.into_value()).await.is_err() {
            return None;
        }
    }
    while let Ok(item) = items_rx.try_recv() {
        shared.items_sent.fetch_add(1, Ordering::Relaxed);
        if write_frame(send, &Response::Item(item).into_value())
            .await
            .is_err()
        {
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

/// The client's next input message. `Err(None)`: the stream failed (reset).
async fn read_input(
    recv: &mut Option<&mut RecvStream>,
    decoder: &mut FrameDecoder,
) -> Result<Option<Value>, Option<CallError>> {
    let Some(recv) = recv.as_mut() else {
        return std::future::pending().await;
    };
    match read_frame(recv, decoder).await {
        Ok(Some(frame)) => parse_input(frame)
            .map(Some)
            .map_err(|e| Some(CallError::new(ErrorKind::BadRequest, e.0))),
        Ok(None) => Ok(None),
        Err(ReadFrameError::Frame(e)) => {
            Err(Some(CallError::new(ErrorKind::BadRequest, e.to_string())))
        }
        Err(ReadFrameError::Stream(_)) => Err(None),
    }
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
