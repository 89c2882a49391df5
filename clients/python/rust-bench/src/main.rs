//! The Rust client's side of `clients/python/bench.py`: the same loads the
//! Python client runs, against the same server, so the two are compared
//! within one run.
//!
//! ```sh
//! warden-rust-bench ADDR FINGERPRINT [GROUP..]
//! ```
//!
//! Groups (all by default): `sequential` (p50/p99 of `math/add`, 2,000
//! calls), `concurrent` (calls/s with 64 in flight on one connection,
//! 20,000 calls), `payload` (MB/s of a 1 MiB echo through
//! `types/echo/echo-bytes`, 50 calls). Counts can be changed with
//! `WARDEN_BENCH_SEQ`, `WARDEN_BENCH_CALLS` and `WARDEN_BENCH_ECHO`. Prints
//! one JSON line per figure: `{"figure": NAME, "unit": UNIT, "value": X}`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmpv::Value;
use warden_host::rpc::{Client, ClientError, Trust};

/// Calls in flight in the concurrent group.
const IN_FLIGHT: usize = 64;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn figure(name: &str, unit: &str, value: f64) {
    println!("{{\"figure\":\"{name}\",\"unit\":\"{unit}\",\"value\":{value:.3}}}");
}

async fn run(addr: &str, fingerprint: String, groups: &[String]) -> Result<(), ClientError> {
    let wanted = |g: &str| groups.is_empty() || groups.iter().any(|w| w == g);
    let client = Client::connect(addr, Trust::Fingerprint(fingerprint)).await?;
    let args = Value::Array(vec![1.into(), 2.into()]);
    for _ in 0..200 {
        client.call("math/add", args.clone()).await?;
    }
    if wanted("sequential") {
        let n = count("WARDEN_BENCH_SEQ", 2_000).max(1);
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            client.call("math/add", args.clone()).await?;
            times.push(started.elapsed());
        }
        times.sort();
        figure(
            "sequential_p50",
            "us",
            percentile(&times, 0.5).as_secs_f64() * 1e6,
        );
        figure(
            "sequential_p99",
            "us",
            percentile(&times, 0.99).as_secs_f64() * 1e6,
        );
    }
    if wanted("concurrent") {
        let n = count("WARDEN_BENCH_CALLS", 20_000).max(1);
        let started = Instant::now();
        let mut calls = futures::stream::iter(0..n)
            .map(|_| {
                let client = client.clone();
                let args = args.clone();
                async move { client.call("math/add", args).await }
            })
            .buffer_unordered(IN_FLIGHT);
        while let Some(result) = calls.next().await {
            result?;
        }
        figure(
            "concurrent_calls_per_s",
            "call/s",
            n as f64 / started.elapsed().as_secs_f64(),
        );
    }
    if wanted("payload") {
        let n = count("WARDEN_BENCH_ECHO", 50).max(1);
        let echo = Value::Array(vec![Value::Binary(vec![0x5a; 1 << 20])]);
        client.call("types/echo/echo-bytes", echo.clone()).await?;
        let started = Instant::now();
        for _ in 0..n {
            let back = client.call("types/echo/echo-bytes", echo.clone()).await?;
            if back.as_slice().map(<[u8]>::len) != Some(1 << 20) {
                return Err(ClientError::Protocol("the echo came back changed".into()));
            }
        }
        figure(
            "echo_1mib",
            "MB/s",
            n as f64 * 1.048576 / started.elapsed().as_secs_f64(),
        );
    }
    client.close().await;
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(fingerprint)) = (args.next(), args.next()) else {
        eprintln!("usage: warden-rust-bench ADDR FINGERPRINT [sequential|concurrent|payload]..");
        return ExitCode::from(2);
    };
    let groups: Vec<String> = args.collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("warden-rust-bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&addr, fingerprint, &groups)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-rust-bench: error[{}]: {}", e.kind(), e.message());
            ExitCode::FAILURE
        }
    }
}
