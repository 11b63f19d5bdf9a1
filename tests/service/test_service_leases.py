"""The service and the sync's lease: a process without it keeps webhook records for later (issue #16)."""

from __future__ import annotations

import time
from pathlib import Path

from service_world import World

from accord.index.leases import SyncLease
from accord.model import Side
from helpers import by_email, person


async def test_a_service_without_the_lease_keeps_webhook_records_for_later(tmp_path: Path) -> None:
    with World(tmp_path, schedule=True, tick=0.05) as w:
        w.wait(lambda: all(s["initial_done"] for s in w.client.get("/api/syncs").json()), timeout=10)
        other = SyncLease(w.service.store.engine, "contacts")  # another process runs a pass
        assert other.try_acquire()
        try:
            rid = w.left.user_create("contacts", person("Eve", "New", "eve@x.com"))
            result = await w.service.sync_records("contacts", Side.LEFT, [rid])
            assert result is None  # not run here, and no error either
            assert w.service.store.pending("contacts") == {Side.LEFT: [rid]}
            time.sleep(0.3)
            assert "eve@x.com" not in by_email(w.right)
        finally:
            other.release()
        # the lease is free: the next tick of this process syncs the kept record
        w.wait(lambda: "eve@x.com" in by_email(w.right), timeout=10)
        w.wait(lambda: w.service.store.pending("contacts") == {}, timeout=5)


async def test_a_scheduled_pass_another_process_is_running_is_skipped_and_counted(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        await w.service.run_pass("contacts")
        other = SyncLease(w.service.store.engine, "contacts")
        assert other.try_acquire()
        try:
            runs = len(w.service.store.runs("contacts"))
            assert await w.service.scheduled("contacts") is None
            assert w.service.slot("contacts").skipped == 1
            assert len(w.service.store.runs("contacts")) == runs  # not run, so not in the history either
            assert 'accord_jobs_skipped_total{kind="pass",sync="contacts"} 1.0' in w.service.metrics.render().decode()
        finally:
            other.release()
        assert await w.service.scheduled("contacts") is not None


def test_the_same_webhook_claimed_by_two_processes_at_once_is_processed_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from accord.index import Store

    url = f"sqlite:///{tmp_path}/index.db"
    stores = [Store(url), Store(url)]
    ids = [f"evt-{i}" for i in range(200)]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda s: s.claim_events("hubspot", ids), stores))
    assert got[0] | got[1] == set(ids) and not got[0] & got[1]
    for s in stores:
        s.close()
