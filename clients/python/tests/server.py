"""A real `warden serve` for the tests and the benchmark: the plugins the
conformance suite names (built from source if missing), a temporary state
directory, 127.0.0.1:0, every wait bounded."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[3]
CASES = ROOT / "tests" / "conformance" / "cases.json"
WASM_TARGET = ROOT / "target" / "wasm-plugins"
WASM_DIR = WASM_TARGET / "wasm32-wasip2" / "release"
#: Where each plugin source (`examples:math`) is built from.
WORKSPACES = {"examples": ROOT / "examples" / "plugins", "tests": ROOT / "tests" / "plugins"}


def warden_bin(profile: str = "debug") -> Path:
    """The `warden` binary: `$WARDEN_BIN`, else `target/PROFILE/warden`,
    built if missing."""
    if os.environ.get("WARDEN_BIN"):
        return Path(os.environ["WARDEN_BIN"])
    path = ROOT / "target" / profile / "warden"
    if not path.exists():
        cmd = ["cargo", "build", "--bin", "warden"] + (["--release"] if profile == "release" else [])
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=3600)
    return path


def wasm(source: str) -> Path:
    """The component for `examples:NAME` or `tests:NAME`, building its
    workspace (release, wasm32-wasip2) if it is missing."""
    workspace, name = source.split(":", 1)
    path = WASM_DIR / f"{name.replace('-', '_')}.wasm"
    if not path.exists():
        env = dict(os.environ, CARGO_TARGET_DIR=str(WASM_TARGET))
        for var in ("CARGO_BUILD_TARGET", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"):
            env.pop(var, None)
        manifest = WORKSPACES[workspace] / "Cargo.toml"
        subprocess.run(
            ["cargo", "build", "--release", "--target", "wasm32-wasip2", "--manifest-path", str(manifest)],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=3600,
        )
    return path


def suite() -> Dict:
    """The conformance suite (tests/conformance/cases.json)."""
    with open(CASES, encoding="utf-8") as f:
        return json.load(f)


def plugin_dir(into: Path, plugins: Optional[List[Dict]] = None) -> Path:
    """Fills `into` with the suite's plugins (or `plugins`): `NAME.wasm`
    and, when given, `NAME.toml`."""
    into.mkdir(parents=True, exist_ok=True)
    for plugin in plugins if plugins is not None else suite()["plugins"]:
        shutil.copyfile(wasm(plugin["wasm"]), into / f"{plugin['name']}.wasm")
        if plugin.get("manifest"):
            (into / f"{plugin['name']}.toml").write_text(plugin["manifest"], encoding="utf-8")
    return into


class Server:
    """`warden serve` in a child process; `stop()` ends it (SIGTERM, then
    SIGKILL after 20 s)."""

    def __init__(
        self,
        plugins: Path,
        state: Path,
        listen: str = "127.0.0.1:0",
        binary: Optional[Path] = None,
        args: Sequence[str] = (),
        token: Optional[str] = None,
    ):
        self.plugins = plugins
        self.token = token
        self.state = state
        self.binary = binary or warden_bin()
        self.log: List[str] = []
        self.process = subprocess.Popen(
            [str(self.binary), "serve", "--listen", listen, "--state-dir", str(state), *args, str(plugins)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def drain() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.log.append(line.rstrip())
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + 120
        addr = None
        while addr is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("warden serve did not say where it listens:\n" + "\n".join(self.log))
            if line.startswith("warden: listening on "):
                addr = line.split(" on ", 1)[1].strip()
        self.addr = addr
        self.wait_ready()

    def wait_ready(self) -> None:
        """Waits (at most 300 s) until no plugin is still loading (a server
        with callers shows its plugins only to one: `token`)."""
        token = ["--token", self.token] if self.token else []
        done = subprocess.run(
            [str(self.binary), "nodes", "--wait", "300", "--addr", self.addr, "--state-dir", str(self.state), *token],
            capture_output=True,
            text=True,
            timeout=330,
        )
        if done.returncode != 0:
            raise RuntimeError(f"warden nodes --wait failed: {done.stderr}")

    @property
    def fingerprint(self) -> str:
        """The server certificate's SHA-256 fingerprint, as `warden serve`
        printed it."""
        for line in self.log:
            if "fingerprint" in line:
                return line.rsplit(" ", 1)[-1].strip()
        raise RuntimeError("warden serve printed no fingerprint")

    def stop(self) -> None:
        """Graceful stop (SIGTERM), bounded."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start(
    plugins: Optional[List[Dict]] = None,
    binary: Optional[Path] = None,
    config: Optional[str] = None,
    token: Optional[str] = None,
) -> "Served":
    """A server with the suite's plugins (or `plugins`) in fresh temporary
    directories; `config` is the host config's text, `token` a caller's
    (to wait for the plugins)."""
    return Served(plugins, binary, config, token)


class Served:
    """A `Server` with the temporary directories it owns."""

    def __init__(
        self,
        plugins: Optional[List[Dict]] = None,
        binary: Optional[Path] = None,
        config: Optional[str] = None,
        token: Optional[str] = None,
    ):
        self.token = token
        self.tmp = Path(tempfile.mkdtemp(prefix="warden-py-"))
        self.plugins = plugin_dir(self.tmp / "plugins", plugins)
        self.state = self.tmp / "state"
        self.state.mkdir(mode=0o700)
        self.binary = binary
        self.args: List[str] = []
        if config is not None:
            (self.tmp / "warden.toml").write_text(config, encoding="utf-8")
            self.args = ["--config", str(self.tmp / "warden.toml")]
        self.server = Server(self.plugins, self.state, binary=binary, args=self.args, token=token)

    @property
    def addr(self) -> str:
        return self.server.addr

    def restart(self) -> None:
        """Stops the server and starts it again on the same address, state
        and plugins (same certificate)."""
        self.server.stop()
        self.server = Server(
            self.plugins, self.state, listen=self.server.addr, binary=self.binary, args=self.args, token=self.token
        )

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
