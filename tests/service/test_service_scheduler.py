"""Scheduling rules of ``accord run``: polling per app interval, no overlap, disabled syncs, graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from service_world import World

from accord.index import Store
from accord.runner import SyncRunner


def test_polls_each_sync_at_its_apps_interval(tmp_path: Path) -> None:
    with World(tmp_path, poll="0.3s", schedule=True, tick=0.05) as w:
        w.wait(lambda: len(w.client.get("/api/syncs/contacts/runs").json()) >= 3, timeout=5)
        runs = w.client.get("/api/syncs/contacts/runs").json()
        assert runs[-1]["kind"] == "initial" and {r["kind"] for r in runs[:-1]} == {"incremental"}
        assert w.client.get("/api/syncs/companies/runs").json()  # every sync is scheduled
        assert w.client.get("/api/syncs/contacts").json()["poll_seconds"] == 0.3


def test_full_reconciliation_runs_on_its_own_period(tmp_path: Path) -> None:
    with World(tmp_path, poll="1h", schedule=True, tick=0.05, reconcile=0.4) as w:
        w.wait(lambda: any(r["kind"] == "full" for r in w.client.get("/api/syncs/contacts/runs").json()), timeout=5)


def test_a_busy_sync_skips_its_next_scheduled_job(world: World) -> None:
    svc = world.service
    slot = svc.slot("contacts")

    async def hold() -> None:
        async with slot.lock:
            await asyncio.sleep(0.5)

    busy = asyncio.run_coroutine_threadsafe(hold(), svc.loop)
    world.wait(slot.lock.locked)
    assert asyncio.run_coroutine_threadsafe(svc.scheduled("contacts"), svc.loop).result(5) is None
    busy.result(5)
    assert slot.skipped == 1 and world.client.get("/api/syncs/contacts").json()["skipped_jobs"] == 1
    assert 'accord_jobs_skipped_total{kind="incremental",sync="contacts"} 1.0' in world.client.get("/metrics").text
    assert world.client.get("/api/syncs/contacts/runs").json() == []  # nothing ran
    assert world.client.post("/api/syncs/contacts/run").status_code == 202


def test_disabled_syncs_are_not_scheduled(tmp_path: Path) -> None:
    w = World(tmp_path, poll="0.2s", schedule=True, tick=0.05)
    w.service.store.set_enabled("contacts", False)
    with w:
        w.wait(lambda: len(w.client.get("/api/syncs/companies/runs").json()) >= 2)
        assert w.client.get("/api/syncs/contacts/runs").json() == []


def _slow_pages(w: World) -> Any:
    """Slow down the left app's pages (so a shutdown lands mid-pass); the original scan is returned."""
    scan = w.left.scan

    async def slow_scan(obj: str, fields: Sequence[str]) -> AsyncIterator[Any]:
        async for page in scan(obj, fields):
            await asyncio.sleep(0.05)
            yield page

    w.left.scan = slow_scan  # type: ignore[method-assign]
    return scan


def test_shutdown_finishes_the_current_batch_and_stops(tmp_path: Path) -> None:
    w = World(tmp_path)
    for i in range(40):
        w.left.user_create("contacts", {"first_name": f"P{i}", "last_name": "Slow", "email": f"p{i}@x.com"})
    # not an empty target: pages are synced one by one (into an empty one they gather into write
    # groups first: see the next test)
    w.right.user_create("contacts", {"first_name": "Already", "last_name": "There", "email": "there@x.com"})
    _slow_pages(w)
    with w:
        assert w.client.post("/api/syncs/contacts/run").status_code == 202
        w.wait(lambda: w.client.get("/api/syncs/contacts/progress").json()["records"] >= 3)
    # the server has stopped: the pass ended between two pages, its run marked failed
    store = Store(w.cfg.state)
    run = store.runs("contacts")[0]
    assert run["status"] == "failed" and "StopRequested" in run["error"]
    assert 0 < run["counters"]["read"]["left"] < 45
    store.close()


def test_shutdown_while_a_write_group_gathers_writes_nothing_twice(tmp_path: Path) -> None:
    """Into an empty target pages gather into whole write batches (runner.scan.write_group); a
    shutdown while one gathers stops the pass at once, and the next pass syncs each record once."""
    w = World(tmp_path)
    for i in range(40):
        w.left.user_create("contacts", {"first_name": f"P{i}", "last_name": "Slow", "email": f"p{i}@x.com"})
    scan = _slow_pages(w)
    with w:
        assert w.client.post("/api/syncs/contacts/run").status_code == 202
        # the progress counts records as the group gathers them
        w.wait(lambda: w.client.get("/api/syncs/contacts/progress").json()["records"] >= 3)
    store = Store(w.cfg.state)
    run = store.runs("contacts")[0]
    assert run["status"] == "failed" and "StopRequested" in run["error"]
    slow = {f"p{i}@x.com" for i in range(40)}
    assert len([r for r in w.right.live("contacts") if r.properties.get("email") in slow]) < 40
    # the next pass (as the next `accord run` would start it) syncs every record, each once
    w.left.scan = scan  # type: ignore[method-assign]
    asyncio.run(SyncRunner(w.cfg.syncs[0], store, w.left, w.right).run())
    store.close()
    emails = [r.properties.get("email") for r in w.right.live("contacts")]
    assert sorted(e for e in emails if e in slow) == sorted(slow)


def _slow_scan(w: World, obj: str) -> None:
    """Slow down the left app's scan of ``obj`` (its first pass takes a while)."""
    scan = w.left.scan

    async def slow_scan(o: str, fields: Sequence[str]) -> AsyncIterator[Any]:
        async for page in scan(o, fields):
            if o == obj:
                await asyncio.sleep(0.2)
            yield page

    w.left.scan = slow_scan  # type: ignore[method-assign]


def test_a_first_pass_waits_for_the_first_passes_of_the_syncs_its_associations_name(tmp_path: Path) -> None:
    # contacts (listed first) names companies: the passes run side by side, but the first of
    # contacts starts once that of companies has finished (accord.ordering)
    w = World(tmp_path, poll="1h", schedule=True, tick=0.05, contacts={"associations": ["companies"]})
    for i in range(6):
        w.left.user_create("companies", {"name": f"Co{i}"})
    _slow_scan(w, "companies")
    with w:
        w.wait(lambda: w.client.get("/api/syncs/contacts/runs").json(), timeout=10)
        [companies] = w.client.get("/api/syncs/companies/runs").json()
        [contacts] = w.client.get("/api/syncs/contacts/runs").json()
        assert companies["finished_at"] is not None and contacts["started_at"] >= companies["finished_at"]


def test_a_disabled_parent_does_not_hold_the_first_pass_back(tmp_path: Path) -> None:
    w = World(tmp_path, poll="1h", schedule=True, tick=0.05, contacts={"associations": ["companies"]})
    w.service.store.set_enabled("companies", False)
    with w:
        w.wait(lambda: w.client.get("/api/syncs/contacts/runs").json())
        assert w.client.get("/api/syncs/companies/runs").json() == []


def test_syncs_naming_each_other_start_together(tmp_path: Path) -> None:
    with World(tmp_path, contacts={"associations": ["companies"]}) as w:
        assert w.service._first_waits() == {"contacts"}  # nothing has run yet (schedule=False)
        w.service.slot("companies").cfg.associations.append("contacts")  # a cycle: contacts ↔ companies
        assert w.service._first_waits() == set()
