//! One connection: admitted by the guards, its streams served until it
//! ends or the server shuts down.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use quinn::{Connection, Incoming, VarInt};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Shared;
use super::stream::{self, Conn};
use crate::proto::codes;

/// How long a connection refused during shutdown may take to finish its
/// handshake (so it can be told why).
const REFUSE_HANDSHAKE: Duration = Duration::from_secs(5);

pub(super) async fn serve(
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
        identity: RwLock::new(shared.host.anonymous()),
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
    if *stop.borrow() {
        drain(&connection, &mut streams).await;
        connection.close(VarInt::from_u32(codes::SHUTDOWN), b"server shutting down");
    }
    while streams.join_next().await.is_some() {}
}

/// While the server shuts down: lets the running streams finish, answering
/// new ones `cancelled`.
async fn drain(connection: &Connection, streams: &mut JoinSet<()>) {
    let mut refused = JoinSet::new();
    loop {
        tokio::select! {
            joined = streams.join_next() => {
                if joined.is_none() {
                    break;
                }
            }
            stream = connection.accept_bi() => match stream {
                Ok((send, recv)) => {
                    refused.spawn(stream::refuse_stream(send, recv));
                }
                Err(_) => break,
            },
        }
    }
    while refused.join_next().await.is_some() {}
}

/// A connection that arrives while the server shuts down: completes its
/// handshake and is closed with code 4 and a reason.
pub(super) async fn refuse(incoming: Incoming) {
    if let Ok(Ok(connection)) = tokio::time::timeout(REFUSE_HANDSHAKE, incoming).await {
        connection.close(
            VarInt::from_u32(codes::SHUTDOWN),
            b"server shutting down: no new connections",
        );
    }
}
