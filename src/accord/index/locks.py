"""Page locks shared by every process that uses one PostgreSQL index (distributed mode).

:class:`PairLocks`: row locks on the records of the page a runner is working on (their ids
on both sides and their match keys), so two processes never plan and write the same record
pair at once. A runner takes a page's locks, re-reads the index rows, syncs the page and
releases them. A page can mean thousands of keys: they are rows of ``accord_pair_locks``
(an UNLOGGED table created on first use) locked ``FOR UPDATE`` by a transaction held open
for the page, because row locks live in the rows — advisory locks would each take a slot
of PostgreSQL's shared lock table (64 × max_connections), which a few big pages exhaust.

The locks live on a dedicated connection and vanish with it: a worker that is killed
releases everything it held the moment PostgreSQL sees its connection close. Acquisition is
all-or-nothing and never waits while holding (``SKIP LOCKED``), so two processes cannot
deadlock: one that finds a lock taken releases what it holds and tries again after a short,
growing, jittered pause. (Who runs a sync's passes at all is the sync's lease:
:mod:`accord.index.leases`, the same on SQLite and PostgreSQL.)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Iterable

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("accord.index.locks")



def lock_id(namespace: str, key: str) -> int:
    """A stable signed 64-bit advisory-lock id for ``key`` in ``namespace``."""
    digest = hashlib.blake2b(f"{namespace}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


_PAIRS_TABLE = text("""
CREATE UNLOGGED TABLE IF NOT EXISTS accord_pair_locks (
    sync text NOT NULL,
    key text NOT NULL,
    PRIMARY KEY (sync, key)
)""")
_PAIRS_ENSURE = text("""
INSERT INTO accord_pair_locks (sync, key) SELECT :sync, k FROM unnest(CAST(:keys AS text[])) AS k
ON CONFLICT DO NOTHING""")
_PAIRS_LOCK = text("""
SELECT key FROM accord_pair_locks WHERE sync = :sync AND key = ANY(CAST(:keys AS text[]))
FOR UPDATE SKIP LOCKED""")


class PairLocks:
    """The runner's page locks: keys like ``left:ID``, ``right:ID`` or ``key:MATCHKEY`` of one sync."""

    def __init__(self, engine: Engine, sync: str, *, pause: float = 0.02, max_pause: float = 0.5,
                 warn_after: float = 30.0) -> None:
        if not is_postgres(engine):
            raise ValueError("pair locks need the index on PostgreSQL")
        self.sync = sync
        self.pause, self.max_pause, self.warn_after = pause, max_pause, warn_after
        for attempt in range(3):
            try:
                with engine.begin() as c:
                    c.execute(_PAIRS_TABLE)
                break
            except DBAPIError:  # two processes creating it at once: one of them loses the race
                if attempt == 2:
                    raise
        # rows are created (and committed) on one connection, locked by the other's open transaction
        self._rows: Connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._holder: Connection = engine.connect()
        self.held: set[str] = set()
        self.waits = 0  # times a wanted lock was found taken (tests and metrics)

    def _try(self, keys: list[str]) -> bool:
        self._rows.execute(_PAIRS_ENSURE, {"sync": self.sync, "keys": keys})
        got = self._holder.execute(_PAIRS_LOCK, {"sync": self.sync, "keys": keys}).scalars().all()
        if len(got) == len(keys):
            self.held.update(keys)
            return True
        return False

    async def acquire(self, keys: Iterable[str]) -> None:
        """Add ``keys`` to the locks held (waiting until all of them are free)."""
        want = sorted(set(keys) - self.held)
        if not want:
            return
        pause, started, warned = self.pause, time.monotonic(), False
        while not self._try(want):
            self.waits += 1
            # all or nothing: holding some while waiting for others could deadlock two processes
            want = sorted(self.held | set(want))
            self.release()
            if not warned and time.monotonic() - started > self.warn_after:
                log.warning("waiting %.0f s for pair locks of sync %s held by another process", self.warn_after, self.sync)
                warned = True
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(self.max_pause, pause * 2)

    def release(self) -> None:
        self._holder.rollback()  # ends the transaction: every row lock it held goes
        self.held.clear()

    def close(self) -> None:
        try:
            self.release()
        finally:
            self._holder.close()
            self._rows.close()
