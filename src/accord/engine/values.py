"""Canonical values: blankness, type compatibility and coercion between field types."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from accord.model import FieldType, Value

T = FieldType


def is_blank(v: Value) -> bool:
    return v is None or v == "" or v == [] or (isinstance(v, str) and not v.strip())


def canon(v: Value) -> Value:
    """One representation per value: blanks become ``None``, integral floats become ints."""
    t = type(v)  # exact-type dispatch: this runs for every field of every record
    if t is str:
        return v if v and not v.isspace() else None
    if t is float:
        return int(v) if v.is_integer() else v
    if t is list:
        return v or None
    return v


def canon_fields(props: Mapping[str, Value], fields: Iterable[tuple[str, str]]) -> dict[str, Value]:
    """``{key: canon(props.get(field))}`` for each (field, key): ``canon`` inlined, since the
    planner runs this for every mapped field of every record it plans."""
    out: dict[str, Value] = {}
    get = props.get
    for f, k in fields:
        v: Any = get(f)
        t = type(v)
        if t is str:
            if not v or v.isspace():
                v = None
        elif t is float:
            if v.is_integer():
                v = int(v)
        elif t is list and not v:
            v = None
        out[k] = v
    return out


# Directions a pair of field types may flow in: (left type, right type) -> (to_right, to_left).
def compatible(lt: FieldType, rt: FieldType) -> tuple[bool, bool]:
    """Which directions a value may flow between two field types.

    Same kinds pair both ways; date and datetime pair both ways; anything may flow into a
    text field, but text never flows back into a typed field (it might not parse).
    """
    if lt == rt or {lt, rt} == {T.DATE, T.DATETIME}:
        return True, True
    return rt == T.TEXT, lt == T.TEXT


def _to_text(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ";".join(str(x) for x in v)
    return str(v)


def convert(v: Value, src: FieldType, dst: FieldType, value_map: dict[str, str] | None = None) -> Value:
    """Coerce a canonical value from ``src`` type to ``dst`` type; raises ValueError if impossible."""
    v = canon(v)
    if v is None:
        return None
    if value_map is not None and src == T.ENUM:
        if isinstance(v, list):
            return [value_map.get(str(x), str(x)) for x in v]
        return value_map.get(str(v), v)
    if src == dst:
        return v
    if dst == T.TEXT:
        return _to_text(v)
    if dst == T.DATE and src == T.DATETIME:
        return str(v)[:10]
    if dst == T.DATETIME and src == T.DATE:
        return f"{v}T00:00:00Z"
    if dst == T.NUMBER:
        f = float(str(v))
        return int(f) if f.is_integer() else f
    if dst == T.BOOL:
        s = str(v).strip().lower()
        if s in ("true", "yes", "1", "on"):
            return True
        if s in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"not a boolean: {v!r}")
    raise ValueError(f"cannot convert {src} to {dst}")


def parse_ts(v: str | None) -> datetime | None:
    """ISO timestamp → aware datetime (``None`` stays ``None``)."""
    if not v:
        return None
    s = v.replace("Z", "+00:00")
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        d = datetime.combine(date.fromisoformat(s[:10]), datetime.min.time())
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def iso(d: datetime) -> str:
    return d.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
