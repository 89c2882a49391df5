//! `warden serve` in one process, `warden call`/`nodes`/`describe` in others,
//! the way the README's quick start uses them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::support::example;

struct Served {
    child: Child,
    addr: String,
    state: tempfile::TempDir,
    _plugins: tempfile::TempDir,
}

/// Starts `warden serve` on 127.0.0.1:0 with the example plugins and waits
/// for the line that names its address.
fn serve() -> Served {
    let plugins = tempfile::tempdir().unwrap();
    for name in ["math", "text", "streams"] {
        std::fs::copy(example(name), plugins.path().join(format!("{name}.wasm"))).unwrap();
    }
    std::fs::write(plugins.path().join("broken.wasm"), b"not wasm").unwrap();
    let state = tempfile::tempdir().unwrap();
    let (child, addr) = spawn_server(state.path(), plugins.path());
    Served {
        child,
        addr,
        state,
        _plugins: plugins,
    }
}

/// Starts `warden serve` and returns it with the address it printed.
fn spawn_server(state: &std::path::Path, plugins: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .arg(plugins)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("warden serve printed its address")
            .unwrap();
        if let Some((_, rest)) = line.split_once(" on ") {
            break rest.trim().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            println!("server: {line}");
        }
    });
    // Plugins load in the background; wait until none is still loading.
    let ready = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["nodes", "--wait", "300", "--addr", &addr, "--state-dir"])
        .arg(state)
        .output()
        .unwrap();
    assert!(ready.status.success(), "{}", text(&ready.stderr));
    (child, addr)
}

impl Served {
    /// Kills the server without warning (SIGKILL) and starts it again on the
    /// same state directory and plugins.
    fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, addr) = spawn_server(self.state.path(), self._plugins.path());
        self.child = child;
        self.addr = addr;
    }

    fn warden(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(args)
            .args(["--addr", &self.addr, "--state-dir"])
            .arg(self.state.path())
            .output()
            .unwrap()
    }

    /// Ctrl-C, then wait (bounded) for a clean exit.
    fn interrupt(&mut self) -> Option<std::process::ExitStatus> {
        self.signal("-INT")
    }

    /// Sends `signal` (`-INT`, `-TERM`), then waits (bounded) for an exit.
    fn signal(&mut self, signal: &str) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").args([signal, &pid]).status().unwrap();
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Served {
    /// A failed test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn serve_then_call_nodes_and_describe_from_other_processes() {
    let server = serve();
    let out = server.warden(&["call", "math/add", "1", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "3");
    let out = server.warden(&["call", "math/add", r#"{"a": 2, "b": 5}"#]);
    assert_eq!(text(&out.stdout).trim(), "7");
    let out = server.warden(&["call", "text/strings/upper", "hello"]);
    assert_eq!(text(&out.stdout).trim(), "\"HELLO\"");

    // Progress goes to stderr (plain lines when stderr is not a terminal).
    let out = server.warden(&["call", "math/slow-sum", "4", "0"]);
    assert_eq!(text(&out.stdout).trim(), "10");
    assert!(
        text(&out.stderr).contains("[100%] added 4 of 4"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("[info] summing 1..=4"),
        "{}",
        text(&out.stderr)
    );

    let out = server.warden(&["call", "math/divide", "1", "0"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("error[node-error]: cannot divide 1 by zero"),
        "{}",
        text(&out.stderr)
    );
    let out = server.warden(&["call", "math/nope"]);
    assert!(
        text(&out.stderr).contains("error[not-found]:"),
        "{}",
        text(&out.stderr)
    );
    // A plugin whose file failed to load is unavailable, saying why.
    let out = server.warden(&["call", "broken/anything"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("error[unavailable]: plugin `broken` failed to load")
            && err.contains("magic bytes"),
        "{err}"
    );
    // Floats take back what the CLI prints for NaN and the infinities.
    let out = server.warden(&["call", "math/divide", "Infinity", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "\"Infinity\"");
    let out = server.warden(&["call", "math/divide", r#"{"a": "NaN", "b": 1}"#]);
    assert_eq!(text(&out.stdout).trim(), "\"NaN\"");
    let out = server.warden(&["call", "math/divide", r#"["-Infinity", 1]"#]);
    assert_eq!(text(&out.stdout).trim(), "\"-Infinity\"");

    let out = server.warden(&["call", "--timeout", "0.2", "math/slow-sum", "100", "100"]);
    assert!(
        text(&out.stderr).contains("error[timeout]:"),
        "{}",
        text(&out.stderr)
    );

    let out = server.warden(&["nodes"]);
    let table = text(&out.stdout);
    assert!(table.starts_with("PLUGIN"), "{table}");
    assert!(table.contains("NODE"), "{table}");
    assert!(
        table.contains("math/add") && table.contains("func(a: s64, b: s64) -> s64"),
        "{table}"
    );
    assert!(table.contains("text/strings/upper"), "{table}");
    assert!(
        !table.contains("broken/"),
        "the broken file is not served: {table}"
    );
    assert!(
        table.contains("failed: ") && table.contains("broken.wasm"),
        "its failure is shown: {table}"
    );
    let out = server.warden(&["nodes", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    assert!(nodes.iter().any(|n| n["node"] == "math/divide"));
    let plugins = json["plugins"].as_array().unwrap();
    assert!(
        plugins
            .iter()
            .any(|p| p["name"] == "broken" && p["state"] == "failed")
    );

    let out = server.warden(&["describe", "math/add"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["params"][1]["name"], "b");
    assert_eq!(json["result"], "s64");

    let out = server.warden(&[
        "call",
        "--fingerprint",
        &"ab".repeat(32),
        "math/add",
        "1",
        "2",
    ]);
    assert!(
        text(&out.stderr).contains("error[connect]:"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("fingerprint"),
        "{}",
        text(&out.stderr)
    );

    let mut server = server;
    let status = server.interrupt();
    assert!(
        status.is_some_and(|s| s.success()),
        "Ctrl-C shuts the server down cleanly: {status:?}"
    );
}

#[test]
fn sigterm_lets_a_running_call_finish_like_ctrl_c() {
    let mut served = serve();
    // 30 steps of 100 ms: running when the signal arrives.
    let call = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["call", "math/slow-sum", "30", "100"])
        .args(["--addr", &served.addr, "--state-dir"])
        .arg(served.state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let status = served.signal("-TERM");
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM shuts the server down cleanly: {status:?}"
    );
    let out = call.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "465", "the running call finished");
}

#[test]
fn a_client_without_a_certificate_to_trust_says_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["call", "math/add", "1", "2", "--state-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("error[connect]:") && err.contains("--fingerprint"),
        "{err}"
    );
}

#[test]
fn serving_a_non_loopback_address_is_refused() {
    let plugins = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .arg(plugins.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0")
            && err.contains("loopback")
            && err.contains("[access]"),
        "{err}"
    );
}

#[test]
fn streams_print_one_line_per_item_and_stdin_feeds_a_channel() {
    let served = serve();
    let out = served.warden(&["call", "-q", "streams/counter/count", "3", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1\n2\n3\n");

    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "call",
            "--stdin",
            "streams/chat/echo",
            "> ",
            "--addr",
            &served.addr,
            "--state-dir",
        ])
        .arg(served.state.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n\"quoted\"\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\"> hello\"\n\"> quoted\"\n\"bye after 2 message(s)\"\n"
    );
}

#[test]
fn a_job_running_when_the_host_crashes_is_reported_failed_after_the_restart() {
    let mut served = serve();
    let quick = served.warden(&["submit", "math/add", "1", "2"]);
    assert!(quick.status.success(), "{}", text(&quick.stderr));
    let quick_id = text(&quick.stdout).trim().to_owned();
    let out = served.warden(&["job", &quick_id, "--wait", "20", "--keep"]);
    assert_eq!(text(&out.stdout), "3\n", "{}", text(&out.stderr));

    // 300 steps of 100 ms: still running when the host is killed.
    let slow = served.warden(&["submit", "math/slow-sum", "300", "100"]);
    let slow_id = text(&slow.stdout).trim().to_owned();
    let mut running = false;
    for _ in 0..250 {
        let out = served.warden(&["job", &slow_id]);
        if text(&out.stderr).contains("error[running]") {
            running = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    assert!(running, "the slow job never ran");
    served.crash_and_restart();

    let out = served.warden(&["job", &slow_id]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("error[internal]") && err.contains("host stopped while the job was running"),
        "{err}"
    );
    // The finished job kept with --keep is still there, and is removed once fetched.
    let out = served.warden(&["job", &quick_id]);
    assert_eq!(text(&out.stdout), "3\n", "{}", text(&out.stderr));
    let out = served.warden(&["job", &quick_id]);
    assert!(
        text(&out.stderr).contains("error[not-found]"),
        "{}",
        text(&out.stderr)
    );
}
