"""What an operator relies on in distributed mode behaves as in the embedded mode: progress
from the index, "sync now" refused (409) while a pass runs, a workflow Temporal lost started
again on the next request, a pass that cannot begin shown as a failed run with its category
and hint, and a service or worker started before Temporal waiting for it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
import yaml
from cluster import Pair, contacts_sync
from temporal_server import free_port, temporal_dev_server
from temporalio.client import Client

from accord.config import parse_config
from accord.distributed.activities import WorkerContext
from accord.distributed.client import handle_of
from accord.distributed.service_bridge import TemporalService, problem_of_run
from accord.distributed.worker import build_worker
from accord.index import Store
from accord.sandbox.server import ServerThread
from accord.service.app import create_app

TOKEN = "api-token-controls"
_queues = itertools.count(1)


async def _until(cond: Callable[[], Any], timeout: float = 30.0, what: str = "") -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


class World:
    """A service with ``accord run --temporal``'s bridge, its HTTP API, and a worker in this process."""

    def __init__(self, pair: Pair, pg_url: str, address: str, root: Path, apps: dict[str, Any],
                 sync: dict[str, Any]) -> None:
        self.pair, self.address = pair, address
        self.queue = f"accord-controls-{os.getpid()}-{next(_queues)}"
        self.cfg = parse_config({"state": pg_url, "apps": apps, "syncs": [{**contacts_sync("contacts"), **sync}]},
                                str(root / "accord.yaml"), env={})
        self.store = Store(pg_url)
        self.api: httpx.AsyncClient
        self.service: TemporalService

    def runs(self) -> list[dict[str, Any]]:
        return self.store.runs("contacts", limit=50)

    def initial_done(self) -> bool:
        st = self.store.sync_state("contacts")
        return st is not None and st.initial_done

    async def progress(self) -> dict[str, Any]:
        res = await self.api.get("/api/syncs/contacts/progress")
        assert res.status_code == 200, res.text
        body: dict[str, Any] = res.json()
        return body


async def _world(pg_url: str, address: str, root: Path, *, wrong_ca: bool = False,
                 wrong_token: bool = False, unmatched: bool = False) -> AsyncIterator[World]:
    pair = Pair.start()
    apps = pair.apps()
    if wrong_ca:  # the public CAs: the sandbox's self-signed certificate is not among them
        apps["salesforce"]["verify"] = certifi.where()
    if wrong_token:  # the HubSpot account accepts only its own token: the worker's calls get 401
        pair.hs.settings.token = "the-right-token"
    # unmatched: no match key, and more records on each side than an unmatched start may create unasked
    w = World(pair, pg_url, address, root, apps, {"match": "none"} if unmatched else {})
    for i in range(30 if unmatched else 5):
        pair.hs.user_create("contacts", {"email": f"h{i}@x.com", "firstname": f"H{i}", "lastname": "Hub"})
    for i in range(30 if unmatched else 3):
        pair.sf.create("Contact", {"Email": f"s{i}@x.com", "FirstName": f"S{i}", "LastName": "Force"})
    client = await Client.connect(address)
    ctx = WorkerContext(w.cfg)
    worker = build_worker(client, ctx, task_queue=w.queue)
    w.service = TemporalService(w.cfg, address, task_queue=w.queue, webhook_delay=0.05,
                                workflow_options={"heartbeat_timeout": 10, "webhook_delay": 0.05})
    server = ServerThread(create_app(w.cfg, w.service, token=TOKEN)).start()
    w.api = httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    try:
        async with worker:
            yield w
            await handle_of(client, "contacts", w.queue).terminate("test over")
    finally:
        await w.api.aclose()
        server.stop()
        await ctx.aclose()
        w.store.close()
        pair.stop()


@pytest.fixture
async def world(pg_url: str, temporal_address: str, tmp_path: Path) -> AsyncIterator[World]:
    async for w in _world(pg_url, temporal_address, tmp_path):
        yield w


@pytest.fixture
async def wrong_ca_world(pg_url: str, temporal_address: str, tmp_path: Path) -> AsyncIterator[World]:
    async for w in _world(pg_url, temporal_address, tmp_path, wrong_ca=True):
        yield w


@pytest.fixture
async def wrong_token_world(pg_url: str, temporal_address: str, tmp_path: Path) -> AsyncIterator[World]:
    async for w in _world(pg_url, temporal_address, tmp_path, wrong_token=True):
        yield w


@pytest.fixture
async def unmatched_world(pg_url: str, temporal_address: str, tmp_path: Path) -> AsyncIterator[World]:
    async for w in _world(pg_url, temporal_address, tmp_path, unmatched=True):
        yield w


@pytest.mark.slow
async def test_progress_comes_from_the_index_and_run_now_is_refused_while_a_pass_runs(world: World) -> None:
    await _until(world.initial_done, what="the initial sync")
    done = await world.progress()
    assert done["running"] is False and done["kind"] == "initial" and done["records"] == 8
    world.pair.sf.settings.latency = 0.5  # every Salesforce call: the full pass takes seconds
    res = await world.api.post("/api/syncs/contacts/run", params={"full": "true"})
    assert res.status_code == 202, res.text
    seen: list[dict[str, Any]] = []

    async def running() -> bool:
        seen.append(await world.progress())
        return bool(seen[-1]["running"])

    t0 = time.monotonic()
    while not await running():
        assert time.monotonic() - t0 < 30, seen[-3:]
        await asyncio.sleep(0.05)
    p = seen[-1]
    assert p["elapsed_seconds"] is not None and p["phase"]
    # "sync now" while it runs: refused, as in the embedded mode and docs/service.md
    again = await world.api.post("/api/syncs/contacts/run")
    assert again.status_code == 409, again.text
    body = (await world.api.get("/api/syncs/contacts")).json()
    assert body["running"] is True
    world.pair.sf.settings.latency = 0.0
    await _until(lambda: world.runs()[0]["kind"] == "full" and world.runs()[0]["status"] == "ok", what="the full pass")
    await _until(lambda: not world.service.progress("contacts").running, what="the lease released")
    after = await world.progress()
    assert after["running"] is False and after["kind"] == "full"
    assert after["records"] == sum(world.runs()[0]["counters"]["read"].values()) == 16  # 8 in each app
    # the dashboard's progress fragment reads the same
    page = await world.api.get("/ui/syncs/contacts/progress")
    assert page.status_code == 200 and "last: full" in page.text


@pytest.mark.slow
async def test_a_workflow_temporal_lost_is_started_again_by_the_next_run_now(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    await _until(world.initial_done, what="the initial sync")
    client = await Client.connect(world.address)
    # what a dev server restarted without --db-filename does to every workflow
    await handle_of(client, "contacts", world.queue).terminate("lost")
    n = len(world.runs())
    with caplog.at_level(logging.WARNING, logger="accord.service"):
        res = await world.api.post("/api/syncs/contacts/run", params={"full": "true"})
        assert res.status_code == 202, res.text
        # the new workflow's first incremental pass, and the full pass asked for
        await _until(lambda: any(r["kind"] == "full" and r["status"] == "ok" for r in world.runs()[:len(world.runs()) - n]),
                     what="the full pass asked for")
    assert any("no running workflow" in r.getMessage() for r in caplog.records), caplog.text
    desc = await handle_of(client, "contacts", world.queue).describe()
    assert desc.status is not None and desc.status.name == "RUNNING"


@pytest.mark.slow
async def test_a_pass_that_cannot_begin_is_a_failed_run_with_category_and_hint(wrong_ca_world: World) -> None:
    w = wrong_ca_world
    # the first attempt of begin_pass gives up after the connector's own retries (seconds),
    # Temporal's retries follow: the run history and the API show it after that first attempt
    await _until(lambda: bool(w.runs()) and w.runs()[0]["status"] == "failed", timeout=60, what="a failed run")
    run = w.runs()[0]
    assert run["kind"] == "initial" and "CERTIFICATE_VERIFY_FAILED" in run["error"], run
    body = (await w.api.get("/api/syncs/contacts")).json()
    problem = body["problem"]
    assert problem is not None and problem["category"] == "unreachable", body
    assert "certificate" in problem["hint"] and "verify" in problem["hint"], problem
    assert body["last_run"]["status"] == "failed"
    page = await w.api.get("/")
    assert page.status_code == 200 and "stopped: app unreachable" in page.text and "verify" in page.text
    await asyncio.sleep(3)  # Temporal retries begin_pass meanwhile: one failed run per pass, not per retry
    assert len([r for r in w.runs() if r["status"] == "failed"]) == 1


async def test_credentials_a_worker_was_refused_show_on_the_apps_page(wrong_token_world: World) -> None:
    """The Apps page reads the run history the workers keep: the refusing app is failing."""
    w = wrong_token_world
    await _until(lambda: bool(w.runs()) and w.runs()[0]["status"] == "failed", timeout=60, what="a failed run")
    assert "app 'hubspot'" in w.runs()[0]["error"], w.runs()[0]
    page = await w.api.get("/apps")
    assert page.status_code == 200
    states = dict(re.findall(r'<tr id="app-[^"]+" data-app="([^"]+)" data-state="([^"]+)"', page.text))
    assert states["hubspot"] == "failing", states
    assert states["salesforce"] != "failing"
    assert "failing: credentials refused" in page.text and "Test connection" in page.text


async def test_an_unmatched_start_waits_for_a_confirmation_given_through_the_api(unmatched_world: World) -> None:
    """The workers' first pass of a sync with no match key over two full apps writes nothing;
    the API's confirmation lets the next one create the records of each app in the other, once."""
    w = unmatched_world
    await _until(lambda: bool(w.runs()) and w.runs()[0]["status"] == "failed", timeout=60, what="a held start")
    assert "this sync has no match key" in w.runs()[0]["error"], w.runs()[0]
    held = (await w.api.get("/api/syncs/contacts")).json()["deletes_held"]
    assert held is not None and held["kind"] == "unmatched", held
    assert len(w.pair.sf.records("Contact")) == 30 and len(w.pair.hs.records("contacts")) == 30
    ok = await w.api.post("/api/syncs/contacts/confirm-deletes", json={"hold": held["id"]})
    assert ok.status_code == 200 and ok.json()["confirmed"] is True, ok.text
    await _until(w.initial_done, timeout=60, what="the confirmed initial sync")
    assert len(w.pair.sf.records("Contact")) == 60 and len(w.pair.hs.records("contacts")) == 60
    assert (await w.api.get("/api/syncs/contacts")).json()["deletes_held"] is None


def test_problem_of_run_reads_the_category_and_hint_the_run_history_keeps() -> None:
    run = {"status": "failed", "finished_at": "2026-12-06T10:00:00+00:00",
           "error": "UnreachableError: sf at https://h unreachable: connection failed (hint: set verify:)"}
    assert problem_of_run(run) == {"category": "unreachable", "message": "UnreachableError: sf at https://h "
                                   "unreachable: connection failed", "hint": "set verify:", "app": "",
                                   "at": "1796551200.000"}
    # refused credentials name their app (model.error_text), for the Apps page
    auth = problem_of_run({"status": "failed", "finished_at": None,
                           "error": "AuthError: app 'hs': HubSpot rejected the token: expired"})
    assert auth is not None and auth["category"] == "auth" and auth["app"] == "hs" and "Test connection" in auth["hint"]
    assert problem_of_run({"status": "failed", "error": "ValueError: no"}) is None
    assert problem_of_run({"status": "ok", "error": None}) is None


# -- Temporal unreachable at start ---------------------------------------------------------------
@pytest.mark.slow
async def test_the_service_waits_for_temporal_and_serves_the_index_meanwhile(
        pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pair = Pair.start()
    port = free_port()
    address = f"127.0.0.1:{port}"
    cfg = parse_config({"state": pg_url, "apps": pair.apps(), "syncs": [contacts_sync("contacts")]},
                       str(tmp_path / "accord.yaml"), env={})
    queue = f"accord-controls-{os.getpid()}-{next(_queues)}"
    service = TemporalService(cfg, address, task_queue=queue, connect_retry=0.5)
    server = ServerThread(create_app(cfg, service, token=TOKEN)).start()
    api = httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    try:
        with caplog.at_level(logging.WARNING, logger="accord.distributed"):
            await _until(lambda: sum("cannot be reached" in r.getMessage() for r in caplog.records) >= 2,
                         what="a log line per attempt")
        assert (await api.get("/api/syncs/contacts")).status_code == 200
        assert (await api.get("/api/syncs/contacts/progress")).json()["running"] is False
        res = await api.post("/api/syncs/contacts/run")
        assert res.status_code == 503 and "could not be reached" in res.text, res.text
        # alive, but not ready: a load balancer keeps work away until Temporal answers
        assert (await api.get("/healthz")).json() == {"ok": True}
        ready = await api.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"] == {"service": "ok", "index": "ok",
                                          "temporal": f"Temporal at {address} has not been reached yet"}
        with temporal_dev_server(port) as started:
            assert started == address
            await _until(service.connected.is_set, what="connected once Temporal is up")
            ready = await api.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {
                "ok": True, "checks": {"service": "ok", "index": "ok", "temporal": "ok"}}, ready.text
            client = await Client.connect(address)
            desc = await handle_of(client, "contacts", queue).describe()
            assert desc.status is not None and desc.status.name == "RUNNING"
            assert (await api.post("/api/syncs/contacts/run")).status_code == 202
            await handle_of(client, "contacts", queue).terminate("test over")
    finally:
        await api.aclose()
        server.stop()
        pair.stop()


@pytest.mark.slow
def test_a_worker_started_before_temporal_waits_for_it(pg_url: str, tmp_path: Path) -> None:
    pair = Pair.start()
    port = free_port()
    config = tmp_path / "accord.yaml"
    config.write_text(yaml.safe_dump({"state": pg_url, "apps": pair.apps(), "syncs": [contacts_sync("contacts")]}))
    log = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "worker", "-c", str(config),
                                 "--temporal", f"127.0.0.1:{port}", "--task-queue", f"accord-controls-{os.getpid()}",
                                 "--connect-retry", "1"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        # a line every --connect-retry (1 s here, 5 s by default) while Temporal is down, and the worker keeps running
        while log.read_text(errors="replace").count("cannot be reached") < 2:
            assert proc.poll() is None, f"the worker exited with {proc.returncode}: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        assert "Connection refused" in log.read_text()
        with temporal_dev_server(port):
            deadline = time.monotonic() + 60
            while "task queue" not in log.read_text(errors="replace"):
                assert proc.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pair.stop()
