//! The HTTP gateway over real loopback HTTP: JSON calls and problem
//! details, SSE and NDJSON, WebSocket channels, jobs with callbacks to a
//! real receiver, blobs, callers, OpenAPI (checked by a real validator)
//! and metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use warden_host::host::{CallbackSettings, HostConfig};
use warden_host::http::{HttpConfig, HttpError, HttpServer};

use crate::access::{ALICE, access};
use crate::harness::server::{Setup, TestServer};
use crate::support::example;

fn examples() -> Setup {
    Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("text", &example("text"), "")
        .plugin("streams", &example("streams"), "")
        .http()
}

fn base(server: &TestServer) -> &str {
    server.http.as_deref().expect("the gateway runs")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// POSTs `body` to `/v1/call/{node}`: the status, content type and JSON.
async fn call(server: &TestServer, node: &str, body: &str) -> (u16, String, Json) {
    let response = client()
        .post(format!("{}/v1/call/{node}", base(server)))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json = response.json().await.unwrap_or(Json::Null);
    (status, media, json)
}

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

    let http = client();
    let nodes: Json = http
        .get(format!("{}/v1/nodes", base(&server)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["node"].as_str())
        .collect();
    assert!(names.contains(&"math/add") && names.contains(&"text/strings/upper"));
    let upper: Json = http
        .get(format!("{}/v1/nodes/text/strings/upper", base(&server)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(upper["kind"], "call");
    assert_eq!(upper["params"][0]["type"], "string");
    let missing = http
        .get(format!("{}/v1/no/such/endpoint", base(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    server.stop().await;
}

/// The events of an SSE body: (name, JSON data).
fn sse_events(body: &str) -> Vec<(String, Json)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            Some((name?, serde_json::from_str(&data).ok()?))
        })
        .collect()
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
async fn jobs_are_submitted_fetched_listed_and_cancelled() {
    let server = examples().start().await;
    let http = client();
    let submitted = http
        .post(format!("{}/v1/jobs/math/add", base(&server)))
        .body("[2, 3]")
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status().as_u16(), 202);
    let location = submitted.headers()["location"].to_str().unwrap().to_owned();
    let job: Json = submitted.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/jobs/{}", job["id"].as_str().unwrap())
    );
    let listed: Json = http
        .get(format!("{}/v1/jobs", base(&server)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], job["id"]);
    let done: Json = http
        .get(format!("{}{location}?wait=30", base(&server)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["state"], "done");
    assert_eq!(done["result"], 5);
    let gone = http
        .get(format!("{}{location}", base(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404, "fetched jobs are removed");

    let slow: Json = http
        .post(format!("{}/v1/jobs/math/slow-sum", base(&server)))
        .body("[300, 100]")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cancelled: Json = http
        .delete(format!(
            "{}/v1/jobs/{}",
            base(&server),
            slow["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["state"], "cancelled");
    let bad = http
        .post(format!("{}/v1/jobs/math/add", base(&server)))
        .body(r#"["x"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status().as_u16(),
        422,
        "arguments are checked at submit"
    );
    server.stop().await;
}

/// One request a callback receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    signature: String,
    job: String,
    body: String,
}

/// A callback receiver on 127.0.0.1: answers 503 to the first request and
/// 200 after; what it received.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

async fn receiver() -> Receiver {
    use axum::http::{HeaderMap, Method};
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = got.clone();
    let handler = move |method: Method, headers: HeaderMap, body: String| {
        let seen = seen.clone();
        async move {
            let header = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut seen = seen.lock().unwrap();
            seen.push(Received {
                method: method.to_string(),
                signature: header("warden-signature"),
                job: header("warden-job"),
                body,
            });
            if seen.len() == 1 {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            } else {
                axum::http::StatusCode::OK
            }
        }
    };
    let app = axum::Router::new().route(
        "/hooks/{name}",
        axum::routing::post(handler.clone()).put(handler),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/done", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { url, got }
}

const SECRET: &str = "a-test-secret-of-some-length";

fn verify(signature: &str, body: &str) -> bool {
    let Some((t, v1)) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let Ok(tag) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    ring::hmac::verify(&key, format!("{t}.{body}").as_bytes(), &tag).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_reaches_an_allowed_url_signed_after_a_retry_and_others_are_refused() {
    let hooks = receiver().await;
    let allowed = hooks.url.replace("/hooks/done", "/hooks/*");
    let server = examples()
        .config(HostConfig {
            callbacks: CallbackSettings {
                allow: vec![allowed],
                secret: Some(SECRET.into()),
                ..CallbackSettings::default()
            },
            ..HostConfig::default()
        })
        .start()
        .await;
    let http = client();
    // A plain call that asks for a callback becomes a job.
    let accepted = http
        .post(format!("{}/v1/call/math/add", base(&server)))
        .header("Warden-Callback-URL", &hooks.url)
        .body("[20, 22]")
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    let job: Json = accepted.json().await.unwrap();
    let got = hooks.got.clone();
    assert!(
        crate::support::eventually(60, || got.lock().unwrap().len() >= 2).await,
        "the callback was retried after a 503"
    );
    let second = hooks.got.lock().unwrap()[1].clone();
    assert_eq!(second.method, "POST");
    assert_eq!(second.job, job["id"].as_str().unwrap());
    assert!(
        verify(&second.signature, &second.body),
        "bad signature {second:?}"
    );
    assert!(!verify(&second.signature, &second.body.replace("42", "43")));
    let record: Json = serde_json::from_str(&second.body).unwrap();
    assert_eq!(record["state"], "done");
    assert_eq!(record["result"], 42);
    // A method and a key to wrap the record under, as asymmetric takes them.
    let wrapped = http
        .post(format!("{}/v1/call/math/add", base(&server)))
        .header("Warden-Callback-URL", &hooks.url)
        .header("Warden-Callback-Method", "put")
        .header("Warden-Callback-Key", "outcome")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(wrapped.status().as_u16(), 202);
    assert!(crate::support::eventually(60, || got.lock().unwrap().len() >= 3).await);
    let third = hooks.got.lock().unwrap()[2].clone();
    assert_eq!(third.method, "PUT");
    assert!(verify(&third.signature, &third.body));
    let body: Json = serde_json::from_str(&third.body).unwrap();
    assert_eq!(body["outcome"]["result"], 3);
    let bad_method = http
        .post(format!("{}/v1/call/math/add", base(&server)))
        .header("Warden-Callback-URL", &hooks.url)
        .header("Warden-Callback-Method", "DELETE")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_method.status().as_u16(), 400);
    // Elsewhere: refused at submit, and nothing is sent.
    for url in [
        "http://127.0.0.1:9/hooks/done",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let refused = http
            .post(format!("{}/v1/jobs/math/add", base(&server)))
            .header("Warden-Callback-URL", url)
            .body("[1, 1]")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 403, "{url}");
        let problem: Json = refused.json().await.unwrap();
        assert_eq!(problem["kind"], "denied");
    }
    assert_eq!(hooks.got.lock().unwrap().len(), 3);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_and_their_openapi_documents_follow_the_access_rules() {
    let server = examples()
        .config(HostConfig {
            access: Some(access()),
            ..HostConfig::default()
        })
        .start()
        .await;
    let http = client();
    let url = |node: &str| format!("{}/v1/call/{node}", base(&server));
    let anon = http
        .post(url("math/add"))
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(anon.json::<Json>().await.unwrap(), json!(3));
    let refused = http
        .post(url("text/strings/upper"))
        .body(r#"["hi"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert!(refused.headers().contains_key("www-authenticate"));
    let alice = http
        .post(url("text/strings/upper"))
        .bearer_auth(ALICE)
        .body(r#"["hi"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(alice.json::<Json>().await.unwrap(), json!("HI"));
    let wrong = http
        .post(url("math/add"))
        .bearer_auth("wdn_wrong")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let status = http
        .get(format!("{}/v1/status", base(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 401);
    let metrics = http
        .get(format!("{}/metrics", base(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 401);
    // Every caller without a token is `anonymous`: no listing each
    // other's jobs.
    let jobs = http
        .get(format!("{}/v1/jobs", base(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.status().as_u16(), 401);
    let theirs = http
        .get(format!("{}/v1/jobs", base(&server)))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status().as_u16(), 200);

    let openapi = |token: Option<&str>| {
        let mut request = http.get(format!("{}/v1/openapi.json", base(&server)));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let anonymous: Json = openapi(None).await.unwrap().json().await.unwrap();
    crate::openapi::validate(&anonymous);
    let calls: Vec<&String> = anonymous["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.starts_with("/v1/call/"))
        .collect();
    assert_eq!(
        calls,
        ["/v1/call/math/add"],
        "only what the caller may call"
    );
    let theirs: Json = openapi(Some(ALICE)).await.unwrap().json().await.unwrap();
    crate::openapi::validate(&theirs);
    let paths = theirs["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/call/text/apply"));
    assert!(paths.contains_key("/v1/channel/streams/chat/echo"));
    let apply = &paths["/v1/call/text/apply"]["post"];
    assert_eq!(
        apply["requestBody"]["content"]["application/json"]["schema"]["properties"]["style"]["properties"]
            ["letter-case"]["enum"],
        json!(["upper", "lower", "title"])
    );
    assert_eq!(
        theirs["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_calls_made() {
    let server = examples().start().await;
    for _ in 0..3 {
        call(&server, "math/add", "[1, 1]").await;
    }
    call(&server, "math/divide", "[1, 0]").await;
    call(&server, "math/nope", "[]").await;
    let text = client()
        .get(format!("{}/metrics", base(&server)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        line(r#"warden_calls_total{node="math/add",outcome="ok"}"#),
        "3"
    );
    assert_eq!(
        line(r#"warden_calls_total{node="math/divide",outcome="node-error"}"#),
        "1"
    );
    assert_eq!(line(r#"warden_refusals_total{kind="not-found"}"#), "1");
    assert_eq!(
        line(r#"warden_call_duration_seconds_count{node="math/add"}"#),
        "3"
    );
    assert_eq!(line(r#"warden_plugins{state="ready"}"#), "3");
    assert!(text.contains("# TYPE warden_calls_in_flight gauge"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_docs_are_served_from_the_binary() {
    let server = examples().start().await;
    let http = client();
    for (path, media, needle) in [
        ("/", "text/html", "/assets/dashboard.js"),
        ("/docs", "text/html", "/assets/docs.js"),
        ("/assets/common.js", "text/javascript", "export"),
        ("/assets/app.css", "text/css", "{"),
    ] {
        let response = http
            .get(format!("{}{path}", base(&server)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(media),
            "{path}"
        );
        assert!(headers.contains_key("content-security-policy"));
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_address_needs_access_control() {
    let host = warden_host::Host::builder().build().unwrap();
    let config = HttpConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..HttpConfig::default()
    };
    match HttpServer::bind(&config, host).await {
        Err(e @ HttpError::PublicWithoutAccess(_)) => {
            assert!(e.to_string().contains("[access]"), "{e}");
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a public address was served without access control"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_other_sites_and_other_host_names_are_turned_away() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = examples().start().await;
    let http = client();
    let url = format!("{}/v1/call/math/add", base(&server));
    let own = base(&server).to_owned();
    let from = |origin: &str| {
        http.post(&url)
            .header("origin", origin)
            .body("[1, 2]")
            .send()
    };
    // A page of another site may not call (no-cors POSTs need no preflight).
    let foreign = from("http://evil.example").await.unwrap();
    assert_eq!(foreign.status().as_u16(), 403);
    assert_eq!(foreign.json::<Json>().await.unwrap()["kind"], "denied");
    assert_eq!(from("null").await.unwrap().status().as_u16(), 403);
    // The gateway's own pages may.
    assert_eq!(
        from(&own).await.unwrap().json::<Json>().await.unwrap(),
        json!(3)
    );
    // Without access control only loopback names reach it (DNS rebinding).
    let rebound = http
        .post(&url)
        .header("host", "evil.example")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 403);
    // Nor may another site open a WebSocket.
    let ws = format!(
        "{}/v1/channel/streams/chat/echo",
        own.replace("http://", "ws://")
    );
    let mut request = ws.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403);
        }
        other => panic!("a foreign page opened a WebSocket: {:?}", other.map(|_| ())),
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
async fn https_serves_with_the_servers_certificate() {
    use warden_host::rpc::ServerIdentity;
    let server = examples().start().await;
    let (identity, _) = ServerIdentity::load_or_generate(server.state_path()).unwrap();
    let config = HttpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(Arc::new(identity.http_server_config().unwrap())),
        ..HttpConfig::default()
    };
    let gateway = HttpServer::bind(&config, server.host.clone())
        .await
        .unwrap();
    let port = gateway.local_addr().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(gateway.run(async {
        let _ = stopped.await;
    }));
    let pem = std::fs::read(server.state_path().join(warden_host::rpc::tls::CERT_FILE)).unwrap();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    for http2 in [false, true] {
        let mut request = trusting
            .post(format!("https://localhost:{port}/v1/call/math/add"))
            .body("[20, 22]");
        if http2 {
            request = request.version(reqwest::Version::HTTP_2);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.json::<Json>().await.unwrap(), json!(42));
    }
    // Plain HTTP on the TLS port gets nowhere.
    let plain = client()
        .post(format!("http://localhost:{port}/v1/call/math/add"))
        .body("[1, 1]")
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    let _ = stop.send(());
    let _ = task.await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_live_events_show_plugins_as_they_change() {
    let server = examples().start().await;
    let http = client();
    let status: Json = http
        .get(format!("{}/v1/status", base(&server)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let math = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "math")
        .unwrap()
        .clone();
    assert_eq!(math["state"], "ready");
    let mut events = http
        .get(format!("{}/v1/events", base(&server)))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    // The status comes at once; a plugin dropped in brings it again.
    let mut dropped = false;
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(chunk)) = events.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            let statuses = sse_events(&seen);
            if !dropped && !statuses.is_empty() {
                std::fs::copy(example("math"), server.plugin_dir().join("extra.wasm")).unwrap();
                dropped = true;
            }
            let has_extra = statuses.iter().any(|(name, data)| {
                name == "status"
                    && data["plugins"].as_array().is_some_and(|p| {
                        p.iter()
                            .any(|p| p["name"] == "extra" && p["state"] == "ready")
                    })
            });
            if has_extra {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(found, Ok(true)), "no live update: {seen}");
    drop(events);
    server.stop().await;
}
