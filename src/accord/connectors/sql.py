"""A database table as an app (SQLite or PostgreSQL through SQLAlchemy).

Lets a user keep, say, HubSpot contacts two-way in step with a table of their own
database, as Heroku Connect does for Salesforce. Columns are discovered by reflection;
changes are found through an ``updated_at`` column (set by the app and by Accord's own
writes), deletes through a tombstone column when there is one (else rows are deleted and
only full passes see it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from accord.connectors.base import Connector
from accord.engine.values import canon, iso, parse_ts
from accord.index.store import make_engine
from accord.model import (
    ErrorCategory,
    FieldSchema,
    FieldType,
    ObjectSchema,
    Page,
    Record,
    UnreachableError,
    Value,
    WriteError,
    WriteResult,
)

_EPOCH = "1970-01-01T00:00:00.000Z"


def _field_type(col_type: Any) -> FieldType:
    if isinstance(col_type, Boolean):
        return FieldType.BOOL
    if isinstance(col_type, Integer | Numeric | Float):
        return FieldType.NUMBER
    if isinstance(col_type, DateTime):
        return FieldType.DATETIME
    if isinstance(col_type, Date):
        return FieldType.DATE
    return FieldType.TEXT


def _canonical(v: Any) -> Value:
    if isinstance(v, dt.datetime):
        return iso(v if v.tzinfo else v.replace(tzinfo=dt.UTC))
    if isinstance(v, dt.date):
        return v.isoformat()
    if hasattr(v, "as_integer_ratio") and not isinstance(v, bool | int | float):  # Decimal
        return canon(float(v))
    return canon(v)


def _to_db(ftype: FieldType, v: Value) -> Any:
    if v is None:
        return None
    if ftype == FieldType.DATETIME:
        d = parse_ts(str(v))
        return d.replace(tzinfo=None) if d else None  # stored as naive UTC
    if ftype == FieldType.DATE:
        return dt.date.fromisoformat(str(v)[:10])
    return v


class SqlConnector(Connector):
    vendor = "sql"
    batch_size = 500

    def __init__(self, name: str, url: str, tables: Mapping[str, str] | None = None, *, id_column: str = "id",
                 updated_column: str = "updated_at", deleted_column: str | None = "deleted",
                 page_size: int = 1000, overlap: float = 1.0) -> None:
        super().__init__(name)
        self.engine = make_engine(url)
        self.tables = dict(tables or {})
        self.id_column, self.updated_column, self.deleted_column = id_column, updated_column, deleted_column
        self.page_size = page_size
        self.overlap = overlap  # seconds re-read before the cursor: same-timestamp writes are not missed
        self._meta = MetaData()
        self._reflected: dict[str, Table] = {}

    def _table(self, object: str) -> Table:
        if object not in self._reflected:
            try:
                self._reflected[object] = Table(self.tables.get(object, object), self._meta, autoload_with=self.engine)
            except OperationalError as e:
                raise UnreachableError(f"{self.name}: database unreachable: {e.orig}") from e
        return self._reflected[object]

    def _deleted(self, t: Table) -> Any:
        return t.c[self.deleted_column] if self.deleted_column and self.deleted_column in t.c else None

    def _record(self, t: Table, row: Any, fields: Sequence[str] | None) -> Record:
        m = row._mapping
        names = fields if fields is not None else [c.name for c in t.c]
        props = {f: _canonical(m[f]) for f in names if f in m}
        upd = m.get(self.updated_column)
        deleted = self._deleted(t)
        return Record(str(m[self.id_column]), props, _canonical(upd) if upd is not None else None,
                      archived=bool(deleted is not None and m[deleted.name]))

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def check(self) -> None:
        def ping() -> None:
            try:
                with self.engine.connect() as c:
                    c.execute(select(1))
            except OperationalError as e:
                raise UnreachableError(f"{self.name}: database unreachable: {e.orig}") from e
        await self._run(ping)

    async def describe(self, object: str) -> ObjectSchema:
        t = await self._run(self._table, object)
        fields = {}
        for c in t.c:
            system = c.name in (self.id_column, self.updated_column, self.deleted_column)
            fields[c.name] = FieldSchema(c.name, _field_type(c.type), label=c.name, read_only=system,
                                         required=not c.nullable and c.default is None and not c.primary_key and not system)
        return ObjectSchema(object, fields)

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        t = await self._run(self._table, object)
        idc = t.c[self.id_column]
        after: Any = None
        while True:
            q = select(t).order_by(idc).limit(self.page_size)
            if after is not None:
                q = q.where(idc > after)
            deleted = self._deleted(t)
            if deleted is not None:
                q = q.where(or_(deleted.is_(None), deleted.is_(False)))
            rows = await self._run(self._fetch, q)
            if not rows:
                return
            yield Page([self._record(t, r, fields) for r in rows])
            after = rows[-1]._mapping[self.id_column]

    def _fetch(self, q: Any) -> list[Any]:
        with self.engine.connect() as c:
            return list(c.execute(q))

    async def change_cursor(self, object: str) -> str:
        t = await self._run(self._table, object)
        latest = await self._run(lambda: self._fetch(select(func.max(t.c[self.updated_column])))[0][0])
        return f"{_canonical(latest) if latest is not None else _EPOCH}|"

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        """Rows with (updated_at, id) after the cursor, oldest first, re-reading ``overlap`` seconds."""
        t = await self._run(self._table, object)
        # The cursor is "timestamp|id"; re-reading an overlap before the timestamp (the
        # engine drops unchanged rows) is what protects same-timestamp writes, not the id.
        start = parse_ts(cursor.partition("|")[0]) or parse_ts(_EPOCH)
        assert start is not None
        since = (start - dt.timedelta(seconds=self.overlap)).replace(tzinfo=None)
        upd, idc = t.c[self.updated_column], t.c[self.id_column]
        seen: set[str] = set()
        after: tuple[Any, Any] | None = None
        while True:
            q = select(t).where(upd >= since).order_by(upd, idc).limit(self.page_size)
            if after is not None:
                q = q.where(or_(upd > after[0], and_(upd == after[0], idc > after[1])))
            rows = await self._run(self._fetch, q)
            if not rows:
                return
            last = rows[-1]._mapping
            after = (last[self.updated_column], last[self.id_column])
            recs = [self._record(t, r, fields) for r in rows]
            fresh = [r for r in recs if r.id not in seen]
            seen.update(r.id for r in fresh)
            yield Page(fresh, f"{_canonical(after[0])}|{after[1]}")

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        if not ids:
            return []
        t = await self._run(self._table, object)
        idc = t.c[self.id_column]
        keys = [int(i) if isinstance(idc.type, Integer) and i.isdigit() else i for i in ids]
        rows = await self._run(self._fetch, select(t).where(idc.in_(keys)))
        return [self._record(t, r, fields) for r in rows]

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        t = await self._run(self._table, object)
        wanted = [str(v).strip().lower() for v in values if v is not None]
        if not wanted or field not in t.c:
            return []
        q = select(t).where(func.lower(func.trim(t.c[field])).in_(wanted))
        deleted = self._deleted(t)
        if deleted is not None:
            q = q.where(or_(deleted.is_(None), deleted.is_(False)))
        return [self._record(t, r, fields) for r in await self._run(self._fetch, q)]

    def _values(self, t: Table, props: Mapping[str, Value]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in props.items():
            if k not in t.c:
                raise KeyError(k)
            out[k] = _to_db(_field_type(t.c[k].type), v)
        out[self.updated_column] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return out

    def _write(self, object: str, op: str, items: Sequence[Any]) -> list[WriteResult]:
        """One transaction per record (a savepoint each), so a bad row never fails the batch."""
        t = self._table(object)
        idc = t.c[self.id_column]
        out: list[WriteResult] = []
        with self.engine.begin() as c:
            for item in items:
                sp = c.begin_nested()
                try:
                    if op == "create":
                        res = c.execute(insert(t).values(self._values(t, item)).returning(t))
                        row = res.first()
                        assert row is not None
                        out.append(WriteResult.success(str(row._mapping[self.id_column]), self._record(t, row, None)))
                    elif op == "update":
                        rid, props = item
                        res = c.execute(update(t).where(idc == self._key(idc, rid)).values(self._values(t, props)).returning(t))
                        row = res.first()
                        if row is None:
                            out.append(WriteResult.failure(WriteError(ErrorCategory.NOT_FOUND, f"row {rid} not found",
                                                                      hint="The row was deleted; resync deleted records."), rid))
                        else:
                            out.append(WriteResult.success(rid, self._record(t, row, None)))
                    else:
                        deleted = self._deleted(t)
                        if deleted is not None:
                            c.execute(update(t).where(idc == self._key(idc, item)).values(
                                {deleted.name: True, self.updated_column: dt.datetime.now(dt.UTC).replace(tzinfo=None)}))
                        else:
                            c.execute(sql_delete(t).where(idc == self._key(idc, item)))
                        out.append(WriteResult.success(str(item)))
                    sp.commit()
                except KeyError as e:
                    sp.rollback()
                    out.append(WriteResult.failure(WriteError(ErrorCategory.VALIDATION, f"column {e.args[0]!r} does not exist",
                                                              hint="Remove the mapping or add the column.")))
                except IntegrityError as e:
                    sp.rollback()
                    dup = "unique" in str(e.orig).lower() or "duplicate" in str(e.orig).lower()
                    out.append(WriteResult.failure(WriteError(
                        ErrorCategory.DUPLICATES if dup else ErrorCategory.VALIDATION, str(e.orig).splitlines()[0],
                        hint="Another row already has this value." if dup else "A column constraint rejected the row.")))
                except (DBAPIError, ValueError) as e:
                    sp.rollback()
                    msg = str(getattr(e, "orig", e)).splitlines()[0]
                    out.append(WriteResult.failure(WriteError(ErrorCategory.VALIDATION, msg, hint="Check the column's type.")))
        return out

    @staticmethod
    def _key(idc: Any, rid: str) -> Any:
        return int(rid) if isinstance(idc.type, Integer) and str(rid).isdigit() else rid

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        return await self._run(self._write, object, "create", items)  # type: ignore[no-any-return]

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        return await self._run(self._write, object, "update", items)  # type: ignore[no-any-return]

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        return await self._run(self._write, object, "archive", ids)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        self.engine.dispose()


def from_config(name: str, app: Any) -> SqlConnector:
    return SqlConnector(name, app.url, app.tables, id_column=app.id_column, updated_column=app.updated_column,
                        deleted_column=app.deleted_column)
