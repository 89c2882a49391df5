"""Every type hint warden_py.py supports, as nodes of one plugin.

Built by `python3 guest-py/warden_py.py build tests/plugins-py/zoo/app.py`;
tests/all/python_tool.rs calls each node over a real host.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Iterator, List, Optional, Tuple

from warden_guest import NodeError, log, node, progress, u8, u32


@dataclass
class Point:
    """A point on the plane."""

    x: float
    "Distance from the left."
    y: float


class Color(Enum):
    """What a segment is drawn with."""

    RED = "red"
    DARK_GREEN = "dark green"
    "Darker than green."
    BLUE = "blue"


@dataclass
class Segment:
    """A segment between two points: a dataclass inside a dataclass."""

    start: Point
    end: Point
    color: Color
    label: Optional[str]
    tags: List[str]


@node
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@node
def scale(p: Point, factor: float) -> Point:
    """Multiplies both coordinates by `factor`."""
    return Point(p.x * factor, p.y * factor)


@node
def reverse(seg: Segment) -> Segment:
    """The same segment, drawn the other way, in the next color.

    Its label gets ` (reversed)` appended, when it has one.
    """
    colors = list(Color)
    return Segment(
        start=seg.end,
        end=seg.start,
        color=colors[(colors.index(seg.color) + 1) % len(colors)],
        label=None if seg.label is None else seg.label + " (reversed)",
        tags=sorted(seg.tags),
    )


@node
def length(seg: "Segment") -> float:
    # A hint written as a string; no docstring, so no docs.
    dx = seg.end.x - seg.start.x
    dy = seg.end.y - seg.start.y
    return (dx * dx + dy * dy) ** 0.5


@node
def color_value(color: Color) -> str:
    """The Python value behind an Enum member the caller named by case."""
    return color.value


@node
def find(words: list[str], needle: str) -> Optional[int]:
    """Where `needle` is in `words`, or nothing."""
    return words.index(needle) if needle in words else None


@node
def shout(text: str | None, *, times: int) -> str | None:
    """Upper-cases `text` `times` times over; keyword-only parameters work too."""
    return None if text is None else " ".join([text.upper()] * times)


@node
def flip_bytes(data: bytes) -> bytes:
    """The bytes in reverse order."""
    return data[::-1]


@node
def div_mod(a: int, b: int) -> Tuple[int, int]:
    """Quotient and remainder; dividing by zero raises ZeroDivisionError."""
    return divmod(a, b)


@node
def stats(values: list[float]) -> tuple[float, float, bool]:
    """Smallest and largest value, and whether the list was sorted."""
    if not values:
        raise NodeError("no values")
    return min(values), max(values), values == sorted(values)


@node
def checked_byte(v: int) -> u8:
    """Returns `v` as a u8: out of range is an error, not a wrap."""
    return v


@node
def total_length(words: list[str]) -> u32:
    """The sum of the lengths of `words`."""
    return sum(len(w) for w in words)


@node
def note(text: str) -> None:
    """Logs `text` at three levels and reports progress; returns nothing."""
    log.debug(f"debug: {text}")
    progress(0.5, "half way")
    log(f"info: {text}")
    log.warn(f"warn: {text}")
    progress(1.0, "done")


@node
def count(n: int, delay_ms: int) -> Iterator[int]:
    """Streams 0, 1, … n-1, reporting progress; `delay-ms` is only named."""
    log(f"counting to {n}")
    for i in range(n):
        progress((i + 1) / n, f"item {i}")
        yield i


@node
def walk(n: int) -> Iterator[Point]:
    """Streams `n` points along the diagonal: records as stream items."""
    for i in range(n):
        yield Point(float(i), float(i))


@node
def sparse(n: int) -> Iterator[Optional[int]]:
    """Streams `n` items: the even numbers, nothing in between."""
    for i in range(n):
        yield i if i % 2 == 0 else None


@node
def countdown(n: int) -> Iterator[int]:
    """Streams n, n-1, …, 1, then fails: an error after the items."""
    for i in range(n, 0, -1):
        yield i
    raise RuntimeError("countdown reached zero")


def helper_without_hints(x):
    # Public but not marked @node: not a node (the module marks its nodes).
    return x
