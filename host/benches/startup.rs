//! Benchmark (not a test) of one-shot and start-up latency as a user sees
//! them, in separate processes on 127.0.0.1:
//!
//! - `warden call math/add 1 2`: process start to exit (and to the printed
//!   result), beside `warden --version` start to exit (what starting the
//!   binary costs at all);
//! - drop-in: copying a plugin (the 176 KB `caps` test plugin and its
//!   manifest, a fresh variant each time so the compiled cache cannot help)
//!   into the directory a `warden serve` process serves, to the first
//!   successful answer of `warden call` run in a loop (10 ms apart, as a
//!   shell loop with `sleep 0.01` would: on 2 vCPUs, calls back to back
//!   take a core from the compiler), beside loading the same bytes in
//!   process (read, compile, link, cache write; no waiting).
//!
//! Run with `cargo bench --bench startup`. Prints a table and one JSON line
//! per figure. Bounded to about half a minute.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use warden_host::Runtime;
use warden_host::plugins::{CompiledCache, DirConfig, PluginDir, Plugins};

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

/// The manifest the `caps` test plugin needs to load.
const CAPS_GRANTS: &str = "[grants]\nkv = true\nblobs = \"read\"\ninvoke = [\"none/*\"]\n";

/// A copy of a component with a distinct content hash: a custom section
/// appended at the end (still a valid component).
fn variant(bytes: &[u8], tag: &str) -> Vec<u8> {
    let name = b"warden-bench";
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push((1 + name.len() + tag.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(tag.as_bytes());
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn report(name: &str, value: Duration, baseline: Duration, baseline_name: &str) {
    let (value, baseline) = (ms(value), ms(baseline));
    let ratio = value / baseline;
    println!(
        "{name:<46} {value:>8.1} ms   baseline {baseline:>8.1} ms ({baseline_name})   ratio {ratio:>5.2}"
    );
    println!(
        "{{\"bench\":\"{name}\",\"unit\":\"ms\",\"value\":{value:.2},\"baseline\":{baseline:.2},\"ratio\":{ratio:.3}}}"
    );
}

/// `warden serve` on 127.0.0.1:0 for `plugins`; the child and its address.
fn serve(plugins: &Path, state: &Path) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .arg(plugins)
        .env("WARDEN_LOG", "warn");
    harness::serve_process::spawn(command)
}

/// `warden ARGS` against the server at `addr` with its state in `state`.
fn client(args: &[&str], addr: &str, state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(args)
        .args(["--addr", addr, "--state-dir"])
        .arg(state)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Runs `command`: from its start to its first line on stdout, and to its
/// exit; whether it succeeded.
fn timed(command: &mut Command) -> (Duration, Duration, bool) {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let printed = started.elapsed();
    let status = child.wait().unwrap();
    (printed, started.elapsed(), status.success())
}

fn main() {
    let caps = std::fs::read(harness::plugins::test_plugin("caps")).expect("caps.wasm was built");
    let plugins = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::copy(
        harness::plugins::example("math"),
        plugins.path().join("math.wasm"),
    )
    .unwrap();
    let (mut server, addr) = serve(plugins.path(), state.path());
    let call = |args: &[&str]| client(args, &addr, state.path());
    let ready = (0..3000).any(|_| {
        let ok = call(&["call", "math/add", "1", "2"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            std::thread::sleep(Duration::from_millis(100));
        }
        ok
    });
    assert!(ready, "math/add did not answer within 5 minutes");

    // One-shot calls, 30 of each, alternating.
    let (mut printed, mut exited, mut version) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..30 {
        let (p, e, ok) = timed(&mut call(&["call", "math/add", "1", "2"]));
        assert!(ok, "warden call failed");
        printed.push(p);
        exited.push(e);
        let (_, e, ok) = timed(Command::new(env!("CARGO_BIN_EXE_warden")).arg("--version"));
        assert!(ok, "warden --version failed");
        version.push(e);
    }

    // Drop-in: copy the manifest, then the component, into the served
    // directory and call until a call succeeds.
    let mut drop_in = Vec::new();
    for i in 0..7 {
        let name = format!("caps{i}");
        let staged = state.path().join(format!("{name}.staged"));
        std::fs::write(&staged, variant(&caps, &format!("served-{i}"))).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let node = format!("{name}/env-names");
        let started = Instant::now();
        std::fs::write(plugins.path().join(format!("{name}.toml")), CAPS_GRANTS).unwrap();
        std::fs::copy(&staged, plugins.path().join(format!("{name}.wasm"))).unwrap();
        loop {
            let ok = call(&["call", &node])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{node} never answered"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        drop_in.push(started.elapsed());
    }
    let _ = server.kill();
    let _ = server.wait();

    // The same loads in process: files already settled, so nothing waits.
    let runtime = Runtime::new().expect("engine");
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let watched = PluginDir::new(
        dir.path(),
        runtime.clone(),
        Some(CompiledCache::new(cache_dir.path(), runtime.engine())),
        DirConfig::default(),
        Plugins::default(),
    );
    let (mut load, mut compile) = (Vec::new(), Vec::new());
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for i in 0..7 {
        let name = format!("caps{i}");
        let bytes = variant(&caps, &format!("in-process-{i}"));
        let started = Instant::now();
        runtime.compile(&name, &bytes).expect("caps compiles");
        compile.push(started.elapsed());
        let bytes = variant(&caps, &format!("loaded-{i}"));
        for (file, content) in [("toml", CAPS_GRANTS.as_bytes()), ("wasm", &bytes[..])] {
            let path = dir.path().join(format!("{name}.{file}"));
            std::fs::write(&path, content).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(an_hour_ago).unwrap();
        }
        let started = Instant::now();
        watched.scan().unwrap();
        assert!(watched.wait_loaded(Duration::from_secs(20)));
        load.push(started.elapsed());
        assert!(
            watched.plugins().snapshot().get(&name).is_some(),
            "{name} was not served"
        );
    }

    println!();
    println!(
        "one-shot and start-up latency, as users see them ({} CPUs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    report(
        "`warden call` start to exit (median of 30)",
        median(exited),
        median(version.clone()),
        "`warden --version`",
    );
    report(
        "`warden call` start to result (median of 30)",
        median(printed),
        median(version),
        "`warden --version`",
    );
    report(
        "drop-in 176 KB to first answer (median of 7)",
        median(drop_in),
        median(load),
        "load in process",
    );
    println!(
        "  (of that in-process load, compiling alone: {:.1} ms)",
        ms(median(compile))
    );
}
