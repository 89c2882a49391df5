//! The Rust client: calls over one QUIC connection, many at once, with
//! progress and log events, deadlines, cancellation by dropping, and
//! reconnection after the server restarts.
//!
//! - this module: [`Client`], connecting and reconnecting, and the requests
//!   that return one record (catalog, describe, status, jobs);
//! - `call`: [`CallStream`] (a request in flight, read through the
//!   protocol's sans-IO reader), [`ChannelSender`], [`ItemStream`];
//! - `blobs`: uploads and downloads in chunks.

mod blobs;
mod call;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use rmpv::Value;
use tokio::sync::Mutex;

use super::tls::{self, Trust};
use super::transport::{self, write_encoded};
use crate::proto::{
    CallError, DEFAULT_MAX_FRAME_BYTES, ErrorKind, JobInfo, NodeInfo, Request, ServerStatus,
    frame_bytes, parse_caller,
};
use session::{NotSent, Session};

pub use crate::proto::BlobInfo;
pub use crate::proto::CallEvent as Event;
pub use call::{CallOpts, CallStream, ChannelSender, ItemStream};

/// Why a request through the client failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or the TLS handshake failed.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The connection broke while the request was in flight.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// The server answered with something that is not this protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The request reached the server and failed there.
    #[error("{0}")]
    Call(CallError),
}

impl ClientError {
    /// A short kind for scripts: the [`crate::ErrorKind`] of a failed call, else
    /// `connect`, `connection-lost` or `protocol`.
    pub fn kind(&self) -> &str {
        match self {
            ClientError::Connect { .. } => "connect",
            ClientError::ConnectionLost(_) => "connection-lost",
            ClientError::Protocol(_) => "protocol",
            ClientError::Call(e) => e.kind.as_str(),
        }
    }

    /// The message without the kind.
    pub fn message(&self) -> String {
        match self {
            ClientError::Call(e) => e.message.clone(),
            other => other.to_string(),
        }
    }
}

/// Options of a connection.
#[derive(Debug, Clone, Default)]
pub struct ConnectOpts {
    /// The caller's token, presented in a `hello` request on every
    /// (re)connection. Servers with an access config need it for anything
    /// their anonymous callers may not do.
    pub token: Option<String>,
    /// Give every call a stream of its own instead of sending plain calls
    /// ([`Client::call`], [`Client::call_opts`]) over one session per
    /// connection (PROTOCOL.md "Sessions"). A session costs both ends less
    /// per call; its calls share one stream, so a big argument delays the
    /// calls sent after it.
    pub stream_per_call: bool,
}

/// Opens a stream on `connection` and sends `request` on it, leaving the
/// sending side open (for what follows the request, or to finish it).
async fn start(
    connection: &Connection,
    request: Request,
) -> Result<(SendStream, RecvStream), ClientError> {
    let (mut send, recv) = connection
        .open_bi()
        .await
        .map_err(|e| ClientError::ConnectionLost(e.to_string()))?;
    write_encoded(&mut send, frame_bytes(&request.into_value()).into())
        .await
        .map_err(ClientError::ConnectionLost)?;
    Ok((send, recv))
}

/// Whether a session refused a call because the node is a stream or
/// channel node, which runs on a stream of its own: `bad-request` with the
/// node's kind as `details`.
fn needs_own_stream(e: &CallError) -> bool {
    e.kind == ErrorKind::BadRequest
        && matches!(
            e.details.as_ref().and_then(Value::as_str),
            Some("stream" | "channel")
        )
}

fn job_info(value: Value) -> Result<JobInfo, ClientError> {
    JobInfo::from_value(value).map_err(|e| ClientError::Protocol(e.0))
}

/// A connection to a Warden server.
///
/// Cheap to share (`Arc` it or clone it); calls from many tasks run
/// concurrently over one QUIC connection, one stream each. When the
/// connection drops (e.g. the server restarted) the next request reconnects.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    addr: SocketAddr,
    addr_text: String,
    server_name: String,
    connection: Mutex<Option<Connection>>,
    max_frame: usize,
    token: Option<String>,
    stream_per_call: bool,
    /// The session plain calls go through, once opened.
    session: std::sync::Mutex<Option<Arc<Session>>>,
    /// Held while a session is being opened, so calls arriving together
    /// share one.
    opening: Mutex<()>,
    /// The next call id (unique across this client's sessions, so a call
    /// keeps its frame when it moves to a new session).
    next_id: AtomicU64,
    /// The server refused a session (it predates them): a stream per call.
    sessions_refused: std::sync::atomic::AtomicBool,
}

impl Client {
    /// Connects to `addr` (`host:port`), trusting the server as `trust` says.
    /// The TLS server name is the host part of `addr`.
    ///
    /// # Errors
    ///
    /// [`ClientError::Connect`] when the address does not resolve, the server
    /// does not answer, or its certificate is not trusted.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), warden_host::rpc::ClientError> {
    /// use warden_host::rpc::{Client, Trust};
    ///
    /// let trust = Trust::Fingerprint("ab".repeat(32));
    /// let client = Client::connect("127.0.0.1:7443", trust).await?;
    /// let sum = client.call("math/add", rmpv::Value::Array(vec![1.into(), 2.into()])).await?;
    /// assert_eq!(sum, rmpv::Value::from(3));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(addr: &str, trust: Trust) -> Result<Client, ClientError> {
        Self::connect_with(addr, trust, ConnectOpts::default()).await
    }

    /// Connects like [`Client::connect`] with options, e.g. a caller token.
    ///
    /// # Errors
    ///
    /// As [`Client::connect`], and [`ClientError::Call`] with kind
    /// `unauthenticated` when the server knows no caller with the token.
    pub async fn connect_with(
        addr: &str,
        trust: Trust,
        opts: ConnectOpts,
    ) -> Result<Client, ClientError> {
        let connect_err = |reason: String| ClientError::Connect {
            addr: addr.to_owned(),
            reason,
        };
        let host = match addr.rsplit_once(':') {
            Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']'),
            None => return Err(connect_err("expected `host:port`".into())),
        };
        let target = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| connect_err(e.to_string()))?
            .next()
            .ok_or_else(|| connect_err("the name resolves to no address".into()))?;
        let tls = tls::client_config(&trust).map_err(|e| connect_err(e.to_string()))?;
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
            .map_err(|e| connect_err(e.to_string()))?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(transport::transport_config(
            true,
            transport::MAX_STREAMS,
            transport::RECEIVE_WINDOW,
        ));
        let bind: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let mut endpoint = Endpoint::client(bind).map_err(|e| connect_err(e.to_string()))?;
        endpoint.set_default_client_config(config);
        let client = Client {
            inner: Arc::new(Inner {
                endpoint,
                addr: target,
                addr_text: addr.to_owned(),
                server_name: host.to_owned(),
                connection: Mutex::new(None),
                max_frame: DEFAULT_MAX_FRAME_BYTES,
                token: opts.token,
                stream_per_call: opts.stream_per_call,
                session: std::sync::Mutex::new(None),
                opening: Mutex::new(()),
                next_id: AtomicU64::new(1),
                sessions_refused: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        client.connection().await?;
        Ok(client)
    }

    /// The live connection, reconnecting if the last one closed.
    async fn connection(&self) -> Result<Connection, ClientError> {
        let mut slot = self.inner.connection.lock().await;
        if let Some(c) = slot.as_ref()
            && c.close_reason().is_none()
        {
            return Ok(c.clone());
        }
        let connect_err = |reason: String| ClientError::Connect {
            addr: self.inner.addr_text.clone(),
            reason,
        };
        let connecting = self
            .inner
            .endpoint
            .connect(self.inner.addr, &self.inner.server_name)
            .map_err(|e| connect_err(e.to_string()))?;
        let connection = tokio::time::timeout(Duration::from_secs(10), connecting)
            .await
            .map_err(|_| connect_err("timed out after 10 s".into()))?
            .map_err(|e| connect_err(e.to_string()))?;
        if let Some(token) = &self.inner.token {
            self.hello(&connection, token).await?;
        }
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Presents the caller's token on a fresh connection.
    async fn hello(&self, connection: &Connection, token: &str) -> Result<(), ClientError> {
        let request = Request::Hello {
            token: token.to_owned(),
        };
        let (mut send, recv) = start(connection, request).await?;
        let _ = send.finish();
        let answer = self.call_stream(send, recv).result().await?;
        parse_caller(answer)
            .map(drop)
            .map_err(|e| ClientError::Protocol(e.0))
    }

    fn call_stream(&self, send: SendStream, recv: RecvStream) -> CallStream {
        CallStream::new(Some(send), recv, self.inner.max_frame, None)
    }

    /// Opens a stream and sends `request` on it, reconnecting once if the
    /// connection turns out to be gone.
    async fn open(&self, request: Request) -> Result<(SendStream, RecvStream), ClientError> {
        // Encoded once, moving the arguments: a retry resends the same bytes.
        self.open_frame(Bytes::from(frame_bytes(&request.into_value())))
            .await
    }

    /// Opens a stream and sends a request frame already encoded on it,
    /// reconnecting once if the connection turns out to be gone.
    async fn open_frame(&self, frame: Bytes) -> Result<(SendStream, RecvStream), ClientError> {
        for attempt in 0..2 {
            let connection = self.connection().await?;
            match connection.open_bi().await {
                Ok((mut send, recv)) => {
                    match send.write_chunk(frame.clone()).await {
                        Ok(()) => {
                            let _ = send.finish();
                        }
                        // The server refused the request before reading all
                        // of it (a frame over its limit, a full budget): its
                        // answer, read from `recv`, says why.
                        Err(quinn::WriteError::Stopped(_)) => {}
                        Err(e) => return Err(ClientError::ConnectionLost(e.to_string())),
                    }
                    return Ok((send, recv));
                }
                Err(e) if attempt == 0 => {
                    tracing::debug!("connection gone ({e}); reconnecting");
                    *self.inner.connection.lock().await = None;
                }
                Err(e) => return Err(ClientError::ConnectionLost(e.to_string())),
            }
        }
        Err(ClientError::ConnectionLost("reconnecting failed".into()))
    }

    /// The session plain calls go through, opened (on a live connection)
    /// when there is none or the last one ended.
    async fn session(&self) -> Result<Arc<Session>, ClientError> {
        let usable = || {
            let slot = self.inner.session.lock().unwrap_or_else(|e| e.into_inner());
            slot.as_ref().filter(|s| s.is_usable()).cloned()
        };
        if let Some(session) = usable() {
            return Ok(session);
        }
        let _opening = self.inner.opening.lock().await;
        if let Some(session) = usable() {
            return Ok(session);
        }
        let mut opened = Err(ClientError::ConnectionLost("reconnecting failed".into()));
        for _ in 0..2 {
            let connection = self.connection().await?;
            opened = Session::open(&connection, self.inner.max_frame).await;
            if opened.is_ok() {
                break;
            }
            // The connection is gone: reconnect once.
            *self.inner.connection.lock().await = None;
        }
        let session = opened?;
        *self.inner.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(session.clone());
        Ok(session)
    }

    /// Makes a plain call through the session: its answer, or (for a
    /// stream or channel node, which a session does not run) the call made
    /// again on a stream of its own.
    async fn call_in_session(
        &self,
        request: Request,
        give_up: Option<tokio::time::Instant>,
    ) -> Result<Value, ClientError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = Bytes::from(crate::proto::session::call_frame(id, request));
        // A frame past the maximum frame size would end the session and
        // every call on it (PROTOCOL.md "Sessions"): on a stream of its
        // own, the server refuses it alone, saying why.
        let too_big = frame.len().saturating_sub(4) > self.inner.max_frame;
        // The answer, or none when the call is to go on a stream of its own.
        let call = async {
            if too_big {
                return None;
            }
            let mut why = None;
            for _ in 0..2 {
                let session = match self.session().await {
                    Ok(session) => session,
                    Err(e) => return Some(Err(e)),
                };
                let answer = match session.send(id, frame.clone()).await {
                    Ok(pending) => Some(pending.answer().await),
                    // It ended before the call went out: on a new one.
                    Err(NotSent::Ended(ended)) => {
                        why = ended;
                        None
                    }
                };
                if session.was_refused() {
                    // A server without sessions: streams from now on.
                    self.inner.sessions_refused.store(true, Ordering::Relaxed);
                    return None;
                }
                if answer.is_some() {
                    return answer;
                }
            }
            Some(Err(why.unwrap_or_else(|| {
                ClientError::ConnectionLost("the session ended and a new one ended too".into())
            })))
        };
        // The deadline covers waiting for a session, for a place on it and
        // for the answer.
        let answer = match give_up {
            Some(at) => tokio::time::timeout_at(at, call).await.unwrap_or_else(|_| {
                Some(Err(ClientError::Call(CallError::new(
                    ErrorKind::Timeout,
                    "no answer before the deadline",
                ))))
            }),
            None => call.await,
        };
        match answer.filter(|a| !matches!(a, Err(ClientError::Call(e)) if needs_own_stream(e))) {
            Some(answer) => answer,
            // A stream or channel node, or a server without sessions: the
            // session's call frame is a valid request on its own (the
            // server ignores its `id` there).
            None => {
                let (send, recv) = self.open_frame(frame).await?;
                CallStream::new(Some(send), recv, self.inner.max_frame, give_up)
                    .result()
                    .await
            }
        }
    }

    /// Calls `node` with `args` (a map by parameter name, an array in order,
    /// or nil) and returns its result, ignoring progress and log events.
    ///
    /// # Errors
    ///
    /// [`ClientError::Call`] with the server's error kind when the call
    /// failed; the other variants when the transport did.
    pub async fn call(&self, node: &str, args: Value) -> Result<Value, ClientError> {
        self.call_opts(node, args, CallOpts::default()).await
    }

    /// Calls `node` like [`Client::call`], with a deadline or metadata.
    /// Dropping the future before it returns cancels the call.
    ///
    /// # Errors
    ///
    /// As [`Client::call`]; `timeout` when the deadline passed.
    pub async fn call_opts(
        &self,
        node: &str,
        args: Value,
        opts: CallOpts,
    ) -> Result<Value, ClientError> {
        if self.inner.stream_per_call || self.inner.sessions_refused.load(Ordering::Relaxed) {
            return self.call_with(node, args, opts).await?.result().await;
        }
        let give_up = opts.give_up();
        self.call_in_session(opts.request(node, args), give_up)
            .await
    }

    /// Starts a call and returns its stream of events and final result.
    /// Dropping the [`CallStream`] before the result cancels the call.
    ///
    /// # Errors
    ///
    /// When the request cannot be sent.
    pub async fn call_with(
        &self,
        node: &str,
        args: Value,
        opts: CallOpts,
    ) -> Result<CallStream, ClientError> {
        let give_up = opts.give_up();
        let request = opts.request(node, args);
        let (send, recv) = self.open(request).await?;
        Ok(CallStream::new(
            Some(send),
            recv,
            self.inner.max_frame,
            give_up,
        ))
    }

    /// Calls a stream node and returns its items as a [`futures::Stream`]:
    /// each `Ok` item as it arrives, then nothing after the end, or one `Err`
    /// when the call failed (after the items already sent). Progress and log
    /// events are skipped; use [`Client::call_with`] and [`CallStream::next`]
    /// to see them. Dropping the stream cancels the call.
    ///
    /// # Errors
    ///
    /// When the request cannot be sent.
    pub async fn stream(&self, node: &str, args: Value) -> Result<ItemStream, ClientError> {
        Ok(self
            .call_with(node, args, CallOpts::default())
            .await?
            .into_items())
    }

    /// Opens a channel to a channel node: send it messages with the
    /// [`ChannelSender`] while reading its answers from the [`CallStream`]
    /// (`Event::Item`s, then the result). [`ChannelSender::finish`] ends the
    /// input; dropping the `CallStream` cancels the call.
    ///
    /// # Errors
    ///
    /// When the request cannot be sent.
    pub async fn channel(
        &self,
        node: &str,
        args: Value,
        opts: CallOpts,
    ) -> Result<(ChannelSender, CallStream), ClientError> {
        let give_up = opts.give_up();
        let request = opts.request(node, args);
        let (send, recv) = start(&self.connection().await?, request).await?;
        let stream = CallStream::new(None, recv, self.inner.max_frame, give_up);
        Ok((ChannelSender { send }, stream))
    }

    /// Submits a call of `node` as a job and returns it at once (state
    /// `queued`); fetch the result later with [`Client::job`], from any
    /// connection of the same caller. `callback` names a node the server
    /// calls with the outcome.
    ///
    /// # Errors
    ///
    /// `not-found`, `denied` or `unauthenticated` as for a call;
    /// `resource-limit` for arguments over 1 MiB.
    pub async fn submit(
        &self,
        node: &str,
        args: Value,
        callback: Option<&str>,
    ) -> Result<JobInfo, ClientError> {
        let request = Request::Submit {
            node: node.to_owned(),
            args,
            callback: callback.map(str::to_owned),
        };
        job_info(self.simple(request).await?)
    }

    /// Job `id`: its state, and once finished its result or error. With
    /// `wait`, the server waits up to that long for it to finish. A finished
    /// job is removed once fetched, unless `keep`.
    ///
    /// # Errors
    ///
    /// `not-found` for an unknown (or already fetched, or expired) job.
    pub async fn job(
        &self,
        id: &str,
        wait: Option<Duration>,
        keep: bool,
    ) -> Result<JobInfo, ClientError> {
        let request = Request::Job {
            id: id.to_owned(),
            wait_ms: wait.map(|d| d.as_millis().min(u64::MAX as u128) as u64),
            keep,
        };
        job_info(self.simple(request).await?)
    }

    /// Cancels job `id` if it has not finished.
    ///
    /// # Errors
    ///
    /// `not-found` for an unknown job.
    pub async fn cancel(&self, id: &str) -> Result<JobInfo, ClientError> {
        let request = Request::Cancel { id: id.to_owned() };
        job_info(self.simple(request).await?)
    }

    /// Every node the server serves.
    ///
    /// # Errors
    ///
    /// As [`Client::call`].
    pub async fn catalog(&self) -> Result<Vec<NodeInfo>, ClientError> {
        let value = self.simple(Request::Catalog).await?;
        let Value::Array(items) = value else {
            return Err(ClientError::Protocol("the catalog is not an array".into()));
        };
        items
            .into_iter()
            .map(|v| NodeInfo::from_value(v).map_err(|e| ClientError::Protocol(e.0)))
            .collect()
    }

    /// The catalog entry of one node.
    ///
    /// # Errors
    ///
    /// `not-found` when the server has no such node; otherwise as [`Client::call`].
    pub async fn describe(&self, node: &str) -> Result<NodeInfo, ClientError> {
        let value = self
            .simple(Request::Describe {
                node: node.to_owned(),
            })
            .await?;
        NodeInfo::from_value(value).map_err(|e| ClientError::Protocol(e.0))
    }

    /// Every plugin's state (served or failed, with the reason) and the
    /// compiled cache's counters.
    ///
    /// # Errors
    ///
    /// As [`Client::call`].
    pub async fn status(&self) -> Result<ServerStatus, ClientError> {
        let value = self.simple(Request::Status).await?;
        ServerStatus::from_value(value).map_err(|e| ClientError::Protocol(e.0))
    }

    async fn simple(&self, request: Request) -> Result<Value, ClientError> {
        let (send, recv) = self.open(request).await?;
        self.call_stream(send, recv).result().await
    }

    /// Opens a bare stream, for tests that speak the protocol byte by byte.
    #[doc(hidden)]
    pub async fn open_raw(&self) -> Result<(SendStream, RecvStream), ClientError> {
        self.connection()
            .await?
            .open_bi()
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))
    }

    /// Closes the connection (requests in flight fail) and returns once the
    /// server has been told: the QUIC CONNECTION_CLOSE has been handed to
    /// the operating system, so the server lets go of the connection at once
    /// instead of waiting out its idle timeout. Waits at most a second.
    ///
    /// It does not wait out the closed connection's draining period (three
    /// probe timeouts, about 80 ms even on loopback, in which a close lost on
    /// the way would be sent again): a program may exit as soon as this
    /// returns, as `warden call` does. One that talks over a lossy network
    /// and wants that second chance calls [`Client::wait_idle`] afterwards.
    /// While the async runtime runs, the draining goes on in the background.
    pub async fn close(&self) {
        let connection = self.inner.connection.lock().await.clone();
        // Closed through the endpoint rather than `Connection::close`, so
        // the close is applied by the connection's driver task, which
        // transmits the CONNECTION_CLOSE in the same turn, under the
        // connection's lock (quinn 0.11: `ConnectionDriver::poll` handles the
        // close event, then `drive_transmit`). `closed()` takes that lock to
        // read the reason, so it returns only after that turn: the packet has
        // been sent (or, if the socket was full, queued to go next).
        self.inner
            .endpoint
            .close(VarInt::from_u32(0), b"client closed");
        if let Some(connection) = connection {
            let _ = tokio::time::timeout(Duration::from_secs(1), connection.closed()).await;
        }
    }

    /// Waits, at most `timeout`, until every connection this client closed
    /// has finished draining: after [`Client::close`], until a close that
    /// was lost on the way can no longer be sent again. Whether they all
    /// have.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.inner.endpoint.wait_idle())
            .await
            .is_ok()
    }

    /// Connections of this client's endpoint not yet drained (a closed one
    /// counts until its draining period ends), for tests.
    #[doc(hidden)]
    pub fn open_connections(&self) -> usize {
        self.inner.endpoint.open_connections()
    }
}
