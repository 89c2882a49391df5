//! `warden serve` in a process of its own, as the benchmarks that measure
//! it from outside start it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Spawns `command` (a `warden serve …` with its arguments) with its stderr
/// piped, and waits (at most 120 s) until it says where it listens. The
/// child and that address; the rest of its stderr is read and dropped, so
/// the server never blocks on a full pipe.
pub(crate) fn spawn(mut command: Command) -> (Child, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("warden: listening on ") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("warden serve printed where it listens");
    (child, addr)
}
