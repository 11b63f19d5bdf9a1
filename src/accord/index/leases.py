"""One process runs a sync's passes at a time: a lease per sync, in the index.

Two ``accord run`` (or an ``accord run`` and an ``accord sync``) on one index used to run
the same sync's passes side by side: each took the other's half-written pages for deletes
and duplicates. Whatever runs a pass — the embedded runner, a CLI pass, a Temporal activity
— first takes the sync's lease; the others wait for it or skip the pass.

The lease of record is the sync's row in ``leases`` (who holds it, since when, until when).
How a holder that died is noticed depends on the database:

* **PostgreSQL** (several hosts): the holder also keeps an advisory lock on a connection of
  its own; PostgreSQL releases it the moment that connection dies, so a killed worker's
  lease is free at once and the next holder overwrites the row.
* **SQLite** (one host, since it is a file): the row names the holder's host and pid; a row
  whose process is gone is free at once, and a row not renewed before ``expires_at`` (the
  holder renews it from a thread of its own while it works) is free after that.

Either way a page is only saved while the row still names its holder (``fence``, checked in
the page's own transaction), so a holder that lost its lease — frozen past ``expires_at``,
cut off from PostgreSQL — can never write over the new holder's work.

An in-memory SQLite index cannot be shared with another process: its lease always succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from accord.index.locks import lock_id
from accord.index.schema import leases

log = logging.getLogger("accord.index.leases")

TTL = 60.0  # seconds a lease outlives its last renewal (SQLite; renewed every TTL / 4)


class LeaseLost(RuntimeError):
    """The lease was taken over (this holder was presumed dead): stop before writing more."""


class SyncBusy(RuntimeError):
    """Another process holds the sync's lease."""

    def __init__(self, sync: str, holder: Holder | None) -> None:
        self.sync, self.holder = sync, holder
        who = holder.describe() if holder is not None else "another process"
        super().__init__(f"sync {sync!r} is running in {who}")


@dataclass(frozen=True, slots=True)
class Holder:
    holder: str
    host: str
    pid: int
    acquired_at: float
    expires_at: float

    def describe(self) -> str:
        since = time.strftime("%H:%M:%S", time.localtime(self.acquired_at))
        return f"process {self.pid} on {self.host} (since {since})"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM  # exists, owned by someone else
    return True


def holder_of(engine: Engine, sync: str) -> Holder | None:
    with engine.connect() as c:
        row = c.execute(select(leases).where(leases.c.sync == sync)).first()
    return Holder(row.holder, row.host, row.pid, row.acquired_at, row.expires_at) if row else None


class SyncLease:
    """The exclusive right to run passes of one sync (see the module docstring)."""

    def __init__(self, engine: Engine, sync: str, *, ttl: float = TTL) -> None:
        self.engine, self.sync, self.ttl = engine, sync, ttl
        self.id = os.urandom(8).hex()
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.held = False
        self.lost = False
        self.waits = 0  # times the lease was found taken (tests and metrics)
        self._memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
        self._pg = engine.dialect.name == "postgresql"
        self._advisory: Connection | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # -- taking it -------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """Take the lease if it is free (or ours); never waits."""
        if self.held:
            return True
        if self._memory:
            self.held = True
            return True
        if self._pg and not self._try_advisory():
            return False
        try:
            taken = self._claim_row(time.time())
        except IntegrityError:  # another process inserted the row between our read and our write
            taken = False
        if not taken:
            self._drop_advisory()
            return False
        self.held, self.lost = True, False
        self._start_renewer()
        return True

    def _claim_row(self, now: float) -> bool:
        values = {"holder": self.id, "host": self.host, "pid": self.pid, "acquired_at": now, "expires_at": now + self.ttl}
        with self.engine.begin() as c:
            row = c.execute(select(leases).where(leases.c.sync == self.sync)).first()
            if row is None:
                c.execute(insert(leases).values(sync=self.sync, **values))
                return True
            if row.holder != self.id and not self._free(row, now):
                return False
            # only if it is still the row we judged free: another process may be taking it too
            res = c.execute(update(leases).where(leases.c.sync == self.sync, leases.c.holder == row.holder)
                            .values(**values))
            return res.rowcount == 1

    def _free(self, row: Any, now: float) -> bool:
        if self._pg:
            return True  # we hold the advisory lock: whoever wrote the row is gone
        # SQLite: not renewed in time, or its process is gone from this host
        return bool(row.expires_at < now or (row.host == self.host and not _pid_alive(row.pid)))

    async def acquire(self, *, timeout: float | None = None, on_wait: Callable[[], Any] | None = None) -> None:
        """Wait until the lease is ours (``SyncBusy`` after ``timeout`` seconds)."""
        pause, start, warned = 0.05, time.monotonic(), False
        while not self.try_acquire():
            self.waits += 1
            if timeout is not None and time.monotonic() - start >= timeout:
                raise SyncBusy(self.sync, holder_of(self.engine, self.sync))
            if not warned:
                h = holder_of(self.engine, self.sync)
                log.warning("sync %s: waiting for %s to finish its pass", self.sync,
                            h.describe() if h else "another process")
                warned = True
            if on_wait is not None:
                on_wait()
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(1.0, pause * 2)

    # -- keeping it ------------------------------------------------------------------
    def fence(self, c: Connection) -> None:
        """In a page's transaction: the row must still name this holder (else ``LeaseLost``)."""
        if self._memory or not self.held:
            return
        res = c.execute(update(leases).where(leases.c.sync == self.sync, leases.c.holder == self.id)
                        .values(expires_at=time.time() + self.ttl))
        if res.rowcount != 1:
            self.lost = True
            raise LeaseLost(f"sync {self.sync!r}: another process took over this pass's lease")

    def _renew(self) -> bool:
        with self.engine.begin() as c:
            res = c.execute(update(leases).where(leases.c.sync == self.sync, leases.c.holder == self.id)
                            .values(expires_at=time.time() + self.ttl))
        return res.rowcount == 1

    def _start_renewer(self) -> None:
        if self._renewer is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(self.ttl / 4):
                try:
                    if not self._renew():
                        self.lost = True
                        log.error("sync %s: the lease was taken over by another process", self.sync)
                        return
                except Exception:  # the database is briefly unavailable: try again next time
                    log.warning("sync %s: could not renew the lease", self.sync, exc_info=True)

        self._renewer = threading.Thread(target=run, name=f"lease-{self.sync}", daemon=True)
        self._renewer.start()

    # -- giving it back --------------------------------------------------------------
    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._renewer is not None:
            self._stop.set()
            self._renewer.join(timeout=5)
            self._renewer = None
        if not self._memory:
            with contextlib.suppress(Exception), self.engine.begin() as c:
                c.execute(delete(leases).where(leases.c.sync == self.sync, leases.c.holder == self.id))
        self._drop_advisory()

    def close(self) -> None:
        self.release()

    # -- PostgreSQL ------------------------------------------------------------------
    def _try_advisory(self) -> bool:
        if self._advisory is None:
            self._advisory = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = self._advisory.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_id("sync", self.sync)}).scalar()
        return bool(got)

    def _drop_advisory(self) -> None:
        if self._advisory is None:
            return
        with contextlib.suppress(Exception):
            self._advisory.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id("sync", self.sync)})
        with contextlib.suppress(Exception):
            self._advisory.close()
        self._advisory = None
