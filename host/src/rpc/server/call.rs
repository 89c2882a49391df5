//! One `call` request over a stream: admitted by the host, its events and
//! items written as frames while it runs, a channel node's input read from
//! the client, cancelled when the client goes away.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rmpv::Value;
use tokio::sync::mpsc;

use super::Shared;
use super::stream::{Exchange, Outcome, Stop};
use crate::host::{CallIo, Identity, Origin, StreamIo, Wait};
use crate::proto::{CallEvent, Follows, Inbound, NodeKind};

/// Items a stream node may produce ahead of the client. With QUIC's flow
/// control this bounds what a slow reader makes the host hold.
const ITEM_BUFFER: usize = 16;

/// Progress and log events queued for a slow client; past this, new ones
/// are dropped.
const EVENT_BUFFER: usize = 256;

/// What came from the client's side of the stream.
enum Heard {
    /// A channel call's input (or its end, or a bad frame).
    Inbound(Result<Inbound, Stop>),
    /// Any other call: whether the client reset its side (`false`: it
    /// finished normally, so no reset can come).
    Reset(bool),
}

/// What one turn of the loop below decided.
enum Step {
    /// The node finished.
    Ran(Result<Value, crate::proto::CallError>),
    /// The client went away or reset the stream: cancel.
    Cancelled,
    /// The client sent a malformed input: stop reading, answer with it.
    Bad(crate::proto::StreamError),
}

pub(super) async fn call(
    ex: &mut Exchange,
    shared: &Shared,
    identity: &Identity,
    node: &str,
    args: Value,
    deadline_ms: Option<u64>,
) -> Outcome {
    let started = Instant::now();
    let deadline = deadline_ms.map(|ms| started + Duration::from_millis(ms));
    let admitted = match shared
        .host
        .admit(Origin::Caller(identity), node, deadline, Wait::No)
        .await
    {
        Ok(admitted) => admitted,
        Err(e) => return Outcome::Answer(Err(e)),
    };
    let ahead = admitted.ahead();
    let channel = admitted.kind() == NodeKind::Channel;
    if channel {
        ex.input.reader.expect(Follows::Inputs);
    }
    // Progress and log events are lossy past a bounded buffer, so a guest
    // that reports faster than the client reads cannot grow the host's memory.
    let (events_tx, mut events) = mpsc::channel::<CallEvent>(EVENT_BUFFER);
    // Items are not lossy: the node waits for room instead.
    let (items_tx, mut items) = mpsc::channel::<Value>(ITEM_BUFFER);
    let (mut inputs_tx, inputs_rx) = if channel {
        let (tx, rx) = mpsc::channel::<Value>(ITEM_BUFFER);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let io = CallIo {
        events: Some(Arc::new(move |event| {
            let _ = events_tx.try_send(event);
        })),
        stream: Some(StreamIo {
            items: items_tx,
            inputs: inputs_rx,
        }),
    };
    let running = admitted.run(args, io);
    tokio::pin!(running);

    // A channel node reads the client's side; any other watches it for a reset.
    let mut watching = !channel;
    // An input read from the client, waiting for room in the node's queue.
    let mut pending: Option<Value> = None;
    let mut input_open = channel;
    let stopped = ex.output.send.stopped();
    tokio::pin!(stopped);
    let step = loop {
        let queue = inputs_tx.clone();
        let reading = input_open && pending.is_none() && inputs_tx.is_some();
        let input = &mut ex.input;
        let from_client = async {
            if channel {
                Heard::Inbound(input.next().await)
            } else {
                Heard::Reset(
                    input
                        .recv
                        .received_reset()
                        .await
                        .map_or(true, |r| r.is_some()),
                )
            }
        };
        tokio::select! {
            biased;
            result = &mut running => break Step::Ran(result),
            Some(event) = events.recv() => {
                if ex.output.event(event).await.is_err() {
                    break Step::Cancelled;
                }
            }
            Some(item) = items.recv() => {
                shared.items_sent.fetch_add(1, Ordering::Relaxed);
                if ex.output.event(CallEvent::Item(item)).await.is_err() {
                    break Step::Cancelled;
                }
            }
            permit = async { queue?.reserve_owned().await.ok() }, if pending.is_some() => {
                match (permit, pending.take()) {
                    (Some(permit), Some(value)) => {
                        permit.send(value);
                    }
                    // The node stopped taking input; it ends on its own.
                    _ => inputs_tx = None,
                }
            }
            heard = from_client, if reading || watching => match heard {
                Heard::Inbound(Ok(Inbound::Input(value))) => pending = Some(value),
                // The client finished its side: the input ends.
                Heard::Inbound(Ok(_)) => {
                    input_open = false;
                    inputs_tx = None;
                }
                Heard::Inbound(Err(Stop::Bad(e))) => break Step::Bad(e),
                Heard::Inbound(Err(Stop::Gone)) | Heard::Reset(true) => break Step::Cancelled,
                // Finished normally: no reset can come any more.
                Heard::Reset(false) => watching = false,
            },
            _ = &mut stopped => break Step::Cancelled,
        }
    };
    let result = match step {
        Step::Ran(result) => result,
        Step::Cancelled => {
            tracing::debug!(node, "call cancelled by the client");
            ex.output.cancel();
            return Outcome::Done;
        }
        Step::Bad(e) => {
            // Dropping the call stops the node.
            tracing::debug!(node, "bad input: {e}");
            ex.input.stop(e.code);
            return Outcome::Answer(Err(e.error));
        }
    };
    // Events and items sent before the result go out before it.
    while let Ok(event) = events.try_recv() {
        if ex.output.event(event).await.is_err() {
            return Outcome::Done;
        }
    }
    while let Ok(item) = items.try_recv() {
        shared.items_sent.fetch_add(1, Ordering::Relaxed);
        if ex.output.event(CallEvent::Item(item)).await.is_err() {
            return Outcome::Done;
        }
    }
    match &result {
        Ok(_) => tracing::debug!(node, elapsed = ?started.elapsed(), "call ok"),
        Err(e) => {
            tracing::debug!(node, elapsed = ?started.elapsed(), kind = %e.kind, "call failed: {}", e.message)
        }
    }
    Outcome::Called(result, ahead)
}
