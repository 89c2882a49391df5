//! Benchmark (not a test) of a call forwarded through a cluster against
//! the same call served locally, both measured in this run:
//!
//! - sequential: p50/p99 of `math/add` over loopback QUIC, 2,000 calls,
//!   through host A (which forwards it over NATS to host B) against the
//!   same call through host B (which serves it);
//! - concurrent: calls/s with 64 in flight on one connection, 10,000
//!   calls, the same two ways.
//!
//! Starts a `nats-server -js` on a free loopback port (it must be
//! installed: `apt-get install -y nats-server`); both hosts, their clients
//! and NATS run on this machine. Run with `cargo bench --bench cluster`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rmpv::Value;
use warden_host::cluster::{Cluster, ClusterConfig};
use warden_host::rpc::Client;

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::nats::Nats;
use harness::plugins::example;
use harness::server::Setup;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Prints one figure beside its baseline (the local call).
fn report(name: &str, unit: &str, value: f64, baseline: f64) {
    let ratio = value / baseline;
    println!(
        "{name:<36} {value:>12.1} {unit:<6} local {baseline:>12.1} {unit:<6} ratio {ratio:>5.2}"
    );
    println!(
        "{{\"bench\":\"{name}\",\"unit\":\"{unit}\",\"value\":{value:.2},\"baseline\":{baseline:.2},\"ratio\":{ratio:.3}}}"
    );
}

fn args() -> Value {
    Value::Array(vec![Value::from(1), Value::from(2)])
}

async fn sequential(client: &Client, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let sum = client.call("math/add", args()).await.expect("the call");
        assert_eq!(sum, Value::from(3));
        times.push(started.elapsed());
    }
    times.sort();
    times
}

async fn concurrent(client: &Client, n: usize, in_flight: usize) -> f64 {
    let started = Instant::now();
    let done = futures::stream::iter(0..n)
        .map(|_| async {
            client.call("math/add", args()).await.expect("the call");
        })
        .buffer_unordered(in_flight)
        .count()
        .await;
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let nats = Nats::start();
        let join = |setup: Setup, id: &'static str| {
            let url = nats.url();
            async move {
                let server = setup.max_calls(1024).start().await;
                let config = ClusterConfig {
                    host: Some(id.to_owned()),
                    ..ClusterConfig::new(url)
                };
                let cluster = Cluster::join(&server.host, &config)
                    .await
                    .expect("the host joins");
                (server, cluster)
            }
        };
        let (a, ca) = join(Setup::new().plugin("text", &example("text"), ""), "a").await;
        let (b, cb) = join(Setup::new().plugin("math", &example("math"), ""), "b").await;
        let until = Instant::now() + Duration::from_secs(10);
        while ca.peers() != ["b"] {
            assert!(Instant::now() < until, "a never heard b");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let through_a = a.client().await;
        let on_b = b.client().await;
        // Warm-up: instances, connections, subscriptions.
        sequential(&through_a, 200).await;
        sequential(&on_b, 200).await;

        let forwarded = sequential(&through_a, 2000).await;
        let local = sequential(&on_b, 2000).await;
        for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
            report(
                &format!("cluster sequential {name}"),
                "us",
                percentile(&forwarded, p).as_secs_f64() * 1e6,
                percentile(&local, p).as_secs_f64() * 1e6,
            );
        }
        let forwarded = concurrent(&through_a, 10_000, 64).await;
        let local = concurrent(&on_b, 10_000, 64).await;
        report(
            "cluster concurrent (64 in flight)",
            "calls/s",
            forwarded,
            local,
        );

        through_a.close().await;
        on_b.close().await;
        for (server, cluster) in [(a, ca), (b, cb)] {
            cluster.leave().await;
            server.stop().await;
        }
    });
}
