//! A session: many plain calls over one stream, each with an id (see
//! [`crate::proto::session`] and PROTOCOL.md "Sessions").
//!
//! The session's task reads `call` and `cancel` frames and starts one task
//! per call; each call queues its frames (events, then its one final
//! frame) for the session's writer task, which owns the stream and writes
//! each whole. A client that stops taking frames stalls only its own
//! session: a write waits at most the frame timeout, after which the
//! session's stream is reset with code 8 and its calls cancelled.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quinn::{SendStream, VarInt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::Shared;
use super::stream::{Conn, Exchange, Stop, final_frame};
use crate::host::{Args, CallIo, Identity, Origin, Reply, Wait};
use crate::proto::session::{MAX_SESSION_CALLS, SessionFrame, answer_frame};
use crate::proto::{
    CallError, ErrorKind, Follows, Inbound, NodeKind, RawValue, Request, Response, ResponseWriter,
    codes,
};

/// Frames queued for the session's writer task. Past it, a call's
/// progress and log events are dropped and its answer waits.
const WRITE_QUEUE: usize = 256;

/// Queued frames the writer task takes at once.
const WRITE_BATCH: usize = 64;

/// Bytes of frames written at once, at most (and one frame more).
const WRITE_BYTES: usize = 64 << 10;

/// Frames for the writer task: written whole, in order.
struct Out {
    frames: Vec<u8>,
    /// An answer's value, sent as it is after `frames`.
    tail: Option<Bytes>,
    /// The call whose final frame this is: it leaves the unanswered right
    /// before the frame is written (see [`Unanswered`]).
    answers: Option<u64>,
}

/// How the session's calls reach its writer task, which owns the stream:
/// a write is never cut short by a call that ends meanwhile, so frames
/// never interleave or break off.
#[derive(Clone)]
struct Writer {
    queue: mpsc::Sender<Out>,
}

/// The session is over: nothing more can be written.
struct Broken;

impl Writer {
    async fn write(&self, out: Out) -> Result<(), Broken> {
        self.queue.send(out).await.map_err(|_| Broken)
    }

    /// Queues call `id`'s final frame.
    async fn answer(&self, id: u64, result: Result<Reply, CallError>) -> Result<(), Broken> {
        let (frames, tail) =
            final_frame(&mut ResponseWriter::in_session(id), result).map_err(|_| Broken)?;
        self.write(Out {
            frames,
            tail,
            answers: Some(id),
        })
        .await
    }
}

/// Writes `chunks` (emptying it) within `timeout`; past it the stream is
/// reset with code 8. False when the session is broken.
async fn write_within(send: &mut SendStream, chunks: &mut Vec<Bytes>, timeout: Duration) -> bool {
    if chunks.is_empty() {
        return true;
    }
    let written = tokio::time::timeout(timeout, send.write_all_chunks(chunks)).await;
    chunks.clear();
    match written {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            let _ = send.reset(VarInt::from_u32(codes::TOO_SLOW));
            false
        }
    }
}

/// How the writer task ended its stream.
enum Ending {
    /// Finish it after an error about the session itself (a frame without
    /// `id`, which the client fails every waiting call with), if any.
    Finish(Option<CallError>),
    /// Reset it: the client went away or the session is cancelled.
    Reset,
}

/// The session's writer task: writes what the calls queue, each write
/// bounded by the frame timeout (past it the stream is reset with code 8),
/// until the queue closes; then ends the stream as `ending` says. Returns
/// early (the session is broken) when a write fails or the client stops
/// the stream.
async fn write_frames(
    mut send: SendStream,
    mut queue: mpsc::Receiver<Out>,
    unanswered: Arc<Unanswered>,
    timeout: Duration,
    ending: oneshot::Receiver<Ending>,
) {
    let stopped = send.stopped();
    tokio::pin!(stopped);
    let mut outs = Vec::with_capacity(WRITE_BATCH);
    let mut chunks = Vec::with_capacity(2 * WRITE_BATCH);
    loop {
        // What has queued up goes out in as few writes as it fits in: each
        // write takes the connection's lock and wakes its driver.
        let got = tokio::select! {
            biased;
            got = queue.recv_many(&mut outs, WRITE_BATCH) => got,
            _ = &mut stopped => return,
        };
        if got == 0 {
            break;
        }
        let mut size = 0;
        for out in outs.drain(..) {
            if let Some(id) = out.answers {
                unanswered.answered(id);
            }
            size += out.frames.len() + out.tail.as_ref().map_or(0, Bytes::len);
            chunks.push(Bytes::from(out.frames));
            chunks.extend(out.tail);
            // Each write is bounded by the frame timeout, so it holds
            // little more than one frame.
            if size >= WRITE_BYTES {
                if !write_within(&mut send, &mut chunks, timeout).await {
                    return;
                }
                size = 0;
            }
        }
        if !write_within(&mut send, &mut chunks, timeout).await {
            return;
        }
    }
    match ending.await {
        Ok(Ending::Finish(error)) => {
            if let Some(error) = error {
                let mut frames = Vec::new();
                answer_frame(None, Response::Err(error), &mut frames);
                if !write_within(&mut send, &mut vec![frames.into()], timeout).await {
                    return;
                }
            }
            if send.finish().is_ok() {
                // Until the client has it all, so a connection closed at
                // shutdown does not cut it off.
                let _ = tokio::time::timeout(Duration::from_secs(5), stopped).await;
            }
        }
        Ok(Ending::Reset) | Err(_) => {
            let _ = send.reset(VarInt::from_u32(codes::CANCELLED));
        }
    }
}

/// The session's calls that have not answered yet, by id, with how to
/// cancel each (taken once used). A call leaves it when the writer task
/// takes its final frame, right before writing it: a client that gets an
/// answer and sends its next call at once finds the place free, and an
/// answer waiting to be written still counts against the session's cap and
/// the connection's.
struct Unanswered {
    calls: std::sync::Mutex<HashMap<u64, Option<oneshot::Sender<()>>>>,
    /// The connection's count of unanswered session calls, across its
    /// sessions.
    conn: Arc<Conn>,
}

/// Why a call was not taken.
enum Refusal {
    /// Its id is still running: the session is malformed.
    Duplicate,
    /// Answer it with this error.
    Answer(CallError),
}

impl Unanswered {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Option<oneshot::Sender<()>>>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes call `id` if the session and the connection have room.
    fn take(&self, id: u64, cancel: oneshot::Sender<()>) -> Result<(), Refusal> {
        let mut calls = self.lock();
        if calls.contains_key(&id) {
            return Err(Refusal::Duplicate);
        }
        if calls.len() >= MAX_SESSION_CALLS {
            return Err(Refusal::Answer(CallError::new(
                ErrorKind::Overloaded,
                format!(
                    "this session already runs {MAX_SESSION_CALLS} calls; wait for answers or \
                     open another session"
                ),
            )));
        }
        let counted =
            self.conn
                .session_calls
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < MAX_CONNECTION_CALLS).then_some(n + 1)
                });
        if counted.is_err() {
            return Err(Refusal::Answer(CallError::new(
                ErrorKind::Overloaded,
                format!(
                    "this connection already runs {MAX_CONNECTION_CALLS} calls in sessions; wait \
                     for answers"
                ),
            )));
        }
        calls.insert(id, Some(cancel));
        Ok(())
    }

    /// Call `id` is answered.
    fn answered(&self, id: u64) {
        if self.lock().remove(&id).is_some() {
            self.conn.session_calls.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        let left = self.lock().len();
        self.conn.session_calls.fetch_sub(left, Ordering::AcqRel);
    }
}

/// The most unanswered session calls one connection may have, across its
/// sessions: what a stream per call allowed (QUIC's stream limit), so
/// answers waiting for a slow reader cannot pile up beyond it.
const MAX_CONNECTION_CALLS: usize = crate::rpc::transport::MAX_STREAMS as usize;

/// Serves a session (after its `session` request) until the client ends
/// it, it breaks, or the server shuts down.
pub(super) async fn serve(ex: Exchange, shared: Arc<Shared>, identity: Identity, conn: Arc<Conn>) {
    let mut stop = conn.stop.clone();
    let Exchange { mut input, output } = ex;
    input.reader.expect(Follows::Session);
    let unanswered = Arc::new(Unanswered {
        calls: std::sync::Mutex::default(),
        conn,
    });
    let (queue, queued) = mpsc::channel(WRITE_QUEUE);
    let (ending, ends) = oneshot::channel();
    let mut writing = AbortOnDrop(tokio::spawn(write_frames(
        output.send,
        queued,
        unanswered.clone(),
        shared.budgets.frame_timeout,
        ends,
    )));
    let writer = Writer { queue };
    let mut calls = JoinSet::new();
    // Which call each task runs and whether it has answered, for a task
    // that panicked.
    let mut tasks: HashMap<tokio::task::Id, (u64, Arc<AtomicBool>)> = HashMap::new();
    let mut reading = true;
    let mut draining = *stop.borrow();
    let end = loop {
        // Shutting down: the session ends once its calls have.
        if (!reading || draining) && calls.is_empty() {
            break if draining {
                Ending::Finish(Some(CallError::new(
                    ErrorKind::Cancelled,
                    "the server is shutting down: calls it had not read are not run; retry \
                     once it is back",
                )))
            } else {
                Ending::Finish(None)
            };
        }
        tokio::select! {
            biased;
            Some(joined) = calls.join_next_with_id(), if !calls.is_empty() => {
                let task = match &joined {
                    Ok((task, ())) => *task,
                    Err(e) => e.id(),
                };
                if let Some((id, answered)) = tasks.remove(&task)
                    && joined.is_err()
                    && !answered.load(Ordering::Acquire)
                {
                    let e = CallError::new(ErrorKind::Internal, "the call's task failed");
                    let _ = writer.answer(id, Err(e)).await;
                }
            }
            // The writer stopped early: a write failed, timed out, or the
            // client stopped the session.
            _ = &mut writing.0 => {
                tracing::debug!("session ended: the client does not take its answers");
                calls.abort_all();
                input.stop(codes::CANCELLED);
                return;
            }
            _ = stop.changed(), if !draining => draining = true,
            inbound = input.next(), if reading => match inbound {
                Ok(Inbound::Session(SessionFrame::Call { id, request, args })) => {
                    let (cancel_tx, cancel_rx) = oneshot::channel();
                    let refused = if draining {
                        Some(CallError::new(
                            ErrorKind::Cancelled,
                            "the server is shutting down and takes no new requests; retry once it is back",
                        ))
                    } else {
                        match unanswered.take(id, cancel_tx) {
                            Ok(()) => None,
                            Err(Refusal::Answer(e)) => Some(e),
                            Err(Refusal::Duplicate) => {
                                input.stop(codes::MALFORMED);
                                break Ending::Finish(Some(CallError::new(
                                    ErrorKind::BadRequest,
                                    format!(
                                        "call id {id} was sent again while it still runs; a session \
                                         needs a new id for each call"
                                    ),
                                )));
                            }
                        }
                    };
                    if let Some(e) = refused {
                        // Waits while the writer is behind: the client's
                        // frames are not read meanwhile. A broken writer
                        // is seen next turn.
                        let mut frames = Vec::new();
                        answer_frame(Some(id), Response::Err(e), &mut frames);
                        let _ = writer.write(Out { frames, tail: None, answers: None }).await;
                        continue;
                    }
                    let answered = Arc::new(AtomicBool::new(false));
                    let call = Call {
                        shared: shared.clone(),
                        identity: identity.clone(),
                        writer: writer.clone(),
                        answered: answered.clone(),
                        id,
                    };
                    let task = calls.spawn(call.run(request, args, cancel_rx)).id();
                    tasks.insert(task, (id, answered));
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
                    input.stop(e.code);
                    break Ending::Finish(Some(e.error));
                }
                Err(Stop::Gone) => break Ending::Reset,
            },
        }
    };
    // Calls still running (a session ended early) are cancelled; their
    // frames already queued are written first.
    calls.abort_all();
    while calls.join_next().await.is_some() {}
    let finished = matches!(end, Ending::Finish(_));
    drop(writer);
    let _ = ending.send(end);
    let _ = (&mut writing.0).await;
    // After the last frame (a stopped client write cannot race it).
    if finished {
        input.stop(codes::DONE);
    }
}

/// Aborts a task when dropped (the session's writer, if the session's own
/// task is aborted at the end of shutdown's grace period).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One call of a session.
struct Call {
    shared: Arc<Shared>,
    identity: Identity,
    writer: Writer,
    /// Set once its final frame is queued.
    answered: Arc<AtomicBool>,
    id: u64,
}

impl Call {
    /// Queues the call's final frame.
    async fn answer(&self, result: Result<Reply, CallError>) -> Result<(), Broken> {
        self.answered.store(true, Ordering::Release);
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
        // Events go straight to the writer's queue as frames, dropped when
        // it is full (progress and log are best-effort): they precede the
        // final frame, which is queued after the node returns.
        let queue = writer.queue.clone();
        let io = CallIo {
            events: Some(Arc::new(move |event| {
                let mut frames = Vec::new();
                answer_frame(Some(id), Response::Event(event), &mut frames);
                let _ = queue.try_send(Out {
                    frames,
                    tail: None,
                    answers: None,
                });
            })),
            stream: None,
        };
        // The node runs in this block: cancelled, it has stopped before
        // the answer is queued.
        let result = {
            let running = admitted.run_encoded(Args::Encoded(args), io);
            tokio::pin!(running);
            tokio::select! {
                biased;
                result = &mut running => Some(result),
                _ = &mut cancel => None,
            }
        };
        let Some(result) = result else {
            tracing::debug!(node, "call cancelled by the client");
            let e = CallError::new(ErrorKind::Cancelled, "the call was cancelled by the client");
            let _ = self.answer(Err(e)).await;
            return;
        };
        match &result {
            Ok(_) => tracing::debug!(node, elapsed = ?started.elapsed(), "call ok"),
            Err(e) => {
                tracing::debug!(node, elapsed = ?started.elapsed(), kind = %e.kind, "call failed: {}", e.message)
            }
        }
        if self.answer(result).await.is_ok() {
            // Let the writer send the answer first: making an instance
            // does not yield, and the answer must not wait for it.
            tokio::task::yield_now().await;
            ahead.make_ready().await;
        }
    }
}
