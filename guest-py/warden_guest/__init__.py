"""What a Warden plugin written in Python imports.

```python
from warden_guest import node, log, progress        # always available
from warden_guest import kv, blobs, invoke          # need the operator's grant
```

Inside a component built by `warden_py.py build`, these reach the host's
`warden:node` interfaces. Outside one (your unit tests, a REPL), `node` is
an identity decorator, `log` and `progress` print to stderr, and `kv`,
`blobs` and `invoke` raise `RuntimeError` saying so.

The build tool reads this module's names from the plugin's source: it only
makes the component import `warden:node/kv` (or `blobs`, `invoke`) when the
source names `kv` (or `blobs`, `invoke`) from `warden_guest`, because the
host refuses to load a plugin that imports one without the grant.
"""

import sys

__all__ = [
    "node",
    "log",
    "progress",
    "NodeError",
    "HostError",
    "u8",
    "u16",
    "u32",
    "u64",
    "s8",
    "s16",
    "s32",
    "s64",
    "f32",
    "f64",
    "char",
]

# Sized numbers and `char`, for type hints. At run time they are the plain
# Python types; the build tool reads them from the source and declares the
# WIT type (`u32` instead of `s64`, ...). A value out of range is an error.
u8 = u16 = u32 = u64 = s8 = s16 = s32 = s64 = int
f32 = f64 = float
char = str

# Set by the generated glue inside a component (see `_glue.install_host`):
# a namespace with the componentize-py bindings of the imported interfaces.
_host = None


class NodeError(Exception):
    """Raise this to fail a call with exactly this message.

    Any other exception fails the call too, with `TypeName: message`.
    """


class HostError(Exception):
    """A host capability (`kv`, `blobs`, `invoke`) said no.

    `kind` is one of `denied`, `not-found`, `quota-exceeded`, `invalid`,
    `failed` (the `warden:node/types.error` cases); `message` is the host's
    text.
    """

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def node(fn=None, **_options):
    """Marks a top-level function as a node: `@node` (or `@node()`).

    When a module marks none, all its public top-level functions are nodes.
    At run time this returns the function unchanged.
    """
    if fn is None:
        return lambda f: f
    return fn


def _outside(what, grant=None):
    hint = f" with the `{grant}` grant" if grant else ""
    return RuntimeError(
        f"warden_guest.{what} works only inside a Warden component: build the "
        f"plugin with `warden_py.py build` and serve it{hint}"
    )


def _imported(name, what):
    """The binding of host interface `name`, or a clear error."""
    if _host is None:
        grant = {"kv": "kv", "blobs": "blobs", "invoke": "invoke"}.get(name)
        raise _outside(what, grant)
    binding = getattr(_host, name, None)
    if binding is None:
        raise RuntimeError(
            f"warden_guest.{what}: this component does not import "
            f"warden:node/{name}: the build found no `{name}` imported from "
            f"warden_guest in the plugin's source. Import it in the module that "
            f"uses it (`from warden_guest import {name}`) and build again."
        )
    return binding


def _host_call(fn, *args):
    """Calls a host function whose WIT result is `result<T, error>`."""
    try:
        return fn(*args)
    except _host.Err as e:
        raise _host_error(e.value) from None


def _host_error(value):
    # componentize-py names the cases `Error_Denied`, `Error_NotFound`, ...
    case = type(value).__name__.split("_", 1)[-1]
    kind = "".join("-" + c.lower() if c.isupper() else c for c in case).lstrip("-")
    return HostError(kind, str(getattr(value, "value", value)))


class _Log:
    """`log(message)` logs at info; `log.debug(message)` etc. at other levels.

    Lines reach the host's log and the caller (as `log` events) while the
    call runs.
    """

    LEVELS = ("trace", "debug", "info", "warn", "error")

    def __call__(self, message, level="info"):
        if level == "warning":
            level = "warn"
        if level not in self.LEVELS:
            raise ValueError(f"log level {level!r} is not one of {', '.join(self.LEVELS)}")
        text = message if isinstance(message, str) else str(message)
        if _host is None:
            print(f"[{level}] {text}", file=sys.stderr)
            return
        _host.log.log(getattr(_host.log.Level, level.upper()), text)

    def trace(self, message):
        self(message, "trace")

    def debug(self, message):
        self(message, "debug")

    def info(self, message):
        self(message, "info")

    def warn(self, message):
        self(message, "warn")

    warning = warn

    def error(self, message):
        self(message, "error")


log = _Log()


def progress(fraction, message=""):
    """Reports that the call is `fraction` (0.0 to 1.0) done, with a message."""
    fraction = float(fraction)
    text = message if isinstance(message, str) else str(message)
    if _host is None:
        print(f"[progress {fraction:.0%}] {text}", file=sys.stderr)
        return
    _host.progress.report(fraction, text)


def _as_bytes(value, what):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    hint = " (encode text first, e.g. `text.encode()`)" if isinstance(value, str) else ""
    raise TypeError(f"{what} takes bytes, not {type(value).__name__}{hint}")


def _as_str(value, what):
    if not isinstance(value, str):
        raise TypeError(f"{what} takes a str, not {type(value).__name__}")
    return value


class _Kv:
    """The plugin's own key-value store (grant: `kv = true`).

    Keys are str, values bytes. Failures raise `HostError`.
    """

    def get(self, key):
        """The value stored under `key`, or None."""
        kv = _imported("kv", "kv.get")
        return _host_call(kv.get, _as_str(key, "kv.get"))

    def set(self, key, value):
        """Stores `value` (bytes) under `key`."""
        kv = _imported("kv", "kv.set")
        _host_call(kv.set, _as_str(key, "kv.set"), _as_bytes(value, "kv.set"))

    def delete(self, key):
        """Removes `key`; whether it existed."""
        kv = _imported("kv", "kv.delete")
        return _host_call(kv.delete, _as_str(key, "kv.delete"))

    def list_keys(self, prefix=""):
        """The keys starting with `prefix`, in byte order."""
        kv = _imported("kv", "kv.list_keys")
        return list(_host_call(kv.list_keys, _as_str(prefix, "kv.list_keys")))


class _Blobs:
    """Content-addressed blobs (grant: `blobs = "read"` or `"read-write"`).

    References are `blake3:<64 hex digits>` strings. Failures raise `HostError`.
    """

    def put(self, data):
        """Stores `data` (bytes); its reference. Needs `"read-write"`."""
        blobs = _imported("blobs", "blobs.put")
        return _host_call(blobs.put, _as_bytes(data, "blobs.put"))

    def get(self, ref):
        """The bytes of blob `ref`."""
        blobs = _imported("blobs", "blobs.get")
        return _host_call(blobs.get, _as_str(ref, "blobs.get"))

    def size(self, ref):
        """The size of blob `ref` in bytes, or None when it is not stored."""
        blobs = _imported("blobs", "blobs.size")
        stat = _host_call(blobs.stat, _as_str(ref, "blobs.size"))
        return None if stat is None else stat.size


class _Invoke:
    """Calling other nodes (grant: `invoke = ["pattern", ...]`).

    Failures (including the callee's) raise `HostError`.
    """

    def call(self, node, args):
        """Calls `node` with MessagePack-encoded `args` (bytes: an array in
        order or a map by parameter name); the MessagePack-encoded result."""
        invoke = _imported("invoke", "invoke.call")
        return _host_call(invoke.call, _as_str(node, "invoke.call"), _as_bytes(args, "invoke.call"))

    def call_values(self, node, args):
        """Like `call`, with `args` a list (in order) or dict (by name) of
        plain values, encoded for you; the result decoded."""
        from . import msgpack

        if not isinstance(args, (list, tuple, dict)):
            raise TypeError(
                f"invoke.call_values takes a list or dict of arguments, not {type(args).__name__}"
            )
        return msgpack.unpackb(self.call(node, msgpack.packb(args)))


kv = _Kv()
blobs = _Blobs()
invoke = _Invoke()
