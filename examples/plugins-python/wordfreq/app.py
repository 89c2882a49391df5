"""Word frequencies: counts the words of a text, and keeps a running tally
across calls in the plugin's key-value store (its manifest, wordfreq.toml,
grants `kv = true`).

Each function marked `@node` is a node: `wordfreq/top`, `wordfreq/summarize`,
`wordfreq/tally`, ...; the generator `words` is the stream node
`wordfreq/app/words`. Type hints are the signatures, docstrings the docs.
"""

import re
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Iterator, Optional

from warden_guest import NodeError, kv, log, node, progress

# Words: letters and digits, with inner apostrophes and hyphens ("don't", "x-ray").
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
# The key-value store keeps one key per word seen: `seen/WORD` -> its count.
PREFIX = "seen/"


@dataclass
class WordCount:
    """A word and how many times it occurs."""

    word: str
    "The word, lower-cased."
    count: int
    "How many times it occurs."


class Order(Enum):
    """How `top` sorts its words."""

    MOST_FREQUENT = "most-frequent"
    "Most frequent first; ties in alphabetical order."
    ALPHABETICAL = "alphabetical"
    "In alphabetical order."
    LONGEST = "longest"
    "Longest first; ties in alphabetical order."


@dataclass
class Summary:
    """What a text is made of."""

    words: int
    "How many words it has."
    distinct: int
    "How many different words (ignoring case)."
    longest: Optional[str]
    "Its longest word, or nothing when it has no words."
    top: list[WordCount]
    "Its three most frequent words."


def _words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def _sorted(counts: Counter, order: Order) -> list[WordCount]:
    if order is Order.ALPHABETICAL:
        items = sorted(counts.items())
    elif order is Order.LONGEST:
        items = sorted(counts.items(), key=lambda wc: (-len(wc[0]), wc[0]))
    else:
        items = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
    return [WordCount(word, count) for word, count in items]


@node
def top(text: str, n: int, order: Optional[Order]) -> list[WordCount]:
    """The `n` first words of `text` with their counts, sorted by `order`
    (most frequent first when it is nothing)."""
    if n < 0:
        raise NodeError(f"n must not be negative, not {n}")
    counts = Counter(_words(text))
    return _sorted(counts, order or Order.MOST_FREQUENT)[:n]


@node
def summarize(text: str) -> Summary:
    """How many words `text` has, how many different ones, its longest word and
    its three most frequent words."""
    words = _words(text)
    counts = Counter(words)
    longest = max(words, key=len) if words else None
    return Summary(
        words=len(words),
        distinct=len(counts),
        longest=longest,
        top=_sorted(counts, Order.MOST_FREQUENT)[:3],
    )


@node
def words(text: str) -> Iterator[str]:
    """The words of `text`, lower-cased, one stream item each, as they are found."""
    found = _words(text)
    for i, word in enumerate(found):
        progress((i + 1) / len(found), word)
        yield word


def _key(word: str) -> str:
    # Keys may be up to 1 KiB; a longer "word" is counted by its first 200 characters.
    return PREFIX + word[:200]


def _count(word: str) -> int:
    value = kv.get(_key(word))
    return 0 if value is None else int(value)


@node
def tally(text: str) -> int:
    """Adds the words of `text` to the running tally kept between calls; how
    many words the tally has counted in all."""
    counts = Counter(_words(text))
    for word, count in counts.items():
        kv.set(_key(word), str(_count(word) + count).encode())
    total = _count("") + sum(counts.values())
    # The total lives under the empty word, `seen/`.
    kv.set(_key(""), str(total).encode())
    log.info(f"tallied {sum(counts.values())} words, {total} in all")
    return total


@node
def seen(word: str) -> int:
    """How many times `word` (in any case) has been tallied so far."""
    if not word:
        raise NodeError("which word? `word` is empty")
    return _count(word.lower())


@node
def leaders(n: int) -> list[WordCount]:
    """The `n` most tallied words so far, most frequent first."""
    counts = Counter()
    for key in kv.list_keys(PREFIX):
        word = key[len(PREFIX):]
        if word:
            counts[word] = int(kv.get(key) or b"0")
    return _sorted(counts, Order.MOST_FREQUENT)[: max(n, 0)]


@node
def reset() -> int:
    """Forgets the tally; how many different words it had."""
    keys = kv.list_keys(PREFIX)
    for key in keys:
        kv.delete(key)
    return len([k for k in keys if k != PREFIX])
