//! The QUIC server: one bidirectional stream per request, calls run
//! concurrently up to a limit, progress and log frames streamed while a node
//! runs, cancellation when the client stops reading.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::{Connection, Endpoint, Incoming, RecvStream, SendStream, VarInt};
use rmpv::Value;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::codes;
use super::tls::{ServerIdentity, TlsError};
use super::transport::{self, ReadFrameError, read_frame, write_frame};
use crate::plugins::Plugins;
use crate::proto::{DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameError, Request, Response};
use crate::{CallError, CallEvent, CallOptions, ErrorKind};

/// Settings of a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on. Default: `127.0.0.1:7443`.
    pub listen: SocketAddr,
    /// Calls that may run at once across all connections; more are answered
    /// with `overloaded` at once instead of queueing. Default: 512.
    pub max_concurrent_calls: usize,
    /// Largest frame accepted, in bytes. Default: 16 MiB. A larger frame is
    /// answered with `bad-request` on its stream; the connection goes on.
    pub max_frame_bytes: usize,
    /// How long running calls may take to finish after shutdown begins.
    /// Default: 10 s; calls still running then are cancelled.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            max_concurrent_calls: 512,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate or key was refused.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// A bound QUIC server. [`Server::run`] serves until the shutdown future completes.
pub struct Server {
    endpoint: Endpoint,
    shared: Arc<Shared>,
    fingerprint: String,
    grace: Duration,
}

struct Shared {
    plugins: Plugins,
    calls: Arc<Semaphore>,
    max_calls: usize,
    max_frame: usize,
}

impl Server {
    /// Binds the listening socket.
    ///
    /// # Errors
    ///
    /// [`ServerError`] when TLS cannot be set up or the address cannot be bound.
    pub fn bind(
        config: &ServerConfig,
        identity: &ServerIdentity,
        plugins: Plugins,
    ) -> Result<Server, ServerError> {
        let tls = identity.server_config()?;
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        server_config.transport_config(transport::transport_config(false));
        let endpoint =
            Endpoint::server(server_config, config.listen).map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        Ok(Server {
            endpoint,
            shared: Arc::new(Shared {
                plugins,
                calls: Arc::new(Semaphore::new(config.max_concurrent_calls)),
                max_calls: config.max_concurrent_calls,
                max_frame: config.max_frame_bytes,
            }),
            fingerprint: identity.fingerprint(),
            grace: config.shutdown_grace,
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Live figures of this server, readable while it runs.
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            shared: self.shared.clone(),
        }
    }

    /// The SHA-256 fingerprint of the server's certificate.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Serves until `shutdown` completes, then stops accepting, lets running
    /// calls finish for up to the grace period, and closes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                incoming = self.endpoint.accept() => match incoming {
                    Some(incoming) => {
                        connections.spawn(serve_connection(incoming, self.shared.clone(), stop_rx.clone()));
                    }
                    None => break,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        tracing::info!(
            connections = connections.len(),
            "shutting down: no new connections or calls"
        );
        self.endpoint.set_server_config(None);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(self.grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("grace period over: cancelling the calls still running");
            connections.abort_all();
        }
        self.endpoint
            .close(VarInt::from_u32(codes::SHUTDOWN), b"server shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

/// Live figures of a running [`Server`].
#[derive(Clone)]
pub struct ServerStats {
    shared: Arc<Shared>,
}

impl ServerStats {
    /// Calls running right now.
    pub fn running_calls(&self) -> usize {
        self.shared.max_calls - self.shared.calls.available_permits()
    }
}

async fn serve_connection(
    incoming: Incoming,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let remote = incoming.remote_address();
    let connection = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%remote, "handshake failed: {e}");
            return;
        }
    };
    tracing::debug!(%remote, "connected");
    let mut streams = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            stream = connection.accept_bi() => match stream {
                Ok((send, recv)) => {
                    streams.spawn(serve_stream(send, recv, shared.clone()));
                }
                Err(e) => {
                    tracing::debug!(%remote, "connection ended: {e}");
                    break;
                }
            },
            Some(_) = streams.join_next(), if !streams.is_empty() => {}
        }
    }
    while streams.join_next().await.is_some() {}
    close_if_stopping(&connection, &stop);
}

fn close_if_stopping(connection: &Connection, stop: &watch::Receiver<bool>) {
    if *stop.borrow() {
        connection.close(VarInt::from_u32(codes::SHUTDOWN), b"server shutting down");
    }
}

async fn serve_stream(mut send: SendStream, mut recv: RecvStream, shared: Arc<Shared>) {
    let mut decoder = FrameDecoder::new(shared.max_frame);
    let request = match read_frame(&mut recv, &mut decoder).await {
        Ok(Some(value)) => {
            Request::from_value(value).map_err(|e| CallError::new(ErrorKind::BadRequest, e.0))
        }
        Ok(None) => Err(CallError::new(
            ErrorKind::BadRequest,
            "the stream ended before a request frame",
        )),
        Err(ReadFrameError::Frame(e)) => {
            let code = match e {
                FrameError::TooLarge { .. } => codes::FRAME_TOO_LARGE,
                _ => codes::BAD_REQUEST,
            };
            let _ = recv.stop(VarInt::from_u32(code));
            Err(CallError::new(ErrorKind::BadRequest, e.to_string()))
        }
        Err(ReadFrameError::Stream(e)) => {
            tracing::debug!("request stream failed: {e}");
            return;
        }
    };
    let response = match request {
        Err(e) => Response::Err(e),
        Ok(Request::Catalog) => {
            let catalog = shared.plugins.snapshot().catalog();
            Response::Ok(Value::Array(catalog.iter().map(|n| n.to_value()).collect()))
        }
        Ok(Request::Status) => Response::Ok(shared.plugins.status().to_value()),
        Ok(Request::Describe { node }) => match shared.plugins.snapshot().describe(&node) {
            Some(info) => Response::Ok(info.to_value()),
            None => Response::Err(not_found(&node)),
        },
        Ok(Request::Call {
            node,
            args,
            deadline_ms,
            meta: _,
        }) => match call(&mut send, &mut recv, &shared, &node, args, deadline_ms).await {
            Some(response) => response,
            None => return, // cancelled: the stream was reset
        },
    };
    if write_frame(&mut send, &response.to_value()).await.is_ok() && send.finish().is_ok() {
        // Wait until the client has the whole answer, so a connection closed
        // at shutdown does not cut it off.
        let _ = tokio::time::timeout(Duration::from_secs(5), send.stopped()).await;
    }
}

fn not_found(node: &str) -> CallError {
    CallError::new(
        ErrorKind::NotFound,
        format!("no node `{node}` is served here; `warden nodes` lists them"),
    )
}

/// Runs one call, streaming its events. Returns the final frame, or `None`
/// when the client cancelled (the stream has been reset then).
async fn call(
    send: &mut SendStream,
    recv: &mut RecvStream,
    shared: &Shared,
    node: &str,
    args: Value,
    deadline_ms: Option<u64>,
) -> Option<Response> {
    let started = Instant::now();
    let registry = shared.plugins.snapshot();
    let Some((served, name)) = registry.resolve(node) else {
        return Some(Response::Err(not_found(node)));
    };
    if served.access.is_private(name) {
        return Some(Response::Err(CallError::new(
            ErrorKind::Denied,
            format!("`{node}` is private: only other nodes may call it, through `invoke`"),
        )));
    }
    let _plugin_permit = match served.try_start_call() {
        Ok(permit) => permit,
        Err(max) => {
            return Some(Response::Err(CallError::new(
                ErrorKind::Overloaded,
                format!(
                    "plugin `{}` is running its maximum of {max} concurrent calls; retry later",
                    served.plugin.name()
                ),
            )));
        }
    };
    let plugin = served.plugin.clone();
    let Ok(_permit) = shared.calls.clone().try_acquire_owned() else {
        return Some(Response::Err(CallError::new(
            ErrorKind::Overloaded,
            format!(
                "the server is running its maximum of {} calls; retry later",
                shared.max_calls
            ),
        )));
    };
    // Progress and log events are lossy past a bounded buffer, so a guest
    // that reports faster than the client reads cannot grow the host's memory.
    let (tx, mut rx) = mpsc::channel::<Response>(256);
    let options = CallOptions {
        events: Some(Arc::new(move |event| {
            let _ = tx.try_send(event_frame(event));
        })),
        deadline: deadline_ms.map(|ms| started + Duration::from_millis(ms)),
        invoker: Some(Arc::new(shared.plugins.clone())),
        chain: Vec::new(),
    };
    let running = plugin.call(name, args, options);
    tokio::pin!(running);
    let stopped = send.stopped();
    tokio::pin!(stopped);
    let reset = async {
        match recv.received_reset().await {
            Ok(Some(_)) | Err(_) => {}
            // Finished normally: no reset can come any more.
            Ok(None) => std::future::pending().await,
        }
    };
    tokio::pin!(reset);
    let outcome = loop {
        tokio::select! {
            biased;
            result = &mut running => break Some(result),
            Some(event) = rx.recv() => {
                if write_frame(send, &event.to_value()).await.is_err() {
                    break None;
                }
            }
            _ = &mut stopped => break None,
            () = &mut reset => break None,
        }
    };
    let Some(result) = outcome else {
        tracing::debug!(node, "call cancelled by the client");
        let _ = send.reset(VarInt::from_u32(codes::CANCELLED));
        return None;
    };
    // Events sent before the result go out before it.
    while let Ok(event) = rx.try_recv() {
        if write_frame(send, &event.to_value()).await.is_err() {
            return None;
        }
    }
    let elapsed = started.elapsed();
    Some(match result {
        Ok(value) => {
            tracing::debug!(node, ?elapsed, "call ok");
            Response::Ok(value)
        }
        Err(e) => {
            tracing::debug!(node, ?elapsed, kind = %e.kind, "call failed: {}", e.message);
            Response::Err(e)
        }
    })
}

fn event_frame(event: CallEvent) -> Response {
    match event {
        CallEvent::Progress { fraction, message } => Response::Progress { fraction, message },
        CallEvent::Log { level, message } => Response::Log {
            level: level.as_str().to_owned(),
            message,
        },
    }
}
