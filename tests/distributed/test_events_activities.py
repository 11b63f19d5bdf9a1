"""The distributed scan ends as the embedded pass does: its last step (``finish_scan``) copies the
sync's HubSpot activities to Salesforce and carries the app's events to HubSpot's timeline, so
neither waits for the next incremental pass; the incremental pass (the embedded runner's own
``incremental()``) does both too; and one activity is synced on request (a workflow update).
A few records, one worker in this process."""

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
from accord.index.activities import activity_sync
from accord.index.event_cursors import event_cursor
from accord.model import Side

WHEN = "2026-03-02T10:00:00.000Z"
_queues = itertools.count(1)


async def _until(cond: Callable[[], Any], timeout: float = 30.0, what: str = "") -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


def _finished(store: Store, kind: str) -> list[dict[str, Any]]:
    return [r for r in store.runs("contacts", limit=50) if r["kind"] == kind and r["status"] != "running"]


def _call(pair: Pair, contact: str, title: str) -> str:
    rid = str(pair.hs.user_create("calls", {"hs_timestamp": WHEN, "hs_call_title": title})["id"])
    pair.hs.associate("calls", rid, "contacts", contact)
    return rid


def _timeline(pair: Pair, email: str) -> list[tuple[str, str]]:
    cid = next(str(r["id"]) for r in pair.hs.records("contacts") if r["properties"].get("email") == email)
    return sorted((e["tokens"]["kind"], e["tokens"]["subject"]) for e in pair.hs.timeline_events("contacts", cid))


async def test_the_scan_and_the_incremental_pass_sync_activities_and_events(
        pg_url: str, temporal_address: str, tmp_path: Path) -> None:
    pair = Pair.start()
    ann = str(pair.hs.user_create("contacts", {"email": "ann@acme.com", "firstname": "Ann", "lastname": "Lee"})["id"])
    intro = _call(pair, ann, "Intro call")
    bob = pair.sf.create("Contact", {"FirstName": "Bob", "LastName": "Ray", "Email": "bob@acme.com"})
    pair.sf.create("Task", {"WhoId": bob, "Subject": "Intro email", "TaskSubtype": "Email", "Status": "Completed"})
    apps = pair.apps()
    apps["hubspot"]["app_id"] = "4242"  # timeline events belong to a HubSpot app
    sync = {**contacts_sync("contacts"), "events": True, "activities": ["calls"]}
    cfg = parse_config({"state": pg_url, "apps": apps, "syncs": [sync]}, str(tmp_path / "accord.yaml"), env={})
    queue = f"accord-evact-{os.getpid()}-{next(_queues)}"
    client = await Client.connect(temporal_address)
    ctx = WorkerContext(cfg)
    store = Store(pg_url)
    try:
        async with build_worker(client, ctx, task_queue=queue):
            # no incremental pass on the timer: what follows is the scan's own doing
            params = SyncParams("contacts", interval=3600, heartbeat_timeout=10)
            handle = await ensure_workflow(client, params, task_queue=queue)
            await _until(lambda: _finished(store, "initial"), what="the initial scan")
            [initial] = _finished(store, "initial")
            assert initial["status"] == "ok", initial
            assert not _finished(store, "incremental")
            # Ann's call is a Salesforce Task on her Contact; Bob's email is on his HubSpot timeline
            sf_ann = next(r["Id"] for r in pair.sf.records("Contact") if r["Email"] == "ann@acme.com")
            tasks = {r["Subject"]: r for r in pair.sf.records("Task")}
            assert tasks["Intro call"]["WhoId"] == sf_ann and tasks["Intro call"]["TaskSubtype"] == "Call"
            assert ("Email", "Intro email") in _timeline(pair, "bob@acme.com")
            # in the scan's run record and its summary, as an embedded pass has them
            assert initial["counters"]["events"]["written"] >= 1 and initial["counters"]["events"].get("failed", 0) == 0  # (zeros are left out of a run kept page by page)
            # the run is recorded finished inside the scan's last activity; the workflow's status
            # takes its summary only once that activity has returned
            for _ in range(600):
                if (last := (await handle.query("status"))["last"]) is not None:
                    break
                await asyncio.sleep(0.05)
            assert last["run_id"] == initial["id"] and last["activities"]["calls"]["created"] == 1
            link = store.links_by_record(activity_sync("contacts", "calls"), Side.LEFT, [intro])[intro]
            assert (link.status, link.right_id) == ("syncing", tasks["Intro call"]["Id"])
            assert event_cursor(store, "contacts") is not None

            # the incremental pass: a new call and a new email, each synced once
            _call(pair, ann, "Second call")
            pair.sf.create("Task", {"WhoId": bob, "Subject": "Follow-up", "TaskSubtype": "Email",
                                    "Status": "Completed"})
            await handle.signal("run_now", False)
            await _until(lambda: _finished(store, "incremental"), what="the incremental pass")
            [inc] = _finished(store, "incremental")
            assert inc["status"] == "ok", inc
            assert sorted(r["Subject"] for r in pair.sf.records("Task") if r["TaskSubtype"] == "Call") == \
                ["Intro call", "Second call"]
            bob_events = _timeline(pair, "bob@acme.com")
            assert bob_events == [("Email", "Follow-up"), ("Email", "Intro email")]  # none twice
            # Ann's calls are HubSpot's own, copied to Salesforce: never read back onto her timeline
            assert _timeline(pair, "ann@acme.com") == []
            assert inc["counters"]["events"]["from_hubspot"] >= 1
            # "sync this activity now" (the dashboard's, through the service's bridge): a workflow update
            one = await handle.execute_update("sync_activity", args=["calls", intro])
            assert (one["kind"], one["activities"]["calls"]["unchanged"]) == ("records", 1)
            await handle.terminate("test over")
    finally:
        store.close()
        await ctx.aclose()
        pair.stop()
