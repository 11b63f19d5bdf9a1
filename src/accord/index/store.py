"""Store: the sync index on SQLAlchemy Core (SQLite in WAL mode by default, or PostgreSQL).

The runner reads rows a page at a time and writes each page back in one transaction
(:meth:`Store.save`), so the index costs a handful of statements per page, not per record.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from itertools import compress
from operator import attrgetter, itemgetter, ne
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from accord.index.schema import (
    cursors,
    keys,
    links,
    managed_apps,
    managed_syncs,
    metadata,
    runs,
    syncs,
    webhook_events,
)
from accord.model import Side

_CHUNK = 500  # bound parameters per IN (...) clause


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_seq = itertools.count()
_process_tag = os.urandom(6).hex()


def _new_process_tag() -> None:
    global _process_tag
    _process_tag = os.urandom(6).hex()


os.register_at_fork(after_in_child=_new_process_tag)  # a forked child must not share its parent's tag


def new_id() -> str:
    """Time-ordered unique ids (like UUIDv7): new rows append to the primary-key B-tree.

    Nanoseconds, a counter and a random tag drawn once per process (not per id: a
    system call per row showed in profiles) keep ids of concurrent workers apart.
    """
    return f"{time.time_ns():016x}{next(_seq) & 0xFFFF:04x}{_process_tag}"


@dataclass(slots=True)
class Link:
    """One row of ``links``: a pair of records (or a record seen on one side only)."""

    sync: str
    id: str = field(default_factory=new_id)
    left_id: str | None = None
    right_id: str | None = None
    left_base: dict[str, Any] | None = None
    right_base: dict[str, Any] | None = None
    snapshot: dict[str, Any] | None = None
    status: str | None = None
    reason: str | None = None
    category: str | None = None
    message: str | None = None
    hint: str | None = None
    pending: str | None = None
    left_deleted: bool = False
    right_deleted: bool = False
    left_seen: int | None = None
    right_seen: int | None = None
    handled: int | None = None
    label: str | None = None
    attempts: int = 0
    updated_at: str = ""
    # Writes sent but not confirmed: {"left": base, "right": base, "wrote": {side: values}},
    # the bases the pair has if they landed (settled by the runner when it next plans the pair).
    in_flight: dict[str, Any] | None = None
    # The column values as last read from or written to the index (None: unknown), so that
    # Store.save sets only the columns that changed. JSON values are replaced, never
    # changed in place: a dict changed in place would look unchanged here.
    saved: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

    def id_of(self, side: Side) -> str | None:
        return self.left_id if side is Side.LEFT else self.right_id

    def set_id(self, side: Side, value: str | None) -> None:
        if side is Side.LEFT:
            self.left_id = value
        else:
            self.right_id = value

    def base(self, side: Side) -> dict[str, Any] | None:
        return self.left_base if side is Side.LEFT else self.right_base

    def set_seen(self, side: Side, pass_id: int) -> None:
        if side is Side.LEFT:
            self.left_seen = pass_id
        else:
            self.right_seen = pass_id

    def deleted(self, side: Side) -> bool:
        return self.left_deleted if side is Side.LEFT else self.right_deleted

    def set_deleted(self, side: Side, value: bool) -> None:
        if side is Side.LEFT:
            self.left_deleted = value
        else:
            self.right_deleted = value

    @property
    def linked(self) -> bool:
        return self.left_id is not None and self.right_id is not None and self.left_base is not None

    def set_status(self, status: str | None, reason: str | None = None, category: str | None = None,
                   message: str | None = None, hint: str | None = None) -> None:
        self.status, self.reason, self.category, self.message, self.hint = status, reason, category, message, hint


_LINK_FIELDS = [f.name for f in fields(Link) if f.name != "saved"]


@dataclass(frozen=True, slots=True)
class SyncState:
    name: str
    enabled: bool
    config_hash: str
    initial_done: bool


@dataclass(slots=True)
class PageWrite:
    """Everything one page changes in the index, saved in one transaction."""

    new: dict[str, Link] = field(default_factory=dict)
    dirty: dict[str, Link] = field(default_factory=dict)
    add_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (side, key, link id)
    drop_keys: list[tuple[str, str]] = field(default_factory=list)  # (side, key)
    drop_links: list[str] = field(default_factory=list)
    pending: dict[str, Link] = field(default_factory=dict)  # saved rows: only ``pending`` and ``in_flight`` change

    def add(self, link: Link) -> None:
        self.new[link.id] = link

    def touch(self, link: Link) -> None:
        if link.id not in self.new:
            self.dirty[link.id] = link


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # 16 KiB pages for a new index (a no-op on an existing one): an index row holds two
    # bases and often a snapshot or in-flight writes, a page's rows are written together,
    # and bigger pages mean fewer WAL frames and B-tree pages per save: 6 % less CPU than
    # 4 KiB pages for an initial sync of 1,000,000 records per side (8 KiB was in between).
    cur.execute("PRAGMA page_size=16384")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: the index is hot during a pass
    cur.close()


def _dumps(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON_CODEC: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": orjson.loads}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            eng = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False}, **_JSON_CODEC)
        else:
            eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **_JSON_CODEC)
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, **_JSON_CODEC)


# The newest migration in migrations/versions (a test keeps the two in step). An index at
# this revision opens without alembic, which is imported only to upgrade an older one: a
# tenth of a second of every CLI call.
HEAD_REVISION = "0004"
_alembic_version = Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False),
                         PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest alembic revision (idempotent).

    A database without any of the index's tables gets them from the table definitions and
    is stamped with the newest revision, as alembic's documentation builds an up-to-date
    database from scratch (the tests check that this equals running every migration). On
    PostgreSQL a transaction-scoped advisory lock lets one of several workers starting at
    once do it while the others wait, then find the index up to date.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('accord index schema'))")
        tables = set(sa_inspect(conn).get_table_names())
        version = conn.execute(select(_alembic_version.c.version_num)).scalar() \
            if _alembic_version.name in tables else None
        if version == HEAD_REVISION:
            return
        if version is None and not tables & set(metadata.tables):
            metadata.create_all(conn)
            _alembic_version.create(conn)
            conn.execute(_alembic_version.insert().values(version_num=HEAD_REVISION))
            return
        upgrade_with_alembic(conn)


def upgrade_with_alembic(conn: Connection, revision: str = "head") -> None:
    """Run the migrations from the database's revision to ``revision``, in ``conn``'s transaction."""
    from alembic import command  # only here: importing alembic costs more than opening an index

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def alembic_config() -> Any:
    """The index's alembic configuration (its migrations are in ``migrations/``)."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(Path(__file__).with_name("alembic.ini")))
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return cfg


_JSON_FIELDS = frozenset(c.name for c in links.columns if isinstance(c.type, JSON))
# PostgreSQL: a page's rows go in with COPY (formatted in C), updates through a temporary table
_PG_PAGE = "accord_links_page"
_PG_SETS = ", ".join(f"{k} = p.{k}" for k in _LINK_FIELDS if k not in ("id", "sync"))


_get_all = attrgetter(*_LINK_FIELDS)
_JSON_POS = [i for i, k in enumerate(_LINK_FIELDS) if k in _JSON_FIELDS]
_JSON_SET = frozenset(_JSON_POS)
_UPDATABLE = tuple(range(2, len(_LINK_FIELDS)))  # every column but sync and id


def _params(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row's column values (``_LINK_FIELDS`` order: sync, id first), JSON columns encoded."""
    row = list(values)  # a list: JSON columns are encoded in place
    for i in _JSON_POS:
        if row[i] is not None:
            row[i] = _dumps(row[i])
    return tuple(row)


def _changes(values: tuple[Any, ...], saved: tuple[Any, ...] | None) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """The positions of the columns that changed since ``saved`` (all but sync and id when
    unknown) and their values, JSON encoded, then the row id."""
    cols = _UPDATABLE if saved is None else tuple(compress(_UPDATABLE, map(ne, values[2:], saved[2:])))
    return cols, (*[_dumps(v) if v is not None and i in _JSON_SET else v for i in cols for v in (values[i],)], values[1])


def _rows_to_links(rows: Iterable[Any]) -> list[Link]:
    out: list[Link] = []
    order: Any = None
    for r in rows:
        if order is None:  # positional: the table's column order is not the dataclass's
            order = itemgetter(*(r._fields.index(k) for k in _LINK_FIELDS))
        out.append(_link(order(r)))
    return out


def _link(values: tuple[Any, ...]) -> Link:
    link = Link(*values)
    link.saved = values  # as read: Store.save writes only what changes from here
    return link


_BOOL_POS = [i for i, k in enumerate(_LINK_FIELDS) if isinstance(links.c[k].type, Boolean)]


def _raw_links(rows: Iterable[Sequence[Any]]) -> list[Link]:
    """Links from plain DBAPI rows in ``_LINK_FIELDS`` order (SQLite gives JSON as text, booleans as 0/1)."""
    out: list[Link] = []
    for r in rows:
        row = list(r)
        for i in _JSON_POS:
            if isinstance(v := row[i], str | bytes):
                row[i] = orjson.loads(v)
        for i in _BOOL_POS:
            row[i] = bool(row[i])
        out.append(_link(tuple(row)))
    return out


def _fetch(c: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    cur = c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        migrate(self.engine)
        # The per-page writes are the index's hot path: plain DBAPI executemany with
        # statements built once (updates: once per set of changed columns), JSON encoded here,
        # skips per-row SQLAlchemy processing.
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        cols = ", ".join(_LINK_FIELDS)
        self._insert_sql = f"INSERT INTO links ({cols}) VALUES ({', '.join([mark] * len(_LINK_FIELDS))})"
        self._mark = mark
        self._select_links = f"SELECT {cols} FROM links"
        self._update_sqls: dict[tuple[int, ...], str] = {}
        self._pending_sql = f"UPDATE links SET pending = {mark}, in_flight = {mark} WHERE id = {mark}"
        self._keys_sql = f"INSERT INTO keys (sync, side, key, link_id) VALUES ({mark}, {mark}, {mark}, {mark})"
        # PostgreSQL: psycopg's executemany costs a pipelined round of Python work per row;
        # COPY formats a page's rows in C (the distributed mode's index is PostgreSQL).
        self._pg = self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    # -- syncs -----------------------------------------------------------------------
    def ensure_sync(self, name: str, config_hash: str, enabled: bool = True) -> SyncState:
        """Register a sync; a changed config fingerprint restarts its initial sync."""
        with self.engine.begin() as c:
            row = c.execute(select(syncs).where(syncs.c.name == name)).first()
            if row is None:
                c.execute(insert(syncs).values(name=name, enabled=enabled, config_hash=config_hash,
                                               initial_done=False, created_at=now_iso(), updated_at=now_iso()))
                return SyncState(name, enabled, config_hash, False)
            if row.config_hash != config_hash:
                c.execute(update(syncs).where(syncs.c.name == name).values(
                    config_hash=config_hash, initial_done=False, updated_at=now_iso()))
                return SyncState(name, row.enabled, config_hash, False)
            return SyncState(name, row.enabled, row.config_hash, row.initial_done)

    def sync_state(self, name: str) -> SyncState | None:
        with self.engine.connect() as c:
            row = c.execute(select(syncs).where(syncs.c.name == name)).first()
        return SyncState(row.name, row.enabled, row.config_hash, row.initial_done) if row else None

    def set_enabled(self, name: str, enabled: bool) -> bool:
        with self.engine.begin() as c:
            res = c.execute(update(syncs).where(syncs.c.name == name).values(enabled=enabled, updated_at=now_iso()))
            return bool(res.rowcount)

    def set_initial_done(self, name: str, done: bool = True) -> None:
        with self.engine.begin() as c:
            c.execute(update(syncs).where(syncs.c.name == name).values(initial_done=done, updated_at=now_iso()))

    # -- cursors ---------------------------------------------------------------------
    def cursor(self, sync: str, side: Side) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(cursors.c.cursor).where(
                cursors.c.sync == sync, cursors.c.side == side.value)).scalar()

    def set_cursor(self, sync: str, side: Side, cursor: str) -> None:
        with self.engine.begin() as c:
            self._set_cursor(c, sync, side, cursor)

    def _set_cursor(self, c: Connection, sync: str, side: Side, cursor: str) -> None:
        res = c.execute(update(cursors).where(cursors.c.sync == sync, cursors.c.side == side.value)
                        .values(cursor=cursor, updated_at=now_iso()))
        if not res.rowcount:
            c.execute(insert(cursors).values(sync=sync, side=side.value, cursor=cursor, updated_at=now_iso()))

    # -- run log ---------------------------------------------------------------------
    def begin_run(self, sync: str, kind: str) -> int:
        with self.engine.begin() as c:
            res = c.execute(insert(runs).values(sync=sync, kind=kind, started_at=now_iso(), status="running"))
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, status: str, counters: dict[str, Any], error: str | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=now_iso(), status=status, counters=counters, error=error))

    def runs(self, sync: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        q = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if sync:
            q = q.where(runs.c.sync == sync)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    # -- links -----------------------------------------------------------------------
    # The three lookups below run for every page: plain DBAPI queries skip SQLAlchemy's
    # per-call statement building (an IN list of up to 500 bound values) and row processing.
    def links_by_record(self, sync: str, side: Side, ids: Sequence[str]) -> dict[str, Link]:
        col = "left_id" if side is Side.LEFT else "right_id"
        out: dict[str, Link] = {}
        with self.engine.connect() as c:
            for chunk in _chunks(ids):
                rows = _fetch(c, f"{self._select_links} WHERE sync = {self._mark} AND {col} IN ({self._marks(chunk)})",
                              (sync, *chunk))
                for link in _raw_links(rows):
                    out[str(link.id_of(side))] = link
        return out

    def links_by_id(self, ids: Sequence[str]) -> dict[str, Link]:
        out: dict[str, Link] = {}
        with self.engine.connect() as c:
            for chunk in _chunks(ids):
                for link in _raw_links(_fetch(c, f"{self._select_links} WHERE id IN ({self._marks(chunk)})", chunk)):
                    out[link.id] = link
        return out

    def key_owners(self, sync: str, side: Side, wanted: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        m = self._mark
        with self.engine.connect() as c:
            for chunk in _chunks(wanted):
                sql = f"SELECT key, link_id FROM keys WHERE sync = {m} AND side = {m} AND key IN ({self._marks(chunk)})"
                out.update(_fetch(c, sql, (sync, side.value, *chunk)))
        return out

    def _marks(self, values: Sequence[Any]) -> str:
        return ", ".join([self._mark] * len(values))

    def keys_of(self, link_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        with self.engine.connect() as c:
            for i in range(0, len(link_ids), _CHUNK):
                q = select(keys.c.link_id, keys.c.side, keys.c.key).where(keys.c.link_id.in_(list(link_ids[i:i + _CHUNK])))
                for r in c.execute(q):
                    out.setdefault(r.link_id, []).append((r.side, r.key))
        return out

    def save(self, sync: str, w: PageWrite, cursor: tuple[Side, str] | None = None) -> None:
        """Write one page's changes (and optionally a cursor) in one transaction."""
        stamp = now_iso()
        with self.engine.begin() as c:
            if w.drop_keys:
                for side_key in _chunks(w.drop_keys):
                    for side in ("left", "right"):
                        ks = [k for s, k in side_key if s == side]
                        if ks:
                            c.execute(delete(keys).where(keys.c.sync == sync, keys.c.side == side, keys.c.key.in_(ks)))
            if w.drop_links:
                for chunk in _chunks(w.drop_links):
                    c.execute(delete(keys).where(keys.c.link_id.in_(chunk)))
                    c.execute(delete(links).where(links.c.id.in_(chunk)))
            for link in itertools.chain(w.new.values(), w.dirty.values()):
                link.updated_at = stamp
            new = [_get_all(link) for link in w.new.values()]
            dirty = [(_get_all(link), link.saved) for link in w.dirty.values()]
            if new:
                self._insert_links(c, [_params(values) for values in new])
            if dirty:
                self._update_links(c, dirty)
            # rows written whole above already carry ``pending`` and ``in_flight``
            pending_only = [lk for lid, lk in w.pending.items() if w.dirty.get(lid) is not lk and w.new.get(lid) is not lk]
            if pending_only:
                c.exec_driver_sql(self._pending_sql, [
                    (lk.pending, None if lk.in_flight is None else _dumps(lk.in_flight), lk.id) for lk in pending_only])
            if w.add_keys:
                if self._pg:
                    _copy(c, "keys", [(sync, s, k, lid) for s, k, lid in w.add_keys], ("sync", "side", "key", "link_id"))
                else:
                    c.exec_driver_sql(self._keys_sql, [(sync, s, k, lid) for s, k, lid in w.add_keys])
            if cursor is not None:
                self._set_cursor(c, sync, cursor[0], cursor[1])
        # committed: what the rows hold now
        for link, values in zip(w.new.values(), new, strict=True):
            link.saved = values
        for link, (values, _) in zip(w.dirty.values(), dirty, strict=True):
            link.saved = values
        for link in pending_only:
            link.saved = None  # only two columns written: the others may differ from the row

    def _insert_links(self, c: Connection, rows: list[tuple[Any, ...]]) -> None:
        if self._pg:
            _copy(c, "links", rows)
        else:
            c.exec_driver_sql(self._insert_sql, rows)

    def _update_links(self, c: Connection, dirty: list[tuple[tuple[Any, ...], tuple[Any, ...] | None]]) -> None:
        """Rows given as (column values now, as last read or saved)."""
        if not self._pg:
            # Only the columns that changed: SQLite rewrites the entries of every index whose
            # column is SET, changed or not (a third of an update's cost in profiles).
            by_cols: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
            for values, saved in dirty:
                cols, params = _changes(values, saved)
                by_cols.setdefault(cols, []).append(params)
            for cols, rows in by_cols.items():
                if cols:
                    c.exec_driver_sql(self._update_sql_for(cols), rows)
            return
        rows = [_params(values) for values, _ in dirty]
        # emptied at commit; created once per connection (IF NOT EXISTS is a no-op after)
        c.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_PG_PAGE} ON COMMIT DELETE ROWS "
                          "AS SELECT * FROM links WITH NO DATA")
        _copy(c, _PG_PAGE, rows)
        c.exec_driver_sql(f"UPDATE links SET {_PG_SETS} FROM {_PG_PAGE} AS p WHERE links.id = p.id")

    def _update_sql_for(self, cols: tuple[int, ...]) -> str:
        sql = self._update_sqls.get(cols)
        if sql is None:
            m = self._mark
            sql = self._update_sqls[cols] = f"UPDATE links SET {', '.join(f'{_LINK_FIELDS[i]} = {m}' for i in cols)} WHERE id = {m}"
        return sql

    def iter_links(self, sync: str, *conditions: Any, chunk: int = 1000) -> Iterator[list[Link]]:
        """Stream rows matching ``conditions`` in id order, a chunk at a time (keyset paging)."""
        after = ""
        while True:
            with self.engine.connect() as c:
                q = (select(links).where(links.c.sync == sync, links.c.id > after, *conditions)
                     .order_by(links.c.id).limit(chunk))
                batch = _rows_to_links(c.execute(q))
            if not batch:
                return
            yield batch
            after = batch[-1].id

    def counts(self, sync: str) -> dict[str, int]:
        with self.engine.connect() as c:
            q = select(links.c.status, func.count()).where(links.c.sync == sync, links.c.status.is_not(None)).group_by(links.c.status)
            return {r[0]: int(r[1]) for r in c.execute(q)}

    def reason_counts(self, sync: str) -> dict[str, int]:
        with self.engine.connect() as c:
            q = (select(links.c.status, func.coalesce(links.c.reason, links.c.category), func.count())
                 .where(links.c.sync == sync, links.c.status.in_(["excluded", "failing"]))
                 .group_by(links.c.status, func.coalesce(links.c.reason, links.c.category)))
            return {f"{r[0]}/{r[1]}": int(r[2]) for r in c.execute(q)}

    def records(self, sync: str, status: str | None = None, limit: int | None = None, offset: int = 0) -> list[Link]:
        q = select(links).where(links.c.sync == sync).order_by(links.c.id).offset(offset)
        if status:
            q = q.where(links.c.status == status)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as c:
            return _rows_to_links(c.execute(q))

    def deleted_links(self, sync: str, side: Side) -> Iterator[list[Link]]:
        col = links.c.left_deleted if side is Side.LEFT else links.c.right_deleted
        other_deleted = links.c.right_deleted if side is Side.LEFT else links.c.left_deleted
        return self.iter_links(sync, and_(col.is_(True), other_deleted.is_(False)))

    def clone_sync(self, sync: str, target: Store) -> None:
        """Copy one sync's index into another store (dry runs work on a throwaway copy)."""
        with self.engine.connect() as src, target.engine.begin() as dst:
            for table, col in ((syncs, syncs.c.name), (cursors, cursors.c.sync), (runs, runs.c.sync)):
                rows = [dict(r._mapping) for r in src.execute(select(table).where(col == sync))]
                if rows:
                    dst.execute(insert(table), rows)
            for table in (links, keys):
                result = src.execution_options(yield_per=2000).execute(select(table).where(table.c.sync == sync))
                for part in result.partitions():
                    dst.execute(insert(table), [dict(r._mapping) for r in part])

    def delete_sync(self, sync: str) -> None:
        with self.engine.begin() as c:
            for t in (keys, links, cursors, runs):
                c.execute(delete(t).where(t.c.sync == sync))
            c.execute(delete(syncs).where(syncs.c.name == sync))

    # -- service state: apps and syncs made through the API, seen webhook events --------
    def managed_apps(self) -> dict[str, tuple[str, str]]:
        """name → (type, encrypted config)."""
        with self.engine.connect() as c:
            return {r.name: (r.type, r.secret) for r in c.execute(select(managed_apps).order_by(managed_apps.c.name))}

    def put_managed_app(self, name: str, type: str, secret: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(managed_apps).where(managed_apps.c.name == name))
            c.execute(insert(managed_apps).values(name=name, type=type, secret=secret,
                                                  created_at=now_iso(), updated_at=now_iso()))

    def delete_managed_app(self, name: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(managed_apps).where(managed_apps.c.name == name))

    def managed_syncs(self) -> list[dict[str, Any]]:
        """The stored sync configs, oldest first."""
        with self.engine.connect() as c:
            rows = c.execute(select(managed_syncs).order_by(managed_syncs.c.created_at, managed_syncs.c.name))
            return [dict(r.config) for r in rows]

    def put_managed_sync(self, name: str, config: dict[str, Any]) -> None:
        with self.engine.begin() as c:
            row = c.execute(select(managed_syncs.c.created_at).where(managed_syncs.c.name == name)).first()
            c.execute(delete(managed_syncs).where(managed_syncs.c.name == name))
            c.execute(insert(managed_syncs).values(name=name, config=config, updated_at=now_iso(),
                                                   created_at=row.created_at if row else now_iso()))

    def delete_managed_sync(self, name: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(managed_syncs).where(managed_syncs.c.name == name))

    def claim_events(self, app: str, event_ids: Sequence[str], keep: float = 86400.0) -> set[str]:
        """Record webhook event ids; return those never seen before (the rest are replays).

        Ids older than ``keep`` seconds are forgotten: a replay that old also fails the
        signature's timestamp check.
        """
        now = time.time()
        wanted = list(dict.fromkeys(event_ids))
        with self.engine.begin() as c:
            seen: set[str] = set()
            for part in _chunks(wanted):
                seen.update(r[0] for r in c.execute(select(webhook_events.c.event_id).where(
                    webhook_events.c.app == app, webhook_events.c.event_id.in_(part))))
            fresh = [e for e in wanted if e not in seen]
            if fresh:
                c.execute(insert(webhook_events), [{"app": app, "event_id": e, "seen_at": now} for e in fresh])
            c.execute(delete(webhook_events).where(webhook_events.c.seen_at < now - keep))
            return set(fresh)


def _copy(c: Connection, table: str, rows: list[tuple[Any, ...]], columns: Sequence[str] = _LINK_FIELDS) -> None:
    """COPY rows (whole ``links`` rows in ``_params`` order by default) into ``table``, in ``c``'s transaction."""
    dbapi: Any = c.connection.dbapi_connection
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    error: Any = c.dialect.loaded_dbapi.Error
    try:
        with dbapi.cursor() as cur, cur.copy(sql) as cp:
            for row in rows:
                cp.write_row(row)
    except error as e:  # as SQLAlchemy raises them (IntegrityError for a duplicate id …)
        raise DBAPIError.instance(sql, None, e, error) from e


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield list(items[i:i + n])
