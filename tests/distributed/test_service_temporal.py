"""``accord run --temporal``: the service starts the workflow, turns webhooks into signals and API
calls into signals and updates; a worker does every pass. HubSpot ↔ Salesforce sandboxes,
PostgreSQL index, Temporal dev server, the worker in this process."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster import Pair, contacts_sync
from temporalio.client import Client

from accord.config import parse_config
from accord.distributed.activities import WorkerContext
from accord.distributed.client import handle_of
from accord.distributed.service_bridge import TemporalService
from accord.distributed.worker import build_worker
from accord.index import Store
from accord.sandbox.server import ServerThread
from accord.service.app import create_app

SECRET = "app-secret"
TOKEN = "api-token"
_queues = itertools.count(1)


async def _until(cond: Callable[[], Any], timeout: float = 20.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time limit")


class World:
    def __init__(self, pair: Pair, pg_url: str, address: str, root: Path) -> None:
        self.pair, self.address = pair, address
        self.queue = f"accord-svc-{os.getpid()}-{next(_queues)}"
        apps = pair.apps()
        apps["hubspot"]["webhook_secret"] = SECRET
        # notifications: what the service tells from the workers' runs (the sender is replaced below)
        self.cfg = parse_config({"state": pg_url, "apps": apps, "syncs": [contacts_sync("contacts")],
                                 "notifications": {"urls": ["mailto://127.0.0.1:2525?from=accord@example.com&to=ops@example.com"]}},
                                str(root / "accord.yaml"), env={})
        self.told: list[tuple[str, str]] = []
        self.store = Store(pg_url)

    def sf_titles(self) -> dict[str, Any]:
        return {str(r["Email"]).lower(): r.get("Title") for r in self.pair.sf.records("Contact")}

    def runs(self) -> list[dict[str, Any]]:
        return self.store.runs("contacts", limit=50)


@pytest.fixture
async def world(pg_url: str, temporal_address: str, tmp_path: Path) -> AsyncIterator[World]:
    pair = Pair.start()
    w = World(pair, pg_url, temporal_address, tmp_path)
    for i in range(5):
        pair.hs.user_create("contacts", {"email": f"h{i}@x.com", "firstname": f"H{i}", "lastname": "Hub"})
    for i in range(3):
        pair.sf.create("Contact", {"Email": f"s{i}@x.com", "FirstName": f"S{i}", "LastName": "Force"})
    client = await Client.connect(temporal_address)
    ctx = WorkerContext(w.cfg)
    worker = build_worker(client, ctx, task_queue=w.queue)
    service = TemporalService(w.cfg, temporal_address, task_queue=w.queue, webhook_delay=0.05, notify_interval=0.2,
                              workflow_options={"heartbeat_timeout": 10, "webhook_delay": 0.05})

    async def told(title: str, body: str) -> bool:
        w.told.append((title, body))
        return True

    service.notifier._send = told  # apprise's own delivery is tested in tests/service/test_notifications.py
    w.service = service  # type: ignore[attr-defined]
    server = ServerThread(create_app(w.cfg, service, token=TOKEN)).start()
    w.api = httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)  # type: ignore[attr-defined]
    w.hook_url = f"{server.url}/webhooks/hubspot"  # type: ignore[attr-defined]
    try:
        async with worker:
            yield w
            await handle_of(client, "contacts", w.queue).terminate("test over")
    finally:
        await w.api.aclose()  # type: ignore[attr-defined]
        server.stop()
        await ctx.aclose()
        w.store.close()
        pair.stop()


async def test_the_service_starts_the_workflow_and_a_worker_runs_the_initial_sync(world: World) -> None:
    await _until(lambda: (st := world.store.sync_state("contacts")) is not None and st.initial_done)
    assert len(world.pair.sf.records("Contact")) == len(world.pair.hs.records("contacts")) == 8
    assert world.runs()[0]["kind"] == "initial" and world.runs()[0]["status"] == "ok"
    body = (await world.api.get("/api/syncs/contacts")).json()  # type: ignore[attr-defined]
    assert body["initial_done"] and body["counts"]["syncing"] == 8
    # the worker ran the pass; the service tells it, once, from the run history
    await _until(lambda: world.told)
    title, text = world.told[0]
    assert title == "Accord: the initial sync of contacts is done", world.told
    assert "8 records syncing, 0 failing, 0 excluded." in text and "Created 3 in hubspot and 5 in salesforce" in text
    # a pass that meets revoked credentials is told too, naming the app (the run history's form of the error)
    service = world.service  # type: ignore[attr-defined]
    service._tell_run(world.cfg.syncs[0], {"id": 10**6, "status": "failed", "kind": "incremental",
                                           "error": "AuthError: app 'hubspot': the token was revoked"})
    await service.notifier.drain()
    assert world.told[-1][0] == "Accord: hubspot refused the credentials"
    assert [t for t, _ in world.told].count("Accord: the initial sync of contacts is done") == 1


async def test_a_webhook_becomes_a_signal_and_the_worker_syncs_the_record(world: World) -> None:
    await _until(lambda: (st := world.store.sync_state("contacts")) is not None and st.initial_done)
    hs = world.pair.hs
    hs.configure_webhooks(world.hook_url, SECRET)  # type: ignore[attr-defined]
    hid = next(r["id"] for r in hs.records("contacts") if r["properties"].get("email") == "h1@x.com")
    hs.user_update("contacts", hid, {"jobtitle": "Webhooked"})
    # polls are an hour apart: only the webhook → signal → records activity path can do this
    elapsed = await _until(lambda: world.sf_titles().get("h1@x.com") == "Webhooked", timeout=15)
    assert elapsed < 15
    assert world.runs()[0]["kind"] == "records"


async def test_api_run_now_and_record_resync_go_through_the_workflow(world: World) -> None:
    await _until(lambda: (st := world.store.sync_state("contacts")) is not None and st.initial_done)
    n = len(world.runs())
    res = await world.api.post("/api/syncs/contacts/run", params={"full": "true"})  # type: ignore[attr-defined]
    assert res.status_code == 202
    await _until(lambda: world.runs()[0]["kind"] == "full" and world.runs()[0]["status"] == "ok")
    assert len(world.runs()) == n + 1
    # "sync this record now": a workflow update, answered with the pass's result
    sid = next(str(r["Id"]) for r in world.pair.sf.records("Contact") if r["Email"] == "s2@x.com")
    world.pair.sf.update("Contact", sid, {"Title": "Resynced"})
    res = await world.api.post(f"/api/syncs/contacts/records/{sid}/resync")  # type: ignore[attr-defined]
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["kind"] == "records" and body["updated"]["left"] == 1
    hs_titles = {r["properties"].get("email"): r["properties"].get("jobtitle") for r in world.pair.hs.records("contacts")}
    assert hs_titles["s2@x.com"] == "Resynced"


async def test_a_sync_created_through_the_api_is_run_by_the_workers(world: World) -> None:
    """The service stores it in the index and starts its workflow; the worker reads it from there."""
    world.pair.hs.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    res = await world.api.post("/api/syncs", json={  # type: ignore[attr-defined]
        "name": "companies", "left": {"app": "hubspot", "object": "companies"},
        "right": {"app": "salesforce", "object": "Account"}})
    assert res.status_code == 201, res.text
    await _until(lambda: (st := world.store.sync_state("companies")) is not None and st.initial_done)
    assert [a["Name"] for a in world.pair.sf.records("Account")] == ["Acme"]
    client = await Client.connect(world.address)
    await handle_of(client, "companies", world.queue).terminate("test over")


async def test_a_webhook_during_a_scan_step_is_synced_between_its_pages(world: World) -> None:
    """The workflow runs one job at a time, so its queue of webhook ids waits for the whole scan;
    the ids are also in the index, and the scan step syncs them between its pages."""
    await _until(lambda: (st := world.store.sync_state("contacts")) is not None and st.initial_done)
    sf = world.pair.sf
    for i in range(300):
        sf.create("Contact", {"Email": f"bulk{i}@x.com", "FirstName": f"B{i}", "LastName": "Force"})
    sf.settings.page_size, sf.settings.latency = 20, 0.3  # phase 2: about 15 pages of 0.3 s
    hs = world.pair.hs
    hs.configure_webhooks(world.hook_url, SECRET)  # type: ignore[attr-defined]
    res = await world.api.post("/api/syncs/contacts/run", params={"full": "true"})  # type: ignore[attr-defined]
    assert res.status_code == 202
    await _until(lambda: world.runs()[0]["kind"] == "full")
    run_id = int(world.runs()[0]["id"])
    await _until(lambda: (m := world.store.run_mark(run_id)) is not None and m[0] == "right" and m[1] is not None)
    hid = next(r["id"] for r in hs.records("contacts") if r["properties"].get("email") == "h1@x.com")
    hs.user_update("contacts", hid, {"jobtitle": "During the scan"})
    took = await _until(lambda: world.sf_titles().get("h1@x.com") == "During the scan", timeout=15)
    run = world.runs()[0]
    assert run["id"] == run_id and run["status"] == "running", "the webhook waited for the scan to end"
    assert took < 5.0
    await _until(lambda: world.runs()[0]["status"] == "ok" and world.runs()[0]["id"] == run_id, timeout=60)
    assert world.sf_titles().get("h1@x.com") == "During the scan"  # the scan did not take it back
    await _until(lambda: not world.store.pending("contacts"), timeout=15)  # the records job dropped them
