"""HubSpot webhooks into ``accord run``: signed events from the sandbox are synced within seconds;
bad or stale signatures are refused with 401 and change nothing; duplicate eventIds are ignored."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings, sign_v3
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.session import Session

SECRET = "app-secret"
TOKEN = "api-token"


class HubWorld:
    def __init__(self, tmp: Path) -> None:
        self.sandbox = HubSpotSandbox(SandboxSettings(records=0, seed=1, webhook_backoff=0.05))
        self.hub = ServerThread(self.sandbox.app).start()
        self.cfg = parse_config({
            "state": f"sqlite:///{tmp}/index.db",
            "apps": {"hs": {"type": "hubspot", "token": "pat", "base_url": self.hub.url, "webhook_secret": SECRET,
                            "poll": "1h", "timeout": 5},
                     "mem": {"type": "memory", "poll": "1h"}},
            "syncs": [{"name": "contacts", "left": {"app": "hs", "object": "contacts"},
                       "right": {"app": "mem", "object": "contacts"}}],
        }, env={})
        self.mem = MemoryApp("mem")
        self.ids = [self.sandbox.user_create("contacts", {"email": f"u{i}@x.com", "firstname": f"U{i}",
                                                           "lastname": "Hook"})["id"] for i in range(3)]
        session = Session(self.cfg, connectors={"mem": self.mem})
        self.service = Service(self.cfg, session, schedule=False, webhook_delay=0.05)
        self.server = ServerThread(create_app(self.cfg, self.service, token=TOKEN)).start()
        self.url = f"{self.server.url}/webhooks/hs"
        self.client = httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    def close(self) -> None:
        self.client.close()
        self.server.stop()
        self.sandbox.close()
        self.hub.stop()

    def first_name(self, email: str) -> Any:
        return next((r.properties.get("first_name") for r in self.mem.live("contacts")
                     if r.properties.get("email") == email), None)

    def runs(self) -> list[dict[str, Any]]:
        return list(self.client.get("/api/syncs/contacts/runs").json())

    def post(self, events: list[dict[str, Any]], *, secret: str = SECRET, age: float = 0.0) -> httpx.Response:
        body = json.dumps(events).encode()
        ts = str(int((time.time() - age) * 1000))
        return httpx.post(self.url, content=body, headers={
            "Content-Type": "application/json", "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": ts, "X-HubSpot-Signature-v3": sign_v3(secret, "POST", self.url, body, ts)})


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HubWorld]:
    w = HubWorld(tmp_path)
    try:
        res = asyncio.run_coroutine_threadsafe(w.service.run_pass("contacts"), w.service.loop).result(20)
        assert res is not None and res.counters.created["right"] == 3
        yield w
    finally:
        w.close()


def _until(cond: Any, timeout: float = 5.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.02)
    raise AssertionError("not within the time limit")


def test_a_user_edit_in_hubspot_reaches_the_other_app_within_seconds(hw: HubWorld) -> None:
    hw.sandbox.configure_webhooks(hw.url, SECRET)
    hw.sandbox.user_update("contacts", hw.ids[0], {"firstname": "Webhooked"})
    elapsed = _until(lambda: hw.first_name("u0@x.com") == "Webhooked", timeout=5)
    assert elapsed < 5
    assert hw.sandbox.webhooks.stats.failed_attempts == 0  # every delivery accepted
    assert hw.runs()[0]["kind"] == "records"
    text = hw.client.get("/metrics").text
    assert 'accord_webhook_requests_total{app="hs",outcome="accepted"}' in text


def test_bad_or_stale_signatures_are_refused_and_change_nothing(hw: HubWorld) -> None:
    ev = [{"eventId": 101, "subscriptionType": "contact.propertyChange", "objectId": int(hw.ids[1]),
           "propertyName": "firstname", "propertyValue": "Evil", "occurredAt": int(time.time() * 1000)}]
    hw.sandbox.user_update("contacts", hw.ids[1], {"firstname": "Evil"})  # (webhooks off: not delivered)
    before = hw.runs()
    assert hw.post(ev, secret="wrong").status_code == 401
    assert hw.post(ev, age=600).status_code == 401  # replayed: more than 5 minutes old
    assert httpx.post(hw.url, content=b"[]").status_code == 401  # unsigned
    time.sleep(0.3)
    assert hw.runs() == before and hw.first_name("u1@x.com") == "U1"
    assert hw.service.queue_depth() == 0
    assert 'accord_webhook_requests_total{app="hs",outcome="rejected"} 3.0' in hw.client.get("/metrics").text
    # the same event correctly signed is accepted; delivered again, it is ignored
    first = hw.post(ev)
    assert first.status_code == 200 and first.json()["queued"] == 1
    _until(lambda: hw.first_name("u1@x.com") == "Evil")
    n = len(hw.runs())
    again = hw.post(ev)
    assert again.status_code == 200 and again.json() == {"queued": 0, "duplicates": 1, "echoes": 0}
    time.sleep(0.3)
    assert len(hw.runs()) == n


def test_webhooks_for_unknown_or_non_webhook_apps_are_404(hw: HubWorld) -> None:
    assert httpx.post(f"{hw.server.url}/webhooks/nope", content=b"[]").status_code == 404
    assert httpx.post(f"{hw.server.url}/webhooks/mem", content=b"[]").status_code == 404


def test_a_replayed_event_is_refused_after_a_restart(hw: HubWorld) -> None:
    ev = [{"eventId": 202, "subscriptionType": "contact.propertyChange", "objectId": int(hw.ids[2]),
           "propertyName": "firstname", "propertyValue": "Once", "occurredAt": int(time.time() * 1000)}]
    assert hw.post(ev).json()["queued"] == 1
    hw.server.stop()  # the service stops; its eventIds stay in the index
    service = Service(hw.cfg, Session(hw.cfg, connectors={"mem": hw.mem}), schedule=False, webhook_delay=0.05)
    hw.server = ServerThread(create_app(hw.cfg, service, token=TOKEN)).start()
    hw.url = f"{hw.server.url}/webhooks/hs"
    again = hw.post(ev)  # freshly signed and timed, the same eventId
    assert again.status_code == 200 and again.json() == {"queued": 0, "duplicates": 1, "echoes": 0}
    ev2 = [{**ev[0], "eventId": 203}]
    assert hw.post(ev2 + ev2).json() == {"queued": 1, "duplicates": 1, "echoes": 0}  # a repeat within one batch


def test_generic_webhook_subscriptions_are_understood_as_the_legacy_ones(hw: HubWorld) -> None:
    """HubSpot's generic subscriptions: object.propertyChange with objectTypeId 0-1 (contacts)."""
    hw.sandbox.configure_webhooks(hw.url, SECRET, style="generic")
    hw.sandbox.user_update("contacts", hw.ids[1], {"firstname": "Generic"})
    _until(lambda: hw.first_name("u1@x.com") == "Generic", timeout=5)
    sent = [ev for batch in hw.sandbox.webhooks.stats.batches for ev in batch]
    assert sent and {ev["subscriptionType"] for ev in sent} == {"object.propertyChange"}
    assert {ev["objectTypeId"] for ev in sent} == {"0-1"}
