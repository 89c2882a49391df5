"""Types of `warden._warden`, the native module (Rust, `clients/python/src`).

The public API is the `warden` package; these are its building blocks.
Every request method takes an optional `fut` last: given an asyncio future
(of the loop whose `Completer` the client was connected with), it starts
the request and returns at once, and the answer completes `fut`; without
one it blocks (the GIL released) and returns the answer.
"""

from os import PathLike
from typing import Any, Optional, Tuple, Union

_Path = Union[str, PathLike[str]]

#: How deep values may nest (lists and dicts), as on the wire.
MAX_DEPTH: int

def connect(
    addr: str,
    *,
    fingerprint: Optional[str] = None,
    ca_file: Optional[_Path] = None,
    state_dir: Optional[_Path] = None,
    token: Optional[str] = None,
    completer: Optional[Completer] = None,
    fut: Optional[Any] = None,
) -> Any:
    """Connects; returns (or completes `fut` with) a `NativeClient`."""

def default_state_dir() -> str:
    """The state directory `warden serve` and `warden call` use by default."""

class Completer:
    """Where asyncio requests are completed: `loop.add_reader(c.fileno(),
    c.drain)`."""

    def __init__(self) -> None: ...
    def fileno(self) -> int:
        """The descriptor that becomes readable when answers wait."""
    def drain(self) -> int:
        """Completes the futures of finished requests; how many."""
    def wait(self, seconds: float) -> int:
        """Waits up to `seconds` (at most 0.01) with the GIL released for a
        finished request, then completes every one waiting; how many (0:
        the time ran out)."""

class Pending:
    """A request running in the background."""

    def abort(self) -> None:
        """Stops it (a call is cancelled on the server)."""

class NativeClient:
    """A connection (the Rust `warden_host::rpc::Client`)."""

    def call(self, node: str, args: Any, timeout: Optional[float] = None, fut: Optional[Any] = None) -> Any: ...
    def open_call(self, node: str, args: Any, timeout: Optional[float] = None, channel: bool = False) -> NativeCall: ...
    def catalog(self, fut: Optional[Any] = None) -> Any: ...
    def describe(self, node: str, fut: Optional[Any] = None) -> Any: ...
    def status(self, fut: Optional[Any] = None) -> Any: ...
    def submit(self, node: str, args: Any, callback: Optional[str] = None, fut: Optional[Any] = None) -> Any: ...
    def job(self, id: str, wait: Optional[float] = None, keep: bool = False, fut: Optional[Any] = None) -> Any: ...
    def job_result(self, id: str, wait: Optional[float] = None, keep: bool = False, fut: Optional[Any] = None) -> Any: ...
    def cancel_job(self, id: str, fut: Optional[Any] = None) -> Any: ...
    def put_file(self, path: _Path, fut: Optional[Any] = None) -> Any: ...
    def put_bytes(self, data: bytes, fut: Optional[Any] = None) -> Any: ...
    def get_file(self, reference: str, path: _Path, fut: Optional[Any] = None) -> Any: ...
    def get_bytes(self, reference: str, fut: Optional[Any] = None) -> Any: ...
    def handoff(self, fut: Optional[Any] = None) -> Any: ...
    def close(self, fut: Optional[Any] = None) -> Any: ...

class NativeCall:
    """A call read event by event; events are `(tag, a, b)` tuples:
    `("progress", fraction, message)`, `("log", level, message)`,
    `("item", value, None)`, `("end", result, None)`."""

    def open(self, fut: Optional[Any] = None) -> Any: ...
    def next(self, fut: Optional[Any] = None) -> Tuple[str, Any, Any]: ...
    def send(self, message: Any, fut: Optional[Any] = None) -> Any: ...
    def finish(self) -> None: ...
    def cancel(self) -> None: ...
