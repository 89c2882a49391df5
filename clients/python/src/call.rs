//! A call read event by event: a stream node's items, a channel's replies
//! (and the messages sent to it), progress and log lines.
//!
//! The request is sent by `open`; each `next` then reads one event, and the
//! last one (`("end", result, None)`) carries the result. While a `next` or
//! a `send` runs, the call's stream (or sender) is out of its slot, owned
//! by that operation: cancelling aborts the operation, which drops the
//! stream, which cancels the call on the server (as dropping a
//! [`CallStream`] does).

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rmpv::Value;
use tokio::task::AbortHandle;
use warden_host::rpc::{CallOpts, CallStream, ChannelSender, Client, ClientError};

use crate::client::{dispatch, spawn};
use crate::completer::{Outcome, Queue};
use crate::convert::to_value;

/// Where a call's stream or sender is kept between operations.
enum Slot<T> {
    /// Not opened yet.
    Closed,
    /// Open and idle.
    Ready(T),
    /// Taken by an operation in progress.
    Busy,
    /// Ended, finished or cancelled.
    Ended,
}

impl<T> Slot<T> {
    /// Takes the value for an operation.
    fn take(&mut self, what: &str) -> PyResult<T> {
        match std::mem::replace(self, Slot::Busy) {
            Slot::Ready(value) => Ok(value),
            other => {
                let why = match other {
                    Slot::Closed => "the call is not open yet",
                    Slot::Busy => "another operation on it is in progress",
                    _ => "the call has ended",
                };
                *self = other;
                Err(PyRuntimeError::new_err(format!("cannot {what}: {why}")))
            }
        }
    }

    /// Puts the value back after an operation, unless the call was
    /// cancelled meanwhile (then the value is dropped).
    fn put(&mut self, value: T) {
        if matches!(self, Slot::Busy | Slot::Closed) {
            *self = Slot::Ready(value);
        }
    }
}

/// What the call's operations share with their tasks.
struct Shared {
    client: Client,
    queue: Option<Arc<Queue>>,
    request: Mutex<Option<(String, Value, CallOpts)>>,
    channel: bool,
    stream: Mutex<Slot<CallStream>>,
    sender: Mutex<Slot<ChannelSender>>,
    /// Operations running in the background, aborted on cancel.
    tasks: Mutex<Vec<AbortHandle>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Drops the stream and sender (cancelling the call if it still runs)
    /// and aborts every operation in progress.
    fn cancel(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        *lock(&self.request) = None;
        let stream = std::mem::replace(&mut *lock(&self.stream), Slot::Ended);
        let sender = std::mem::replace(&mut *lock(&self.sender), Slot::Ended);
        drop((stream, sender));
    }
}

/// A call read event by event (see the module docs).
#[pyclass(module = "warden._warden", frozen)]
pub(crate) struct NativeCall {
    shared: Arc<Shared>,
}

impl NativeCall {
    /// A call of `node` that sends its request on `open`.
    pub(crate) fn new(
        client: Client,
        queue: Option<Arc<Queue>>,
        node: String,
        args: Value,
        opts: CallOpts,
        channel: bool,
    ) -> Self {
        NativeCall {
            shared: Arc::new(Shared {
                client,
                queue,
                request: Mutex::new(Some((node, args, opts))),
                channel,
                stream: Mutex::new(Slot::Closed),
                sender: Mutex::new(Slot::Closed),
                tasks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `work` in the background (tracked, so `cancel` aborts it) or
    /// blocking.
    fn run<F>(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>, work: F) -> PyResult<Py<PyAny>>
    where
        F: std::future::Future<Output = Result<Outcome, ClientError>> + Send + 'static,
    {
        match fut {
            Some(fut) => {
                let task = spawn(self.shared.queue.as_ref(), fut, work)?;
                let mut tasks = lock(&self.shared.tasks);
                tasks.retain(|t| !t.is_finished());
                tasks.push(task);
                Ok(py.None())
            }
            None => dispatch(py, self.shared.queue.as_ref(), None, work),
        }
    }
}

#[pymethods]
impl NativeCall {
    /// Sends the request; completes with None once it is sent.
    #[pyo3(signature = (fut=None))]
    fn open(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let Some((node, args, opts)) = lock(&self.shared.request).take() else {
            return Err(PyRuntimeError::new_err(
                "cannot open the call: it was opened (or cancelled) already",
            ));
        };
        let shared = self.shared.clone();
        self.run(py, fut, async move {
            if shared.channel {
                let (sender, stream) = shared.client.channel(&node, args, opts).await?;
                lock(&shared.stream).put(stream);
                lock(&shared.sender).put(sender);
            } else {
                let stream = shared.client.call_with(&node, args, opts).await?;
                lock(&shared.stream).put(stream);
                *lock(&shared.sender) = Slot::Ended;
            }
            Ok(Outcome::Value(Value::Nil))
        })
    }

    /// Reads the next event: `("progress", fraction, message)`, `("log",
    /// level, message)`, `("item", value, None)`, or at the end `("end",
    /// result, None)`; a failed call raises its error instead of the end.
    #[pyo3(signature = (fut=None))]
    fn next(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let mut stream = lock(&self.shared.stream).take("read the next event")?;
        let shared = self.shared.clone();
        self.run(py, fut, async move {
            match stream.next().await {
                Some(event) => {
                    lock(&shared.stream).put(stream);
                    Ok(Outcome::Event(event))
                }
                None => {
                    *lock(&shared.stream) = Slot::Ended;
                    // The node has ended: nothing more to send it.
                    *lock(&shared.sender) = Slot::Ended;
                    stream.result().await.map(Outcome::End)
                }
            }
        })
    }

    /// Sends one message to a channel node (waits while the node is behind).
    #[pyo3(signature = (message, fut=None))]
    fn send(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let message = to_value(message)?;
        let mut sender = lock(&self.shared.sender).take("send")?;
        let shared = self.shared.clone();
        self.run(py, fut, async move {
            sender.send(message).await?;
            lock(&shared.sender).put(sender);
            Ok(Outcome::Value(Value::Nil))
        })
    }

    /// Ends a channel's input (the node's last answers follow); does nothing
    /// once the input or the call has ended.
    fn finish(&self) -> PyResult<()> {
        let mut slot = lock(&self.shared.sender);
        match std::mem::replace(&mut *slot, Slot::Ended) {
            Slot::Ready(sender) => sender.finish(),
            Slot::Ended => {}
            other => {
                let why = if matches!(other, Slot::Busy) {
                    "a send is in progress"
                } else {
                    "the call is not open yet"
                };
                *slot = other;
                return Err(PyRuntimeError::new_err(format!(
                    "cannot finish the input: {why}"
                )));
            }
        }
        Ok(())
    }

    /// Cancels the call (the server stops the node) and every operation on
    /// it in progress.
    fn cancel(&self) {
        self.shared.cancel();
    }
}

impl Drop for NativeCall {
    fn drop(&mut self) {
        self.shared.cancel();
    }
}
