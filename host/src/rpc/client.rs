//! The Rust client: calls over one QUIC connection, many at once, with
//! progress and log events, deadlines, cancellation by dropping, and
//! reconnection after the server restarts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use rmpv::Value;
use tokio::sync::Mutex;

use super::codes;
use super::tls::{self, Trust};
use super::transport::{self, ReadFrameError, read_frame, write_encoded, write_frame};
use crate::proto::{
    DEFAULT_MAX_FRAME_BYTES, FrameDecoder, JobInfo, NodeInfo, Request, Response, ServerStatus,
    encode_frame,
};
use crate::{CallError, ErrorKind};

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
    /// A short kind for scripts: the [`ErrorKind`] of a failed call, else
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

/// Something a running call sends before its result.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The node reported progress.
    Progress {
        /// 0.0 to 1.0.
        fraction: f32,
        /// What the node is doing.
        message: String,
    },
    /// The node logged a line.
    Log {
        /// `trace` .. `error`.
        level: String,
        /// The line.
        message: String,
    },
    /// One item of a streaming result.
    Item(Value),
}

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
    fn request(self, node: &str, args: Value) -> Request {
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
    fn give_up(&self) -> Option<tokio::time::Instant> {
        self.deadline
            .map(|d| tokio::time::Instant::now() + d + Duration::from_secs(2))
    }
}

/// Options of a connection.
#[derive(Debug, Clone, Default)]
pub struct ConnectOpts {
    /// The caller's token, presented in a `hello` request on every
    /// (re)connection. Servers with an access config need it for anything
    /// their anonymous callers may not do.
    pub token: Option<String>,
}

/// A stored blob: its reference and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// `blake3:` and 64 hex digits.
    pub reference: String,
    /// Size in bytes.
    pub size: u64,
}

impl BlobInfo {
    fn from_value(value: &Value) -> Result<BlobInfo, ClientError> {
        let field = |key: &str| {
            value
                .as_map()
                .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key)))
                .map(|(_, v)| v)
        };
        match (
            field("ref").and_then(Value::as_str),
            field("size").and_then(Value::as_u64),
        ) {
            (Some(reference), Some(size)) => Ok(BlobInfo {
                reference: reference.to_owned(),
                size,
            }),
            _ => Err(ClientError::Protocol(
                "a blob answer needs `ref` and `size`".into(),
            )),
        }
    }
}

fn job_info(value: Value) -> Result<JobInfo, ClientError> {
    JobInfo::from_value(value).map_err(ClientError::Protocol)
}

/// Bytes per `bin` frame of an upload.
const UPLOAD_CHUNK: usize = 1 << 20;

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
        config.transport_config(transport::transport_config(true));
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
        let (mut send, recv) = connection
            .open_bi()
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))?;
        let request = Request::Hello {
            token: token.to_owned(),
        };
        write_frame(&mut send, &request.into_value())
            .await
            .map_err(ClientError::ConnectionLost)?;
        let _ = send.finish();
        self.call_stream(send, recv).result().await.map(drop)
    }

    fn call_stream(&self, send: SendStream, recv: RecvStream) -> CallStream {
        self.stream_of(Some(send), recv)
    }

    fn stream_of(&self, send: Option<SendStream>, recv: RecvStream) -> CallStream {
        CallStream {
            _send: send,
            recv,
            decoder: FrameDecoder::new(self.inner.max_frame),
            result: None,
            done: false,
            give_up: None,
        }
    }

    /// Opens a stream and sends `request` on it, reconnecting once if the
    /// connection turns out to be gone.
    async fn open(&self, request: Request) -> Result<(SendStream, RecvStream), ClientError> {
        // Encoded once, moving the arguments: a retry resends the same bytes.
        let mut frame = Vec::new();
        encode_frame(&request.into_value(), &mut frame);
        let frame = Bytes::from(frame);
        for attempt in 0..2 {
            let connection = self.connection().await?;
            match connection.open_bi().await {
                Ok((mut send, recv)) => {
                    write_encoded(&mut send, frame.clone())
                        .await
                        .map_err(ClientError::ConnectionLost)?;
                    let _ = send.finish();
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

    /// Calls `node` with `args` (a map by parameter name, an array in order,
    /// or nil) and returns its result, ignoring progress and log events.
    ///
    /// # Errors
    ///
    /// [`ClientError::Call`] with the server's error kind when the call
    /// failed; the other variants when the transport did.
    pub async fn call(&self, node: &str, args: Value) -> Result<Value, ClientError> {
        self.call_with(node, args, CallOpts::default())
            .await?
            .result()
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
        Ok(CallStream {
            _send: Some(send),
            recv,
            decoder: FrameDecoder::new(self.inner.max_frame),
            result: None,
            done: false,
            give_up,
        })
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
        let connection = self.connection().await?;
        let (mut send, recv) = connection
            .open_bi()
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))?;
        write_frame(&mut send, &request.into_value())
            .await
            .map_err(ClientError::ConnectionLost)?;
        let mut stream = self.stream_of(None, recv);
        stream.give_up = give_up;
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

    /// Uploads a blob read from `data` in chunks (never all in memory) and
    /// returns its reference. `size`, when known, lets the server refuse a
    /// blob over its limit before any byte is sent.
    ///
    /// # Errors
    ///
    /// `unauthenticated` / `denied` without the caller's blob permission,
    /// `resource-limit` over the server's limit, [`ClientError::Protocol`]
    /// when `data` fails to read; otherwise as [`Client::call`].
    pub async fn put_blob(
        &self,
        mut data: impl tokio::io::AsyncRead + Unpin,
        size: Option<u64>,
    ) -> Result<BlobInfo, ClientError> {
        use tokio::io::AsyncReadExt;
        let connection = self.connection().await?;
        let (mut send, recv) = connection
            .open_bi()
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))?;
        write_frame(&mut send, &Request::BlobPut { size }.into_value())
            .await
            .map_err(ClientError::ConnectionLost)?;
        let mut chunk = vec![0u8; UPLOAD_CHUNK];
        loop {
            let mut filled = 0;
            while filled < chunk.len() {
                let n = data.read(&mut chunk[filled..]).await.map_err(|e| {
                    ClientError::Protocol(format!("reading the blob to upload failed: {e}"))
                })?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            let frame = Value::Binary(chunk[..filled].to_vec());
            if write_frame(&mut send, &frame).await.is_err() {
                // The server stopped reading: its answer says why.
                break;
            }
        }
        let _ = send.finish();
        let value = self.call_stream(send, recv).result().await?;
        BlobInfo::from_value(&value)
    }

    /// Downloads blob `reference` into `out`, chunk by chunk.
    ///
    /// # Errors
    ///
    /// `not-found` when the server does not store it, `denied` without the
    /// caller's blob permission, [`ClientError::Protocol`] when `out` fails
    /// or the server sends something else; otherwise as [`Client::call`].
    pub async fn get_blob(
        &self,
        reference: &str,
        mut out: impl tokio::io::AsyncWrite + Unpin,
    ) -> Result<BlobInfo, ClientError> {
        use tokio::io::AsyncWriteExt;
        let request = Request::BlobGet {
            reference: reference.to_owned(),
        };
        let (send, recv) = self.open(request).await?;
        let mut stream = self.call_stream(send, recv);
        let mut received = 0u64;
        while let Some(event) = stream.next().await {
            if let Event::Item(Value::Binary(chunk)) = event {
                received += chunk.len() as u64;
                out.write_all(&chunk).await.map_err(|e| {
                    ClientError::Protocol(format!("writing the downloaded blob failed: {e}"))
                })?;
            }
        }
        out.flush().await.map_err(|e| {
            ClientError::Protocol(format!("writing the downloaded blob failed: {e}"))
        })?;
        let info = BlobInfo::from_value(&stream.result().await?)?;
        if info.size != received {
            return Err(ClientError::Protocol(format!(
                "the server announced {} bytes but sent {received}",
                info.size
            )));
        }
        Ok(info)
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

    /// Closes the connection (requests in flight fail) and waits, at most a
    /// second, until the server has been told, so it can let go at once.
    pub async fn close(&self) {
        self.inner
            .endpoint
            .close(VarInt::from_u32(0), b"client closed");
        let idle = self.inner.endpoint.wait_idle();
        let _ = tokio::time::timeout(Duration::from_secs(1), idle).await;
    }
}

/// A call in flight: its events, then its result.
///
/// Dropping it before the result arrived cancels the call on the server,
/// which interrupts the node.
pub struct CallStream {
    _send: Option<SendStream>,
    recv: RecvStream,
    decoder: FrameDecoder,
    result: Option<Result<Value, ClientError>>,
    done: bool,
    give_up: Option<tokio::time::Instant>,
}

impl CallStream {
    /// The next event, or `None` once the result has arrived (take it with
    /// [`CallStream::result`]).
    pub async fn next(&mut self) -> Option<Event> {
        if self.result.is_some() || self.done {
            return None;
        }
        {
            let read = read_frame(&mut self.recv, &mut self.decoder);
            let frame = match self.give_up {
                Some(at) => match tokio::time::timeout_at(at, read).await {
                    Ok(frame) => frame,
                    Err(_) => Err(ReadFrameError::Stream(
                        "no answer before the deadline".into(),
                    )),
                },
                None => read.await,
            };
            let response = match frame {
                Ok(Some(value)) => {
                    Response::from_value(value).map_err(|e| ClientError::Protocol(e.0))
                }
                Ok(None) => Err(ClientError::Protocol(
                    "the server ended the stream without a result".into(),
                )),
                Err(ReadFrameError::Frame(e)) => Err(ClientError::Protocol(e.to_string())),
                Err(ReadFrameError::Stream(e)) if e.contains("deadline") => {
                    Err(ClientError::Call(CallError::new(ErrorKind::Timeout, e)))
                }
                Err(ReadFrameError::Stream(e)) => Err(ClientError::ConnectionLost(e)),
            };
            match response {
                Ok(Response::Progress { fraction, message }) => {
                    return Some(Event::Progress { fraction, message });
                }
                Ok(Response::Log { level, message }) => return Some(Event::Log { level, message }),
                Ok(Response::Item(v)) => return Some(Event::Item(v)),
                Ok(Response::Ok(v)) => self.result = Some(Ok(v)),
                Ok(Response::Err(e)) => self.result = Some(Err(ClientError::Call(e))),
                Err(e) => self.result = Some(Err(e)),
            }
            None
        }
    }

    /// Waits for the result, skipping any remaining events.
    ///
    /// # Errors
    ///
    /// As [`Client::call`].
    pub async fn result(mut self) -> Result<Value, ClientError> {
        while self.next().await.is_some() {}
        self.done = true;
        self.result
            .take()
            .unwrap_or_else(|| Err(ClientError::Protocol("no result".into())))
    }
}

impl CallStream {
    /// The call's items as a [`futures::Stream`] (see [`Client::stream`]).
    pub fn into_items(self) -> ItemStream {
        Box::pin(futures::stream::unfold(Some(self), |state| async move {
            let mut stream = state?;
            while let Some(event) = stream.next().await {
                if let Event::Item(item) = event {
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

/// The items of a stream call (see [`Client::stream`]).
pub type ItemStream = futures::stream::BoxStream<'static, Result<Value, ClientError>>;

/// The sending half of a channel call (see [`Client::channel`]).
pub struct ChannelSender {
    send: SendStream,
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
        write_frame(&mut self.send, &crate::proto::input_frame(message))
            .await
            .map_err(ClientError::ConnectionLost)
    }

    /// Ends the input: the node's `finish` runs and the call ends.
    pub fn finish(mut self) {
        let _ = self.send.finish();
    }
}

impl Drop for CallStream {
    fn drop(&mut self) {
        if self.result.is_none() && !self.done {
            let _ = self.recv.stop(VarInt::from_u32(codes::CANCELLED));
        }
    }
}
