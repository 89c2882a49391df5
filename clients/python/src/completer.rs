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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyOSError;
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

/// Finished requests waiting for the loop, and the wake-up socket pair.
///
/// (An eventfd instead of the socket pair measured the same here.)
pub(crate) struct Queue {
    items: Mutex<Vec<Completion>>,
    /// Set by the first push after a drain: a byte is on its way.
    woken: AtomicBool,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
}

impl Queue {
    fn new() -> std::io::Result<Queue> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Queue {
            items: Mutex::new(Vec::new()),
            woken: AtomicBool::new(false),
            wake_tx,
            wake_rx,
        })
    }

    /// Hands a finished request to the loop (from any thread, without the
    /// GIL).
    pub(crate) fn push(&self, future: Py<PyAny>, outcome: Result<Outcome, ClientError>) {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Completion { future, outcome });
        if !self.woken.swap(true, Ordering::AcqRel) {
            // A full socket buffer means the loop has bytes to read anyway.
            let _ = (&self.wake_tx).write(&[1]);
        }
    }

    /// Empties the wake-up socket, then takes every finished request. The
    /// flag is cleared before taking, so a push racing with this either is
    /// taken now or writes a new byte.
    fn take(&self) -> Vec<Completion> {
        let mut buf = [0u8; 64];
        loop {
            match (&self.wake_rx).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == IoErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.woken.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.items.lock().unwrap_or_else(|e| e.into_inner()))
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
}

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
