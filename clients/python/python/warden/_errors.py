"""Exceptions: one class per error kind of the protocol, and three for the
transport. The native module picks the class from the typed Rust error
(`ClientError`, `ErrorKind`), never from a message."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

__all__ = [
    "Error",
    "NotFound",
    "Unavailable",
    "BadArgs",
    "Denied",
    "Unauthenticated",
    "Trap",
    "Timeout",
    "ResourceLimit",
    "NodeError",
    "Overloaded",
    "Cancelled",
    "BadRequest",
    "Internal",
    "ConnectError",
    "ConnectionLost",
    "ProtocolError",
]


class Error(Exception):
    """A request to a Warden server failed.

    `kind` is the protocol's error kind (`"not-found"`, `"bad-args"`, ...,
    or `"connect"`, `"connection-lost"`, `"protocol"` for the transport),
    `message` says what went wrong, for people, and `details` carries
    structured details: for `NodeError`, the node's `err(E)` value.
    """

    KIND = "error"

    kind: str
    message: str
    details: Any

    def __init__(self, message: str, details: Any = None, *, kind: Optional[str] = None) -> None:
        super().__init__(message)
        self.kind = kind if kind is not None else type(self).KIND
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, details={self.details!r})"

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, self.details, self.kind))


def _rebuild(cls: Type[Error], message: str, details: Any, kind: str) -> Error:
    return cls(message, details, kind=kind)


class NotFound(Error):
    """No such plugin or node (or the node is private to other nodes)."""

    KIND = "not-found"


class Unavailable(Error):
    """The node's plugin is still loading, or its file failed to load."""

    KIND = "unavailable"


class BadArgs(Error):
    """The arguments do not fit the node's parameter types."""

    KIND = "bad-args"


class Denied(Error):
    """The caller may not call this node (or use blobs)."""

    KIND = "denied"


class Unauthenticated(Error):
    """The server needs a caller token for this (pass `token=`)."""

    KIND = "unauthenticated"


class Trap(Error):
    """The node trapped: a panic, `unreachable`, an out-of-bounds access."""

    KIND = "trap"


class Timeout(Error, TimeoutError):
    """The call passed its deadline (`timeout=`) or the plugin's timeout.
    Also a `TimeoutError`."""

    KIND = "timeout"


class ResourceLimit(Error):
    """The call hit a limit: memory, stack, result size, a quota."""

    KIND = "resource-limit"


class NodeError(Error):
    """The node returned `err(E)`; `details` is `E`."""

    KIND = "node-error"


class Overloaded(Error):
    """The server or the plugin runs its maximum of calls; retry later."""

    KIND = "overloaded"


class Cancelled(Error):
    """The call was cancelled (or the server is shutting down)."""

    KIND = "cancelled"


class BadRequest(Error):
    """The server found the request malformed."""

    KIND = "bad-request"


class Internal(Error):
    """A bug or unexpected failure in the server."""

    KIND = "internal"


class ConnectError(Error, ConnectionError):
    """The server could not be reached, or is not trusted. Also a
    `ConnectionError`."""

    KIND = "connect"


class ConnectionLost(Error, ConnectionError):
    """The connection broke while the request was in flight. Also a
    `ConnectionError`."""

    KIND = "connection-lost"


class ProtocolError(Error):
    """The server answered with something that is not the protocol."""

    KIND = "protocol"


#: Every error class by its kind.
KINDS: Dict[str, Type[Error]] = {
    cls.KIND: cls
    for cls in (
        NotFound,
        Unavailable,
        BadArgs,
        Denied,
        Unauthenticated,
        Trap,
        Timeout,
        ResourceLimit,
        NodeError,
        Overloaded,
        Cancelled,
        BadRequest,
        Internal,
        ConnectError,
        ConnectionLost,
        ProtocolError,
    )
}

# Shown (and pickled) as `warden.NotFound`, where users import them from.
for _cls in (Error, *KINDS.values()):
    _cls.__module__ = "warden"
