//! Calls: JSON in and out, problem details, SSE and NDJSON, WebSocket
//! channels, the decoded-size bound, and blobs.

use futures::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};

use super::{base, call, client, examples, get, sse_events};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_answer_json_and_failures_are_problem_details() {
    let server = examples().start().await;
    assert_eq!(call(&server, "math/add", "[1, 2]").await.2, json!(3));
    assert_eq!(
        call(&server, "math/add", r#"{"a": 40, "b": 2}"#).await.2,
        json!(42)
    );
    assert_eq!(
        call(
            &server,
            "text/apply",
            r#"["hi", {"letter-case": "upper", "prefix": "> ", "repeat": 2}]"#
        )
        .await
        .2,
        json!("> HIHI")
    );
    for (node, body, status, kind) in [
        ("math/divide", "[1, 0]", 422, "node-error"),
        ("math/add", r#"["x", 1]"#, 422, "bad-args"),
        ("math/nope", "[]", 404, "not-found"),
        ("math/add", "[1, ", 400, "bad-request"),
        ("math/add", "\"just a string\"", 400, "bad-request"),
        ("streams/chat/echo", r#"["> "]"#, 400, "bad-request"),
    ] {
        let (got, media, problem) = call(&server, node, body).await;
        assert_eq!(got, status, "{node} {body}: {problem}");
        assert_eq!(media, "application/problem+json");
        assert_eq!(problem["kind"], kind, "{problem}");
        assert_eq!(problem["status"], status);
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (_, _, problem) = call(&server, "math/divide", "[1, 0]").await;
    assert_eq!(problem["detail"], "cannot divide 1 by zero");

    let nodes: Json = get(&server, "/v1/nodes").await.json().await.unwrap();
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["node"].as_str())
        .collect();
    assert!(names.contains(&"math/add") && names.contains(&"text/strings/upper"));
    let upper: Json = get(&server, "/v1/nodes/text/strings/upper")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upper["kind"], "call");
    assert_eq!(upper["params"][0]["type"], "string");
    let missing = get(&server, "/v1/no/such/endpoint").await;
    assert_eq!(missing.status().as_u16(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_logs_and_items_stream_as_sse_and_ndjson() {
    let server = examples().start().await;
    let http = client();
    let sse = |node: &str, body: &'static str| {
        http.post(format!("{}/v1/call/{node}", base(&server)))
            .header("accept", "text/event-stream")
            .body(body)
            .send()
    };
    let response = sse("math/slow-sum", "[4, 20]").await.unwrap();
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let events = sse_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"log"), "{names:?}");
    assert_eq!(events[0].1["message"], "summing 1..=4");
    let progress: Vec<f64> = events
        .iter()
        .filter(|(n, _)| n == "progress")
        .filter_map(|(_, d)| d["fraction"].as_f64())
        .collect();
    assert_eq!(progress, [0.25, 0.5, 0.75, 1.0]);
    assert_eq!(events.last().unwrap(), &("result".to_owned(), json!(10)));

    let events = sse_events(
        &sse("streams/counter/count", "[3, 5]")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let items: Vec<&Json> = events
        .iter()
        .filter(|(n, _)| n == "item")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(items, [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(events.last().unwrap().0, "result");
    let events = sse_events(
        &sse("math/divide", "[1, 0]")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(events.last().unwrap().0, "error");
    assert_eq!(events.last().unwrap().1["kind"], "node-error");

    let ndjson = http
        .post(format!("{}/v1/call/streams/counter/count", base(&server)))
        .body("[3, 5]")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ndjson.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    assert_eq!(ndjson.text().await.unwrap(), "1\n2\n3\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_nodes_talk_over_a_websocket() {
    use tokio_tungstenite::tungstenite::Message;
    let server = examples().start().await;
    let ws_base = base(&server).replace("http://", "ws://");
    let url = format!("{ws_base}/v1/channel/streams/chat/echo?args=%5B%22%3E%20%22%5D");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for message in ["\"hi\"", "\"there\"", ""] {
        socket.send(Message::text(message)).await.unwrap();
    }
    let mut got = Vec::new();
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            got.push(serde_json::from_str::<Json>(text.as_str()).unwrap());
        }
    }
    assert_eq!(
        got,
        [
            json!({"type": "item", "value": "> hi"}),
            json!({"type": "item", "value": "> there"}),
            json!({"type": "item", "value": "bye after 2 message(s)"}),
            json!({"type": "result", "value": null}),
        ]
    );
    // Refusals come before the upgrade, as ordinary problems.
    let refused = tokio_tungstenite::connect_async(format!("{ws_base}/v1/channel/math/add"))
        .await
        .unwrap_err();
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status().as_u16(), 400);
        }
        other => panic!("not refused with a status: {other}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_would_decode_too_big_are_refused_before_decoding() {
    let server = examples().start().await;
    // 600,000 small values in 1.2 MB: far more than 64 MiB once decoded.
    let many = format!("[[{}0], 1]", "0,".repeat(600_000));
    let (status, _, problem) = call(&server, "math/add", &many).await;
    assert_eq!(status, 413, "{problem}");
    assert_eq!(problem["kind"], "resource-limit");
    assert!(
        problem["detail"].as_str().unwrap().contains("once decoded"),
        "{problem}"
    );
    // The gateway goes on.
    assert_eq!(call(&server, "math/add", "[1, 2]").await.2, json!(3));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_go_up_and_come_back_with_etags_and_ranges() {
    let server = examples().start().await;
    let http = client();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let put = http
        .put(format!("{}/v1/blobs", base(&server)))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    let info: Json = put.json().await.unwrap();
    let reference = info["ref"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("blake3:"));
    assert_eq!(info["size"], 300_000);
    let url = format!("{}/v1/blobs/{reference}", base(&server));
    let got = http.get(&url).send().await.unwrap();
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{reference}\""));
    assert_eq!(got.bytes().await.unwrap().as_ref(), &data[..]);
    let cached = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status().as_u16(), 304);
    let part = http
        .get(&url)
        .header("range", "bytes=70000-70009")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        "bytes 70000-70009/300000"
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &data[70_000..70_010]);
    let outside = http
        .get(&url)
        .header("range", "bytes=400000-")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status().as_u16(), 416);
    let missing = http
        .get(format!(
            "{}/v1/blobs/blake3:{}",
            base(&server),
            "0".repeat(64)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    server.stop().await;
}
