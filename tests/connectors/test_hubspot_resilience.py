"""HubSpot connector under rate limits and injected faults (429 / 500 / time-outs)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow, shared_limits
from accord.model import RateLimited, TransientError, WriteOutcomeUnknown
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread

FIELDS = ["email", "firstname", "lastname"]


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(records=40, seed=2, webhook_backoff=0.01))
    yield sb
    sb.close()


async def test_stays_inside_the_limits_under_concurrency(sandbox: HubSpotSandbox, server: ServerThread) -> None:
    # The sandbox allows 20 requests per 0.5 s and 10 searches per second; two connectors of
    # the same app share one Limits, as the engine's jobs do.
    sandbox.settings.rate_limit, sandbox.settings.rate_window, sandbox.settings.search_rate = 20, 0.5, 10
    limits = Limits(RollingWindow(20, 0.5), RollingWindow(10, 1.0))
    a, b = (HubSpotConnector(n, token="t", base_url=server.url, limits=limits, max_retries=0) for n in "ab")
    ids = [c["id"] for c in sandbox.records("contacts")]
    emails = [c["properties"]["email"] for c in sandbox.records("contacts")]
    started = time.monotonic()
    await asyncio.gather(*[(a if i % 2 else b).read("contacts", [ids[i % 40]], FIELDS) for i in range(60)],
                         *[(a if i % 2 else b).find("contacts", "email", [emails[i]], FIELDS) for i in range(15)])
    elapsed = time.monotonic() - started
    assert sandbox.counters["rate_limited"] == 0  # max_retries=0: any 429 would also have raised
    assert sandbox.counters["batch_read"] == 60 + 0 and sandbox.counters["search"] == 15
    assert elapsed >= 1.0  # 62 calls at 20 / 0.5 s, 15 searches at 10 / s: it did have to wait
    assert a.api_calls + b.api_calls == sum(limits.calls.values()) == 77
    await a.aclose()
    await b.aclose()


async def test_server_429s_are_retried_and_honour_retry_after(sandbox: HubSpotSandbox, server: ServerThread) -> None:
    conn = HubSpotConnector("hs", token="t", base_url=server.url, backoff=0.01,
                            limits=Limits(RollingWindow(1000, 10.0), RollingWindow(1000, 1.0)))
    sandbox.set_faults(rate_429=0.3, retry_after=0, seed=4)
    got = [r.id async for p in conn.scan("contacts", FIELDS) for r in p.records]
    assert sorted(got, key=int) == sorted((c["id"] for c in sandbox.records("contacts")), key=int)
    assert sandbox.counters["fault_429"] > 0 and conn.api_calls == sandbox.counters["total"]
    conn.max_retries = 1
    sandbox.clear_faults()
    sandbox.set_faults(rate_500=1.0)
    with pytest.raises(TransientError):
        await conn.check()
    # a limit with Retry-After: every user of the window waits that long before retrying
    sandbox.set_faults(rate_500=0.0, rate_429=1.0, retry_after=1)
    started = time.monotonic()
    with pytest.raises(RateLimited):
        await conn.check()
    assert time.monotonic() - started >= 1.0
    await conn.aclose()


async def test_correct_results_with_ten_percent_faults(sandbox: HubSpotSandbox, server: ServerThread) -> None:
    sandbox.settings.search_rate = 1000
    conn = HubSpotConnector("hs", token="t", base_url=server.url, timeout=0.25, backoff=0.01, max_backoff=0.05,
                            limits=Limits(RollingWindow(1000, 10.0), RollingWindow(1000, 1.0)))
    await conn.describe("contacts")
    await conn.describe("companies")
    cursor = await conn.change_cursor("contacts")
    sandbox.set_faults(rate_429=0.1, rate_500=0.1, rate_timeout=0.1, hang_seconds=0.5, seed=11)

    scanned = [r async for p in conn.scan("contacts", FIELDS) for r in p.records]
    assert len(scanned) == 40
    created = await conn.create("contacts", [{"email": f"f{i}@example.com", "firstname": "F"} for i in range(350)])
    companies, todo = [], [f"Faulty {i}" for i in range(250)]
    while todo:  # a create is never repeated blindly: after an unknown outcome, what is there is looked up
        try:
            companies += await conn.create("companies", [{"name": n} for n in todo])
            todo = []
        except WriteOutcomeUnknown:
            there = {r.properties["name"] for r in await conn.find("companies", "name", todo, ["name"])}
            todo = [n for n in todo if n not in there]
    assert all(r.ok for r in created + companies)
    ids = [r.id for r in created if r.id]
    updated = await conn.update("contacts", [(i, {"lastname": "Updated"}) for i in ids])
    archived = await conn.archive("contacts", ids[:30])
    assert all(r.ok for r in updated + archived)
    read = await conn.read("contacts", ids[25:35], FIELDS)
    assert sorted(r.archived for r in read) == [False] * 5 + [True] * 5
    found = await conn.find("contacts", "email", ["f40@example.com", "f41@example.com"], FIELDS)
    assert sorted(r.properties["email"] for r in found) == ["f40@example.com", "f41@example.com"]
    changed = [r async for p in conn.changes("contacts", cursor, FIELDS) for r in p.records]
    sandbox.clear_faults()

    live = {c["id"]: c for c in sandbox.records("contacts")}
    assert len(live) == 40 + 320  # no duplicates from retried creates
    assert all(live[i]["properties"]["lastname"] == "Updated" for i in ids[30:])
    assert len([c for c in sandbox.records("companies") if c["properties"]["name"].startswith("Faulty")]) == 250
    assert set(ids[30:]) <= {r.id for r in changed if not r.archived}
    assert set(ids[:30]) <= {r.id for r in changed if r.archived}
    faults = sum(sandbox.counters[f"fault_{k}"] for k in ("429", "500", "timeout"))
    assert faults >= 8 and sandbox.counters["fault_timeout"] >= 1, dict(sandbox.counters)
    assert conn.api_calls == sandbox.counters["total"]
    await conn.aclose()


def test_limits_are_shared_per_app() -> None:
    one = shared_limits("http://hs.example/", "tok", 100, 5)
    assert shared_limits("http://hs.example", "tok", 190, 5) is one and one.general.limit == 100
    assert shared_limits("http://hs.example", "other", 100, 5) is not one
    conn = HubSpotConnector("hs", token="tok", base_url="http://hs.example", rate_limit="professional")
    assert conn.limits is one
