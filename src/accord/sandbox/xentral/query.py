"""List queries of the legacy REST API: simple filters, complex filters, sorting and paging.

As in OpenXE's ``AbstractResource::getList``:

* simple filters are query parameters registered per resource (``email_equals=…``), each
  a SQL comparison (``%LIKE%`` contains, ``LIKE`` equals, ``LIKE%`` starts with, ``=``);
* complex filters: ``filter[0][property]=logdatei&filter[0][expression]=gte&filter[0][value]=…``
  (expressions ``eq not lt lte gt gte like not_like``, default ``LIKE``; ``filter[i][operation]``
  ``AND``/``OR`` chains them as SQL would, AND binding tighter);
* ``sort=name,-id`` (or the old ``name:asc|id:desc``) over the registered sort fields;
* ``page`` (1–1000, default 1) and ``items`` (1–1000, default 20) page through the result,
  answered with a ``pagination`` object; an empty result is a 404 (OpenXE's quirk).

Text compares case-insensitively, as MySQL's default collation does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from accord.sandbox.xentral.store import CODE_INVALID_ARGUMENT, ApiError, not_found

RESERVED = {"sort", "page", "items", "filter", "include"}
Row = Mapping[str, Any]


def _like(pattern: str) -> re.Pattern[str]:
    out = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{out}$", re.IGNORECASE | re.DOTALL)


def _num(v: Any) -> Decimal | None:
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None


def _cmp(a: Any, b: Any, numeric: bool) -> int:
    if numeric:
        x, y = _num(a), _num(b)
        if x is not None and y is not None:
            return (x > y) - (x < y)
    s, t = str(a).casefold(), str(b).casefold()
    return (s > t) - (s < t)


@dataclass(frozen=True)
class Resource:
    """What one list endpoint accepts: simple filters (param → (column, op)) and sort fields."""

    filters: Mapping[str, tuple[str, str]]
    sortable: frozenset[str]
    numeric: frozenset[str] = frozenset({"id"})
    extra: Mapping[str, Callable[[Row, str], bool]] = field(default_factory=dict)  # param → predicate

    def test(self, op: str, value: Any, wanted: str, numeric: bool) -> bool:
        v = "" if value is None else str(value)
        if op == "contains":
            return wanted.casefold() in v.casefold()
        if op == "like":
            return bool(_like(wanted).match(v))
        if op == "startswith":
            return v.casefold().startswith(wanted.casefold())
        if op == "endswith":
            return v.casefold().endswith(wanted.casefold())
        if op == "=":
            return _cmp(v, wanted, numeric) == 0
        raise AssertionError(op)


_EXPRESSIONS = {"eq": "=", "not": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "like": "like",
                "not_like": "not_like"}


def _complex(params: Mapping[str, Any]) -> list[dict[str, str]]:
    """``filter[0][property]=x`` query keys → ``[{property: x, …}]`` in index order."""
    items: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        m = re.fullmatch(r"filter\[(\d+)\]\[(\w+)\]", key)
        if m:
            items.setdefault(int(m.group(1)), {})[m.group(2)] = str(value)
    return [items[i] for i in sorted(items)]


def _complex_match(row: Row, conds: Sequence[dict[str, str]], numeric: frozenset[str]) -> bool:
    groups: list[list[bool]] = [[]]
    for i, c in enumerate(conds):
        prop, value = c.get("property", ""), c.get("value", "")
        if prop not in row:
            raise ApiError(400, CODE_INVALID_ARGUMENT, f"Filter property '{prop}' is not valid.")
        expr = _EXPRESSIONS.get(c.get("expression", "").lower(), "like")
        cell = row[prop]
        cell = "" if cell is None or isinstance(cell, list | dict) else str(cell)
        if expr in ("like", "not_like"):
            hit = bool(_like(value).match(cell))
            hit = hit if expr == "like" else not hit
        else:
            d = _cmp(cell, value, prop in numeric)
            hit = {"=": d == 0, "!=": d != 0, "<": d < 0, "<=": d <= 0, ">": d > 0, ">=": d >= 0}[expr]
        if i > 0 and c.get("operation", "AND").upper() == "OR":
            groups.append([])
        groups[-1].append(hit)
    return any(all(g) for g in groups if g)


def _sorting(raw: str | None, res: Resource) -> list[tuple[str, bool]]:
    if not raw:
        return []
    out: list[tuple[str, bool]] = []
    if "|" in raw or ":" in raw:  # the old syntax: name:desc|id:asc
        for part in raw.split("|"):
            fname, _, order = part.partition(":")
            if order and order.lower() not in ("asc", "desc"):
                raise ApiError(400, CODE_INVALID_ARGUMENT, f'Sorting order "{order}" is not valid. Use "asc" or "desc".')
            out.append((fname, order.lower() == "desc"))
    else:
        for part in raw.split(","):
            out.append((part[1:], True) if part.startswith("-") else (part, False))
    for fname, _ in out:
        if not fname:
            raise ApiError(400, CODE_INVALID_ARGUMENT, "Sorting parameter can not be empty")
        if fname not in res.sortable:
            raise ApiError(400, CODE_INVALID_ARGUMENT, f"Sorting by '{fname}' is not available.")
    return out


def _int_param(params: Mapping[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    try:
        v = int(str(raw)) if raw not in (None, "") else default
    except ValueError:
        v = default
    return v if 0 < v <= 1000 else default  # OpenXE falls back to the default silently


def _sort_key(fname: str, numeric: bool) -> Callable[[Row], Any]:
    if numeric:
        return lambda r: _num(r.get(fname)) or Decimal(0)
    return lambda r: str(r.get(fname) or "").casefold()


def run_list(rows: Sequence[Row], params: Mapping[str, Any], res: Resource) -> dict[str, Any]:
    """Filter, sort and page ``rows`` (wire dicts) as ``GET /v1/<resource>`` does."""
    simple: list[tuple[str, str, str]] = []
    extra: list[tuple[Callable[[Row, str], bool], str]] = []
    for key, value in params.items():
        if key in RESERVED or key.startswith("filter["):
            continue
        if key in res.filters:
            col, op = res.filters[key]
            simple.append((col, op, str(value)))
        elif key in res.extra:
            extra.append((res.extra[key], str(value)))
        else:
            raise ApiError(400, CODE_INVALID_ARGUMENT, f"Filter '{key}' is not available.")
    conds = _complex(params)
    out = [r for r in rows
           if all(res.test(op, r.get(col), v, col in res.numeric) for col, op, v in simple)
           and all(pred(r, v) for pred, v in extra)
           and (not conds or _complex_match(r, conds, res.numeric))]
    for fname, desc in reversed(_sorting(params.get("sort"), res)):
        out.sort(key=_sort_key(fname, fname in res.numeric), reverse=desc)
    page, items = _int_param(params, "page", 1), _int_param(params, "items", 20)
    chunk = out[(page - 1) * items: page * items]
    if not chunk:
        raise not_found()
    return {"data": list(chunk), "pagination": {
        "items_per_page": items, "items_current": len(chunk), "items_total": len(out), "page_current": page,
        "page_last": math.ceil(len(out) / items)}}
