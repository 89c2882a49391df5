#!/usr/bin/env python3
"""Build a Warden plugin from a plain Python module.

    python3 guest-py/warden_py.py build app.py -o app.wasm
    python3 guest-py/warden_py.py build app.py --wit      # print the WIT callers see

The module is read with `ast` (never imported by this tool): its nodes are
the top-level functions decorated `@node` (or, when none is, every public
top-level function), their type hints become WIT types, their docstrings WIT
docs. The tool writes the WIT and a glue module, runs componentize-py, and
appends a `warden:wit` custom section holding the WIT for the host's catalog.

Standard library only (Python 3.9 or later); componentize-py must be on PATH.
See README.md beside this file.
"""

import argparse
import ast
import inspect
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_PACKAGE = os.path.join(HERE, "warden_guest")
# The warden:node WIT package, from the repository this tool ships in.
DEFAULT_WARDEN_WIT = os.path.join(os.path.dirname(HERE), "wit", "node.wit")
WARDEN_NODE = "warden:node"
WARDEN_VERSION = "0.1.0"
CUSTOM_SECTION = "warden:wit"

# Host interfaces a plugin may import; `log` and `progress` always are.
CAPABILITIES = ("kv", "blobs", "invoke")

# What to write instead of an unsupported hint.
SUPPORTED = (
    "int, float, str, bool, bytes, list[T], Optional[T], tuple[A, B], "
    "or a @dataclass or Enum defined in the module"
)

PRIMITIVES = {"int": "s64", "float": "f64", "str": "string", "bool": "bool", "bytes": "bytes"}
# Sized numbers, importable from warden_guest for hints (`from warden_guest import u32`).
SIZED = {"u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "f32", "f64", "char"}
LIST_NAMES = {"list", "List", "Sequence", "MutableSequence"}
TUPLE_NAMES = {"tuple", "Tuple"}
ITERATOR_NAMES = {"Iterator", "Iterable", "Generator"}
ENUM_BASES = {"Enum", "IntEnum", "StrEnum"}
FLAG_BASES = {"Flag", "IntFlag"}

# Words WIT reserves: identifiers spelled like these get a `%` prefix
# (harmless for any identifier, so the list may be generous).
WIT_KEYWORDS = {
    "as", "async", "bool", "borrow", "char", "constructor", "enum", "error-context",
    "export", "f32", "f64", "flags", "float32", "float64", "from", "func", "future",
    "import", "include", "interface", "list", "own", "option", "package", "record",
    "resource", "result", "s16", "s32", "s64", "s8", "static", "stream", "string",
    "tuple", "type", "u16", "u32", "u64", "u8", "use", "variant", "with", "world", "map",
}

# Module names the component needs for itself.
RESERVED_MODULES = {"warden_guest", "wit_world", "componentize_py_types", "componentize_py_runtime",
                    "componentize_py_async_support", "poll_loop", "warden_glue"}


# ---------------------------------------------------------------------------
# Errors


class BuildError(Exception):
    """User errors, each `(file, line, message)`; printed as `file:line: message`."""

    def __init__(self, problems):
        super().__init__("\n".join(format_problem(p) for p in problems))
        self.problems = problems


def format_problem(problem):
    path, line, message = problem
    return f"{path}:{line}: error: {message}" if line else f"{path}: error: {message}"


class HintError(Exception):
    """An unsupported type hint; the caller adds where it is."""

    def __init__(self, message, node=None):
        super().__init__(message)
        self.node = node


# ---------------------------------------------------------------------------
# Names


def words(name):
    """The words of a Python name: `delay_ms` → delay, ms; `HTTPServer` →
    http, server; None when it has other characters than ASCII letters,
    digits and `_`."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        return None
    out = []
    for part in name.split("_"):
        if not part:
            continue
        for word in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+[0-9]*|[0-9]+", part):
            if word[0].isdigit() and out:
                out[-1] += word  # WIT words cannot start with a digit: `x_1` → `x1`
            else:
                out.append(word.lower())
    return out


KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$")


def kebab(name):
    """`delay_ms` → `delay-ms`, `HTTPStatus` → `http-status`, or None when
    the name has no WIT spelling (non-ASCII letters, only digits, ...)."""
    text = "-".join(words(name) or ())
    return text if KEBAB.match(text) else None


def wit_ident(name):
    """A kebab name as a WIT identifier (`%type` for keywords)."""
    return f"%{name}" if name in WIT_KEYWORDS else name


def camel(kebab_name):
    """componentize-py's class name for a WIT type: `count-stream` → `CountStream`."""
    return "".join(w[:1].upper() + w[1:] for w in kebab_name.split("-"))


def snake(kebab_name):
    """componentize-py's Python name for a WIT function: `from` → `from_`."""
    text = kebab_name.replace("-", "_")
    return text + "_" if keyword.iskeyword(text) else text


# ---------------------------------------------------------------------------
# Types: a primitive is its WIT name ("s64", "string", ..., "bytes");
# ("list", T), ("option", T), ("tuple", (A, B)), ("record", PyName), ("enum", PyName).


def render(ty, module):
    if isinstance(ty, str):
        return "list<u8>" if ty == "bytes" else ty
    kind = ty[0]
    if kind == "list":
        return f"list<{render(ty[1], module)}>"
    if kind == "option":
        return f"option<{render(ty[1], module)}>"
    if kind == "tuple":
        return "tuple<" + ", ".join(render(t, module) for t in ty[1]) + ">"
    if kind == "record":
        return wit_ident(module.records[ty[1]].wit)
    return wit_ident(module.enums[ty[1]].wit)


def named_types(ty, out):
    """Adds the records and enums `ty` mentions to `out` (a list, in order)."""
    if isinstance(ty, str):
        return
    kind = ty[0]
    if kind in ("list", "option"):
        named_types(ty[1], out)
    elif kind == "tuple":
        for t in ty[1]:
            named_types(t, out)
    elif ty not in out:
        out.append(ty)


class Param:
    def __init__(self, name, wit, ty, keyword_only):
        self.name, self.wit, self.ty, self.keyword_only = name, wit, ty, keyword_only


class Func:
    def __init__(self, name, wit, doc, params, result, stream, line):
        self.name, self.wit, self.doc = name, wit, doc
        self.params, self.result, self.stream, self.line = params, result, stream, line

    @property
    def resource(self):
        return f"{self.wit}-stream"


class Record:
    def __init__(self, name, wit, doc, fields, line):
        # fields: [(python name, wit name, type, doc)]
        self.name, self.wit, self.doc, self.fields, self.line = name, wit, doc, fields, line


class EnumDef:
    def __init__(self, name, wit, doc, cases, line):
        # cases: [(python name, wit name, doc)]
        self.name, self.wit, self.doc, self.cases, self.line = name, wit, doc, cases, line


class Module:
    """What the tool read from a plugin's source."""

    def __init__(self, name, path):
        self.name = name  # the Python module name, e.g. `app`
        self.path = path
        self.wit = kebab(name)  # package `warden-plugin:app`, stream interface `app`
        self.doc = None
        self.funcs = []
        self.records = {}  # PyName → Record, only those the nodes use
        self.enums = {}
        self.uses = set()  # of CAPABILITIES

    @property
    def world(self):
        # A world and an interface may not share a name within a package,
        # and the stream interface is named after the module.
        return f"{self.wit}-plugin"

    @property
    def package(self):
        return f"warden-plugin:{self.wit}"

    def scope_types(self, stream):
        """The records and enums the world's (stream=False) or the stream
        interface's (stream=True) functions use, dependencies first."""
        found = []
        for f in self.funcs:
            if f.stream != stream:
                continue
            for p in f.params:
                named_types(p.ty, found)
            if f.result is not None:
                named_types(f.result, found)
        ordered = []

        def visit(ty):
            if ty in ordered:
                return
            if ty[0] == "record":
                deps = []
                for _, _, fty, _ in self.records[ty[1]].fields:
                    named_types(fty, deps)
                for dep in deps:
                    visit(dep)
            ordered.append(ty)

        for ty in found:
            visit(ty)
        return ordered


# ---------------------------------------------------------------------------
# Reading the source


def _doc(node):
    text = ast.get_docstring(node, clean=True)
    return text.strip() if text else None


def _string_after(body, index):
    """The docstring-like string literal right after statement `index`."""
    if index + 1 < len(body):
        nxt = body[index + 1]
        if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
            return inspect.cleandoc(nxt.value.value).strip() or None
    return None


def _dotted(node):
    """`a.b.c` of a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _yields(fn):
    """Whether `fn`'s own body (not nested functions) yields."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


class Reader:
    """Turns one module's AST into a `Module`, collecting every problem."""

    def __init__(self, source, path, module_name=None):
        self.path = path
        self.display = os.path.relpath(path) if os.path.isabs(path) else path
        name = module_name or os.path.splitext(os.path.basename(path))[0]
        self.problems = []
        self.module = Module(name, path)
        try:
            self.tree = ast.parse(source, filename=path)
        except SyntaxError as e:
            raise BuildError([(self.display, e.lineno, f"syntax error: {e.msg}")]) from None
        self.imported = {}  # local name → (module, name) or (module, None) for `import m`
        self.classes = {}  # name → ClassDef
        self.aliases = {}  # name → value expression of a top-level assignment
        self.funcs = {}  # name → FunctionDef
        self.resolving = []  # records being resolved, to find cycles

    def problem(self, node, message):
        self.problems.append((self.display, getattr(node, "lineno", None), message))

    # -- the module's top level

    def read(self):
        m = self.module
        if not m.name.isidentifier():
            raise BuildError([(self.display, None, f"the module name `{m.name}` is not a Python identifier; rename the file (e.g. `{re.sub(r'[^0-9A-Za-z_]', '_', m.name)}.py`)")])
        if keyword.iskeyword(m.name) or m.name in RESERVED_MODULES or m.name.startswith("componentize_py"):
            raise BuildError([(self.display, None, f"the module name `{m.name}` is used by the component itself; rename the file")])
        if m.wit is None:
            raise BuildError([(self.display, None, f"the module name `{m.name}` has no WIT spelling (ASCII letters and digits, starting with a letter); rename the file")])
        m.doc = _doc(self.tree)
        for stmt in self.tree.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
                for alias in stmt.names:
                    self.imported[alias.asname or alias.name] = (stmt.module, alias.name)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        self.imported[alias.asname] = (alias.name, None)
                    else:
                        top = alias.name.split(".")[0]
                        self.imported[top] = (top, None)
            elif isinstance(stmt, ast.ClassDef):
                self.classes[stmt.name] = stmt
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.funcs[stmt.name] = stmt
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.aliases[stmt.targets[0].id] = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                self.aliases[stmt.target.id] = stmt.value
        m.uses = capabilities_used(self.tree)

        decorated = [f for f in self.funcs.values() if any(self.is_node_decorator(d) for d in f.decorator_list)]
        if decorated:
            nodes = decorated
        else:
            nodes = [f for f in self.funcs.values() if not f.name.startswith("_")]
        if not nodes:
            raise BuildError([(self.display, None, "no nodes: mark the functions callers may call with `@node` (from warden_guest import node), or define public top-level functions")])
        for fn in sorted(nodes, key=lambda f: f.lineno):
            self.read_function(fn, explicit=bool(decorated))
        self.check_names()
        if self.problems:
            unique = []
            for p in self.problems:
                if p not in unique:
                    unique.append(p)
            raise BuildError(unique)
        return m

    def is_node_decorator(self, dec):
        if isinstance(dec, ast.Call):
            dec = dec.func
        dotted = _dotted(dec)
        if dotted is None:
            return False
        if "." in dotted:
            base, attr = dotted.rsplit(".", 1)
            return attr == "node" and self.imported.get(base.split(".")[0], (None,))[0] == "warden_guest"
        return self.imported.get(dotted) == ("warden_guest", "node")

    # -- functions

    def read_function(self, fn, explicit):
        where = f"function `{fn.name}`"
        hint_nodes = "" if explicit else " (or, if it is a helper, not a node: start its name with `_`, or mark the nodes with @node)"
        if isinstance(fn, ast.AsyncFunctionDef):
            self.problem(fn, f"{where} is `async`; nodes are plain functions (use `def`){hint_nodes}")
            return
        wit = kebab(fn.name)
        if wit is None:
            self.problem(fn, f"{where}: the name has no WIT spelling (ASCII letters and digits, words separated by `_`); rename it")
            return
        args = fn.args
        if args.vararg is not None:
            self.problem(fn, f"{where}, parameter `*{args.vararg.arg}`: nodes take a fixed list of parameters; use a `list[T]` parameter instead")
        if args.kwarg is not None:
            self.problem(fn, f"{where}, parameter `**{args.kwarg.arg}`: nodes take a fixed list of parameters; name each one, or take a @dataclass")
        params = []
        seen = {}
        all_args = [(a, False) for a in args.posonlyargs + args.args] + [(a, True) for a in args.kwonlyargs]
        for arg, keyword_only in all_args:
            pwhere = f"{where}, parameter `{arg.arg}`"
            pwit = kebab(arg.arg)
            if pwit is None:
                self.problem(arg, f"{pwhere}: the name has no WIT spelling (ASCII letters and digits, words separated by `_`); rename it")
                continue
            if pwit in seen:
                self.problem(arg, f"{pwhere}: `{arg.arg}` and `{seen[pwit]}` are both `{pwit}` in WIT; rename one")
                continue
            seen[pwit] = arg.arg
            if arg.annotation is None:
                self.problem(arg, f"{pwhere} has no type hint; add one, e.g. `{arg.arg}: int` (supported: {SUPPORTED}){hint_nodes}")
                continue
            try:
                ty = self.hint(arg.annotation)
            except HintError as e:
                self.problem(e.node or arg, f"{pwhere}: {e}")
                continue
            if ty is None:
                self.problem(arg, f"{pwhere}: `None` is not a parameter type; remove the parameter or use Optional[T]")
                continue
            params.append(Param(arg.arg, pwit, ty, keyword_only))
        yields = _yields(fn)
        rwhere = f"{where}, return type"
        if fn.returns is None:
            if yields:
                self.problem(fn, f"{where} has no return type hint; a generator is a stream node: add `-> Iterator[T]` (from typing import Iterator){hint_nodes}")
            else:
                self.problem(fn, f"{where} has no return type hint; add `-> None` if it returns nothing, or the type it returns, e.g. `-> int`{hint_nodes}")
            return
        stream = False
        try:
            item = self.iterator_item(fn.returns)
            if item is not None:
                stream = True
                result = self.hint(item)
                if result is None:
                    raise HintError("a stream's items cannot be `None`; yield values of a supported type", item)
            else:
                result = self.hint(fn.returns)
                if yields:
                    shown = _unparse(fn.returns)
                    raise HintError(f"`{fn.name}` is a generator (it yields) but is declared `-> {shown}`; declare `-> Iterator[{shown}]` to make it a stream node", fn.returns)
        except HintError as e:
            self.problem(e.node or fn.returns, f"{rwhere}: {e}")
            return
        self.module.funcs.append(Func(fn.name, wit, _doc(fn), params, result, stream, fn.lineno))

    def iterator_item(self, node):
        """T of `Iterator[T]`, `Iterable[T]`, `Generator[T, ...]`, else None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node = self.parse_string_hint(node)
        if isinstance(node, ast.Subscript):
            base = self.name_of(node.value)
            if base in ITERATOR_NAMES:
                args = self.subscript_args(node)
                return args[0]
            if base in ("AsyncIterator", "AsyncIterable", "AsyncGenerator"):
                raise HintError(f"`{base}` is not supported: nodes are not async; use Iterator[T] with a plain generator", node)
        elif self.name_of(node) in ITERATOR_NAMES:
            raise HintError(f"`{self.name_of(node)}` needs its item type, e.g. `Iterator[int]`", node)
        return None

    # -- hints

    def name_of(self, node):
        """The name a hint refers to, with imports and `typing.` resolved:
        `List`, `typing.List` and `t.List` are all `List`."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        if "." in dotted:
            return dotted.rsplit(".", 1)[1]
        origin = self.imported.get(dotted)
        if origin and origin[1]:
            return origin[1]
        return dotted

    def is_warden_name(self, node):
        dotted = _dotted(node)
        if dotted is None:
            return False
        if "." in dotted:
            base = dotted.split(".")[0]
            return self.imported.get(base, (None,))[0] == "warden_guest"
        origin = self.imported.get(dotted)
        return bool(origin) and origin[0] == "warden_guest"

    def subscript_args(self, node):
        sl = node.slice  # Python 3.9+: the expression itself
        return list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]

    def parse_string_hint(self, node):
        try:
            parsed = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            raise HintError(f"the hint {node.value!r} is not a valid expression", node) from None
        for n in ast.walk(parsed):  # errors point at the string's line
            if hasattr(n, "lineno"):
                n.lineno = node.lineno
        return parsed

    def hint(self, node, depth=0):
        """The type a hint describes, or None for `None`. Raises HintError."""
        if depth > 50:
            raise HintError("the hint is nested too deeply (is an alias defined in terms of itself?)", node)
        if isinstance(node, ast.Constant):
            if node.value is None:
                return None
            if isinstance(node.value, str):
                return self.hint(self.parse_string_hint(node), depth + 1)
            raise HintError(f"`{node.value!r}` is not a type; use {SUPPORTED}", node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            members = []

            def flatten(n):
                if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
                    flatten(n.left)
                    flatten(n.right)
                else:
                    members.append(n)

            flatten(node)
            return self.union(members, node, depth)
        if isinstance(node, ast.Subscript):
            return self.generic(node, depth)
        name = self.name_of(node)
        if name is None:
            raise HintError(f"`{_unparse(node)}` is not a type hint this tool can read; use {SUPPORTED}", node)
        if name in SIZED and self.is_warden_name(node):
            return name
        if name in PRIMITIVES and ("." not in (_dotted(node) or "") or (_dotted(node) or "").startswith("builtins.")):
            return PRIMITIVES[name]
        if name == "None":
            return None
        if name in self.classes and "." not in _dotted(node):
            return self.class_type(self.classes[name], node)
        if name in LIST_NAMES or name in TUPLE_NAMES:
            example = "list[int]" if name in LIST_NAMES else "tuple[int, str]"
            raise HintError(f"`{name}` needs its element type{'s' if name in TUPLE_NAMES else ''}, e.g. `{example}`", node)
        if name in ("dict", "Dict", "Mapping", "MutableMapping", "OrderedDict", "defaultdict"):
            raise HintError(f"`{name}` is not supported (WIT has no maps); use a @dataclass with typed fields for structured values, or list[tuple[str, V]] for key/value pairs", node)
        if name in ("set", "Set", "frozenset", "FrozenSet", "AbstractSet"):
            raise HintError(f"`{name}` is not supported; use list[T]", node)
        if name in ("Any", "object"):
            raise HintError(f"`{name}` cannot be described to callers; use a concrete type: {SUPPORTED}", node)
        if name in ("complex", "Decimal", "Fraction"):
            raise HintError(f"`{name}` is not supported; use float, or str for exact decimals", node)
        if name in ("bytearray", "memoryview"):
            raise HintError(f"`{name}` is not supported as a hint; use bytes", node)
        if name in ("Optional", "Union"):
            raise HintError(f"`{name}` needs its type, e.g. `Optional[int]`", node)
        if name in ("Callable", "type", "Type"):
            raise HintError(f"`{name}` cannot be sent to or from a node; use {SUPPORTED}", node)
        if name in SIZED:
            raise HintError(f"`{name}` is a WIT type name; import it from warden_guest (`from warden_guest import {name}`) to use it as a hint", node)
        if name in self.aliases and "." not in _dotted(node):
            return self.hint(self.aliases[name], depth + 1)
        if name in self.imported and not self.imported[name][1]:
            raise HintError(f"`{name}` is a module, not a type", node)
        origin = self.imported.get(name if "." not in _dotted(node) else _dotted(node).split(".")[0])
        if origin and "." not in _dotted(node):
            raise HintError(f"`{name}` is imported from `{origin[0]}`; records and enums must be a @dataclass or Enum defined in {os.path.basename(self.path)} (this tool reads only that file); otherwise use {SUPPORTED}", node)
        raise HintError(f"`{_dotted(node)}` is not a type this tool knows; use {SUPPORTED}", node)

    def union(self, members, node, depth):
        nones = [m for m in members if (isinstance(m, ast.Constant) and m.value is None) or self.name_of(m) == "None"]
        others = [m for m in members if m not in nones]
        if nones and len(others) == 1:
            inner = self.hint(others[0], depth + 1)
            if inner is None:
                raise HintError("`Optional[None]` is not a type", node)
            if isinstance(inner, tuple) and inner[0] == "option":
                raise HintError("a nested Optional cannot be told apart from a single one; use Optional[T] once (or a @dataclass holding an Optional field)", node)
            return ("option", inner)
        raise HintError(f"`{_unparse(node)}`: unions other than `T | None` (Optional[T]) are not supported; use a @dataclass with Optional fields, or one type", node)

    def generic(self, node, depth):
        base = self.name_of(node.value)
        args = self.subscript_args(node)
        if base in LIST_NAMES:
            if len(args) != 1:
                raise HintError(f"`{base}` takes one element type, e.g. `list[int]`", node)
            inner = self.hint(args[0], depth + 1)
            if inner is None:
                raise HintError("a list of `None` is not supported", node)
            return ("list", inner)
        if base == "Optional":
            return self.union([args[0], ast.Constant(value=None)], node, depth)
        if base == "Union":
            return self.union(args, node, depth)
        if base in TUPLE_NAMES:
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                raise HintError(f"`{_unparse(node)}` has no fixed length; use list[{_unparse(args[0])}]", node)
            if len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts:
                raise HintError("an empty tuple is not supported; return None instead", node)
            items = []
            for a in args:
                t = self.hint(a, depth + 1)
                if t is None:
                    raise HintError("`None` cannot be a tuple element; use Optional[T]", a)
                items.append(t)
            return ("tuple", tuple(items))
        if base == "Annotated":
            return self.hint(args[0], depth + 1)
        if base in ITERATOR_NAMES:
            raise HintError(f"`{base}[...]` is only supported as a function's return type (a stream node); use list[T] here", node)
        if base in ("dict", "Dict", "Mapping", "MutableMapping", "OrderedDict", "DefaultDict", "defaultdict"):
            raise HintError(f"`{base}` is not supported (WIT has no maps); use a @dataclass with typed fields for structured values, or list[tuple[str, V]] for key/value pairs", node)
        if base in ("set", "Set", "frozenset", "FrozenSet", "AbstractSet"):
            raise HintError(f"`{base}` is not supported; use list[T]", node)
        if base == "Literal":
            raise HintError("`Literal` is not supported; use an Enum", node)
        if base in ("Callable", "type", "Type"):
            raise HintError(f"`{base}` cannot be sent to or from a node; use {SUPPORTED}", node)
        raise HintError(f"`{_unparse(node)}` is not supported; use {SUPPORTED}", node)

    # -- classes

    def class_type(self, cls, use):
        if cls.name in self.module.records:
            return ("record", cls.name)
        if cls.name in self.module.enums:
            return ("enum", cls.name)
        bases = [self.name_of(b) for b in cls.bases]
        if any(b in FLAG_BASES for b in bases):
            raise HintError(f"`{cls.name}` is a Flag enum, which is not supported; use a plain Enum, or a list of Enum values", use)
        if any(b in ENUM_BASES for b in bases):
            return self.enum_type(cls, use)
        if self.is_dataclass(cls):
            return self.record_type(cls, use)
        raise HintError(f"`{cls.name}` is a class but neither a @dataclass nor an Enum; decorate it with @dataclass (fields with type hints) to pass it as a record", use)

    def is_dataclass(self, cls):
        for dec in cls.decorator_list:
            if isinstance(dec, ast.Call):
                dec = dec.func
            if self.name_of(dec) == "dataclass":
                return True
        return False

    def enum_type(self, cls, use):
        wit = kebab(cls.name)
        if wit is None:
            raise HintError(f"enum `{cls.name}`: the name has no WIT spelling; rename it", use)
        cases = []
        seen = {}
        for i, stmt in enumerate(cls.body):
            targets = []
            if isinstance(stmt, ast.Assign):
                targets = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                targets = [stmt.target.id]
            for name in targets:
                if name.startswith("_"):
                    continue
                cwit = kebab(name)
                if cwit is None:
                    raise HintError(f"enum `{cls.name}`, case `{name}`: the name has no WIT spelling; rename it", stmt)
                if cwit in seen:
                    raise HintError(f"enum `{cls.name}`: cases `{seen[cwit]}` and `{name}` are both `{cwit}` in WIT; rename one", stmt)
                seen[cwit] = name
                cases.append((name, cwit, _string_after(cls.body, i)))
        if not cases:
            raise HintError(f"enum `{cls.name}` has no cases", use)
        self.module.enums[cls.name] = EnumDef(cls.name, wit, _doc(cls), cases, cls.lineno)
        return ("enum", cls.name)

    def record_type(self, cls, use):
        wit = kebab(cls.name)
        if wit is None:
            raise HintError(f"dataclass `{cls.name}`: the name has no WIT spelling; rename it", use)
        if cls.name in self.resolving:
            chain = " → ".join(self.resolving[self.resolving.index(cls.name):] + [cls.name])
            raise HintError(f"dataclass `{cls.name}` contains itself ({chain}); WIT records cannot be recursive: use a list of records with indices instead", use)
        self.resolving.append(cls.name)
        try:
            fields = []
            for base in cls.bases:
                bname = self.name_of(base)
                if bname in self.classes and self.is_dataclass(self.classes[bname]):
                    self.class_type(self.classes[bname], use)
                    fields.extend(self.module.records[bname].fields)
            seen = {f[1]: f[0] for f in fields}
            for i, stmt in enumerate(cls.body):
                if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                    continue
                name = stmt.target.id
                ann = stmt.annotation
                ann_name = self.name_of(ann.value if isinstance(ann, ast.Subscript) else ann)
                if ann_name in ("ClassVar", "InitVar"):
                    continue
                fwhere = f"dataclass `{cls.name}`, field `{name}`"
                fwit = kebab(name)
                if fwit is None:
                    raise HintError(f"{fwhere}: the name has no WIT spelling (ASCII letters and digits, words separated by `_`); rename it", stmt)
                if fwit in seen and seen[fwit] != name:
                    raise HintError(f"{fwhere}: `{name}` and `{seen[fwit]}` are both `{fwit}` in WIT; rename one", stmt)
                try:
                    fty = self.hint(ann)
                except HintError as e:
                    if str(e).startswith("dataclass `") or str(e).startswith("enum `"):
                        raise
                    raise HintError(f"{fwhere}: {e}", e.node) from None
                if fty is None:
                    raise HintError(f"{fwhere}: `None` is not a field type; use Optional[T]", stmt)
                fields = [f for f in fields if f[0] != name]
                seen[fwit] = name
                fields.append((name, fwit, fty, _string_after(cls.body, i)))
            if not fields:
                raise HintError(f"dataclass `{cls.name}` has no fields; WIT records need at least one", use)
        finally:
            self.resolving.pop()
        self.module.records[cls.name] = Record(cls.name, wit, _doc(cls), fields, cls.lineno)
        return ("record", cls.name)

    # -- names in each scope

    def check_names(self):
        m = self.module
        world = {}
        iface = {}

        def claim(scope, wit, what, line):
            if wit in scope:
                other, other_line = scope[wit]
                self.problems.append((self.display, line, f"{what} and {other} (line {other_line}) are both `{wit}` in WIT; rename one"))
            else:
                scope[wit] = (what, line)

        streams = [f for f in m.funcs if f.stream]
        if streams:
            claim(world, m.wit, f"the stream interface `{m.wit}` (named after the module)", 1)
        for f in m.funcs:
            scope = iface if f.stream else world
            claim(scope, f.wit, f"function `{f.name}`", f.line)
            if f.stream:
                claim(scope, f.resource, f"the stream resource of `{f.name}`", f.line)
        for stream, scope in ((False, world), (True, iface)):
            for ty in m.scope_types(stream):
                d = m.records[ty[1]] if ty[0] == "record" else m.enums[ty[1]]
                kind = "dataclass" if ty[0] == "record" else "enum"
                claim(scope, d.wit, f"{kind} `{d.name}`", d.line)


def _unparse(node):
    try:
        return ast.unparse(node)
    except Exception:  # Python < 3.9 or an odd node
        return type(node).__name__


def capabilities_used(tree):
    """Which of kv, blobs, invoke a module takes from warden_guest:
    `from warden_guest import kv` or `warden_guest.kv` (any alias)."""
    used = set()
    module_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "warden_guest":
            used.update(a.name for a in node.names if a.name in CAPABILITIES)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "warden_guest":
                    module_aliases.add(a.asname or a.name)
    if module_aliases:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in CAPABILITIES:
                if isinstance(node.value, ast.Name) and node.value.id in module_aliases:
                    used.add(node.attr)
    return used


def local_modules(tree, directory):
    """Modules of `directory` that `tree` imports (`import helper`, `from helper import x`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
    out = []
    for name in sorted(names):
        for candidate in (os.path.join(directory, name + ".py"), os.path.join(directory, name, "__init__.py")):
            if os.path.isfile(candidate):
                out.append(candidate)
    return out


def read_module(path):
    """Reads the plugin module at `path`. Raises BuildError."""
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except OSError as e:
        raise BuildError([(path, None, f"cannot read the file: {e.strerror}")]) from None
    except UnicodeDecodeError:
        raise BuildError([(path, None, "the file is not UTF-8 text")]) from None
    module = Reader(source, path).read()
    # Capabilities used by local modules the plugin imports count too.
    directory = os.path.dirname(os.path.abspath(path))
    seen = {os.path.abspath(path)}
    pending = local_modules(ast.parse(source), directory)
    while pending:
        other = os.path.abspath(pending.pop())
        if other in seen:
            continue
        seen.add(other)
        try:
            with open(other, encoding="utf-8") as f:
                tree = ast.parse(f.read(), filename=other)
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue  # componentize-py reports it when it imports the module
        module.uses |= capabilities_used(tree)
        pending.extend(local_modules(tree, os.path.dirname(other)))
    return module


# ---------------------------------------------------------------------------
# WIT


def _docs(text, indent):
    if not text:
        return []
    return [f"{indent}///{(' ' + line) if line.strip() else ''}".rstrip() for line in text.splitlines()]


def _type_defs(module, stream, indent):
    lines = []
    for ty in module.scope_types(stream):
        if lines:
            lines.append("")
        if ty[0] == "record":
            r = module.records[ty[1]]
            lines += _docs(r.doc, indent)
            lines.append(f"{indent}record {wit_ident(r.wit)} {{")
            for _, fwit, fty, fdoc in r.fields:
                lines += _docs(fdoc, indent + "    ")
                lines.append(f"{indent}    {wit_ident(fwit)}: {render(fty, module)},")
            lines.append(f"{indent}}}")
        else:
            e = module.enums[ty[1]]
            lines += _docs(e.doc, indent)
            lines.append(f"{indent}enum {wit_ident(e.wit)} {{")
            for _, cwit, cdoc in e.cases:
                lines += _docs(cdoc, indent + "    ")
                lines.append(f"{indent}    {wit_ident(cwit)},")
            lines.append(f"{indent}}}")
    return lines


def _signature(module, f):
    params = ", ".join(f"{wit_ident(p.wit)}: {render(p.ty, module)}" for p in f.params)
    if f.stream:
        return f"func({params}) -> {wit_ident(f.resource)}"
    ok = "_" if f.result is None else render(f.result, module)
    return f"func({params}) -> result<{ok}, string>"


def render_wit(module, imports=None):
    """The plugin's WIT. `imports` (e.g. {"log", "progress"}) adds
    `import warden:node/...` lines to the world; without it the text
    describes only the exports and parses on its own."""
    lines = [f"package {module.package};", ""]
    streams = [f for f in module.funcs if f.stream]
    if streams:
        lines.append(f"/// The stream nodes of `{os.path.basename(module.path)}`: each returns a resource the host pulls items from.")
        lines.append(f"interface {wit_ident(module.wit)} {{")
        body = _type_defs(module, True, "    ")
        for f in streams:
            if body:
                body.append("")
            item = render(f.result, module)
            body.append(f"    /// The items of `{f.wit}`, pulled one at a time.")
            body.append(f"    resource {wit_ident(f.resource)} {{")
            body.append("        /// The next item, or `none` at the end; an exception in the generator is the error.")
            body.append(f"        next: func() -> result<option<{item}>, string>;")
            body.append("    }")
            body.append("")
            body += _docs(f.doc, "    ")
            body.append(f"    {wit_ident(f.wit)}: {_signature(module, f)};")
        lines += body
        lines.append("}")
        lines.append("")
    lines += _docs(module.doc, "")
    lines.append(f"world {wit_ident(module.world)} {{")
    body = []
    for name in sorted(imports or ()):
        body.append(f"    import {WARDEN_NODE}/{name}@{WARDEN_VERSION};")
    defs = _type_defs(module, False, "    ")
    if defs:
        if body:
            body.append("")
        body += defs
    for f in module.funcs:
        if f.stream:
            continue
        if body:
            body.append("")
        body += _docs(f.doc, "    ")
        body.append(f"    export {wit_ident(f.wit)}: {_signature(module, f)};")
    if streams:
        if body:
            body.append("")
        body.append(f"    export {wit_ident(module.wit)};")
    lines += body
    lines.append("}")
    return "\n".join(lines) + "\n"


def imports_of(module):
    return {"log", "progress"} | set(module.uses)


# ---------------------------------------------------------------------------
# Glue


def render_glue(module):
    """The module componentize-py builds: implements the generated
    `WitWorld` (and the stream interface) by calling the plugin's functions."""
    imports = imports_of(module)
    streams = [f for f in module.funcs if f.stream]
    out = [
        f'"""Generated by warden_py.py from {os.path.basename(module.path)}; do not edit."""',
        "",
        "import wit_world",
        "from componentize_py_types import Err, Some",
        "from warden_guest import _glue",
    ]
    host_names = sorted(imports)
    for name in host_names:
        out.append(f"from wit_world.imports import {name} as _{name}")
    args = ", ".join(f"{n}=_{n}" for n in host_names)
    out.append(f"_glue.install_host(Err, Some, {args})")
    out.append(f"import {module.name} as _user")
    if streams:
        out.append(f"from wit_world.exports import {snake(module.wit)} as _iface")
        out.append("import wit_world.exports")
    out.append("")

    def scope(var, generated, stream):
        records, enums = {}, {}
        for ty in module.scope_types(stream):
            if ty[0] == "record":
                r = module.records[ty[1]]
                records[r.name] = (camel(r.wit), [(f[0], f[2]) for f in r.fields])
            else:
                e = module.enums[ty[1]]
                enums[e.name] = (camel(e.wit), [c[0] for c in e.cases])
        out.append(f"{var} = _glue.Scope(_user, {generated}, {records!r}, {enums!r})")

    scope("_world", "wit_world", False)
    if streams:
        scope("_stream", "_iface", True)
    out.append("")
    for i, f in enumerate(module.funcs):
        params = [(p.name, p.ty, p.keyword_only) for p in f.params]
        if f.stream:
            out.append(f"_f{i} = _glue.stream_node(_user.{f.name}, _stream, {f.name!r}, {params!r}, {f.result!r})")
        else:
            out.append(f"_f{i} = _glue.call_node(_user.{f.name}, _world, {f.name!r}, {params!r}, {f.result!r})")
    out.append("")
    out.append("")
    out.append("class WitWorld(wit_world.WitWorld):")
    plain = [(i, f) for i, f in enumerate(module.funcs) if not f.stream]
    for i, f in plain:
        out.append(f"    def {snake(f.wit)}(self, *args):")
        out.append(f"        return _f{i}(args)")
        out.append("")
    if not plain:
        out.append("    pass")
        out.append("")
    if streams:
        out.append("")
        out.append(f"class {camel(module.wit)}(wit_world.exports.{camel(module.wit)}):")
        for i, f in enumerate(module.funcs):
            if f.stream:
                out.append(f"    def {snake(f.wit)}(self, *args):")
                out.append(f"        return _f{i}(args)")
                out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------
# The component


def leb128(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def custom_section(name, payload):
    """A custom section (id 0): valid anywhere in a module or component."""
    name_bytes = name.encode("utf-8")
    body = leb128(len(name_bytes)) + name_bytes + payload
    return b"\x00" + leb128(len(body)) + body


def wit_section_payload(module):
    doc = {"version": 1, "world": module.world, "wit": render_wit(module)}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def find_componentize_py():
    found = shutil.which("componentize-py")
    if not found:
        raise BuildError([("componentize-py", None, "not found on PATH; install it with `pip install componentize-py`")])
    return found


def _clean_tool_output(text):
    """componentize-py's error output without its own Python traceback (its
    message is an AssertionError) and its Rust stack backtrace."""
    kept = []
    for line in text.splitlines():
        if line.strip() == "Stack backtrace:":
            break
        kept.append(line)
    text = "\n".join(kept).strip()
    marker = "AssertionError: "
    if text.startswith("Traceback") and marker in text:
        text = text.split(marker, 1)[1].strip()
        # The last line of an error is repeated under "Caused by:".
        head, sep, cause = text.partition("\n\nCaused by:")
        if sep and cause.strip() and cause.strip() in head:
            text = head.strip()
    return text


def build(path, output, work_dir=None, warden_wit=None, quiet=False):
    """Builds the plugin at `path` into `output`. Raises BuildError."""
    started = time.monotonic()
    module = read_module(path)
    warden_wit = warden_wit or os.environ.get("WARDEN_WIT") or DEFAULT_WARDEN_WIT
    if not os.path.isfile(warden_wit):
        raise BuildError([(warden_wit, None, "the warden:node WIT (wit/node.wit of the Warden repository) is not there; pass --warden-wit PATH")])
    tool = find_componentize_py()
    temp = None
    if work_dir:
        os.makedirs(work_dir, exist_ok=True)
        root = os.path.abspath(work_dir)
        for stale in ("wit", "py"):
            shutil.rmtree(os.path.join(root, stale), ignore_errors=True)
    else:
        temp = tempfile.mkdtemp(prefix="warden-py-")
        root = temp
    try:
        wit_dir = os.path.join(root, "wit")
        os.makedirs(os.path.join(wit_dir, "deps", "warden-node"))
        shutil.copy(warden_wit, os.path.join(wit_dir, "deps", "warden-node", "node.wit"))
        with open(os.path.join(wit_dir, "plugin.wit"), "w", encoding="utf-8") as f:
            f.write(render_wit(module, imports_of(module)))
        py_dir = os.path.join(root, "py")
        os.makedirs(py_dir)
        shutil.copytree(GUEST_PACKAGE, os.path.join(py_dir, "warden_guest"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        with open(os.path.join(py_dir, "warden_glue.py"), "w", encoding="utf-8") as f:
            f.write(render_glue(module))
        user_dir = os.path.dirname(os.path.abspath(path))
        out_abs = os.path.abspath(output)
        os.makedirs(os.path.dirname(out_abs) or ".", exist_ok=True)
        partial = out_abs + ".partial"
        command = [tool, "-d", wit_dir, "-w", module.world, "componentize", "warden_glue",
                   "-p", py_dir, "-p", user_dir, "-o", partial]
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            if os.path.exists(partial):
                os.remove(partial)
            detail = _clean_tool_output(run.stderr or run.stdout)
            hint = ""
            if f"/{module.name}.py" in detail:
                hint = f" (it imports {os.path.basename(path)} at build time)"
            raise BuildError([(path, None, f"componentize-py failed{hint}:\n{detail}")])
        with open(partial, "ab") as f:
            f.write(custom_section(CUSTOM_SECTION, wit_section_payload(module)))
        os.replace(partial, out_abs)
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    if not quiet:
        size = os.path.getsize(output)
        nodes = []
        for f in module.funcs:
            nodes.append(f"{module.wit}/{f.wit} (stream)" if f.stream else f.wit)
        imports = ", ".join(f"{WARDEN_NODE}/{n}" for n in sorted(imports_of(module)))
        print(f"built {output} ({size / 1e6:.1f} MB, {time.monotonic() - started:.1f} s): "
              f"nodes {', '.join(nodes)}; imports {imports}", file=sys.stderr)
    return module


# ---------------------------------------------------------------------------
# Command line


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="warden_py.py",
        description="Build a Warden plugin (a wasm32-wasip2 component) from a Python module.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    b = sub.add_parser("build", help="build FILE.py into a component",
                       description="Build FILE.py into a component (componentize-py must be on PATH).")
    b.add_argument("file", metavar="FILE.py")
    b.add_argument("-o", "--output", metavar="OUT.wasm", help="where to write the component (default: MODULE.wasm here)")
    b.add_argument("--wit", action="store_true", help="print the WIT callers see and exit without building")
    b.add_argument("--work-dir", metavar="DIR", help="write the generated WIT and glue here and keep them (default: a temporary directory)")
    b.add_argument("--warden-wit", metavar="PATH", help=f"the warden:node WIT file (default: {os.path.relpath(DEFAULT_WARDEN_WIT)})")
    args = parser.parse_args(argv)
    try:
        if args.wit:
            sys.stdout.write(render_wit(read_module(args.file)))
            return 0
        output = args.output or os.path.splitext(os.path.basename(args.file))[0] + ".wasm"
        build(args.file, output, work_dir=args.work_dir, warden_wit=args.warden_wit)
        return 0
    except BuildError as e:
        for problem in e.problems:
            print(format_problem(problem), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
