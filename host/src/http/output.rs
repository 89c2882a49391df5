//! A running call's output as a stream the front end formats (SSE,
//! NDJSON, WebSocket messages): its events and items in order, then its
//! outcome. The call runs in a task that ends when the stream is dropped
//! (the client went away), and a slow client holds the node back instead
//! of filling memory (items wait for room; progress and log lines beyond a
//! small buffer are dropped).

use std::sync::Arc;

use rmpv::Value;
use tokio::sync::mpsc;

use crate::host::{Admitted, CallIo, StreamIo};
use crate::proto::{CallError, CallEvent};

/// Items (and messages) waiting for the client, at most.
const ITEM_BUFFER: usize = 16;
/// Progress and log lines waiting for the client, at most.
const EVENT_BUFFER: usize = 64;
/// How long a client may take to take what is left once the call ended.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One piece of a call's output.
pub(super) enum Out {
    /// Progress, a log line or an item.
    Event(CallEvent),
    /// The end: the result or the error.
    Done(Result<Value, CallError>),
}

/// The output of a call running in its own task.
pub(super) struct Running {
    rx: mpsc::Receiver<Out>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // The client is gone: stop the node.
        self.task.abort();
    }
}

impl Running {
    /// The next piece, `None` after the end.
    pub(super) async fn next(&mut self) -> Option<Out> {
        self.rx.recv().await
    }
}

/// Starts `admitted` with `args`; `inputs` feeds a channel node.
pub(super) fn start(
    admitted: Admitted,
    args: Value,
    inputs: Option<mpsc::Receiver<Value>>,
) -> Running {
    let (tx, rx) = mpsc::channel::<Out>(ITEM_BUFFER);
    let (events_tx, mut events) = mpsc::channel::<CallEvent>(EVENT_BUFFER);
    let (items_tx, mut items) = mpsc::channel::<Value>(ITEM_BUFFER);
    let io = CallIo {
        events: Some(Arc::new(move |event| {
            let _ = events_tx.try_send(event);
        })),
        stream: Some(StreamIo {
            items: items_tx,
            inputs,
        }),
    };
    let task = tokio::spawn(async move {
        let running = admitted.run(args, io);
        tokio::pin!(running);
        // One piece waits for room at a time; meanwhile the call keeps
        // being polled, so its deadline fires even if the client stops
        // reading.
        let mut pending: Option<Out> = None;
        let result = loop {
            tokio::select! {
                biased;
                result = &mut running => break result,
                permit = tx.reserve(), if pending.is_some() => match (permit, pending.take()) {
                    (Ok(permit), Some(out)) => permit.send(out),
                    _ => return,
                },
                Some(event) = events.recv(), if pending.is_none() => {
                    pending = Some(Out::Event(event));
                }
                Some(item) = items.recv(), if pending.is_none() => {
                    pending = Some(Out::Event(CallEvent::Item(item)));
                }
            }
        };
        // What the node sent before its result goes out before it, as long
        // as the client keeps taking it.
        let rest = pending
            .into_iter()
            .chain(std::iter::from_fn(|| {
                events.try_recv().ok().map(Out::Event)
            }))
            .chain(std::iter::from_fn(|| {
                items
                    .try_recv()
                    .ok()
                    .map(|i| Out::Event(CallEvent::Item(i)))
            }))
            .chain(std::iter::once(Out::Done(result)));
        let until = tokio::time::Instant::now() + FLUSH_TIMEOUT;
        for out in rest {
            match tokio::time::timeout_at(until, tx.send(out)).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    });
    Running { rx, task }
}

/// An event as the JSON the gateway sends: `progress` `{fraction,
/// message}`, `log` `{level, message}`, or an item's value. Its name and
/// data.
pub(super) fn event_json(event: &CallEvent) -> (&'static str, serde_json::Value) {
    match event {
        CallEvent::Progress { fraction, message } => {
            // The shortest decimal of the f32 (0.33333334, not 0.3333333432674408).
            let fraction: f64 = fraction.to_string().parse().unwrap_or(0.0);
            (
                "progress",
                serde_json::json!({"fraction": fraction, "message": message}),
            )
        }
        CallEvent::Log { level, message } => (
            "log",
            serde_json::json!({"level": level.as_str(), "message": message}),
        ),
        CallEvent::Item(value) => ("item", crate::json::from_msgpack(value)),
    }
}
