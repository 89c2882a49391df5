//! Benchmark (not a test) of the host's resident memory, measured on a
//! separate `warden serve` process (Linux `/proc/PID/status`):
//!
//! - idle, serving the example plugins;
//! - with 1,000 calls in flight (`math/slow-sum`, which sleeps in the guest),
//!   so 1,000 live instances at once;
//!
//! beside the same process's figure right after start-up with an empty
//! plugin directory (the baseline: the engine and runtime alone).
//! 127.0.0.1 only; bounded to about 30 s. Run with `cargo bench --bench memory`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `warden serve` on 127.0.0.1:0 for `plugins`; the child and its address.
fn serve(plugins: &Path, state: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-calls",
            "1100",
            "--state-dir",
        ])
        .arg(state)
        .arg(plugins)
        .env("WARDEN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("warden serve printed its address")
            .unwrap();
        if let Some((_, rest)) = line.split_once(" on ") {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, addr)
}

fn report(name: &str, value: f64, baseline: f64, note: &str) {
    println!("{name:<44} {value:>8.1} MiB  baseline {baseline:>8.1} MiB  ({note})");
    println!(
        "{{\"bench\":\"{name}\",\"unit\":\"MiB\",\"value\":{value:.1},\"baseline\":{baseline:.1},\"ratio\":{:.3}}}",
        value / baseline
    );
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
    let (mut bare, _) = serve(empty.path(), state.path());
    std::thread::sleep(Duration::from_millis(500));
    let baseline = rss_mib(bare.id());
    let _ = bare.kill();
    let _ = bare.wait();

    let state = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(plugins.path(), state.path());
    let pid = child.id();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (idle, busy, in_flight) = tokio.block_on(async {
        let trust = Trust::Fingerprint(tls::local_fingerprint(state.path()).unwrap());
        let client = Client::connect(&addr, trust).await.unwrap();
        client
            .call("math/add", Value::Array(vec![1.into(), 2.into()]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = rss_mib(pid);
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
