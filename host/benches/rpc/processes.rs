//! The RPC figures with client and server in separate processes, as users
//! run them: a real `warden serve` process, and a bare quinn echo server in
//! a process of its own (this benchmark's binary, run with
//! `--bare-server STATE`), both on 127.0.0.1; the client is this process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use warden_host::rpc::ServerIdentity;

/// A server process, killed when dropped.
pub(crate) struct Process {
    child: Child,
    /// Where it listens.
    pub(crate) addr: std::net::SocketAddr,
}

impl Process {
    /// CPU time (user and system) the process has used so far.
    pub(crate) fn cpu_time(&self) -> Duration {
        super::cpu_time_of(&self.child.id().to_string())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `child`'s stream until a line starts with `prefix`; the rest of
/// that line. Bounded: a server that says nothing for 120 s fails.
fn read_until(stream: impl std::io::Read + Send + 'static, prefix: &'static str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("the server never printed `{prefix}`"))
}

/// `warden serve DIR` (the plugins in `dir/plugins`, state in
/// `dir/state`) in its own process, once its plugins answer.
pub(crate) fn warden(dir: &Path) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .arg("serve")
        .arg(dir.join("plugins"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--max-calls",
            "1000",
            "--state-dir",
        ])
        .arg(dir.join("state"));
    let (child, addr) = super::harness::serve_process::spawn(command);
    let process = Process {
        child,
        addr: addr.parse().expect("an address"),
    };
    let ready = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["nodes", "--wait", "300", "--addr", &addr, "--state-dir"])
        .arg(dir.join("state"))
        .output()
        .expect("warden nodes runs");
    assert!(ready.status.success(), "the plugins did not load");
    process
}

/// The bare quinn echo server in its own process, with the certificate in
/// `state`.
pub(crate) fn bare(state: &Path) -> Process {
    let mut child = Command::new(std::env::current_exe().expect("the bench's path"))
        .arg("--bare-server")
        .arg(state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the bare server starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let addr = read_until(stdout, "listening ");
    Process {
        child,
        addr: addr.parse().expect("an address"),
    }
}

/// What `--bare-server STATE` runs: the echo server until stdin closes
/// (the benchmark ends) or 10 minutes pass.
pub(crate) fn serve_bare(state: &Path) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let (identity, _) = ServerIdentity::load_or_generate(state).unwrap();
        let endpoint = super::bare_server(&identity);
        println!("listening {}", endpoint.local_addr().unwrap());
        let stdin = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        });
        let _ = tokio::time::timeout(Duration::from_secs(600), stdin).await;
    });
}
