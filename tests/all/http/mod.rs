//! The HTTP gateway over real loopback HTTP, by area: calls (JSON,
//! problems, SSE, NDJSON, WebSockets, blobs), jobs and callbacks to a real
//! receiver, callers and browsers (tokens, OpenAPI per caller, Origin and
//! Host, HTTPS), and what an operator watches (metrics, status, events,
//! the pages).

mod access;
mod calls;
mod jobs;
mod observe;

use std::time::Duration;

use serde_json::Value as Json;

use crate::harness::server::{Setup, TestServer};
use crate::support::example;

pub(super) fn examples() -> Setup {
    Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("text", &example("text"), "")
        .plugin("streams", &example("streams"), "")
        .http()
}

pub(super) fn base(server: &TestServer) -> &str {
    server.http.as_deref().expect("the gateway runs")
}

/// GETs `path` from the gateway.
pub(super) async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", base(server)))
        .send()
        .await
        .unwrap()
}

/// GETs `path` from the gateway as the caller with `token`.
pub(super) async fn get_as(server: &TestServer, path: &str, token: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", base(server)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// POSTs `body` to `/v1/call/{node}`: the status, content type and JSON.
pub(super) async fn call(server: &TestServer, node: &str, body: &str) -> (u16, String, Json) {
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

/// The events of an SSE body: (name, JSON data).
pub(super) fn sse_events(body: &str) -> Vec<(String, Json)> {
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
