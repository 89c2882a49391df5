"""Support for the glue module `warden_py.py` generates: converting between
componentize-py's generated types and the plugin's own dataclasses and
Enums, calling the plugin's functions, turning exceptions into errors, and
pulling generators as stream resources.

Types are described by small literals the build tool writes into the glue:
a primitive is its WIT name (`"s64"`, `"f64"`, `"string"`, `"bool"`,
`"char"`, `"bytes"`, ...); `("list", T)`, `("option", T)`, `("tuple", (A,
B))`, `("record", "PyName")`, `("enum", "PyName")`.
"""

import dataclasses
import sys
import traceback
import types as _types

import warden_guest

INT_RANGES = {
    "u8": (0, 2**8 - 1),
    "u16": (0, 2**16 - 1),
    "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1),
    "s8": (-(2**7), 2**7 - 1),
    "s16": (-(2**15), 2**15 - 1),
    "s32": (-(2**31), 2**31 - 1),
    "s64": (-(2**63), 2**63 - 1),
}


def install_host(err, some, **interfaces):
    """Makes `warden_guest`'s host functions reach these bindings.

    `interfaces`: `log`, `progress`, and `kv`, `blobs`, `invoke` when the
    component imports them (None otherwise).
    """
    warden_guest._host = _types.SimpleNamespace(Err=err, Some=some, **interfaces)


def _short(v):
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(path, expected, v):
    return TypeError(f"{path} is {type(v).__name__} {_short(v)}, where {expected} is expected")


def _describe(ty):
    if isinstance(ty, str):
        return {
            "string": "a str",
            "bool": "a bool",
            "char": "a str of one character (char)",
            "bytes": "bytes",
            "f32": "a float (f32)",
            "f64": "a float",
        }.get(ty, f"an int ({ty})")
    kind = ty[0]
    if kind == "list":
        return "a list"
    if kind == "tuple":
        return f"a tuple of {len(ty[1])}"
    if kind == "option":
        return f"None or {_describe(ty[1])}"
    return f"a {ty[1]}"


class Scope:
    """The record and enum types of one WIT scope (the world, or the stream
    interface) with the generated module that holds their bindings.

    `records`: {PyName: (GeneratedName, [(field, type), ...])};
    `enums`: {PyName: (GeneratedName, [case PyName, ...])}.
    """

    def __init__(self, user, generated, records, enums):
        self.records = {}
        for name, (gen_name, fields) in records.items():
            user_cls = _find(user, name, "dataclass")
            if not dataclasses.is_dataclass(user_cls):
                raise TypeError(f"`{name}` in {user.__name__} is not a dataclass at run time")
            gen_cls = _find(generated, gen_name, "generated record")
            self.records[name] = (user_cls, gen_cls, fields)
        self.enums = {}
        for name, (gen_name, cases) in enums.items():
            user_cls = _find(user, name, "Enum")
            gen_cls = _find(generated, gen_name, "generated enum")
            members = [user_cls[case] for case in cases]
            gen_members = list(gen_cls)
            if len(gen_members) != len(members):
                raise TypeError(f"enum `{name}` has {len(members)} cases but its binding has {len(gen_members)}")
            self.enums[name] = (user_cls, members, {m: i for i, m in enumerate(members)}, gen_members)

    def to_wit(self, ty, v, path):
        """`v`, returned by the plugin's code, as the bindings want it."""
        if isinstance(ty, str):
            if ty in INT_RANGES:
                if not isinstance(v, int):
                    raise _bad(path, _describe(ty), v)
                lo, hi = INT_RANGES[ty]
                if not lo <= v <= hi:
                    raise ValueError(f"{path} is {v}, out of range for {ty} ({lo} to {hi})")
                return int(v)
            if ty in ("f32", "f64"):
                if not isinstance(v, (int, float)):
                    raise _bad(path, _describe(ty), v)
                return float(v)
            if ty == "string":
                if not isinstance(v, str):
                    raise _bad(path, "a str", v)
                return v
            if ty == "char":
                if not isinstance(v, str) or len(v) != 1:
                    raise _bad(path, _describe(ty), v)
                return v
            if ty == "bool":
                if not isinstance(v, bool):
                    raise _bad(path, "a bool", v)
                return v
            if ty == "bytes":
                if not isinstance(v, (bytes, bytearray, memoryview)):
                    raise _bad(path, "bytes", v)
                return bytes(v)
            raise TypeError(f"unknown type {ty!r}")
        kind = ty[0]
        if kind == "option":
            return None if v is None else self.to_wit(ty[1], v, path)
        if kind == "list":
            if isinstance(v, (str, bytes, bytearray, dict)) or not hasattr(v, "__iter__"):
                raise _bad(path, "a list", v)
            return [self.to_wit(ty[1], x, f"{path}[{i}]") for i, x in enumerate(v)]
        if kind == "tuple":
            if not isinstance(v, (tuple, list)) or len(v) != len(ty[1]):
                raise _bad(path, _describe(ty), v)
            return tuple(self.to_wit(t, x, f"{path}[{i}]") for i, (t, x) in enumerate(zip(ty[1], v)))
        if kind == "record":
            user_cls, gen_cls, fields = self.records[ty[1]]
            if not isinstance(v, user_cls):
                raise _bad(path, f"a {ty[1]}", v)
            return gen_cls(*[self.to_wit(t, getattr(v, f), f"{path}.{f}") for f, t in fields])
        if kind == "enum":
            user_cls, members, index, gen_members = self.enums[ty[1]]
            if not isinstance(v, user_cls):
                try:
                    v = user_cls(v)
                except (ValueError, TypeError):
                    raise _bad(path, f"a {ty[1]}", v) from None
            return gen_members[index[v]]
        raise TypeError(f"unknown type {ty!r}")

    def to_user(self, ty, v):
        """`v`, from the bindings, as the plugin's code expects it."""
        if isinstance(ty, str):
            return v
        kind = ty[0]
        if kind == "option":
            return None if v is None else self.to_user(ty[1], v)
        if kind == "list":
            inner = ty[1]
            if isinstance(inner, str):
                return list(v)
            return [self.to_user(inner, x) for x in v]
        if kind == "tuple":
            return tuple(self.to_user(t, x) for t, x in zip(ty[1], v))
        if kind == "record":
            user_cls, _gen, fields = self.records[ty[1]]
            values = [getattr(v, f.name) for f in dataclasses.fields(v)]
            return user_cls(**{f: self.to_user(t, x) for (f, t), x in zip(fields, values)})
        if kind == "enum":
            return self.enums[ty[1]][1][v.value]
        raise TypeError(f"unknown type {ty!r}")


def _find(module, name, what):
    try:
        return getattr(module, name)
    except AttributeError:
        raise TypeError(f"{module.__name__} has no {what} `{name}`") from None


def _failure(e, traceback_too=True):
    """The message of a failed call, and the traceback on stderr (which the
    host logs) unless the plugin raised `NodeError` on purpose or the value
    it returned did not fit (the message says where)."""
    if isinstance(e, warden_guest.NodeError):
        return str(e) or "NodeError"
    if traceback_too:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _arguments(scope, params, args):
    positional, keywords = [], {}
    for (name, ty, keyword_only), value in zip(params, args):
        value = scope.to_user(ty, value)
        if keyword_only:
            keywords[name] = value
        else:
            positional.append(value)
    return positional, keywords


def call_node(fn, scope, name, params, result):
    """A function the glue's export method calls with the WIT arguments.

    `params`: [(python name, type, keyword-only)]; `result`: a type or None.
    Returns the converted result; raises the bindings' `Err` with the
    message of any exception (the WIT result is `result<T, string>`).
    """
    err = warden_guest._host.Err
    where = f"the result of `{name}`"

    def call(args):
        try:
            positional, keywords = _arguments(scope, params, args)
            value = fn(*positional, **keywords)
        except BaseException as e:  # every failure is the caller's error value
            message = _failure(e)
        else:
            if result is None:
                return None
            try:
                return scope.to_wit(result, value, where)
            except Exception as e:  # the value did not fit its type
                message = _failure(e, traceback_too=not isinstance(e, (TypeError, ValueError)))
        raise err(message)

    return call


def stream_node(fn, scope, name, params, item):
    """Like `call_node` for a generator: returns a function making the
    resource whose `next` pulls the generator. The function itself is
    called on the first `next`, so an exception it raises is that `next`'s
    error."""

    def start(args):
        def run():
            positional, keywords = _arguments(scope, params, args)
            return fn(*positional, **keywords)

        return Stream(run, scope, name, item)

    return start


class Stream:
    """The resource of a stream node: `next` is `result<option<T>, string>`."""

    def __init__(self, start, scope, name, item):
        self._start = start
        self._scope = scope
        self._name = name
        self._item = item
        self._iter = None
        self._count = 0
        self._done = False

    def next(self):
        if self._done:
            return None
        try:
            if self._iter is None:
                self._iter = iter(self._start())
            value = next(self._iter)
        except StopIteration:
            self._done = True
            return None
        except BaseException as e:
            self._done = True
            message = _failure(e)
        else:
            try:
                out = self._scope.to_wit(self._item, value, f"item {self._count} of `{self._name}`")
            except Exception as e:  # the item did not fit its type
                self._done = True
                message = _failure(e, traceback_too=not isinstance(e, (TypeError, ValueError)))
            else:
                self._count += 1
                if isinstance(self._item, tuple) and self._item[0] == "option":
                    # `option<option<T>>`: the outer option is the stream's.
                    return warden_guest._host.Some(out)
                return out
        raise warden_guest._host.Err(message)
