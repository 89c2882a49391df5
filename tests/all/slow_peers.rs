//! Peers that are slow, by nature or on purpose, over raw QUIC on loopback:
//! frames are timed from their first bytes (a pause between frames or a
//! long stream of them is fine), an answer the client does not take holds
//! nothing past the frame timeout, and channel inputs are decoded within
//! the same bound as arguments.

use std::time::Duration;

use quinn::{RecvStream, SendStream};
use rmpv::Value;
use warden_host::access::ConnectionLimits;
use warden_host::host::HostConfig;
use warden_host::proto::{
    CallEvent, ErrorKind, FrameDecoder, Request, Response, codes, frame_bytes, input_frame,
};
use warden_host::rpc::ServerConfig;

use crate::harness::server::{Setup, TestServer};
use crate::support::{eventually, example};

/// The example plugins with a 1 s frame timeout.
async fn start(server: ServerConfig) -> TestServer {
    Setup::new()
        .plugin("text", &example("text"), "")
        .plugin("streams", &example("streams"), "")
        .config(HostConfig {
            connections: ConnectionLimits {
                frame_timeout: Some(Duration::from_secs(1)),
                ..ConnectionLimits::default()
            },
            ..HostConfig::default()
        })
        .server(server)
        .start()
        .await
}

fn call(node: &str, args: Value) -> Vec<u8> {
    frame_bytes(
        &Request::Call {
            node: node.into(),
            args,
            deadline_ms: None,
            meta: None,
        }
        .into_value(),
    )
}

fn item(value: Value) -> Vec<u8> {
    frame_bytes(&input_frame(value))
}

/// Reads frames to the final one: the items before it, and it.
async fn answers(recv: &mut RecvStream) -> (Vec<Value>, Response) {
    answers_until(recv, &mut FrameDecoder::new(16 << 20), usize::MAX).await
}

/// Reads answers until the final frame, or until `items` items arrived
/// (then the last is the last item's frame, read on with the same
/// `decoder`).
async fn answers_until(
    recv: &mut RecvStream,
    decoder: &mut FrameDecoder,
    items_wanted: usize,
) -> (Vec<Value>, Response) {
    let mut items = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        while let Some(frame) = decoder.next_frame().unwrap() {
            match Response::from_value(frame).unwrap() {
                Response::Event(CallEvent::Item(v)) if items.len() + 1 == items_wanted => {
                    items.push(v.clone());
                    return (items, Response::Event(CallEvent::Item(v)));
                }
                Response::Event(CallEvent::Item(v)) => items.push(v),
                Response::Event(_) => {}
                last => return (items, last),
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(30), recv.read(&mut buf))
            .await
            .expect("the server answers in time");
        match read {
            Ok(Some(n)) => decoder.push(&buf[..n]),
            other => panic!("the stream ended without a final frame: {other:?}"),
        }
    }
}

/// Writes `bytes` in two halves `gap` apart.
async fn write_slowly(send: &mut SendStream, bytes: &[u8], gap: Duration) {
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    send.write_all(head).await.unwrap();
    tokio::time::sleep(gap).await;
    send.write_all(tail).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_are_timed_from_their_first_bytes_not_from_the_last_frame() {
    let server = start(ServerConfig::default()).await;
    let client = server.client().await;
    let (mut send, mut recv) = client.open_raw().await.unwrap();
    send.write_all(&call("streams/chat/echo", Value::Array(vec!["> ".into()])))
        .await
        .unwrap();
    // A pause between frames longer than the frame timeout is fine, and so
    // is a frame that then arrives in pieces within it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    write_slowly(&mut send, &item("first".into()), Duration::from_millis(300)).await;
    // Frames that keep coming for longer than the timeout, each arriving
    // with the head of the next: every one is complete in time.
    let mut rest = Vec::new();
    for n in 0..6 {
        rest.extend(item(format!("m{n}").into()));
    }
    for piece in rest.chunks(rest.len() / 12 + 1) {
        send.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    send.finish().unwrap();
    let (items, last) = answers(&mut recv).await;
    assert!(matches!(last, Response::Ok(_)), "{last:?}");
    let said: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
    assert_eq!(
        said,
        [
            "> first",
            "> m0",
            "> m1",
            "> m2",
            "> m3",
            "> m4",
            "> m5",
            "bye after 7 message(s)"
        ]
    );
    client.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_the_client_does_not_take_is_reset_after_the_frame_timeout() {
    let server = start(ServerConfig::default()).await;
    // A client whose window for each stream is 1 KiB, and that reads
    // nothing until later.
    let mut transport = quinn::TransportConfig::default();
    transport.stream_receive_window(quinn::VarInt::from_u32(1024));
    let config = crate::harness::quic::client_config(&server.fingerprint, Some(transport));
    let (endpoint, connection) = crate::harness::quic::connect(&server.addr, config).await;
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    let big = "a".repeat(200_000);
    send.write_all(&call("text/strings/upper", Value::Array(vec![big.into()])))
        .await
        .unwrap();
    send.finish().unwrap();
    // The 200 KB answer cannot go out; the server gives up on it.
    assert!(
        eventually(15, || server.stats.buffered_bytes() == 0).await,
        "{} bytes still held",
        server.stats.buffered_bytes()
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let read = tokio::time::timeout(Duration::from_secs(30), recv.read_to_end(1 << 20))
        .await
        .expect("the stream ends in time");
    match read {
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => {
            assert_eq!(code, codes::TOO_SLOW.into());
        }
        other => panic!("the answer was not reset: {other:?}"),
    }
    connection.close(0u32.into(), b"");
    endpoint.wait_idle().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_inputs_are_decoded_within_the_arguments_bound() {
    let server = start(ServerConfig {
        max_decoded_args: 64 << 10,
        ..ServerConfig::default()
    })
    .await;
    let client = server.client().await;
    let (mut send, mut recv) = client.open_raw().await.unwrap();
    send.write_all(&call("streams/chat/echo", Value::Array(vec!["> ".into()])))
        .await
        .unwrap();
    send.write_all(&item("fine".into())).await.unwrap();
    // Its echo first, so the refusal below cannot overtake it.
    let mut decoder = FrameDecoder::new(16 << 20);
    let (items, _) = answers_until(&mut recv, &mut decoder, 1).await;
    assert_eq!(items, [Value::from("> fine")]);
    // 20,000 small values: about 640 KB once decoded, 20 KB on the wire.
    let many = Value::Array(vec![Value::from(1); 20_000]);
    send.write_all(&item(many)).await.unwrap();
    let (items, last) = answers_until(&mut recv, &mut decoder, usize::MAX).await;
    assert!(items.is_empty(), "{items:?}");
    match last {
        Response::Err(e) => {
            assert_eq!(e.kind, ErrorKind::ResourceLimit, "{e}");
            assert!(e.message.contains("once decoded"), "{}", e.message);
        }
        other => panic!("the input was taken: {other:?}"),
    }
    let stopped = tokio::time::timeout(Duration::from_secs(30), send.stopped())
        .await
        .expect("stopped in time");
    assert_eq!(stopped.ok().flatten(), Some(codes::FRAME_TOO_LARGE.into()));
    client.close().await;
    server.stop().await;
}
