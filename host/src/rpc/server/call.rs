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
use crate::host::{Args, CallIo, Identity, Origin, Reply, StreamIo, Wait};
use crate::proto::{CallEvent, Follows, Inbound, NodeKind, RawValue};

/// Items a stream node may produce ahead of the client. With QUIC's flow
/// control this bounds what a slow reader makes the host hold.
const ITEM_BUFFER: usize = 16;

/// Progress and log events queued for a slow client; past this, new ones
/// are dropped.
const EVENT_BUFFER: usize = 256;

/// How long past a call's end a write of its events may still wait for the
/// client to read, so the node's own timeout is what the caller sees.
const WRITE_GRACE: Duration = Duration::from_secs(1);

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
    Ran(Result<Reply, crate::proto::CallError>),
    /// The client went away or reset the stream: cancel.
    Cancelled,
    /// The client did not take the call's events by its end.
    NotReading,
    /// The client sent a malformed input: stop reading, answer with it.
    Bad(crate::proto::StreamError),
}

pub(super) async fn call(
    ex: &mut Exchange,
    shared: &Shared,
    identity: &Identity,
    node: &str,
    args: RawValue,
    deadline_ms: Option<u64>,
    trace: Option<crate::proto::TraceContext>,
) -> Outcome {
    let started = Instant::now();
    let deadline = deadline_ms.map(|ms| started + Duration::from_millis(ms));
    let admitted = match shared
        .host
        .admit(Origin::Caller(identity), node, deadline, Wait::No)
        .await
    {
        Ok(admitted) => admitted.with_trace(trace),
        Err(e) => return Outcome::Answer(Err(e)),
    };
    // Checked against the bound on their decoded size only now that the
    // caller was admitted; decoded (if at all) by the call.
    if let Err(e) = shared.check_args(&args) {
        return Outcome::Answer(Err(e));
    }
    let ahead = admitted.ahead();
    let channel = admitted.kind() == NodeKind::Channel;
    // A client that stops reading cannot hold the call past its end: the
    // node's own deadline fires inside the call, and a write the client
    // does not take by then ends the call too.
    let ends_by = tokio::time::Instant::from_std(admitted.ends_by() + WRITE_GRACE);
    if channel {
        ex.input.reader.expect(Follows::Inputs);
        // Each input is decoded within the same bound as arguments.
        ex.input.reader.limit_inputs(shared.max_decoded_args);
    }
    // Progress and log events are lossy past a bounded buffer, so a guest
    // that reports faster than the client reads cannot grow the host's memory.
    let (events_tx, mut events) = mpsc::channel::<CallEvent>(EVENT_BUFFER);
    // Items are not lossy: the node waits for room instead. A plain node
    // has none, so it gets no queue.
    let (items_tx, mut items) = if admitted.kind() == NodeKind::Call {
        (None, None)
    } else {
        let (tx, rx) = mpsc::channel::<Value>(ITEM_BUFFER);
        (Some(tx), Some(rx))
    };
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
        stream: items_tx.map(|items| StreamIo {
            items,
            inputs: inputs_rx,
        }),
    };
    let running = admitted.run_encoded(Args::Encoded(args), io);
    tokio::pin!(running);

    // A channel node reads the client's side while it takes input; any
    // other call (and a channel whose input waits for room) watches it for
    // a reset, until it has been finished normally.
    let mut reset_possible = true;
    // An input read from the client, waiting for room in the node's queue.
    let mut pending: Option<Value> = None;
    let mut input_open = channel;
    let stopped = ex.output.send.stopped();
    tokio::pin!(stopped);
    let step = loop {
        let queue = inputs_tx.clone();
        let reading = input_open && pending.is_none() && inputs_tx.is_some();
        let watching = reset_possible && !reading && (!channel || input_open);
        let input = &mut ex.input;
        let from_client = async {
            if reading {
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
                if let Err(step) = write(ex, event, ends_by).await {
                    break step;
                }
            }
            Some(item) = next_item(&mut items) => {
                shared.items_sent.fetch_add(1, Ordering::Relaxed);
                if let Err(step) = write(ex, CallEvent::Item(item), ends_by).await {
                    break step;
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
                    reset_possible = false;
                    inputs_tx = None;
                }
                Heard::Inbound(Err(Stop::Bad(e))) => break Step::Bad(e),
                Heard::Inbound(Err(Stop::Gone)) | Heard::Reset(true) => break Step::Cancelled,
                // Finished normally: no reset can come any more.
                Heard::Reset(false) => reset_possible = false,
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
        Step::NotReading => {
            tracing::debug!(node, "the client did not read the call's items; call ended");
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
        if write(ex, event, ends_by).await.is_err() {
            ex.output.cancel();
            return Outcome::Done;
        }
    }
    while let Some(Ok(item)) = items.as_mut().map(mpsc::Receiver::try_recv) {
        shared.items_sent.fetch_add(1, Ordering::Relaxed);
        if write(ex, CallEvent::Item(item), ends_by).await.is_err() {
            ex.output.cancel();
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

/// The next item of a stream or channel call; never, for a plain call.
async fn next_item(items: &mut Option<mpsc::Receiver<Value>>) -> Option<Value> {
    match items {
        Some(items) => items.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes one event, waiting for the client at most until `until`.
async fn write(
    ex: &mut Exchange,
    event: CallEvent,
    until: tokio::time::Instant,
) -> Result<(), Step> {
    match tokio::time::timeout_at(until, ex.output.event(event)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Step::Cancelled),
        Err(_) => Err(Step::NotReading),
    }
}
