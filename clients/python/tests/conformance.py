"""Runs the language-neutral conformance suite (tests/conformance/cases.json)
through the Python client: the same cases `tests/all/conformance.rs` runs
through the Rust client. tests/conformance/README.md describes the format.

One runner, two adapters: `Async` drives `warden.Client`, `Sync` drives
`warden.SyncClient` (its blocking calls made from the runner's coroutine).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Dict, List, Optional, Tuple

import warden

#: How long a job may take in the suite.
JOB_WAIT = 30.0


def decode(value: Any, ref: Optional[str] = None) -> Any:
    """A case's JSON value as the Python value it stands for: `{"$bytes":
    hex}` is bytes, `{"$float": x}` a float (`"NaN"`, `"Infinity"`,
    `"-Infinity"` included), `{"$ref": true}` the blob reference of the
    case."""
    if isinstance(value, list):
        return [decode(v, ref) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "$bytes":
                return bytes.fromhex(inner)
            if key == "$float":
                return float(inner)
            if key == "$ref":
                return ref
        return {k: decode(v, ref) for k, v in value.items()}
    return value


def same(expected: Any, actual: Any) -> bool:
    """Whether `actual` is the value `expected` (decoded) stands for, types
    included: a float is not an int, a bool is not an int, NaN is NaN."""
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(expected, float):
        return isinstance(actual, float) and (actual == expected or (math.isnan(actual) and math.isnan(expected)))
    if isinstance(expected, int):
        return isinstance(actual, int) and not isinstance(actual, bool) and actual == expected
    if isinstance(expected, (str, bytes)):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, expected, actual))
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(actual) == set(expected)
            and all(same(v, actual[k]) for k, v in expected.items())
        )
    raise TypeError(f"no such expected value: {expected!r}")


def entry(info: warden.NodeInfo) -> Dict[str, Any]:
    """A node entry as the wire's map."""
    return {
        "node": info.node,
        "plugin": info.plugin,
        "params": [{"name": p.name, "type": p.type, "schema": p.schema} for p in info.params],
        "result": info.result,
        "docs": info.docs,
        "params_schema": info.params_schema,
        "result_schema": info.result_schema,
        "kind": info.kind,
        "item": info.item,
        "item_schema": info.item_schema,
        "input": info.input,
        "input_schema": info.input_schema,
    }


class Async:
    """The suite's operations through the asyncio API."""

    def __init__(self, client: warden.Client) -> None:
        self.w = client

    async def call(self, node: str, args: Any, timeout: Optional[float]) -> Tuple[List[Any], Any]:
        events: List[Any] = []
        result = await self.w.call_raw(
            node,
            args,
            timeout=timeout,
            on_progress=lambda f, m: events.append(warden.Progress(f, m)),
            on_log=lambda level, m: events.append(warden.Log(level, m)),
        )
        return events, result

    async def stream(self, node: str, args: Any, items: List[Any]) -> None:
        async with self.w.stream(node, *args) if isinstance(args, list) else self.w.stream(node, **_kw(args)) as s:
            async for item in s:
                items.append(item)

    async def channel(self, node: str, args: Any, send: List[Any], replies: List[Any]) -> None:
        async with self.w.channel(node, *args) as ch:
            for message in send:
                await ch.send(message)
            ch.finish()
            async for reply in ch:
                replies.append(reply)

    async def job(self, node: str, args: Any, cancel: bool) -> Tuple[warden.JobInfo, Any]:
        job = await (self.w.submit(node, *args) if isinstance(args, list) else self.w.submit(node, **_kw(args)))
        if cancel:
            return await job.cancel(), None
        try:
            return job.info, await job.result(wait=JOB_WAIT)
        except warden.Error as e:
            return job.info, e

    async def put(self, data: bytes) -> warden.BlobRef:
        return await self.w.blobs.put(data)

    async def get(self, ref: str) -> bytes:
        return await self.w.blobs.get(ref)

    async def describe(self, node: str) -> warden.NodeInfo:
        return await self.w.describe(node)

    async def catalog(self) -> List[warden.NodeInfo]:
        return await self.w.catalog()

    async def cancel_after_first_event(self, node: str, args: Any) -> None:
        call = self.w.start(node, *args)
        async with call:
            await call.__anext__()
            call.cancel()


class Sync:
    """The suite's operations through the blocking API."""

    def __init__(self, client: warden.SyncClient) -> None:
        self.w = client

    async def call(self, node: str, args: Any, timeout: Optional[float]) -> Tuple[List[Any], Any]:
        events: List[Any] = []
        result = self.w.call_raw(
            node,
            args,
            timeout=timeout,
            on_progress=lambda f, m: events.append(warden.Progress(f, m)),
            on_log=lambda level, m: events.append(warden.Log(level, m)),
        )
        return events, result

    async def stream(self, node: str, args: Any, items: List[Any]) -> None:
        with self.w.stream(node, *args) if isinstance(args, list) else self.w.stream(node, **_kw(args)) as s:
            for item in s:
                items.append(item)

    async def channel(self, node: str, args: Any, send: List[Any], replies: List[Any]) -> None:
        with self.w.channel(node, *args) as ch:
            for message in send:
                ch.send(message)
            ch.finish()
            for reply in ch:
                replies.append(reply)

    async def job(self, node: str, args: Any, cancel: bool) -> Tuple[warden.JobInfo, Any]:
        job = self.w.submit(node, *args) if isinstance(args, list) else self.w.submit(node, **_kw(args))
        if cancel:
            return job.cancel(), None
        try:
            return job.info, job.result(wait=JOB_WAIT)  # type: ignore[return-value]
        except warden.Error as e:
            return job.info, e  # type: ignore[return-value]

    async def put(self, data: bytes) -> warden.BlobRef:
        return self.w.blobs.put(data)

    async def get(self, ref: str) -> bytes:
        return self.w.blobs.get(ref)

    async def describe(self, node: str) -> warden.NodeInfo:
        return self.w.describe(node)

    async def catalog(self) -> List[warden.NodeInfo]:
        return self.w.catalog()

    async def cancel_after_first_event(self, node: str, args: Any) -> None:
        with self.w.start(node, *args) as call:
            next(call)
            call.cancel()


def _kw(args: Dict[str, Any]) -> Dict[str, Any]:
    # Keyword arguments stand for WIT names with `_` for `-`.
    return {k.replace("-", "_"): v for k, v in args.items()}


def check_error(case: Dict[str, Any], error: BaseException) -> None:
    """`error` is what `case["error"]` expects: its class (by kind) and
    details."""
    expected = case["error"]
    assert isinstance(error, warden.Error), f"expected a warden.Error, got {error!r}"
    assert error.kind == expected["kind"], f"expected `{expected['kind']}`, got {error!r}"
    assert type(error).KIND == expected["kind"], f"{type(error).__name__} for kind {error.kind}"
    if "details" in expected:
        assert same(decode(expected["details"]), error.details), f"details {error.details!r}"


async def run(api: Any, case: Dict[str, Any], ref: Optional[str] = None) -> None:
    """Runs one case (or step) through `api`, asserting what it expects."""
    args = decode(case.get("args", []), ref)
    if "steps" in case and "blob" not in case:
        for step in case["steps"]:
            await run(api, step, ref)
        return
    if "call" in case:
        timeout = case["timeout_ms"] / 1000 if "timeout_ms" in case else None
        try:
            events, result = await api.call(case["call"], args, timeout)
        except warden.Error as e:
            assert "error" in case, f"unexpected {e!r}"
            check_error(case, e)
            return
        assert "error" not in case, f"expected {case['error']}, got {result!r}"
        assert same(decode(case["result"]), result), f"got {result!r}"
        expected_events = case.get("events", {})
        progress = [e for e in events if isinstance(e, warden.Progress)]
        assert len(progress) >= expected_events.get("progress", 0), events
        assert all(0.0 <= p.fraction <= 1.0 for p in progress)
        logs = [(e.level, e.message) for e in events if isinstance(e, warden.Log)]
        for log in expected_events.get("logs", []):
            assert (log["level"], log["message"]) in logs, logs
        return
    if "stream" in case or "channel" in case:
        got: List[Any] = []
        try:
            if "stream" in case:
                await api.stream(case["stream"], args, got)
            else:
                await api.channel(case["channel"], args, decode(case["send"]), got)
        except warden.Error as e:
            assert "error" in case, f"unexpected {e!r} after {got!r}"
            check_error(case, e)
        else:
            assert "error" not in case, f"expected {case['error']}"
        expected = decode(case["items"] if "stream" in case else case["replies"])
        assert same(expected, got), f"got {got!r}"
        return
    if "submit" in case:
        try:
            info, outcome = await api.job(case["submit"], args, case.get("cancel", False))
        except warden.Error as e:
            assert "error" in case, f"unexpected {e!r}"
            check_error(case, e)
            return
        assert "error" not in case, f"expected {case['error']}"
        assert len(info.id) == 16 and info.node == case["submit"]
        if case.get("cancel"):
            assert info.state == case["state"], info
        elif case["state"] == "done":
            assert same(decode(case["result"]), outcome), f"got {outcome!r}"
        else:
            assert isinstance(outcome, warden.Error), f"got {outcome!r}"
            assert outcome.kind == case["error_kind"], outcome
        return
    if "blob" in case:
        data = decode(case["blob"])
        blob = await api.put(data)
        assert isinstance(blob, str) and blob.startswith("blake3:") and len(blob) == 71, blob
        if "ref" in case:
            assert blob == case["ref"]
        assert blob.size == case["size"] == len(data)
        assert await api.get(blob) == data
        for step in case.get("steps", []):
            await run(api, step, str(blob))
        return
    if "blob_get" in case:
        try:
            await api.get(case["blob_get"])
        except warden.Error as e:
            check_error(case, e)
            return
        raise AssertionError(f"expected {case['error']}")
    if "describe" in case:
        try:
            info = await api.describe(case["describe"])
        except warden.Error as e:
            assert "error" in case, f"unexpected {e!r}"
            check_error(case, e)
            return
        got_entry = entry(info)
        for key, value in case["entry"].items():
            assert same(decode(value), got_entry[key]), f"{key}: {got_entry[key]!r}"
        return
    if "catalog" in case:
        names = [info.node for info in await api.catalog()]
        assert names == sorted(names), "the catalog is sorted by name"
        for name in case["contains"]:
            assert name in names, name
        for name in case.get("absent", []):
            assert name not in names, name
        return
    if "cancel" in case:
        await api.cancel_after_first_event(case["cancel"]["node"], decode(case["cancel"]["args"]))
        # The node held the plugin's only slot: until it has stopped, calls
        # are `overloaded`. It would run for seconds more if not stopped.
        then = case["then"]
        deadline = time.monotonic() + case["within_ms"] / 1000
        while True:
            try:
                _, result = await api.call(then["call"], decode(then["args"]), None)
                break
            except warden.Overloaded:
                assert time.monotonic() < deadline, "the cancelled node kept its slot"
                await asyncio.sleep(0.02)
        assert same(decode(then["result"]), result)
        return
    raise AssertionError(f"case {case['name']!r} has no operation this runner knows")
