//! The tokio runtime every client of the process shares, and blocking on it
//! from Python without holding the GIL.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// Worker threads of the runtime. Two keep the QUIC driver and the calls
/// moving while the interpreter's thread converts values; more only add
/// wake-ups on small machines.
const WORKERS: usize = 2;

/// How often a blocking request checks for signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared runtime, started on first use.
///
/// # Errors
///
/// `RuntimeError` when the runtime's threads cannot be started.
pub(crate) fn runtime() -> PyResult<&'static Runtime> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("warden-client")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the client's runtime: {e}")))?;
    // Callers hold the GIL, so no other thread is racing to set it; if one
    // did, its runtime wins and this one is dropped unused.
    Ok(RUNTIME.get_or_init(|| runtime))
}

/// Runs `work` on the runtime while the calling thread waits with the GIL
/// released, checking for signals every 100 ms: a Ctrl-C aborts `work`
/// (which cancels the request it was making) and raises
/// `KeyboardInterrupt`.
///
/// The work runs on a worker rather than on this thread (`block_on`): the
/// QUIC connection is driven there anyway, and a wait on a plain channel
/// needs no timer (a tokio timer would round the first check up to the
/// next millisecond on every request).
///
/// # Errors
///
/// The error a signal handler raised, or the runtime's start failure.
pub(crate) fn block_on<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let task = runtime()?.spawn(async move {
        let _ = tx.send(work.await);
    });
    let mut rx = rx;
    loop {
        // The receiver travels into the GIL-free closure and back out.
        let (back, received) = py.detach(move || {
            let received = rx.recv_timeout(SIGNAL_CHECK);
            (rx, received)
        });
        rx = back;
        match received {
            Ok(out) => return Ok(out),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    task.abort();
                    return Err(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "the client's runtime dropped a request (is the process shutting down?)",
                ));
            }
        }
    }
}
