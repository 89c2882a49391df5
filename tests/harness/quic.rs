//! Bare quinn clients for tests and benchmarks that speak to the server
//! without the Warden client: attackers, slow readers and baselines.

use std::sync::Arc;

use warden_host::rpc::{Trust, tls};

/// A quinn client config trusting `fingerprint` (the server's ALPN and
/// TLS settings), with `transport` when given.
pub(crate) fn client_config(
    fingerprint: &str,
    transport: Option<quinn::TransportConfig>,
) -> quinn::ClientConfig {
    let tls = tls::client_config(&Trust::Fingerprint(fingerprint.to_owned()))
        .expect("a client TLS config");
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("a QUIC TLS config");
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    if let Some(transport) = transport {
        config.transport_config(Arc::new(transport));
    }
    config
}

/// A client endpoint on 127.0.0.1 and a connection from it to `addr`,
/// handshake done. Keep the endpoint as long as the connection.
pub(crate) async fn connect(
    addr: &str,
    config: quinn::ClientConfig,
) -> (quinn::Endpoint, quinn::Connection) {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("an address"))
        .expect("a client endpoint");
    let connection = endpoint
        .connect_with(config, addr.parse().expect("a socket address"), "localhost")
        .expect("a connection attempt")
        .await
        .expect("the handshake completes");
    (endpoint, connection)
}
