"""Links and their bases: the pairs of records of a sync, their match keys, and the per-page
lookups and saves of the runner (the index's hot path).

The runner reads rows a page at a time and writes each page back in one transaction
(:meth:`LinkStore.save`), so the index costs a handful of statements per page, not per record.
"""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from itertools import compress
from operator import attrgetter, itemgetter, ne
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Integer, Text, and_, delete, func, insert, or_, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from accord.index.db import CHUNK, IndexDB, chunks, dumps, new_id, now_iso
from accord.index.runs import PageLedger
from accord.index.schema import keys, link_flights, links, page_intents
from accord.index.sync_state import write_cursor
from accord.model import Side

log = logging.getLogger("accord.index.links")

# Link.flight_saved before the link's in-flight row was read or written
_UNKNOWN: Any = object()

# rows added to links and keys before PostgreSQL first analyzes them (LinkStore._analyze_as_they_grow)
_FIRST_ANALYZE = 2000


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
    # Stored in ``link_flights``, not in the ``links`` row (see schema.link_flights).
    in_flight: dict[str, Any] | None = None
    # The column values as last read from or written to the index (None: unknown), so that
    # Store.save sets only the columns that changed. JSON values are replaced, never
    # changed in place: a dict changed in place would look unchanged here.
    saved: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    # ``in_flight`` as last read from or written to ``link_flights`` (_UNKNOWN: not known)
    flight_saved: Any = field(default=_UNKNOWN, repr=False, compare=False)

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


# The link's stored values: the columns of its ``links`` row (_COLS), then ``in_flight``
LINK_FIELDS = [f.name for f in fields(Link) if f.name not in ("saved", "flight_saved")]
_COLS = LINK_FIELDS[:-1]
assert LINK_FIELDS[-1] == "in_flight" and set(_COLS) == {c.name for c in links.columns}


@dataclass(slots=True)
class PageWrite:
    """Everything one page changes in the index, saved in one transaction."""

    new: dict[str, Link] = field(default_factory=dict)
    dirty: dict[str, Link] = field(default_factory=dict)
    add_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (side, key, link id)
    drop_keys: list[tuple[str, str]] = field(default_factory=list)  # (side, key)
    drop_links: list[str] = field(default_factory=list)
    pending: dict[str, Link] = field(default_factory=dict)  # saved rows: only ``pending`` and ``in_flight`` change
    # The page's intent row (LinkStore.write_intent), deleted by the save that writes the rows
    intent: int | None = None

    def add(self, link: Link) -> None:
        self.new[link.id] = link

    def touch(self, link: Link) -> None:
        if link.id not in self.new:
            self.dirty[link.id] = link


_JSON_FIELDS = frozenset(c.name for c in links.columns if isinstance(c.type, JSON))
# PostgreSQL: a page's new rows go in with COPY (formatted in C); its updated rows in one
# UPDATE per set of changed columns from one JSON document (json_to_recordset): no temporary
# table to fill and empty per page, and only the columns that changed are sent and parsed
_PG_TYPES = {k: "json" if k in _JSON_FIELDS else "boolean" if isinstance(links.c[k].type, Boolean)
             else "integer" if isinstance(links.c[k].type, Integer) else "text" for k in _COLS}


_get_all = attrgetter(*_COLS)
_JSON_POS = [i for i, k in enumerate(_COLS) if k in _JSON_FIELDS]
_JSON_SET = frozenset(_JSON_POS)
_UPDATABLE = tuple(range(2, len(_COLS)))  # every column but sync and id
_PENDING_POS = _COLS.index("pending")


def _params(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row's column values (``_COLS`` order: sync, id first), JSON columns encoded."""
    row = list(values)  # a list: JSON columns are encoded in place
    for i in _JSON_POS:
        if row[i] is not None:
            row[i] = dumps(row[i])
    return tuple(row)


def _changed(values: tuple[Any, ...], saved: tuple[Any, ...] | None) -> tuple[int, ...]:
    """The positions of the columns that changed since ``saved`` (all but sync and id when unknown)."""
    return _UPDATABLE if saved is None else tuple(compress(_UPDATABLE, map(ne, values[2:], saved[2:])))


def _changes(values: tuple[Any, ...], saved: tuple[Any, ...] | None) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """The columns that changed (:func:`_changed`) and their values, JSON encoded, then the row id."""
    cols = _changed(values, saved)
    return cols, (*[dumps(v) if v is not None and i in _JSON_SET else v for i in cols for v in (values[i],)], values[1])


def _rows_to_links(rows: Iterable[Any]) -> list[Link]:
    out: list[Link] = []
    order: Any = None
    for r in rows:
        if order is None:  # positional: the table's column order is not the dataclass's
            order = itemgetter(*(r._fields.index(k) for k in LINK_FIELDS))
        out.append(_link(order(r)))
    return out


def _link(values: tuple[Any, ...]) -> Link:
    """A link from its values in ``LINK_FIELDS`` order (the row's columns, then ``in_flight``)."""
    link = Link(*values)
    link.saved = values[:-1]  # as read: Store.save writes only what changes from here
    link.flight_saved = values[-1]
    return link


_BOOL_POS = [i for i, k in enumerate(_COLS) if isinstance(links.c[k].type, Boolean)]
_RAW_JSON_POS = [*_JSON_POS, len(_COLS)]  # and in_flight, the last value


# ``links``' columns in ``LINK_FIELDS`` order as the driver returns them (JSON as text, booleans as
# 0/1 on SQLite), decoded by ``_raw_links``: SQLAlchemy's per-value result processors cost more
# than the rest of reading a chunk of rows.
_RAW_COLUMNS = [*(type_coerce(links.c[k], Text).label(k) if k in _JSON_FIELDS
                  else type_coerce(links.c[k], Integer).label(k) if isinstance(links.c[k].type, Boolean)
                  else links.c[k] for k in _COLS),
                type_coerce(link_flights.c.in_flight, Text).label("in_flight")]


def _raw_links(rows: Iterable[Sequence[Any]]) -> list[Link]:
    """Links from plain DBAPI rows in ``LINK_FIELDS`` order (SQLite gives JSON as text, booleans as 0/1)."""
    out: list[Link] = []
    for r in rows:
        row = list(r)
        for i in _RAW_JSON_POS:
            if isinstance(v := row[i], str | bytes):
                row[i] = orjson.loads(v)
        for i in _BOOL_POS:
            row[i] = bool(row[i])
        out.append(_link(tuple(row)))
    return out


class IntentsReplayed(RuntimeError):
    """A page was about to be saved while the index still held the intents of a page whose last
    save never ran; they are replayed now, and this page, planned without them, is not saved."""

    def __init__(self, sync: str, count: int) -> None:
        super().__init__(f"sync {sync!r}: the index held the writes of {count} interrupted page(s); they are "
                         "recovered now, and this pass stops so that the next one plans from them")


class _Stale(Exception):
    """Intents of another page are in the index (raised inside a save's transaction)."""


class _IntentGone(Exception):
    """The page's own intent row is no longer there: replayed (or saved) by someone else."""


def _pending_only(w: PageWrite) -> list[Link]:
    """``w.pending``'s links whose rows ``w`` does not write whole (new or dirty)."""
    return [lk for lid, lk in w.pending.items() if w.dirty.get(lid) is not lk and w.new.get(lid) is not lk]


def _intent_body(w: PageWrite, compress: bool) -> bytes:
    """A PageWrite as one document: what the per-row save would write, to replay it later.

    On PostgreSQL compressed (zlib, its fastest level): the document holds each value several
    times (the snapshot, both planned bases, the values written), 1–2 kB a record, and
    compresses ~10×. A row of 27 MB (a group of 25,000 creates) cost the server 0.35 CPU-s
    to compress (pglz, when its value goes to TOAST), store and delete; compressed here
    first, 0.08 s here and 0.04 s there. SQLite stores it as is: compressing cost more
    than writing the bigger blob (zlib was 6 % of the instructions of a HubSpot → SQL load
    of 10,000 contacts in pages of 500; writing the 0.85 MB of a page's intent as is costs
    ~1.3 ms, compressing it first ~2 ms more)."""
    doc = orjson.dumps({
        "new": [(*_get_all(lk), lk.in_flight) for lk in w.new.values()],
        "dirty": [(*_get_all(lk), lk.in_flight) for lk in w.dirty.values()],
        "pending": [(lk.sync, lk.id, lk.pending, lk.in_flight) for lk in _pending_only(w)],
        "add_keys": w.add_keys, "drop_keys": w.drop_keys, "drop_links": w.drop_links,
    }, option=orjson.OPT_NON_STR_KEYS)
    return zlib.compress(doc, 1) if compress else doc


def _intent_write(body: bytes) -> PageWrite:
    """The PageWrite an intent row stands for; its links' rows are written whole (their state as
    last saved is unknown here), as the per-row save before sending would have written them."""
    # stored as is (SQLite, or a version that compressed none) or zlib's (whose first byte is 0x78)
    d = orjson.loads(body if body[:1] == b"{" else zlib.decompress(body))
    w = PageWrite()
    for values in d["new"]:
        link = Link(*values)
        w.new[link.id] = link
    for values in d["dirty"]:
        link = Link(*values)
        w.dirty[link.id] = link
    for sync, lid, pending, flight in d["pending"]:
        w.pending[lid] = Link(sync, lid, pending=pending, in_flight=flight)
    w.add_keys = [(s, k, lid) for s, k, lid in d["add_keys"]]
    w.drop_keys = [(s, k) for s, k in d["drop_keys"]]
    w.drop_links = list(d["drop_links"])
    return w


def _fetch(c: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    cur = c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()


class LinkStore(IndexDB):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        # The per-page writes are the index's hot path: plain DBAPI executemany with
        # statements built once (updates: once per set of changed columns), JSON encoded here,
        # skips per-row SQLAlchemy processing.
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._insert_sql = f"INSERT INTO links ({', '.join(_COLS)}) VALUES ({', '.join([mark] * len(_COLS))})"
        self._mark = mark
        # in_flight joined in: one statement per page, a primary-key probe per row
        self._select_links = (f"SELECT {', '.join(f'links.{k}' for k in _COLS)}, link_flights.in_flight FROM links "
                              "LEFT JOIN link_flights ON link_flights.link_id = links.id")
        self._update_sqls: dict[tuple[int, ...], str] = {}
        self._pending_sql = f"UPDATE links SET pending = {mark} WHERE id = {mark}"
        self._flight_sql = (f"INSERT INTO link_flights (link_id, sync, in_flight) VALUES ({mark}, {mark}, {mark}) "
                            "ON CONFLICT (link_id) DO UPDATE SET in_flight = excluded.in_flight")
        self._keys_sql = f"INSERT INTO keys (sync, side, key, link_id) VALUES ({mark}, {mark}, {mark}, {mark})"
        self._stale_sql = f"SELECT id FROM page_intents WHERE sync = {mark} ORDER BY id LIMIT 1"
        self._consume_sql = f"DELETE FROM page_intents WHERE id = {mark}"
        # PostgreSQL: psycopg's executemany costs a pipelined round of Python work per row;
        # COPY formats a page's rows in C (the distributed mode's index is PostgreSQL).
        self._pg = self.engine.dialect.name == "postgresql"
        # rows this store added to links and keys since it last had PostgreSQL analyze them,
        # and the count that makes it do so again (see _analyze_as_they_grow)
        self._grown, self._analyze_at = 0, _FIRST_ANALYZE

    # -- links -----------------------------------------------------------------------
    # The three lookups below run for every page: plain DBAPI queries skip SQLAlchemy's
    # per-call statement building (an IN list of up to 500 bound values) and row processing.
    def links_by_record(self, sync: str, side: Side, ids: Sequence[str]) -> dict[str, Link]:
        col = "left_id" if side is Side.LEFT else "right_id"
        out: dict[str, Link] = {}
        with self.engine.connect() as c:
            for chunk in chunks(ids):
                rows = _fetch(c, f"{self._select_links} WHERE links.sync = {self._mark} AND links.{col} {self._in(chunk)}",
                              (sync, *self._in_params(chunk)))
                for link in _raw_links(rows):
                    out[str(link.id_of(side))] = link
        return out

    def links_by_id(self, ids: Sequence[str]) -> dict[str, Link]:
        out: dict[str, Link] = {}
        with self.engine.connect() as c:
            for chunk in chunks(ids):
                for link in _raw_links(_fetch(c, f"{self._select_links} WHERE links.id {self._in(chunk)}",
                                              self._in_params(chunk))):
                    out[link.id] = link
        return out

    def key_owners(self, sync: str, side: Side, wanted: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        m = self._mark
        with self.engine.connect() as c:
            for chunk in chunks(wanted):
                sql = f"SELECT key, link_id FROM keys WHERE sync = {m} AND side = {m} AND key {self._in(chunk)}"
                out.update(_fetch(c, sql, (sync, side.value, *self._in_params(chunk))))
        return out

    def _in(self, values: Sequence[Any]) -> str:
        """``IN (?, ?, …)``; on PostgreSQL ``= ANY(%s)`` with one array: the same statement text
        whatever the number of values, which psycopg prepares once per connection, instead of
        the server parsing and planning a list of up to 500 values per page."""
        if self._pg:
            return f"= ANY({self._mark}::text[])"
        return f"IN ({', '.join([self._mark] * len(values))})"

    def _in_params(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return (_pg_array(values),) if self._pg else tuple(values)

    def keys_of(self, link_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        with self.engine.connect() as c:
            for i in range(0, len(link_ids), CHUNK):
                q = select(keys.c.link_id, keys.c.side, keys.c.key).where(keys.c.link_id.in_(list(link_ids[i:i + CHUNK])))
                for r in c.execute(q):
                    out.setdefault(r.link_id, []).append((r.side, r.key))
        return out

    def save(self, sync: str, w: PageWrite, cursor: tuple[Side, str] | None = None,
             fence: Callable[[Connection], None] | None = None, ledger: PageLedger | None = None,
             page_end: bool = False) -> None:
        """Write one page's changes (and optionally a cursor) in one transaction; ``fence``
        runs first in it and raises if this process no longer holds the sync's lease.
        ``ledger`` (a pass run in steps) writes the counters the page added, and with
        ``page_end`` the page's scan cursor, in the same transaction.

        ``w.intent`` (write_intent) is deleted in the same transaction. If the index holds
        intents of another page, nothing is saved: they are replayed and IntentsReplayed is
        raised, since ``w`` was planned without them."""
        try:
            self._save(sync, w, cursor, fence, ledger, page_end, now_iso(), check_stale=True)
        except BaseException as e:
            if ledger is not None:
                ledger.rolled_back()
            if isinstance(e, _Stale):
                raise IntentsReplayed(sync, self.replay_intents(sync, fence)) from None
            if isinstance(e, _IntentGone):
                raise IntentsReplayed(sync, 1) from None
            raise
        w.intent = None
        if ledger is not None:
            ledger.committed()
        self._analyze_as_they_grow(len(w.new) + len(w.add_keys))

    def _analyze_as_they_grow(self, added: int) -> None:
        """PostgreSQL: have the planner's statistics of links and keys follow their growth.

        An index's tables start empty, and autovacuum analyzes them at most once a minute: in
        between, the planner takes them for tiny and looks a page's keys up with an index scan
        of the whole side (``key = ANY(…)`` as a filter, not an index condition), so an initial
        sync cost O(n²): 100,000 records per side, 31 CPU-s of the server (the keys look-ups
        10.8 s, the links ones 7.1 s) for 7.4 in the engine. ANALYZE each time they have
        doubled (~0.1 s each, a dozen in a sync of millions) keeps every look-up a probe."""
        if not self._pg:
            return
        self._grown += added
        if self._grown < self._analyze_at:
            return
        try:
            with self.engine.connect() as c:
                c.exec_driver_sql("ANALYZE links, keys")
                c.commit()
                grown = c.exec_driver_sql("SELECT sum(reltuples) FROM pg_class WHERE relname IN ('links', 'keys')").scalar()
        except DBAPIError as e:
            # the page is saved; statistics only speed the next look-ups up (and autovacuum
            # makes them too): a failure here must not pass for a failed save
            log.warning("could not analyze the index's tables (the page is saved): %s", e)
            grown = self._analyze_at
        self._grown, self._analyze_at = 0, max(_FIRST_ANALYZE, int(grown or 0))

    # -- page intents (schema.page_intents) ------------------------------------------------
    def write_intent(self, sync: str, w: PageWrite, fence: Callable[[Connection], None] | None = None) -> None:
        """Save what ``w`` holds as one intent row (``w.intent``) instead of its rows, before the
        page's writes are sent; the page's last save (``save(w)``, ``w`` grown by the outcomes)
        writes the rows and deletes the intent. Replayed by :meth:`replay_intents` if that
        save never runs. Raises IntentsReplayed as :meth:`save` does."""
        stamp = now_iso()
        for link in itertools.chain(w.new.values(), w.dirty.values()):
            link.updated_at = stamp
        body = _intent_body(w, compress=self._pg)
        try:
            with self.engine.begin() as c:
                if fence is not None:
                    fence(c)
                if _fetch(c, self._stale_sql, (sync,)):
                    raise _Stale
                key = c.execute(insert(page_intents).values(sync=sync, body=body, created_at=stamp)).inserted_primary_key
                assert key is not None
                w.intent = int(key[0])
        except _Stale:
            raise IntentsReplayed(sync, self.replay_intents(sync, fence)) from None

    def replay_intents(self, sync: str, fence: Callable[[Connection], None] | None = None) -> int:
        """Write the rows of ``sync``'s intents left by pages whose last save never ran, oldest
        first, each in one transaction with its deletion: the index is then as if each page
        had saved its rows before sending, and the next plan of its pairs settles what landed
        (pending creates are looked up by key, in-flight bases by value). Returns how many."""
        done = 0
        while True:
            with self.engine.connect() as c:
                rows = _fetch(c, f"SELECT id, body FROM page_intents WHERE sync = {self._mark} ORDER BY id LIMIT 1",
                              (sync,))
            if not rows:
                return done
            intent_id, body = rows[0]
            w = _intent_write(bytes(body))
            w.intent = int(intent_id)
            try:
                self._save(sync, w, None, fence, None, False, now_iso(), check_stale=False)
            except _IntentGone:  # saved or replayed meanwhile
                continue
            done += 1
            log.warning("sync %s: replayed the index changes of a page whose last save never ran "
                        "(its writes are settled by the next plan of its pairs)", sync)

    def has_intents(self, sync: str) -> bool:
        with self.engine.connect() as c:
            return bool(_fetch(c, self._stale_sql, (sync,)))

    def _save(self, sync: str, w: PageWrite, cursor: tuple[Side, str] | None,
              fence: Callable[[Connection], None] | None, ledger: PageLedger | None, page_end: bool,
              stamp: str, *, check_stale: bool) -> None:
        with self.engine.begin() as c:
            if fence is not None:
                fence(c)
            if w.intent is not None and c.exec_driver_sql(self._consume_sql, (w.intent,)).rowcount != 1:
                raise _IntentGone
            if check_stale and _fetch(c, self._stale_sql, (sync,)):
                raise _Stale
            if w.drop_links:
                for chunk in chunks(w.drop_links):
                    c.execute(delete(keys).where(keys.c.link_id.in_(chunk)))
                    c.execute(delete(link_flights).where(link_flights.c.link_id.in_(chunk)))
                    c.execute(delete(links).where(links.c.id.in_(chunk)))
            for link in itertools.chain(w.new.values(), w.dirty.values()):
                link.updated_at = stamp
            new = [_get_all(link) for link in w.new.values()]
            dirty = [(_get_all(link), link.saved) for link in w.dirty.values()]
            if new:
                self._insert_links(c, [_params(values) for values in new])
            if dirty:
                self._update_links(c, dirty)
            # rows written whole above already carry ``pending``
            pending_only = _pending_only(w)
            if pending_only:
                # a row known to hold the link's ``pending`` already is left alone
                changed = [(lk.pending, lk.id) for lk in pending_only
                           if lk.saved is None or lk.saved[_PENDING_POS] != lk.pending]
                if changed:
                    c.exec_driver_sql(self._pending_sql, changed)
            self._save_flights(c, w, pending_only)
            if w.add_keys:
                if self._pg:
                    _copy(c, "keys", [(sync, s, k, lid) for s, k, lid in w.add_keys], ("sync", "side", "key", "link_id"))
                else:
                    c.exec_driver_sql(self._keys_sql, [(sync, s, k, lid) for s, k, lid in w.add_keys])
            if w.drop_keys:
                # after add_keys: a key added by the page's intent and dropped by its outcome (a
                # failed create) is then not there, whether the intent was saved as rows or not
                for side_key in chunks(w.drop_keys):
                    for side in ("left", "right"):
                        ks = [k for s, k in side_key if s == side]
                        if ks:
                            c.execute(delete(keys).where(keys.c.sync == sync, keys.c.side == side, keys.c.key.in_(ks)))
            if cursor is not None:
                write_cursor(c, sync, cursor[0], cursor[1])
            if ledger is not None:
                ledger.write(c, page_end)
        # committed: what the rows hold now
        for link, values in zip(w.new.values(), new, strict=True):
            link.saved = values
        for link, (values, _) in zip(w.dirty.values(), dirty, strict=True):
            link.saved = values
        for link in pending_only:
            if link.saved is not None:  # only ``pending`` written
                link.saved = (*link.saved[:_PENDING_POS], link.pending, *link.saved[_PENDING_POS + 1:])
        for link in itertools.chain(w.new.values(), w.dirty.values(), pending_only):
            link.flight_saved = link.in_flight

    def _save_flights(self, c: Connection, w: PageWrite, pending_only: list[Link]) -> None:
        """Write the in-flight intents that changed (a row per link that has one, see
        schema.link_flights), in the page's transaction."""
        put: list[tuple[str, str, str]] = []
        clear: list[str] = []
        for link in w.new.values():
            if link.in_flight is not None:
                put.append((link.id, link.sync, dumps(link.in_flight)))
        for link in itertools.chain(w.dirty.values(), pending_only):
            flight = link.in_flight
            if flight != link.flight_saved:  # always when not known (_UNKNOWN equals nothing)
                if flight is None:
                    clear.append(link.id)
                else:
                    put.append((link.id, link.sync, dumps(flight)))
        if put and w.drop_links:  # a link dropped in this page keeps no intent
            dropped = set(w.drop_links)
            put = [p for p in put if p[0] not in dropped]
        for chunk in chunks(clear):
            # plain DBAPI: SQLAlchemy compiling an expanding IN of up to 500 ids per chunk cost
            # as much as the deletes themselves
            c.exec_driver_sql(f"DELETE FROM link_flights WHERE link_id {self._in(chunk)}", self._in_params(chunk))
        if put:
            c.exec_driver_sql(self._flight_sql, put)

    def _insert_links(self, c: Connection, rows: list[tuple[Any, ...]]) -> None:
        if self._pg:
            _copy(c, "links", rows)
        else:
            c.exec_driver_sql(self._insert_sql, rows)

    def _update_links(self, c: Connection, dirty: list[tuple[tuple[Any, ...], tuple[Any, ...] | None]]) -> None:
        """Rows given as (column values now, as last read or saved).

        Only the columns that changed are set: SQLite rewrites the entries of every index whose
        column is SET, changed or not (a third of an update's cost in profiles), and
        PostgreSQL parses fewer values."""
        if self._pg:
            # one statement per set of changed columns, the rows as one JSON document (encoded
            # here in C, parsed by the server in C); the same text for the same columns, so
            # psycopg prepares it once per connection
            docs: dict[tuple[int, ...], list[dict[str, Any]]] = {}
            for values, saved in dirty:
                cols = _changed(values, saved)
                if cols:
                    docs.setdefault(cols, []).append({"id": values[1], **{LINK_FIELDS[i]: values[i] for i in cols}})
            for cols, doc in docs.items():
                c.exec_driver_sql(self._update_sql_for(cols), (dumps(doc),))
            return
        by_cols: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
        for values, saved in dirty:
            cols, params = _changes(values, saved)
            by_cols.setdefault(cols, []).append(params)
        for cols, rows in by_cols.items():
            if cols:
                c.exec_driver_sql(self._update_sql_for(cols), rows)

    def _update_sql_for(self, cols: tuple[int, ...]) -> str:
        sql = self._update_sqls.get(cols)
        if sql is None:
            m = self._mark
            names = [LINK_FIELDS[i] for i in cols]
            if self._pg:
                sql = (f"UPDATE links SET {', '.join(f'{k} = u.{k}' for k in names)} FROM json_to_recordset({m}::json) "
                       f"AS u(id text, {', '.join(f'{k} {_PG_TYPES[k]}' for k in names)}) WHERE links.id = u.id")
            else:
                sql = f"UPDATE links SET {', '.join(f'{k} = {m}' for k in names)} WHERE id = {m}"
            self._update_sqls[cols] = sql
        return sql

    def rekey_bases(self, sync: str, keys_by_field: dict[Side, dict[str, str]]) -> int:
        """Re-key bases stored by field name (indexes before revision 0005) by mapping.

        ``keys_by_field`` maps each side's field to its mapping's base key under the config the
        bases were written with. Keys already by mapping (they hold ``|``) stay, so a run cut
        short and started again converts only what is left. Returns the links changed.
        """
        changed = 0
        for batch in self.iter_links(sync, links.c.left_base.is_not(None) | links.c.right_base.is_not(None)
                                     | link_flights.c.in_flight.is_not(None)):
            w = PageWrite()
            for link in batch:
                lb = _rekeyed(link.left_base, keys_by_field[Side.LEFT])
                rb = _rekeyed(link.right_base, keys_by_field[Side.RIGHT])
                flight = link.in_flight
                if flight is not None:
                    flight = {**flight, "left": _rekeyed(flight.get("left"), keys_by_field[Side.LEFT]),
                              "right": _rekeyed(flight.get("right"), keys_by_field[Side.RIGHT])}
                if (lb, rb, flight) != (link.left_base, link.right_base, link.in_flight):
                    link.left_base, link.right_base, link.in_flight = lb, rb, flight
                    w.touch(link)
            if w.dirty:
                self.save(sync, w)
                changed += len(w.dirty)
        return changed

    def iter_links(self, sync: str, *conditions: Any, chunk: int = 1000) -> Iterator[list[Link]]:
        """Stream rows matching ``conditions`` in id order, a chunk at a time (keyset paging)."""
        return self.keyset_pages(lambda after: (
            select(*_RAW_COLUMNS).select_from(links.outerjoin(link_flights, link_flights.c.link_id == links.c.id))
            .where(links.c.sync == sync, links.c.id > after, *conditions)
            .order_by(links.c.id).limit(chunk)))

    def keyset_pages(self, page_after: Callable[[str], Any]) -> Iterator[list[Link]]:
        """The rows of ``page_after(id)`` (a query of _RAW_COLUMNS, ordered by link id, limited),
        page after page from the last id of the one before: one short read each, no offset."""
        after = ""
        while True:
            with self.engine.connect() as c:
                batch = _raw_links(c.execute(page_after(after)))
            if not batch:
                return
            yield batch
            after = batch[-1].id

    # -- the records views (accord status / records, the dashboard) -------------------------
    def _shown(self, sync: str) -> Any:
        """The rows the records views show for ``sync`` (its activities' too: index.activities)."""
        return links.c.sync == sync

    def _with_reason(self, sync: str) -> Any:
        """Which of them ``reason_counts`` lists: excluded and failing rows, and queued ones
        that wait for something named (an associated record, an activity's contact, a delete's
        confirmation), so that a queued count that does not go down says why."""
        return or_(links.c.status.in_(["excluded", "failing"]),
                   and_(links.c.status == "queued", links.c.reason.is_not(None)))

    def counts(self, sync: str) -> dict[str, int]:
        with self.engine.connect() as c:
            q = (select(links.c.status, func.count()).where(self._shown(sync), links.c.status.is_not(None))
                 .group_by(links.c.status))
            return {r[0]: int(r[1]) for r in c.execute(q)}

    def reason_counts(self, sync: str) -> dict[str, int]:
        with self.engine.connect() as c:
            q = (select(links.c.status, func.coalesce(links.c.reason, links.c.category), func.count())
                 .where(self._shown(sync), self._with_reason(sync))
                 .group_by(links.c.status, func.coalesce(links.c.reason, links.c.category)))
            return {f"{r[0]}/{r[1]}": int(r[2]) for r in c.execute(q)}

    def records_total(self, sync: str, status: str, reason: str | None = None) -> int:
        """How many rows ``records`` pages through for ``status`` (and ``reason``)."""
        if reason:
            return self.reason_counts(sync).get(f"{status}/{reason}", 0)
        return self.counts(sync).get(status, 0)

    def records(self, sync: str, status: str | None = None, limit: int | None = None, offset: int = 0,
                reason: str | None = None) -> list[Link]:
        """``sync``'s rows (of ``status``; with ``reason``: of that reason or error category, as
        ``reason_counts`` keys them) in id order."""
        q = _select_links().where(self._shown(sync)).order_by(links.c.id).offset(offset)
        if status:
            q = q.where(links.c.status == status)
        if reason:
            q = q.where(func.coalesce(links.c.reason, links.c.category) == reason)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as c:
            return _rows_to_links(c.execute(q))

    def find_records(self, sync: str, text: str, limit: int = 50) -> tuple[list[Link], int]:
        """``sync``'s records (of any status) that ``text`` names, and how many there are in all:
        the pair of an id of either app (exactly: a probe of the id indexes), else those whose
        label (what the record lists show: the email, else the name) contains it, in any case,
        by label. The label has no index (one more per saved row, on the hot path): its search
        reads the sync's rows once, ~0.7 s for 1,000,000 pairs on SQLite (docs/service.md)."""
        text = text.strip()
        if not text:
            return [], 0
        listed = and_(self._shown(sync), links.c.status.is_not(None))
        with self.engine.connect() as c:
            by_id = _rows_to_links(c.execute(_select_links().where(
                listed, or_(links.c.left_id == text, links.c.right_id == text)).order_by(links.c.id)))
            if by_id:
                return by_id, len(by_id)
            # one read of the rows: the first ``limit`` ids, and the count of all (a window)
            hits = c.execute(select(links.c.id, func.count().over())
                             .where(listed, links.c.label.icontains(text, autoescape=True))
                             .order_by(links.c.label, links.c.id).limit(limit)).all()
            if not hits:
                return [], 0
            order = {r[0]: n for n, r in enumerate(hits)}
            found = _rows_to_links(c.execute(_select_links().where(links.c.id.in_(list(order)))))
        return sorted(found, key=lambda lk: order[lk.id]), int(hits[0][1])

    def deleted_links(self, sync: str, side: Side) -> Iterator[list[Link]]:
        col = links.c.left_deleted if side is Side.LEFT else links.c.right_deleted
        other_deleted = links.c.right_deleted if side is Side.LEFT else links.c.left_deleted
        return self.iter_links(sync, and_(col.is_(True), other_deleted.is_(False)))


def _select_links() -> Any:
    """The links' rows with their in-flight intents (conditions may name ``link_flights.c.in_flight``)."""
    return select(links, link_flights.c.in_flight).select_from(
        links.outerjoin(link_flights, link_flights.c.link_id == links.c.id))


def _pg_array(values: Sequence[str]) -> str:
    """A PostgreSQL text[] literal: psycopg adapts a list element by element in Python (5× slower)."""
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _copy(c: Connection, table: str, rows: list[tuple[Any, ...]], columns: Sequence[str] = _COLS) -> None:
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


def _rekeyed(base: dict[str, Any] | None, by_field: dict[str, str]) -> dict[str, Any] | None:
    if base is None:
        return None
    out = {}
    for k, v in base.items():
        if "|" in k:
            out[k] = v
        elif k in by_field:
            out[by_field[k]] = v
    return out
