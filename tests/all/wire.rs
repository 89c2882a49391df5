//! The protocol as PROTOCOL.md states it, checked byte by byte over real
//! QUIC, the way a client written in another language sees it: records are
//! maps with named keys in the documented order, enums are strings, the
//! nesting limit is exact, streams are stopped with the same codes
//! everywhere, and shutdown answers what the document says.

use std::time::Duration;

use rmpv::Value;
use warden_host::proto::{FrameDecoder, Request, Response, codes, encode_frame};
use warden_host::rpc::{CallOpts, Client, ClientError};
use warden_host::{CallError, ErrorKind};

use crate::access::plugins;
use crate::rpc::standard;
use crate::support::{eventually, mp};

/// Sends `bytes` on a fresh stream (finishing it when `finish`) and returns
/// every frame of the answer as raw MessagePack, and the code the server
/// stopped our side with, if it did.
async fn exchange(client: &Client, bytes: &[u8], finish: bool) -> (Vec<Value>, Option<u64>) {
    let (mut send, mut recv) = client.open_raw().await.unwrap();
    // The server may stop reading early; a failed write is fine.
    let _ = send.write_all(bytes).await;
    if finish {
        let _ = send.finish();
    }
    let mut decoder = FrameDecoder::new(64 << 20);
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        while let Some(v) = decoder.next_frame().unwrap() {
            frames.push(v);
        }
        match tokio::time::timeout(Duration::from_secs(30), recv.read(&mut buf))
            .await
            .expect("the server answers")
        {
            Ok(Some(n)) => decoder.push(&buf[..n]),
            Ok(None) => break,
            Err(e) => panic!("the stream failed: {e}"),
        }
    }
    let stopped = tokio::time::timeout(Duration::from_secs(5), send.stopped())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .map(|code| code.into_inner());
    (frames, stopped)
}

fn frame(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(value, &mut out);
    out
}

fn request(request: Request) -> Vec<u8> {
    frame(&request.into_value())
}

/// The keys of a map, in order.
fn keys(value: &Value) -> Vec<&str> {
    match value {
        Value::Map(entries) => entries.iter().map(|(k, _)| k.as_str().unwrap()).collect(),
        other => panic!("expected a map with named keys, got {other}"),
    }
}

fn get<'v>(value: &'v Value, key: &str) -> &'v Value {
    value
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no `{key}` in {value}"))
}

/// The value of the final `ok` frame.
fn ok(frames: &[Value]) -> &Value {
    let last = frames.last().expect("a final frame");
    assert_eq!(get(last, "type"), &Value::from("ok"), "{last}");
    get(last, "value")
}

fn err(frames: &[Value]) -> CallError {
    match Response::from_value(frames.last().expect("a final frame").clone()) {
        Ok(Response::Err(e)) => e,
        other => panic!("expected an err frame, got {other:?}"),
    }
}

const NODE_KEYS: [&str; 12] = [
    "node",
    "plugin",
    "params",
    "result",
    "docs",
    "params_schema",
    "result_schema",
    "kind",
    "item",
    "item_schema",
    "input",
    "input_schema",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_maps_with_named_keys_and_enums_are_strings() {
    let server = plugins().start().await;
    let client = server.client().await;

    let (frames, _) = exchange(&client, &request(Request::Catalog), true).await;
    let catalog = ok(&frames).as_array().expect("the catalog is an array");
    let add = catalog
        .iter()
        .find(|n| get(n, "node") == &Value::from("math/add"))
        .expect("math/add is listed");
    assert_eq!(keys(add), NODE_KEYS);
    assert_eq!(get(add, "plugin"), &Value::from("math"));
    assert_eq!(get(add, "kind"), &Value::from("call"));
    assert_eq!(get(add, "result"), &Value::from("s64"));
    assert_eq!(
        get(add, "docs"),
        &Value::from("Adds two integers (wrapping on overflow).")
    );
    let a = &get(add, "params").as_array().unwrap()[0];
    assert_eq!(keys(a), ["name", "type", "schema"]);
    assert_eq!(get(a, "type"), &Value::from("s64"));
    assert_eq!(
        get(get(add, "params_schema"), "type"),
        &Value::from("object")
    );
    let count = catalog
        .iter()
        .find(|n| get(n, "node") == &Value::from("streams/counter/count"))
        .unwrap();
    assert_eq!(get(count, "kind"), &Value::from("stream"));
    assert_eq!(get(count, "item"), &Value::from("u64"));

    let describe = Request::Describe {
        node: "streams/chat/echo".into(),
    };
    let (frames, _) = exchange(&client, &request(describe), true).await;
    let echo = ok(&frames);
    assert_eq!(keys(echo), NODE_KEYS);
    assert_eq!(get(echo, "kind"), &Value::from("channel"));
    assert_eq!(get(echo, "input"), &Value::from("string"));

    let (frames, _) = exchange(&client, &request(Request::Status), true).await;
    let status = ok(&frames);
    assert_eq!(keys(status), ["plugins", "cache"]);
    let math = get(status, "plugins")
        .as_array()
        .unwrap()
        .iter()
        .find(|p| get(p, "name") == &Value::from("math"))
        .unwrap();
    assert_eq!(
        keys(math),
        [
            "name",
            "state",
            "version",
            "loaded_at",
            "nodes",
            "error",
            "description"
        ]
    );
    assert_eq!(get(math, "state"), &Value::from("ready"));
    assert_eq!(keys(get(status, "cache")), ["hits", "misses", "rejected"]);

    let submit = Request::Submit {
        node: "math/add".into(),
        args: mp("[1, 2]"),
        callback: None,
    };
    let (frames, _) = exchange(&client, &request(submit), true).await;
    let job = ok(&frames);
    let job_keys = [
        "id",
        "node",
        "args",
        "caller",
        "state",
        "result",
        "error_kind",
        "error",
        "callback",
        "callback_error",
        "created_ms",
        "finished_ms",
    ];
    assert_eq!(keys(job), job_keys);
    assert_eq!(get(job, "state"), &Value::from("queued"));
    assert_eq!(get(job, "caller"), &Value::from("anonymous"));
    let id = get(job, "id").as_str().unwrap().to_owned();
    let fetch = Request::Job {
        id,
        wait_ms: Some(20_000),
        keep: false,
    };
    let (frames, _) = exchange(&client, &request(fetch), true).await;
    let done = ok(&frames);
    assert_eq!(keys(done), job_keys);
    assert_eq!(get(done, "state"), &Value::from("done"));
    assert_eq!(get(done, "result"), &Value::from(3));

    let failing = Request::Submit {
        node: "math/divide".into(),
        args: mp("[1, 0]"),
        callback: None,
    };
    let (frames, _) = exchange(&client, &request(failing), true).await;
    let id = get(ok(&frames), "id").as_str().unwrap().to_owned();
    let fetch = Request::Job {
        id,
        wait_ms: Some(20_000),
        keep: false,
    };
    let (frames, _) = exchange(&client, &request(fetch), true).await;
    let failed = ok(&frames);
    assert_eq!(get(failed, "state"), &Value::from("failed"));
    assert_eq!(get(failed, "error_kind"), &Value::from("node-error"));

    let (frames, _) = exchange(
        &client,
        &request(Request::Hello {
            token: "anything".into(),
        }),
        true,
    )
    .await;
    assert_eq!(keys(ok(&frames)), ["caller"]);
    client.close().await;
    server.stop().await;
}

/// A call whose `args` nest `levels` arrays deep inside the request map.
fn nested_call(levels: usize) -> Vec<u8> {
    let mut args = Value::from(1);
    for _ in 0..levels {
        args = Value::Array(vec![args]);
    }
    request(Request::Call {
        node: "math/add".into(),
        args,
        deadline_ms: None,
        meta: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_may_nest_256_containers_deep_and_no_deeper() {
    let server = standard().start().await;
    let client = server.client().await;
    // The request map is one container: 255 arrays inside it make 256.
    let (frames, stopped) = exchange(&client, &nested_call(255), false).await;
    let e = err(&frames);
    assert_eq!(
        e.kind,
        ErrorKind::BadArgs,
        "decoded, then refused by the node: {e}"
    );
    assert_eq!(stopped, Some(codes::DONE.into()));
    let (frames, stopped) = exchange(&client, &nested_call(256), false).await;
    let e = err(&frames);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(e.message.contains("nest deeper than 256"), "{}", e.message);
    assert_eq!(stopped, Some(codes::MALFORMED.into()));
    client.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_stopped_with_the_same_codes_everywhere() {
    let server = plugins()
        .server(warden_host::rpc::ServerConfig {
            max_frame_bytes: 64 << 10,
            ..Default::default()
        })
        .start()
        .await;
    let client = server.client().await;
    let too_large = (1u32 << 20).to_be_bytes();
    let garbage = frame(&Value::from("not what goes here"));
    let channel = request(Request::Call {
        node: "streams/chat/echo".into(),
        args: mp(r#"[">"]"#),
        deadline_ms: None,
        meta: None,
    });
    let put = request(Request::BlobPut { size: None });
    for (what, start) in [
        ("a request", Vec::new()),
        ("a channel input", channel),
        ("a blob chunk", put),
    ] {
        let mut big = start.clone();
        big.extend_from_slice(&too_large);
        let (frames, stopped) = exchange(&client, &big, false).await;
        assert_eq!(err(&frames).kind, ErrorKind::BadRequest, "{what}");
        assert_eq!(
            stopped,
            Some(codes::FRAME_TOO_LARGE.into()),
            "{what}: too large"
        );
        let mut bad = start.clone();
        bad.extend_from_slice(&garbage);
        let (frames, stopped) = exchange(&client, &bad, false).await;
        assert_eq!(err(&frames).kind, ErrorKind::BadRequest, "{what}");
        assert_eq!(stopped, Some(codes::MALFORMED.into()), "{what}: malformed");
    }
    // After a request that takes no input, anything more is not read: the
    // answer comes as usual and the stream is stopped with code 0.
    let mut extra = request(Request::Call {
        node: "math/add".into(),
        args: mp("[1, 2]"),
        deadline_ms: None,
        meta: None,
    });
    extra.extend_from_slice(&garbage);
    let (frames, stopped) = exchange(&client, &extra, false).await;
    assert_eq!(ok(&frames), &Value::from(3));
    assert_eq!(stopped, Some(codes::DONE.into()));
    client.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_new_streams_cancelled_and_closes_new_connections_with_code_4() {
    let server = standard().start().await;
    let client = server.client().await;
    // A call that keeps the grace period going for two seconds.
    let slow = client
        .call_with("math/slow-sum", mp("[20, 100]"), CallOpts::default())
        .await
        .unwrap();
    assert!(eventually(10, || server.stats.running_calls() == 1).await);
    let addr = server.addr.clone();
    let fingerprint = server.fingerprint.clone();
    let stopping = tokio::spawn(server.stop());
    // A new request on the open connection is answered `cancelled`.
    let mut cancelled = None;
    for _ in 0..200 {
        match client.call("math/add", mp("[1, 1]")).await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => {
                cancelled = Some(e);
                break;
            }
        }
    }
    match cancelled {
        Some(ClientError::Call(e)) => {
            assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
            assert!(e.message.contains("shutting down"), "{}", e.message);
        }
        other => panic!("expected `cancelled`, got {other:?}"),
    }
    // A new connection completes its handshake and is closed with code 4.
    let trust = warden_host::rpc::Trust::Fingerprint(fingerprint);
    let late = match Client::connect(&addr, trust).await {
        Ok(late) => late.call("math/add", mp("[1, 1]")).await.unwrap_err(),
        Err(e) => e,
    };
    let text = late.to_string();
    assert!(
        text.contains("server shutting down") && text.contains("code 4"),
        "{text}"
    );
    // The call that was running finishes.
    assert_eq!(slow.result().await.unwrap(), Value::from(210));
    stopping.await.unwrap();
}
