"""Call Warden nodes — sandboxed WebAssembly functions — over QUIC.

```python
import warden

async with await warden.connect("127.0.0.1:7443") as w:
    await w.call("math/add", 1, 2)                      # 3
    async for n in w.stream("streams/counter/count", 3, 0):
        print(n)

with warden.connect_sync("127.0.0.1:7443") as w:    # scripts, notebooks
    w.call("math/add", a=1, b=2)
```

QUIC, TLS, framing and MessagePack run in Rust (the `warden._warden`
native module, over Warden's own Rust client); this package is the Python
surface. Values map as the README's table says: `bytes` for `list<u8>`,
dicts keyed by kebab-case field names for records, `"case"` or
`{"case": payload}` for variants, floats (NaN and infinities included) for
f32/f64, ints up to u64. Failures raise `warden.Error` subclasses, one per
error kind.
"""

from ._aio import Blobs, Call, Channel, Client, Job, Node, Stream, connect
from ._errors import (
    BadArgs,
    BadRequest,
    Cancelled,
    ConnectError,
    ConnectionLost,
    Denied,
    Error,
    Internal,
    NodeError,
    NotFound,
    Overloaded,
    ProtocolError,
    ResourceLimit,
    Timeout,
    Trap,
    Unauthenticated,
    Unavailable,
)
from ._sync import (
    SyncBlobs,
    SyncCall,
    SyncChannel,
    SyncClient,
    SyncJob,
    SyncNode,
    SyncStream,
    connect_sync,
)
from ._types import BlobRef, Item, JobInfo, Log, NodeInfo, Param, PluginStatus, Progress, Status
from ._warden import default_state_dir

__all__ = [
    "connect",
    "connect_sync",
    "default_state_dir",
    "Client",
    "Node",
    "Call",
    "Stream",
    "Channel",
    "Job",
    "Blobs",
    "SyncClient",
    "SyncNode",
    "SyncCall",
    "SyncStream",
    "SyncChannel",
    "SyncJob",
    "SyncBlobs",
    "NodeInfo",
    "Param",
    "JobInfo",
    "BlobRef",
    "Status",
    "PluginStatus",
    "Progress",
    "Log",
    "Item",
    "Error",
    "NotFound",
    "Unavailable",
    "BadArgs",
    "Denied",
    "Unauthenticated",
    "Trap",
    "Timeout",
    "ResourceLimit",
    "NodeError",
    "Overloaded",
    "Cancelled",
    "BadRequest",
    "Internal",
    "ConnectError",
    "ConnectionLost",
    "ProtocolError",
]
