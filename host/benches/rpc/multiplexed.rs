//! Bare quinn with one long-lived stream carrying many requests, each
//! tagged with an id, against stream-per-call (what Warden's protocol
//! does): which costs less with many calls in flight.
//!
//! Frames on the stream are a `u32` length (big-endian) and that many
//! bytes, the first 8 of which are the request's id; the server echoes
//! each frame back as soon as it has read it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// Serves every bidirectional stream of every connection to `endpoint`'s
/// clients as a long-lived stream of frames, echoed one by one.
pub(crate) fn serve(endpoint: quinn::Endpoint) {
    tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        loop {
                            let Ok(len) = recv.read_u32().await else {
                                return;
                            };
                            buf.resize(len as usize, 0);
                            if recv.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            if send.write_u32(len).await.is_err()
                                || send.write_all(&buf).await.is_err()
                            {
                                return;
                            }
                        }
                    });
                }
            });
        }
    });
}

type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<usize>>>>;

/// A client sending requests on one stream.
#[derive(Clone)]
pub(crate) struct Multiplexed {
    send: Arc<tokio::sync::Mutex<quinn::SendStream>>,
    waiting: Waiting,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Multiplexed {
    /// Opens the stream on `conn` and starts reading its answers.
    pub(crate) async fn open(conn: &quinn::Connection) -> Multiplexed {
        let (send, mut recv) = conn.open_bi().await.unwrap();
        let waiting: Waiting = Arc::default();
        let readers = waiting.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            loop {
                let Ok(len) = recv.read_u32().await else {
                    return;
                };
                buf.resize(len as usize, 0);
                if recv.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let id = u64::from_be_bytes(buf[..8].try_into().unwrap());
                if let Some(done) = readers.lock().unwrap().remove(&id) {
                    let _ = done.send(buf.len());
                }
            }
        });
        Multiplexed {
            send: Arc::new(tokio::sync::Mutex::new(send)),
            waiting,
            next: Arc::default(),
        }
    }

    /// One request of `size` bytes (at least 8) and its answer's size.
    pub(crate) async fn round_trip(&self, size: usize) -> usize {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (done, answer) = oneshot::channel();
        self.waiting.lock().unwrap().insert(id, done);
        let mut frame = Vec::with_capacity(4 + size.max(8));
        frame.extend_from_slice(&(size.max(8) as u32).to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.resize(4 + size.max(8), 7);
        self.send.lock().await.write_all(&frame).await.unwrap();
        answer.await.unwrap()
    }
}
