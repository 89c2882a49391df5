"""The Python API beyond the conformance cases: arguments by name, proxies,
events, cancellation, deadlines, exceptions, the blocking API, trust,
reconnection, values, blobs and jobs. Against a real `warden serve`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import math
import pickle
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Tuple

import pytest

import conformance
import server
import warden
from warden import _warden


def arun(make: Callable[[], Awaitable[Any]], limit: float = 60) -> Any:
    """Runs a coroutine in a fresh loop, bounded."""

    async def bounded() -> Any:
        return await asyncio.wait_for(make(), limit)

    return asyncio.run(bounded())


async def connect(served: server.Served) -> warden.Client:
    return await warden.connect(served.addr, state_dir=served.state)


# --- arguments and proxies ---


def test_keyword_arguments_map_to_parameter_names(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            assert await w.call("math/add", a=40, b=2) == 42
            # `delay_ms=` is the WIT parameter `delay-ms`.
            assert await w.call("math/slow-sum", n=4, delay_ms=0) == 10
            # Both: positions are named from the node's parameters.
            assert await w.call("math/add", 40, b=2) == 42
            assert await w.call("text/apply", "ab", style={"letter-case": "upper", "prefix": None, "repeat": 1}) == "AB"
            with pytest.raises(TypeError, match="by position and by name"):
                await w.call("math/add", 1, a=2)
            with pytest.raises(TypeError, match="takes 2 argument"):
                await w.call("math/add", 1, 2, 3, b=3)
            with pytest.raises(warden.BadArgs, match="`c`"):
                await w.call("math/add", a=1, c=2)

    arun(main)


def test_node_proxies_carry_the_catalog(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            add = w.node("math/add")
            assert await add(a=1, b=2) == 3
            assert await add(1, 2) == 3
            assert (await add.describe()).signature == "math/add: func(a: s64, b: s64) -> s64"
            nodes = await w.nodes()
            assert "math/add" in nodes and "types/handles/make-counter" not in nodes
            proxy = nodes["math/slow-sum"]
            assert list(inspect.signature(proxy).parameters) == ["n", "delay_ms", "timeout"]
            assert proxy.__doc__ is not None and "Sums 1..=n slowly" in proxy.__doc__
            assert await proxy(3, delay_ms=0) == 6
            assert [n async for n in nodes["streams/counter/count"].stream(3, 0)] == [1, 2, 3]
            job = await nodes["math/add"].submit(2, 3)
            assert await job.result(wait=30) == 5
            with pytest.raises(warden.NotFound):
                await w.node("math/nope")()

    arun(main)


def test_catalog_and_describe_are_typed(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            catalog = await w.catalog()
            assert all(isinstance(info, warden.NodeInfo) for info in catalog)
            by_name = {info.node: info for info in catalog}
            count = by_name["streams/counter/count"]
            assert count.kind == "stream" and count.item == "u64"
            assert [(p.name, p.type, p.python_name) for p in count.params] == [
                ("n", "u64", "n"),
                ("delay-ms", "u32", "delay_ms"),
            ]
            echo = await w.describe("streams/chat/echo")
            assert (echo.kind, echo.input, echo.item) == ("channel", "string", "string")
            divide = by_name["math/divide"]
            assert divide.params_schema["required"] == ["a", "b"]
            assert divide.result == "result<f64, string>"
            status = await w.status()
            assert {p.name for p in status.plugins} >= {"math", "text", "streams"}
            assert all(p.state == "ready" for p in status.plugins)

    arun(main)


# --- events, cancellation, deadlines ---


def test_progress_and_log_callbacks(served: server.Served) -> None:
    progress: List[Tuple[float, str]] = []
    logs: List[Tuple[str, str]] = []

    async def on_log(level: str, message: str) -> None:  # a coroutine callback is awaited
        logs.append((level, message))

    async def main() -> None:
        async with await connect(served) as w:
            total = await w.call("math/slow-sum", 4, 0, on_progress=lambda f, m: progress.append((f, m)), on_log=on_log)
            assert total == 10

    arun(main)
    assert [m for _, m in progress] == [f"added {i} of 4" for i in range(1, 5)]
    assert [f for f, _ in progress] == sorted(f for f, _ in progress) and progress[-1][0] == 1.0
    assert logs == [("info", "summing 1..=4")]


def test_a_failing_callback_fails_the_call(served: server.Served) -> None:
    def boom(fraction: float, message: str) -> None:
        raise RuntimeError("callback broke")

    async def main() -> None:
        async with await connect(served) as w:
            with pytest.raises(RuntimeError, match="callback broke"):
                await w.call("math/slow-sum", 3, 0, on_progress=boom)
            assert await w.call("math/add", 1, 1) == 2

    arun(main)


def test_iterating_a_calls_events(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            async with w.start("math/slow-sum", 3, 0) as call:
                events = [e async for e in call]
                assert await call.result() == 6
            assert events[0] == warden.Log("info", "summing 1..=3")
            assert [e.message for e in events[1:]] == ["added 1 of 3", "added 2 of 3", "added 3 of 3"]
            async with w.start("streams/counter/count", 2, 0) as call:
                items = [e.value async for e in call if isinstance(e, warden.Item)]
            assert items == [1, 2] and await call.result() is None
            async with w.start("math/divide", 1, 0) as call:
                with pytest.raises(warden.NodeError):
                    await call.result()

    arun(main)


def test_cancelling_the_task_stops_the_node(served: server.Served) -> None:
    """`single` is `math` allowed one call at a time: while a call runs,
    others are `overloaded`. Cancelling the task awaiting it must stop the
    node on the server, freeing the slot long before the node would end."""

    async def main() -> None:
        async with await connect(served) as w:
            started = asyncio.Event()
            task = asyncio.create_task(
                w.call("single/slow-sum", 400, 20, on_progress=lambda f, m: started.set())
            )
            await asyncio.wait_for(started.wait(), 10)
            with pytest.raises(warden.Overloaded):
                await w.call("single/add", 1, 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Plain calls (no callbacks) are cancelled the same way.
            started_at = time.monotonic()
            while True:
                try:
                    assert await w.call("single/add", 1, 2) == 3
                    break
                except warden.Overloaded:
                    assert time.monotonic() - started_at < 5, "the cancelled node kept running"
                    await asyncio.sleep(0.02)
            plain = asyncio.create_task(w.call("single/slow-sum", 400, 20))
            await asyncio.sleep(0.3)
            plain.cancel()
            with pytest.raises(asyncio.CancelledError):
                await plain
            started_at = time.monotonic()
            while True:
                try:
                    assert await w.call("single/add", 2, 2) == 4
                    break
                except warden.Overloaded:
                    assert time.monotonic() - started_at < 5, "the cancelled node kept running"
                    await asyncio.sleep(0.02)

    arun(main)


def test_wait_for_cancels_the_call(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(w.call("math/slow-sum", 1000, 10), 0.3)
            assert time.monotonic() - started < 3
            assert await w.call("math/add", 1, 2) == 3

    arun(main)


def test_timeout_is_a_deadline_the_server_enforces(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            started = time.monotonic()
            with pytest.raises(warden.Timeout) as caught:
                await w.call("math/slow-sum", 1000, 10, timeout=0.3)
            assert time.monotonic() - started < 5
            assert isinstance(caught.value, TimeoutError)
            assert caught.value.kind == "timeout" and "deadline" in caught.value.message
            with pytest.raises(ValueError, match="positive"):
                await w.call("math/add", 1, 2, timeout=-1)

    arun(main)


def test_breaking_out_of_a_stream_cancels_it(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            started = time.monotonic()
            got = []
            async with w.stream("streams/counter/count", 1000, 10) as numbers:
                async for n in numbers:
                    got.append(n)
                    if n == 2:
                        break
            assert got == [1, 2] and time.monotonic() - started < 3
            failing = w.stream("streamy/items/failing", 3)
            seen = []
            with pytest.raises(warden.NodeError, match="failed after 3 items"):
                async for n in failing:
                    seen.append(n)
            assert seen == [0, 1, 2]

    arun(main)


def test_a_channel_interleaves_sends_and_replies(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            async with w.channel("streams/chat/echo", greeting="< ") as ch:
                await ch.send("one")
                assert await ch.recv() == "< one"
                await ch.send("two")
                assert await ch.recv() == "< two"
                ch.finish()
                assert await ch.recv() == "bye after 2 message(s)"
                assert await ch.recv(None) is None
            with pytest.raises(warden.BadArgs):
                async with w.channel("streams/chat/echo", "> ") as ch:
                    await ch.send({"not": "a string"})

    arun(main)


# --- errors ---


def test_errors_are_typed_exceptions(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            with pytest.raises(warden.NodeError) as caught:
                await w.call("math/divide", 1, 0)
            e = caught.value
            assert (e.kind, e.message, e.details) == ("node-error", "cannot divide 1 by zero", "cannot divide 1 by zero")
            assert isinstance(e, warden.Error) and str(e) == "cannot divide 1 by zero"
            assert repr(e) == "NodeError('cannot divide 1 by zero', details='cannot divide 1 by zero')"
            copy = pickle.loads(pickle.dumps(e))
            assert type(copy) is warden.NodeError and copy.details == e.details
            with pytest.raises(warden.NodeError) as caught:
                await w.call("types/echo/check", {"err": 7})
            assert caught.value.details == 7
            with pytest.raises(warden.BadArgs) as bad:
                await w.call("math/add", "x", 2)
            assert "parameter `a`" in bad.value.message and bad.value.details is None
            with pytest.raises(warden.NotFound):
                await w.describe("nope/x")

    arun(main)
    kinds = {cls.KIND: cls for cls in warden.Error.__subclasses__()}
    assert set(kinds) == {
        "not-found", "unavailable", "bad-args", "denied", "unauthenticated", "trap", "timeout", "resource-limit",
        "node-error", "overloaded", "cancelled", "bad-request", "internal", "connect", "connection-lost", "protocol",
    }
    assert issubclass(warden.ConnectError, ConnectionError) and issubclass(warden.ConnectionLost, ConnectionError)
    assert warden.Timeout.__module__ == "warden"


def test_trust_errors_say_what_to_do(served: server.Served) -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as empty:
            with pytest.raises(warden.ConnectError) as caught:
                await warden.connect(served.addr, state_dir=empty)
            message = caught.value.message
            assert "no server certificate to trust" in message
            assert "fingerprint=" in message and "ca_file=" in message and "state_dir=" in message
            assert empty in message
        with pytest.raises(ValueError, match="64 hex digits"):
            await warden.connect(served.addr, fingerprint="abc")
        with pytest.raises(ValueError, match="not both"):
            await warden.connect(served.addr, fingerprint="00" * 32, ca_file="x.pem")
        # Another certificate's fingerprint: the handshake fails.
        with pytest.raises(warden.ConnectError) as caught:
            await warden.connect(served.addr, fingerprint="00" * 32)
        assert caught.value.kind == "connect" and served.addr in caught.value.message
        # Trust by CA file (the server's self-signed certificate).
        async with await warden.connect(served.addr, ca_file=served.state / "cert.pem") as w:
            assert await w.call("math/add", 1, 2) == 3
        # By fingerprint, as `warden serve` prints it.
        async with await warden.connect(served.addr, fingerprint=served.server.fingerprint) as w:
            assert await w.call("math/add", 2, 2) == 4

    arun(main)
    with pytest.raises(warden.ConnectError, match="no server certificate to trust"):
        warden.connect_sync(served.addr, state_dir=Path(tempfile.gettempdir()) / "warden-nowhere")


def test_a_closed_client_refuses_requests(served: server.Served) -> None:
    async def main() -> None:
        w = await connect(served)
        await w.close()
        await w.close()  # twice is fine
        with pytest.raises(warden.ConnectError, match="closed"):
            await w.call("math/add", 1, 2)
        with pytest.raises(warden.ConnectError, match="closed"):
            await w.describe("math/add")
        with pytest.raises(warden.ConnectError, match="closed"):
            async for _ in w.stream("streams/counter/count", 1, 0):
                pass

    arun(main)
    s = warden.connect_sync(served.addr, state_dir=served.state)
    s.close()
    with pytest.raises(warden.ConnectError, match="closed"):
        s.call("math/add", 1, 2)


# --- values ---


def test_values_map_as_the_readme_table_says(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            echo = lambda t, v: w.call(f"types/echo/echo-{t}", v)  # noqa: E731
            assert await echo("u64", 2**64 - 1) == 2**64 - 1
            assert await echo("s64", -(2**63)) == -(2**63)
            assert math.isnan(await echo("f64", float("nan")))
            assert await echo("f64", float("-inf")) == float("-inf")
            assert await echo("bytes", bytearray(b"\x00\xff")) == b"\x00\xff"
            assert await echo("bytes", memoryview(b"abc")) == b"abc"
            assert await echo("tuple", ("a", 1, True)) == ["a", 1, True]
            assert sorted(await echo("flags", {"read", "exec"})) == ["exec", "read"]
            assert await echo("variant", {"rect": {"x": 1, "y": 2}}) == {"rect": {"x": 1, "y": 2}}
            assert await echo("bool", True) is True
            with pytest.raises(OverflowError):
                await echo("u64", 2**64)
            with pytest.raises(TypeError, match="cannot send a `object`"):
                await echo("string", object())
            loop: List[Any] = []
            loop.append(loop)
            with pytest.raises(ValueError, match="nests deeper"):
                await echo("strings", loop)
            with pytest.raises(UnicodeEncodeError):
                await echo("string", "\ud800")

    arun(main)


def test_many_calls_in_flight_get_their_own_answers(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            results = await asyncio.gather(*(w.call("math/add", i, i) for i in range(500)))
            assert results == [2 * i for i in range(500)]

    arun(main)


def _count_selector_wakes(w: warden.Client) -> List[int]:
    """Swaps the loop's reader for one that counts how often the selector
    delivered answers; returns the counter."""
    wakes = [0]
    fd = w._completer.fileno()

    def drain() -> None:
        wakes[0] += 1
        w._completer.drain()

    w._loop.remove_reader(fd)
    w._loop.add_reader(fd, drain)
    return wakes


def test_an_idle_loop_takes_answers_without_the_selector(served: server.Served) -> None:
    async def main() -> None:
        # Waiting inline (the default, here at its longest): most answers
        # arrive while the loop's thread waits, not through the selector.
        async with await warden.connect(served.addr, state_dir=served.state, inline_wait=0.01) as w:
            wakes = _count_selector_wakes(w)
            for i in range(50):
                assert await w.call("math/add", i, 1) == i + 1
            assert wakes[0] <= 25, f"{wakes[0]} of 50 answers came through the selector"
            # A wait that runs out (a 3 x 30 ms node against 1 ms) is taken
            # over by the selector, and the next 16 requests do not wait.
            w._inline_wait = 0.001
            wakes[0] = 0
            assert await w.call("math/slow-sum", 3, 30) == 6
            for i in range(5):
                assert await w.call("math/add", i, 1) == i + 1
            assert wakes[0] == 6
            # Many in flight: the loop is busy, answers still all arrive.
            results = await asyncio.gather(*(w.call("math/add", i, i) for i in range(200)))
            assert results == [2 * i for i in range(200)]
        # Turned off: every answer wakes the selector.
        async with await warden.connect(served.addr, state_dir=served.state, inline_wait=0) as w:
            wakes = _count_selector_wakes(w)
            for i in range(20):
                assert await w.call("math/add", i, 1) == i + 1
            assert wakes[0] == 20
        for bad in (-1, 0.5, float("nan")):
            with pytest.raises(ValueError, match="inline_wait"):
                await warden.connect(served.addr, state_dir=served.state, inline_wait=bad)

    arun(main)


def test_a_completer_wait_is_bounded() -> None:
    completer = _warden.Completer()
    started = time.monotonic()
    assert completer.wait(0.005) == 0
    # Capped at 10 ms whatever is asked.
    assert completer.wait(60) == 0
    assert time.monotonic() - started < 5
    with pytest.raises(ValueError):
        completer.wait(-1)


# --- jobs and blobs ---


def test_jobs(served: server.Served) -> None:
    async def main() -> None:
        async with await connect(served) as w:
            job = await w.submit("math/slow-sum", 40, 50)
            assert job.info is not None and job.info.state == "queued" and len(job.id) == 16
            with pytest.raises(warden.Timeout) as still:
                await job.result(wait=0.05)
            assert still.value.details["state"] in ("queued", "running")
            # From another connection of the same caller.
            async with await connect(served) as other:
                assert await other.job(job.id).result(wait=30) == 820
            # Fetched once: the server forgot it, the first handle remembers nothing fetched.
            with pytest.raises(warden.NotFound):
                await job.result()
            slow = await w.submit("math/slow-sum", 400, 20)
            assert (await slow.cancel()).state == "cancelled"
            with pytest.raises(warden.Cancelled):
                await slow.result(wait=5)
            failing = await w.submit("math/divide", 1, 0)
            with pytest.raises(warden.NodeError, match="cannot divide"):
                await failing.result(wait=30)
            with pytest.raises(warden.NodeError):  # remembered
                await failing.result()
            kept = await w.submit("math/add", 1, 1)
            assert (await kept.status(wait=30)).state == "done"
            assert await kept.result() == 2

    arun(main)


def test_blobs_from_and_to_files(served: server.Served, tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # 1.2 MiB: more than one upload chunk
    source = tmp_path / "photo.jpg"
    source.write_bytes(data)

    async def main() -> None:
        async with await connect(served) as w:
            ref = await w.blobs.put(source)
            assert ref.startswith("blake3:") and ref.size == len(data)
            assert await w.blobs.put(data) == ref
            with open(source, "rb") as f:
                assert await w.blobs.put(f) == ref
            assert await w.blobs.get(ref, tmp_path / "copy.jpg") == len(data)
            assert (tmp_path / "copy.jpg").read_bytes() == data
            assert await w.blobs.get(ref) == data
            missing = tmp_path / "missing.bin"
            with pytest.raises(warden.NotFound):
                await w.blobs.get("blake3:" + "0" * 64, missing)
            assert not missing.exists(), "a failed download leaves no file"
            with pytest.raises(FileNotFoundError):
                await w.blobs.put(tmp_path / "nope")
            await w.call("notes/save", "photo", "a picture")
            assert await w.call("notes/attach", "photo", ref) == len(data)

    arun(main)


# --- the blocking API ---


def test_the_blocking_api(served: server.Served, tmp_path: Path) -> None:
    with warden.connect_sync(served.addr, state_dir=served.state) as w:
        assert w.call("math/add", 1, b=2) == 3
        add = w.node("math/add")
        assert add(a=2, b=2) == 4
        assert list(w.stream("streams/counter/count", 3, 0)) == [1, 2, 3]
        with w.channel("streams/chat/echo", "> ") as ch:
            ch.send("a")
            assert ch.recv() == "> a"
            ch.finish()
            assert list(ch) == ["bye after 1 message(s)"]
        progress: List[float] = []
        assert w.call("math/slow-sum", 3, 0, on_progress=lambda f, m: progress.append(f)) == 6
        assert len(progress) == 3
        with w.start("math/slow-sum", 2, 0) as call:
            assert isinstance(next(call), warden.Log)
            assert call.result() == 3
        assert w.submit("math/add", 3, 4).result(wait=30) == 7
        ref = w.blobs.put(b"blocking")
        assert w.blobs.get(ref) == b"blocking" and w.blobs.get(ref, tmp_path / "b") == 8
        assert any(info.node == "math/add" for info in w.catalog())
        with pytest.raises(warden.NodeError) as caught:
            w.call("math/divide", 1, 0)
        assert caught.value.details == "cannot divide 1 by zero"
        with pytest.raises(warden.Timeout):
            w.call("math/slow-sum", 1000, 10, timeout=0.3)
        # Threads share the connection.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            sums = list(pool.map(lambda i: w.call("math/add", i, 1), range(200)))
        assert sums == [i + 1 for i in range(200)]
        with pytest.raises(RuntimeError, match="connect_sync"):
            w._native.call("math/add", [1, 2], None, object())


def test_ctrl_c_interrupts_a_blocking_call(served: server.Served) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, threading, time, warden
        w = warden.connect_sync({served.addr!r}, state_dir={str(served.state)!r})
        threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        try:
            w.call("single/slow-sum", 400, 20)
        except KeyboardInterrupt:
            print("interrupted after", round(time.monotonic() - started, 2))
        # The dropped call was cancelled: the plugin's one slot is free again.
        for _ in range(250):
            try:
                print("then", w.call("single/add", 1, 2))
                break
            except warden.Overloaded:
                time.sleep(0.02)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("interrupted after") and float(lines[0].split()[-1]) < 2, lines
    assert lines[1] == "then 3", lines


# --- callers ---


def test_tokens_identify_the_caller() -> None:
    made = subprocess.run(
        [str(server.warden_bin()), "token", "alice", "--nodes", "text/*"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    token = made.stdout.strip()
    caller = made.stderr[made.stderr.index("[[access.callers]]"):]
    config = '[access]\nanonymous = ["math/add"]\n\n' + caller
    plugins = [{"name": "math", "wasm": "examples:math"}, {"name": "text", "wasm": "examples:text"}]
    served = server.start(plugins, config=config, token=token)
    try:

        async def main() -> None:
            async with await warden.connect(served.addr, state_dir=served.state) as anonymous:
                assert await anonymous.call("math/add", 1, 2) == 3
                with pytest.raises(warden.Unauthenticated) as caught:
                    await anonymous.call("text/strings/upper", "hi")
                assert caught.value.kind == "unauthenticated"
            async with await warden.connect(served.addr, state_dir=served.state, token=token) as alice:
                assert await alice.call("text/strings/upper", "hi") == "HI"
                with pytest.raises(warden.Denied, match="alice"):
                    await alice.call("math/add", 1, 2)
                assert [n.node for n in await alice.catalog()] == [
                    "text/apply", "text/case-of", "text/stats", "text/strings/join",
                    "text/strings/reverse", "text/strings/upper", "text/strings/words", "text/tokenize",
                ]
            with pytest.raises(warden.Unauthenticated):
                await warden.connect(served.addr, state_dir=served.state, token="wdn_" + "0" * 64)

        arun(main)
        with warden.connect_sync(served.addr, state_dir=served.state, token=token) as alice:
            assert alice.call("text/strings/reverse", "ab") == "ba"
    finally:
        served.stop()


# --- reconnection ---


def test_reconnects_after_a_server_restart() -> None:
    served = server.start([{"name": "math", "wasm": "examples:math"}])
    try:

        async def main() -> None:
            async with await warden.connect(served.addr, state_dir=served.state) as w:
                sync = warden.connect_sync(served.addr, state_dir=served.state)
                assert await w.call("math/add", 1, 2) == 3 and sync.call("math/add", 1, 2) == 3
                await asyncio.get_running_loop().run_in_executor(None, served.restart)
                assert await w.call("math/add", 2, 3) == 5
                assert sync.call("math/add", 2, 3) == 5
                sync.close()

        arun(main, 120)
    finally:
        served.stop()


# --- the suite's runner and the stub ---


def test_the_conformance_runner_catches_mismatches(served: server.Served) -> None:
    wrong = [
        {"name": "wrong result", "call": "math/add", "args": [1, 2], "result": 4},
        {"name": "int for a float", "call": "math/divide", "args": [4, 2], "result": 2},
        {"name": "wrong kind", "call": "math/divide", "args": [1, 0], "error": {"kind": "bad-args"}},
        {"name": "wrong items", "stream": "streams/counter/count", "args": [2, 0], "items": [1]},
        {"name": "missing error", "call": "math/add", "args": [1, 2], "error": {"kind": "not-found"}},
    ]

    async def main() -> None:
        async with await connect(served) as w:
            for case in wrong:
                with pytest.raises(AssertionError):
                    await conformance.run(conformance.Async(w), case)

    arun(main)


def test_the_stub_matches_the_native_module() -> None:
    stub = (Path(warden.__file__).parent / "_warden.pyi").read_text()
    public = {name for name in dir(_warden) if not name.startswith("_")}
    for name in public:
        assert f"class {name}" in stub or f"def {name}(" in stub or f"{name}:" in stub, name
    for cls in (_warden.NativeClient, _warden.NativeCall, _warden.Completer, _warden.Pending):
        for method in (m for m in dir(cls) if not m.startswith("_")):
            assert f"def {method}(" in stub, f"{cls.__name__}.{method}"
    assert (Path(warden.__file__).parent / "py.typed").exists()
