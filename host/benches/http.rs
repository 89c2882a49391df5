//! Benchmark (not a test) of the HTTP gateway, each figure beside a
//! baseline measured in the same run:
//!
//! - calls/s of `POST /v1/call/math/add` with 64 requests in flight
//!   (HTTP/1.1 keep-alive, 64 connections), against a bare axum handler
//!   that parses the same JSON body and returns the same value (no wasm,
//!   no host): the gateway's share of a call;
//! - the CPU time per call of both, client and server together, and the
//!   same figures for a call the gateway refuses (404, no wasm): where the
//!   gateway's time goes;
//! - sequential p50 of the same.
//!
//! Client and server run in this one process (two tokio worker threads),
//! on 127.0.0.1 only, bounded to a few seconds per figure. Run with
//! `cargo bench --bench http`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::post;

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::plugins::example;
use harness::server::Setup;
use harness::timing::cpu_time;

fn report(name: &str, unit: &str, value: f64, baseline: f64, target: &str) {
    let ratio = value / baseline;
    println!(
        "{name:<40} {value:>12.1} {unit:<6} baseline {baseline:>12.1} {unit:<6} ratio {ratio:>5.2}  ({target})"
    );
    println!(
        "{{\"bench\":\"{name}\",\"unit\":\"{unit}\",\"value\":{value:.2},\"baseline\":{baseline:.2},\"ratio\":{ratio:.3}}}"
    );
}

/// A bare axum server answering `POST /v1/call/math/add` by adding the two
/// numbers of its JSON body; its base URL.
async fn bare_axum() -> String {
    async fn add(Json(args): Json<(i64, i64)>) -> Json<i64> {
        Json(args.0 + args.1)
    }
    let app = axum::Router::new().route("/v1/call/math/add", post(add));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        // As the gateway does: answers are not held back by Nagle.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(listener, app).await;
    });
    base
}

const IN_FLIGHT: usize = 64;
const DURATION: Duration = Duration::from_secs(4);

/// Calls/s of `url` with `IN_FLIGHT` requests of `body` at once for
/// `DURATION`, and the CPU time each took (client and server together);
/// every answer must have status `expect`.
async fn throughput(url: &str, body: &'static str, expect: u16) -> (f64, f64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .unwrap();
    // Warm the connections.
    for _ in 0..IN_FLIGHT {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
    }
    let started = Instant::now();
    let cpu = cpu_time();
    let workers = (0..IN_FLIGHT).map(|_| {
        let client = client.clone();
        let url = url.to_owned();
        tokio::spawn(async move {
            let mut done = 0u64;
            while started.elapsed() < DURATION {
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = answer.status();
                let body = answer.bytes().await.unwrap();
                assert_eq!(
                    status.as_u16(),
                    expect,
                    "{}",
                    String::from_utf8_lossy(&body)
                );
                done += 1;
            }
            done
        })
    });
    let mut calls = 0;
    for worker in workers {
        calls += worker.await.unwrap();
    }
    let cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / calls as f64;
    (calls as f64 / started.elapsed().as_secs_f64(), cpu)
}

/// The median round trips of `a` and `b`, one call at a time, taken in
/// turns so both see the same conditions (after 200 of each to warm up).
async fn sequential_p50(a: &str, b: &str) -> (Duration, Duration) {
    let client = reqwest::Client::new();
    let once = |url: &str| {
        let request = client
            .post(url)
            .header("content-type", "application/json")
            .body("[1, 2]");
        async move {
            let started = Instant::now();
            let answer = request.send().await.unwrap();
            let _ = answer.bytes().await.unwrap();
            started.elapsed()
        }
    };
    for _ in 0..200 {
        once(a).await;
        once(b).await;
    }
    let (mut ta, mut tb) = (Vec::with_capacity(2000), Vec::with_capacity(2000));
    for _ in 0..2000 {
        ta.push(once(a).await);
        tb.push(once(b).await);
    }
    ta.sort();
    tb.sort();
    (ta[ta.len() / 2], tb[tb.len() / 2])
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("warden HTTP gateway (client and server in one process, 127.0.0.1)");
    println!();
    tokio.block_on(async {
        let server = Setup::new()
            .plugin("math", &example("math"), "")
            .http()
            .max_calls(1024)
            .start()
            .await;
        let gateway = format!("{}/v1/call/math/add", server.http.as_deref().unwrap());
        let bare = format!("{}/v1/call/math/add", bare_axum().await);
        let (warden_p50, bare_p50) = sequential_p50(&gateway, &bare).await;
        report(
            "http sequential math/add p50",
            "us",
            warden_p50.as_secs_f64() * 1e6,
            bare_p50.as_secs_f64() * 1e6,
            "baseline: a bare axum handler",
        );
        let (warden, warden_cpu) = throughput(&gateway, "[1, 2]", 200).await;
        let (baseline, baseline_cpu) = throughput(&bare, "[1, 2]", 200).await;
        report(
            "http 64 in flight calls/s",
            "call/s",
            warden,
            baseline,
            "target >= 0.7x a bare axum handler",
        );
        report(
            "http 64 in flight CPU per call",
            "us",
            warden_cpu,
            baseline_cpu,
            "client and server; baseline: a bare axum handler",
        );
        // Where the time goes: the gateway refusing a call of a node that
        // does not exist (connection handling, middleware, the caller, the
        // host's lookup; no body read, no wasm, no conversion).
        let missing = format!("{}/v1/call/math/nope", server.http.as_deref().unwrap());
        let (refused, refused_cpu) = throughput(&missing, "[1, 2]", 404).await;
        report(
            "http 64 in flight, refused (404) calls/s",
            "call/s",
            refused,
            baseline,
            "the gateway without wasm; baseline: a bare axum handler",
        );
        report(
            "http 64 in flight, refused (404) CPU/call",
            "us",
            refused_cpu,
            baseline_cpu,
            "the gateway without wasm; baseline: a bare axum handler",
        );
        // The same with the body read and converted: arguments that do
        // not fit the node (422 bad-args), still no wasm.
        let (bad, bad_cpu) = throughput(&gateway, "[1]", 422).await;
        report(
            "http 64 in flight, bad args (422) calls/s",
            "call/s",
            bad,
            baseline,
            "body read and converted, no wasm; baseline: a bare axum handler",
        );
        report(
            "http 64 in flight, bad args (422) CPU/call",
            "us",
            bad_cpu,
            baseline_cpu,
            "body read and converted, no wasm; baseline: a bare axum handler",
        );
        server.stop().await;
    });
}
