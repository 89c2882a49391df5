"""The blocking API, for scripts and notebooks: `warden.connect_sync(...)`
returns a `SyncClient` with the same methods as `Client`, each blocking
until its answer (the GIL is released meanwhile; Ctrl-C cancels the
request and raises `KeyboardInterrupt`)."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union, overload

from . import _args, _warden
from ._aio import BlobSource, LogCallback, ProgressCallback, _blob_bytes, _still_running
from ._errors import Cancelled, ConnectError, Error
from ._types import BlobRef, Item, JobInfo, Log, NodeInfo, Progress, Status, _event

__all__ = ["connect_sync", "SyncClient", "SyncNode", "SyncCall", "SyncStream", "SyncChannel", "SyncJob", "SyncBlobs"]

_UNSET: Any = object()


def connect_sync(
    addr: str = "127.0.0.1:7443",
    *,
    token: Optional[str] = None,
    fingerprint: Optional[str] = None,
    ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    state_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> "SyncClient":
    """Connects like `warden.connect`, blocking; see there for trust."""
    native = _warden.connect(addr, fingerprint=fingerprint, ca_file=ca_file, state_dir=state_dir, token=token)
    return SyncClient(native, addr)


class SyncClient:
    """A blocking connection to a Warden server; usable from any thread
    (requests from several threads run concurrently on one connection).
    Use it as a context manager, or call `close()`."""

    def __init__(self, native: Any, addr: str) -> None:
        self._native_client = native
        self._params: Dict[str, Tuple[str, ...]] = {}
        self._closed = False
        #: The server's address, as given to `connect_sync`.
        self.addr = addr
        #: Uploading and downloading blobs.
        self.blobs = SyncBlobs(self)

    def __repr__(self) -> str:
        return f"<warden.SyncClient {self.addr}{' closed' if self._closed else ''}>"

    def __enter__(self) -> "SyncClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def _native(self) -> Any:
        if self._closed:
            raise ConnectError(f"the client for {self.addr} is closed; connect again")
        return self._native_client

    def _wire_args(self, node: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        if not _args.needs_params(args, kwargs):
            return _args.build(node, args, kwargs)
        params = self._params.get(node)
        if params is None:
            params = tuple(p.name for p in self.describe(node).params)
        return _args.build(node, args, kwargs, params)

    def call(
        self,
        node: str,
        *args: Any,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
        **kwargs: Any,
    ) -> Any:
        """Calls `node` and returns its result (see `Client.call`)."""
        wire = self._wire_args(node, args, kwargs) if kwargs else args
        return self.call_raw(node, wire, timeout=timeout, on_progress=on_progress, on_log=on_log)

    def call_raw(
        self,
        node: str,
        args: Any,
        *,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
    ) -> Any:
        """Calls `node` with `args` as the wire takes them (see
        `Client.call_raw`)."""
        if on_progress is None and on_log is None:
            return self._native.call(node, args, timeout)
        with SyncCall(self, node, args, timeout) as call:
            for event in call:
                if isinstance(event, Progress):
                    if on_progress is not None:
                        on_progress(event.fraction, event.message)
                elif isinstance(event, Log) and on_log is not None:
                    on_log(event.level, event.message)
            return call.result()

    def start(self, node: str, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "SyncCall":
        """A call read event by event (see `Client.start`)."""
        return SyncCall(self, node, self._wire_args(node, args, kwargs), timeout)

    def stream(
        self,
        node: str,
        *args: Any,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
        **kwargs: Any,
    ) -> "SyncStream":
        """The items of a stream node, as an iterator (see `Client.stream`)."""
        wire = self._wire_args(node, args, kwargs)
        return SyncStream(self, node, wire, timeout, on_progress=on_progress, on_log=on_log)

    def channel(
        self,
        node: str,
        *args: Any,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
        **kwargs: Any,
    ) -> "SyncChannel":
        """A channel to a channel node (see `Client.channel`): `with
        w.channel(...) as ch: ch.send(x); ch.finish(); for reply in ch: ...`."""
        wire = self._wire_args(node, args, kwargs)
        return SyncChannel(self, node, wire, timeout, channel=True, on_progress=on_progress, on_log=on_log)

    def node(self, name: str) -> "SyncNode":
        """A callable proxy for node `name`."""
        return SyncNode(self, name)

    def nodes(self) -> Dict[str, "SyncNode"]:
        """A proxy for every node in the catalog, by name."""
        return {info.node: SyncNode(self, info.node, info) for info in self.catalog()}

    def submit(self, node: str, *args: Any, callback: Optional[str] = None, **kwargs: Any) -> "SyncJob":
        """Runs a call as a job (see `Client.submit`)."""
        record = self._native.submit(node, self._wire_args(node, args, kwargs), callback)
        info = JobInfo._from_wire(record)
        return SyncJob(self, info.id, info)

    def job(self, id: str) -> "SyncJob":
        """The job with this id (submitted by the same caller)."""
        return SyncJob(self, id, None)

    def catalog(self) -> List[NodeInfo]:
        """Every node the caller may call."""
        infos = [NodeInfo._from_wire(e) for e in self._native.catalog()]
        for info in infos:
            self._params[info.node] = tuple(p.name for p in info.params)
        return infos

    def describe(self, node: str) -> NodeInfo:
        """One node's entry."""
        info = NodeInfo._from_wire(self._native.describe(node))
        self._params[node] = tuple(p.name for p in info.params)
        return info

    def status(self) -> Status:
        """The plugins' states and the compiled cache's counters."""
        return Status._from_wire(self._native.status())

    def close(self) -> None:
        """Closes the connection."""
        if not self._closed:
            self._closed = True
            self._native_client.close()


class SyncNode:
    """A callable proxy for one node (see `Node`)."""

    def __init__(self, client: SyncClient, name: str, info: Optional[NodeInfo] = None) -> None:
        from ._aio import _signature

        self.client = client
        self.name = name
        self.info = info
        if info is not None:
            self.__doc__ = f"{info.signature}\n\n{info.docs or ''}".rstrip()
            self.__signature__ = _signature(info)

    def __repr__(self) -> str:
        return f"<warden.SyncNode {self.info.signature if self.info else self.name}>"

    def __call__(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> Any:
        return self.client.call(self.name, *args, timeout=timeout, **kwargs)

    def describe(self) -> NodeInfo:
        """The node's entry (fetched once)."""
        if self.info is None:
            self.info = self.client.describe(self.name)
        return self.info

    def start(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "SyncCall":
        """See `SyncClient.start`."""
        return self.client.start(self.name, *args, timeout=timeout, **kwargs)

    def stream(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "SyncStream":
        """See `SyncClient.stream`."""
        return self.client.stream(self.name, *args, timeout=timeout, **kwargs)

    def channel(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "SyncChannel":
        """See `SyncClient.channel`."""
        return self.client.channel(self.name, *args, timeout=timeout, **kwargs)

    def submit(self, *args: Any, callback: Optional[str] = None, **kwargs: Any) -> "SyncJob":
        """See `SyncClient.submit`."""
        return self.client.submit(self.name, *args, callback=callback, **kwargs)


class SyncCall:
    """A call read event by event, blocking (see `Call`)."""

    def __init__(
        self,
        client: SyncClient,
        node: str,
        wire_args: Any,
        timeout: Optional[float],
        *,
        channel: bool = False,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
    ) -> None:
        self._node = node
        self._native = client._native.open_call(node, wire_args, timeout, channel)
        self._opened = False
        self._ended = False
        self._result: Any = _UNSET
        self._error: Optional[BaseException] = None
        self._on_progress = on_progress
        self._on_log = on_log

    @property
    def node(self) -> str:
        """The node called."""
        return self._node

    def open(self) -> None:
        """Sends the request (once; iterating or `with` does it)."""
        if not self._opened:
            self._opened = True
            try:
                self._native.open()
            except BaseException as e:
                self._ended = True
                self._error = e
                raise

    def __enter__(self) -> "SyncCall":
        self.open()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._ended:
            self.cancel()

    def __iter__(self) -> "SyncCall":
        return self

    def _next_event(self) -> Any:
        if self._ended:
            if self._error is not None:
                raise self._error
            raise StopIteration
        self.open()
        try:
            raw = self._native.next()
        except Error as e:
            self._ended = True
            self._error = e
            raise
        except BaseException:
            # Ctrl-C: the native read was dropped, which cancelled the call.
            self.cancel()
            raise
        if raw[0] == "end":
            self._ended = True
            self._result = raw[1]
            raise StopIteration
        return _event(raw)

    def __next__(self) -> Any:
        return self._next_event()

    def _dispatch(self, event: Any) -> bool:
        if isinstance(event, Item):
            return True
        if isinstance(event, Progress):
            if self._on_progress is not None:
                self._on_progress(event.fraction, event.message)
        elif self._on_log is not None:
            self._on_log(event.level, event.message)
        return False

    def result(self) -> Any:
        """Waits for the end and returns the result, or raises the error."""
        while True:
            try:
                self._next_event()
            except StopIteration:
                break
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        """Cancels the call: the server stops the node."""
        self._native.cancel()
        if not self._ended:
            self._ended = True
            self._error = Cancelled("the call was cancelled by the caller")


class SyncStream(SyncCall):
    """The items of a stream node, as an iterator."""

    def __enter__(self) -> "SyncStream":
        self.open()
        return self

    def __iter__(self) -> "SyncStream":
        return self

    def __next__(self) -> Any:
        while True:
            event = self._next_event()
            if self._dispatch(event):
                return event.value


class SyncChannel(SyncCall):
    """A channel to a channel node, blocking (see `Channel`)."""

    def __enter__(self) -> "SyncChannel":
        self.open()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.cancel()
            return
        if not self._ended:
            self._native.finish()
            self.result()

    def __iter__(self) -> "SyncChannel":
        return self

    def __next__(self) -> Any:
        while True:
            event = self._next_event()
            if self._dispatch(event):
                return event.value

    def send(self, message: Any) -> None:
        """Sends one message to the node."""
        self.open()
        self._native.send(message)

    def finish(self) -> None:
        """Ends the input."""
        self.open()
        self._native.finish()

    def recv(self, default: Any = _UNSET) -> Any:
        """The next reply; at the end, `default` if given, else
        `StopIteration`."""
        try:
            return self.__next__()
        except StopIteration:
            if default is _UNSET:
                raise
            return default


class SyncJob:
    """A job on the server, blocking (see `Job`)."""

    def __init__(self, client: SyncClient, id: str, info: Optional[JobInfo]) -> None:
        self.client = client
        #: The job's id.
        self.id = id
        #: The record as last seen.
        self.info = info
        self._outcome: Any = _UNSET
        self._error: Optional[BaseException] = None

    def __repr__(self) -> str:
        state = self.info.state if self.info else "?"
        return f"<warden.SyncJob {self.id} {state}>"

    def result(self, wait: Optional[float] = None) -> Any:
        """The job's result, waiting up to `wait` seconds (see `Job.result`)."""
        if self._error is not None:
            raise self._error
        if self._outcome is not _UNSET:
            return self._outcome
        try:
            self._outcome = self.client._native.job_result(self.id, wait, False)
        except Error as e:
            if not _still_running(e):
                self._error = e
            raise
        return self._outcome

    def status(self, wait: Optional[float] = None) -> JobInfo:
        """The record now (kept on the server)."""
        self.info = JobInfo._from_wire(self.client._native.job(self.id, wait, True))
        return self.info

    def cancel(self) -> JobInfo:
        """Cancels the job if it has not finished."""
        self.info = JobInfo._from_wire(self.client._native.cancel_job(self.id))
        return self.info


class SyncBlobs:
    """Uploading and downloading blobs, blocking (see `Blobs`)."""

    def __init__(self, client: SyncClient) -> None:
        self._client = client

    def put(self, source: BlobSource) -> BlobRef:
        """Uploads a file path, bytes or a binary file object."""
        native = self._client._native
        if isinstance(source, (str, os.PathLike)):
            info = native.put_file(os.fspath(source))
        else:
            info = native.put_bytes(_blob_bytes(source))
        return BlobRef(info["ref"], info["size"])

    @overload
    def get(self, ref: str) -> bytes: ...

    @overload
    def get(self, ref: str, dest: Union[str, "os.PathLike[str]"]) -> int: ...

    def get(self, ref: str, dest: Optional[Union[str, "os.PathLike[str]"]] = None) -> Union[bytes, int]:
        """Downloads blob `ref` into `dest` (returns its size) or into
        memory (returns the bytes)."""
        native = self._client._native
        if dest is None:
            data: bytes = native.get_bytes(str(ref))
            return data
        size: int = native.get_file(str(ref), os.fspath(dest))["size"]
        return size
