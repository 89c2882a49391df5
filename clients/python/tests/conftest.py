"""Fixtures: one `warden serve` for the session with the conformance
suite's plugins (tests/server.py builds what is missing)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import server  # noqa: E402


@pytest.fixture(scope="session")
def served() -> Iterator[server.Served]:
    """A server with every plugin of the suite, on 127.0.0.1."""
    s = server.start()
    try:
        yield s
    finally:
        s.stop()
