"""A SOQL subset: parse once, then filter and sort stored rows.

Supported: ``SELECT f, … | COUNT() FROM Type [WHERE …] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], …]
[LIMIT n] [OFFSET n]`` with ``= != <> < <= > >=``, ``IN``/``NOT IN``, ``LIKE``, ``AND``/``OR``/``NOT``
and parentheses. As in Salesforce, mixing AND and OR without parentheses is a
``MALFORMED_QUERY``, and a filter value must have the field's type (a quoted datetime is an
``INVALID_FIELD`` error) — both catch client bugs that would fail against a real org.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from accord.sandbox.salesforce.schema import SField, SObject, normalize_id, sobject


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*')
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE | re.DOTALL,
)

_KEYWORDS = {
    "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc",
    "nulls", "first", "last", "limit", "offset", "null", "true", "false", "count",
}


@dataclass(frozen=True)
class Tok:
    kind: str  # dt, date, num, str, op, punct, word, kw, end
    text: str
    value: Any = None


def parse_datetime(text: str) -> datetime:
    s = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", s):  # Salesforce's own +0000 form
        s = s[:-2] + ":" + s[-2:]
    return datetime.fromisoformat(s).astimezone(UTC)


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), s, flags=re.DOTALL)


def _tokens(q: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    q = q.rstrip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{q[pos:].split()[0]}'")
        pos = m.end()
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "dt":
            out.append(Tok("lit", text, parse_datetime(text)))
        elif kind == "date":
            out.append(Tok("lit", text, date.fromisoformat(text)))
        elif kind == "num":
            out.append(Tok("lit", text, float(text) if "." in text else int(text)))
        elif kind == "str":
            out.append(Tok("lit", text, _unescape(text[1:-1])))
        elif kind == "word" and text.lower() in _KEYWORDS:
            low = text.lower()
            if low in ("null", "true", "false"):
                out.append(Tok("lit", text, {"null": None, "true": True, "false": False}[low]))
            else:
                out.append(Tok("kw", low))
        else:
            out.append(Tok(kind, text))
    out.append(Tok("end", ""))
    return out


# Conditions are nested tuples: ("and"|"or", [c…]) | ("not", c) | ("cmp", field, op, value)
# | ("in", field, [values], negated) | ("like", field, regex)
Cond = tuple[Any, ...]


@dataclass
class Query:
    sobject: SObject
    fields: list[str] | None  # None for SELECT COUNT()
    where: Cond | None
    order: list[tuple[str, bool, bool]]  # (field, descending, nulls_last)
    limit: int | None
    offset: int


class _Parser:
    def __init__(self, q: str) -> None:
        self.toks = _tokens(q)
        self.i = 0
        self.obj: SObject | None = None

    def peek(self) -> Tok:
        return self.toks[self.i]

    def take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def kw(self, *words: str) -> bool:
        t = self.peek()
        if t.kind == "kw" and t.text in words:
            self.i += 1
            return True
        return False

    def expect_kw(self, word: str) -> None:
        if not self.kw(word):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.peek().text or '<end>'}'")

    def expect(self, text: str) -> None:
        if self.take().text != text:
            raise SoqlError("MALFORMED_QUERY", f"expecting '{text}'")

    def field(self, name: str) -> SField:
        assert self.obj is not None
        f = self.obj.field(name)
        if f is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{self.obj.name}'. If you are attempting to use a "
                "custom field, be sure to append the '__c' after the custom field name. Please reference "
                "your WSDL or the describe call for the appropriate names.",
            )
        return f

    def parse(self) -> Query:
        self.expect_kw("select")
        raw: list[str] = []
        count = self.kw("count")
        if count:
            self.expect("(")
            self.expect(")")
        else:
            while True:
                t = self.take()
                if t.kind not in ("word", "kw"):
                    raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{t.text}'")
                raw.append(t.text)
                if self.peek().text != ",":
                    break
                self.take()
        self.expect_kw("from")
        t = self.take()
        obj = sobject(t.text)
        if obj is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"sObject type '{t.text}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name.",
            )
        self.obj = obj
        fields: list[str] | None = None
        if not count:
            fields = []
            for name in raw:
                api = self.field(name).name
                if api in fields:
                    raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {api}")
                fields.append(api)
        where = self.expr() if self.kw("where") else None
        order: list[tuple[str, bool, bool]] = []
        if self.kw("order"):
            self.expect_kw("by")
            while True:
                f = self.field(self.take().text).name
                desc = self.kw("desc")
                if not desc:
                    self.kw("asc")
                nulls_last = desc
                if self.kw("nulls"):
                    nulls_last = self.kw("last")
                    if not nulls_last:
                        self.expect_kw("first")
                order.append((f, desc, nulls_last))
                if self.peek().text != ",":
                    break
                self.take()
        limit = self.int_clause("limit")
        offset = self.int_clause("offset") or 0
        if self.peek().kind != "end":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.peek().text}'")
        return Query(obj, fields, where, order, limit, offset)

    def int_clause(self, word: str) -> int | None:
        if not self.kw(word):
            return None
        t = self.take()
        if t.kind != "lit" or not isinstance(t.value, int) or t.value < 0:
            raise SoqlError("MALFORMED_QUERY", f"{word.upper()} must be a non-negative integer")
        return t.value

    def expr(self) -> Cond:
        first = self.factor()
        op: str | None = None
        items = [first]
        while self.peek().kind == "kw" and self.peek().text in ("and", "or"):
            this = self.take().text
            if op is not None and this != op:
                raise SoqlError("MALFORMED_QUERY", "unexpected token: '" + this.upper() + "' (use parentheses "
                                "when mixing AND and OR)")
            op = this
            items.append(self.factor())
        return (op, items) if op else first

    def factor(self) -> Cond:
        if self.kw("not"):
            return ("not", self.factor())
        if self.peek().text == "(":
            self.take()
            c = self.expr()
            self.expect(")")
            return c
        f = self.field(self.take().text)
        if self.kw("not"):
            self.expect_kw("in")
            return ("in", f.name, self.value_list(f), True)
        if self.kw("in"):
            return ("in", f.name, self.value_list(f), False)
        if self.kw("like"):
            t = self.take()
            if t.kind != "lit" or not isinstance(t.value, str):
                raise SoqlError("MALFORMED_QUERY", "LIKE needs a quoted string")
            pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in t.value)
            return ("like", f.name, re.compile(f"^{pattern}$", re.IGNORECASE | re.DOTALL))
        op = self.take()
        if op.kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{op.text}'")
        return ("cmp", f.name, "!=" if op.text == "<>" else op.text, self.value(f, op.text))

    def value_list(self, f: SField) -> list[Any]:
        self.expect("(")
        values = [self.value(f, "=")]
        while self.peek().text == ",":
            self.take()
            values.append(self.value(f, "="))
        self.expect(")")
        return values

    def value(self, f: SField, op: str) -> Any:
        t = self.take()
        if t.kind != "lit":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{t.text}'")
        return check_value(f, t, op)


def check_value(f: SField, t: Tok, op: str) -> Any:
    """A filter value must already have the field's type (Salesforce does not coerce)."""
    v = t.value
    if v is None:
        if op not in ("=", "!=", "<>"):
            raise SoqlError("MALFORMED_QUERY", f"null can only be compared with = or != ({f.name})")
        return None
    want, ok = {
        "datetime": ("dateTime", isinstance(v, datetime)),
        "date": ("date", isinstance(v, date) and not isinstance(v, datetime)),
        "double": ("double", isinstance(v, int | float) and not isinstance(v, bool)),
        "currency": ("currency", isinstance(v, int | float) and not isinstance(v, bool)),
        "percent": ("percent", isinstance(v, int | float) and not isinstance(v, bool)),
        "int": ("int", isinstance(v, int) and not isinstance(v, bool)),
        "boolean": ("boolean", isinstance(v, bool)),
    }.get(f.type, ("string", isinstance(v, str)))
    if not ok:
        quoted = "should be enclosed in quotes" if want == "string" else "should not be enclosed in quotes"
        raise SoqlError(
            "INVALID_FIELD",
            f"value of filter criterion for field '{f.name}' must be of type {want} and {quoted}",
        )
    if f.type in ("id", "reference") and isinstance(v, str):
        return normalize_id(v) or v
    return v


def parse(q: str) -> Query:
    return _Parser(q).parse()


# -- evaluation -----------------------------------------------------------------------------


def _key(v: Any) -> Any:
    # strings compare case-insensitively in SOQL; ids are case-sensitive (they are base-62)
    return v.casefold() if isinstance(v, str) else v


def _cmp_key(q: Query, field: str, v: Any) -> Any:
    f = q.sobject.fields[field]
    return v if f.type in ("id", "reference") else _key(v)


def matches(q: Query, cond: Cond | None, row: dict[str, Any]) -> bool:
    if cond is None:
        return True
    kind = cond[0]
    if kind == "and":
        return all(matches(q, c, row) for c in cond[1])
    if kind == "or":
        return any(matches(q, c, row) for c in cond[1])
    if kind == "not":
        return not matches(q, cond[1], row)
    field = cond[1]
    v = row.get(field)
    if kind == "in":
        hit = v is not None and _cmp_key(q, field, v) in {_cmp_key(q, field, x) for x in cond[2]}
        return bool(hit != cond[3])
    if kind == "like":
        return isinstance(v, str) and bool(cond[2].match(v))
    op, lit = cond[2], cond[3]
    if lit is None:
        return bool((v is None) == (op == "="))
    if v is None:
        return bool(op == "!=")
    a, b = _cmp_key(q, field, v), _cmp_key(q, field, lit)
    if isinstance(a, datetime) and not isinstance(b, datetime) and isinstance(b, date):
        b = datetime(b.year, b.month, b.day, tzinfo=UTC)
    return bool(
        {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    )


def run(q: Query, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [r for r in rows if matches(q, q.where, r)]
    for field, desc, nulls_last in reversed(q.order):
        present = [r for r in out if r.get(field) is not None]
        missing = [r for r in out if r.get(field) is None]
        present.sort(key=lambda r, f=field: _cmp_key(q, f, r[f]), reverse=desc)  # type: ignore[misc]
        out = present + missing if nulls_last else missing + present
    out = out[q.offset :]
    return out if q.limit is None else out[: q.limit]
