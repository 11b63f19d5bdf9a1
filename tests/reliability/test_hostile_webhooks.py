"""Hostile input at the service's webhook endpoint: a clear 4xx for anything wrong, never a 5xx.

``accord run``'s app (loopback HTTP) syncs a HubSpot sandbox with an in-memory app. Hypothesis
sends ``/webhooks/{app}`` every kind of request: unknown apps, other methods, random bytes,
deeply nested or malformed JSON, event lists with missing, mistyped or absurd fields, and
correctly signed, stale-signed, wrongly signed or unsigned bodies. Every answer must be
2xx or 4xx; afterwards the service is healthy, its webhook queue drains, and everything
synced before is still there, unchanged, in both apps and in the index.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings, sign_v3
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.session import Session

SECRET = "app-secret"
TOKEN = "api-token"
TYPES = ["contact.creation", "contact.deletion", "contact.propertyChange", "contact.restore", "contact.merge",
         "company.propertyChange", "deal.creation", "object.propertyChange", "", "contact.", ".creation"]

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c,
                                                                                              max_size=4), max_leaves=15)
events = st.fixed_dictionaries({}, optional={
    "eventId": st.one_of(st.integers(min_value=-5, max_value=2**64), st.text(max_size=300), json_values),
    "subscriptionType": st.one_of(st.sampled_from(TYPES), json_values),
    "objectId": st.one_of(st.integers(min_value=-5, max_value=30), st.integers(), st.text(max_size=20), json_values),
    "sourceId": st.one_of(st.sampled_from(["userId:1", "1000001", ""]), json_values),
    "changeSource": st.one_of(st.sampled_from(["CRM_UI", "INTEGRATION", "API"]), json_values),
    "appId": json_values, "portalId": json_values, "occurredAt": json_values, "attemptNumber": json_values,
    "propertyName": st.one_of(st.sampled_from(["firstname", "email", "nope"]), json_values),
    "propertyValue": json_values,
})
bodies = st.one_of(
    st.lists(events, max_size=6).map(lambda evs: json.dumps(evs).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),  # nested deeper than any parser's stack
    st.integers(1, 200_000).map(lambda n: b'[{"eventId": 1, "objectId": ' + b"[" * n + b"]" * n + b"}]"),
)
signing = st.sampled_from(["valid", "valid", "valid", "stale", "wrong", "none", "garbage"])
apps = st.one_of(st.sampled_from(["hs"] * 12 + ["mem", "nope", "HS", "hs ", ".."]), st.text(min_size=1, max_size=12))


class HookWorld:
    def __init__(self, tmp: Path) -> None:
        self.sandbox = HubSpotSandbox(SandboxSettings(records=0, seed=1))
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
        for i in range(20):
            self.sandbox.user_create("contacts", {"email": f"h{i}@x.com", "firstname": f"H{i}", "lastname": "Hub"})
            self.mem.user_create("contacts", {"email": f"m{i}@x.com", "first_name": f"M{i}", "last_name": "Mem"})
        self.service = Service(self.cfg, Session(self.cfg, connectors={"mem": self.mem}), schedule=False,
                               webhook_delay=0.02)
        self.server = ServerThread(create_app(self.cfg, self.service, token=TOKEN)).start()
        self.client = httpx.Client(base_url=self.server.url, timeout=30)

    def close(self) -> None:
        self.client.close()
        self.server.stop()
        self.sandbox.close()
        self.hub.stop()

    def run_pass(self) -> Any:
        return asyncio.run_coroutine_threadsafe(self.service.run_pass("contacts"), self.service.loop).result(60)

    def state(self) -> dict[str, Any]:
        hub = sorted((r["properties"]["email"], r["properties"].get("firstname"), r["properties"].get("lastname"))
                     for r in self.sandbox.records("contacts"))
        mem = sorted((r.properties["email"], r.properties.get("first_name"), r.properties.get("last_name"))
                     for r in self.mem.live("contacts"))
        return {"hub": hub, "mem": mem, "index": self.service.store.counts("contacts")}


@pytest.mark.timeout(300)
def test_every_webhook_request_gets_a_clear_answer_and_nothing_synced_is_lost(tmp_path: Path) -> None:
    w = HookWorld(tmp_path)
    try:
        assert w.run_pass().counters.created == {"left": 20, "right": 20}
        before = w.state()
        assert before["index"] == {"syncing": 40}
        answers: dict[int, int] = {}

        @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(app=apps, method=st.sampled_from(["POST"] * 12 + ["GET", "PUT", "DELETE"]), body=bodies, sign=signing)
        # each answer the final check counts, whatever the random draws (400s are ~3 % of them)
        @example(app="hs", method="POST", body=b"[]", sign="valid")
        @example(app="hs", method="POST", body=b"not json", sign="valid")
        @example(app="hs", method="POST", body=b'{"eventId": 1}', sign="valid")
        @example(app="hs", method="POST", body=b"[1", sign="valid")
        @example(app="hs", method="POST", body=b"\xff\xfe", sign="valid")
        @example(app="hs", method="POST", body=b"[" * 100_000 + b"]" * 100_000, sign="valid")
        @example(app="hs", method="POST", body=b"[]", sign="wrong")
        def one(app: str, method: str, body: bytes, sign: str) -> None:
            path = f"/webhooks/{quote(app, safe='')}"
            url = f"{w.server.url}{path}"
            ts = str(int((time.time() - (600 if sign == "stale" else 0)) * 1000))
            headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
            if sign != "none":
                sig = {"wrong": sign_v3("not-the-secret", method, url, body, ts).encode(),
                       "garbage": b"\xff\xfe=" * 10}.get(sign) or sign_v3(SECRET, method, url, body, ts).encode()
                headers |= {"X-HubSpot-Signature-Version": "v3", "X-HubSpot-Request-Timestamp": ts,
                            "X-HubSpot-Signature-v3": sig}
            r = w.client.request(method, path, content=body, headers=headers)
            answers[r.status_code] = answers.get(r.status_code, 0) + 1
            assert r.status_code < 500, (r.status_code, r.text[:300], body[:200])
            if r.status_code >= 400:
                assert r.json().get("detail"), r.text[:200]  # a reason, not an empty error
            if method == "POST" and app == "hs" and sign in ("stale", "wrong", "none", "garbage"):
                assert r.status_code == 401
            elif method == "POST" and app == "hs" and r.status_code == 200:
                assert set(r.json()) == {"queued", "duplicates", "echoes"}

        one()
        assert answers.get(200, 0) >= 5 and answers.get(400, 0) >= 5 and answers.get(401, 0) >= 5, answers
        assert w.client.get("/healthz").json() == {"ok": True}
        deadline = time.monotonic() + 30
        while w.service.queue_depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert w.service.queue_depth() == 0
        res = w.run_pass()
        assert sum(res.counters.created.values()) + sum(res.counters.archived.values()) == 0
        assert w.state() == before
    finally:
        w.close()
