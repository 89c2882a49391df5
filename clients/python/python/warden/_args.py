"""Python arguments → the wire's argument list.

Positional arguments go as an array in order, keyword arguments as a map
by parameter name (`delay_ms=` is the WIT parameter `delay-ms`). Mixing
both needs the node's parameter names, which the clients take from
`describe` (once per node)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple


def wire_name(keyword: str) -> str:
    """A keyword argument's WIT name: WIT names are kebab-case, so `_`
    can only stand for `-`."""
    return keyword.replace("_", "-")


def needs_params(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> bool:
    """Whether building these arguments needs the node's parameter names."""
    return bool(args) and bool(kwargs)


def build(
    node: str,
    args: Tuple[Any, ...],
    kwargs: Dict[str, Any],
    params: Optional[Sequence[str]] = None,
) -> Any:
    """The wire form of `node(*args, **kwargs)`; `params` (the node's
    parameter names in order) is needed only when both are given."""
    if not kwargs:
        return args
    named = {wire_name(k): v for k, v in kwargs.items()}
    if not args:
        return named
    if params is None:
        raise TypeError(f"`{node}`: positional and keyword arguments need the node's parameters")
    if len(args) > len(params):
        raise TypeError(
            f"`{node}` takes {len(params)} argument(s) ({', '.join(params)}), {len(args)} given by position"
        )
    out: Dict[str, Any] = dict(zip(params, args))
    for name, value in named.items():
        if name in out:
            raise TypeError(f"`{node}`: argument `{name}` given by position and by name")
        out[name] = value
    return out
