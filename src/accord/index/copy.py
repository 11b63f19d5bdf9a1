"""Moving the index to another database (``accord copy-index``): the embedded SQLite file to
PostgreSQL when a deployment grows into distributed mode, or one server to another.

Pointing ``state:`` at an empty database instead would start every sync over: its initial
sync matches what a key matches and creates the rest again in both apps (every deal, which
has no key). So the index is copied whole: pairs, keys, bases, cursors, run history, held
deletes, in-flight writes, pending webhook records, webhook replay ids, the syncs and apps
made in the dashboard (their secrets as sealed, readable with the same key). Not copied:
leases (each belongs to a running process) and dashboard logins (people log in again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Integer, Table, func, insert, select
from sqlalchemy.engine import Connection

from accord.index.leases import holder_of
from accord.index.schema import leases, links, managed_apps, managed_syncs, metadata, sessions, syncs
from accord.index.store import Store

SKIPPED = (leases, sessions)
BATCH = 2000


class CopyRefused(Exception):
    """Why the index was not copied (nothing was written to the target)."""


@dataclass
class Copied:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    seconds: float = 0.0


def copy_index(source: Store, target: Store) -> Copied:
    """Copy every row of ``source`` into ``target``, an index with nothing in it, in one
    transaction of the target (all of it or nothing). Refused while a process runs a pass on
    the source: rows it writes after being read would be left behind."""
    t0 = time.monotonic()
    busy = [(s, h) for s in source.sync_names() if (h := holder_of(source.engine, s)) and h.expires_at > time.time()]
    if busy:
        sync, h = busy[0]
        raise CopyRefused(f"sync {sync!r} is running in {h.describe()}: stop every Accord process using the "
                          f"index ({source.url}) first, so that nothing it writes is left behind")
    with target.engine.connect() as c:
        held = [t.name for t in (syncs, links, managed_apps, managed_syncs)
                if c.execute(select(func.count()).select_from(t)).scalar_one()]
    if held:
        raise CopyRefused(f"the target index ({target.url}) already holds {', '.join(held)}: copy into an empty "
                          "database, so that no sync's pairs are mixed with another index's")
    out = Copied()
    with source.engine.connect() as src, target.engine.begin() as dst:
        for table in metadata.sorted_tables:
            if table in SKIPPED:
                continue
            n = 0
            for part in src.execution_options(yield_per=BATCH).execute(select(table)).partitions():
                dst.execute(insert(table), [dict(r._mapping) for r in part])
                n += len(part)
            out.rows[table.name] = n
            if dst.dialect.name == "postgresql":
                _continue_numbering(dst, table)
    out.seconds = time.monotonic() - t0
    return out


def _continue_numbering(c: Connection, table: Table) -> None:
    """PostgreSQL numbers a serial column from its sequence, which rows inserted with their
    ids do not advance: set it past the copied ids, or the next run (or page intent) would
    collide with a copied one."""
    pk = list(table.primary_key.columns)
    if len(pk) != 1 or not isinstance(pk[0].type, Integer) or pk[0].autoincrement not in (True, "auto"):
        return
    col = pk[0].name
    c.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col}'), "
                      f"coalesce(max({col}), 1), max({col}) IS NOT NULL) FROM {table.name}")
