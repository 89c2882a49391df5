//! Sessions (PROTOCOL.md "Sessions"): many plain calls over one stream,
//! each with an id, checked frame by frame over real QUIC the way a client
//! in another language sees them, and through the Rust client, which sends
//! its plain calls that way.

use std::time::Duration;

use quinn::{RecvStream, SendStream};
use rmpv::Value;
use warden_host::ErrorKind;
use warden_host::access::ConnectionLimits;
use warden_host::host::HostConfig;
use warden_host::proto::session::{call_frame, cancel_frame, parse_answer};
use warden_host::proto::{FrameDecoder, Request, Response, codes, frame_bytes};
use warden_host::rpc::{CallOpts, Client, ClientError, ConnectOpts, Trust};

use crate::access::plugins;
use crate::harness::server::Setup;
use crate::support::{eventually, example, mp, test_plugin};

fn call(node: &str, args: &str) -> Request {
    Request::Call {
        node: node.into(),
        args: mp(args),
        deadline_ms: None,
        meta: None,
    }
}

/// A session opened by hand on a raw stream.
struct Raw {
    send: SendStream,
    recv: RecvStream,
    decoder: FrameDecoder,
}

impl Raw {
    async fn open(client: &Client) -> Raw {
        let (mut send, recv) = client.open_raw().await.unwrap();
        send.write_all(&frame_bytes(&Request::Session.into_value()))
            .await
            .unwrap();
        Raw {
            send,
            recv,
            decoder: FrameDecoder::new(16 << 20),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.send.write_all(bytes).await.unwrap();
    }

    /// The next frame as (id, response); `None` at the stream's end.
    async fn next(&mut self) -> Option<(Option<u64>, Response)> {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            if let Some(frame) = self.decoder.next_frame().unwrap() {
                return Some(parse_answer(frame).unwrap());
            }
            match tokio::time::timeout(Duration::from_secs(30), self.recv.read(&mut buf))
                .await
                .expect("the server answers within 30 s")
            {
                Ok(Some(n)) => self.decoder.push(&buf[..n]),
                Ok(None) => return None,
                Err(e) => panic!("the session's stream failed: {e}"),
            }
        }
    }

    /// The next final frame, skipping events.
    async fn next_final(&mut self) -> (Option<u64>, Response) {
        loop {
            match self.next().await.expect("a final frame") {
                (_, Response::Event(_)) => {}
                other => return other,
            }
        }
    }
}

fn error(response: Response) -> warden_host::CallError {
    match response {
        Response::Err(e) => e,
        other => panic!("expected an err frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_a_session_answer_by_id_in_the_order_they_finish_and_cancel_by_id() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let mut session = Raw::open(&client).await;
    // A slow call first, a quick one second: the quick one answers first.
    session
        .write(&call_frame(1, call("math/slow-sum", "[3, 200]")))
        .await;
    session
        .write(&call_frame(2, call("math/add", "[40, 2]")))
        .await;
    let mut finals = Vec::new();
    let mut events_of_1 = 0;
    while finals.len() < 2 {
        match session.next().await.expect("both calls answer") {
            (Some(1), Response::Event(_)) => events_of_1 += 1,
            (_, Response::Event(e)) => panic!("an event of another call: {e:?}"),
            final_frame => finals.push(final_frame),
        }
    }
    assert_eq!(
        finals,
        [
            (Some(2), Response::Ok(Value::from(42))),
            (Some(1), Response::Ok(Value::from(6)))
        ]
    );
    // A log line and three progress reports.
    assert_eq!(events_of_1, 4, "call 1's events carry its id");

    // Ids may be reused once answered.
    session
        .write(&call_frame(1, call("math/slow-sum", "[100, 100]")))
        .await;
    assert!(eventually(10, || served.stats.running_calls() == 1).await);
    // Cancelling stops the node and answers `cancelled` with the id; a
    // cancel of an id not running is ignored.
    session.write(&cancel_frame(1)).await;
    session.write(&cancel_frame(99)).await;
    let (id, answer) = session.next_final().await;
    assert_eq!(id, Some(1));
    assert_eq!(error(answer).kind, ErrorKind::Cancelled);
    assert!(eventually(10, || served.stats.running_calls() == 0).await);

    // Errors keep their kinds; a stream node says what it is.
    session.write(&call_frame(3, call("math/nope", "[]"))).await;
    session
        .write(&call_frame(4, call("streams/counter/count", "[3, 1]")))
        .await;
    let mut finals = vec![session.next_final().await, session.next_final().await];
    finals.sort_by_key(|(id, _)| *id);
    let (_, not_found) = finals.remove(0);
    assert_eq!(error(not_found).kind, ErrorKind::NotFound);
    let (id, stream_node) = finals.remove(0);
    assert_eq!(id, Some(4));
    let e = error(stream_node);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.details, Some(Value::from("stream")));

    // Finishing our side ends the session once its calls have answered.
    session
        .write(&call_frame(5, call("math/add", "[2, 3]")))
        .await;
    session.send.finish().unwrap();
    assert_eq!(
        session.next_final().await,
        (Some(5), Response::Ok(Value::from(5)))
    );
    assert!(
        session.next().await.is_none(),
        "the server finished its side"
    );
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_ends_the_session_with_an_error_without_an_id_and_cancels_its_calls() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let mut session = Raw::open(&client).await;
    session
        .write(&call_frame(1, call("math/slow-sum", "[100, 100]")))
        .await;
    assert!(eventually(10, || served.stats.running_calls() == 1).await);
    // A catalog request has no place in a session.
    session
        .write(&frame_bytes(&Request::Catalog.into_value()))
        .await;
    let (id, answer) = session.next_final().await;
    assert_eq!(id, None, "an error about the session itself has no id");
    let e = error(answer);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(e.message.contains("`call` and `cancel`"), "{}", e.message);
    assert!(session.next().await.is_none(), "the session ends");
    assert!(
        eventually(10, || served.stats.running_calls() == 0).await,
        "its calls were cancelled"
    );
    // The connection goes on.
    assert_eq!(
        client.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );

    // An id sent again while its call runs ends the session the same way.
    let mut session = Raw::open(&client).await;
    session
        .write(&call_frame(7, call("math/slow-sum", "[100, 100]")))
        .await;
    assert!(eventually(10, || served.stats.running_calls() == 1).await);
    session
        .write(&call_frame(7, call("math/add", "[1, 1]")))
        .await;
    let (id, answer) = session.next_final().await;
    assert_eq!(id, None);
    let e = error(answer);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(e.message.contains("call id 7"), "{}", e.message);
    assert!(session.next().await.is_none(), "the session ends");
    assert!(eventually(10, || served.stats.running_calls() == 0).await);
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_sends_plain_calls_through_a_session_and_keeps_their_meaning() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    // Many at once, each its own answer.
    let calls = (0..200i64).map(|i| {
        let client = client.clone();
        async move {
            let sum = client
                .call("math/add", Value::Array(vec![i.into(), 1.into()]))
                .await;
            (i, sum)
        }
    });
    for (i, sum) in futures::future::join_all(calls).await {
        assert_eq!(sum.unwrap(), Value::from(i + 1));
    }
    // A stream node through `call` still runs (on a stream of its own).
    assert_eq!(
        client
            .call("streams/counter/count", mp("[3, 1]"))
            .await
            .unwrap(),
        Value::Nil
    );
    // A deadline is the server's `timeout`.
    let slow = client
        .call_opts(
            "math/slow-sum",
            mp("[100, 100]"),
            CallOpts {
                deadline: Some(Duration::from_millis(300)),
                meta: None,
            },
        )
        .await;
    assert!(
        matches!(&slow, Err(ClientError::Call(e)) if e.kind == ErrorKind::Timeout),
        "{slow:?}"
    );
    // Dropping a call's future cancels the node.
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        client.call("math/slow-sum", mp("[100, 100]")),
    )
    .await;
    assert!(dropped.is_err(), "the call was still running");
    assert!(
        eventually(10, || served.stats.running_calls() == 0).await,
        "the dropped call was cancelled on the server"
    );

    // A call too big for a frame is refused alone: the calls running
    // beside it in the session go on.
    let running = tokio::spawn({
        let client = client.clone();
        async move { client.call("math/slow-sum", mp("[4, 100]")).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let big = Value::Array(vec![Value::Binary(vec![1; 17 << 20]), 1.into()]);
    let err = client.call("math/add", big).await;
    assert!(
        matches!(&err, Err(ClientError::Call(e)) if e.kind == ErrorKind::BadRequest
            && e.message.contains("exceeds the maximum frame size")),
        "{err:?}"
    );
    assert_eq!(running.await.unwrap().unwrap(), Value::from(10));

    // A client asked for a stream per call gets the same answers.
    let per_call = Client::connect_with(
        &served.addr,
        Trust::Fingerprint(served.fingerprint.clone()),
        ConnectOpts {
            stream_per_call: true,
            ..ConnectOpts::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        per_call.call("math/add", mp("[2, 2]")).await.unwrap(),
        Value::from(4)
    );
    per_call.close().await;
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_has_its_session_reset_and_calls_cancelled() {
    let served = Setup::new()
        .plugin("types", &test_plugin("types"), "")
        .plugin("math", &example("math"), "")
        .config(HostConfig {
            connections: ConnectionLimits {
                frame_timeout: Some(Duration::from_secs(1)),
                ..ConnectionLimits::default()
            },
            ..HostConfig::default()
        })
        .start()
        .await;
    let client = served.client_with(None).await.unwrap();
    let mut session = Raw::open(&client).await;
    // Answers of 2 MiB each, never read: QUIC's windows fill, the server's
    // writer waits, and after the frame timeout it resets the session.
    let bytes = Value::Binary(vec![7; 2 << 20]);
    for id in 0..8 {
        let echo = Request::Call {
            node: "types/echo/echo-bytes".into(),
            args: Value::Array(vec![bytes.clone()]),
            deadline_ms: None,
            meta: None,
        };
        session.write(&call_frame(id, echo)).await;
    }
    session
        .write(&call_frame(100, call("math/slow-sum", "[100, 100]")))
        .await;
    let reset = tokio::time::timeout(Duration::from_secs(20), session.send.stopped())
        .await
        .expect("the server stops the session in time");
    assert!(
        matches!(reset, Ok(Some(code)) if code.into_inner() == u64::from(codes::CANCELLED)),
        "{reset:?}"
    );
    assert!(
        eventually(10, || served.stats.running_calls() == 0).await,
        "the session's calls were cancelled"
    );
    // Reading now finds the reset (code 8) after what was written.
    let mut buf = vec![0u8; 1 << 20];
    let ended = loop {
        match session.recv.read(&mut buf).await {
            Ok(Some(_)) => {}
            other => break other,
        }
    };
    assert!(
        matches!(&ended, Err(quinn::ReadError::Reset(code)) if code.into_inner() == u64::from(codes::TOO_SLOW)),
        "{ended:?}"
    );
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_shutdown_a_session_answers_its_running_calls_then_says_why_it_ends() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let mut session = Raw::open(&client).await;
    session
        .write(&call_frame(1, call("math/slow-sum", "[5, 100]")))
        .await;
    assert!(eventually(10, || served.stats.running_calls() == 1).await);
    let stopping = tokio::spawn(served.stop());
    assert_eq!(
        session.next_final().await,
        (Some(1), Response::Ok(Value::from(15)))
    );
    let (id, answer) = session.next_final().await;
    assert_eq!(id, None);
    let e = error(answer);
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(e.message.contains("shutting down"), "{}", e.message);
    assert!(session.next().await.is_none(), "then the session ends");
    stopping.await.unwrap();
}
