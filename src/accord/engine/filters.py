"""Property filters: which records may *start* syncing (SPEC §2, Filters)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accord.engine.values import canon, is_blank
from accord.model import Value

if TYPE_CHECKING:
    from accord.config import FilterConfig


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: Any


def compile_filters(items: Sequence[FilterConfig]) -> tuple[Filter, ...]:
    return tuple(Filter(f.field, f.op, f.value) for f in items)


def _cmp_key(v: Value) -> tuple[int, Any]:
    """Numbers compare as numbers, everything else as case-folded text."""
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, int | float):
        return (0, v)
    try:
        return (0, float(str(v)))
    except ValueError:
        return (1, str(v).casefold())


def _eq(a: Value, b: Value) -> bool:
    return _cmp_key(a) == _cmp_key(b)


def matches(f: Filter, props: Mapping[str, Value]) -> bool:
    v = canon(props.get(f.field))
    op = f.op
    if op == "set":
        return not is_blank(v)
    if op == "not_set":
        return is_blank(v)
    if op in ("in", "not_in"):
        options = f.value if isinstance(f.value, list) else [f.value]
        values = v if isinstance(v, list) else [v]
        hit = v is not None and any(_eq(x, o) for x in values for o in options)
        return hit if op == "in" else not hit
    if op == "neq":
        return v is None or not _eq(v, f.value)
    if v is None:
        return False
    if op == "eq":
        return _eq(v, f.value)
    if op == "contains":
        return str(f.value).casefold() in str(v).casefold()
    a, b = _cmp_key(v), _cmp_key(f.value)
    if a[0] != b[0]:
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


def passes(filters: Sequence[Filter], props: Mapping[str, Value]) -> bool:
    """All filters of a side must match (they are ANDed)."""
    return all(matches(f, props) for f in filters)
