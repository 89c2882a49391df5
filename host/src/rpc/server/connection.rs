//! One connection: admitted by the guards, its streams served until it
//! ends or the server shuts down.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use quinn::{Connection, ConnectionError, Incoming, VarInt};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Shared;
use super::budget::ByteBudget;
use super::stream::{self, Conn};
use crate::proto::codes;

/// A handshake let through, counted as in progress until it ends.
pub(super) struct Handshake {
    incoming: Incoming,
    counted: Counted,
}

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Decides what to do with a new connection attempt, before any work for
/// it: refused past the cap on handshakes in progress, asked to prove its
/// address (a QUIC Retry: its next attempt arrives validated) past the
/// validation threshold, else let through and counted.
pub(super) fn screen(incoming: Incoming, shared: &Shared) -> Option<Handshake> {
    let budgets = &shared.budgets;
    let in_progress = shared.handshakes.load(Ordering::Acquire);
    if in_progress >= budgets.handshakes {
        tracing::debug!(remote = %incoming.remote_address(), "too many handshakes in progress: refused");
        incoming.refuse();
        return None;
    }
    if in_progress >= budgets.validate_above
        && !incoming.remote_address_validated()
        && incoming.may_retry()
    {
        let _ = incoming.retry();
        return None;
    }
    shared.handshakes.fetch_add(1, Ordering::AcqRel);
    Some(Handshake {
        incoming,
        counted: Counted(shared.handshakes.clone()),
    })
}

/// How long a connection refused during shutdown may take to finish its
/// handshake (so it can be told why).
const REFUSE_HANDSHAKE: Duration = Duration::from_secs(5);

pub(super) async fn serve(
    handshake: Handshake,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let Handshake { incoming, counted } = handshake;
    let remote = incoming.remote_address();
    let timeout = shared.budgets.handshake_timeout;
    let connection = match tokio::time::timeout(timeout, incoming).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::debug!(%remote, "handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "handshake not done within {timeout:?}: dropped");
            return;
        }
    };
    drop(counted);
    // Counted against the limits only now that the handshake is done: bare
    // Initial packets from spoofed addresses hold no connection slot.
    let _slot = match shared.guard.admit(remote.ip()) {
        Ok(slot) => slot,
        Err(refusal) => {
            // Closed after the handshake so the client learns why.
            tracing::warn!(%remote, "connection refused: {}", refusal.reason);
            connection.close(VarInt::from_u32(refusal.code), refusal.reason.as_bytes());
            return;
        }
    };
    // Until its caller says who it is, a connection to a host with access
    // control is one of the tokenless ones.
    let place = shared
        .host
        .has_access_control()
        .then(|| shared.tokenless.enter(&connection));
    tracing::debug!(%remote, "connected");
    let conn = Arc::new(Conn {
        identity: RwLock::new(shared.host.anonymous()),
        place: std::sync::Mutex::new(place),
        connection: connection.clone(),
        buffered: ByteBudget::new(shared.budgets.buffered_per_connection),
        uploads: AtomicUsize::new(0),
        stop: stop.clone(),
        session_calls: AtomicUsize::new(0),
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
                    let count = match e {
                        ConnectionError::ApplicationClosed(_) => Some(&shared.closed_by_clients),
                        ConnectionError::TimedOut => Some(&shared.timed_out),
                        _ => None,
                    };
                    if let Some(count) = count {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
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
