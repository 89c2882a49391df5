//! Call errors and their kinds: what every front end sends and every client
//! reads.

use std::fmt;
use std::str::FromStr;

/// What went wrong with a request, as one stable kebab-case word.
///
/// The kind is what scripts and remote callers branch on; the message that
/// travels with it is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No node (or plugin) by that name.
    NotFound,
    /// The arguments do not match the node's parameter types.
    BadArgs,
    /// The caller may not call this node.
    Denied,
    /// The caller did not say who it is.
    Unauthenticated,
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access).
    Trap,
    /// The call ran past its deadline.
    Timeout,
    /// The call hit a limit: memory, stack, result size, table or instance slots.
    ResourceLimit,
    /// The node returned `err(E)` from a top-level `result<T, E>`; `E` is in the details.
    NodeError,
    /// Too many calls are running; try again later.
    Overloaded,
    /// The call was cancelled (by the caller, or by a server shutting down).
    Cancelled,
    /// The request itself is malformed.
    BadRequest,
    /// The plugin is loading or failed to load; the message says which and why.
    Unavailable,
    /// A bug or an unexpected failure in the host.
    Internal,
}

impl ErrorKind {
    /// Every kind, in a stable order.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::NotFound,
        ErrorKind::BadArgs,
        ErrorKind::Denied,
        ErrorKind::Unauthenticated,
        ErrorKind::Trap,
        ErrorKind::Timeout,
        ErrorKind::ResourceLimit,
        ErrorKind::NodeError,
        ErrorKind::Overloaded,
        ErrorKind::Cancelled,
        ErrorKind::BadRequest,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    /// The kind's wire name, e.g. `"bad-args"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not-found",
            ErrorKind::BadArgs => "bad-args",
            ErrorKind::Denied => "denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Trap => "trap",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ResourceLimit => "resource-limit",
            ErrorKind::NodeError => "node-error",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::BadRequest => "bad-request",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the [`ErrorKind`] wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error kind `{0}`")]
pub struct UnknownErrorKind(pub String);

impl FromStr for ErrorKind {
    type Err = UnknownErrorKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownErrorKind(s.to_owned()))
    }
}

/// Why a request failed: a [`ErrorKind`], a message for people, and optional
/// structured details (for `node-error`, the node's `err` value).
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// What went wrong, for people.
    pub message: String,
    /// Structured details, e.g. the `E` of a node's `err(E)`.
    pub details: Option<rmpv::Value>,
}

impl CallError {
    /// Makes an error without details.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            message: message.into(),
            details: None,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: rmpv::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for CallError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
        }
        assert!("nope".parse::<ErrorKind>().is_err());
    }
}
