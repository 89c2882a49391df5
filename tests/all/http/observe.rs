//! What an operator watches: metrics, status, live events and the pages
//! served from the binary.

use std::time::Duration;

use serde_json::Value as Json;

use super::{base, call, client, examples, get, sse_events};
use crate::support::example;

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
async fn status_and_live_events_show_plugins_as_they_change() {
    let server = examples().start().await;
    let status: Json = get(&server, "/v1/status").await.json().await.unwrap();
    let math = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "math")
        .unwrap()
        .clone();
    assert_eq!(math["state"], "ready");
    let mut events = get(&server, "/v1/events").await;
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
