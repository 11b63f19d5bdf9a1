"""Locks shared by every process that uses one PostgreSQL index (distributed mode).

* :class:`PairLocks`: advisory locks on the records of the page a runner is working on (their
  ids on both sides and their match keys), so two processes never plan and write the same
  record pair at once. A runner takes a page's locks, re-reads the index rows, syncs the
  page and releases them.
* :class:`SyncLease`: one advisory lock per sync, held by whatever runs a pass of it (a
  Temporal activity), so an attempt a worker lost contact with can never overlap its retry.

Session-level advisory locks live on a dedicated connection and vanish with it: a worker that
is killed releases everything it held the moment PostgreSQL sees its connection close.
Acquisition is all-or-nothing with ``pg_try_advisory_lock``, never a blocking wait while
holding other locks, so two processes cannot deadlock; a process that finds a lock taken
releases what it holds and tries again after a short, growing, jittered pause.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

log = logging.getLogger("accord.index.locks")

_TRY = text("SELECT k, pg_try_advisory_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
_UNLOCK = text("SELECT count(pg_advisory_unlock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")


def lock_id(namespace: str, key: str) -> int:
    """A stable signed 64-bit advisory-lock id for ``key`` in ``namespace``."""
    digest = hashlib.blake2b(f"{namespace}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class _Advisory:
    """Advisory locks held on one connection of their own (autocommit: never idle in a transaction)."""

    def __init__(self, engine: Engine, namespace: str, *, pause: float = 0.02, max_pause: float = 0.5,
                 warn_after: float = 30.0) -> None:
        if not is_postgres(engine):
            raise ValueError("advisory locks need the index on PostgreSQL")
        self.namespace = namespace
        self.pause, self.max_pause, self.warn_after = pause, max_pause, warn_after
        self._conn: Connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.held: set[int] = set()
        self.waits = 0  # times a wanted lock was found taken (tests and metrics)

    def _try(self, ids: list[int]) -> bool:
        got = [int(k) for k, ok in self._conn.execute(_TRY, {"keys": ids}) if ok]
        if len(got) == len(ids):
            self.held.update(ids)
            return True
        if got:
            self._conn.execute(_UNLOCK, {"keys": got})
        return False

    async def _acquire(self, ids: set[int], on_wait: Callable[[], Awaitable[Any]] | None = None) -> None:
        want = sorted(ids - self.held)
        if not want:
            return
        pause, started, warned = self.pause, time.monotonic(), False
        while not self._try(want):
            self.waits += 1
            # all or nothing: holding some while waiting for others could deadlock two processes
            want = sorted(self.held | set(want))
            self.release()
            if on_wait is not None:
                await on_wait()
            if not warned and time.monotonic() - started > self.warn_after:
                log.warning("waiting %.0f s for locks %s held by another process", self.warn_after, self.namespace)
                warned = True
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(self.max_pause, pause * 2)

    def release(self) -> None:
        if self.held:
            self._conn.execute(_UNLOCK, {"keys": sorted(self.held)})
            self.held.clear()

    def close(self) -> None:
        try:
            self.release()
        finally:
            self._conn.close()


class PairLocks(_Advisory):
    """The runner's page locks: keys like ``left:ID``, ``right:ID`` or ``key:MATCHKEY`` of one sync."""

    def __init__(self, engine: Engine, sync: str, **kw: Any) -> None:
        super().__init__(engine, f"pair:{sync}", **kw)

    async def acquire(self, keys: Iterable[str]) -> None:
        """Add ``keys`` to the locks held (waiting until all of them are free)."""
        await self._acquire({lock_id(self.namespace, k) for k in keys})


class SyncLease(_Advisory):
    """Exclusive right to run passes of one sync, across processes."""

    def __init__(self, engine: Engine, sync: str, **kw: Any) -> None:
        super().__init__(engine, "sync", **kw)
        self.sync = sync

    async def acquire(self, on_wait: Callable[[], Awaitable[Any]] | None = None) -> None:
        await self._acquire({lock_id(self.namespace, self.sync)}, on_wait)
