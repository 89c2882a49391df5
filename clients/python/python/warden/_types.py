"""Records the server sends (node entries, job records, status) and the
events of a call, as typed Python objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "Param",
    "NodeInfo",
    "JobInfo",
    "BlobRef",
    "PluginStatus",
    "Status",
    "Progress",
    "Log",
    "Item",
]


@dataclass(frozen=True)
class Param:
    """One parameter of a node: its WIT name (kebab-case), WIT type and
    JSON Schema."""

    name: str
    type: str
    schema: Any

    @property
    def python_name(self) -> str:
        """The name as a Python keyword argument (`delay-ms` → `delay_ms`)."""
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class NodeInfo:
    """A node's catalog entry: its signature, docs and JSON Schemas
    (PROTOCOL.md, "catalog")."""

    node: str
    plugin: str
    params: Tuple[Param, ...]
    result: Optional[str]
    docs: Optional[str]
    params_schema: Any
    result_schema: Any
    kind: str
    item: Optional[str] = None
    item_schema: Any = None
    input: Optional[str] = None
    input_schema: Any = None

    @property
    def signature(self) -> str:
        """The signature as WIT: `math/add: func(a: s64, b: s64) -> s64`."""
        params = ", ".join(f"{p.name}: {p.type}" for p in self.params)
        result = f" -> {self.result}" if self.result else ""
        return f"{self.node}: func({params}){result}"

    @classmethod
    def _from_wire(cls, entry: Dict[str, Any]) -> "NodeInfo":
        return cls(
            node=entry["node"],
            plugin=entry["plugin"],
            params=tuple(Param(p["name"], p["type"], p.get("schema")) for p in entry["params"]),
            result=entry.get("result"),
            docs=entry.get("docs"),
            params_schema=entry.get("params_schema"),
            result_schema=entry.get("result_schema"),
            kind=entry.get("kind", "call"),
            item=entry.get("item"),
            item_schema=entry.get("item_schema"),
            input=entry.get("input"),
            input_schema=entry.get("input_schema"),
        )


@dataclass(frozen=True)
class JobInfo:
    """A job's record (PROTOCOL.md, "submit, job, cancel")."""

    id: str
    node: str
    args: Any
    caller: str
    state: str
    result: Any = None
    error_kind: Optional[str] = None
    error: Optional[str] = None
    callback: Optional[str] = None
    callback_error: Optional[str] = None
    created_ms: int = 0
    finished_ms: Optional[int] = None

    @property
    def finished(self) -> bool:
        """Whether the job has ended (`done`, `failed` or `cancelled`)."""
        return self.state in ("done", "failed", "cancelled")

    @classmethod
    def _from_wire(cls, record: Dict[str, Any]) -> "JobInfo":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in record.items() if k in known})


class BlobRef(str):
    """A blob's reference (`blake3:` and 64 hex digits), usable wherever a
    string is; `size` is the blob's size in bytes."""

    size: int

    def __new__(cls, reference: str, size: int) -> "BlobRef":
        ref = super().__new__(cls, reference)
        ref.size = size
        return ref

    def __repr__(self) -> str:
        return f"BlobRef({str(self)!r}, size={self.size})"

    def __reduce__(self) -> Any:
        return (BlobRef, (str(self), self.size))


@dataclass(frozen=True)
class PluginStatus:
    """One plugin's state on the server."""

    name: str
    state: str
    version: Optional[str] = None
    loaded_at: Optional[str] = None
    nodes: int = 0
    error: Optional[str] = None
    description: Optional[str] = None
    #: In a cluster, the hosts that have this plugin (empty otherwise).
    hosts: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Status:
    """The server's plugins and its compiled cache's counters."""

    plugins: List[PluginStatus] = field(default_factory=list)
    cache: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def _from_wire(cls, status: Dict[str, Any]) -> "Status":
        known = set(PluginStatus.__dataclass_fields__)
        plugins = [
            PluginStatus(**{k: v for k, v in p.items() if k in known})
            for p in status.get("plugins", [])
        ]
        return cls(plugins, dict(status.get("cache", {})))


@dataclass(frozen=True)
class Progress:
    """The node reported progress: `fraction` from 0.0 to 1.0."""

    fraction: float
    message: str


@dataclass(frozen=True)
class Log:
    """The node logged a line (`level`: trace, debug, info, warn, error)."""

    level: str
    message: str


@dataclass(frozen=True)
class Item:
    """One item of a stream or a channel's reply."""

    value: Any


def _event(raw: Sequence[Any]) -> Any:
    tag, a, b = raw
    if tag == "item":
        return Item(a)
    if tag == "progress":
        return Progress(a, b)
    return Log(a, b)
