//! Benchmark (not a test) of the host's resident memory, measured on a
//! separate `warden serve` process (Linux `/proc/PID/status`):
//!
//! - idle, serving the example plugins;
//! - with 1,000 calls in flight (`math/slow-sum`, which sleeps in the guest),
//!   so 1,000 live instances at once;
//!
//! beside the same process's figure right after start-up with an empty
//! plugin directory (the baseline: the engine and runtime alone);
//!
//! - on a host with `[access]`, 1,000 streams of callers without a token
//!   that each announce a 16 MiB frame and stall, then 1,000 that each
//!   send 60 KiB of a 64 KiB frame (the most allowed before `hello`) and
//!   stall, and what is left once they are gone, beside the same host idle.
//!
//! - 300 jobs submitted with (almost) 1 MiB of arguments each (refused past the
//!   caller's 64 MiB), and the host after a restart on the same state,
//!   beside the host idle before the flood.
//!
//! - a big component from another toolchain (the componentize-py type zoo,
//!   18 MB with CPython inside): the host right after compiling it cold and
//!   after a restart that takes it from the compiled cache, beside the
//!   host with an empty plugin directory; then after 1,000 sequential calls
//!   of `zoo/add`, with what is private (anonymous) and what is the
//!   component's memory image mapped into the instance slots (shared pages,
//!   counted once per slot that maps them).
//!
//! 127.0.0.1 only; bounded to about a minute and a half (compiling the zoo
//! takes 5-10 s). Needs componentize-py for the zoo (`pip install
//! componentize-py==0.25.1`). Run with `cargo bench --bench memory`;
//! `cargo bench --bench memory -- zoo` runs only the named groups
//! (`examples`, `stalled`, `jobs`, `zoo`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rmpv::Value;
use warden_host::rpc::{Client, Trust, tls};

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

fn root() -> PathBuf {
    harness::plugins::repo_root()
}

/// Resident memory of `pid` in MiB.
fn rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmRSS")
}

/// Field `field` (`VmRSS`, `VmHWM`, `RssAnon`, `RssShmem`...) of
/// `/proc/PID/status`, in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `warden serve` on 127.0.0.1:0 for `plugins`; the child and its address.
fn serve(plugins: &Path, state: &Path, config: Option<&Path>) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--max-calls",
        "1100",
        "--state-dir",
    ]);
    command.arg(state).arg(plugins);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command.env("WARDEN_LOG", "warn");
    harness::serve_process::spawn(command)
}

/// The client side's runtime.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Connects to the server `pid` at `addr` (its state in `state`) once its
/// plugins have loaded; the client and the server's idle RSS.
async fn idle_client(
    addr: &str,
    state: &Path,
    pid: u32,
    token: Option<String>,
) -> (Client, Trust, f64) {
    let trust = Trust::Fingerprint(tls::local_fingerprint(state).unwrap());
    let opts = warden_host::rpc::ConnectOpts {
        token,
        ..Default::default()
    };
    let client = Client::connect_with(addr, trust.clone(), opts)
        .await
        .unwrap();
    ready(&client).await;
    settled(&client).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    (client, trust, rss_mib(pid))
}

/// Waits (up to 5 minutes) until `math/add` answers: plugins load in the
/// background after the server starts listening.
async fn ready(client: &Client) {
    answers(client, "math/add").await;
}

/// Waits (up to 5 minutes) until `node`, which adds two integers, answers.
async fn answers(client: &Client, node: &str) {
    for _ in 0..3000 {
        match client
            .call(node, Value::Array(vec![1.into(), 2.into()]))
            .await
        {
            Ok(_) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("{node} did not answer within 5 minutes");
}

/// Waits (up to 5 minutes) until no plugin is still loading.
async fn settled(client: &Client) {
    for _ in 0..3000 {
        if let Ok(status) = client.status().await
            && status
                .plugins
                .iter()
                .all(|p| p.state != warden_host::proto::PluginState::Loading)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("plugins still loading after 5 minutes");
}

fn report(name: &str, value: f64, baseline: f64, note: &str) {
    println!("{name:<58} {value:>8.1} MiB  baseline {baseline:>8.1} MiB  ({note})");
    println!(
        "{{\"bench\":\"{name}\",\"unit\":\"MiB\",\"value\":{value:.1},\"baseline\":{baseline:.1},\"ratio\":{:.3}}}",
        value / baseline
    );
}

/// Whether group `name` runs: every group when none is named after `--`.
fn wanted(name: &str) -> bool {
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    named.is_empty() || named.iter().any(|n| n == name)
}

fn main() {
    let empty = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    for name in ["math", "text", "notes", "pipeline", "streams"] {
        std::fs::copy(
            harness::plugins::example(name),
            plugins.path().join(format!("{name}.wasm")),
        )
        .unwrap();
    }
    for name in ["notes", "pipeline"] {
        let manifest = root().join(format!("examples/plugins/{name}/{name}.toml"));
        std::fs::copy(manifest, plugins.path().join(format!("{name}.toml"))).unwrap();
    }
    println!("warden memory (a separate `warden serve` process, 127.0.0.1)");
    println!();

    let state = tempfile::tempdir().unwrap();
    let (mut bare, _) = serve(empty.path(), state.path(), None);
    std::thread::sleep(Duration::from_millis(500));
    let baseline = rss_mib(bare.id());
    let _ = bare.kill();
    let _ = bare.wait();

    if wanted("examples") {
        examples(plugins.path(), baseline);
    }
    if wanted("stalled") {
        stalled_streams(plugins.path());
    }
    if wanted("jobs") {
        job_flood(plugins.path());
    }
    if wanted("zoo") {
        big_component(baseline);
    }
}

/// The example plugins idle, then 1,000 calls in flight.
fn examples(plugins: &Path, baseline: f64) {
    let state = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(plugins, state.path(), None);
    let pid = child.id();
    let tokio = runtime();
    let (idle, busy, in_flight) = tokio.block_on(async {
        let (client, _, idle) = idle_client(&addr, state.path(), pid, None).await;
        // 1,000 calls that each sleep 20 x 100 ms in the guest.
        let calls: Vec<_> = (0..1000)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .call("math/slow-sum", Value::Array(vec![20.into(), 100.into()]))
                        .await
                })
            })
            .collect();
        let started = Instant::now();
        let mut busy: f64 = 0.0;
        while started.elapsed() < Duration::from_millis(1500) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            busy = busy.max(rss_mib(pid));
        }
        let mut ok = 0;
        for call in calls {
            if matches!(call.await, Ok(Ok(_))) {
                ok += 1;
            }
        }
        client.close().await;
        (idle, busy, ok)
    });
    let _ = child.kill();
    let _ = child.wait();
    report(
        "host idle, 5 example plugins loaded",
        idle,
        baseline,
        "baseline: empty plugin dir",
    );
    report(
        &format!("host with 1,000 calls in flight ({in_flight} ok)"),
        busy,
        idle,
        "baseline: idle",
    );
    println!(
        "  per call in flight: {:.1} KiB",
        (busy - idle) * 1024.0 / 1000.0
    );
}

/// The componentize-py zoo alone: compiled cold, then from the cache after
/// a restart, then 1,000 calls; `baseline` is the host with no plugins.
fn big_component(baseline: f64) {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(
        harness::plugins::python_tool_plugin("zoo"),
        plugins.path().join("zoo.wasm"),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let tokio = runtime();
    // The server answers once the zoo is compiled and loaded.
    let idle = |addr: &str, pid: u32| {
        tokio.block_on(async {
            let trust = Trust::Fingerprint(tls::local_fingerprint(state.path()).unwrap());
            let client = Client::connect(addr, trust).await.unwrap();
            answers(&client, "zoo/add").await;
            settled(&client).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            (client, rss_mib(pid), status_mib(pid, "VmHWM"))
        })
    };
    let (mut child, addr) = serve(plugins.path(), state.path(), None);
    let started = Instant::now();
    let (client, cold, cold_peak) = idle(&addr, child.id());
    let compiled_in = started.elapsed();
    tokio.block_on(client.close());
    let _ = child.kill();
    let _ = child.wait();

    let (mut child, addr) = serve(plugins.path(), state.path(), None);
    let pid = child.id();
    let (client, cached, _) = idle(&addr, pid);
    let anon = status_mib(pid, "RssAnon");
    let shmem = status_mib(pid, "RssShmem");
    let args = Value::Array(vec![40.into(), 2.into()]);
    let (ok, took) = tokio.block_on(async {
        let started = Instant::now();
        let mut ok = 0;
        for _ in 0..1000 {
            if matches!(client.call("zoo/add", args.clone()).await, Ok(v) if v == Value::from(42)) {
                ok += 1;
            }
        }
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        (ok, took)
    });
    let called = rss_mib(pid);
    let called_anon = status_mib(pid, "RssAnon");
    let called_shmem = status_mib(pid, "RssShmem");
    tokio.block_on(client.close());
    let _ = child.kill();
    let _ = child.wait();
    report(
        "18 MB componentize-py zoo, after its cold compile",
        cold,
        baseline,
        "baseline: empty plugin dir",
    );
    report(
        "the same, restarted: from the compiled cache",
        cached,
        baseline,
        "baseline: empty plugin dir",
    );
    report(
        &format!("after 1,000 calls of zoo/add ({ok} ok)"),
        called,
        cached,
        "baseline: the same host before them",
    );
    println!(
        "  cold compile: loaded {:.1} s after start, peak {cold_peak:.0} MiB; \
         cold - cached: {:.1} MiB; 1,000 calls in {:.2} s; private (RssAnon) \
         {anon:.1} -> {called_anon:.1} MiB, the memory image mapped in instance \
         slots (RssShmem, shared pages counted per slot) {shmem:.1} -> {called_shmem:.1} MiB",
        compiled_in.as_secs_f64(),
        cold - cached,
        took.as_secs_f64(),
    );
}

/// 300 submits of 1 MiB each, then a restart on the same state directory.
fn job_flood(plugins: &Path) {
    let state = tempfile::tempdir().unwrap();
    let tokio = runtime();
    let (mut child, addr) = serve(plugins, state.path(), None);
    let pid = child.id();
    let (idle, flooded, accepted) = tokio.block_on(async {
        let (client, _, idle) = idle_client(&addr, state.path(), pid, None).await;
        let big = Value::Array(vec![Value::from("a".repeat((1 << 20) - 64))]);
        let mut accepted = 0;
        let mut refusal = None;
        for _ in 0..300 {
            match client.submit("text/strings/upper", big.clone(), None).await {
                Ok(_) => accepted += 1,
                Err(e) => refusal = refusal.or(Some(e.to_string())),
            }
        }
        if let Some(why) = refusal {
            println!("  first refusal: {why}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let flooded = rss_mib(pid);
        client.close().await;
        (idle, flooded, accepted)
    });
    let _ = child.kill();
    let _ = child.wait();
    let store = std::fs::metadata(state.path().join("jobs.redb")).map_or(0, |m| m.len());
    let (mut child, addr) = serve(plugins, state.path(), None);
    let pid = child.id();
    let restarted = tokio.block_on(async {
        let (client, _, rss) = idle_client(&addr, state.path(), pid, None).await;
        client.close().await;
        rss
    });
    let _ = child.kill();
    let _ = child.wait();
    report(
        &format!("300 submits of 1 MiB ({accepted} accepted)"),
        flooded,
        idle,
        "baseline: the same host idle before",
    );
    report(
        &format!("restarted on that job store ({} MiB)", store / (1 << 20)),
        restarted,
        idle,
        "baseline: the host idle before the flood",
    );
}

/// Connections from callers without a token on a host with `[access]`,
/// each with the 16 streams it may open before `hello`, together holding
/// `streams` streams that each send `sent` bytes of a frame announcing
/// `announced` and then stall. Peak RSS while they stall, and how many the
/// host stopped.
async fn stall(addr: &str, trust: &Trust, pid: u32, announced: u32, sent: usize) -> (f64, usize) {
    const STREAMS: usize = 1000;
    const PER_CONNECTION: usize = 16;
    let mut frame = announced.to_be_bytes().to_vec();
    frame.extend(std::iter::repeat_n(0x90u8, sent));
    let frame = bytes::Bytes::from(frame);
    let mut tasks = Vec::new();
    for first in (0..STREAMS).step_by(PER_CONNECTION) {
        let client = Client::connect(addr, trust.clone()).await.unwrap();
        let frame = frame.clone();
        let streams = PER_CONNECTION.min(STREAMS - first);
        tasks.push(tokio::spawn(async move {
            let mut held = Vec::new();
            let mut stopped = 0;
            for _ in 0..streams {
                let Ok(Ok((mut send, recv))) =
                    tokio::time::timeout(Duration::from_secs(5), client.open_raw()).await
                else {
                    break;
                };
                let wrote =
                    tokio::time::timeout(Duration::from_secs(5), send.write_all(&frame)).await;
                if !matches!(wrote, Ok(Ok(()))) {
                    stopped += 1;
                }
                held.push((send, recv));
            }
            (client, held, stopped)
        }));
    }
    let mut held = Vec::new();
    let mut stopped = 0;
    for task in tasks {
        let (client, streams, n) = task.await.unwrap();
        held.push((client, streams));
        stopped += n;
    }
    let mut peak: f64 = 0.0;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_mib(pid));
    }
    // Count the streams the host stopped (asynchronously, so by now).
    for (_, streams) in &held {
        for (send, _) in streams {
            if let Ok(Ok(Some(_))) =
                tokio::time::timeout(Duration::from_millis(1), send.stopped()).await
            {
                stopped += 1;
            }
        }
    }
    for (client, _) in held {
        client.close().await;
    }
    (peak, stopped.min(STREAMS))
}

/// Idle tokenless connections opened to measure what one costs (fewer
/// than the host keeps at once).
const IDLE_CONNECTIONS: usize = 200;

/// The unauthenticated stalling attacks against a host with `[access]`.
fn stalled_streams(plugins: &Path) {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("warden.toml");
    // A caller for the bench itself (to see the plugins' status), made
    // the way an operator makes one.
    let made = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["token", "bench", "--nodes", "*"])
        .output()
        .unwrap();
    let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let printed = String::from_utf8(made.stderr).unwrap();
    let caller = &printed[printed.find("[[access.callers]]").unwrap()..];
    std::fs::write(
        &config,
        format!("[access]\nanonymous = [\"math/add\"]\n\n{caller}"),
    )
    .unwrap();
    let (mut child, addr) = serve(plugins, state.path(), Some(&config));
    let pid = child.id();
    let tokio = runtime();
    let (idle, announced, partial, again, after, per_conn) = tokio.block_on(async {
        let (client, trust, idle) = idle_client(&addr, state.path(), pid, Some(token)).await;
        client.close().await;
        // Connections that complete their handshake and then send nothing.
        let before = rss_mib(pid);
        let mut idle_conns = Vec::new();
        for _ in 0..IDLE_CONNECTIONS {
            idle_conns.push(Client::connect(&addr, trust.clone()).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let per_conn = (rss_mib(pid) - before) * 1024.0 / IDLE_CONNECTIONS as f64;
        for client in idle_conns {
            client.close().await;
        }
        let announced = stall(&addr, &trust, pid, 16 << 20, 1024).await;
        let partial = stall(&addr, &trust, pid, 64 << 10, 60 << 10).await;
        // The same again: what the first round left is reused, not added to.
        let again = stall(&addr, &trust, pid, 64 << 10, 60 << 10).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_mib(pid);
        (idle, announced, partial, again, after, per_conn)
    });
    let _ = child.kill();
    let _ = child.wait();
    report(
        &format!(
            "1,000 tokenless streams announce 16 MiB ({} stopped)",
            announced.1
        ),
        announced.0,
        idle,
        "baseline: the same host idle",
    );
    report(
        &format!(
            "1,000 tokenless streams send 60 of 64 KiB ({} stopped)",
            partial.1
        ),
        partial.0,
        idle,
        "baseline: the same host idle",
    );
    report(
        &format!("the same again ({} stopped)", again.1),
        again.0,
        idle,
        "baseline: the same host idle",
    );
    report(
        "after the attacking connections are gone",
        after,
        idle,
        "baseline: the same host idle",
    );
    println!(
        "  above idle: {:.1} MiB, {:.1} MiB and {:.1} MiB while stalled, {:.1} MiB after \
         (the allocator keeps freed pages for reuse); {IDLE_CONNECTIONS} idle tokenless \
         connections: {per_conn:.1} KiB each",
        announced.0 - idle,
        partial.0 - idle,
        again.0 - idle,
        after - idle
    );
}
