//! A real `nats-server` with JetStream for the cluster tests and
//! benchmarks: on a free loopback port with a temporary store, killed when
//! dropped. `nats-server` must be installed (`apt-get install -y
//! nats-server`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nats-server` with JetStream on 127.0.0.1, killed when dropped.
pub(crate) struct Nats {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
}

impl Nats {
    pub(crate) fn start() -> Nats {
        let port = free_port();
        let store = tempfile::tempdir().expect("a temp dir");
        let child = spawn_nats(port, store.path());
        Nats {
            child: Some(child),
            port,
            store,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn_nats(self.port, self.store.path()));
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn_nats(port: u16, store: &Path) -> Child {
    let mut command = Command::new("nats-server");
    command
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store);
    // The server's protocol trace, to see what a client sent.
    if let Some(log) = std::env::var_os("WARDEN_NATS_TRACE") {
        command.arg("-DV").arg("-l").arg(log);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start `nats-server` ({e}); install it: apt-get install -y nats-server")
        });
    // Ready once it accepts connections (10 s at most).
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
