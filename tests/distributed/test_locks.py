"""Pair locks and sync leases on PostgreSQL: two runners on one index never sync the same pair at once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.index.leases import SyncLease
from accord.index.links import IntentsReplayed
from accord.index.locks import PairLocks, lock_id
from accord.model import Record, Side, Value, WriteResult
from accord.runner import SyncRunner
from helpers import person, sync_config


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


async def test_a_held_pair_lock_makes_the_other_process_wait_until_it_is_released(pg_url: str) -> None:
    store = Store(pg_url)
    a, b = PairLocks(store.engine, "contacts"), PairLocks(store.engine, "contacts")
    other_sync = PairLocks(store.engine, "companies")
    try:
        await a.acquire(["left:1", "key:ann@x.com"])
        await b.acquire(["left:2"])  # other records: no wait
        await other_sync.acquire(["left:1"])  # the same id in another sync: no wait
        assert b.waits == other_sync.waits == 0
        b.release()
        waiting = asyncio.ensure_future(b.acquire(["right:9", "key:ann@x.com"]))
        await asyncio.sleep(0.3)
        assert not waiting.done() and b.waits > 0
        assert b.held == set()  # it holds nothing while it waits (no deadlock between two waiters)
        a.release()
        await asyncio.wait_for(waiting, 5)
        assert len(b.held) == 2
    finally:
        for lk in (a, b, other_sync):
            lk.close()
        store.close()


async def test_locks_of_a_killed_process_are_released_with_its_connection(pg_url: str) -> None:
    store = Store(pg_url)
    dead = psycopg.connect(_dsn(pg_url), autocommit=True)
    dead.execute("SELECT pg_advisory_lock(%s)", (lock_id("sync", "contacts"),))
    lease = SyncLease(store.engine, "contacts")
    try:
        waiting = asyncio.ensure_future(lease.acquire())
        await asyncio.sleep(0.2)
        assert not waiting.done()
        dead.close()  # the worker dies: PostgreSQL drops its session and its locks
        await asyncio.wait_for(waiting, 5)
        assert lease.held
    finally:
        lease.close()
        store.close()


def test_locks_refuse_sqlite() -> None:
    store = Store("sqlite://")
    with pytest.raises(ValueError, match="PostgreSQL"):
        PairLocks(store.engine, "contacts")
    store.close()


class SlowApp(MemoryApp):
    """A memory app whose calls take a little while, as HTTP calls do: runners interleave on them."""

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        await asyncio.sleep(0.01)
        return await super().read(object, ids, fields)

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        await asyncio.sleep(0.02)
        return await super().find(object, field, values, fields)

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        await asyncio.sleep(0.02)
        return await super().create(object, items)


class _Unleased:
    """A lease taken by nobody: lets two runners of one sync run at once, as only a bug would."""

    held = True

    def fence(self, c: object) -> None:
        pass


async def _two_runners_sync_the_same_new_records(pg_url: str, locked: bool) -> tuple[MemoryApp, Store, list[Any]]:
    left, right = SlowApp("a"), SlowApp("b")
    right.objects["contacts"].unique = ()  # a second create would be a second record
    store = Store(pg_url)
    cfg = sync_config()
    # both runners' first pass: the initial sync of two empty apps
    await SyncRunner(cfg, store, left, right).run()
    ids = [left.user_create("contacts", person("P", str(i), f"p{i}@x.com")) for i in range(20)]
    locks = [PairLocks(store.engine, cfg.name) if locked else None for _ in range(2)]
    runners = [SyncRunner(cfg, Store(pg_url), left, right, locks=lk) for lk in locks]
    for r in runners:  # the sync's lease would run the two one after the other: the race needs it off
        r.lease = _Unleased()  # type: ignore[assignment]
    # webhooks for the same records reach two workers at once (overlapping batches)
    results = await asyncio.gather(runners[0].sync_records(Side.LEFT, ids[:15]),
                                   runners[1].sync_records(Side.LEFT, ids[5:]), return_exceptions=True)
    for lk in locks:
        if lk is not None:
            lk.close()
    for r in runners:
        r.store.close()
    return right, store, list(results)


async def test_two_runners_with_pair_locks_create_each_record_once(pg_url: str) -> None:
    right, store, results = await _two_runners_sync_the_same_new_records(pg_url, locked=True)
    assert not [r for r in results if isinstance(r, BaseException)]
    emails = sorted(str(r.properties["email"]) for r in right.live("contacts"))
    assert emails == sorted(f"p{i}@x.com" for i in range(20))
    assert store.counts("contacts") == {"syncing": 20}
    assert sum(r.counters.created["right"] for r in results) == 20  # type: ignore[union-attr]
    store.close()


async def test_without_pair_locks_the_same_race_goes_wrong(pg_url: str) -> None:
    """The control experiment: the race above is real, so the test above can fail. Without pair
    locks the runners create twice or crash on each other's rows, or (page intents) each finds
    the other's page half saved and stops (IntentsReplayed) with no record made twice."""
    right, store, results = await _two_runners_sync_the_same_new_records(pg_url, locked=False)
    emails = [str(r.properties["email"]) for r in right.live("contacts")]
    crashed = [r for r in results if isinstance(r, IntegrityError | IntentsReplayed)]
    assert crashed or len(emails) > len(set(emails))
    store.close()


async def test_big_pages_of_several_syncs_can_be_locked_at_once(pg_url: str) -> None:
    """Thousands of keys per page (a Salesforce page is 2,000 records, three keys each) in four
    syncs at once: more than PostgreSQL's shared lock table holds (64 × max_connections)."""
    store = Store(pg_url)
    holders = [PairLocks(store.engine, f"sync{i}") for i in range(4)]
    try:
        for i, h in enumerate(holders):
            await h.acquire([f"left:{i}-{n}" for n in range(6000)] + [f"key:{n}@x.com" for n in range(2000)])
        assert all(len(h.held) == 8000 for h in holders)
    finally:
        for h in holders:
            h.close()
        store.close()
