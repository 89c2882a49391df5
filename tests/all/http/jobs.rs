//! Jobs over HTTP, and callbacks to a real receiver: signed, retried,
//! with a method and a key, refused outside the allow list.

use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use warden_host::host::{CallbackSettings, HostConfig};

use super::{base, client, examples, get};

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
    let listed: Json = get(&server, "/v1/jobs").await.json().await.unwrap();
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
