"""Per-sync state in the index: the registered syncs (enabled, config fingerprint, initial
sync done), the change cursors of their two sides, and whole-sync copy and delete."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from accord.index.db import IndexDB, now_iso
from accord.index.schema import (
    association_bases,
    cursors,
    keys,
    leases,
    link_flights,
    links,
    page_intents,
    pending_records,
    run_pages,
    runs,
    syncs,
)
from accord.model import Side

BASE_KEYS = 2  # syncs.base_keys of an index whose bases are keyed by mapping
# the tables holding a sync's rows by its name, besides syncs (renamed and deleted with it)
_ROWS_OF_A_SYNC = (keys, link_flights, links, cursors, run_pages, runs, association_bases, page_intents, pending_records)
# each side's app and object(s) as JSON holds them (config.sync_sides)
Sides = dict[str, list[Any]]


def _object_pairs(sides: Sides) -> set[frozenset[tuple[str, str]]]:
    """The (app, object) pairs a sync covers, unordered (A ↔ B is B ↔ A)."""
    (la, lo), (ra, ro) = sides["left"], sides["right"]
    return {frozenset({(la, x), (ra, y)}) for x in lo for y in ro}


@dataclass(frozen=True, slots=True)
class SyncState:
    name: str
    enabled: bool
    config_hash: str
    initial_done: bool
    # False: the bases are still keyed by field name, written under the config this state's
    # hash fingerprints; the runner re-keys them (SyncRunner.run) before the next pass
    bases_keyed: bool = True
    objects: Sides | None = None  # its sides as last registered (schema.syncs.objects)
    accounts: dict[str, str | None] | None = None  # the accounts its sides signed in to (schema.syncs.accounts)


def sync_enabled(configured: bool, state: SyncState | None) -> bool:
    """Whether a sync runs: ``enabled: false`` in its configuration (accord.yaml, or the settings
    of a sync made in the dashboard) always wins; otherwise the index's switch (the dashboard,
    the API, ``accord enable``/``disable``), on until turned off. Before, the file's value was read
    only when the index first met the sync, so ``enabled: false`` written later changed nothing."""
    return configured and (state is None or state.enabled)


def _state(row: Any) -> SyncState:
    return SyncState(row.name, row.enabled, row.config_hash, row.initial_done, row.base_keys == BASE_KEYS, row.objects,
                     row.accounts)


def overlap(a: Sides, b: Sides) -> bool:
    """Whether two syncs pair the same two objects, on whichever sides."""
    return bool(_object_pairs(a) & _object_pairs(b))


def read_cursor(c: Connection, sync: str, side: Side | str) -> str | None:
    """A side's cursor (``side`` a string: another of the sync's cursors, e.g. event sync's)."""
    slot = side.value if isinstance(side, Side) else side
    return c.execute(select(cursors.c.cursor).where(cursors.c.sync == sync, cursors.c.side == slot)).scalar()


def write_cursor(c: Connection, sync: str, side: Side | str, cursor: str) -> None:
    """Set a side's cursor in ``c``'s transaction (a page's save moves it with the page)."""
    slot = side.value if isinstance(side, Side) else side
    res = c.execute(update(cursors).where(cursors.c.sync == sync, cursors.c.side == slot)
                    .values(cursor=cursor, updated_at=now_iso()))
    if not res.rowcount:
        c.execute(insert(cursors).values(sync=sync, side=slot, cursor=cursor, updated_at=now_iso()))


class SyncStateStore(IndexDB):
    # -- syncs -----------------------------------------------------------------------
    def ensure_sync(self, name: str, config_hash: str, enabled: bool = True,
                    objects: Sides | None = None) -> SyncState:
        """Register a sync; a changed config fingerprint restarts its initial sync.
        ``objects``: its sides, config.sync_sides (schema.syncs.objects), kept up to date."""
        try:
            return self._ensure_sync(name, config_hash, enabled, objects)
        except IntegrityError:
            # another process registered it between our read and our insert (two processes
            # start on a fresh index; registration happens before the sync's lease is taken)
            return self._ensure_sync(name, config_hash, enabled, objects)

    def _ensure_sync(self, name: str, config_hash: str, enabled: bool, objects: Sides | None) -> SyncState:
        with self.engine.begin() as c:
            row = c.execute(select(syncs).where(syncs.c.name == name)).first()
            if row is None:
                c.execute(insert(syncs).values(name=name, enabled=enabled, config_hash=config_hash, initial_done=False,
                                               base_keys=BASE_KEYS, objects=objects, created_at=now_iso(),
                                               updated_at=now_iso()))
                return SyncState(name, enabled, config_hash, False)
            if objects is not None and row.objects != objects:
                c.execute(update(syncs).where(syncs.c.name == name).values(objects=objects))
            if row.config_hash != config_hash:
                # Bases still keyed by field were written under the old config: they cannot be
                # told apart from the new mappings' and are dropped (the pairs merge as new).
                c.execute(update(syncs).where(syncs.c.name == name).values(
                    config_hash=config_hash, initial_done=False, base_keys=BASE_KEYS, updated_at=now_iso()))
                return SyncState(name, row.enabled, config_hash, False)
            return _state(row)

    def sync_names(self) -> list[str]:
        """Every sync registered in the index, configured or not any more, by name."""
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(select(syncs.c.name).order_by(syncs.c.name))]

    def sync_state(self, name: str) -> SyncState | None:
        with self.engine.connect() as c:
            row = c.execute(select(syncs).where(syncs.c.name == name)).first()
        return _state(row) if row else None

    def set_bases_keyed(self, name: str) -> None:
        with self.engine.begin() as c:
            c.execute(update(syncs).where(syncs.c.name == name).values(base_keys=BASE_KEYS, updated_at=now_iso()))

    def set_enabled(self, name: str, enabled: bool) -> bool:
        with self.engine.begin() as c:
            res = c.execute(update(syncs).where(syncs.c.name == name).values(enabled=enabled, updated_at=now_iso()))
            return bool(res.rowcount)

    def set_initial_done(self, name: str, done: bool = True) -> None:
        with self.engine.begin() as c:
            c.execute(update(syncs).where(syncs.c.name == name).values(initial_done=done, updated_at=now_iso()))

    def record_accounts(self, name: str, accounts: dict[str, str | None]) -> None:
        """Keep the accounts the sync's sides sign in to; a side that cannot tell keeps the last known."""
        with self.engine.begin() as c:
            was = c.execute(select(syncs.c.accounts).where(syncs.c.name == name)).scalar() or {}
            now = {side: accounts.get(side) or was.get(side) for side in ("left", "right")}
            if now != was:
                c.execute(update(syncs).where(syncs.c.name == name).values(accounts=now))

    # -- what the guards of accord.runner.index_guard read ---------------------------------
    def has_pairs(self, name: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(select(links.c.id).where(links.c.sync == name).limit(1)).first() is not None

    def pair_count(self, name: str) -> int:
        """The rows ``name`` holds in ``links`` (pairs, and records seen on one side only)."""
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(links).where(links.c.sync == name)).scalar_one())

    def pairs_held_elsewhere(self, name: str, objects: Sides) -> list[tuple[str, int]]:
        """The other syncs of the index whose rows cover one of ``objects`` (as they were
        registered last), with how many pairs each holds; those holding none are left out."""
        with self.engine.connect() as c:
            # NULL (or JSON null, as a column of JSON type writes None): not recorded
            others = [r.name for r in c.execute(select(syncs.c.name, syncs.c.objects).where(syncs.c.name != name))
                      if r.objects and overlap(objects, r.objects)]
        return [(o, n) for o in others if (n := self.pair_count(o))]

    def rename_sync(self, old: str, new: str) -> None:
        """Move ``old``'s index to ``new`` in one transaction: its pairs, keys, cursors, runs and
        held deletes, and the association bases of other syncs that name it. A registration of
        ``new`` with no pairs (a refused first pass) is replaced; one with pairs is an error."""
        with self.engine.begin() as c:
            if c.execute(select(links.c.id).where(links.c.sync == new).limit(1)).first() is not None:
                raise ValueError(f"sync {new!r} already has pairs of its own")
            for t in _ROWS_OF_A_SYNC:
                c.execute(delete(t).where(t.c.sync == new))
            c.execute(delete(syncs).where(syncs.c.name == new))
            for t in _ROWS_OF_A_SYNC:
                c.execute(update(t).where(t.c.sync == old).values(sync=new))
            c.execute(update(association_bases).where(association_bases.c.target == old).values(target=new))
            c.execute(delete(leases).where(leases.c.sync == old))
            c.execute(update(syncs).where(syncs.c.name == old).values(name=new, updated_at=now_iso()))

    # -- cursors ---------------------------------------------------------------------
    def cursor(self, sync: str, side: Side | str) -> str | None:
        with self.engine.connect() as c:
            return read_cursor(c, sync, side)

    def set_cursor(self, sync: str, side: Side | str, cursor: str) -> None:
        with self.engine.begin() as c:
            write_cursor(c, sync, side, cursor)

    # A list or container renamed in its app keeps its id: the id a pass found under the name the
    # config gives is kept in a cursor slot of its own, so a later pass can follow the rename.
    def remembered_id(self, sync: str, slot: str) -> tuple[str, str] | None:
        """(the configured name, the id) remembered in ``slot``, if any."""
        try:
            found = json.loads(self.cursor(sync, slot) or "null")
        except ValueError:
            return None
        if isinstance(found, dict) and found.get("name") is not None and found.get("key"):
            return str(found["name"]), str(found["key"])
        return None

    def remember_id(self, sync: str, slot: str, name: str, key: str) -> None:
        if self.remembered_id(sync, slot) != (name, key):
            self.set_cursor(sync, slot, json.dumps({"name": name, "key": key}))

    # -- a whole sync ----------------------------------------------------------------
    def clone_sync(self, sync: str, target: IndexDB) -> None:
        """Copy one sync's index into another store (dry runs work on a throwaway copy)."""
        with self.engine.connect() as src, target.engine.begin() as dst:
            for table, col in ((syncs, syncs.c.name), (cursors, cursors.c.sync), (runs, runs.c.sync)):
                rows = [dict(r._mapping) for r in src.execute(select(table).where(col == sync))]
                if rows:
                    dst.execute(insert(table), rows)
            for table in (links, link_flights, keys, association_bases, page_intents):
                result = src.execution_options(yield_per=2000).execute(select(table).where(table.c.sync == sync))
                for part in result.partitions():
                    dst.execute(insert(table), [dict(r._mapping) for r in part])

    def delete_sync(self, sync: str) -> None:
        with self.engine.begin() as c:
            for t in _ROWS_OF_A_SYNC:
                c.execute(delete(t).where(t.c.sync == sync))
            c.execute(delete(syncs).where(syncs.c.name == sync))
