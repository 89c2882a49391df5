"""Tests of warden_py.py (hints → WIT, errors, the custom section) and of the
warden_guest runtime outside a component.

    python3 -m unittest discover -s guest-py/tests      # from the repository root
"""

import contextlib
import dataclasses
import enum
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_PY = os.path.dirname(HERE)
sys.path.insert(0, GUEST_PY)

import warden_guest  # noqa: E402
import warden_py  # noqa: E402
from warden_guest import _glue, msgpack  # noqa: E402


def read(source, name="app"):
    """The Module the tool reads from `source` (dedented, after HEAD), as file NAME.py."""
    if source.startswith(HEAD):
        source = HEAD + textwrap.dedent(source[len(HEAD):])
    else:
        source = textwrap.dedent(source)
    return warden_py.Reader(source, f"{name}.py").read()


def wit(source, name="app", imports=None):
    return warden_py.render_wit(read(source, name), imports)


def problems(source, name="app"):
    """The error lines the tool prints for `source`."""
    with unittest.TestCase().assertRaises(warden_py.BuildError) as caught:
        warden_py.Reader(source, f"{name}.py").read()
    return [warden_py.format_problem(p) for p in caught.exception.problems]


HEAD = """\
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Iterator, Iterable, Generator, List, Optional, Tuple, Union
from warden_guest import node
"""


class HintsToWit(unittest.TestCase):
    def signature(self, hints, result):
        params = ", ".join(f"p{i}: {h}" for i, h in enumerate(hints))
        text = wit(HEAD + f"@node\ndef f({params}) -> {result}:\n    ...\n")
        line = [x for x in text.splitlines() if "export f:" in x]
        self.assertEqual(len(line), 1, text)
        return line[0].strip()

    def assertMaps(self, hint, wit_type):
        self.assertEqual(
            self.signature([hint], hint),
            f"export f: func(p0: {wit_type}) -> result<{wit_type}, string>;",
            hint,
        )

    def test_primitives(self):
        for hint, wit_type in [("int", "s64"), ("float", "f64"), ("str", "string"),
                               ("bool", "bool"), ("bytes", "list<u8>")]:
            self.assertMaps(hint, wit_type)

    def test_lists_options_and_tuples(self):
        self.assertMaps("list[int]", "list<s64>")
        self.assertMaps("List[str]", "list<string>")
        self.assertMaps("list[list[bytes]]", "list<list<list<u8>>>")
        self.assertMaps("Optional[int]", "option<s64>")
        self.assertMaps("int | None", "option<s64>")
        self.assertMaps("None | str", "option<string>")
        self.assertMaps("Union[float, None]", "option<f64>")
        self.assertMaps("list[Optional[bool]]", "list<option<bool>>")
        self.assertMaps("tuple[int, str]", "tuple<s64, string>")
        self.assertMaps("Tuple[float, list[int], bool]", "tuple<f64, list<s64>, bool>")
        self.assertMaps("'list[int]'", "list<s64>")

    def test_typing_module_forms_and_aliases(self):
        text = wit("""\
            import typing
            import typing as t
            Vector = list[float]
            def f(a: typing.List[int], b: t.Optional[str], c: Vector) -> typing.Tuple[int, int]:
                ...
        """)
        self.assertIn("export f: func(a: list<s64>, b: option<string>, c: list<f64>) "
                      "-> result<tuple<s64, s64>, string>;", text)

    def test_none_result_and_no_parameters(self):
        self.assertEqual(self.signature([], "None"), "export f: func() -> result<_, string>;")

    def test_sized_numbers_from_warden_guest(self):
        text = wit("""\
            import warden_guest as wg
            from warden_guest import u8, s32, f32, char
            def f(a: u8, b: s32, c: wg.u64, d: f32, e: char) -> wg.u16:
                ...
        """)
        self.assertIn("export f: func(a: u8, b: s32, c: u64, d: f32, e: char) -> result<u16, string>;", text)

    def test_dataclasses_become_records_with_docs(self):
        text = wit(HEAD + '''
            @dataclass
            class Point:
                """A point on the plane.

                Second paragraph."""
                x: float
                "Distance from the left."
                y: float
                label: Optional[str] = None

            @dataclass(frozen=True)
            class Segment:
                start: Point
                end: Point

            @node
            def f(s: Segment) -> Point:
                ...
        ''')
        self.assertIn(textwrap.indent(textwrap.dedent("""\
            /// A point on the plane.
            ///
            /// Second paragraph.
            record point {
                /// Distance from the left.
                x: f64,
                y: f64,
                label: option<string>,
            }

            record segment {
                start: point,
                end: point,
            }
            """), "    "), text)
        self.assertIn("export f: func(s: segment) -> result<point, string>;", text)

    def test_dataclass_fields_of_a_base_dataclass_come_first(self):
        text = wit(HEAD + """
            @dataclass
            class Base:
                a: int
            @dataclass
            class Child(Base):
                b: str
            def f(c: Child) -> None:
                ...
        """)
        self.assertIn("record child {\n        a: s64,\n        b: string,\n    }", text)

    def test_enums_with_kebab_cases_and_docs(self):
        text = wit(HEAD + '''
            class Color(str, Enum):
                """Colors."""
                RED = "r"
                DARK_GREEN = "g"
                "Darker."
                _ignore_ = ["X"]
            def f(c: Color) -> list[Color]:
                ...
        ''')
        self.assertIn("    /// Colors.\n    enum color {\n        red,\n        /// Darker.\n"
                      "        dark-green,\n    }", text)
        self.assertIn("export f: func(c: color) -> result<list<color>, string>;", text)

    def test_generators_are_streams_in_an_interface_named_after_the_module(self):
        text = wit(HEAD + '''
            @dataclass
            class Point:
                x: float
            @node
            def plain(p: Point) -> Point:
                """Plain."""
            @node
            def numbers(n: int) -> Iterator[int]:
                """Numbers."""
                yield n
            @node
            def points(n: int) -> Generator[Point, None, None]:
                yield Point(1.0)
            @node
            def listed(n: int) -> Iterable[str]:
                return ["a"]
        ''', name="my_plugin")
        self.assertTrue(text.startswith("package warden-plugin:my-plugin;\n"), text)
        interface = text[text.index("interface my-plugin {"):text.index("\n}\n") + 3]
        world = text[text.index("world my-plugin-plugin {"):]
        self.assertIn("resource numbers-stream {", interface)
        self.assertIn("next: func() -> result<option<s64>, string>;", interface)
        self.assertIn("    /// Numbers.\n    numbers: func(n: s64) -> numbers-stream;", interface)
        self.assertIn("next: func() -> result<option<point>, string>;", interface)
        self.assertIn("listed: func(n: s64) -> listed-stream;", interface)
        # The record is defined in each scope that uses it.
        self.assertIn("record point {", interface)
        self.assertIn("record point {", world)
        self.assertIn("/// Plain.\n    export plain: func(p: point) -> result<point, string>;", world)
        self.assertIn("export my-plugin;", world)
        self.assertNotIn("numbers", world)

    def test_names_are_kebab_case_and_keywords_escaped(self):
        self.assertEqual(warden_py.kebab("delay_ms"), "delay-ms")
        self.assertEqual(warden_py.kebab("HTTPStatus"), "http-status")
        self.assertEqual(warden_py.kebab("getX"), "get-x")
        self.assertEqual(warden_py.kebab("x_1"), "x1")
        self.assertEqual(warden_py.kebab("from_"), "from")
        self.assertIsNone(warden_py.kebab("größe"))
        text = wit("""\
            def list_(type: str, from_: int) -> None:
                ...
        """)
        self.assertIn("export %list: func(%type: string, %from: s64) -> result<_, string>;", text)
        self.assertEqual(warden_py.snake("from"), "from_")
        self.assertEqual(warden_py.camel("count-stream"), "CountStream")

    def test_only_marked_functions_are_nodes_when_any_is_marked(self):
        module = read("""\
            import warden_guest
            from warden_guest import node
            @node
            def a() -> None: ...
            @warden_guest.node()
            def b() -> None: ...
            def helper(x): ...
        """)
        self.assertEqual([f.name for f in module.funcs], ["a", "b"])

    def test_without_marks_every_public_function_is_a_node(self):
        module = read("""\
            def a() -> None: ...
            def _private(x): ...
        """)
        self.assertEqual([f.name for f in module.funcs], ["a"])

    def test_module_docstring_documents_the_world(self):
        text = wit('"""My plugin.\n\nDoes things."""\ndef a() -> None: ...\n')
        self.assertIn("/// My plugin.\n///\n/// Does things.\nworld app-plugin {", text)

    def test_unused_classes_are_not_checked(self):
        text = wit(HEAD + """
            @dataclass
            class Internal:
                cache: dict
            def f() -> int: ...
        """)
        self.assertNotIn("internal", text)


class Capabilities(unittest.TestCase):
    def imports(self, source):
        module = read(source)
        return sorted(warden_py.imports_of(module))

    def test_log_and_progress_always_others_only_when_used(self):
        self.assertEqual(self.imports("def f() -> None: ...\n"), ["log", "progress"])
        self.assertEqual(
            self.imports("from warden_guest import kv, log\ndef f() -> None: ...\n"),
            ["kv", "log", "progress"])
        self.assertEqual(
            self.imports("import warden_guest as wg\ndef f() -> None:\n    wg.blobs.put(b'')\n    wg.invoke\n"),
            ["blobs", "invoke", "log", "progress"])
        # A name that merely looks alike is not a use.
        self.assertEqual(
            self.imports("kv = {}\ndef f() -> None:\n    kv.get('x')\n"), ["log", "progress"])

    def test_the_world_imports_exactly_those(self):
        module = read("from warden_guest import kv\ndef f() -> None: ...\n")
        text = warden_py.render_wit(module, warden_py.imports_of(module))
        self.assertIn("    import warden:node/kv@0.1.0;\n    import warden:node/log@0.1.0;\n"
                      "    import warden:node/progress@0.1.0;\n", text)
        self.assertNotIn("import", warden_py.render_wit(module))

    def test_local_modules_the_plugin_imports_count(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "app.py"), "w") as f:
                f.write("import store\ndef f() -> None:\n    store.save()\n")
            with open(os.path.join(d, "store.py"), "w") as f:
                f.write("from warden_guest import kv\ndef save():\n    kv.set('k', b'v')\n")
            module = warden_py.read_module(os.path.join(d, "app.py"))
        self.assertEqual(module.uses, {"kv"})


class Errors(unittest.TestCase):
    def one(self, source, *needles, line=None):
        found = problems(HEAD + textwrap.dedent(source))
        self.assertEqual(len(found), 1, found)
        for needle in needles:
            self.assertIn(needle, found[0])
        if line is not None:
            self.assertTrue(found[0].startswith(f"app.py:{line + HEAD.count(chr(10))}: error: "), found[0])
        return found[0]

    def test_dict_names_function_parameter_and_the_alternative(self):
        self.one("""\
            @node
            def f(a: int, b: dict[str, int]) -> int:
                ...
        """, "function `f`, parameter `b`", "`dict` is not supported", "@dataclass", line=2)

    def test_missing_hints(self):
        self.one("def f(a) -> int: ...\n", "function `f`, parameter `a` has no type hint", "`a: int`",
                 "start its name with `_`", line=1)
        self.one("@node\ndef f(a: int):\n    return a\n", "function `f` has no return type hint", "`-> None`", line=2)
        self.one("@node\ndef f(a: int):\n    yield a\n", "`-> Iterator[T]`")

    def test_any_and_plain_classes(self):
        self.one("@node\ndef f(a: Any) -> int: ...\n", "parameter `a`", "`Any` cannot be described")
        self.one("""\
            class Plain:
                x: int
            @node
            def f() -> Plain: ...
        """, "function `f`, return type", "`Plain` is a class but neither a @dataclass nor an Enum",
                 "decorate it with @dataclass")

    def test_unsupported_shapes(self):
        self.one("@node\ndef f(*xs: int) -> int: ...\n", "parameter `*xs`", "list[T]")
        self.one("@node\ndef f(**kw: int) -> int: ...\n", "parameter `**kw`")
        self.one("@node\nasync def f() -> int: ...\n", "function `f` is `async`")
        self.one("@node\ndef f(a: Union[int, str]) -> int: ...\n", "unions other than `T | None`")
        self.one("@node\ndef f(a: Optional[Optional[int]]) -> int: ...\n", "nested Optional")
        self.one("@node\ndef f(a: tuple[int, ...]) -> int: ...\n", "use list[int]")
        self.one("@node\ndef f(a: list) -> int: ...\n", "needs its element type")
        self.one("@node\ndef f(a: Iterator[int]) -> int: ...\n", "only supported as a function's return type")
        self.one("@node\ndef f(a: set[int]) -> int: ...\n", "use list[T]")
        self.one("@node\ndef f(a: int) -> int:\n    yield a\n", "is a generator", "Iterator[int]")
        self.one("@node\ndef f() -> Iterator[None]: ...\n", "items cannot be `None`")

    def test_classes_that_cannot_be_records_or_enums(self):
        self.one("""\
            @dataclass
            class Node:
                children: list["Node"]
            @node
            def f(n: Node) -> None: ...
        """, "parameter `n`", "`Node` contains itself", "recursive")
        self.one("""\
            @dataclass
            class P:
                meta: Dict[str, str]
            @node
            def f(p: P) -> None: ...
        """, "function `f`, parameter `p`: dataclass `P`, field `meta`: `Dict` is not supported", line=3)
        self.one("""\
            from enum import Flag
            class Perm(Flag):
                R = 1
            @node
            def f(p: Perm) -> None: ...
        """, "Flag enum")
        self.one("""\
            from elsewhere import Thing
            @node
            def f(t: Thing) -> None: ...
        """, "imported from `elsewhere`", "defined in app.py")
        self.one("""\
            @dataclass
            class Empty:
                pass
            @node
            def f(e: Empty) -> None: ...
        """, "no fields")

    def test_name_clashes(self):
        self.one("""\
            @node
            def get_x() -> None: ...
            @node
            def getX() -> None: ...
        """, "function `getX` and function `get_x`", "both `get-x`")
        self.one("""\
            @dataclass
            class Point:
                x: int
            @node
            def point(p: Point) -> None: ...
        """, "`point`")
        self.one("@node\ndef f(a_b: int, aB: int) -> None: ...\n", "both `a-b`")

    def test_every_problem_is_reported_at_once(self):
        found = problems(HEAD + "def f(a) -> int: ...\ndef g(b: dict) -> int: ...\ndef h(c: int): ...\n")
        self.assertEqual(len(found), 3, found)
        self.assertEqual([p.split(":")[1] for p in found], ["5", "6", "7"])

    def test_module_level_problems(self):
        self.assertIn("no nodes", problems("x = 1\n")[0])
        self.assertIn("not a Python identifier", problems("def f() -> None: ...\n", name="my-app")[0])
        self.assertIn("used by the component itself", problems("def f() -> None: ...\n", name="wit_world")[0])
        self.assertIn("syntax error", problems("def f(:\n")[0])


class CommandLine(unittest.TestCase):
    def run_tool(self, source, *args):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.py")
            with open(path, "w") as f:
                f.write(textwrap.dedent(source))
            return subprocess.run(
                [sys.executable, os.path.join(GUEST_PY, "warden_py.py"), "build", "bad.py", *args],
                cwd=d, capture_output=True, text=True)

    def test_an_unsupported_hint_exits_1_with_file_line_and_no_traceback(self):
        for args in (["--wit"], ["-o", "out.wasm"]):
            run = self.run_tool("from warden_guest import node\n\n@node\ndef f(m: dict) -> int:\n    return 1\n", *args)
            self.assertEqual(run.returncode, 1, run.stderr)
            self.assertEqual(run.stdout, "")
            self.assertEqual(run.stderr.splitlines()[0],
                             "bad.py:4: error: function `f`, parameter `m`: `dict` is not supported (WIT has no maps); "
                             "use a @dataclass with typed fields for structured values, or list[tuple[str, V]] for "
                             "key/value pairs")
            self.assertNotIn("Traceback", run.stderr)

    def test_wit_prints_what_callers_see(self):
        run = self.run_tool("def hello(name: str) -> str:\n    'Greets.'\n    return name\n", "--wit")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("/// Greets.\n    export hello: func(name: string) -> result<string, string>;", run.stdout)

    def test_a_missing_file_is_an_error_not_a_traceback(self):
        run = subprocess.run([sys.executable, os.path.join(GUEST_PY, "warden_py.py"), "build", "/nonexistent/x.py", "--wit"],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 1)
        self.assertIn("/nonexistent/x.py: error: cannot read the file", run.stderr)
        self.assertNotIn("Traceback", run.stderr)


def _componentize_py_runs():
    try:
        return subprocess.run(["componentize-py", "--version"], capture_output=True).returncode == 0
    except OSError:
        return False


class ToolOutput(unittest.TestCase):
    def test_componentize_py_errors_keep_only_the_plugins_traceback(self):
        raw = textwrap.dedent("""\
            Traceback (most recent call last):
              File "/bin/componentize-py", line 8, in <module>
                sys.exit(script())
            AssertionError: Traceback (most recent call last):
              File "/1/app.py", line 1, in <module>
                import numpy
            ModuleNotFoundError: No module named 'numpy'


            Caused by:
                ModuleNotFoundError: No module named 'numpy'

            Stack backtrace:
               0: <anyhow::Error>::msg
            """)
        self.assertEqual(warden_py._clean_tool_output(raw), textwrap.dedent("""\
            Traceback (most recent call last):
              File "/1/app.py", line 1, in <module>
                import numpy
            ModuleNotFoundError: No module named 'numpy'"""))


class CustomSection(unittest.TestCase):
    def test_leb128(self):
        self.assertEqual(warden_py.leb128(0), b"\x00")
        self.assertEqual(warden_py.leb128(127), b"\x7f")
        self.assertEqual(warden_py.leb128(128), b"\x80\x01")
        self.assertEqual(warden_py.leb128(624485), b"\xe5\x8e\x26")

    def test_the_section_holds_the_json_and_reads_back(self):
        module = read('def add(a: int, b: int) -> int:\n    """Adds."""\n')
        payload = warden_py.wit_section_payload(module)
        section = warden_py.custom_section("warden:wit", payload)
        self.assertEqual(section[0], 0)
        size, pos = _leb(section, 1)
        self.assertEqual(size, len(section) - pos)
        name_len, pos = _leb(section, pos)
        self.assertEqual(section[pos:pos + name_len], b"warden:wit")
        doc = json.loads(section[pos + name_len:].decode("utf-8"))
        self.assertEqual(doc["version"], 1)
        self.assertEqual(doc["world"], "app-plugin")
        self.assertIn("/// Adds.\n    export add: func(a: s64, b: s64) -> result<s64, string>;", doc["wit"])
        self.assertNotIn("warden:node", doc["wit"])

    @unittest.skipUnless(_componentize_py_runs(), "componentize-py is not installed")
    def test_the_wit_parses_standalone_and_with_its_imports(self):
        module = warden_py.read_module(os.path.join(GUEST_PY, "..", "tests", "plugins-py", "zoo", "app.py"))
        for imports in (None, warden_py.imports_of(module)):
            with tempfile.TemporaryDirectory() as d:
                os.makedirs(os.path.join(d, "wit"))
                with open(os.path.join(d, "wit", "plugin.wit"), "w") as f:
                    f.write(warden_py.render_wit(module, imports))
                if imports:
                    os.makedirs(os.path.join(d, "wit", "deps", "node"))
                    shutil.copy(warden_py.DEFAULT_WARDEN_WIT, os.path.join(d, "wit", "deps", "node"))
                run = subprocess.run(["componentize-py", "-d", os.path.join(d, "wit"), "-w", module.world,
                                      "bindings", os.path.join(d, "out")], capture_output=True, text=True)
                self.assertEqual(run.returncode, 0, run.stderr[:2000])

    def test_the_glue_is_valid_python(self):
        module = warden_py.read_module(os.path.join(GUEST_PY, "..", "tests", "plugins-py", "zoo", "app.py"))
        compile(warden_py.render_glue(module), "warden_glue.py", "exec")


def _leb(data, pos):
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


# -- the runtime, outside a component and with stand-in bindings


class OutsideAComponent(unittest.TestCase):
    def test_node_is_an_identity_decorator(self):
        def f():
            return 1
        self.assertIs(warden_guest.node(f), f)
        self.assertIs(warden_guest.node()(f), f)

    def test_log_and_progress_print_to_stderr(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            warden_guest.log("hello")
            warden_guest.log.debug("details")
            warden_guest.log.warning("careful")
            warden_guest.progress(0.25, "a quarter")
        self.assertEqual(err.getvalue(), "[info] hello\n[debug] details\n[warn] careful\n[progress 25%] a quarter\n")
        with self.assertRaises(ValueError):
            warden_guest.log("x", level="loud")

    def test_capabilities_raise_a_clear_error(self):
        for call, grant in [(lambda: warden_guest.kv.get("k"), "kv"),
                            (lambda: warden_guest.blobs.put(b"x"), "blobs"),
                            (lambda: warden_guest.invoke.call("m/n", b"\x90"), "invoke")]:
            with self.assertRaises(RuntimeError) as caught:
                call()
            self.assertIn("only inside a Warden component", str(caught.exception))
            self.assertIn(f"`{grant}` grant", str(caught.exception))

    def test_star_import_does_not_bring_capabilities(self):
        namespace = {}
        exec("from warden_guest import *", namespace)
        self.assertIn("node", namespace)
        self.assertNotIn("kv", namespace)


class MsgPack(unittest.TestCase):
    def test_round_trips(self):
        for value in [None, True, False, 0, 1, 127, 128, -1, -32, -33, 255, 256, 65536, 2**32, 2**64 - 1,
                      -(2**63), 1.5, "", "é" * 40, "x" * 70000, b"", b"\x00" * 300, [], [1, [2, [3]]],
                      list(range(20)), {"a": 1, "b": [True, None]}, {str(i): i for i in range(20)}]:
            self.assertEqual(msgpack.unpackb(msgpack.packb(value)), value, repr(value)[:50])

    def test_known_encodings(self):
        self.assertEqual(msgpack.packb([1, 2]), b"\x92\x01\x02")
        self.assertEqual(msgpack.packb({"a": -1}), b"\x81\xa1a\xff")
        self.assertEqual(msgpack.unpackb(b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), 1.5)
        with self.assertRaises(ValueError):
            msgpack.unpackb(b"\x92\x01")
        with self.assertRaises(TypeError):
            msgpack.packb(object())


@dataclasses.dataclass
class UserPoint:
    x: float
    y: float


class UserColor(enum.Enum):
    RED = "red"
    DARK_GREEN = "dg"


@dataclasses.dataclass
class UserSeg:
    start: UserPoint
    color: UserColor
    label: object


@dataclasses.dataclass
class GenPoint:
    x: float
    y: float


class GenColor(enum.Enum):
    RED = 0
    DARK_GREEN = 1


@dataclasses.dataclass
class GenSeg:
    start: GenPoint
    color: GenColor
    label: object


class FakeErr(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


class FakeSome:
    def __init__(self, value):
        self.value = value


class Glue(unittest.TestCase):
    """The converters and wrappers the generated glue uses, against stand-ins
    for componentize-py's generated classes."""

    SEG = ("record", "UserSeg")

    def setUp(self):
        user = types.SimpleNamespace(__name__="app", UserPoint=UserPoint, UserColor=UserColor, UserSeg=UserSeg)
        generated = types.SimpleNamespace(__name__="wit_world", GenPoint=GenPoint, GenColor=GenColor, GenSeg=GenSeg)
        self.scope = _glue.Scope(
            user, generated,
            {"UserPoint": ("GenPoint", [("x", "f64"), ("y", "f64")]),
             "UserSeg": ("GenSeg", [("start", ("record", "UserPoint")), ("color", ("enum", "UserColor")),
                                    ("label", ("option", "string"))])},
            {"UserColor": ("GenColor", ["RED", "DARK_GREEN"])})
        self.saved = warden_guest._host
        _glue.install_host(FakeErr, FakeSome, log=None, progress=None)

    def tearDown(self):
        warden_guest._host = self.saved

    def test_records_and_enums_convert_both_ways(self):
        user = UserSeg(UserPoint(1, 2.5), UserColor.DARK_GREEN, None)
        gen = self.scope.to_wit(self.SEG, user, "r")
        self.assertEqual(gen, GenSeg(GenPoint(1.0, 2.5), GenColor.DARK_GREEN, None))
        self.assertIsInstance(gen.start.x, float)
        self.assertEqual(self.scope.to_user(self.SEG, gen), user)
        # An Enum's value stands for its member.
        self.assertEqual(self.scope.to_wit(("enum", "UserColor"), "dg", "r"), GenColor.DARK_GREEN)

    def test_containers(self):
        ty = ("list", ("tuple", ("bytes", ("option", "s32"))))
        self.assertEqual(self.scope.to_wit(ty, [(bytearray(b"a"), None), [b"b", 3]], "r"), [(b"a", None), (b"b", 3)])
        self.assertEqual(self.scope.to_user(("list", ("enum", "UserColor")), [GenColor.RED]), [UserColor.RED])

    def test_values_that_do_not_fit_say_where(self):
        cases = [
            ("u8", 256, ValueError, "r is 256, out of range for u8 (0 to 255)"),
            ("s64", 2**63, ValueError, "out of range for s64"),
            ("s64", "1", TypeError, "r is str '1', where an int (s64) is expected"),
            ("string", 1, TypeError, "where a str is expected"),
            ("bool", 1, TypeError, "where a bool is expected"),
            ("char", "ab", TypeError, "char"),
            (("list", "s64"), "abc", TypeError, "where a list is expected"),
            (("list", "s64"), [1, None], TypeError, "r[1] is NoneType"),
            (("tuple", ("s64", "s64")), (1,), TypeError, "a tuple of 2"),
            (self.SEG, UserSeg(UserPoint("x", 1), UserColor.RED, None), TypeError, "r.start.x is str"),
            (("enum", "UserColor"), "purple", TypeError, "where a UserColor is expected"),
        ]
        for ty, value, error, needle in cases:
            with self.assertRaises(error, msg=repr(value)) as caught:
                self.scope.to_wit(ty, value, "r")
            self.assertIn(needle, str(caught.exception))

    def test_a_call_returns_the_converted_result(self):
        call = _glue.call_node(lambda p, *, k: UserPoint(p.x * k, p.y), self.scope, "f",
                               [("p", ("record", "UserPoint"), False), ("k", "s64", True)], ("record", "UserPoint"))
        self.assertEqual(call((GenPoint(1.5, 2.0), 2)), GenPoint(3.0, 2.0))

    def test_exceptions_become_the_error_value(self):
        def fails(n):
            return 1 // n

        call = _glue.call_node(fails, self.scope, "fails", [("n", "s64", False)], "s64")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(FakeErr) as caught:
            call((0,))
        self.assertEqual(caught.exception.value, "ZeroDivisionError: integer division or modulo by zero")
        self.assertIn("Traceback", err.getvalue())  # for the host's log

        def refuses():
            raise warden_guest.NodeError("no, thanks")

        with contextlib.redirect_stderr(io.StringIO()) as quiet, self.assertRaises(FakeErr) as caught:
            _glue.call_node(refuses, self.scope, "refuses", [], None)(())
        self.assertEqual(caught.exception.value, "no, thanks")
        self.assertEqual(quiet.getvalue(), "")

        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(FakeErr) as caught:
            _glue.call_node(lambda: "x", self.scope, "wrong", [], "s64")(())
        self.assertEqual(caught.exception.value,
                         "TypeError: the result of `wrong` is str 'x', where an int (s64) is expected")

    def test_a_stream_pulls_the_generator_lazily_and_ends_with_its_error(self):
        started = []

        def gen(n):
            started.append(n)
            yield from range(n)
            raise RuntimeError("out of numbers")

        stream = _glue.stream_node(gen, self.scope, "gen", [("n", "s64", False)], "s64")((2,))
        self.assertEqual(started, [], "nothing runs before the first next")
        self.assertEqual([stream.next(), stream.next()], [0, 1])
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(FakeErr) as caught:
            stream.next()
        self.assertEqual(caught.exception.value, "RuntimeError: out of numbers")
        self.assertIsNone(stream.next())

    def test_a_stream_of_options_wraps_each_item(self):
        stream = _glue.stream_node(lambda: iter([None, 2]), self.scope, "s", [], ("option", "s64"))(())
        first, second = stream.next(), stream.next()
        self.assertIsInstance(first, FakeSome)
        self.assertIsNone(first.value)
        self.assertEqual(second.value, 2)
        self.assertIsNone(stream.next())

    def test_a_bad_item_ends_the_stream_with_an_error(self):
        stream = _glue.stream_node(lambda: iter([1, "two"]), self.scope, "s", [], "s64")(())
        self.assertEqual(stream.next(), 1)
        with self.assertRaises(FakeErr) as caught:
            stream.next()
        self.assertEqual(caught.exception.value,
                         "TypeError: item 1 of `s` is str 'two', where an int (s64) is expected")


if __name__ == "__main__":
    unittest.main()
