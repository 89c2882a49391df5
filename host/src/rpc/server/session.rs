//! A session: many plain calls over one stream, each with an id (see
//! [`crate::proto::session`] and PROTOCOL.md "Sessions").
//!
//! The session's task reads `call` and `cancel` frames and starts one task
//! per call; each call writes its own frames (events, then its one final
//! frame) through the session's [`Writer`], so an answer goes out from the
//! task that produced it, without a hop through another task. A client
//! that stops taking frames stalls only its own session: a write waits at
//! most the frame timeout, after which the session is reset and its calls
//! cancelled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use quinn::{SendStream, VarInt};
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::Shared;
use super::stream::{Exchange, Stop};
use crate::host::{Args, CallIo, Identity, Origin, Reply, Wait};
use crate::proto::session::{MAX_SESSION_CALLS, SessionFrame, answer_frame, ok_bin_head, ok_head};
use crate::proto::{
    CallError, CallEvent, ErrorKind, Follows, Inbound, NodeKind, RawValue, Request, Response, codes,
};
use crate::rpc::transport::write_encoded;

/// Progress and log events queued per call for a slow client; past this,
/// new ones are dropped (as on a call's own stream).
const EVENT_BUFFER: usize = 256;

/// The server's side of a session, shared by its calls.
struct Writer {
    send: Mutex<SendStream>,
    /// How long one write may wait for the client to take it.
    timeout: Duration,
    /// Set once a write failed or timed out: the session is over.
    broken: watch::Sender<bool>,
}

/// The session is over: nothing more can be written.
struct Broken;

impl Writer {
    /// Writes `frames` and then `tail` (an answer's value, sent as it is),
    /// together, so frames of different calls never interleave.
    async fn write(&self, frames: Vec<u8>, tail: Option<Bytes>) -> Result<(), Broken> {
        if *self.broken.borrow() {
            return Err(Broken);
        }
        let write = async {
            let mut send = self.send.lock().await;
            write_encoded(&mut send, frames.into()).await?;
            match tail {
                Some(tail) => write_encoded(&mut send, tail).await,
                None => Ok(()),
            }
        };
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                self.broken.send_replace(true);
                Err(Broken)
            }
            Err(_) => {
                // A frame may have been cut: the stream cannot go on.
                if let Ok(mut send) = self.send.try_lock() {
                    let _ = send.reset(VarInt::from_u32(codes::TOO_SLOW));
                }
                self.broken.send_replace(true);
                Err(Broken)
            }
        }
    }

    /// Writes call `id`'s event.
    async fn event(&self, id: u64, event: CallEvent) -> Result<(), Broken> {
        let mut out = Vec::new();
        answer_frame(id, Response::Event(event), &mut out);
        self.write(out, None).await
    }

    /// Writes call `id`'s final frame.
    async fn answer(&self, id: u64, result: Result<Reply, CallError>) -> Result<(), Broken> {
        let mut out = Vec::new();
        let tail = match result {
            Ok(Reply::Encoded(value)) => {
                ok_head(Some(id), value.len(), &mut out);
                Some(value)
            }
            Ok(Reply::Bin(bin)) => {
                ok_bin_head(Some(id), bin.len(), &mut out);
                Some(bin)
            }
            Ok(Reply::Value(value)) => {
                answer_frame(id, Response::Ok(value), &mut out);
                None
            }
            Err(e) => {
                answer_frame(id, Response::Err(e), &mut out);
                None
            }
        };
        self.write(out, tail.map(Bytes::from)).await
    }

    /// Writes an error about the session itself (a frame without `id`):
    /// the client fails every call it still waits for with it.
    async fn fail(&self, error: CallError) {
        let mut out = Vec::new();
        crate::proto::encode_frame(&Response::Err(error).into_value(), &mut out);
        let _ = self.write(out, None).await;
    }
}

/// The session's calls that have not answered yet, by id, with how to
/// cancel each (taken once used). A call leaves it right before it writes
/// its final frame, so a client that gets an answer and sends the next
/// call at once finds its place free.
#[derive(Default)]
struct Unanswered(std::sync::Mutex<HashMap<u64, Option<oneshot::Sender<()>>>>);

impl Unanswered {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Option<oneshot::Sender<()>>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Call `id` is about to answer.
    fn answered(&self, id: u64) {
        self.lock().remove(&id);
    }
}

/// Serves a session (after its `session` request) until the client ends
/// it, it breaks, or the server shuts down.
pub(super) async fn serve(
    ex: Exchange,
    shared: Arc<Shared>,
    identity: Identity,
    mut stop: watch::Receiver<bool>,
) {
    let Exchange { mut input, output } = ex;
    input.reader.expect(Follows::Session);
    let (broken_tx, mut broken) = watch::channel(false);
    let writer = Arc::new(Writer {
        send: Mutex::new(output.send),
        timeout: shared.budgets.frame_timeout,
        broken: broken_tx,
    });
    let mut calls = JoinSet::new();
    let unanswered = Arc::new(Unanswered::default());
    // Which call each task runs, for a task that panicked.
    let mut tasks: HashMap<tokio::task::Id, u64> = HashMap::new();
    let mut reading = true;
    let mut draining = *stop.borrow();
    loop {
        // Shutting down: the session ends once its calls have.
        if (!reading || draining) && calls.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some(joined) = calls.join_next_with_id(), if !calls.is_empty() => {
                let task = match &joined {
                    Ok((task, ())) => *task,
                    Err(e) => e.id(),
                };
                if let Some(id) = tasks.remove(&task)
                    && joined.is_err()
                {
                    unanswered.answered(id);
                    let e = CallError::new(ErrorKind::Internal, "the call's task failed");
                    let _ = writer.answer(id, Err(e)).await;
                }
            }
            _ = broken.changed() => {
                calls.abort_all();
                input.stop(codes::CANCELLED);
                tracing::debug!("session ended: the client stopped taking its answers");
                return;
            }
            _ = stop.changed(), if !draining => draining = true,
            inbound = input.next(), if reading => match inbound {
                Ok(Inbound::Session(SessionFrame::Call { id, request, args })) => {
                    let (cancel_tx, cancel_rx) = oneshot::channel();
                    let refused = {
                        let mut waiting = unanswered.lock();
                        if waiting.contains_key(&id) {
                            Some(CallError::new(
                                ErrorKind::BadRequest,
                                format!("call id {id} is still running in this session; use a new id for each call"),
                            ))
                        } else if draining {
                            Some(CallError::new(
                                ErrorKind::Cancelled,
                                "the server is shutting down and takes no new requests; retry once it is back",
                            ))
                        } else if waiting.len() >= MAX_SESSION_CALLS {
                            Some(CallError::new(
                                ErrorKind::Overloaded,
                                format!("this session already runs {MAX_SESSION_CALLS} calls; wait for answers or open another session"),
                            ))
                        } else {
                            waiting.insert(id, Some(cancel_tx));
                            None
                        }
                    };
                    if let Some(e) = refused {
                        // A failed write breaks the session: seen next turn.
                        let _ = writer.answer(id, Err(e)).await;
                        continue;
                    }
                    let call = Call {
                        shared: shared.clone(),
                        identity: identity.clone(),
                        writer: writer.clone(),
                        unanswered: unanswered.clone(),
                        id,
                    };
                    let task = calls.spawn(call.run(request, args, cancel_rx)).id();
                    tasks.insert(task, id);
                }
                Ok(Inbound::Session(SessionFrame::Cancel { id })) => {
                    // The call answers `cancelled` itself, unless it has
                    // answered already: one final frame per call.
                    let cancel = unanswered.lock().get_mut(&id).and_then(Option::take);
                    if let Some(cancel) = cancel {
                        let _ = cancel.send(());
                    }
                }
                // The client finished its side: no more calls.
                Ok(_) => reading = false,
                Err(Stop::Bad(e)) => {
                    tracing::debug!("bad session: {e}");
                    calls.abort_all();
                    input.stop(e.code);
                    writer.fail(e.error).await;
                    finish(&writer).await;
                    return;
                }
                Err(Stop::Gone) => {
                    calls.abort_all();
                    return;
                }
            },
        }
    }
    input.stop(codes::DONE);
    finish(&writer).await;
}

/// Finishes the server's side, and waits (a little) until the client has
/// it all, so a connection closed at shutdown does not cut it off.
async fn finish(writer: &Writer) {
    let mut send = writer.send.lock().await;
    if send.finish().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(5), send.stopped()).await;
    }
}

/// One call of a session.
struct Call {
    shared: Arc<Shared>,
    identity: Identity,
    writer: Arc<Writer>,
    unanswered: Arc<Unanswered>,
    id: u64,
}

impl Call {
    /// Writes the call's final frame (leaving the unanswered first).
    async fn answer(&self, result: Result<Reply, CallError>) -> Result<(), Broken> {
        self.unanswered.answered(self.id);
        self.writer.answer(self.id, result).await
    }

    async fn run(self, request: Request, args: RawValue, mut cancel: oneshot::Receiver<()>) {
        let (shared, identity, writer, id) = (&self.shared, &self.identity, &self.writer, self.id);
        let trace = request.trace();
        let Request::Call {
            node, deadline_ms, ..
        } = request
        else {
            return;
        };
        let started = Instant::now();
        let deadline = deadline_ms.map(|ms| started + Duration::from_millis(ms));
        let admitted = match shared
            .host
            .admit(Origin::Caller(identity), &node, deadline, Wait::No)
            .await
        {
            Ok(admitted) => admitted.with_trace(trace),
            Err(e) => {
                let _ = self.answer(Err(e)).await;
                return;
            }
        };
        if admitted.kind() != NodeKind::Call {
            let kind = admitted.kind().as_str();
            let e = CallError::new(
                ErrorKind::BadRequest,
                format!(
                    "`{node}` is a {kind} node: call it on a stream of its own (a session carries \
                     plain calls only)"
                ),
            )
            .with_details(rmpv::Value::from(kind));
            let _ = self.answer(Err(e)).await;
            return;
        }
        if let Err(e) = shared.check_args(&args) {
            let _ = self.answer(Err(e)).await;
            return;
        }
        let ahead = admitted.ahead();
        let (events_tx, mut events) = mpsc::channel::<CallEvent>(EVENT_BUFFER);
        let io = CallIo {
            events: Some(Arc::new(move |event| {
                let _ = events_tx.try_send(event);
            })),
            stream: None,
        };
        let running = admitted.run_encoded(Args::Encoded(args), io);
        tokio::pin!(running);
        let result = loop {
            tokio::select! {
                biased;
                result = &mut running => break Some(result),
                Some(event) = events.recv() => {
                    if writer.event(id, event).await.is_err() {
                        return;
                    }
                }
                _ = &mut cancel => break None,
            }
        };
        let Some(result) = result else {
            tracing::debug!(node, "call cancelled by the client");
            let e = CallError::new(ErrorKind::Cancelled, "the call was cancelled by the client");
            let _ = self.answer(Err(e)).await;
            return;
        };
        // Events sent before the result go out before it.
        while let Ok(event) = events.try_recv() {
            if writer.event(id, event).await.is_err() {
                return;
            }
        }
        match &result {
            Ok(_) => tracing::debug!(node, elapsed = ?started.elapsed(), "call ok"),
            Err(e) => {
                tracing::debug!(node, elapsed = ?started.elapsed(), kind = %e.kind, "call failed: {}", e.message)
            }
        }
        if self.answer(result).await.is_ok() {
            // Let the connection send the answer first: making an instance
            // does not yield, and the answer must not wait for it.
            tokio::task::yield_now().await;
            ahead.make_ready().await;
        }
    }
}
