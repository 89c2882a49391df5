"""The asyncio API: `await warden.connect(...)` and what a `Client` does.

Every request runs in the native module (Rust, off the interpreter); its
answer completes an asyncio future of the loop the client was connected
in. Cancelling the task awaiting a call cancels the call on the server."""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    List,
    Optional,
    Tuple,
    Union,
    overload,
)

from . import _args, _warden
from ._errors import Cancelled, ConnectError, Error
from ._types import BlobRef, Item, JobInfo, Log, NodeInfo, Progress, Status, _event

__all__ = ["connect", "Client", "Node", "Call", "Stream", "Channel", "Job", "Blobs"]

#: `on_progress(fraction, message)`; may be a coroutine function.
ProgressCallback = Callable[[float, str], Any]
#: `on_log(level, message)`; may be a coroutine function.
LogCallback = Callable[[str, str], Any]
#: What `Blobs.put` uploads: a file path, bytes, or a binary file object.
BlobSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Any]

_UNSET: Any = object()


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


async def connect(
    addr: str = "127.0.0.1:7443",
    *,
    token: Optional[str] = None,
    fingerprint: Optional[str] = None,
    ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    state_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    inline_wait: float = 0.001,
) -> "Client":
    """Connects to the Warden server at `addr` (`host:port`).

    The server is trusted by its certificate's SHA-256 `fingerprint` (as
    `warden serve` prints it), by a `ca_file` (PEM), or else, like `warden
    call`, by the certificate of the local server that uses `state_dir`
    (default: `$WARDEN_STATE_DIR`, else `~/.local/state/warden`). `token`
    identifies the caller to servers with callers configured.

    `inline_wait` (seconds, at most 0.01; 0 turns it off): when a request
    is made while the event loop has nothing else ready, the loop's thread
    waits up to this long for the answer (sleeping, with the GIL released)
    before going back to the loop's selector. A quick answer then skips the
    selector's round trip, about a third of a local call's time; I/O of
    other tasks arriving meanwhile waits at most this long. After a wait
    that runs out, the next 16 requests do not wait, so slow servers cost
    the loop nothing.

    Raises `ConnectError` when the server cannot be reached or trusted,
    `Unauthenticated` when it knows no caller with `token`, and `ValueError`
    for a malformed fingerprint.
    """
    wait = _inline_wait(inline_wait)
    loop = asyncio.get_running_loop()
    completer = _warden.Completer()
    loop.add_reader(completer.fileno(), completer.drain)
    fut = loop.create_future()
    try:
        pending = _warden.connect(
            addr,
            fingerprint=fingerprint,
            ca_file=ca_file,
            state_dir=state_dir,
            token=token,
            completer=completer,
            fut=fut,
        )
        try:
            native = await fut
        except asyncio.CancelledError:
            pending.abort()
            raise
    except BaseException:
        loop.remove_reader(completer.fileno())
        raise
    client = Client(native, completer, loop, addr)
    client._inline_wait = wait
    return client


def _inline_wait(seconds: float) -> float:
    if not 0 <= seconds <= 0.01:
        raise ValueError(f"inline_wait={seconds!r}: give 0 (off) up to 0.01 seconds")
    return float(seconds)


class Client:
    """A connection to a Warden server, bound to the event loop it was
    made in. Calls from many tasks share it (one QUIC stream each); after a
    server restart the next request reconnects.

    Use it as `async with await warden.connect(...) as w:`, or call
    `await w.close()` when done.
    """

    def __init__(self, native: Any, completer: Any, loop: asyncio.AbstractEventLoop, addr: str) -> None:
        self._native = native
        self._completer = completer
        self._loop = loop
        self._params: Dict[str, Tuple[str, ...]] = {}
        self._closed = False
        #: The server's address, as given to `connect`.
        self.addr = addr
        #: Uploading and downloading blobs.
        self.blobs = Blobs(self)
        self._inline_wait = 0.0
        self._skip_waits = 0

    def __repr__(self) -> str:
        return f"<warden.Client {self.addr}{' closed' if self._closed else ''}>"

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectError(f"the client for {self.addr} is closed; connect again")

    def _wait_inline(self, fut: "asyncio.Future[Any]") -> None:
        """Waits briefly on this thread for `fut`'s answer when the loop has
        nothing else ready (see `connect`'s `inline_wait`)."""
        if self._skip_waits:
            self._skip_waits -= 1
            return
        loop = self._loop
        # Only the standard loop tells what is ready; others never wait.
        ready = getattr(loop, "_ready", None)
        if ready is None or ready:
            return
        budget = self._inline_wait
        scheduled = getattr(loop, "_scheduled", None)
        if scheduled:
            budget = min(budget, scheduled[0].when() - loop.time())
        if budget > 0 and not fut.done() and self._completer.wait(budget) == 0:
            self._skip_waits = 16

    async def _request(self, method: Callable[..., Any], *args: Any) -> Any:
        self._check_open()
        fut = self._loop.create_future()
        pending = method(*args, fut)
        if self._inline_wait:
            self._wait_inline(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            pending.abort()
            raise

    async def _wire_args(self, node: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        if not _args.needs_params(args, kwargs):
            return _args.build(node, args, kwargs)
        params = self._params.get(node)
        if params is None:
            info = await self.describe(node)
            params = tuple(p.name for p in info.params)
        return _args.build(node, args, kwargs, params)

    async def call(
        self,
        node: str,
        *args: Any,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
        **kwargs: Any,
    ) -> Any:
        """Calls `node` and returns its result.

        Arguments are given in order (`call("math/add", 1, 2)`) or by name
        (`call("math/add", a=1, b=2)`; `delay_ms=` is the parameter
        `delay-ms`). `timeout` (seconds) is a deadline the server enforces
        (`warden.Timeout`). `on_progress(fraction, message)` and
        `on_log(level, message)` see the node's progress and log lines.
        Cancelling the awaiting task cancels the call on the server.

        Raises the `warden.Error` subclass of the failure's kind, e.g.
        `NodeError` (with the node's `err` value as `details`) or `BadArgs`.
        """
        if kwargs or on_progress is not None or on_log is not None or self._closed:
            wire = await self._wire_args(node, args, kwargs) if kwargs else args
            return await self.call_raw(node, wire, timeout=timeout, on_progress=on_progress, on_log=on_log)
        # The common case, inline: one coroutine, one future.
        fut = self._loop.create_future()
        pending = self._native.call(node, args, timeout, fut)
        if self._inline_wait:
            self._wait_inline(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            pending.abort()
            raise

    async def call_raw(
        self,
        node: str,
        args: Any,
        *,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
    ) -> Any:
        """Calls `node` with `args` as the wire takes them: a list in
        order, a dict by WIT parameter name (kebab-case), or None. For a
        node whose parameters are named like `call`'s options (`timeout`)."""
        if on_progress is None and on_log is None:
            if self._closed:
                self._check_open()
            fut = self._loop.create_future()
            pending = self._native.call(node, args, timeout, fut)
            if self._inline_wait:
                self._wait_inline(fut)
            try:
                return await fut
            except asyncio.CancelledError:
                pending.abort()
                raise
        async with Call(self, node, args, timeout) as call:
            async for event in call:
                if isinstance(event, Progress):
                    if on_progress is not None:
                        await _maybe_await(on_progress(event.fraction, event.message))
                elif isinstance(event, Log) and on_log is not None:
                    await _maybe_await(on_log(event.level, event.message))
            return await call.result()

    def start(self, node: str, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "Call":
        """A call whose events (`Progress`, `Log`, `Item`) are read one by
        one: `async with w.start(...) as c: async for event in c: ...`,
        then `await c.result()`. Leaving the block early cancels it."""
        return Call(self, node, None, timeout, args=args, kwargs=kwargs)

    def stream(
        self,
        node: str,
        *args: Any,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
        **kwargs: Any,
    ) -> "Stream":
        """The items of a stream node, as an async iterator: `async for n in
        w.stream("streams/counter/count", 3, 100)`. A failure after some
        items raises once those are read. Breaking out of the loop (or
        leaving `async with`) cancels the node."""
        return Stream(self, node, None, timeout, args=args, kwargs=kwargs, on_progress=on_progress, on_log=on_log)

    def channel(
        self,
        node: str,
        *args: Any,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
        **kwargs: Any,
    ) -> "Channel":
        """A channel to a channel node: `async with w.channel(node, ...) as
        ch:`, then `await ch.send(message)`, `ch.finish()`, and `async for
        reply in ch`. See `Channel`."""
        return Channel(
            self, node, None, timeout, args=args, kwargs=kwargs, channel=True, on_progress=on_progress, on_log=on_log
        )

    def node(self, name: str) -> "Node":
        """A callable proxy for node `name`: `add = w.node("math/add"); await
        add(1, 2)`."""
        return Node(self, name)

    async def nodes(self) -> Dict[str, "Node"]:
        """A proxy for every node in the catalog, by name, each with its
        `info`, signature and docs (`help(proxy)`)."""
        return {info.node: Node(self, info.node, info) for info in await self.catalog()}

    async def submit(self, node: str, *args: Any, callback: Optional[str] = None, **kwargs: Any) -> "Job":
        """Runs a call as a job on the server and returns at once: `await
        job.result(wait=30)` later, from this or any connection of the same
        caller (`w.job(id)`). `callback` names a node the server calls with
        the outcome. Bad arguments raise `BadArgs` now, not later."""
        wire = await self._wire_args(node, args, kwargs)
        record = await self._request(self._native.submit, node, wire, callback)
        info = JobInfo._from_wire(record)
        return Job(self, info.id, info)

    def job(self, id: str) -> "Job":
        """The job with this id (submitted by the same caller)."""
        return Job(self, id, None)

    async def catalog(self) -> List[NodeInfo]:
        """Every node the caller may call, with signatures, docs and JSON
        Schemas."""
        entries = await self._request(self._native.catalog)
        infos = [NodeInfo._from_wire(e) for e in entries]
        for info in infos:
            self._params[info.node] = tuple(p.name for p in info.params)
        return infos

    async def describe(self, node: str) -> NodeInfo:
        """One node's entry (raises `NotFound` for an unknown node)."""
        info = NodeInfo._from_wire(await self._request(self._native.describe, node))
        self._params[node] = tuple(p.name for p in info.params)
        return info

    async def status(self) -> Status:
        """The plugins' states (loading, ready, failed and why) and the
        compiled cache's counters."""
        return Status._from_wire(await self._request(self._native.status))

    async def close(self) -> None:
        """Closes the connection; requests in flight fail with
        `ConnectionLost`."""
        if self._closed:
            return
        self._closed = True
        fut = self._loop.create_future()
        self._native.close(fut)
        try:
            await fut
        finally:
            # Fail what the close cut off, then stop watching.
            self._completer.drain()
            self._loop.remove_reader(self._completer.fileno())


class Node:
    """A callable proxy for one node: `await node(*args, **kwargs)` calls
    it; `stream`, `channel`, `start` and `submit` do the rest. Proxies from
    `Client.nodes()` carry their `info` (signature, docs, schemas)."""

    def __init__(self, client: Client, name: str, info: Optional[NodeInfo] = None) -> None:
        self.client = client
        self.name = name
        self.info = info
        if info is not None:
            self.__doc__ = f"{info.signature}\n\n{info.docs or ''}".rstrip()
            self.__signature__ = _signature(info)

    def __repr__(self) -> str:
        return f"<warden.Node {self.info.signature if self.info else self.name}>"

    def __call__(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> Awaitable[Any]:
        return self.client.call(self.name, *args, timeout=timeout, **kwargs)

    async def describe(self) -> NodeInfo:
        """The node's entry (fetched once)."""
        if self.info is None:
            self.info = await self.client.describe(self.name)
        return self.info

    def start(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "Call":
        """See `Client.start`."""
        return self.client.start(self.name, *args, timeout=timeout, **kwargs)

    def stream(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "Stream":
        """See `Client.stream`."""
        return self.client.stream(self.name, *args, timeout=timeout, **kwargs)

    def channel(self, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> "Channel":
        """See `Client.channel`."""
        return self.client.channel(self.name, *args, timeout=timeout, **kwargs)

    async def submit(self, *args: Any, callback: Optional[str] = None, **kwargs: Any) -> "Job":
        """See `Client.submit`."""
        return await self.client.submit(self.name, *args, callback=callback, **kwargs)


def _signature(info: NodeInfo) -> inspect.Signature:
    params = [
        inspect.Parameter(p.python_name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=p.type)
        for p in info.params
        if p.python_name.isidentifier()
    ]
    params.append(inspect.Parameter("timeout", inspect.Parameter.KEYWORD_ONLY, default=None))
    return inspect.Signature(params, return_annotation=info.result or "None")


class Call:
    """A call read event by event: iterate it for `Progress`, `Log` and
    `Item` events, then `await call.result()`. `async with` sends the
    request and cancels the call if the block is left before its end;
    `cancel()` cancels it at any time."""

    def __init__(
        self,
        client: Client,
        node: str,
        wire_args: Any,
        timeout: Optional[float],
        *,
        args: Tuple[Any, ...] = (),
        kwargs: Optional[Dict[str, Any]] = None,
        channel: bool = False,
        on_progress: Optional[ProgressCallback] = None,
        on_log: Optional[LogCallback] = None,
    ) -> None:
        self._client = client
        self._loop = client._loop
        self._node = node
        self._wire = wire_args
        self._args = args
        self._kwargs = kwargs or {}
        self._timeout = timeout
        self._channel = channel
        self._native: Any = None
        self._opening: Optional["asyncio.Future[Any]"] = None
        self._ended = False
        self._result: Any = _UNSET
        self._error: Optional[BaseException] = None
        self._on_progress = on_progress
        self._on_log = on_log

    @property
    def node(self) -> str:
        """The node called."""
        return self._node

    async def _op(self, method: Callable[..., Any], *args: Any) -> Any:
        fut = self._loop.create_future()
        method(*args, fut)
        try:
            return await fut
        except asyncio.CancelledError:
            self.cancel()
            raise

    async def open(self) -> None:
        """Sends the request (once; iterating or `async with` does it)."""
        if self._opening is None:
            self._opening = self._loop.create_future()
            try:
                wire = self._wire
                self._client._check_open()
                if wire is None:
                    wire = await self._client._wire_args(self._node, self._args, self._kwargs)
                self._native = self._client._native.open_call(self._node, wire, self._timeout, self._channel)
                await self._op(self._native.open)
                self._opening.set_result(None)
            except BaseException as e:
                self._ended = True
                self._error = e
                self._opening.set_exception(e)
                # Retrieved here; whoever awaits it next gets it again.
                self._opening.exception()
                raise
        else:
            await self._opening

    async def __aenter__(self) -> "Call":
        await self.open()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._ended:
            self.cancel()

    def __aiter__(self) -> "Call":
        return self

    async def _next_event(self) -> Any:
        if self._ended:
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        await self.open()
        try:
            raw = await self._op(self._native.next)
        except Error as e:
            self._ended = True
            self._error = e
            raise
        if raw[0] == "end":
            self._ended = True
            self._result = raw[1]
            raise StopAsyncIteration
        return _event(raw)

    async def __anext__(self) -> Any:
        return await self._next_event()

    async def _dispatch(self, event: Any) -> bool:
        """Hands progress and log events to the callbacks; whether `event`
        is an item."""
        if isinstance(event, Item):
            return True
        if isinstance(event, Progress):
            if self._on_progress is not None:
                await _maybe_await(self._on_progress(event.fraction, event.message))
        elif self._on_log is not None:
            await _maybe_await(self._on_log(event.level, event.message))
        return False

    async def result(self) -> Any:
        """Waits for the end (skipping events not read yet) and returns the
        result, or raises the call's error."""
        while True:
            try:
                await self._next_event()
            except StopAsyncIteration:
                break
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        """Cancels the call: the server stops the node."""
        if self._native is not None:
            self._native.cancel()
        if not self._ended:
            self._ended = True
            self._error = Cancelled("the call was cancelled by the caller")


class Stream(Call):
    """The items of a stream node (see `Client.stream`)."""

    def __aiter__(self) -> "Stream":
        return self

    async def __aenter__(self) -> "Stream":
        await self.open()
        return self

    async def __anext__(self) -> Any:
        while True:
            event = await self._next_event()
            if await self._dispatch(event):
                return event.value


class Channel(Call):
    """A channel to a channel node (see `Client.channel`).

    `await ch.send(message)` sends one message (waiting while the node is
    behind); `ch.finish()` ends the input, after which the node's last
    replies follow; `async for reply in ch` (or `await ch.recv()`) reads
    replies as they come. Leaving `async with` normally finishes the input
    and waits for the end (raising the node's error, if any); leaving it
    with an exception cancels the call.
    """

    async def __aenter__(self) -> "Channel":
        await self.open()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.cancel()
            return
        if not self._ended:
            self._native.finish()
            await self.result()

    def __aiter__(self) -> "Channel":
        return self

    async def __anext__(self) -> Any:
        while True:
            event = await self._next_event()
            if await self._dispatch(event):
                return event.value

    async def send(self, message: Any) -> None:
        """Sends one message to the node."""
        await self.open()
        await self._op(self._native.send, message)

    def finish(self) -> None:
        """Ends the input (once the channel is open)."""
        if self._native is None:
            raise RuntimeError("the channel is not open yet: use `async with` or `await ch.open()`")
        self._native.finish()

    async def recv(self, default: Any = _UNSET) -> Any:
        """The next reply; at the end, `default` if given, else
        `StopAsyncIteration`."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            if default is _UNSET:
                raise
            return default


class Job:
    """A job on the server (see `Client.submit`)."""

    def __init__(self, client: Client, id: str, info: Optional[JobInfo]) -> None:
        self.client = client
        #: The job's id (16 hex digits).
        self.id = id
        #: The record as last seen (at submit, or by `status`/`cancel`).
        self.info = info
        self._outcome: Any = _UNSET
        self._error: Optional[BaseException] = None

    def __repr__(self) -> str:
        state = self.info.state if self.info else "?"
        return f"<warden.Job {self.id} {state}>"

    async def result(self, wait: Optional[float] = None) -> Any:
        """The job's result, waiting up to `wait` seconds for it to finish
        (None: not at all). Raises the error it failed with,
        `warden.Cancelled` if it was cancelled, or `warden.Timeout` with
        `details={"id": ..., "state": "queued" | "running"}` if it is still
        running. The server forgets a finished job once its result is
        fetched; this object remembers it."""
        if self._error is not None:
            raise self._error
        if self._outcome is not _UNSET:
            return self._outcome
        try:
            self._outcome = await self.client._request(self.client._native.job_result, self.id, wait, False)
        except Error as e:
            if not _still_running(e):
                self._error = e
            raise
        return self._outcome

    async def status(self, wait: Optional[float] = None) -> JobInfo:
        """The record now (kept on the server), waiting up to `wait` seconds
        for the job to finish."""
        record = await self.client._request(self.client._native.job, self.id, wait, True)
        self.info = JobInfo._from_wire(record)
        return self.info

    async def cancel(self) -> JobInfo:
        """Cancels the job if it has not finished; its record then."""
        record = await self.client._request(self.client._native.cancel_job, self.id)
        self.info = JobInfo._from_wire(record)
        return self.info


class Blobs:
    """Uploading and downloading blobs: content-addressed bytes that nodes
    read by reference (`warden:node/blobs`)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def put(self, source: BlobSource) -> BlobRef:
        """Uploads a file (a path; streamed from disk), `bytes`, or a binary
        file object (read whole); returns the reference (a `str`, with
        `.size`). The same bytes always give the same reference."""
        client = self._client
        if isinstance(source, (str, os.PathLike)):
            info = await client._request(client._native.put_file, os.fspath(source))
        else:
            info = await client._request(client._native.put_bytes, _blob_bytes(source))
        return BlobRef(info["ref"], info["size"])

    @overload
    async def get(self, ref: str) -> bytes: ...

    @overload
    async def get(self, ref: str, dest: Union[str, "os.PathLike[str]"]) -> int: ...

    async def get(self, ref: str, dest: Optional[Union[str, "os.PathLike[str]"]] = None) -> Union[bytes, int]:
        """Downloads blob `ref`: into the file `dest` (streamed, the hash
        checked; returns its size), or into memory (returns the bytes).
        Raises `NotFound` when the server does not store it."""
        client = self._client
        if dest is None:
            data: bytes = await client._request(client._native.get_bytes, str(ref))
            return data
        info = await client._request(client._native.get_file, str(ref), os.fspath(dest))
        size: int = info["size"]
        return size


def _still_running(e: Error) -> bool:
    """Whether `e` says a job has not finished yet (rather than how it
    failed): a `Timeout` whose details name the job's state."""
    return e.kind == "timeout" and isinstance(e.details, dict) and "state" in e.details


def _blob_bytes(source: Any) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, (bytearray, memoryview)):
        return bytes(source)
    read = getattr(source, "read", None)
    if read is None:
        raise TypeError(f"cannot upload a `{type(source).__name__}`: give a path, bytes or a binary file")
    data = read()
    if not isinstance(data, bytes):
        raise TypeError("the file object must be opened in binary mode ('rb')")
    return data

