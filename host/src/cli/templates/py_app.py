"""The `__NAME__` plugin: each function marked `@node` is a node callers reach
as `__NAME__/FUNCTION` (snake_case becomes kebab-case); its type hints are the
node's signature and its docstring the node's docs.

Build and check it with `warden build`, serve it while you edit with
`warden dev`.
"""

from warden_guest import node


@node
def hello(name: str) -> str:
    """Says hello to `name`."""
    return f"Hello, {name}!"


@node
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b
