"""The per-sync lease: one process runs a sync's passes at a time (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from accord.index import Store
from accord.index.leases import LeaseLost, SyncBusy, SyncLease, holder_of
from accord.index.schema import leases


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path}/index.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = Store(url)
    yield s  # type: ignore[misc]
    s.close()


async def test_a_held_lease_makes_the_other_wait_or_skip(store: Store) -> None:
    a, b = SyncLease(store.engine, "contacts"), SyncLease(store.engine, "contacts")
    other = SyncLease(store.engine, "companies")
    try:
        assert a.try_acquire()
        assert other.try_acquire(), "leases are per sync"
        assert not b.try_acquire()
        with pytest.raises(SyncBusy, match="is running in process"):
            await b.acquire(timeout=0.2)
        waiting = asyncio.ensure_future(b.acquire())
        await asyncio.sleep(0.2)
        assert not waiting.done() and b.waits > 0
        a.release()
        await asyncio.wait_for(waiting, 5)
        assert b.held and holder_of(store.engine, "contacts").holder == b.id  # type: ignore[union-attr]
    finally:
        for lease in (a, b, other):
            lease.close()
    assert holder_of(store.engine, "contacts") is None


def test_the_lease_of_a_process_that_died_is_free_at_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/index.db")
    code = ("import sys, os; from accord.index import Store; from accord.index.leases import SyncLease;"
            "s = Store(sys.argv[1]); assert SyncLease(s.engine, 'contacts').try_acquire(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(store.engine.url)], check=True, timeout=60)
    dead = holder_of(store.engine, "contacts")
    assert dead is not None and dead.expires_at > time.time()  # not expired: its process is gone
    lease = SyncLease(store.engine, "contacts")
    try:
        assert lease.try_acquire()
    finally:
        lease.close()
        store.close()


def test_a_lease_not_renewed_in_time_expires(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/index.db")
    frozen, lease = SyncLease(store.engine, "contacts", ttl=3600), SyncLease(store.engine, "contacts")
    try:
        assert frozen.try_acquire()
        assert not lease.try_acquire()
        with store.engine.begin() as c:  # its renewals stopped (the process is frozen, not gone)
            c.execute(update(leases).values(expires_at=time.time() - 1))
        assert lease.try_acquire()
        # the frozen holder wakes up: its next page save is refused before it writes anything
        with pytest.raises(LeaseLost), store.engine.begin() as c:
            frozen.fence(c)
        assert frozen.lost
        with store.engine.begin() as c:
            lease.fence(c)
    finally:
        frozen.close()
        lease.close()
        store.close()


def test_an_in_memory_index_needs_no_lease() -> None:
    store = Store("sqlite://")
    a, b = SyncLease(store.engine, "contacts"), SyncLease(store.engine, "contacts")
    assert a.try_acquire() and b.try_acquire()  # no other process can open it
    a.close()
    b.close()
    store.close()
