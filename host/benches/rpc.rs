//! Benchmark (not a test) of calls in process and over QUIC, each figure
//! beside a baseline measured in the same run:
//!
//! - in process: a fresh instance + call of `math/add` (pooling allocator);
//! - rpc sequential: p50/p99 of `math/add` over loopback QUIC, 2,000 calls,
//!   against a bare quinn stream-per-call round trip of the same size, and
//!   against the limit of a sandboxed RPC: that round trip plus wasmtime
//!   alone making a fresh instance and one typed call;
//! - rpc concurrent: calls/s with 64 in flight on one connection, 20,000
//!   calls, against bare quinn with the same concurrency, and the CPU per
//!   call of both ends against bare quinn's plus wasmtime alone's; and bare
//!   quinn with one long-lived stream carrying requests with ids against
//!   bare quinn with a stream per call (which framing costs less);
//! - rpc payload: MB/s of a 1 MiB echo through `types/echo/echo-bytes`
//!   (median of 60, taking turns), against a bare quinn 1 MiB echo;
//! - processes: the sequential, concurrent and payload figures again with
//!   the servers in processes of their own (a real `warden serve`; the
//!   bare quinn server is this binary run with `--bare-server`), as users
//!   run them.
//!
//! Except in `processes`, client and server run in this one process (two
//! tokio worker threads), on 127.0.0.1 only. Run with `cargo bench --bench
//! rpc`; name groups to run only those: `cargo bench --bench rpc --
//! sequential payload` (groups: `in-process`, `sequential`, `concurrent`,
//! `payload`, `processes`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmpv::Value;
use warden_host::rpc::{Client, ServerIdentity, Trust};
use warden_host::{Limits, Plugin, Runtime, RuntimeConfig};

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::bare_wasm::BareCall;
use harness::plugins::{example, test_plugin};
use harness::server::Setup;
use harness::timing::{cpu_time, cpu_time_of};

#[path = "rpc/multiplexed.rs"]
mod multiplexed;
#[path = "rpc/processes.rs"]
mod processes;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Prints one figure beside its baseline; `higher_is_better` says which way
/// the ratio reads.
fn report(name: &str, unit: &str, value: f64, baseline: f64, target: &str) {
    let ratio = value / baseline;
    println!(
        "{name:<40} {value:>12.1} {unit:<6} baseline {baseline:>12.1} {unit:<6} ratio {ratio:>5.2}  ({target})"
    );
    println!(
        "{{\"bench\":\"{name}\",\"unit\":\"{unit}\",\"value\":{value:.2},\"baseline\":{baseline:.2},\"ratio\":{ratio:.3}}}"
    );
}

/// A bare quinn echo server: every bidirectional stream is read to its end
/// and written back.
fn bare_server(identity: &ServerIdentity) -> quinn::Endpoint {
    let endpoint = bare_server_config(identity);
    let accept = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = accept.accept().await {
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    tokio::spawn(async move {
                        let Ok(data) = recv.read_to_end(8 << 20).await else {
                            return;
                        };
                        let _ = send.write_all(&data).await;
                        let _ = send.finish();
                    });
                }
            });
        }
    });
    endpoint
}

/// A bare quinn server endpoint on 127.0.0.1 with the same certificate
/// and windows, serving nothing yet.
fn bare_server_config(identity: &ServerIdentity) -> quinn::Endpoint {
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(identity.server_config().unwrap())
            .unwrap();
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_concurrent_bidi_streams(1024u32.into());
    transport.stream_receive_window((4u32 << 20).into());
    transport.receive_window((32u32 << 20).into());
    transport.send_window(32 << 20);
    config.transport_config(Arc::new(transport));
    quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap()
}

async fn bare_client(addr: std::net::SocketAddr, fingerprint: &str) -> quinn::Connection {
    let mut transport = quinn::TransportConfig::default();
    transport.stream_receive_window((4u32 << 20).into());
    transport.receive_window((32u32 << 20).into());
    transport.send_window(32 << 20);
    let config = harness::quic::client_config(fingerprint, Some(transport));
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(config);
    endpoint.connect(addr, "localhost").unwrap().await.unwrap()
}

async fn bare_round_trip(conn: &quinn::Connection, payload: &[u8]) -> usize {
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(payload).await.unwrap();
    send.finish().unwrap();
    recv.read_to_end(8 << 20).await.unwrap().len()
}

/// The groups named on the command line, or all of them.
fn wanted() -> impl Fn(&str) -> bool {
    const GROUPS: [&str; 5] = [
        "in-process",
        "sequential",
        "concurrent",
        "payload",
        "processes",
    ];
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for name in &named {
        if !GROUPS.contains(&name.as_str()) {
            eprintln!(
                "unknown group `{name}`; the groups are: {}",
                GROUPS.join(", ")
            );
            std::process::exit(2);
        }
    }
    move |group| named.is_empty() || named.iter().any(|n| n == group)
}

/// 2,000 timed calls of `math/add` after 200 untimed, sorted. With
/// `apart`, each comes 200 us after the last, and with `ahead` an instance
/// is made ahead of it first (as the server does after each answer).
async fn time_calls(math: &Plugin, args: &Value, apart: bool, ahead: bool) -> Vec<Duration> {
    for _ in 0..200 {
        math.call("add", args.clone(), Default::default())
            .await
            .unwrap();
    }
    let mut times = Vec::with_capacity(2000);
    for _ in 0..2000 {
        if apart {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        if ahead {
            math.make_ready().await;
        }
        let started = Instant::now();
        math.call("add", args.clone(), Default::default())
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// The p50 and the CPU per call of wasmtime alone making a fresh instance
/// of `math` and calling `add` once (2,000 calls timed, 20,000 for CPU).
fn wasmtime_alone(runtime: &Runtime) -> (Duration, Duration) {
    let bare = BareCall::new(runtime, &example("math"), None, "add");
    for _ in 0..200 {
        assert_eq!(bare.call_s64_s64(1, 2), 3);
    }
    let mut times: Vec<Duration> = (0..2000)
        .map(|_| {
            let started = Instant::now();
            bare.call_s64_s64(1, 2);
            started.elapsed()
        })
        .collect();
    times.sort();
    let cpu = cpu_time();
    for _ in 0..20_000 {
        bare.call_s64_s64(1, 2);
    }
    (percentile(&times, 0.5), (cpu_time() - cpu) / 20_000)
}

/// Sequential `math/add` through `client` and the same-size bare quinn
/// round trip on `conn`, interleaved: 2,000 timed each after 200 untimed,
/// sorted.
async fn sequential_pair(
    client: &Client,
    conn: &quinn::Connection,
    args: &Value,
) -> (Vec<Duration>, Vec<Duration>) {
    for _ in 0..200 {
        client.call("math/add", args.clone()).await.unwrap();
        bare_round_trip(conn, &[7u8; 40]).await;
    }
    let (mut warden, mut quinn_rt) = (Vec::with_capacity(2000), Vec::with_capacity(2000));
    for _ in 0..2000 {
        let started = Instant::now();
        client.call("math/add", args.clone()).await.unwrap();
        warden.push(started.elapsed());
        let started = Instant::now();
        bare_round_trip(conn, &[7u8; 40]).await;
        quinn_rt.push(started.elapsed());
    }
    warden.sort();
    quinn_rt.sort();
    (warden, quinn_rt)
}

/// Calls/s of `calls` calls of `math/add` with 64 in flight.
async fn in_flight_warden(client: &Client, args: &Value, calls: usize) -> f64 {
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|_| {
            let client = client.clone();
            let args = args.clone();
            async move { client.call("math/add", args).await.unwrap() }
        })
        .buffer_unordered(64)
        .for_each(|_| async {})
        .await;
    calls as f64 / started.elapsed().as_secs_f64()
}

/// Calls/s of `calls` bare quinn round trips with 64 in flight.
async fn in_flight_quinn(conn: &quinn::Connection, calls: usize) -> f64 {
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|_| {
            let conn = conn.clone();
            async move { bare_round_trip(&conn, &[7u8; 40]).await }
        })
        .buffer_unordered(64)
        .for_each(|_| async {})
        .await;
    calls as f64 / started.elapsed().as_secs_f64()
}

/// MB/s of the median of 60 echoes of 1 MiB through
/// `types/echo/echo-bytes`, and of 60 bare quinn echoes of 1 MiB.
async fn echo_mib(client: &Client, conn: &quinn::Connection) -> (f64, f64) {
    let mib = vec![0x5au8; 1 << 20];
    let echo_args = Value::Array(vec![Value::Binary(mib.clone())]);
    client
        .call("types/echo/echo-bytes", echo_args.clone())
        .await
        .unwrap();
    // One echo each in turn, and the median of each side: a drift of the
    // machine's speed touches both alike, and the odd echo that waits out a
    // lost packet on loopback does not decide the figure.
    let (mut warden, mut quinn) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        let started = Instant::now();
        let back = client
            .call("types/echo/echo-bytes", echo_args.clone())
            .await
            .unwrap();
        assert_eq!(back.as_slice().map(<[u8]>::len), Some(1 << 20));
        warden.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(bare_round_trip(conn, &mib).await, 1 << 20);
        quinn.push(started.elapsed());
    }
    warden.sort();
    quinn.sort();
    let mbs = |took: &[Duration]| 1.048576 / percentile(took, 0.5).as_secs_f64();
    (mbs(&warden), mbs(&quinn))
}

fn main() {
    if let Some(state) = std::env::args().skip_while(|a| a != "--bare-server").nth(1) {
        processes::serve_bare(std::path::Path::new(&state));
        return;
    }
    let wanted = wanted();
    let runtime = Runtime::new().unwrap();
    let math = runtime
        .load_file("math", example("math"), Limits::default())
        .unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "warden benchmarks ({} CPUs, client and server in one process, 127.0.0.1)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();

    tokio.block_on(async {
        let args = Value::Array(vec![1.into(), 2.into()]);
        if wanted("in-process") {
            // In process: a call whose instance is made on the call path
            // (no instances made ahead), against a call that does nothing
            // but look up the node (no wasm).
            let cold = Runtime::with_config(RuntimeConfig {
                warm_instances: 0,
                ..RuntimeConfig::default()
            })
            .unwrap();
            let cold_math = cold
                .load_file("math", example("math"), Limits::default())
                .unwrap();
            let times = time_calls(&cold_math, &args, false, false).await;
            let mut base = Vec::with_capacity(2000);
            for _ in 0..2000 {
                let started = Instant::now();
                let _ = cold_math
                    .call("nope", args.clone(), Default::default())
                    .await;
                base.push(started.elapsed());
            }
            base.sort();
            report(
                "in-process fresh instance + call p50",
                "us",
                percentile(&times, 0.5).as_secs_f64() * 1e6,
                percentile(&base, 0.5).as_secs_f64() * 1e6,
                "target <= 10 us; baseline: lookup only",
            );
            // Calls 200 us apart, as from a client calling one at a time:
            // on an instance made ahead, and making their own.
            let apart_cold = time_calls(&math, &args, true, false).await;
            let apart_warm = time_calls(&math, &args, true, true).await;
            report(
                "in-process call 200 us apart, made ahead p50",
                "us",
                percentile(&apart_warm, 0.5).as_secs_f64() * 1e6,
                percentile(&apart_cold, 0.5).as_secs_f64() * 1e6,
                "baseline: instance made on the call path",
            );
        }

        // The servers: Warden through the shared harness (a host over a
        // plugin directory), and bare quinn with the same certificate.
        let state = tempfile::tempdir().unwrap();
        let (identity, _) = ServerIdentity::load_or_generate(state.path()).unwrap();
        let server = Setup::new()
            .plugin("math", &example("math"), "")
            .plugin("types", &test_plugin("types"), "")
            .max_calls(1000)
            .identity(identity.clone())
            .start()
            .await;
        let addr: std::net::SocketAddr = server.addr.parse().unwrap();
        let fingerprint = server.fingerprint.clone();
        let bare = bare_server(&identity);
        let bare_addr = bare.local_addr().unwrap();

        let client = Client::connect(&addr.to_string(), Trust::Fingerprint(fingerprint.clone()))
            .await
            .unwrap();
        // The client as it was before sessions: a stream per call.
        let per_call = Client::connect_with(
            &addr.to_string(),
            Trust::Fingerprint(fingerprint.clone()),
            warden_host::rpc::ConnectOpts {
                stream_per_call: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let conn = bare_client(bare_addr, &fingerprint).await;
        // The limit of a sandboxed call: wasmtime alone, on an engine like
        // the server's.
        let (wasm_p50, wasm_cpu) = wasmtime_alone(&runtime);
        println!(
            "wasmtime alone, fresh instance + typed call of math/add: p50 {:.1} us, CPU {:.1} us",
            wasm_p50.as_secs_f64() * 1e6,
            wasm_cpu.as_secs_f64() * 1e6
        );

        if wanted("sequential") {
            // Sequential latency.
            let (warden, quinn_rt) = sequential_pair(&client, &conn, &args).await;
            // Where the sequential time goes: the same server answering without
            // running wasm (`describe`), from the warden client and from a bare
            // quinn client, and a request it refuses at once (framing only).
            let bare_p50 = percentile(&quinn_rt, 0.5).as_secs_f64() * 1e6;
            let mut describe = Vec::with_capacity(2000);
            for _ in 0..2000 {
                let started = Instant::now();
                client.describe("math/add").await.unwrap();
                describe.push(started.elapsed());
            }
            describe.sort();
            report(
                "rpc sequential describe (no wasm) p50",
                "us",
                percentile(&describe, 0.5).as_secs_f64() * 1e6,
                bare_p50,
                "where the time goes; baseline: bare quinn",
            );
            let raw = bare_client(addr, &fingerprint).await;
            let mut frame = Vec::new();
            warden_host::proto::encode_frame(
                &warden_host::proto::Request::Describe {
                    node: "math/add".into(),
                }
                .to_value(),
                &mut frame,
            );
            let mut call = Vec::new();
            warden_host::proto::encode_frame(
                &warden_host::proto::Request::Call {
                    node: "math/add".into(),
                    args: args.clone(),
                    deadline_ms: None,
                    meta: None,
                }
                .to_value(),
                &mut call,
            );
            let mut per_call_times = Vec::with_capacity(2000);
            for _ in 0..2000 {
                let started = Instant::now();
                per_call.call("math/add", args.clone()).await.unwrap();
                per_call_times.push(started.elapsed());
            }
            per_call_times.sort();
            report(
                "rpc sequential math/add p50, a stream per call",
                "us",
                percentile(&per_call_times, 0.5).as_secs_f64() * 1e6,
                bare_p50,
                "the client without sessions; baseline: bare quinn",
            );
            let mut refused = Vec::with_capacity(2000);
            let mut raw_call = Vec::with_capacity(2000);
            let mut raw_describe = Vec::with_capacity(2000);
            let mut client_call = Vec::with_capacity(2000);
            for _ in 0..2000 {
                let started = Instant::now();
                client.call("math/add", args.clone()).await.unwrap();
                client_call.push(started.elapsed());
                let started = Instant::now();
                bare_round_trip(&raw, &frame).await;
                raw_describe.push(started.elapsed());
                let started = Instant::now();
                // A length prefix over the limit: answered `bad-request` at once.
                bare_round_trip(&raw, &[0xff; 40]).await;
                refused.push(started.elapsed());
                let started = Instant::now();
                bare_round_trip(&raw, &call).await;
                raw_call.push(started.elapsed());
            }
            raw_call.sort();
            raw_describe.sort();
            refused.sort();
            client_call.sort();
            // Datagrams each way per round trip: every extra packet is a
            // send syscall and a wake-up on the critical path.
            for (label, conn, payload) in [
                ("bare quinn echo", &conn, &[7u8; 40][..]),
                ("warden refusal", &raw, &[0xff; 40][..]),
                ("warden describe", &raw, &frame[..]),
                ("warden math/add", &raw, &call[..]),
            ] {
                let before = conn.stats();
                for _ in 0..200 {
                    bare_round_trip(conn, payload).await;
                }
                let after = conn.stats();
                println!(
                    "  {label:<20} datagrams per round trip: {:.2} sent, {:.2} received",
                    (after.udp_tx.datagrams - before.udp_tx.datagrams) as f64 / 200.0,
                    (after.udp_rx.datagrams - before.udp_rx.datagrams) as f64 / 200.0,
                );
            }
            report(
                "bare quinn client -> warden describe p50",
                "us",
                percentile(&raw_describe, 0.5).as_secs_f64() * 1e6,
                bare_p50,
                "where the time goes; baseline: bare quinn",
            );
            report(
                "bare quinn client -> warden math/add p50",
                "us",
                percentile(&raw_call, 0.5).as_secs_f64() * 1e6,
                bare_p50,
                "where the time goes; baseline: bare quinn",
            );
            report(
                "warden client vs bare client, math/add p50",
                "us",
                percentile(&client_call, 0.5).as_secs_f64() * 1e6,
                percentile(&raw_call, 0.5).as_secs_f64() * 1e6,
                "what the Rust client adds; the same server, taking turns",
            );
            report(
                "bare quinn client -> warden refusal p50",
                "us",
                percentile(&refused, 0.5).as_secs_f64() * 1e6,
                bare_p50,
                "framing and stream handling only",
            );
            for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
                report(
                    &format!("rpc sequential math/add {label}"),
                    "us",
                    percentile(&warden, p).as_secs_f64() * 1e6,
                    percentile(&quinn_rt, p).as_secs_f64() * 1e6,
                    "target p50 <= 1.3x bare quinn",
                );
            }
            report(
                "rpc sequential math/add p50 vs the limit",
                "us",
                percentile(&warden, 0.5).as_secs_f64() * 1e6,
                bare_p50 + wasm_p50.as_secs_f64() * 1e6,
                "baseline: bare quinn + wasmtime alone fresh instance and typed call",
            );
        }

        if wanted("concurrent") {
            // Concurrency: 20,000 calls, 64 in flight.
            let calls = 20_000;
            let cpu = cpu_time();
            let warden_rate = in_flight_warden(&client, &args, calls).await;
            let warden_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / calls as f64;
            let cpu = cpu_time();
            let quinn_rate = in_flight_quinn(&conn, calls).await;
            let quinn_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / calls as f64;
            let cpu = cpu_time();
            let per_call_rate = in_flight_warden(&per_call, &args, calls).await;
            let per_call_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / calls as f64;
            report(
                "rpc concurrent calls/s, a stream per call",
                "call/s",
                per_call_rate,
                quinn_rate,
                "the client without sessions; baseline: bare quinn",
            );
            report(
                "rpc concurrent CPU per call, a stream per call",
                "us",
                per_call_cpu,
                quinn_cpu,
                "the client without sessions; baseline: bare quinn",
            );
            // The same load on one long-lived stream with request ids.
            let (mux_rate, mux_cpu) = {
                let endpoint = bare_server_config(&identity);
                let addr = endpoint.local_addr().unwrap();
                multiplexed::serve(endpoint);
                let conn = bare_client(addr, &fingerprint).await;
                let mux = multiplexed::Multiplexed::open(&conn).await;
                for _ in 0..200 {
                    mux.round_trip(40).await;
                }
                let cpu = cpu_time();
                let started = Instant::now();
                futures::stream::iter(0..calls)
                    .map(|_| {
                        let mux = mux.clone();
                        async move { mux.round_trip(40).await }
                    })
                    .buffer_unordered(64)
                    .for_each(|_| async {})
                    .await;
                (
                    calls as f64 / started.elapsed().as_secs_f64(),
                    (cpu_time() - cpu).as_secs_f64() * 1e6 / calls as f64,
                )
            };
            report(
                "bare quinn one stream with ids, calls/s",
                "call/s",
                mux_rate,
                quinn_rate,
                "baseline: bare quinn stream per call",
            );
            report(
                "bare quinn one stream with ids, CPU/call",
                "us",
                mux_cpu,
                quinn_cpu,
                "baseline: bare quinn stream per call",
            );
            // Client and server share the two cores, so calls/s follows the
            // CPU time each call costs both ends together.
            report(
                "rpc concurrent CPU per call (both ends)",
                "us",
                warden_cpu,
                quinn_cpu,
                "where the time goes; baseline: bare quinn",
            );
            report(
                "rpc concurrent CPU per call vs the limit",
                "us",
                warden_cpu,
                quinn_cpu + wasm_cpu.as_secs_f64() * 1e6,
                "target <= 1.25x; baseline: bare quinn + wasmtime alone fresh call",
            );
            report(
                "rpc concurrent (64 in flight) calls/s",
                "call/s",
                warden_rate,
                quinn_rate,
                "target >= 0.7x bare quinn",
            );
        }

        if wanted("payload") {
            // Payload: 1 MiB echo, 50 calls each.
            let (warden_mbs, quinn_mbs) = echo_mib(&client, &conn).await;
            report(
                "rpc 1 MiB echo",
                "MB/s",
                warden_mbs,
                quinn_mbs,
                "target >= 0.8x bare quinn",
            );
        }

        if wanted("processes") {
            drop((client, per_call));
            in_processes(&args, wasm_cpu).await;
        }
    });
}

/// Sequential p50, calls/s and CPU per call with 64 in flight, and the
/// 1 MiB echo, with each server in a process of its own.
async fn in_processes(args: &Value, wasm_cpu: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(example("math"), plugins.join("math.wasm")).unwrap();
    std::fs::copy(test_plugin("types"), plugins.join("types.wasm")).unwrap();
    let state = dir.path().join("state");
    let server = processes::warden(dir.path());
    let fingerprint = warden_host::rpc::tls::local_fingerprint(&state).unwrap();
    let bare = processes::bare(&state);
    let client = Client::connect(
        &server.addr.to_string(),
        Trust::Fingerprint(fingerprint.clone()),
    )
    .await
    .unwrap();
    let conn = bare_client(bare.addr, &fingerprint).await;
    println!();
    println!("separate processes (warden serve pid, bare quinn server pid, this client)");
    let (warden, quinn_rt) = sequential_pair(&client, &conn, args).await;
    report(
        "processes: rpc sequential math/add p50",
        "us",
        percentile(&warden, 0.5).as_secs_f64() * 1e6,
        percentile(&quinn_rt, 0.5).as_secs_f64() * 1e6,
        "target <= 1.3x bare quinn",
    );
    let calls = 20_000;
    let (cpu, server_cpu) = (cpu_time(), server.cpu_time());
    let warden_rate = in_flight_warden(&client, args, calls).await;
    let warden_cpu =
        ((cpu_time() - cpu) + (server.cpu_time() - server_cpu)).as_secs_f64() * 1e6 / calls as f64;
    let (cpu, server_cpu) = (cpu_time(), bare.cpu_time());
    let quinn_rate = in_flight_quinn(&conn, calls).await;
    let quinn_cpu =
        ((cpu_time() - cpu) + (bare.cpu_time() - server_cpu)).as_secs_f64() * 1e6 / calls as f64;
    report(
        "processes: rpc concurrent CPU per call vs the limit",
        "us",
        warden_cpu,
        quinn_cpu + wasm_cpu.as_secs_f64() * 1e6,
        "target <= 1.25x; baseline: bare quinn + wasmtime alone fresh call",
    );
    report(
        "processes: rpc concurrent (64 in flight) calls/s",
        "call/s",
        warden_rate,
        quinn_rate,
        "target >= 0.7x bare quinn",
    );
    let (warden_mbs, quinn_mbs) = echo_mib(&client, &conn).await;
    report(
        "processes: rpc 1 MiB echo",
        "MB/s",
        warden_mbs,
        quinn_mbs,
        "target >= 0.8x bare quinn",
    );
    client.close().await;
}
