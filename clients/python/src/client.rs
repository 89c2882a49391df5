//! Connecting (and how the server is trusted), and the requests that
//! answer once: calls, catalog, describe, status, jobs and blobs.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rmpv::Value;
use tokio::task::AbortHandle;
use warden_host::rpc::{CallOpts, Client, ClientError, ConnectOpts, Trust, tls};
use warden_host::{CallError, ErrorKind};

use crate::call::NativeCall;
use crate::completer::{Completer, Outcome, Queue};
use crate::convert::to_value;
use crate::errors::to_pyerr;
use crate::runtime::{block_on, runtime};

/// Starts `work` on the runtime; its outcome completes `future` through
/// `queue`. Returns the task's abort handle.
pub(crate) fn spawn<F>(
    queue: Option<&Arc<Queue>>,
    future: Bound<'_, PyAny>,
    work: F,
) -> PyResult<AbortHandle>
where
    F: Future<Output = Result<Outcome, ClientError>> + Send + 'static,
{
    let Some(queue) = queue.cloned() else {
        return Err(PyRuntimeError::new_err(
            "this client was connected with `connect_sync`: its requests block and take no future",
        ));
    };
    let future = future.unbind();
    let task = runtime()?.spawn(async move {
        let outcome = work.await;
        queue.push(future, outcome);
    });
    Ok(task.abort_handle())
}

/// Runs `work`: with a `future`, in the background (returning a
/// [`Pending`] at once); without, blocking (returning its outcome).
pub(crate) fn dispatch<F>(
    py: Python<'_>,
    queue: Option<&Arc<Queue>>,
    future: Option<Bound<'_, PyAny>>,
    work: F,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<Outcome, ClientError>> + Send + 'static,
{
    match future {
        Some(future) => {
            let task = spawn(queue, future, work)?;
            Ok(Py::new(py, Pending { task })?.into_any())
        }
        None => match block_on(py, work)? {
            Ok(outcome) => outcome.into_py(py, queue),
            Err(e) => Err(to_pyerr(py, e)),
        },
    }
}

/// A caller's deadline in seconds as a duration.
pub(crate) fn deadline(timeout: Option<f64>) -> PyResult<Option<Duration>> {
    match timeout {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|e| PyValueError::new_err(format!("timeout={s}: {e}"))),
        Some(s) => Err(PyValueError::new_err(format!(
            "timeout={s}: a timeout is a positive number of seconds"
        ))),
    }
}

/// How to trust the server, as `warden call` decides: a fingerprint, a CA
/// file, or else the certificate of the local server using `state_dir`.
fn trust(
    py: Python<'_>,
    addr: &str,
    fingerprint: Option<String>,
    ca_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
) -> Result<Trust, PyErr> {
    match (fingerprint, ca_file) {
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "pass either fingerprint= or ca_file=, not both",
        )),
        (Some(fp), None) => tls::parse_fingerprint(&fp)
            .map(Trust::Fingerprint)
            .map_err(|e| PyValueError::new_err(e.to_string())),
        (None, Some(ca)) => Ok(Trust::CaFile(ca)),
        (None, None) => {
            let dir = state_dir.unwrap_or_else(warden_host::rpc::default_state_dir);
            tls::local_fingerprint(&dir)
                .map(Trust::Fingerprint)
                .map_err(|e| {
                    let reason = format!(
                        "no server certificate to trust: {e}. Pass fingerprint= (printed by \
                         `warden serve`) or ca_file=, or state_dir= of a local server"
                    );
                    let addr = addr.to_owned();
                    to_pyerr(py, ClientError::Connect { addr, reason })
                })
        }
    }
}

/// Connects to the server at `addr` (`host:port`). With `completer` and
/// `fut`, in the background (`fut` gets the client); otherwise blocking.
#[pyfunction]
#[pyo3(signature = (addr, *, fingerprint=None, ca_file=None, state_dir=None, token=None, completer=None, fut=None))]
#[allow(clippy::too_many_arguments)] // One keyword argument each, as Python sees them.
pub(crate) fn connect(
    py: Python<'_>,
    addr: String,
    fingerprint: Option<String>,
    ca_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    token: Option<String>,
    completer: Option<PyRef<'_, Completer>>,
    fut: Option<Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let trust = trust(py, &addr, fingerprint, ca_file, state_dir)?;
    let queue = completer.map(|c| c.queue.clone());
    let work = async move {
        Client::connect_with(
            &addr,
            trust,
            ConnectOpts {
                token,
                ..ConnectOpts::default()
            },
        )
        .await
        .map(Outcome::Client)
    };
    dispatch(py, queue.as_ref(), fut, work)
}

/// The state directory `warden serve` and `warden call` use by default.
#[pyfunction]
pub(crate) fn default_state_dir() -> String {
    warden_host::rpc::default_state_dir()
        .to_string_lossy()
        .into_owned()
}

/// A request running in the background; `abort()` stops it (a call is
/// cancelled on the server).
#[pyclass(module = "warden._warden", frozen)]
pub(crate) struct Pending {
    task: AbortHandle,
}

#[pymethods]
impl Pending {
    /// Stops the request.
    fn abort(&self) {
        self.task.abort();
    }
}

/// A connection to a server (see [`Client`]).
#[pyclass(module = "warden._warden", frozen)]
pub(crate) struct NativeClient {
    client: Client,
    queue: Option<Arc<Queue>>,
}

impl NativeClient {
    /// Wraps a connected client; `queue` completes its asyncio requests
    /// (`None` for a blocking client).
    pub(crate) fn new(client: Client, queue: Option<Arc<Queue>>) -> Self {
        NativeClient { client, queue }
    }

    fn run<F>(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>, work: F) -> PyResult<Py<PyAny>>
    where
        F: Future<Output = Result<Outcome, ClientError>> + Send + 'static,
    {
        dispatch(py, self.queue.as_ref(), fut, work)
    }
}

#[pymethods]
impl NativeClient {
    /// Calls `node` with `args` (a list in order, a dict by name, or None).
    #[pyo3(signature = (node, args, timeout=None, fut=None))]
    fn call(
        &self,
        py: Python<'_>,
        node: String,
        args: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let args = to_value(args)?;
        let opts = CallOpts {
            deadline: deadline(timeout)?,
            meta: None,
        };
        let client = self.client.clone();
        self.run(py, fut, async move {
            client
                .call_opts(&node, args, opts)
                .await
                .map(Outcome::Value)
        })
    }

    /// A call read event by event (progress, log, items), or with
    /// `channel`, a channel; nothing is sent before its `open`.
    #[pyo3(signature = (node, args, timeout=None, channel=false))]
    fn open_call(
        &self,
        node: String,
        args: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        channel: bool,
    ) -> PyResult<NativeCall> {
        let opts = CallOpts {
            deadline: deadline(timeout)?,
            meta: None,
        };
        Ok(NativeCall::new(
            self.client.clone(),
            self.queue.clone(),
            node,
            to_value(args)?,
            opts,
            channel,
        ))
    }

    /// Every node the caller may call, as node entries.
    #[pyo3(signature = (fut=None))]
    fn catalog(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        self.run(py, fut, async move {
            let nodes = client.catalog().await?;
            Ok(Outcome::Value(Value::Array(
                nodes.iter().map(|n| n.to_value()).collect(),
            )))
        })
    }

    /// One node's entry.
    #[pyo3(signature = (node, fut=None))]
    fn describe(
        &self,
        py: Python<'_>,
        node: String,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        self.run(py, fut, async move {
            Ok(Outcome::Value(client.describe(&node).await?.to_value()))
        })
    }

    /// The plugins' states and the compiled cache's counters.
    #[pyo3(signature = (fut=None))]
    fn status(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        self.run(py, fut, async move {
            Ok(Outcome::Value(client.status().await?.to_value()))
        })
    }

    /// Submits a job; its record.
    #[pyo3(signature = (node, args, callback=None, fut=None))]
    fn submit(
        &self,
        py: Python<'_>,
        node: String,
        args: &Bound<'_, PyAny>,
        callback: Option<String>,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let args = to_value(args)?;
        let client = self.client.clone();
        self.run(py, fut, async move {
            let job = client.submit(&node, args, callback.as_deref()).await?;
            Ok(Outcome::Value(job.to_value()))
        })
    }

    /// A job's record, waiting up to `wait` seconds for it to finish.
    #[pyo3(signature = (id, wait=None, keep=false, fut=None))]
    fn job(
        &self,
        py: Python<'_>,
        id: String,
        wait: Option<f64>,
        keep: bool,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let wait = deadline(wait)?;
        let client = self.client.clone();
        self.run(py, fut, async move {
            Ok(Outcome::Value(
                client.job(&id, wait, keep).await?.to_value(),
            ))
        })
    }

    /// A job's result, waiting up to `wait` seconds: its value when done,
    /// else the error it failed with (`cancelled` when cancelled, `timeout`
    /// when still running). Fetching a finished job removes it unless `keep`.
    #[pyo3(signature = (id, wait=None, keep=false, fut=None))]
    fn job_result(
        &self,
        py: Python<'_>,
        id: String,
        wait: Option<f64>,
        keep: bool,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let wait = deadline(wait)?;
        let client = self.client.clone();
        self.run(py, fut, async move {
            use warden_host::proto::JobState;
            let job = client.job(&id, wait, keep).await?;
            let failed = |kind: ErrorKind, message: String| {
                Err(ClientError::Call(CallError::new(kind, message)))
            };
            match job.state {
                JobState::Done => Ok(Outcome::Value(job.result.unwrap_or(Value::Nil))),
                JobState::Failed => failed(
                    job.error_kind.unwrap_or(ErrorKind::Internal),
                    job.error.unwrap_or_else(|| format!("job `{id}` failed")),
                ),
                JobState::Cancelled => {
                    failed(ErrorKind::Cancelled, format!("job `{id}` was cancelled"))
                }
                JobState::Queued | JobState::Running => {
                    // The details tell "not finished yet" from a job that
                    // failed with `timeout`.
                    let message = format!(
                        "job `{id}` is still {} after waiting {:.1} s",
                        job.state.as_str(),
                        wait.unwrap_or_default().as_secs_f64()
                    );
                    let details = Value::Map(vec![
                        ("id".into(), id.as_str().into()),
                        ("state".into(), job.state.as_str().into()),
                    ]);
                    Err(ClientError::Call(
                        CallError::new(ErrorKind::Timeout, message).with_details(details),
                    ))
                }
            }
        })
    }

    /// Cancels a job; its record as it is then.
    #[pyo3(signature = (id, fut=None))]
    fn cancel_job(
        &self,
        py: Python<'_>,
        id: String,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        self.run(py, fut, async move {
            Ok(Outcome::Value(client.cancel(&id).await?.to_value()))
        })
    }

    /// Uploads the file at `path` (streamed); `{"ref", "size"}`.
    #[pyo3(signature = (path, fut=None))]
    fn put_file(
        &self,
        py: Python<'_>,
        path: PathBuf,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let file = std::fs::File::open(&path)?;
        let size = file.metadata()?.len();
        let file = tokio::fs::File::from_std(file);
        let client = self.client.clone();
        self.run(py, fut, async move {
            let info = client.put_blob(file, Some(size)).await?;
            Ok(Outcome::Value(info.to_value()))
        })
    }

    /// Uploads `data`; `{"ref", "size"}`.
    #[pyo3(signature = (data, fut=None))]
    fn put_bytes(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let data = data.as_bytes().to_vec();
        let size = data.len() as u64;
        let client = self.client.clone();
        self.run(py, fut, async move {
            let info = client
                .put_blob(std::io::Cursor::new(data), Some(size))
                .await?;
            Ok(Outcome::Value(info.to_value()))
        })
    }

    /// Downloads blob `reference` into the file at `path` (streamed; the
    /// file is removed if the download fails); `{"ref", "size"}`.
    #[pyo3(signature = (reference, path, fut=None))]
    fn get_file(
        &self,
        py: Python<'_>,
        reference: String,
        path: PathBuf,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let file = tokio::fs::File::from_std(std::fs::File::create(&path)?);
        let client = self.client.clone();
        self.run(py, fut, async move {
            match client.get_blob(&reference, file).await {
                Ok(info) => Ok(Outcome::Value(info.to_value())),
                Err(e) => {
                    let _ = tokio::fs::remove_file(&path).await;
                    Err(e)
                }
            }
        })
    }

    /// Downloads blob `reference` into memory; its bytes.
    #[pyo3(signature = (reference, fut=None))]
    fn get_bytes(
        &self,
        py: Python<'_>,
        reference: String,
        fut: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        self.run(py, fut, async move {
            let mut data = Vec::new();
            client.get_blob(&reference, &mut data).await?;
            Ok(Outcome::Value(Value::Binary(data)))
        })
    }

    /// Hands an empty request to the runtime and back (no network): what
    /// the bench reports as the client's own round trip.
    #[pyo3(signature = (fut=None))]
    fn handoff(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        self.run(py, fut, async { Ok(Outcome::Value(Value::Nil)) })
    }

    /// Closes the connection: requests in flight fail with
    /// `ConnectionLost`; waits at most a second for the server to be told.
    #[pyo3(signature = (fut=None))]
    fn close(&self, py: Python<'_>, fut: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        self.run(py, fut, async move {
            client.close().await;
            Ok(Outcome::Value(Value::Nil))
        })
    }
}
