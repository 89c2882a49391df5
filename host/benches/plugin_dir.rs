//! Benchmark (not a test) of the plugin directory:
//!
//! - drop-in latency: from a `.wasm` file appearing (renamed into place) in a
//!   watched directory to its first successful call;
//! - restart time to the first call with 50 plugins, cold (compiling) and
//!   warm (from the compiled cache).
//!
//! Run with `cargo bench --bench plugin_dir`. Prints a table and one JSON line
//! per figure. Uses no network.

use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_host::Runtime;
use warden_host::plugins::{CompiledCache, DirConfig, PluginDir, Plugins};

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

/// Builds the example plugins and returns math.wasm's bytes.
fn math_bytes() -> Vec<u8> {
    std::fs::read(harness::plugins::example("math")).expect("math.wasm was built")
}

/// A copy of a component with a distinct content hash: a custom section
/// appended at the end (still a valid component).
fn variant(bytes: &[u8], i: usize) -> Vec<u8> {
    let name = b"warden-bench";
    let payload = format!("{i}");
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    let size = 1 + name.len() + payload.len();
    out.push(size as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(payload.as_bytes());
    out
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn report(name: &str, value: Duration, target: Duration) {
    let ms = value.as_secs_f64() * 1e3;
    println!(
        "{name:<44} {ms:>9.1} ms   (target ≤ {} ms)",
        target.as_millis()
    );
    println!(
        "{{\"bench\":\"{name}\",\"ms\":{ms:.2},\"target_ms\":{},\"ratio\":{:.2}}}",
        target.as_millis(),
        value.as_secs_f64() / target.as_secs_f64()
    );
}

async fn call_add(plugins: &Plugins, plugin: &str) -> bool {
    let registry = plugins.snapshot();
    let Some(served) = registry.get(plugin) else {
        return false;
    };
    let args = rmpv::Value::Array(vec![1.into(), 2.into()]);
    served
        .plugin
        .call("add", args, Default::default())
        .await
        .is_ok()
}

fn main() {
    let math = math_bytes();
    let runtime = Runtime::new().expect("engine");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Drop-in latency, 7 runs, each a fresh plugin name in a watched directory.
    let drop_in = tokio.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let plugins = Plugins::default();
        let cache = CompiledCache::new(state.path().join("cache"), runtime.engine());
        let watched = Arc::new(PluginDir::new(
            dir.path(),
            runtime.clone(),
            Some(cache),
            DirConfig::default(),
            plugins.clone(),
        ));
        watched.scan_settled().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(watched.clone().watch(async {
            let _ = stopped.await;
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut times = Vec::new();
        for i in 0..7 {
            let name = format!("drop{i}");
            let tmp = dir.path().join(format!("{name}.part"));
            std::fs::write(&tmp, variant(&math, 1000 + i)).unwrap();
            // Let the file's mtime age as a finished copy's would.
            tokio::time::sleep(Duration::from_millis(150)).await;
            let started = Instant::now();
            std::fs::rename(&tmp, dir.path().join(format!("{name}.wasm"))).unwrap();
            let deadline = started + Duration::from_secs(10);
            while !call_add(&plugins, &name).await {
                assert!(Instant::now() < deadline, "{name} never became callable");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            times.push(started.elapsed());
        }
        let _ = stop.send(());
        median(times)
    });

    // Restart with 50 plugins: cold (empty cache), then warm.
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    for i in 0..50 {
        let path = dir.path().join(format!("p{i}.wasm"));
        std::fs::write(&path, variant(&math, i)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(150));
    let restart = |label: &str| {
        let started = Instant::now();
        let plugins = Plugins::default();
        let cache = CompiledCache::new(state.path().join("cache"), runtime.engine());
        let watched = PluginDir::new(
            dir.path(),
            runtime.clone(),
            Some(cache),
            DirConfig::default(),
            plugins.clone(),
        );
        watched.scan_settled().unwrap();
        assert!(
            tokio.block_on(call_add(&plugins, "p0")),
            "{label}: first call failed"
        );
        let elapsed = started.elapsed();
        let stats = watched.cache_stats();
        eprintln!(
            "{label}: cache hits {}, misses {}",
            stats.hits, stats.misses
        );
        elapsed
    };
    let cold = restart("cold");
    let warm = restart("warm");

    println!();
    println!(
        "plugin directory ({} CPUs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    report(
        "drop-in to first call (median of 7)",
        drop_in,
        Duration::from_millis(250),
    );
    report(
        "restart to first call, 50 plugins, cold",
        cold,
        Duration::from_secs(1),
    );
    report(
        "restart to first call, 50 plugins, cached",
        warm,
        Duration::from_secs(1),
    );
}
