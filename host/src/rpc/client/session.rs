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
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::ClientError;
use crate::proto::session::{MAX_SESSION_CALLS, cancel_frame, parse_answer};
use crate::proto::{FrameDecoder, Request, Response, codes, frame_bytes};
use crate::rpc::transport::{read_some, write_encoded};

type Answer = Result<Value, ClientError>;

/// How long a call whose frame could not be written waits for the
/// session's reader to say why the session ended.
const WHY_ENDED: Duration = Duration::from_secs(10);

/// One session on one connection.
pub(super) struct Session {
    connection: Connection,
    send: tokio::sync::Mutex<SendStream>,
    calls: Arc<Calls>,
    /// Places for calls running on the server.
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
    /// Why the session ended, once it has.
    ended: Option<ClientError>,
}

impl Calls {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands call `id` its answer, if it still waits.
    fn deliver(&self, id: u64, answer: Answer) {
        let waiting = self.lock().waiting.remove(&id);
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
    /// The session had ended before the call was written: try another.
    Ended,
}

impl Session {
    /// Opens a session on `connection`; its reader runs until the server
    /// ends it or the connection closes.
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
        tokio::spawn(read_answers(calls.clone(), recv, max_frame));
        Ok(Arc::new(Session {
            connection: connection.clone(),
            send: tokio::sync::Mutex::new(send),
            calls,
            places: Arc::new(Semaphore::new(MAX_SESSION_CALLS)),
        }))
    }

    /// Whether calls can still go out on it.
    pub(super) fn is_usable(&self) -> bool {
        self.connection.close_reason().is_none() && self.calls.lock().ended.is_none()
    }

    /// Sends call `id` (its frame already encoded) and returns its answer
    /// to come.
    pub(super) async fn send(self: &Arc<Self>, id: u64, frame: Bytes) -> Result<Pending, NotSent> {
        let Ok(place) = self.places.clone().acquire_owned().await else {
            return Err(NotSent::Ended);
        };
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.calls.lock();
            if state.ended.is_some() {
                return Err(NotSent::Ended);
            }
            state.waiting.insert(id, (Some(tx), place));
        }
        let pending = Pending {
            session: self.clone(),
            id,
            answer: rx,
            answered: false,
        };
        let written = write_encoded(&mut *self.send.lock().await, frame).await;
        if let Err(e) = written {
            // The server stopped reading (it says why on its side, which
            // the reader passes on) or the connection is gone.
            tracing::debug!("session write failed: {e}");
            let calls = self.calls.clone();
            let connection = self.connection.clone();
            tokio::spawn(async move {
                tokio::time::sleep(WHY_ENDED).await;
                let why = connection
                    .close_reason()
                    .map_or_else(|| e.clone(), |r| r.to_string());
                calls.end(ClientError::ConnectionLost(why));
            });
        }
        Ok(pending)
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
        if !waited {
            return;
        }
        let session = self.session.clone();
        let frame = Bytes::from(cancel_frame(self.id));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = write_encoded(&mut *session.send.lock().await, frame).await;
            });
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Nothing more will be sent: the server answers what runs, then
        // ends the session, which ends the reader.
        if let Ok(mut send) = self.send.try_lock() {
            let _ = send.finish();
        }
    }
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
