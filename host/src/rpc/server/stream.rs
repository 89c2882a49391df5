//! One request stream: read the request through the [`RequestReader`],
//! hand it to the host service, write the answer through the
//! [`ResponseWriter`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quinn::{RecvStream, SendStream, VarInt};
use rmpv::Value;

use super::Shared;
use super::budget::{ByteBudget, Exhausted, Held};
use crate::host::{Ahead, Identity, Reply};
use crate::proto::{
    AfterFinal, CallError, CallEvent, ErrorKind, Inbound, Request, RequestReader, ResponseWriter,
    StreamError, caller_value, codes, encode_frame,
};
use crate::rpc::transport::{self, read_some, write_encoded};

/// What the server knows about one connection.
pub(super) struct Conn {
    /// Who is calling; replaced by a successful `hello`.
    pub(super) identity: RwLock<Identity>,
    /// The connection, to open up its stream limit after `hello`.
    pub(super) connection: quinn::Connection,
    /// Its bytes of unfinished frames.
    pub(super) buffered: Arc<ByteBudget>,
    /// Its blob uploads in progress.
    pub(super) uploads: std::sync::atomic::AtomicUsize,
    /// Its place among the connections without a caller token, until a
    /// successful `hello`.
    pub(super) place: std::sync::Mutex<Option<super::tokenless::Place>>,
    /// Becomes `true` when the server starts shutting down.
    pub(super) stop: tokio::sync::watch::Receiver<bool>,
    /// Its session calls without a final frame yet, across its sessions.
    pub(super) session_calls: std::sync::atomic::AtomicUsize,
}

/// One upload in progress on a connection; given back when dropped.
pub(super) struct ConnUpload<'c>(&'c Conn);

impl Drop for ConnUpload<'_> {
    fn drop(&mut self) {
        self.0
            .uploads
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Conn {
    /// Counts an upload on this connection, if fewer than `max` are in
    /// progress.
    pub(super) fn upload_slot(&self, max: usize) -> Option<ConnUpload<'_>> {
        use std::sync::atomic::Ordering;
        self.uploads
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnUpload(self))
    }

    fn identity(&self) -> Identity {
        self.identity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Why a stream's reading stopped.
pub(super) enum Stop {
    /// The client sent something malformed or too large: stop it with the
    /// code and answer with the error.
    Bad(StreamError),
    /// The stream or connection is gone.
    Gone,
}

/// The reading half of a request stream: the client's bytes through the
/// [`RequestReader`], held against the byte budgets, with a deadline for
/// each frame.
pub(super) struct Input {
    pub(super) recv: RecvStream,
    pub(super) reader: RequestReader,
    /// What this stream holds of the budgets.
    held: Held,
    /// How long a frame may take once it started.
    frame_timeout: Duration,
    /// When the frame being received started: when its first bytes
    /// arrived, or the previous frame was taken with bytes of it already
    /// in (and, until the request has arrived, when the stream opened).
    started: Instant,
}

impl Input {
    /// The next thing the client sent.
    pub(super) async fn next(&mut self) -> Result<Inbound, Stop> {
        loop {
            if let Some(inbound) = self.reader.next_inbound().map_err(Stop::Bad)? {
                // Whatever is left belongs to the next frame, starting now.
                self.started = Instant::now();
                self.account()?;
                return Ok(inbound);
            }
            // A frame under way (or the request, until it has come) must
            // arrive in time; between frames a channel may wait for input.
            let partial = self.reader.buffered() > 0 || !self.reader.has_request();
            let reader = &mut self.reader;
            let read = read_some(&mut self.recv, |bytes| reader.push(bytes));
            let read = if partial {
                let until = tokio::time::Instant::from_std(self.started + self.frame_timeout);
                match tokio::time::timeout_at(until, read).await {
                    Ok(read) => read,
                    Err(_) => return Err(Stop::Bad(too_slow(self.frame_timeout))),
                }
            } else {
                let read = read.await;
                // The next frame starts with the bytes that just came.
                self.started = Instant::now();
                read
            };
            match read {
                Ok(true) => self.account()?,
                Ok(false) => return self.reader.end().map_err(Stop::Bad),
                Err(_) => return Err(Stop::Gone),
            }
        }
    }

    /// Holds what is buffered now against the budgets.
    fn account(&mut self) -> Result<(), Stop> {
        self.held.resize(self.reader.held()).map_err(|which| {
            let whose = match which {
                Exhausted::Connection => "this connection's",
                Exhausted::Server => "the server's",
            };
            Stop::Bad(StreamError {
                code: codes::OVER_BUDGET,
                error: CallError::new(
                    ErrorKind::Overloaded,
                    format!(
                        "the server holds all it allows of {whose} unfinished frames; send \
                         fewer or smaller frames at once, or retry later"
                    ),
                ),
            })
        })
    }

    /// Stops reading with `code` (nothing more is read from the client)
    /// and lets go of what was buffered.
    pub(super) fn stop(&mut self, code: u32) {
        let _ = self.recv.stop(VarInt::from_u32(code));
        self.release();
    }

    /// Lets go of what was buffered and of its share of the budgets, for
    /// good: nothing more is taken from the stream.
    pub(super) fn release(&mut self) {
        self.reader.discard();
        let _ = self.held.resize(0);
    }
}

fn too_slow(timeout: Duration) -> StreamError {
    StreamError {
        code: codes::TOO_SLOW,
        error: CallError::new(
            ErrorKind::Timeout,
            format!(
                "a frame did not arrive within {} of its start (or of the stream's)",
                crate::text::duration_text(timeout)
            ),
        ),
    }
}

/// The writing half of a request stream: frames through the
/// [`ResponseWriter`], so nothing follows the final frame.
pub(super) struct Output {
    pub(super) send: SendStream,
    writer: ResponseWriter,
    /// How long the client may take to take the final frame.
    final_timeout: Duration,
}

/// The client is gone: nothing more can be written.
pub(super) struct Gone;

impl Output {
    /// Writes one event frame.
    pub(super) async fn event(&mut self, event: CallEvent) -> Result<(), Gone> {
        let mut out = Vec::new();
        self.writer.event(event, &mut out).map_err(|_| Gone)?;
        write_encoded(&mut self.send, out.into())
            .await
            .map_err(|_| Gone)
    }

    /// Writes the final frame and finishes the stream.
    ///
    /// A client that does not take it within the frame timeout has the
    /// stream reset with code 8: it cannot hold the answer (and the stream)
    /// for as long as it likes.
    pub(super) async fn finish(&mut self, result: Result<Reply, CallError>) -> Result<(), Gone> {
        let (out, bytes) = final_frame(&mut self.writer, result).map_err(|_| Gone)?;
        let send = &mut self.send;
        let write = async move {
            write_encoded(send, out.into()).await?;
            match bytes {
                Some(bytes) => write_encoded(send, bytes).await,
                None => Ok(()),
            }
        };
        match tokio::time::timeout(self.final_timeout, write).await {
            Ok(written) => written.map_err(|_| Gone)?,
            Err(_) => {
                let _ = self.send.reset(VarInt::from_u32(codes::TOO_SLOW));
                return Err(Gone);
            }
        }
        self.send.finish().map_err(|_| Gone)
    }

    /// Ends a cancelled request: resets the sending side with code 1 and
    /// writes no final frame.
    pub(super) fn cancel(&mut self) {
        let _ = self.send.reset(VarInt::from_u32(codes::CANCELLED));
    }
}

/// The final frame of `result` through `writer` (a stream's, or a session
/// call's): the frame's bytes, and an answer already encoded, to be sent
/// after them as it is (not copied into the frame).
pub(super) fn final_frame(
    writer: &mut ResponseWriter,
    result: Result<Reply, CallError>,
) -> Result<(Vec<u8>, Option<Bytes>), AfterFinal> {
    let mut out = Vec::new();
    let tail = match result {
        Ok(Reply::Encoded(value)) => {
            writer.finish_encoded(value.len(), &mut out)?;
            Some(value)
        }
        Ok(Reply::Bin(bin)) => {
            writer.finish_bin(bin.len(), &mut out)?;
            Some(bin)
        }
        Ok(Reply::Value(value)) => {
            writer.finish(Ok(value), &mut out)?;
            None
        }
        Err(e) => {
            writer.finish(Err(e), &mut out)?;
            None
        }
    };
    Ok((out, tail.map(Bytes::from)))
}

/// Both halves of one request stream.
pub(super) struct Exchange {
    pub(super) input: Input,
    pub(super) output: Output,
}

/// How a request ended, for what the stream does afterwards.
pub(super) enum Outcome {
    /// Answer with this final frame.
    Answer(Result<Value, CallError>),
    /// A call's answer; afterwards the plugin makes an instance ahead.
    Called(Result<Reply, CallError>, Ahead),
    /// Already finished or reset (cancelled, or the client went away).
    Done,
}

pub(super) async fn serve_stream(
    send: SendStream,
    recv: RecvStream,
    shared: Arc<Shared>,
    conn: Arc<Conn>,
) {
    let identity = conn.identity();
    // Until its caller has said who it is, a connection to a host with
    // access control may send only small frames.
    let before_hello = matches!(identity, Identity::Anonymous(_));
    let max_frame = if before_hello {
        shared.budgets.frame_before_hello.min(shared.max_frame)
    } else {
        shared.max_frame
    };
    let mut ex = Exchange {
        input: Input {
            recv,
            reader: RequestReader::new(max_frame),
            held: Held::new(
                conn.buffered.clone(),
                if before_hello {
                    shared.buffered_before_hello.clone()
                } else {
                    shared.buffered.clone()
                },
            ),
            frame_timeout: shared.budgets.frame_timeout,
            started: Instant::now(),
        },
        output: Output {
            send,
            writer: ResponseWriter::new(),
            final_timeout: shared.budgets.frame_timeout,
        },
    };
    let (request, args) = match ex.input.next().await {
        Ok(Inbound::Request(request, args)) => (request, args),
        // The reader yields the request first or fails.
        Ok(_) | Err(Stop::Gone) => return,
        Err(Stop::Bad(mut e)) => {
            tracing::debug!("bad request stream: {e}");
            if before_hello && e.code == codes::FRAME_TOO_LARGE {
                e.error
                    .message
                    .push_str(" (before a connection's caller has identified itself with `hello`)");
            }
            ex.input.stop(e.code);
            let _ = ex.output.finish(Err(e.error)).await;
            return;
        }
    };
    if request == Request::Session {
        super::session::serve(ex, shared.clone(), identity, conn.clone()).await;
        return;
    }
    let host = &shared.host;
    let outcome = match request {
        Request::Hello { token } => Outcome::Answer(host.identify(&token).map(|who| {
            let answer = caller_value(who.name());
            *conn.identity.write().unwrap_or_else(|e| e.into_inner()) = who;
            // A known caller gets the full limits, and its place among the
            // tokenless connections goes back.
            conn.connection
                .set_max_concurrent_bi_streams(VarInt::from_u32(transport::MAX_STREAMS));
            conn.connection
                .set_receive_window(VarInt::from_u32(transport::RECEIVE_WINDOW));
            conn.place.lock().unwrap_or_else(|e| e.into_inner()).take();
            answer
        })),
        Request::Catalog => Outcome::Answer(Ok(Value::Array(
            host.catalog(&identity)
                .iter()
                .map(|n| n.to_value())
                .collect(),
        ))),
        Request::Describe { node } => {
            Outcome::Answer(host.describe(&identity, &node).map(|n| n.to_value()))
        }
        Request::Status => Outcome::Answer(host.status(&identity).map(|s| s.to_value())),
        Request::Call {
            ref node,
            deadline_ms,
            ..
        } => {
            let trace = request.trace();
            super::call::call(&mut ex, &shared, &identity, node, args, deadline_ms, trace).await
        }
        Request::BlobPut { size } => {
            super::blobs::put(&mut ex, &shared, &identity, size, &conn).await
        }
        Request::BlobGet { reference } => {
            super::blobs::get(&mut ex, &shared, &identity, &reference).await
        }
        Request::Submit { node, callback, .. } => {
            // Who may submit is checked before the arguments are decoded.
            let submitted = match host
                .check_job(&identity, &node)
                .and_then(|()| shared.decode_args(&args))
            {
                Ok(args) => host.submit(&identity, &node, args, callback).await,
                Err(e) => Err(e),
            };
            Outcome::Answer(submitted.map(|job| job.to_value()))
        }
        Request::Job { id, wait_ms, keep } => {
            let wait = wait_ms.map(Duration::from_millis);
            let job = host.job(&identity, &id, wait, keep);
            // A client that gives up on the wait stops the stream.
            tokio::select! {
                job = job => Outcome::Answer(job.map(|j| j.to_value())),
                _ = ex.output.send.stopped() => Outcome::Done,
            }
        }
        Request::Cancel { id } => {
            Outcome::Answer(host.cancel(&identity, &id).await.map(|j| j.to_value()))
        }
        Request::Session => Outcome::Done,
    };
    let (result, ran) = match outcome {
        Outcome::Done => return,
        Outcome::Answer(result) => (result.map(Reply::Value), None),
        Outcome::Called(result, plugin) => (result, Some(plugin)),
    };
    // Nothing more is taken from the client: what it sent is let go
    // before the answer goes out, however long that takes.
    ex.input.release();
    if ex.output.finish(result).await.is_err() {
        ex.input.stop(codes::DONE);
        return;
    }
    // The answer is complete: nothing more is read from the client.
    ex.input.stop(codes::DONE);
    if let Some(plugin) = ran {
        // Let the connection send the answer first: making an instance
        // does not yield, and the answer must not wait for it.
        tokio::task::yield_now().await;
        plugin.make_ready().await;
    }
    // Wait until the client has the whole answer, so a connection closed
    // at shutdown does not cut it off.
    let _ = tokio::time::timeout(Duration::from_secs(5), ex.output.send.stopped()).await;
}

/// Answers a stream opened while the server shuts down: `cancelled`, and
/// nothing is read.
pub(super) async fn refuse_stream(mut send: SendStream, mut recv: RecvStream) {
    let _ = recv.stop(VarInt::from_u32(codes::DONE));
    let mut out = Vec::new();
    let error = CallError::new(
        ErrorKind::Cancelled,
        "the server is shutting down and takes no new requests; retry once it is back",
    );
    encode_frame(&crate::proto::Response::Err(error).into_value(), &mut out);
    if write_encoded(&mut send, out.into()).await.is_ok() {
        let _ = send.finish();
        let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
    }
}
