//! The QUIC server: one bidirectional stream per request, calls run
//! concurrently up to a limit, progress and log frames streamed while a node
//! runs, cancellation when the client stops reading.
//!
//! - this module: binding, accepting connections through the guards,
//!   graceful shutdown;
//! - `stream`: one request stream, the caller's identity, dispatch;
//! - `call`: one `call` request; `blobs`: blob uploads and downloads.

mod blobs;
mod call;
mod jobs;
mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use quinn::{Connection, Endpoint, Incoming, VarInt};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::codes;
use super::tls::{ServerIdentity, TlsError};
use super::transport;
use crate::access::{AccessConfig, ConnectionGuard, ConnectionLimits, Identity};
use crate::caps::BlobStore;
use crate::jobs::Jobs;
use crate::plugins::Plugins;
use crate::proto::DEFAULT_MAX_FRAME_BYTES;
use stream::Conn;

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
    /// Callers and what they may call; `None`: open to every connection.
    pub access: Option<AccessConfig>,
    /// Guards on incoming connections.
    pub connections: ConnectionLimits,
    /// The blob store callers upload to and download from; `None`: no blobs.
    pub blobs: Option<BlobStore>,
    /// Submitted jobs; `None`: `submit` is refused.
    pub jobs: Option<Jobs>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            max_concurrent_calls: 512,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            shutdown_grace: Duration::from_secs(10),
            access: None,
            connections: ConnectionLimits::default(),
            blobs: None,
            jobs: None,
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate or key was refused.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The access or connection settings are invalid.
    #[error("invalid server settings: {0}")]
    Config(String),
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
    access: Option<Arc<AccessConfig>>,
    guard: Arc<ConnectionGuard>,
    blobs: Option<BlobStore>,
    jobs: Option<Jobs>,
    /// Routes the nodes' `invoke` calls to the served plugins.
    invoker: Arc<dyn crate::caps::Invoker>,
    /// Stream items written to clients since the server started.
    items_sent: AtomicU64,
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
        if let Some(access) = &config.access {
            access.validate().map_err(ServerError::Config)?;
        }
        let guard = ConnectionGuard::new(&config.connections).map_err(ServerError::Config)?;
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
                invoker: Arc::new(plugins.clone()),
                plugins,
                calls: Arc::new(Semaphore::new(config.max_concurrent_calls)),
                max_calls: config.max_concurrent_calls,
                max_frame: config.max_frame_bytes,
                access: config.access.clone().map(Arc::new),
                guard,
                blobs: config.blobs.clone(),
                jobs: config.jobs.clone(),
                items_sent: AtomicU64::new(0),
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

    /// Stream items written to clients since the server started. A stream
    /// node produces at most a small buffer (16 items) ahead of this count.
    pub fn items_sent(&self) -> u64 {
        self.shared
            .items_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.guard.open_connections()
    }
}

async fn serve_connection(
    incoming: Incoming,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let remote = incoming.remote_address();
    let admitted = shared.guard.admit(remote.ip());
    let connection = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%remote, "handshake failed: {e}");
            return;
        }
    };
    let _slot = match admitted {
        Ok(slot) => slot,
        Err(refusal) => {
            // Closed after the handshake so the client learns why.
            tracing::warn!(%remote, "connection refused: {}", refusal.reason);
            connection.close(VarInt::from_u32(refusal.code), refusal.reason.as_bytes());
            return;
        }
    };
    tracing::debug!(%remote, "connected");
    let conn = Arc::new(Conn {
        identity: std::sync::RwLock::new(match &shared.access {
            None => Identity::Open,
            Some(access) => Identity::Anonymous(Arc::new(access.anonymous.clone())),
        }),
    });
    let mut streams = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            stream = connection.accept_bi() => match stream {
                Ok((send, recv)) => {
                    streams.spawn(stream::serve_stream(send, recv, shared.clone(), conn.clone()));
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
