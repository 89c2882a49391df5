//! The QUIC server: a front end over the [`Host`] service, doing transport
//! and framing only.
//!
//! - this module: binding (where the rule "a public address needs
//!   `[access]`" is enforced), accepting connections, graceful shutdown;
//! - `connection`: one connection through the guards, its streams, and
//!   what a connection or stream gets while the server shuts down;
//! - `stream`: one request stream, from request frame to final frame;
//! - `call`: a `call` request's events, items and channel input;
//!   `session`: many plain calls over one stream, each with an id;
//!   `blobs`: blob uploads and downloads.

mod blobs;
mod budget;
mod call;
mod connection;
mod session;
mod stream;
mod tokenless;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use quinn::{Endpoint, VarInt};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::tls::{ServerIdentity, TlsError};
use super::transport;
use crate::host::{ConnectionBudgets, ConnectionGuard, Host};
use crate::proto::{CallError, DEFAULT_MAX_FRAME_BYTES, ErrorKind, RawError, RawValue, codes};

/// Settings of a [`Server`]; what it serves, and to whom, comes from the
/// [`Host`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on. Default: `127.0.0.1:7443`. Any address but a
    /// loopback one needs a host with access control.
    pub listen: SocketAddr,
    /// Largest frame accepted, in bytes. Default: 16 MiB. A larger frame is
    /// answered with `bad-request` on its stream; the connection goes on.
    pub max_frame_bytes: usize,
    /// How long running calls may take to finish after shutdown begins.
    /// Default: 10 s; calls still running then are cancelled.
    pub shutdown_grace: Duration,
    /// The most memory a request's arguments may take once decoded (about
    /// 32 bytes a value plus their strings and bytes). They are decoded
    /// only after the caller was admitted. Default: 64 MiB, 4× the largest
    /// frame (a frame of small values can take 32× its size decoded); more
    /// is `resource-limit`.
    pub max_decoded_args: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            shutdown_grace: Duration::from_secs(10),
            max_decoded_args: 64 << 20,
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate or key was refused.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A public address on a host that lets every caller call every node.
    #[error(
        "refusing to listen on {0}: without an `[access]` table in the host config every caller \
         could call every node, so Warden then serves loopback addresses only (e.g. \
         127.0.0.1:7443). `warden token NAME` makes a caller token and prints the config lines"
    )]
    PublicWithoutAccess(SocketAddr),
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
    host: Host,
    max_frame: usize,
    max_decoded_args: usize,
    guard: Arc<ConnectionGuard>,
    /// The connection limits, defaults filled in.
    budgets: ConnectionBudgets,
    /// Bytes of unfinished frames held across all connections.
    buffered: Arc<budget::ByteBudget>,
    /// The same, of connections whose caller has not said who it is.
    buffered_before_hello: Arc<budget::ByteBudget>,
    /// Handshakes in progress.
    handshakes: Arc<std::sync::atomic::AtomicUsize>,
    /// Connections open whose caller has not said who it is (on a host
    /// with access control).
    tokenless: Arc<tokenless::Tokenless>,
    /// Stream items written to clients since the server started.
    items_sent: AtomicU64,
    /// Connections the client closed (a QUIC CONNECTION_CLOSE from the
    /// application), since the server started.
    closed_by_clients: AtomicU64,
    /// Connections that ended because the client went silent (idle timeout),
    /// since the server started.
    timed_out: AtomicU64,
}

impl Server {
    /// Binds the listening socket for `host`.
    ///
    /// # Errors
    ///
    /// [`ServerError::PublicWithoutAccess`] for an address other than a
    /// loopback one on a host without access control; otherwise when TLS
    /// cannot be set up, the connection guards are invalid or the address
    /// cannot be bound.
    pub fn bind(
        config: &ServerConfig,
        identity: &ServerIdentity,
        host: Host,
    ) -> Result<Server, ServerError> {
        if !config.listen.ip().is_loopback() && !host.has_access_control() {
            return Err(ServerError::PublicWithoutAccess(config.listen));
        }
        let guard = host.connection_guard().clone();
        let budgets = host.connection_limits().budgets();
        let tls = identity.server_config()?;
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        // Before `hello`, a connection to a host with access control may
        // open only a few streams and have little unread in QUIC's buffers;
        // a known caller gets the full limits.
        let (streams, window) = if host.has_access_control() {
            (budgets.streams_before_hello, budgets.window_before_hello())
        } else {
            (transport::MAX_STREAMS, transport::RECEIVE_WINDOW)
        };
        server_config.transport_config(transport::transport_config(false, streams, window));
        let endpoint =
            Endpoint::server(server_config, config.listen).map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        Ok(Server {
            endpoint,
            shared: Arc::new(Shared {
                host,
                max_frame: config.max_frame_bytes,
                max_decoded_args: config.max_decoded_args,
                guard,
                buffered: budget::ByteBudget::new(budgets.buffered),
                buffered_before_hello: budget::ByteBudget::new(budgets.buffered_before_hello),
                budgets,
                handshakes: Arc::default(),
                tokenless: tokenless::Tokenless::new(budgets.tokenless),
                items_sent: AtomicU64::new(0),
                closed_by_clients: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
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

    /// Serves until `shutdown` completes. Then, for up to the grace period,
    /// running calls finish while new streams are answered `cancelled` and
    /// new connections are closed with code 4; afterwards every connection
    /// is closed with code 4.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                incoming = self.endpoint.accept() => match incoming {
                    Some(incoming) => {
                        if let Some(handshake) = connection::screen(incoming, &self.shared) {
                            connections.spawn(connection::serve(handshake, self.shared.clone(), stop_rx.clone()));
                        }
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
        let _ = stop_tx.send(true);
        let grace = tokio::time::sleep(self.grace);
        tokio::pin!(grace);
        let mut refused = JoinSet::new();
        loop {
            tokio::select! {
                () = &mut grace => {
                    tracing::warn!("grace period over: cancelling the calls still running");
                    connections.abort_all();
                    break;
                }
                joined = connections.join_next() => {
                    if joined.is_none() {
                        break;
                    }
                }
                Some(incoming) = self.endpoint.accept() => {
                    refused.spawn(connection::refuse(incoming));
                }
            }
        }
        refused.abort_all();
        self.endpoint
            .close(VarInt::from_u32(codes::SHUTDOWN), b"server shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

impl Shared {
    /// A request's arguments, decoded within the bound.
    fn decode_args(&self, args: &RawValue) -> Result<rmpv::Value, CallError> {
        args.decode(self.max_decoded_args).map_err(args_error)
    }

    /// Whether a request's arguments are within the bound, without
    /// decoding them.
    fn check_args(&self, args: &RawValue) -> Result<(), CallError> {
        args.check(self.max_decoded_args).map_err(args_error)
    }
}

/// What a caller is told about arguments that were not decoded.
fn args_error(e: RawError) -> CallError {
    match e {
        RawError::TooBig { .. } => CallError::new(
            ErrorKind::ResourceLimit,
            format!("the arguments are too big: {e}"),
        ),
        RawError::Malformed(e) => CallError::new(ErrorKind::BadRequest, e.to_string()),
    }
}

/// Live figures of a running [`Server`].
#[derive(Clone)]
pub struct ServerStats {
    shared: Arc<Shared>,
}

impl ServerStats {
    /// Calls from outside running right now, host-wide.
    pub fn running_calls(&self) -> usize {
        self.shared.host.running_calls()
    }

    /// Stream items written to clients since the server started. A stream
    /// node produces at most a small buffer (16 items) ahead of this count.
    pub fn items_sent(&self) -> u64 {
        self.shared
            .items_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections the client closed since the server started: it said so
    /// (a QUIC CONNECTION_CLOSE), as `warden call` and [`Client::close`] do.
    ///
    /// [`Client::close`]: crate::rpc::Client::close
    pub fn closed_by_clients(&self) -> u64 {
        self.shared
            .closed_by_clients
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections that ended since the server started because the client
    /// went silent for the idle timeout (at most 60 s), e.g. a process that
    /// exited without closing its connection.
    pub fn timed_out(&self) -> u64 {
        self.shared
            .timed_out
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections open right now (handshake complete).
    pub fn open_connections(&self) -> usize {
        self.shared.guard.open_connections()
    }

    /// Connections open right now whose caller has not said who it is,
    /// on a host with access control.
    pub fn tokenless_connections(&self) -> usize {
        self.shared.tokenless.len()
    }

    /// Handshakes in progress right now.
    pub fn handshakes(&self) -> usize {
        self.shared
            .handshakes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes of unfinished frames held right now, across all connections.
    pub fn buffered_bytes(&self) -> usize {
        self.shared.buffered.used() + self.shared.buffered_before_hello.used()
    }
}
