"""The sync workflow's life: incremental passes on its timer, continue-as-new carrying its state,
webhook ids queued during a scan and synced after it."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cluster import Pair, contacts_sync
from temporalio.client import Client

from accord.config import parse_config
from accord.distributed.activities import WorkerContext
from accord.distributed.client import ensure_workflow
from accord.distributed.types import SyncParams
from accord.distributed.worker import build_worker
from accord.index import Store

_queues = itertools.count(1)


async def _until(cond: Callable[[], Any], timeout: float = 30.0) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("not within the time limit")
        await asyncio.sleep(0.05)


async def test_passes_on_the_timer_continue_as_new_and_webhook_ids_wait_for_the_scan(
        pg_url: str, temporal_address: str, tmp_path: Path) -> None:
    pair = Pair.start()
    for i in range(1000):  # ten pages: ten scan steps at least
        pair.hs.user_create("contacts", {"email": f"h{i}@x.com", "firstname": f"H{i}", "lastname": "Hub"})
    cfg = parse_config({"state": pg_url, "apps": pair.apps(), "syncs": [contacts_sync("contacts")]},
                       str(tmp_path / "accord.yaml"), env={})
    queue = f"accord-wf-{os.getpid()}-{next(_queues)}"
    client = await Client.connect(temporal_address)
    ctx = WorkerContext(cfg)
    store = Store(pg_url)
    try:
        async with build_worker(client, ctx, task_queue=queue):
            # scan steps of a page or so: the webhook ids below arrive while the scan runs
            params = SyncParams("contacts", interval=0.3, step_seconds=0.01, jobs_per_run=4, heartbeat_timeout=10)
            handle = await ensure_workflow(client, params, task_queue=queue)
            first_run = (await handle.describe()).run_id
            await _until(lambda: (store.runs("contacts", limit=1) or [{}])[0].get("kind") == "initial")
            hid = pair.hs.records("contacts")[0]["id"]
            pair.hs.user_update("contacts", hid, {"firstname": "Early"})
            await handle.signal("records", args=["left", [str(hid)]])
            status = await handle.query("status")
            if status["scan"] is not None:  # (a fast machine may have finished the scan already)
                assert status["queued"] == {"left": 1, "right": 0}  # held back while the scan runs
            await _until(lambda: (st := store.sync_state("contacts")) is not None and st.initial_done)
            # the held-back id is synced by a records job after the scan (its run row exists
            # from the job's start: wait for it to finish)
            await _until(lambda: any(r["kind"] == "records" and r["status"] == "ok"
                                     for r in store.runs("contacts", limit=50)))
            await _until(lambda: "Early" in {r["FirstName"] for r in pair.sf.records("Contact")}, timeout=10)
            # incremental passes every 0.3 s; after 4 jobs the workflow continues as new
            await _until(lambda: sum(r["kind"] == "incremental" for r in store.runs("contacts", limit=100)) >= 6)
            desc = await handle.describe()
            assert desc.run_id != first_run
            assert desc.raw_description.workflow_execution_info.history_length < 200
            status = await handle.query("status")
            assert status["passes"] >= 6 and status["scan"] is None  # the pass count survived continue-as-new
            await handle.terminate("test over")
    finally:
        store.close()
        await ctx.aclose()
        pair.stop()
