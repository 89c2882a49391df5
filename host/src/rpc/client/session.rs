//! Plain calls over one session per connection (see
//! [`crate::proto::session`]): each call writes its frame on the session's
//! stream and waits for the answer the session's reader hands it by id.
//! Dropping a call before its answer sends a `cancel` frame. At most
//! [`MAX_SESSION_CALLS`] calls run on a session at once (a call counts
//! until the server's final frame for it arrives, cancelled or not); more
//! wait for a place, as streams past QUIC's limit would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, RecvStream, SendStream, VarInt};
use rmpv::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::ClientError;
use crate::proto::session::{MAX_SESSION_CALLS, cancel_frame, parse_answer};
use crate::proto::{FrameDecoder, Request, Response, codes, frame_bytes};
use crate::rpc::transport::{read_some, write_encoded};

type Answer = Result<Value, ClientError>;

/// How long calls wait, after the session's frames could no longer be
/// written, for the session's reader to say why it ended.
const WHY_ENDED: Duration = Duration::from_secs(10);

/// Frames the writer task takes at once.
const WRITE_BATCH: usize = 64;

/// One session on one connection.
pub(super) struct Session {
    connection: Connection,
    /// To the writer task, which owns the stream: a frame handed over is
    /// written whole even if its call is dropped meanwhile.
    frames: mpsc::UnboundedSender<Bytes>,
    calls: Arc<Calls>,
    /// Places for calls running on the server (each holds its frame, so
    /// they also bound what the writer's queue holds).
    places: Arc<Semaphore>,
}

/// The calls waiting for their answers, shared with the session's reader.
#[derive(Default)]
struct Calls {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By id: where the answer goes (none once the caller gave up) and the
    /// call's place, given back with its final frame.
    waiting: HashMap<u64, (Option<oneshot::Sender<Answer>>, OwnedSemaphorePermit)>,
    /// No more calls go out on it (its frames could not be written).
    closing: bool,
    /// A frame for one of its calls has arrived.
    heard: bool,
    /// Why the session ended, once it has.
    ended: Option<ClientError>,
}

impl Calls {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands call `id` its answer, if it still waits.
    fn deliver(&self, id: u64, answer: Answer) {
        let waiting = {
            let mut state = self.lock();
            state.heard = true;
            state.waiting.remove(&id)
        };
        if let Some((Some(tx), _place)) = waiting {
            let _ = tx.send(answer);
        }
    }

    /// Ends the session: every call still waiting fails with `why`.
    fn end(&self, why: ClientError) {
        let waiting = {
            let mut state = self.lock();
            state.ended.get_or_insert(why.clone());
            std::mem::take(&mut state.waiting)
        };
        for (tx, _place) in waiting.into_values() {
            if let Some(tx) = tx {
                let _ = tx.send(Err(why.clone()));
            }
        }
    }
}

/// Why a call did not go out on a session.
pub(super) enum NotSent {
    /// The session had ended (or could no longer write) before the call
    /// was sent: try another. Why it ended, if known.
    Ended(Option<ClientError>),
}

impl Session {
    /// Opens a session on `connection`; its reader runs until the server
    /// ends it or the connection closes, its writer until it is dropped.
    pub(super) async fn open(
        connection: &Connection,
        max_frame: usize,
    ) -> Result<Arc<Session>, ClientError> {
        let (mut send, recv) = connection
            .open_bi()
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))?;
        write_encoded(
            &mut send,
            frame_bytes(&Request::Session.into_value()).into(),
        )
        .await
        .map_err(ClientError::ConnectionLost)?;
        let calls = Arc::new(Calls::default());
        let (frames, queued) = mpsc::unbounded_channel();
        tokio::spawn(read_answers(calls.clone(), recv, max_frame));
        tokio::spawn(write_frames(send, queued, calls.clone()));
        Ok(Arc::new(Session {
            connection: connection.clone(),
            frames,
            calls,
            places: Arc::new(Semaphore::new(MAX_SESSION_CALLS)),
        }))
    }

    /// Whether the server refused the session itself (`bad-request`
    /// before any answer: a server that predates sessions).
    pub(super) fn was_refused(&self) -> bool {
        let state = self.calls.lock();
        !state.heard
            && matches!(&state.ended, Some(ClientError::Call(e)) if e.kind == crate::proto::ErrorKind::BadRequest)
    }

    /// Whether calls can still go out on it.
    pub(super) fn is_usable(&self) -> bool {
        let state = self.calls.lock();
        self.connection.close_reason().is_none() && !state.closing && state.ended.is_none()
    }

    /// Sends call `id` (its frame already encoded) and returns its answer
    /// to come; waits for a place while the session runs its maximum.
    pub(super) async fn send(self: &Arc<Self>, id: u64, frame: Bytes) -> Result<Pending, NotSent> {
        let ended = |state: &State| NotSent::Ended(state.ended.clone());
        let Ok(place) = self.places.clone().acquire_owned().await else {
            return Err(ended(&self.calls.lock()));
        };
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.calls.lock();
            if state.closing || state.ended.is_some() {
                return Err(ended(&state));
            }
            state.waiting.insert(id, (Some(tx), place));
        }
        if self.frames.send(frame).is_err() {
            let mut state = self.calls.lock();
            state.waiting.remove(&id);
            return Err(ended(&state));
        }
        Ok(Pending {
            session: self.clone(),
            id,
            answer: rx,
            answered: false,
        })
    }
}

/// A call sent on a session, waiting for its answer. Dropping it first
/// cancels the call.
pub(super) struct Pending {
    session: Arc<Session>,
    id: u64,
    answer: oneshot::Receiver<Answer>,
    answered: bool,
}

impl Pending {
    /// Its answer.
    pub(super) async fn answer(mut self) -> Answer {
        let answer = (&mut self.answer).await;
        self.answered = true;
        answer.unwrap_or_else(|_| {
            Err(ClientError::ConnectionLost(
                "the session ended without an answer".into(),
            ))
        })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        // The call keeps its place until the server's final frame for it.
        let waited = match self.session.calls.lock().waiting.get_mut(&self.id) {
            Some((tx, _place)) => tx.take().is_some(),
            None => false,
        };
        if waited {
            let _ = self.session.frames.send(Bytes::from(cancel_frame(self.id)));
        }
    }
}

/// Writes the frames calls hand over, whole and in order, until the
/// session is dropped (then finishes the stream). When a write fails, no
/// more calls go out on the session, and the calls waiting fail with the
/// reader's reason, or after [`WHY_ENDED`] with the write's.
async fn write_frames(
    mut send: SendStream,
    mut queued: mpsc::UnboundedReceiver<Bytes>,
    calls: Arc<Calls>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while queued.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        if let Err(e) = send.write_all_chunks(&mut batch).await {
            tracing::debug!("session write failed: {e}");
            calls.lock().closing = true;
            tokio::time::sleep(WHY_ENDED).await;
            calls.end(ClientError::ConnectionLost(e.to_string()));
            return;
        }
        batch.clear();
    }
    let _ = send.finish();
}

/// Reads the session's frames and hands each call its answer, until the
/// session ends; then fails the calls still waiting with why.
async fn read_answers(calls: Arc<Calls>, mut recv: RecvStream, max_frame: usize) {
    let mut decoder = FrameDecoder::new(max_frame);
    let why = 'read: loop {
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    let _ = recv.stop(VarInt::from_u32(codes::MALFORMED));
                    break 'read ClientError::Protocol(e.to_string());
                }
            };
            match parse_answer(frame) {
                Ok((Some(id), Response::Ok(value))) => calls.deliver(id, Ok(value)),
                Ok((Some(id), Response::Err(e))) => calls.deliver(id, Err(ClientError::Call(e))),
                // Plain calls through a session do not look at events.
                Ok((Some(_), Response::Event(_))) => {}
                Ok((None, Response::Err(e))) => break 'read ClientError::Call(e),
                Ok((None, _)) => {
                    break 'read ClientError::Protocol(
                        "the server sent a session frame without an `id`".into(),
                    );
                }
                Err(e) => {
                    let _ = recv.stop(VarInt::from_u32(codes::MALFORMED));
                    break 'read ClientError::Protocol(e.0);
                }
            }
        }
        match read_some(&mut recv, |bytes| decoder.push(bytes)).await {
            Ok(true) => {}
            Ok(false) => {
                break ClientError::ConnectionLost(
                    "the server ended the session before answering".into(),
                );
            }
            Err(e) => break ClientError::ConnectionLost(e.to_string()),
        }
    };
    calls.end(why);
}
