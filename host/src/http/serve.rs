//! Accepting HTTP connections: the host's connection guards, optional TLS,
//! HTTP/1.1 and HTTP/2 (hyper), time limits on headers and bodies, and a
//! graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use super::{AppState, router};
use crate::host::Host;

/// How the gateway listens.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The TCP address. Without access control only loopback addresses are
    /// allowed.
    pub listen: SocketAddr,
    /// The largest request body (blob uploads excepted: they are streamed
    /// to disk within the blob limits). Default: 16 MiB.
    pub max_body: usize,
    /// The most memory a request's arguments (or a channel message) may take
    /// once decoded, estimated before decoding. Default: 64 MiB.
    pub max_decoded_args: usize,
    /// TLS (HTTPS), e.g. with the QUIC server's certificate; plain HTTP
    /// without.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long running requests get to finish once shutdown begins.
    /// Default: 10 s.
    pub shutdown_grace: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body: 16 << 20,
            max_decoded_args: 64 << 20,
            tls: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A public address on a host that lets everyone call everything.
    #[error(
        "refusing to serve HTTP on {0} without access control: every caller could call every \
         node. Listen on a loopback address (127.0.0.1), or add an `[access]` table with callers \
         to the host config"
    )]
    PublicWithoutAccess(SocketAddr),
    /// The address cannot be bound.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The HTTP gateway, bound and ready to run.
pub struct HttpServer {
    listener: TcpListener,
    host: Host,
    config: HttpConfig,
}

impl HttpServer {
    /// Binds `config.listen` for `host`.
    ///
    /// # Errors
    ///
    /// [`HttpError::PublicWithoutAccess`] for an address other than a
    /// loopback one on a host without access control; [`HttpError::Bind`]
    /// when the address cannot be bound.
    pub async fn bind(config: &HttpConfig, host: Host) -> Result<HttpServer, HttpError> {
        if !config.listen.ip().is_loopback() && !host.has_access_control() {
            return Err(HttpError::PublicWithoutAccess(config.listen));
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| HttpError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(HttpServer {
            listener,
            host,
            config: config.clone(),
        })
    }

    /// The address it listens on (with the real port when bound to 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// Serves until `shutdown` completes, then stops accepting, ends the
    /// event streams and lets requests finish within the grace period.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop, stopping) = watch::channel(false);
        let budgets = self.host.connection_limits().budgets();
        let app = router(AppState {
            host: self.host.clone(),
            stopping,
            max_body: self.config.max_body,
            max_decoded: self.config.max_decoded_args,
        });
        let graceful = GracefulShutdown::new();
        let mut connections = tokio::task::JoinSet::new();
        let limits = Limits {
            frame_timeout: budgets.frame_timeout,
            handshake_timeout: budgets.handshake_timeout,
        };
        tokio::pin!(shutdown);
        loop {
            let (tcp, remote) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors, say: back off instead of spinning.
                        tracing::warn!("accepting an HTTP connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let slot = match self.host.connection_guard().admit(remote.ip()) {
                Ok(slot) => slot,
                Err(refusal) => {
                    tracing::warn!(%remote, "HTTP connection refused: {}", refusal.reason);
                    tokio::spawn(refuse(tcp, refusal.reason));
                    continue;
                }
            };
            let app = app.clone();
            let tls = self.config.tls.clone();
            let watcher = graceful.watcher();
            connections.spawn(async move {
                let _slot = slot;
                serve_connection(tcp, tls, app, limits, watcher).await;
            });
            // Forget the connections that ended.
            while connections.try_join_next().is_some() {}
        }
        drop(self.listener);
        let _ = stop.send(true);
        if tokio::time::timeout(self.config.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("HTTP requests still running after the grace period were cut off");
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// The time limits of one connection.
#[derive(Clone, Copy)]
struct Limits {
    /// Between two pieces of a request body, and for a request's headers.
    frame_timeout: Duration,
    /// For the TLS handshake.
    handshake_timeout: Duration,
}

/// The request headers a client may send at most.
const MAX_HEADERS: usize = 100;
/// HTTP/2 requests open at once on one connection.
const MAX_STREAMS: u32 = 256;

async fn serve_connection(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = tcp.set_nodelay(true);
    // A connection must start its first request in time: one that sends
    // nothing would hold its connection slot for good.
    let mut first = [0u8; 1];
    if !matches!(
        tokio::time::timeout(limits.frame_timeout, tcp.peek(&mut first)).await,
        Ok(Ok(1..))
    ) {
        return;
    }
    let body_timeout = limits.frame_timeout;
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        // A body that stops arriving ends the request instead of holding it.
        let request = request.map(|body| TimeoutBody::new(body_timeout, body));
        app.clone().oneshot(request)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.frame_timeout)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(64 << 10)
        // A peer that stops answering pings is gone: its slot comes back.
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    match tls {
        None => {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            let _ = watcher.watch(connection.into_owned()).await;
        }
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            let stream =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    _ => return,
                };

            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(connection.into_owned()).await;
        }
    }
}

/// Tells a refused connection why, in plain HTTP/1.1, and closes it.
async fn refuse(mut tcp: TcpStream, reason: String) {
    let body = serde_json::json!({
        "type": "urn:warden:error:overloaded",
        "title": "Connection refused",
        "status": 503,
        "detail": reason,
        "kind": "overloaded",
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.write_all(response.as_bytes())).await;
}
