"""A database table as an app (SQLite or PostgreSQL through SQLAlchemy).

Lets a user keep, say, HubSpot contacts two-way in step with a table of their own
database, as Heroku Connect does for Salesforce. Columns are discovered by reflection.
Changes are found one of two ways (``changes`` in the app's config):

* ``updated_at`` (default): through an ``updated_at`` column (set by the app and by Accord's
  own writes); deletes through a tombstone column when there is one (else rows are deleted
  and only full passes see it).
* ``triggers`` (PostgreSQL): Accord installs a change-log table and AFTER INSERT/UPDATE/DELETE
  triggers on the synced table and reads the log by its sequence number, so edits and hard
  deletes are seen without any column of the user's; Accord's own writes are tagged (a
  transaction-local setting the trigger reads) and skipped; old log rows are pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchTableError, OperationalError, ProgrammingError

from accord.config import ConfigError, ConfigIssue
from accord.connectors.base import ApiCounters, Connector
from accord.connectors.registry import Vendor
from accord.connectors.settings import AppSettings, Duration, parse_duration
from accord.engine.values import canon, iso, parse_ts
from accord.index.store import make_engine
from accord.model import (
    ConnectorError,
    ContainerMissing,
    ErrorCategory,
    FieldSchema,
    FieldType,
    ObjectSchema,
    Option,
    Page,
    Record,
    ResyncRequired,
    UnreachableError,
    Value,
    WriteError,
    WriteResult,
)

_EPOCH = "1970-01-01T00:00:00.000Z"
# column types PostgreSQL takes as arrays of plain Python values (the bulk insert's unnest)
_ARRAYABLE = (String, Integer, Float, Numeric, Boolean, DateTime, Date)


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


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _canonical(v: Any) -> Value:
    if type(v) in _PLAIN:  # most columns: skip the checks below (this runs per column per row)
        return canon(v)
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


# -- the trigger change log (PostgreSQL) ----------------------------------------------------------
LOG_TABLE = "accord_changes"
_LOG_DDL = [
    # seq orders the log; xid (the writing transaction) lets a reader catch rows whose seq was
    # drawn before its last read but committed after it (sequences are not transactional):
    # those are the rows its snapshot did not see.
    f"""CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
        seq bigserial PRIMARY KEY,
        rel regclass NOT NULL,
        row_id text NOT NULL,
        op char(1) NOT NULL,
        origin text,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        changed_at timestamptz NOT NULL DEFAULT clock_timestamp())""",
    f"CREATE INDEX IF NOT EXISTS {LOG_TABLE}_rel_seq ON {LOG_TABLE} (rel, seq)",
    f"CREATE INDEX IF NOT EXISTS {LOG_TABLE}_rel_xid ON {LOG_TABLE} (rel, xid)",
    f"""CREATE TABLE IF NOT EXISTS {LOG_TABLE}_pruned (
        rel regclass PRIMARY KEY,
        through bigint NOT NULL)""",
    # origin: Accord sets accord.origin for the transactions of its own writes (SET LOCAL).
    f"""CREATE OR REPLACE FUNCTION {LOG_TABLE}_log() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        origin text := nullif(current_setting('accord.origin', true), '');
        old_id text;
        new_id text;
    BEGIN
        IF TG_OP <> 'INSERT' THEN old_id := to_jsonb(OLD) ->> TG_ARGV[0]; END IF;
        IF TG_OP <> 'DELETE' THEN new_id := to_jsonb(NEW) ->> TG_ARGV[0]; END IF;
        IF old_id IS NOT NULL AND old_id IS DISTINCT FROM new_id THEN
            INSERT INTO {LOG_TABLE} (rel, row_id, op, origin) VALUES (TG_RELID, old_id, 'D', origin);
        END IF;
        IF new_id IS NOT NULL THEN
            INSERT INTO {LOG_TABLE} (rel, row_id, op, origin) VALUES (TG_RELID, new_id, left(TG_OP, 1), origin);
        END IF;
        RETURN NULL;
    END $$""",
]
_LOG_PREFIX = "log:"
CLOCK_SLACK = 1.0  # seconds: the clocks of processes that read one change feed in turn may differ


def _log_cursor(cursor: str) -> tuple[int, str]:
    """``log:SEQ:SNAPSHOT`` → (seq, snapshot); any other cursor was made by the other change mode."""
    if not cursor.startswith(_LOG_PREFIX):
        raise ResyncRequired(f"cursor {cursor!r} is not a change-log cursor (the app's change mode was switched); "
                             "a full pass re-reads the table")
    seq, _, snapshot = cursor[len(_LOG_PREFIX):].partition(":")
    return int(seq), snapshot


# Errors that reject one row (not the connection): the batch is retried row by row.
_ROW_ERRORS = (KeyError, DBAPIError, ValueError)


class SqlConnector(Connector):
    vendor = "sql"
    batch_size = 500

    def __init__(self, name: str, url: str, tables: Mapping[str, str] | None = None, *, id_column: str = "id",
                 updated_column: str = "updated_at", deleted_column: str | None = "deleted",
                 page_size: int = 1000, overlap: float = 1.0, changes: Literal["updated_at", "triggers"] = "updated_at",
                 log_retention: float = 7 * 86_400.0, prune_every: float = 3600.0) -> None:
        super().__init__(name)
        self.engine = make_engine(url, index_settings=False)  # an app's database keeps its own settings
        self.tables = dict(tables or {})
        self.id_column, self.updated_column, self.deleted_column = id_column, updated_column, deleted_column
        self.page_size = page_size
        self.overlap = overlap  # seconds re-read before the cursor: same-timestamp writes are not missed
        self.change_mode = changes
        self.log_retention, self.prune_every = log_retention, prune_every
        self.origin = f"accord:{name}"  # tags this app's own writes in the change log
        if changes == "triggers" and self.engine.dialect.name != "postgresql":
            raise ConnectorError(f"{name}: changes: triggers needs PostgreSQL (this is {self.engine.dialect.name})")
        self._meta = MetaData()
        self._reflected: dict[str, Table] = {}
        self._installed: set[str] = set()
        self._col_types: dict[str, dict[str, FieldType]] = {}
        self._pruned_at: dict[str, float] = {}

    def _table(self, object: str) -> Table:
        if object not in self._reflected:
            name = self.tables.get(object, object)
            try:
                t = Table(name, self._meta, autoload_with=self.engine)
            except OperationalError as e:
                raise UnreachableError(f"{self.name}: database unreachable: {e.orig}") from e
            except NoSuchTableError as e:
                raise self._table_gone(object) from e
            self._reflected[object] = self._checked(object, t)
        return self._reflected[object]

    def _checked(self, object: str, t: Table) -> Table:
        """The table, if it has the columns the app's settings name (else ConfigError with their key path)."""
        wanted = {"id_column": self.id_column}
        if self.change_mode == "updated_at":
            wanted["updated_column"] = self.updated_column
        missing = [ConfigIssue(f"apps.{self.name}.{key}", f"table {t.name!r} (object {object}) has no column {col!r}; "
                               f"name one of its columns: {', '.join(c.name for c in t.c)}")
                   for key, col in wanted.items() if col not in t.c]
        if missing:
            self._meta.remove(t)
            raise ConfigError("", missing)
        return t

    # -- the table (the sync's container) -------------------------------------------------------------
    async def check_container(self, object: str, *, create: bool) -> None:
        """The table is there (Accord never creates one: ``create`` is not for tables)."""
        name = self.tables.get(object, object)
        if not await self._run(lambda: sa_inspect(self.engine).has_table(name)):
            raise self._table_gone(object)

    def _table_gone(self, object: str) -> ContainerMissing:
        """The table of ``object`` does not exist (any more); forgets what was reflected of it."""
        t = self._reflected.pop(object, None)
        if t is not None:
            self._meta.remove(t)  # a table created again may have other columns
        name = self.tables.get(object, object)
        key = f"apps.{self.name}.tables.{object}" if object in self.tables else None
        return ContainerMissing(
            f"app {self.name!r}: the table {name!r} does not exist", app=self.name,
            container=f"the table {name!r}", key=key,
            hint=f"Restore the table {name!r} in the database of app {self.name!r} (e.g. from a backup), or point "
                 f"{key or 'the sync at the table'} that holds the synced rows now.",
            fresh_hint=f"Create the table {name!r} in the database of app {self.name!r} (Accord syncs a table of "
                       f"yours and never creates one: docs/connectors/sql.md shows one), or point "
                       f"{key or 'the sync'} at a table that exists.")

    def _raise_if_gone(self) -> None:
        """After a failed query: a table that was dropped meanwhile is ContainerMissing."""
        names = sa_inspect(self.engine).get_table_names()
        for object, t in list(self._reflected.items()):
            if t.name not in names:
                raise self._table_gone(object)

    def _deleted(self, t: Table) -> Any:
        return t.c[self.deleted_column] if self.deleted_column and self.deleted_column in t.c else None

    def _record(self, t: Table, row: Any, fields: Sequence[str] | None, updated: Value = None) -> Record:
        m = dict(zip(row._fields, row, strict=True))  # a plain dict: RowMapping look-ups cost more
        props = {f: _canonical(m[f]) for f in (m if fields is None else fields) if f in m}
        upd = m.get(self.updated_column)
        deleted = self._deleted(t)
        return Record(str(m[self.id_column]), props, _canonical(upd) if upd is not None else updated,
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

    async def list_objects(self) -> list[Option]:
        """The objects ``tables`` names, then the database's other tables (Accord's change logs left out)."""
        names = await self._run(lambda: sa_inspect(self.engine).get_table_names())
        named = set(self.tables.values())
        return ([Option(obj, f"{obj} (table {t})") for obj, t in self.tables.items()]
                + [Option(n, n) for n in sorted(names) if n not in named and not n.startswith("accord_")])

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
        try:
            with self.engine.connect() as c:
                return list(c.execute(q))
        except (OperationalError, ProgrammingError):
            self._raise_if_gone()
            raise

    async def change_cursor(self, object: str) -> str:
        t = await self._run(self._table, object)
        if self.change_mode == "triggers":
            return await self._run(self._log_now, t)  # type: ignore[no-any-return]
        at = time.time()
        latest = await self._run(lambda: self._fetch(select(func.max(t.c[self.updated_column])))[0][0])
        stamp = _canonical(latest) if latest is not None else _EPOCH
        if not self.overlap:
            return f"{stamp}|"
        return f"{stamp}||{stamp}|{at:.3f}"  # the writers' clock was at the newest row, at least

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        """Rows with (updated_at, id) after the cursor, oldest first, re-reading ``overlap`` seconds;
        with ``changes: triggers`` the rows the change log names after the cursor."""
        t = await self._run(self._table, object)
        if self.change_mode == "triggers":
            async for page in self._log_changes(t, cursor, fields):
                yield page
            return
        if cursor.startswith(_LOG_PREFIX):
            raise ResyncRequired(f"cursor {cursor!r} is a change-log cursor (the app's change mode was switched); "
                                 "a full pass re-reads the table")
        # The cursor is "timestamp|id" (a page's: the last row read), after a whole feed
        # "timestamp|id|writers' clock|read at". Re-reading an overlap (the engine drops
        # unchanged rows) is what protects same-timestamp writes and late commits, not the id.
        parts = cursor.split("|")
        start = parse_ts(parts[0]) or parse_ts(_EPOCH)
        assert start is not None
        clock = parse_ts(parts[2]) if len(parts) == 4 else None
        # the writers' clock bound comes from this process's clock and another's: a second of slack
        floor = clock - dt.timedelta(seconds=CLOCK_SLACK) if clock is not None else start
        since = (floor - dt.timedelta(seconds=self.overlap)).replace(tzinfo=None)
        upd, idc = t.c[self.updated_column], t.c[self.id_column]
        read_at = time.time()
        # The newest timestamp the rows show now: the writers' clock is at least there. With
        # the time passed since the previous pass it tells where the next pass may start, so
        # the overlap is re-read before the time this pass read, not before the newest change
        # (which a bulk write with no newer edit would keep re-read by every pass).
        newest = await self._run(lambda: self._fetch(select(func.max(upd)))[0][0]) if self.overlap else None
        seen: set[str] = set()
        after: tuple[Any, Any] | None = None
        while True:
            q = select(t).where(upd >= since).order_by(upd, idc).limit(self.page_size)
            if after is not None:
                q = q.where(or_(upd > after[0], and_(upd == after[0], idc > after[1])))
            rows = await self._run(self._fetch, q)
            if not rows:
                break
            last = rows[-1]._mapping
            after = (last[self.updated_column], last[self.id_column])
            recs = [self._record(t, r, fields) for r in rows]
            fresh = [r for r in recs if r.id not in seen]
            seen.update(r.id for r in fresh)
            yield Page(fresh, f"{_canonical(after[0])}|{after[1]}")
        if not self.overlap:
            return
        # A lower bound of the writers' clock when this pass read: the newest row then, or the
        # previous bound plus the time since (it telescopes: no error builds up pass by pass).
        writers = parse_ts(str(_canonical(newest))) if newest is not None else None
        if clock is not None:
            with contextlib.suppress(ValueError):
                later = clock + dt.timedelta(seconds=max(0.0, read_at - float(parts[3])))
                writers = later if writers is None else max(writers, later)
        if writers is None or (clock is not None and writers <= clock):
            return
        pos = (_canonical(after[0]), after[1]) if after is not None else (parts[0], parts[1] if len(parts) > 1 else "")
        yield Page([], f"{pos[0]}|{pos[1]}|{iso(writers)}|{read_at:.3f}")

    # -- the trigger change log ---------------------------------------------------------------------
    def _install(self, t: Table) -> None:
        """Create the log, its trigger function and the table's trigger (idempotent, one installer at a time)."""
        if t.name in self._installed:
            return
        trigger = f"{LOG_TABLE}_{t.name}"[:63]
        target = self.engine.dialect.identifier_preparer.format_table(t)
        try:
            with self.engine.begin() as c:
                c.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": LOG_TABLE})
                for ddl in _LOG_DDL:
                    c.execute(text(ddl))
                c.execute(text(f'CREATE OR REPLACE TRIGGER "{trigger}" AFTER INSERT OR UPDATE OR DELETE ON {target} '
                               f"FOR EACH ROW EXECUTE FUNCTION {LOG_TABLE}_log(:idc)".replace(":idc", _sql_str(self.id_column))))
        except DBAPIError as e:
            raise ConnectorError(f"{self.name}: cannot install the change-log trigger on {t.name}: "
                                 f"{str(e.orig).splitlines()[0]} (the database user needs CREATE on the schema and "
                                 "TRIGGER on the table)") from e
        self._installed.add(t.name)

    @staticmethod
    def _high_water(c: Any) -> tuple[int, str]:
        """The last log seq and the snapshot it was read in (one statement: one snapshot)."""
        seq, snapshot = c.execute(text(
            f"SELECT coalesce(max(seq), 0), pg_current_snapshot()::text FROM {LOG_TABLE}")).one()
        return int(seq), str(snapshot)

    def _log_now(self, t: Table) -> str:
        self._install(t)
        with self.engine.connect() as c:
            seq, snapshot = self._high_water(c)
        return f"{_LOG_PREFIX}{seq}:{snapshot}"

    def _log_read(self, t: Table, seq: int, snapshot: str) -> tuple[int, str, list[Any]]:
        """(high-water seq and its snapshot, log rows up to ``seq`` that ``snapshot`` did not see)."""
        self._install(t)
        self._prune(t)
        rel = {"rel": self._rel(t), "me": self.origin}
        with self.engine.connect() as c:
            pruned = c.execute(text(f"SELECT through FROM {LOG_TABLE}_pruned WHERE rel = CAST(:rel AS regclass)"),
                               rel).scalar()
            if pruned is not None and seq < pruned:
                raise ResyncRequired(f"{self.name}: the change log of {t.name} was pruned past the cursor "
                                     f"(seq {seq} < {pruned}); a full pass re-reads the table")
            high, now = self._high_water(c)
            # only transactions at or after the old snapshot's xmin can have been invisible to it
            late = list(c.execute(text(
                f"SELECT seq, row_id, op, changed_at FROM {LOG_TABLE} WHERE rel = CAST(:rel AS regclass) "
                "AND xid >= pg_snapshot_xmin(CAST(:snap AS pg_snapshot)) AND seq <= :seq "
                "AND NOT pg_visible_in_snapshot(xid, CAST(:snap AS pg_snapshot)) "
                "AND origin IS DISTINCT FROM :me ORDER BY seq"), {**rel, "seq": seq, "snap": snapshot}))
        return max(high, seq), now, late

    def _log_page(self, t: Table, after: int, high: int) -> list[Any]:
        with self.engine.connect() as c:
            return list(c.execute(text(
                f"SELECT seq, row_id, op, changed_at FROM {LOG_TABLE} WHERE rel = CAST(:rel AS regclass) "
                "AND seq > :after AND seq <= :high AND origin IS DISTINCT FROM :me ORDER BY seq LIMIT :n"),
                {"rel": self._rel(t), "me": self.origin, "after": after, "high": high, "n": self.page_size}))

    def _rel(self, t: Table) -> str:
        return self.engine.dialect.identifier_preparer.format_table(t)

    def _prune(self, t: Table) -> None:
        """Drop log rows older than ``log_retention`` (at most every ``prune_every`` seconds);
        remember how far, so a cursor from before it asks for a full pass instead of missing changes."""
        now = time.monotonic()
        if now - self._pruned_at.get(t.name, -self.prune_every) < self.prune_every:
            return
        self._pruned_at[t.name] = now
        with self.engine.begin() as c:
            through = c.execute(text(
                f"WITH gone AS (DELETE FROM {LOG_TABLE} WHERE rel = CAST(:rel AS regclass) "
                "AND changed_at < clock_timestamp() - make_interval(secs => :keep) RETURNING seq) "
                "SELECT max(seq) FROM gone"), {"rel": self._rel(t), "keep": self.log_retention}).scalar()
            if through is not None:
                c.execute(text(
                    f"INSERT INTO {LOG_TABLE}_pruned (rel, through) VALUES (CAST(:rel AS regclass), :through) "
                    f"ON CONFLICT (rel) DO UPDATE SET through = greatest({LOG_TABLE}_pruned.through, excluded.through)"),
                    {"rel": self._rel(t), "through": through})

    async def _log_changes(self, t: Table, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        """Rows the log names after ``cursor`` (current values; gone rows as tombstones), in log order.

        Each page's cursor is ``log:SEQ:SNAPSHOT``: rows up to SEQ were read, except those the
        read's snapshot could not see yet (their transaction had not committed); those are
        looked for next time, so a sequence number drawn before a read but committed after it
        is not lost.
        """
        seq, snapshot = _log_cursor(cursor)
        high, now, late = await self._run(self._log_read, t, seq, snapshot)
        if late:
            yield Page(await self._run(self._log_records, t, late, fields), f"{_LOG_PREFIX}{seq}:{now}")
        after = seq
        while True:
            rows = await self._run(self._log_page, t, after, high)
            if not rows:
                # own writes (skipped) and gaps up to the high-water mark are behind us too
                yield Page([], f"{_LOG_PREFIX}{high}:{now}")
                return
            after = int(rows[-1].seq)
            yield Page(await self._run(self._log_records, t, rows, fields), f"{_LOG_PREFIX}{after}:{now}")

    def _log_records(self, t: Table, log: Sequence[Any], fields: Sequence[str]) -> list[Record]:
        latest: dict[str, Any] = {}
        for r in log:  # one record per row, however often it changed
            latest.pop(r.row_id, None)
            latest[r.row_id] = r
        idc = t.c[self.id_column]
        keys = [self._key(idc, rid) for rid in latest]
        with self.engine.connect() as c:
            rows = {str(r._mapping[self.id_column]): r for r in c.execute(select(t).where(idc.in_(keys)))}
        out = []
        for rid, entry in latest.items():
            when = _canonical(entry.changed_at)
            row = rows.get(rid)
            out.append(self._record(t, row, fields, when) if row is not None else Record(rid, {}, when, archived=True))
        return out

    # -- reading by id / key ------------------------------------------------------------------------
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

    # -- writing ------------------------------------------------------------------------------------
    def _types(self, t: Table) -> dict[str, FieldType]:
        types = self._col_types.get(t.name)
        if types is None:
            types = self._col_types[t.name] = {c.name: _field_type(c.type) for c in t.c}
        return types

    def _values(self, t: Table, props: Mapping[str, Value], now: dt.datetime | None = None) -> dict[str, Any]:
        types = self._types(t)
        out: dict[str, Any] = {}
        for k, v in props.items():
            ftype = types.get(k)
            if ftype is None:
                raise KeyError(k)
            out[k] = _to_db(ftype, v)
        if self.updated_column in types:
            out[self.updated_column] = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return out

    @staticmethod
    def _failure(e: Exception) -> WriteResult:
        if isinstance(e, KeyError):
            return WriteResult.failure(WriteError(ErrorCategory.VALIDATION, f"column {e.args[0]!r} does not exist",
                                                  hint="Remove the mapping or add the column."))
        if isinstance(e, IntegrityError):
            dup = "unique" in str(e.orig).lower() or "duplicate" in str(e.orig).lower()
            return WriteResult.failure(WriteError(
                ErrorCategory.DUPLICATES if dup else ErrorCategory.VALIDATION, str(e.orig).splitlines()[0],
                hint="Another row already has this value." if dup else "A column constraint rejected the row."))
        msg = str(getattr(e, "orig", e)).splitlines()[0]
        return WriteResult.failure(WriteError(ErrorCategory.VALIDATION, msg, hint="Check the column's type."))

    def _guarded(self, c: Any, fn: Callable[[], WriteResult]) -> WriteResult:
        """One record in its own savepoint: a bad row fails alone."""
        sp = c.begin_nested()
        try:
            res = fn()
            sp.commit()
            return res
        except _ROW_ERRORS as e:
            sp.rollback()
            return self._failure(e)

    def _all_or_each(self, c: Any, fns: Sequence[Callable[[], Any]]) -> list[Any] | None:
        """All of ``fns`` in one savepoint; ``None`` (all rolled back) if one raised a row error."""
        sp = c.begin_nested()
        try:
            out = [fn() for fn in fns]
            sp.commit()
            return out
        except _ROW_ERRORS:
            sp.rollback()
            return None

    def _write(self, object: str, op: str, items: Sequence[Any]) -> list[WriteResult]:
        """A batch in one transaction and, while no row fails, one savepoint (creates: one
        multi-row INSERT per column set); when a row fails, the batch is redone with a savepoint
        per record, so a bad row never fails the others."""
        t = self._table(object)
        with self.engine.begin() as c:
            if self.change_mode == "triggers":
                c.execute(text("SELECT set_config('accord.origin', :o, true)"), {"o": self.origin})
            if op == "create":
                return self._create(c, t, items)
            one = self._update_one if op == "update" else self._archive_one
            fns = [partial(one, c, t, item) for item in items]
            return self._all_or_each(c, fns) or [self._guarded(c, fn) for fn in fns]

    def _create(self, c: Any, t: Table, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        out: list[WriteResult | None] = [None] * len(items)
        groups: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for i, item in enumerate(items):
            try:
                values = self._values(t, item, now)
            except KeyError as e:
                out[i] = self._failure(e)
                continue
            groups.setdefault(tuple(values), []).append((i, values))
        for cols, group in groups.items():
            rows = [v for _, v in group]
            done = self._all_or_each(c, [partial(self._insert_many, c, t, cols, rows)]) if len(group) > 1 else None
            if done is not None:
                for (i, _), res in zip(group, done[0], strict=True):
                    out[i] = res
                continue
            for i, values in group:
                out[i] = self._guarded(c, partial(self._insert_one, c, t, values))
        return [r for r in out if r is not None]

    def _insert_many(self, c: Any, t: Table, cols: tuple[str, ...], rows: list[dict[str, Any]]) -> list[WriteResult]:
        """Rows of one column set in one statement, results in input order (the driver's path
        where it applies, else SQLAlchemy's insertmanyvalues)."""
        fast = self._inserter(c, t, cols)
        if fast is not None:
            ids = fast(rows)
            # every row of a batch carries the same timestamp object: canonicalised once, not per row
            memo: dict[int, tuple[Any, Value]] = {}
            return [WriteResult.success(str(rid), self._written(rid, v, memo)) for rid, v in zip(ids, rows, strict=True)]
        ins = insert(t).returning(*t.c, sort_by_parameter_order=True)
        return [WriteResult.success(str(row._mapping[self.id_column]), self._record(t, row, None))
                for row in c.execute(ins, rows).all()]

    def _inserter(self, c: Any, t: Table, cols: tuple[str, ...]) -> Callable[[list[dict[str, Any]]], list[int]] | None:
        """A multi-row ``INSERT … RETURNING id`` on the driver, for tables whose id the database
        numbers (an integer key it assigns): five times less CPU than SQLAlchemy's per-row
        insertmanyvalues. The ids come back sorted, which is input order: the database numbers
        rows in the order it inserts them (PostgreSQL: ``INSERT … SELECT … ORDER BY`` over
        ``unnest`` of one array per column, the ordering SQLAlchemy relies on too). Elsewhere
        (other keys, other databases, PostgreSQL columns of other types): None, SQLAlchemy's path."""
        idc = t.c.get(self.id_column)
        dialect = c.dialect
        if (idc is None or not isinstance(idc.type, Integer) or list(t.primary_key.columns) != [idc]
                or self.id_column in cols or not cols or dialect.name not in ("sqlite", "postgresql")
                or (dialect.name == "postgresql" and idc.server_default is None and idc.identity is None)):
            return None
        quote = dialect.identifier_preparer.quote
        table, names, idn = dialect.identifier_preparer.format_table(t), ", ".join(quote(n) for n in cols), quote(idc.name)
        procs = [t.c[n].type.bind_processor(dialect) for n in cols]
        per_statement = max(1, 30_000 // len(cols))  # bound parameters per statement stay within every driver's limit
        if dialect.name == "sqlite":
            one = "(" + ", ".join("?" * len(cols)) + ")"

            def sql(n: int) -> str:
                return f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * n)} RETURNING {idn}"
        else:
            # one array per column: a short statement psycopg parses once, whatever the row count
            if not all(isinstance(t.c[n].type, _ARRAYABLE) for n in cols):
                return None
            arrays = ", ".join(f"%s::{t.c[n].type.compile(dialect)}[]" for n in cols)
            alias = ", ".join(f"c{k}" for k in range(len(cols)))
            statement = (f"INSERT INTO {table} ({names}) SELECT {alias} FROM unnest({arrays}) WITH ORDINALITY "
                         f"AS v({alias}, n) ORDER BY n RETURNING {idn}")

            def insert_columns(rows: list[dict[str, Any]]) -> list[int]:
                params = tuple([r[n] for r in rows] for n in cols)
                return sorted(int(r[0]) for r in c.exec_driver_sql(statement, params).fetchall())

            return insert_columns

        def insert_rows(rows: list[dict[str, Any]]) -> list[int]:
            ids: list[int] = []
            for at in range(0, len(rows), per_statement):
                chunk = rows[at:at + per_statement]
                params = [p(v) if p is not None and v is not None else v
                          for r in chunk for p, v in zip(procs, (r[n] for n in cols), strict=True)]
                ids += sorted(int(r[0]) for r in c.exec_driver_sql(sql(len(chunk)), tuple(params)).fetchall())
            return ids

        return insert_rows

    def _written(self, rid: int, values: Mapping[str, Any], memo: dict[int, tuple[Any, Value]] | None = None) -> Record:
        """The row just inserted, from the values sent (what ``_record`` of the row would give).

        ``memo`` remembers the canonical form of the non-plain values (datetimes) of a batch by
        object: the batch's ``updated_at`` is one datetime, converted once instead of twice a row."""
        props: dict[str, Value] = {}
        memo = {} if memo is None else memo
        for k, v in values.items():
            t = type(v)
            if t is str:  # most columns; what canon() does to a str, inline (this runs per column per row)
                props[k] = v if v and not v.isspace() else None
            elif t in _PLAIN:
                props[k] = canon(v)
            else:
                hit = memo.get(id(v))
                if hit is None or hit[0] is not v:
                    hit = memo[id(v)] = (v, _canonical(v))
                props[k] = hit[1]
        props[self.id_column] = rid
        upd = values.get(self.updated_column)
        return Record(str(rid), props, props[self.updated_column] if upd is not None else None)

    def _insert_one(self, c: Any, t: Table, values: dict[str, Any]) -> WriteResult:
        row = c.execute(insert(t).values(values).returning(*t.c)).first()
        assert row is not None
        return WriteResult.success(str(row._mapping[self.id_column]), self._record(t, row, None))

    def _update_one(self, c: Any, t: Table, item: tuple[str, Mapping[str, Value]]) -> WriteResult:
        rid, props = item
        idc = t.c[self.id_column]
        row = c.execute(update(t).where(idc == bindparam("_rid")).values(self._values(t, props)).returning(*t.c),
                        {"_rid": self._key(idc, rid)}).first()
        if row is None:
            return WriteResult.failure(WriteError(ErrorCategory.NOT_FOUND, f"row {rid} not found",
                                                  hint="The row was deleted; resync deleted records."), rid)
        return WriteResult.success(rid, self._record(t, row, None))

    def _archive_one(self, c: Any, t: Table, rid: str) -> WriteResult:
        idc = t.c[self.id_column]
        deleted = self._deleted(t)
        if deleted is not None:
            tomb: dict[str, Any] = {deleted.name: True}
            if self.updated_column in t.c:
                tomb[self.updated_column] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            c.execute(update(t).where(idc == self._key(idc, rid)).values(tomb))
        else:
            c.execute(sql_delete(t).where(idc == self._key(idc, rid)))
        return WriteResult.success(str(rid))

    @staticmethod
    def _key(idc: Any, rid: str) -> Any:
        return int(rid) if isinstance(idc.type, Integer) and str(rid).isdigit() else rid

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        return await self._run(self._write, object, "create", items)  # type: ignore[no-any-return]

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        return await self._run(self._write, object, "update", items)  # type: ignore[no-any-return]

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        return await self._run(self._write, object, "archive", ids)  # type: ignore[no-any-return]

    def counters(self) -> ApiCounters:
        return ApiCounters()  # statements on the app's own database are not API calls

    async def aclose(self) -> None:
        self.engine.dispose()


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class SqlSettings(AppSettings):
    """A table of your own database as an app; ``tables`` maps object names to table names."""

    type: Literal["sql"]
    url: str
    tables: dict[str, str] = Field(default_factory=dict)
    id_column: str = "id"
    updated_column: str = "updated_at"
    deleted_column: str | None = "deleted"
    # updated_at: rows changed by updated_column (and tombstones by deleted_column);
    # triggers (PostgreSQL): a change log Accord fills with triggers on the table
    changes: Literal["updated_at", "triggers"] = "updated_at"
    change_log_retention: Duration = 7 * 86_400.0

    @field_validator("change_log_retention", mode="before")
    @classmethod
    def _retention(cls, v: Any) -> float:
        return parse_duration(v)

    @field_validator("changes")
    @classmethod
    def _triggers_on_postgres(cls, v: str, info: Any) -> str:
        if v == "triggers" and not str(info.data.get("url", "")).startswith("postgresql"):
            raise ValueError("changes: triggers needs a PostgreSQL url (postgresql+psycopg://…)")
        return v


def from_config(name: str, app: Any) -> SqlConnector:
    return SqlConnector(name, app.url, app.tables, id_column=app.id_column, updated_column=app.updated_column,
                        deleted_column=app.deleted_column, changes=getattr(app, "changes", "updated_at"),
                        log_retention=getattr(app, "change_log_retention", 7 * 86_400.0))


VENDOR = Vendor("sql", "SQL table", SqlSettings, from_config)
