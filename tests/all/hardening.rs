//! What a peer can make the host hold, attacked as a peer would over raw
//! QUIC on loopback: unfinished frames against their budgets and deadline,
//! small frames and few streams before `hello`, arguments decoded only
//! after admission, half-open handshakes, stalled uploads. Every attack is
//! bounded in size and time.

use std::time::Duration;

use quinn::{RecvStream, SendStream};
use rmpv::Value;
use warden_host::access::ConnectionLimits;
use warden_host::host::{BlobLimits, HostConfig};
use warden_host::proto::{
    CallError, ErrorKind, FrameDecoder, Request, Response, codes, frame_bytes,
};
use warden_host::rpc::{Client, ClientError, ServerConfig};

use crate::access::{ALICE, access};
use crate::harness::server::{Setup, TestServer};
use crate::support::{eventually, example, mp};

fn math() -> Setup {
    Setup::new().plugin("math", &example("math"), "")
}

fn with(connections: ConnectionLimits) -> HostConfig {
    HostConfig {
        connections,
        ..HostConfig::default()
    }
}

/// Reads the server's answer on `recv` to its final frame.
async fn answer(recv: &mut RecvStream) -> CallError {
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        while let Some(v) = decoder.next_frame().unwrap() {
            if let Ok(Response::Err(e)) = Response::from_value(v) {
                return e;
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(30), recv.read(&mut buf))
            .await
            .expect("the server answers in time");
        match read {
            Ok(Some(n)) => decoder.push(&buf[..n]),
            other => panic!("the stream ended without an error: {other:?}"),
        }
    }
}

/// The code the server stopped our sending side with.
async fn stopped(send: &SendStream) -> Option<u64> {
    tokio::time::timeout(Duration::from_secs(30), send.stopped())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .map(|c| c.into_inner())
}

/// A frame's length prefix announcing `len` bytes, and `sent` of them.
fn partial_frame(len: u32, sent: usize) -> Vec<u8> {
    let mut bytes = len.to_be_bytes().to_vec();
    bytes.extend(std::iter::repeat_n(0x90u8, sent));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_hello_a_connection_may_send_only_small_frames_on_few_streams() {
    let server = math()
        .config(HostConfig {
            access: Some(access()),
            connections: ConnectionLimits {
                streams_before_hello: Some(4),
                frame_timeout: Some(Duration::from_secs(2)),
                ..ConnectionLimits::default()
            },
            ..HostConfig::default()
        })
        .start()
        .await;
    let anon = server.client().await;
    // A 16 MiB announcement is refused at its length prefix: nothing is
    // buffered for it.
    let (mut send, mut recv) = anon.open_raw().await.unwrap();
    send.write_all(&partial_frame(16 << 20, 100)).await.unwrap();
    let e = answer(&mut recv).await;
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(e.message.contains("hello"), "{}", e.message);
    assert_eq!(stopped(&send).await, Some(codes::FRAME_TOO_LARGE.into()));
    // What arrived before the refusal is let go when the stream ends.
    assert!(eventually(10, || server.stats.buffered_bytes() == 0).await);
    drop((send, recv));
    // What anonymous callers may call still works.
    assert_eq!(
        anon.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );
    // Four streams are all it may have open: the session the call went
    // through holds one, three that send nothing the rest; a fifth waits
    // for one of them to end.
    let conn = anon.open_raw().await.unwrap();
    let mut held = vec![conn];
    for _ in 0..2 {
        held.push(anon.open_raw().await.unwrap());
    }
    for (send, _) in &mut held {
        send.write_all(&[0]).await.unwrap();
    }
    let fifth = tokio::time::timeout(Duration::from_millis(300), anon.open_raw()).await;
    assert!(fifth.is_err(), "a fifth stream opened before hello");
    // The idle four are stopped when their first frame does not come in time.
    for (send, recv) in &mut held {
        let e = answer(recv).await;
        assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
        assert_eq!(stopped(send).await, Some(codes::TOO_SLOW.into()));
    }
    drop(held);
    anon.close().await;

    // A known caller gets the full limit: 50 calls at once.
    let alice = server.client_with(Some(ALICE)).await.unwrap();
    let calls = (0..50i64).map(|i| {
        let alice = alice.clone();
        tokio::spawn(async move { alice.call("math/add", mp(&format!("[{i}, 1]"))).await })
    });
    for (i, call) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(call.unwrap().unwrap(), Value::from(i as i64 + 1));
    }
    alice.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_frames_count_against_the_budgets_and_time_out() {
    let server = math()
        .config(with(ConnectionLimits {
            buffered_per_connection: Some(1 << 20),
            frame_timeout: Some(Duration::from_secs(1)),
            ..ConnectionLimits::default()
        }))
        .start()
        .await;
    let client = server.client().await;
    // 700 KiB of an 800 KiB frame: held, within the connection's 1 MiB.
    let (mut a_send, mut a_recv) = client.open_raw().await.unwrap();
    a_send
        .write_all(&partial_frame(800 << 10, 700 << 10))
        .await
        .unwrap();
    assert!(
        eventually(10, || server.stats.buffered_bytes() >= 600 << 10).await,
        "{} bytes held",
        server.stats.buffered_bytes()
    );
    // 500 KiB more on another stream would pass the connection's budget.
    let (mut b_send, mut b_recv) = client.open_raw().await.unwrap();
    let _ = b_send.write_all(&partial_frame(800 << 10, 500 << 10)).await;
    let e = answer(&mut b_recv).await;
    assert_eq!(e.kind, ErrorKind::Overloaded, "{e}");
    assert_eq!(stopped(&b_send).await, Some(codes::OVER_BUDGET.into()));
    // The first never completes: stopped when its second is up.
    let e = answer(&mut a_recv).await;
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert_eq!(stopped(&a_send).await, Some(codes::TOO_SLOW.into()));
    assert!(
        eventually(10, || server.stats.buffered_bytes() == 0).await,
        "{} bytes still held",
        server.stats.buffered_bytes()
    );
    // The connection goes on.
    assert_eq!(
        client.call("math/add", mp("[2, 2]")).await.unwrap(),
        Value::from(4)
    );
    client.close().await;
    server.stop().await;
}

/// A call whose `args` hold `n` small integers.
fn call_with_many_args(n: usize) -> Vec<u8> {
    frame_bytes(
        &Request::Call {
            node: "math/add".into(),
            args: Value::Array(vec![Value::from(1); n]),
            deadline_ms: None,
            meta: None,
        }
        .into_value(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_are_decoded_only_after_admission_and_within_a_bound() {
    let mut access = access();
    access.anonymous.clear();
    let server = math()
        .config(HostConfig {
            access: Some(access),
            ..HostConfig::default()
        })
        .server(ServerConfig {
            max_decoded_args: 1 << 20,
            ..ServerConfig::default()
        })
        .start()
        .await;
    // 50,000 values (1.6 MB decoded) from a caller that may not call: it
    // is refused for who it is, before anything is decoded.
    let anon = server.client().await;
    let (mut send, mut recv) = anon.open_raw().await.unwrap();
    send.write_all(&call_with_many_args(50_000)).await.unwrap();
    send.finish().unwrap();
    assert_eq!(answer(&mut recv).await.kind, ErrorKind::Unauthenticated);
    anon.close().await;
    // A caller that may call gets a bound, not an allocation.
    let alice = server.client_with(Some(ALICE)).await.unwrap();
    let (mut send, mut recv) = alice.open_raw().await.unwrap();
    send.write_all(&call_with_many_args(50_000)).await.unwrap();
    send.finish().unwrap();
    let e = answer(&mut recv).await;
    assert_eq!(e.kind, ErrorKind::ResourceLimit, "{e}");
    assert!(e.message.contains("once decoded"), "{}", e.message);
    alice.close().await;
    server.stop().await;
}

/// Starts a QUIC handshake with `addr` and abandons it after its first
/// packets: the server is left with a handshake in progress.
async fn abandon_a_handshake(addr: &str) {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let config = crate::harness::quic::client_config(&"00".repeat(32), None);
    let connecting = endpoint
        .connect_with(config, addr.parse().unwrap(), "localhost")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(connecting);
    // Dropping the endpoint closes its socket without a word.
    drop(endpoint);
}

/// A bare QUIC connection to `server` that completes its handshake and
/// then says nothing.
async fn silent_connection(server: &TestServer) -> (quinn::Endpoint, quinn::Connection) {
    let config = crate::harness::quic::client_config(&server.fingerprint, None);
    crate::harness::quic::connect(&server.addr, config).await
}

/// Waits for `connection` to be closed by the server with code 6; the
/// reason it gave.
async fn closed_for_room(connection: &quinn::Connection) -> String {
    let closed = tokio::time::timeout(Duration::from_secs(30), connection.closed())
        .await
        .expect("closed in time");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, codes::CONNECTION_LIMIT.into());
            String::from_utf8_lossy(&close.reason).into_owned()
        }
        other => panic!("closed otherwise: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenless_connections_past_their_cap_push_out_the_oldest_never_a_token_holder() {
    let server = math()
        .plugin("text", &example("text"), "")
        .config(HostConfig {
            access: Some(access()),
            connections: ConnectionLimits {
                tokenless: Some(2),
                ..ConnectionLimits::default()
            },
            ..HostConfig::default()
        })
        .start()
        .await;
    let (_first_endpoint, first) = silent_connection(&server).await;
    assert!(eventually(10, || server.stats.tokenless_connections() == 1).await);
    let (_second_endpoint, second) = silent_connection(&server).await;
    assert!(eventually(10, || server.stats.tokenless_connections() == 2).await);
    // A third tokenless connection is let in; the oldest goes, told why.
    let third = server.client().await;
    assert_eq!(
        third.call("math/add", mp("[1, 1]")).await.unwrap(),
        Value::from(2)
    );
    let reason = closed_for_room(&first).await;
    assert!(reason.contains("without a caller token"), "{reason}");
    assert!(second.close_reason().is_none());
    // A caller with a token always gets in, and once it has said who it is
    // it no longer counts (the oldest tokenless one made room for it).
    let alice = server.client_with(Some(ALICE)).await.unwrap();
    assert_eq!(
        alice
            .call("text/strings/upper", mp(r#"["hi"]"#))
            .await
            .unwrap(),
        Value::from("HI")
    );
    closed_for_room(&second).await;
    assert!(eventually(10, || server.stats.tokenless_connections() == 1).await);
    // Tokenless connections that end give their place back.
    third.close().await;
    assert!(eventually(10, || server.stats.tokenless_connections() == 0).await);
    assert_eq!(
        alice
            .call("text/strings/upper", mp(r#"["ok"]"#))
            .await
            .unwrap(),
        Value::from("OK")
    );
    alice.close().await;
    server.stop().await;
}

async fn connect(server: &TestServer) -> Result<Client, ClientError> {
    server.client_with(None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_handshakes_hold_no_connection_slot_and_time_out() {
    let server = math()
        .config(with(ConnectionLimits {
            max: Some(2),
            handshake_timeout: Some(Duration::from_secs(1)),
            ..ConnectionLimits::default()
        }))
        .start()
        .await;
    for _ in 0..6 {
        abandon_a_handshake(&server.addr).await;
    }
    // Only finished handshakes count against `max = 2`.
    let first = connect(&server).await.unwrap();
    let second = connect(&server).await.unwrap();
    assert_eq!(
        first.call("math/add", mp("[1, 1]")).await.unwrap(),
        Value::from(2)
    );
    assert_eq!(
        second.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );
    assert!(
        eventually(15, || server.stats.handshakes() == 0).await,
        "{} handshakes left in progress",
        server.stats.handshakes()
    );
    first.close().await;
    second.close().await;
    server.stop().await;

    // Past the validation threshold (here: at once), a client proves its
    // address with a Retry first; a real client passes, an abandoned
    // handshake leaves nothing in progress.
    let server = math()
        .config(with(ConnectionLimits {
            validate_above: Some(0),
            ..ConnectionLimits::default()
        }))
        .start()
        .await;
    abandon_a_handshake(&server.addr).await;
    assert_eq!(server.stats.handshakes(), 0);
    let client = connect(&server).await.unwrap();
    assert_eq!(
        client.call("math/add", mp("[2, 3]")).await.unwrap(),
        Value::from(5)
    );
    client.close().await;
    server.stop().await;
}

/// A `blob-put` that sends its request and then nothing.
async fn stall_an_upload(client: &Client) -> (SendStream, RecvStream) {
    let (mut send, recv) = client.open_raw().await.unwrap();
    let request = frame_bytes(&Request::BlobPut { size: None }.into_value());
    send.write_all(&request).await.unwrap();
    (send, recv)
}

fn temp_files(server: &TestServer) -> usize {
    std::fs::read_dir(server.state_path().join("blobs/tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_are_capped_and_time_out_leaving_no_files() {
    let server = math()
        .config(HostConfig {
            connections: ConnectionLimits {
                uploads_per_connection: Some(2),
                ..ConnectionLimits::default()
            },
            blobs: BlobLimits {
                uploads_per_caller: Some(3),
                upload_idle: Some(Duration::from_secs(1)),
                ..BlobLimits::default()
            },
            ..HostConfig::default()
        })
        .start()
        .await;
    let one = server.client().await;
    let mut stalled = vec![stall_an_upload(&one).await, stall_an_upload(&one).await];
    assert!(eventually(10, || temp_files(&server) == 2).await);
    // A third on the same connection is refused at once.
    let (_, mut recv) = stall_an_upload(&one).await;
    let e = answer(&mut recv).await;
    assert_eq!(e.kind, ErrorKind::ResourceLimit, "{e}");
    assert!(e.message.contains("this connection"), "{}", e.message);
    // The caller's third on another connection passes, its fourth not.
    let two = server.client().await;
    stalled.push(stall_an_upload(&two).await);
    assert!(eventually(10, || temp_files(&server) == 3).await);
    let (_, mut recv) = stall_an_upload(&two).await;
    let e = answer(&mut recv).await;
    assert_eq!(e.kind, ErrorKind::ResourceLimit, "{e}");
    assert!(e.message.contains("maximum of 3 uploads"), "{}", e.message);
    // Each stalled upload times out and its file goes.
    for (send, recv) in &mut stalled {
        let e = answer(recv).await;
        assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
        assert_eq!(stopped(send).await, Some(codes::TOO_SLOW.into()));
    }
    assert!(
        eventually(10, || temp_files(&server) == 0).await,
        "{} partial files left",
        temp_files(&server)
    );
    // Uploads work again.
    let info = one
        .put_blob(&b"after the attack"[..], Some(16))
        .await
        .unwrap();
    assert_eq!(info.size, 16);
    one.close().await;
    two.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_input_is_bounded() {
    let server = math().start().await;
    let client = server.client().await;
    let (mut send, mut recv) = client.open_raw().await.unwrap();
    let request = Request::Call {
        node: "n".repeat(15 << 20),
        args: Value::Nil,
        deadline_ms: None,
        meta: None,
    };
    let _ = send.write_all(&frame_bytes(&request.into_value())).await;
    let _ = send.finish();
    let e = answer(&mut recv).await;
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(
        e.message.len() < 1024,
        "{} bytes of message",
        e.message.len()
    );
    client.close().await;
    server.stop().await;
}
