"""The conformance suite (tests/conformance/cases.json) through both Python
APIs, against a real `warden serve`."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import pytest

import conformance
import server
import warden

CASES = server.suite()["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_async(served: server.Served, case: Dict[str, Any]) -> None:
    async def main() -> None:
        async with await warden.connect(served.addr, state_dir=served.state) as w:
            await asyncio.wait_for(conformance.run(conformance.Async(w), case), 60)

    asyncio.run(main())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_blocking(served: server.Served, case: Dict[str, Any]) -> None:
    with warden.connect_sync(served.addr, state_dir=served.state) as w:
        asyncio.run(conformance.run(conformance.Sync(w), case))
