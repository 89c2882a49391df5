//! A call in flight on the client: its events and result read through the
//! [`ResponseReader`], a channel's sending half, and a stream's items.

use std::time::Duration;

use futures::FutureExt;

use quinn::{RecvStream, SendStream, VarInt};
use rmpv::Value;

use super::ClientError;
use crate::proto::{
    Answer, CallError, CallEvent, ErrorKind, Request, ResponseReader, codes, frame_bytes,
    input_frame,
};
use crate::rpc::transport::{read_some, write_encoded};

/// Options of one call.
#[derive(Debug, Clone, Default)]
pub struct CallOpts {
    /// How long the caller waits; the server stops the node when it passes
    /// and answers `timeout`.
    pub deadline: Option<Duration>,
    /// Free-form metadata sent with the request.
    pub meta: Option<Value>,
}

impl CallOpts {
    /// The `call` request for `node` with these options.
    pub(super) fn request(self, node: &str, args: Value) -> Request {
        Request::Call {
            node: node.to_owned(),
            args,
            deadline_ms: self
                .deadline
                .map(|d| d.as_millis().min(u64::MAX as u128) as u64),
            meta: self.meta,
        }
    }

    /// When the client stops waiting: the server enforces the deadline, so
    /// the client waits a little longer for its `timeout` answer.
    pub(super) fn give_up(&self) -> Option<tokio::time::Instant> {
        self.deadline
            .map(|d| tokio::time::Instant::now() + d + Duration::from_secs(2))
    }
}

/// A request in flight: its events, then its result.
///
/// Dropping it before the result arrived cancels the request on the server
/// (`STOP_SENDING` with code 1), which interrupts the node.
pub struct CallStream {
    /// Kept open while the call runs (a request's side is finished, a
    /// channel's belongs to its sender).
    _send: Option<SendStream>,
    recv: RecvStream,
    reader: ResponseReader,
    result: Option<Result<Value, ClientError>>,
    done: bool,
    give_up: Option<tokio::time::Instant>,
}

impl CallStream {
    pub(super) fn new(
        send: Option<SendStream>,
        recv: RecvStream,
        max_frame: usize,
        give_up: Option<tokio::time::Instant>,
    ) -> Self {
        CallStream {
            _send: send,
            recv,
            reader: ResponseReader::new(max_frame),
            result: None,
            done: false,
            give_up,
        }
    }

    /// The next event, or `None` once the result has arrived (take it with
    /// [`CallStream::result`]).
    pub async fn next(&mut self) -> Option<CallEvent> {
        loop {
            if self.result.is_some() || self.done {
                return None;
            }
            match self.reader.next_answer() {
                Ok(Some(Answer::Event(event))) => return Some(event),
                Ok(Some(Answer::Final(result))) => {
                    self.result = Some(result.map_err(ClientError::Call));
                    return None;
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = self.recv.stop(VarInt::from_u32(e.code));
                    self.result = Some(Err(ClientError::Protocol(e.error.message)));
                    return None;
                }
            }
            let reader = &mut self.reader;
            let read = read_some(&mut self.recv, |bytes| reader.push(bytes));
            let read = match self.give_up {
                Some(at) => match tokio::time::timeout_at(at, read).await {
                    Ok(read) => read,
                    Err(_) => {
                        self.result = Some(Err(ClientError::Call(CallError::new(
                            ErrorKind::Timeout,
                            "no answer before the deadline",
                        ))));
                        return None;
                    }
                },
                None => read.await,
            };
            match read {
                Ok(true) => {}
                Ok(false) => {
                    let ended = self.reader.end().err().map_or_else(
                        || "the server ended the stream without a result".to_owned(),
                        |e| e.error.message,
                    );
                    self.result = Some(Err(ClientError::Protocol(ended)));
                }
                Err(e) => self.result = Some(Err(ClientError::ConnectionLost(e.to_string()))),
            }
        }
    }

    /// Waits for the result, skipping any remaining events.
    ///
    /// # Errors
    ///
    /// [`ClientError::Call`] with the server's error when the request
    /// failed; the other variants when the transport did.
    pub async fn result(mut self) -> Result<Value, ClientError> {
        while self.next().await.is_some() {}
        self.done = true;
        // The stream's end usually came in the same packet as the final
        // frame: taking it now, without waiting, lets the stream be dropped
        // as read to its end. Dropped unread, quinn would stop it and wake
        // the connection's task for nothing, once per call.
        let reader = &mut self.reader;
        let _ = read_some(&mut self.recv, |bytes| reader.push(bytes)).now_or_never();
        self.result
            .take()
            .unwrap_or_else(|| Err(ClientError::Protocol("no result".into())))
    }

    /// The call's items as a [`futures::Stream`] (see [`super::Client::stream`]).
    pub fn into_items(self) -> ItemStream {
        Box::pin(futures::stream::unfold(Some(self), |state| async move {
            let mut stream = state?;
            while let Some(event) = stream.next().await {
                if let CallEvent::Item(item) = event {
                    return Some((Ok(item), Some(stream)));
                }
            }
            match stream.result().await {
                Ok(_) => None,
                Err(e) => Some((Err(e), None)),
            }
        }))
    }
}

impl Drop for CallStream {
    fn drop(&mut self) {
        if self.result.is_none() && !self.done {
            let _ = self.recv.stop(VarInt::from_u32(codes::CANCELLED));
        }
    }
}

/// The items of a stream call (see [`super::Client::stream`]).
pub type ItemStream = futures::stream::BoxStream<'static, Result<Value, ClientError>>;

/// The sending half of a channel call (see [`super::Client::channel`]).
pub struct ChannelSender {
    pub(super) send: SendStream,
}

impl ChannelSender {
    /// Sends one message to the node. Waits while the node is behind
    /// (QUIC flow control).
    ///
    /// # Errors
    ///
    /// [`ClientError::ConnectionLost`] when the call has ended or the
    /// connection broke.
    pub async fn send(&mut self, message: Value) -> Result<(), ClientError> {
        write_encoded(&mut self.send, frame_bytes(&input_frame(message)).into())
            .await
            .map_err(ClientError::ConnectionLost)
    }

    /// Ends the input: the node's `finish` runs and the call ends.
    pub fn finish(mut self) {
        let _ = self.send.finish();
    }
}
