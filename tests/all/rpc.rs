//! The QUIC server and client over real loopback QUIC.

use std::time::Duration;

use rmpv::Value;
use warden_host::proto::{FrameDecoder, Request, Response, encode_frame};
use warden_host::rpc::{CallOpts, Client, ClientError, Event, ServerConfig, ServerIdentity, Trust};
use warden_host::{ErrorKind, LogLevel};

use crate::harness::server::Setup;
use crate::support::{eventually, example, mp, test_plugin};

/// A server with the examples `math` and `text` and the test plugins
/// `types` and `hostile`.
pub(crate) fn standard() -> Setup {
    Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("text", &example("text"), "")
        .plugin("types", &test_plugin("types"), "")
        .plugin("hostile", &test_plugin("hostile"), "")
}

fn call_err(result: Result<Value, ClientError>) -> warden_host::CallError {
    match result {
        Err(ClientError::Call(e)) => e,
        other => panic!("expected a call error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_nodes_answer_over_the_wire() {
    let server = standard().start().await;
    let client = server.client().await;
    assert_eq!(
        client.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );
    assert_eq!(
        client
            .call("math/add", mp(r#"{"a": -1, "b": -2}"#))
            .await
            .unwrap(),
        Value::from(-3)
    );
    assert_eq!(
        client.call("math/divide", mp("[9, 2]")).await.unwrap(),
        Value::F64(4.5)
    );
    let err = call_err(client.call("math/divide", mp("[9, 0]")).await);
    assert_eq!(err.kind, ErrorKind::NodeError);
    assert_eq!(err.details, Some(Value::from("cannot divide 9 by zero")));
    assert_eq!(
        client.call("math/slow-sum", mp("[10, 0]")).await.unwrap(),
        Value::from(55)
    );
    assert_eq!(
        client
            .call("text/strings/upper", mp(r#"["quic"]"#))
            .await
            .unwrap(),
        Value::from("QUIC")
    );
    assert_eq!(
        client
            .call("text/strings/words", mp(r#"["a b  c"]"#))
            .await
            .unwrap(),
        mp(r#"["a", "b", "c"]"#)
    );
    assert_eq!(
        client
            .call("text/strings/join", mp(r#"[["x", "y"], "+"]"#))
            .await
            .unwrap(),
        Value::from("x+y")
    );
    assert_eq!(
        client
            .call("text/strings/reverse", mp(r#"["ab"]"#))
            .await
            .unwrap(),
        Value::from("ba")
    );
    assert_eq!(
        client
            .call("text/stats", mp(r#"["one two"]"#))
            .await
            .unwrap(),
        mp(r#"{"chars": 7, "words": 2, "lines": 1, "longest-word": "two"}"#)
    );
    assert_eq!(
        client
            .call(
                "text/apply",
                mp(r#"["ab", {"letter-case": "upper", "prefix": null, "repeat": 2}]"#)
            )
            .await
            .unwrap(),
        Value::from("ABAB")
    );
    assert_eq!(
        client
            .call("text/tokenize", mp(r#"["a 1"]"#))
            .await
            .unwrap(),
        mp(r#"[{"word": "a"}, "space", {"number": 1}]"#)
    );
    assert_eq!(
        client
            .call("text/case-of", mp(r#"["Title Case"]"#))
            .await
            .unwrap(),
        Value::from("title")
    );
    // Binary data travels as MessagePack bin.
    let bytes = Value::Binary((0..=255).collect());
    assert_eq!(
        client
            .call("types/echo/echo-bytes", Value::Array(vec![bytes.clone()]))
            .await
            .unwrap(),
        bytes
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_of_numbers_and_bytes_over_the_wire_read_and_answer_like_any_value() {
    // The server reads a numbers node's list and a bytes node's bytes
    // straight from the request's MessagePack and writes the answer
    // straight back; what the client sees is what the general path gives,
    // errors included.
    let server = standard()
        .plugin(
            "small",
            &test_plugin("types"),
            "[limits]\nmax_result = \"1 KiB\"",
        )
        .start()
        .await;
    let client = server.client().await;
    let ints: Vec<Value> = (0..16_384)
        .map(|i: i64| Value::from((i - 8192) * 262_139))
        .collect();
    let list = Value::Array(ints.clone());
    for args in [
        Value::Array(vec![list.clone()]),
        Value::Map(vec![("v".into(), list.clone())]),
    ] {
        assert_eq!(
            client.call("types/echo/echo-list", args).await.unwrap(),
            list
        );
    }
    let err = call_err(
        client
            .call("types/echo/echo-list", mp("[[1, 2147483648]]"))
            .await,
    );
    assert_eq!(err.kind, ErrorKind::BadArgs);
    assert!(err.message.contains("at `[1]`"), "{}", err.message);
    assert!(err.message.contains("out of range"), "{}", err.message);
    let err = call_err(client.call("types/echo/echo-list", mp("[[1.5]]")).await);
    assert_eq!(err.kind, ErrorKind::BadArgs, "{}", err.message);
    let err = call_err(client.call("types/echo/echo-list", mp("[[1], [2]]")).await);
    assert_eq!(err.kind, ErrorKind::BadArgs, "{}", err.message);
    assert!(err.message.contains("takes 1 argument"), "{}", err.message);
    // The result cap counts 9 bytes a number, as on the general path.
    let fits: Vec<Value> = (0..110).map(Value::from).collect();
    assert_eq!(
        client
            .call(
                "small/echo/echo-list",
                Value::Array(vec![Value::Array(fits.clone())])
            )
            .await
            .unwrap(),
        Value::Array(fits)
    );
    let err = call_err(
        client
            .call("small/echo/echo-list", Value::Array(vec![list]))
            .await,
    );
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{}", err.message);
    assert!(err.message.contains("result cap"), "{}", err.message);

    // Bytes of each MessagePack `bin` size, by position and by name.
    for len in [0usize, 200, 70_000] {
        let bytes = Value::Binary((0..len).map(|i| (i % 251) as u8).collect());
        for args in [
            Value::Array(vec![bytes.clone()]),
            Value::Map(vec![("v".into(), bytes.clone())]),
        ] {
            assert_eq!(
                client.call("types/echo/echo-bytes", args).await.unwrap(),
                bytes
            );
        }
    }
    let err = call_err(
        client
            .call("types/echo/echo-bytes", mp(r#"["text"]"#))
            .await,
    );
    assert_eq!(err.kind, ErrorKind::BadArgs, "{}", err.message);
    let err = call_err(
        client
            .call(
                "small/echo/echo-bytes",
                Value::Array(vec![Value::Binary(vec![1; 2000])]),
            )
            .await,
    );
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{}", err.message);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_past_the_limits_get_a_call_error_not_a_lost_connection() {
    // A request frame over the server's 16 MiB limit is refused before it
    // is read to its end: the client reads why instead of reporting its
    // write as a lost connection.
    let server = standard().start().await;
    let client = server.client().await;
    for mib in [17usize, 40] {
        let args = Value::Array(vec![Value::Binary(vec![1; mib << 20])]);
        let err = call_err(client.call("types/echo/echo-bytes", args).await);
        assert_eq!(err.kind, ErrorKind::BadRequest, "{}", err.message);
        assert!(
            err.message
                .contains("exceeds the maximum frame size of 16777216 bytes"),
            "{}",
            err.message
        );
        assert!(err.message.contains("as a blob"), "{}", err.message);
    }
    // Within the frame limit, the node's own limits answer.
    let args = Value::Array(vec![Value::Binary(vec![1; 9 << 20])]);
    let err = call_err(client.call("types/echo/echo-bytes", args).await);
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{}", err.message);
    // The connection goes on.
    assert_eq!(
        client.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_on_one_connection_are_all_right() {
    let server = standard().max_calls(1000).start().await;
    let client = server.client().await;
    let calls = (0..1000i64).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let sum = client.call("math/add", mp(&format!("[{i}, {i}]"))).await;
            (i, sum)
        })
    });
    let results = futures::future::join_all(calls).await;
    for result in results {
        let (i, sum) = result.unwrap();
        assert_eq!(sum.unwrap(), Value::from(2 * i), "call {i}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_log_frames_arrive_in_order_before_the_result() {
    let server = standard().start().await;
    let client = server.client().await;
    let mut stream = client
        .call_with("math/slow-sum", mp("[5, 1]"), CallOpts::default())
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event);
    }
    assert_eq!(stream.result().await.unwrap(), Value::from(15));
    assert_eq!(
        events[0],
        Event::Log {
            level: LogLevel::Info,
            message: "summing 1..=5".into()
        }
    );
    let progress: Vec<(f32, String)> = events[1..]
        .iter()
        .map(|e| match e {
            Event::Progress { fraction, message } => (*fraction, message.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let expected: Vec<(f32, String)> = (1..=5)
        .map(|i| (i as f32 / 5.0, format!("added {i} of 5")))
        .collect();
    assert_eq!(progress, expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_cancels_it_and_the_server_keeps_serving() {
    let server = standard().start().await;
    let client = server.client().await;
    let stream = client
        .call_with("hostile/spin", mp("[]"), CallOpts::default())
        .await
        .unwrap();
    assert!(
        eventually(5, || server.stats.running_calls() == 1).await,
        "the spin call started"
    );
    drop(stream);
    // hostile/spin has a 10 s timeout; cancellation ends it long before.
    assert!(
        eventually(5, || server.stats.running_calls() == 0).await,
        "the guest was interrupted"
    );
    assert_eq!(
        client.call("math/add", mp("[2, 2]")).await.unwrap(),
        Value::from(4)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_deadline_is_a_timeout() {
    let server = standard().start().await;
    let client = server.client().await;
    let opts = CallOpts {
        deadline: Some(Duration::from_millis(300)),
        meta: None,
    };
    let result = client
        .call_with("hostile/spin", mp("[]"), opts)
        .await
        .unwrap()
        .result()
        .await;
    let err = call_err(result);
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(err.message.contains("caller's deadline"), "{}", err.message);
    assert_eq!(server.stats.running_calls(), 0);
    server.stop().await;
}

/// Sends `bytes` on a fresh stream and returns the server's final frame.
async fn raw_exchange(client: &Client, bytes: &[u8], finish: bool) -> Response {
    let (mut send, mut recv) = client.open_raw().await.unwrap();
    // The server may stop reading early (too large); a failed write is fine.
    let _ = send.write_all(bytes).await;
    if finish {
        let _ = send.finish();
    }
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut buf = vec![0u8; 4096];
    loop {
        if let Some(v) = decoder.next_frame().unwrap() {
            let response = Response::from_value(v).unwrap();
            if response.is_final() {
                return response;
            }
            continue;
        }
        match recv.read(&mut buf).await.unwrap() {
            Some(n) => decoder.push(&buf[..n]),
            None => panic!("stream ended without a final frame"),
        }
    }
}

fn expect_err(response: Response, kind: ErrorKind, needle: &str) {
    match response {
        Response::Err(e) => {
            assert_eq!(e.kind, kind, "{}", e.message);
            assert!(
                e.message.contains(needle),
                "`{}` lacks `{needle}`",
                e.message
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_typed_errors_and_the_connection_goes_on() {
    let server = standard()
        .server(ServerConfig {
            max_frame_bytes: 64 << 10,
            ..ServerConfig::default()
        })
        .start()
        .await;
    let client = server.client().await;

    // A frame announcing more than the maximum, sent in full.
    let mut oversized = (1u32 << 20).to_be_bytes().to_vec();
    oversized.extend(std::iter::repeat_n(0u8, 1 << 20));
    expect_err(
        raw_exchange(&client, &oversized, true).await,
        ErrorKind::BadRequest,
        "exceeds the maximum frame size",
    );
    // Garbage that is not MessagePack.
    expect_err(
        raw_exchange(&client, &[0, 0, 0, 3, 0xc1, 0xc1, 0xc1], true).await,
        ErrorKind::BadRequest,
        "not valid MessagePack",
    );
    // Plain garbage bytes: a huge announced length.
    expect_err(
        raw_exchange(&client, b"GET / HTTP/1.1\r\n\r\n", true).await,
        ErrorKind::BadRequest,
        "exceeds",
    );
    // A frame cut short by the end of the stream.
    expect_err(
        raw_exchange(&client, &[0, 0, 0, 10, 0x81], true).await,
        ErrorKind::BadRequest,
        "ended inside a frame",
    );
    // Valid MessagePack, but not a request.
    let mut frame = Vec::new();
    encode_frame(&mp(r#"{"type": "dance"}"#), &mut frame);
    expect_err(
        raw_exchange(&client, &frame, true).await,
        ErrorKind::BadRequest,
        "unknown request type `dance`",
    );
    let mut frame = Vec::new();
    encode_frame(&Value::from(42), &mut frame);
    expect_err(
        raw_exchange(&client, &frame, true).await,
        ErrorKind::BadRequest,
        "expected a MessagePack map",
    );
    // An empty stream.
    expect_err(
        raw_exchange(&client, &[], true).await,
        ErrorKind::BadRequest,
        "before a request frame",
    );
    // Unknown node and wrong argument types, as well-formed requests.
    let call = |node: &str, args: &str| {
        let mut out = Vec::new();
        let request = Request::Call {
            node: node.into(),
            args: mp(args),
            deadline_ms: None,
            meta: None,
        };
        encode_frame(&request.to_value(), &mut out);
        out
    };
    expect_err(
        raw_exchange(&client, &call("math/nope", "[]"), true).await,
        ErrorKind::NotFound,
        "no node `nope`",
    );
    expect_err(
        raw_exchange(&client, &call("nope", "[]"), true).await,
        ErrorKind::NotFound,
        "nope",
    );
    expect_err(
        raw_exchange(&client, &call("math/add", r#"["x", 1]"#), true).await,
        ErrorKind::BadArgs,
        "parameter `a`",
    );

    // After all that, the same connection still serves calls.
    assert_eq!(
        client.call("math/add", mp("[20, 22]")).await.unwrap(),
        Value::from(42)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_concurrency_limit_are_overloaded_not_queued() {
    let server = standard().max_calls(1).start().await;
    let client = server.client().await;
    let slow = client
        .call_with("math/slow-sum", mp("[20, 50]"), CallOpts::default())
        .await
        .unwrap();
    assert!(eventually(5, || server.stats.running_calls() == 1).await);
    let err = call_err(client.call("math/add", mp("[1, 1]")).await);
    assert_eq!(err.kind, ErrorKind::Overloaded);
    assert!(
        err.message.contains("maximum of 1 calls"),
        "{}",
        err.message
    );
    assert_eq!(slow.result().await.unwrap(), Value::from(210));
    assert_eq!(
        client.call("math/add", mp("[1, 1]")).await.unwrap(),
        Value::from(2)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_and_describe_list_callable_nodes() {
    let server = standard().start().await;
    let client = server.client().await;
    let catalog = client.catalog().await.unwrap();
    let names: Vec<&str> = catalog.iter().map(|n| n.node.as_str()).collect();
    assert!(
        names.contains(&"math/add") && names.contains(&"text/strings/upper"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("make-counter")),
        "resource functions are not nodes"
    );
    let add = client.describe("math/add").await.unwrap();
    assert_eq!(add.signature(), "math/add: func(a: s64, b: s64) -> s64");
    assert_eq!(add.params_schema["required"], serde_json::json!(["a", "b"]));
    let err = client.describe("math/nope").await.unwrap_err();
    assert_eq!(err.kind(), "not-found");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_fingerprint_is_refused() {
    let server = standard().start().await;
    let wrong = "00".repeat(32);
    let err = Client::connect(&server.addr, Trust::Fingerprint(wrong))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), "connect");
    assert!(err.to_string().contains(&server.fingerprint), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_is_trusted_for_its_names() {
    let state = tempfile::tempdir().unwrap();
    let (identity, _) = ServerIdentity::load_or_generate(state.path()).unwrap();
    let server = standard().identity(identity).start().await;
    let ca = Trust::CaFile(state.path().join("cert.pem"));
    let port = server.addr.rsplit(':').next().unwrap();
    // The generated certificate names localhost and 127.0.0.1.
    let client = Client::connect(&format!("localhost:{port}"), ca.clone())
        .await
        .unwrap();
    assert_eq!(
        client.call("math/add", mp("[1, 1]")).await.unwrap(),
        Value::from(2)
    );
    let other = tempfile::tempdir().unwrap();
    let (_, _) = ServerIdentity::load_or_generate(other.path()).unwrap();
    let untrusted = Trust::CaFile(other.path().join("cert.pem"));
    assert!(Client::connect(&server.addr, untrusted).await.is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_after_the_server_restarts() {
    let state = tempfile::tempdir().unwrap();
    let (identity, _) = ServerIdentity::load_or_generate(state.path()).unwrap();
    let first = standard().identity(identity.clone()).start().await;
    let client = first.client().await;
    assert_eq!(
        client.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );
    let addr = first.addr.clone();
    first.stop().await;
    // The same identity on the same port: a restarted server.
    let second = Setup::new()
        .plugin("math", &example("math"), "")
        .identity(identity)
        .listen(addr.parse().unwrap())
        .start()
        .await;
    assert_eq!(
        client.call("math/add", mp("[3, 4]")).await.unwrap(),
        Value::from(7)
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_calls_finish() {
    let server = standard().start().await;
    let client = server.client().await;
    let slow = client
        .call_with("math/slow-sum", mp("[5, 100]"), CallOpts::default())
        .await
        .unwrap();
    assert!(eventually(5, || server.stats.running_calls() == 1).await);
    let stopping = tokio::spawn(server.stop());
    let result = slow.result().await;
    assert_eq!(
        result.unwrap(),
        Value::from(15),
        "the running call finished"
    );
    stopping.await.unwrap();
    assert!(
        client.call("math/add", mp("[1, 1]")).await.is_err(),
        "no calls after shutdown"
    );
}

/// The rule "no public address without `[access]`" holds for library users
/// too: it is enforced where the listener is bound, before any socket opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_a_public_address_needs_access_control() {
    let host = warden_host::Host::builder().build().unwrap();
    let state = tempfile::tempdir().unwrap();
    let (identity, _) = ServerIdentity::load_or_generate(state.path()).unwrap();
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:7443"] {
        let config = ServerConfig {
            listen: listen.parse().unwrap(),
            ..ServerConfig::default()
        };
        match warden_host::rpc::Server::bind(&config, &identity, host.clone()) {
            Err(warden_host::rpc::ServerError::PublicWithoutAccess(addr)) => {
                assert_eq!(addr, config.listen);
            }
            Err(e) => panic!("{listen}: expected PublicWithoutAccess, got {e}"),
            Ok(_) => panic!("{listen}: a public address was bound on an open host"),
        }
    }
}

/// `Client::close` returns once the server has been told, without waiting
/// out the closed connection's draining period (three probe timeouts, at
/// least 75 ms: `warden call` used to linger that long after printing its
/// result). The server sees each connection closed by its client, never
/// timed out, and the draining still ends by itself afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_client_tells_the_server_without_waiting_out_the_draining() {
    let server = Setup::new()
        .plugin("math", &example("math"), "")
        .start()
        .await;
    // Not timed: a `close` that waited for the draining to end always
    // returns with no connection left. One that does not finds its
    // connection still draining, unless this thread stalled for the whole
    // period after `close` returned; three stalls in a row do not happen.
    let mut clients = Vec::new();
    let mut still_draining = false;
    while !still_draining && clients.len() < 3 {
        let client = server.client().await;
        assert_eq!(
            client.call("math/add", mp("[1, 2]")).await.unwrap(),
            Value::from(3)
        );
        client.close().await;
        still_draining = client.open_connections() == 1;
        clients.push(client);
    }
    assert!(
        still_draining,
        "Client::close waited until the closed connection had drained"
    );
    let closed = clients.len() as u64;
    // The idle timeout is 60 s: a close the server never got would end its
    // connection only then, and be counted as timed out.
    assert!(
        eventually(90, || server.stats.closed_by_clients()
            + server.stats.timed_out()
            >= closed)
        .await
    );
    assert_eq!(server.stats.closed_by_clients(), closed);
    assert_eq!(server.stats.timed_out(), 0);
    for client in &clients {
        assert!(client.wait_idle(Duration::from_secs(10)).await);
        assert_eq!(client.open_connections(), 0);
    }
}

/// A `warden call` process tells the server it is done before it exits:
/// the server sees the connection closed by its client, not timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warden_call_process_closes_its_connection_before_exiting() {
    let server = Setup::new()
        .plugin("math", &example("math"), "")
        .start()
        .await;
    let (addr, fingerprint) = (server.addr.clone(), server.fingerprint.clone());
    let out = tokio::task::spawn_blocking(move || {
        crate::support::warden(&[
            "call",
            "math/add",
            "1",
            "2",
            "--addr",
            &addr,
            "--fingerprint",
            &fingerprint,
        ])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    // The process has exited. Without its close, the server would notice
    // only after the 60 s idle timeout, and count a timed-out connection.
    assert!(
        eventually(90, || server.stats.closed_by_clients()
            + server.stats.timed_out()
            >= 1)
        .await
    );
    assert_eq!(server.stats.closed_by_clients(), 1);
    assert_eq!(server.stats.timed_out(), 0);
}

/// `Client::close` returns only once the close is on its way, so a program
/// that ends right after it (as `warden call` does) still tells the server.
/// Not timed: on a single-threaded runtime nothing runs after `close`
/// returns, so a close left for the connection's task to send would never
/// go out, and the server would count a timed-out connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closed_just_before_its_runtime_ends_still_tells_the_server() {
    let server = Setup::new()
        .plugin("math", &example("math"), "")
        .start()
        .await;
    let (addr, fingerprint) = (server.addr.clone(), server.fingerprint.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = Client::connect(&addr, Trust::Fingerprint(fingerprint))
                .await
                .unwrap();
            assert_eq!(
                client.call("math/add", mp("[1, 2]")).await.unwrap(),
                Value::from(3)
            );
            client.close().await;
        });
    })
    .join()
    .unwrap();
    assert!(
        eventually(90, || server.stats.closed_by_clients()
            + server.stats.timed_out()
            >= 1)
        .await
    );
    assert_eq!(server.stats.closed_by_clients(), 1);
    assert_eq!(server.stats.timed_out(), 0);
}
