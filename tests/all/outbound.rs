//! A JavaScript component built with componentize-js's default flags
//! (which import `wasi:http`) loads and runs, and its outgoing requests
//! reach only what its `http` grant lists: refused without a grant, allowed
//! to a destination named exactly, refused when a wildcard destination
//! resolves to a private address. Against a real HTTP server on 127.0.0.1.

use std::sync::{Arc, Mutex};

use rmpv::Value;
use warden_host::host::{CallIo, Origin, Wait};
use warden_host::{CallEvent, ErrorKind};

use crate::harness::plugins::js_plugin;
use crate::harness::server::{Setup, TestServer};
use crate::support::mp;

/// An HTTP server on 127.0.0.1 answering `GET /` with 11 bytes; its port.
async fn site() -> u16 {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello, wasm" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// Calls `node` with `args` in process; its result and the log lines it
/// sent.
async fn call(server: &TestServer, node: &str, args: &str) -> (Result<Value, String>, Vec<String>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let who = server.host.anonymous();
    let admitted = server
        .host
        .admit(Origin::Caller(&who), node, None, Wait::No)
        .await
        .unwrap();
    let io = CallIo {
        events: Some(Arc::new(move |event| {
            if let CallEvent::Log { message, .. } = event {
                seen.lock().unwrap().push(message);
            }
        })),
        stream: None,
    };
    let result = admitted.run(mp(args), io).await.map_err(|e| {
        assert_eq!(e.kind, ErrorKind::NodeError, "{e}");
        e.message
    });
    let lines = lines.lock().unwrap().clone();
    (result, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_component_loads_and_reaches_only_its_granted_destinations() {
    let port = site().await;
    let fetcher = js_plugin("fetcher");
    let server = Setup::new()
        .plugin("closed", &fetcher, "")
        .plugin(
            "exact",
            &fetcher,
            &format!("[grants]\nhttp = [\"http://127.0.0.1:{port}\"]\n"),
        )
        .plugin(
            "wild",
            &fetcher,
            &format!("[grants]\nhttp = [\"http://*:{port}\"]\n"),
        )
        .start()
        .await;
    // Default componentize-js output (it imports wasi:http) loads and runs.
    let (sum, _) = call(&server, "closed/add", "[40, 2]").await;
    assert_eq!(sum, Ok(Value::from(42)));

    let here = format!(r#"["http://127.0.0.1:{port}/"]"#);
    // No grant: refused, as an error the guest sees (not a trap), logged.
    let (refused, log) = call(&server, "closed/get", &here).await;
    assert!(refused.unwrap_err().contains("NetworkError"));
    assert!(
        log.iter()
            .any(|l| l.contains("refused") && l.contains("`http` grant")),
        "{log:?}"
    );
    // A destination the grant names exactly: allowed, and logged.
    let (fetched, log) = call(&server, "exact/get", &here).await;
    assert_eq!(fetched, Ok(Value::from("200 11")));
    assert!(log.iter().any(|l| l.contains("200")), "{log:?}");
    // Another port is not that destination.
    let (other, _) = call(
        &server,
        "exact/get",
        &format!(r#"["http://127.0.0.1:{}/"]"#, port.wrapping_add(1)),
    )
    .await;
    assert!(other.is_err());
    // A wildcard never reaches a private address: not as a literal, and
    // not through a name that resolves to one.
    let (literal, log) = call(&server, "wild/get", &here).await;
    assert!(literal.is_err());
    assert!(log.iter().any(|l| l.contains("private address")), "{log:?}");
    let by_name = format!(r#"["http://localhost:{port}/"]"#);
    let (resolved, log) = call(&server, "wild/get", &by_name).await;
    assert!(resolved.is_err(), "a wildcard grant reached localhost");
    assert!(
        log.iter().any(|l| l.contains("no public address")),
        "{log:?}"
    );
    server.stop().await;
}
