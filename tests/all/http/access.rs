//! Callers and browsers: tokens, OpenAPI per caller (validated), other
//! sites' pages and host names, HTTPS, public addresses.

use std::sync::Arc;

use serde_json::{Value as Json, json};
use warden_host::host::HostConfig;
use warden_host::http::{HttpConfig, HttpError, HttpServer};

use super::{base, client, examples, get, get_as};
use crate::access::{ALICE, access};

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
    let status = get(&server, "/v1/status").await;
    assert_eq!(status.status().as_u16(), 401);
    let metrics = get(&server, "/metrics").await;
    assert_eq!(metrics.status().as_u16(), 401);
    // Every caller without a token is `anonymous`: no listing each
    // other's jobs.
    let jobs = get(&server, "/v1/jobs").await;
    assert_eq!(jobs.status().as_u16(), 401);
    let theirs = get_as(&server, "/v1/jobs", ALICE).await;
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
