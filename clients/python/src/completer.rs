//! Answers handed from the runtime's threads to the asyncio loop.
//!
//! A finished request is pushed onto a queue; the first push after a drain
//! writes one byte to a socket pair whose other end the loop watches
//! (`loop.add_reader(completer.fileno(), completer.drain)`). The loop then
//! drains every answer waiting, converting each to Python and completing its
//! future. The runtime's threads never take the GIL, so a busy interpreter
//! never stalls the QUIC connection, and with many calls in flight one
//! wake-up delivers many answers.

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::{IntoPyObjectExt, intern};
use rmpv::Value;
use warden_host::CallEvent;
use warden_host::rpc::{Client, ClientError};

use crate::client::NativeClient;
use crate::convert::to_py;
use crate::errors::to_pyerr;

/// What a finished request produced.
pub(crate) enum Outcome {
    /// A value (a call's result, a record).
    Value(Value),
    /// A connected client (the answer to `connect`).
    Client(Client),
    /// One event of a call read event by event.
    Event(CallEvent),
    /// The end of a call read event by event, with its result.
    End(Value),
}

impl Outcome {
    /// The outcome as a Python object; `queue` goes to a connected client,
    /// which completes its own requests through it.
    pub(crate) fn into_py(self, py: Python<'_>, queue: Option<&Arc<Queue>>) -> PyResult<Py<PyAny>> {
        match self {
            Outcome::Value(value) => Ok(to_py(py, value)?.unbind()),
            Outcome::Client(client) => {
                let native = NativeClient::new(client, queue.cloned());
                Ok(Py::new(py, native)?.into_any())
            }
            Outcome::Event(event) => event_tuple(py, event),
            Outcome::End(value) => ("end", to_py(py, value)?, py.None()).into_py_any(py),
        }
    }
}

/// An event as the tuple the Python side reads: `("progress", fraction,
/// message)`, `("log", level, message)` or `("item", value, None)`.
fn event_tuple(py: Python<'_>, event: CallEvent) -> PyResult<Py<PyAny>> {
    match event {
        CallEvent::Progress { fraction, message } => {
            ("progress", f64::from(fraction), message).into_py_any(py)
        }
        CallEvent::Log { level, message } => ("log", level.as_str(), message).into_py_any(py),
        CallEvent::Item(value) => ("item", to_py(py, value)?, py.None()).into_py_any(py),
    }
}

/// One finished request: the asyncio future it completes and its outcome.
struct Completion {
    future: Py<PyAny>,
    outcome: Result<Outcome, ClientError>,
}

/// Finished requests waiting for the loop, and how the loop is woken.
///
/// Two ways: a byte on a socket pair the loop's selector watches, or, when
/// the loop's thread is waiting for an answer itself ([`Completer::wait`]),
/// a condition variable, which skips the selector's round trip.
/// (An eventfd instead of the socket pair measured the same here.)
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Signalled by a push while the loop's thread waits.
    ready: Condvar,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
}

/// What the queue's lock guards.
#[derive(Default)]
struct State {
    items: Vec<Completion>,
    /// A byte was written since the last take.
    byte_sent: bool,
    /// The loop's thread waits on `ready`.
    waiter: bool,
}

impl Queue {
    fn new() -> std::io::Result<Queue> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Queue {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            wake_tx,
            wake_rx,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a finished request to the loop (from any thread, without the
    /// GIL).
    pub(crate) fn push(&self, future: Py<PyAny>, outcome: Result<Outcome, ClientError>) {
        let mut state = self.lock();
        state.items.push(Completion { future, outcome });
        if state.waiter {
            // The waiter takes everything under this lock when it wakes.
            drop(state);
            self.ready.notify_one();
        } else if !state.byte_sent {
            state.byte_sent = true;
            // A full socket buffer means the loop has bytes to read anyway.
            let _ = (&self.wake_tx).write(&[1]);
        }
    }

    /// Takes every finished request, and the wake-up bytes written for
    /// them (under the lock, so a later push writes a new byte).
    fn take(&self) -> Vec<Completion> {
        let mut state = self.lock();
        if std::mem::take(&mut state.byte_sent) {
            let mut buf = [0u8; 64];
            loop {
                match (&self.wake_rx).read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) if e.kind() == IoErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        }
        std::mem::take(&mut state.items)
    }

    /// Blocks (without the GIL) until a finished request waits or
    /// `budget` has passed. Returns whether one waits.
    fn wait(&self, budget: Duration) -> bool {
        let deadline = Instant::now() + budget;
        let mut state = self.lock();
        state.waiter = true;
        while state.items.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = match self.ready.wait_timeout(state, deadline - now) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state.waiter = false;
        !state.items.is_empty()
    }
}

/// Where a client's asyncio requests are completed: register
/// `loop.add_reader(c.fileno(), c.drain)` once per loop.
#[pyclass(module = "warden._warden", frozen)]
pub(crate) struct Completer {
    pub(crate) queue: Arc<Queue>,
}

#[pymethods]
impl Completer {
    /// A completer with an empty queue.
    #[new]
    fn new() -> PyResult<Self> {
        let queue = Queue::new()
            .map_err(|e| PyOSError::new_err(format!("cannot make the wake-up socket: {e}")))?;
        Ok(Completer {
            queue: Arc::new(queue),
        })
    }

    /// The file descriptor that becomes readable when answers wait.
    fn fileno(&self) -> i32 {
        self.queue.wake_rx.as_raw_fd()
    }

    /// Completes the future of every finished request (skipping futures
    /// already done, e.g. cancelled). Returns how many were finished.
    fn drain(&self, py: Python<'_>) -> usize {
        let items = self.queue.take();
        let count = items.len();
        for item in items {
            if let Err(e) = deliver(py, &self.queue, item) {
                // Only a broken future gets here (set_result itself failed).
                e.write_unraisable(py, None);
            }
        }
        count
    }

    /// Waits up to `seconds` on the calling thread, with the GIL released,
    /// for a finished request, then completes every one waiting. Returns
    /// how many were finished (0: the time ran out). For a loop with
    /// nothing else to do, this saves the selector's round trip.
    fn wait(&self, py: Python<'_>, seconds: f64) -> PyResult<usize> {
        let budget = Duration::try_from_secs_f64(seconds)
            .map_err(|e| PyValueError::new_err(format!("wait({seconds}): {e}")))?
            .min(MAX_WAIT);
        let queue = self.queue.clone();
        if !py.detach(move || queue.wait(budget)) {
            return Ok(0);
        }
        Ok(self.drain(py))
    }
}

/// The longest [`Completer::wait`] blocks the loop's thread.
const MAX_WAIT: Duration = Duration::from_millis(10);

fn deliver(py: Python<'_>, queue: &Arc<Queue>, item: Completion) -> PyResult<()> {
    let future = item.future.bind(py);
    if future.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    let converted = match item.outcome {
        Ok(outcome) => outcome.into_py(py, Some(queue)),
        Err(e) => Err(to_pyerr(py, e)),
    };
    match converted {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
        Err(e) => future.call_method1(intern!(py, "set_exception"), (e.into_value(py),))?,
    };
    Ok(())
}
