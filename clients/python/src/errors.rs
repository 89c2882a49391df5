//! Client errors as Python exceptions: one `warden.Error` subclass per
//! [`ErrorKind`], plus `ConnectError`, `ConnectionLost` and `ProtocolError`
//! for the transport. The class comes from the typed error, never from its
//! message.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use warden_host::ErrorKind;
use warden_host::rpc::ClientError;

use crate::convert::to_py;

/// The Python module defining the exception classes.
const ERRORS_MODULE: &str = "warden._errors";

/// The class name (in `warden._errors`) for an error kind.
fn kind_class(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFound",
        ErrorKind::BadArgs => "BadArgs",
        ErrorKind::Denied => "Denied",
        ErrorKind::Unauthenticated => "Unauthenticated",
        ErrorKind::Trap => "Trap",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::ResourceLimit => "ResourceLimit",
        ErrorKind::NodeError => "NodeError",
        ErrorKind::Overloaded => "Overloaded",
        ErrorKind::Cancelled => "Cancelled",
        ErrorKind::BadRequest => "BadRequest",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Internal => "Internal",
    }
}

/// The class name for a client error.
fn class_name(e: &ClientError) -> &'static str {
    match e {
        ClientError::Connect { .. } => "ConnectError",
        ClientError::ConnectionLost(_) => "ConnectionLost",
        ClientError::Protocol(_) => "ProtocolError",
        ClientError::Call(call) => kind_class(call.kind),
    }
}

/// Makes `warden._errors.<class>(message, details)`.
fn make(py: Python<'_>, class: &str, message: String, details: Py<PyAny>) -> PyErr {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let made = MODULE
        .get_or_try_init(py, || py.import(ERRORS_MODULE).map(Bound::unbind))
        .and_then(|module| module.bind(py).getattr(class))
        .and_then(|cls| cls.call1((message.clone(), details)));
    match made {
        Ok(instance) => PyErr::from_value(instance),
        // Only when the package is broken (the module or class missing).
        Err(e) => {
            PyRuntimeError::new_err(format!("{message} (and making the exception failed: {e})"))
        }
    }
}

/// A client error as the matching `warden.Error` subclass, with its
/// message and (converted) details.
pub(crate) fn to_pyerr(py: Python<'_>, e: ClientError) -> PyErr {
    let class = class_name(&e);
    let message = e.message();
    let details = match e {
        ClientError::Call(call) => match call.details.map(|d| to_py(py, d)) {
            Some(Ok(details)) => details.unbind(),
            Some(Err(err)) => return err,
            None => py.None(),
        },
        _ => py.None(),
    };
    make(py, class, message, details)
}

/// `warden.ProtocolError(message)`: the server sent something the client
/// cannot represent.
pub(crate) fn protocol_error(py: Python<'_>, message: String) -> PyErr {
    make(py, "ProtocolError", message, py.None())
}
