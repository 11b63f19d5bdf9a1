"""Connection resets and half-carried-out batches between two HubSpot sandboxes (loopback HTTP).

The sandbox drops connections mid-response (half of the time after carrying the request
out) and fails batch writes part-way (the first half of the inputs done, then a 500). The
connector retries what is safe to repeat; a batch *create* is not (companies and deals
have no upsert key), so after such a failure it reports WriteOutcomeUnknown and the runner
looks the records up before sending the missing ones again. Every pass must succeed and
no record may be created twice.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.session import Session

N = 500
FAULTS: dict[str, Any] = {"rate_reset": 0.15, "reset_applied": 0.5, "rate_half_batch": 0.3, "rate_500": 0.1}


def names(sb: HubSpotSandbox, object: str, key: str) -> list[str]:
    return sorted(str(r["properties"].get(key)) for r in sb.records(object))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("object", "key"), [("companies", "name"), ("contacts", "email")])
async def test_resets_and_half_batches_create_nothing_twice(tmp_path: Path, object: str, key: str) -> None:
    a, b = HubSpotSandbox(SandboxSettings()), HubSpotSandbox(SandboxSettings())
    for i in range(N):
        props = ({"name": f"Co {i}", "domain": f"co{i}.com", "city": "Berlin"} if object == "companies" else
                 {"email": f"p{i}@x.com", "firstname": f"P{i}", "lastname": "Lee", "city": "Berlin"})
        a.user_create(object, props)
    for i in range(0, N, 5):  # a fifth of them also in B, with another city: updates too
        b.user_create(object, {**({"name": f"Co {i}", "domain": f"co{i}.com"} if object == "companies" else
                                  {"email": f"p{i}@x.com", "firstname": f"P{i}", "lastname": "Lee"}), "city": "Paris"})
    with ServerThread(a.app) as sa, ServerThread(b.app) as sbv:
        cfg = parse_config({
            "state": f"sqlite:///{tmp_path / 'index.db'}",
            "apps": {"a": {"type": "hubspot", "token": f"a-{uuid.uuid4().hex}", "base_url": sa.url, "timeout": 5},
                     "b": {"type": "hubspot", "token": f"b-{uuid.uuid4().hex}", "base_url": sbv.url, "timeout": 5}},
            "syncs": [{"name": object, "left": {"app": "a", "object": object}, "right": {"app": "b", "object": object},
                       "mappings": [{"left": "city", "right": "city"}] if object == "contacts" else []}],
        }, env={})
        session = Session(cfg)
        for app in ("a", "b"):
            conn = session.connector(app)
            assert isinstance(conn, HubSpotConnector)
            conn.backoff, conn.max_backoff = 0.01, 0.1
        try:
            for sb in (a, b):
                sb.set_faults(**FAULTS, seed=11)
            res = await session.runner(object).run()  # must succeed
            for sb in (a, b):
                sb.clear_faults()
            injected = {k: v for sb in (a, b) for k, v in sb.counters.items() if k.startswith("fault_")}
            assert sum(injected.values()) >= 3, injected
            assert names(a, object, key) == names(b, object, key) == sorted({*names(a, object, key)})
            assert len(names(b, object, key)) == N
            assert res.counters.created == {"left": 0, "right": N - N // 5}
            assert {r["properties"].get("city") for r in b.records(object)} == {"Berlin"}  # the left (winner) wins
            assert session.store.counts(object) == {"syncing": N}
            again = await session.runner(object).run(full=True)
            assert sum(again.counters.created.values()) + sum(again.counters.updated.values()) == 0
        finally:
            await session.aclose()
            a.close()
            b.close()
