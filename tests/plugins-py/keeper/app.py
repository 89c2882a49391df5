"""Uses the capabilities that need a grant: kv, blobs and invoke.

warden_py.py makes the component import warden:node/kv, blobs and invoke
because this file imports them from warden_guest, so it loads only with
those grants (tests/all/python_tool.rs serves it with and without them).
"""

from typing import Optional

from warden_guest import HostError, blobs, invoke, kv, node
from warden_guest import msgpack


@node
def remember(key: str, value: str) -> None:
    """Stores `value` under `key`."""
    kv.set(key, value.encode())


@node
def recall(key: str) -> Optional[str]:
    """The value stored under `key`, if any."""
    value = kv.get(key)
    return None if value is None else value.decode()


@node
def forget(key: str) -> bool:
    """Removes `key`; whether it was there."""
    return kv.delete(key)


@node
def keys(prefix: str) -> list[str]:
    """The keys starting with `prefix`."""
    return kv.list_keys(prefix)


@node
def stash(data: bytes) -> str:
    """Stores `data` as a blob; its reference."""
    return blobs.put(data)


@node
def fetch(ref: str) -> bytes:
    """The bytes of blob `ref`."""
    return blobs.get(ref)


@node
def size(ref: str) -> Optional[int]:
    """The size of blob `ref`, or nothing when it is not stored."""
    return blobs.size(ref)


@node
def add_via(a: int, b: int) -> int:
    """`math/add` called through invoke, with values encoded for us."""
    return invoke.call_values("math/add", [a, b])


@node
def call_raw(target: str, args: bytes) -> bytes:
    """Calls `target` with MessagePack `args`; its MessagePack result."""
    return invoke.call(target, args)


@node
def try_call(target: str) -> str:
    """Calls `target` with `[1, 2]` and says how the host answered."""
    try:
        return f"ok: {invoke.call(target, msgpack.packb([1, 2])).hex()}"
    except HostError as e:
        return f"{e.kind}: {e.message}"
