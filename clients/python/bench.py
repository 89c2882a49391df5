"""The Python client against the Rust client, same server, same run.

    python3 clients/python/bench.py [--rounds N] [--no-rap]

Starts a release `warden serve` (`$WARDEN_BIN`, else target/release/warden)
with the `math` and `types` plugins on 127.0.0.1:0, then, `--rounds` times
(5 by default), runs the Rust client's loads (`warden-rust-bench`, built in
release if missing) and the same loads from Python:

- sequential `math/add`: p50 and p99 of 2,000 calls (200 to warm up);
- calls/s with 64 in flight on one connection: 20,000 calls;
- a 1 MiB echo through `types/echo/echo-bytes`: 50 calls, MB/s.

Each figure is the median over the rounds, printed as a table line and as
a JSON line `{"bench", "unit", "value", "baseline", "ratio"}` like the Rust
benches (baseline: the Rust client).

When `--rap-python` (default: this interpreter) can import `rap` — the
pure-Python msgpack RPC over TCP that DESIGN.md compares with — its server
and client run the same `add` in two more processes, the same counts, as a
pure-Python reference. The PyPI wheels of rap 0.5.3.x do not import (a
missing module, or pycrypto that no longer builds); its repository's
source (so1n/rap) does, on Python 3.9 (it passes `loop=` to asyncio), with
`msgpack`, `typing-extensions`, `pycryptodome` and `aredis` installed:
`PYTHONPATH=RAP_SOURCE python3 bench.py --rap-python python3.9`.

Everything stays on 127.0.0.1, counts are fixed and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent

SEQUENTIAL = 2_000
CONCURRENT = 20_000
IN_FLIGHT = 64
ECHO = 50
MIB = 1 << 20
PLUGINS = [{"name": "math", "wasm": "examples:math"}, {"name": "types", "wasm": "tests:types"}]


def percentile(sorted_values: List[float], p: float) -> float:
    return sorted_values[round((len(sorted_values) - 1) * p)]


def rust_bench_bin(root: Path) -> Path:
    path = root / "target" / "release" / "warden-rust-bench"
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "--release", "-p", "warden-rust-bench"], cwd=root, check=True, timeout=3600
        )
    return path


def run_rust(root: Path, addr: str, fingerprint: str) -> Dict[str, float]:
    done = subprocess.run(
        [str(rust_bench_bin(root)), addr, fingerprint], capture_output=True, text=True, timeout=300, check=True
    )
    figures = {}
    for line in done.stdout.splitlines():
        record = json.loads(line)
        figures[record["figure"]] = record["value"]
    return figures


async def run_python(addr: str, fingerprint: str) -> Dict[str, float]:
    import warden

    figures: Dict[str, float] = {}
    async with await warden.connect(addr, fingerprint=fingerprint) as w:
        for _ in range(200):
            await w.call("math/add", 1, 2)
        times = []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            await w.call("math/add", 1, 2)
            times.append(time.perf_counter() - started)
        times.sort()
        figures["sequential_p50"] = percentile(times, 0.5) * 1e6
        figures["sequential_p99"] = percentile(times, 0.99) * 1e6

        async def worker(calls: int) -> None:
            for _ in range(calls):
                await w.call("math/add", 1, 2)

        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker(CONCURRENT // IN_FLIGHT) for _ in range(IN_FLIGHT)))
        elapsed = time.perf_counter() - started
        done = CONCURRENT // IN_FLIGHT * IN_FLIGHT
        figures["concurrent_calls_per_s"] = done / elapsed
        figures["concurrent_client_cpu_per_call"] = (time.process_time() - cpu) / done * 1e6

        # Where the sequential time goes: an empty request handed to the
        # runtime and back (no network), and one turn of the event loop.
        handoffs, turns = [], []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            await w._request(w._native.handoff)
            handoffs.append(time.perf_counter() - started)
            started = time.perf_counter()
            await asyncio.sleep(0)
            turns.append(time.perf_counter() - started)
        figures["handoff_p50"] = statistics.median(handoffs) * 1e6
        figures["loop_turn_p50"] = statistics.median(turns) * 1e6

        payload = bytes([0x5A]) * MIB
        assert await w.call("types/echo/echo-bytes", payload) == payload
        started = time.perf_counter()
        for _ in range(ECHO):
            back = await w.call("types/echo/echo-bytes", payload)
            assert len(back) == MIB
        figures["echo_1mib"] = ECHO * 1.048576 / (time.perf_counter() - started)
    with warden.connect_sync(addr, fingerprint=fingerprint) as s:
        for _ in range(200):
            s.call("math/add", 1, 2)
        times = []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            s.call("math/add", 1, 2)
            times.append(time.perf_counter() - started)
        times.sort()
        figures["sync_sequential_p50"] = percentile(times, 0.5) * 1e6
        handoffs = []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            s._native.handoff()
            handoffs.append(time.perf_counter() - started)
        figures["sync_handoff_p50"] = statistics.median(handoffs) * 1e6
    return figures


# --- rap, the pure-Python baseline: server and client in their own processes ---


def rap_server(port: int) -> None:
    from rap.server import Server  # type: ignore[import-not-found]

    async def add(a: int, b: int) -> int:
        return a + b

    # rap checks the annotations' types (this module's are strings).
    add.__annotations__ = {"a": int, "b": int, "return": int}

    async def main() -> None:
        server = Server(host="127.0.0.1", port=port)
        server.register(add)
        await server.create_server()
        print("ready", flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())


def rap_client(port: int) -> None:
    from rap.client import Client  # type: ignore[import-not-found]
    from rap.client.endpoint import LocalEndpointProvider  # type: ignore[import-not-found]

    async def main() -> Dict[str, float]:
        client = Client(endpoint_provider=LocalEndpointProvider.build({"ip": "127.0.0.1", "port": port}))
        await client.start()
        try:
            args = {"a": 1, "b": 2}
            for _ in range(200):
                assert await client.invoke_by_name("add", args) == 3
            times = []
            for _ in range(SEQUENTIAL):
                started = time.perf_counter()
                await client.invoke_by_name("add", args)
                times.append(time.perf_counter() - started)
            times.sort()

            async def worker(calls: int) -> None:
                for _ in range(calls):
                    await client.invoke_by_name("add", args)

            started = time.perf_counter()
            await asyncio.gather(*(worker(CONCURRENT // IN_FLIGHT) for _ in range(IN_FLIGHT)))
            rate = CONCURRENT // IN_FLIGHT * IN_FLIGHT / (time.perf_counter() - started)
            return {"sequential_p50": percentile(times, 0.5) * 1e6, "concurrent_calls_per_s": rate}
        finally:
            await client.stop()

    print(json.dumps(asyncio.run(asyncio.wait_for(main(), 300))))


def rap_round(python: str) -> Dict[str, float]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [python, __file__, "--rap-server", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("the rap server did not start")
        done = subprocess.run(
            [python, __file__, "--rap-client", str(port)], capture_output=True, text=True, timeout=330, check=True
        )
        figures: Dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return figures
    finally:
        server.kill()
        server.wait(timeout=10)


def rap_available(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import rap.client, rap.server"], capture_output=True, timeout=60)
    return probe.returncode == 0


def report(name: str, unit: str, value: float, baseline: float, target: str) -> None:
    ratio = value / baseline
    print(
        f"{name:<44} {value:>12.1f} {unit:<6} baseline {baseline:>12.1f} {unit:<6} ratio {ratio:>5.2f}  ({target})"
    )
    print(json.dumps({"bench": name, "unit": unit, "value": round(value, 2), "baseline": round(baseline, 2), "ratio": round(ratio, 3)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-rap", action="store_true", help="skip the rap baseline")
    parser.add_argument(
        "--rap-python", default=sys.executable, help="the interpreter that runs rap (default: this one)"
    )
    parser.add_argument("--rap-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rap-client", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rap_server:
        rap_server(args.rap_server)
        return
    if args.rap_client:
        rap_client(args.rap_client)
        return
    sys.path.insert(0, str(HERE / "tests"))
    import server as harness  # tests/server.py

    binary = Path(os.environ["WARDEN_BIN"]) if os.environ.get("WARDEN_BIN") else harness.warden_bin("release")
    served = harness.start(PLUGINS, binary=binary)
    rounds_rust: List[Dict[str, float]] = []
    rounds_py: List[Dict[str, float]] = []
    try:
        fingerprint = served.server.fingerprint
        print(f"python client bench ({os.cpu_count()} CPUs, warden serve {binary}, 127.0.0.1, {args.rounds} rounds)")
        for _ in range(max(1, args.rounds)):
            rounds_rust.append(run_rust(harness.ROOT, served.addr, fingerprint))
            rounds_py.append(asyncio.run(run_python(served.addr, fingerprint)))
    finally:
        served.stop()

    def median(rounds: List[Dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    print()
    report(
        "python sequential math/add p50",
        "us",
        median(rounds_py, "sequential_p50"),
        median(rounds_rust, "sequential_p50"),
        "target <= 1.3x the Rust client",
    )
    report(
        "python sequential math/add p99",
        "us",
        median(rounds_py, "sequential_p99"),
        median(rounds_rust, "sequential_p99"),
        "baseline: the Rust client",
    )
    report(
        "python blocking API sequential p50",
        "us",
        median(rounds_py, "sync_sequential_p50"),
        median(rounds_rust, "sequential_p50"),
        "baseline: the Rust client",
    )
    report(
        "python 64 in flight calls/s",
        "call/s",
        median(rounds_py, "concurrent_calls_per_s"),
        median(rounds_rust, "concurrent_calls_per_s"),
        "target >= 0.5x the Rust client",
    )
    print(
        json.dumps(
            {
                "bench": "python 64 in flight client CPU per call",
                "unit": "us",
                "value": round(median(rounds_py, "concurrent_client_cpu_per_call"), 2),
            }
        )
    )
    for key, name in (
        ("handoff_p50", "python asyncio hand-off to Rust and back, no network, p50"),
        ("sync_handoff_p50", "python blocking hand-off to Rust and back, no network, p50"),
        ("loop_turn_p50", "python one asyncio loop turn (await sleep(0)), p50"),
    ):
        print(json.dumps({"bench": name, "unit": "us", "value": round(median(rounds_py, key), 2)}))
    report(
        "python 1 MiB echo",
        "MB/s",
        median(rounds_py, "echo_1mib"),
        median(rounds_rust, "echo_1mib"),
        "baseline: the Rust client",
    )
    if args.no_rap:
        return
    if not rap_available(args.rap_python):
        print(f"(rap is not importable by {args.rap_python}: see the module docs for the pure-Python baseline)")
        return
    rap_rounds = [rap_round(args.rap_python) for _ in range(max(1, args.rounds))]
    report(
        "rap (pure Python, TCP) sequential p50",
        "us",
        median(rap_rounds, "sequential_p50"),
        median(rounds_py, "sequential_p50"),
        "baseline: the warden Python client",
    )
    report(
        "rap (pure Python, TCP) 64 in flight calls/s",
        "call/s",
        median(rap_rounds, "concurrent_calls_per_s"),
        median(rounds_py, "concurrent_calls_per_s"),
        "baseline: the warden Python client",
    )


if __name__ == "__main__":
    main()
