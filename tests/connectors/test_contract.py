"""The connector contract: one set of tests, run against every HTTP connector and its sandbox.

Every connector goes through one HTTP layer (accord/connectors/http.py); these tests hold each
vendor to what that layer promises, on the server's side of the wire (contract_worlds.Recorder):

* a 429 with ``Retry-After`` (in seconds, or as an HTTP date) is waited out and retried;
* a create whose answer is lost after the app carried it out (a 500, a dropped connection) is
  never sent again: the connector raises WriteOutcomeUnknown, and the runner looks the record
  up, so it exists once;
* a scan resumed from a page's cursor loses nothing (and, where the API can start mid-way,
  re-reads nothing);
* a rate limit is shared by two connectors of one app, and by two processes through the
  PostgreSQL buckets of the distributed mode;
* every request sent is counted, retries included;
* a credential that expires is renewed once on a 401 and the call sent again, for every way
  each vendor's credential is given (OAuth refresh token, JWT bearer, client credentials; a
  static token rotated in its token file).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contract_worlds import WORLDS, World

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.model import Page, WriteOutcomeUnknown
from accord.session import Session

VENDORS = list(WORLDS)


@pytest.fixture(params=VENDORS)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    w = WORLDS[request.param]()
    w.start()
    yield w
    w.stop()


async def _pages(conn: Any, object: str, fields: list[str], after: str | None = None) -> list[Page]:
    it = conn.scan(object, fields) if after is None else conn.scan_from(object, fields, after)
    return [p async for p in it]


# -- 429 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
async def test_a_429_with_retry_after_is_waited_out_and_retried(world: World, as_date: bool) -> None:
    key = world.seed(1)[0]
    conn = world.connector()
    await conn.find(world.object, world.key, [key], [world.key])  # metadata, tokens: in place
    wait = 2.0 if as_date else 1.0  # an HTTP date has whole seconds: 2 s ahead is more than 1 s away
    world.faults(["429"], retry_after=wait, as_date=as_date)
    before, started = world.recorder.count(), time.monotonic()  # type: ignore[union-attr]
    found = await conn.find(world.object, world.key, [key], [world.key])
    assert time.monotonic() - started >= 0.95
    assert [str(r.properties[world.key]).lower() for r in found] == [key.lower()]
    assert world.recorder.count() - before == 2  # type: ignore[union-attr]  # the refused call, then once more
    await conn.aclose()


# -- creates whose outcome is unknown -------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["500_applied", "reset_applied"])
async def test_a_create_whose_answer_is_lost_is_not_sent_again(world: World, fault: str) -> None:
    conn = world.connector()
    item = world.item(1)
    await conn.describe(world.object)
    world.faults([f"{fault}:{world.create_kind}"])
    with pytest.raises(WriteOutcomeUnknown) as caught:
        await conn.create(world.object, [item])
    assert caught.value.results in (None, [None])  # nothing known about it
    assert world.recorder.count(world.create_call) == 1  # type: ignore[union-attr]  # sent once, never again
    assert world.count(str(item[world.key])) == 1  # it was carried out, once
    await conn.aclose()


@pytest.mark.parametrize("fault", ["500_applied", "reset_applied"])
async def test_the_runner_resolves_a_lost_create_by_lookup_and_creates_once(world: World, fault: str,
                                                                           tmp_path: Path) -> None:
    cfg = parse_config({
        "state": f"sqlite:///{tmp_path / 'index.db'}",
        "apps": {"m": {"type": "memory"}, "v": world.settings()},
        "syncs": [{"name": "s", "left": {"app": "m", "object": world.memory_object},
                   "right": {"app": "v", "object": world.object}, "direction": "left-to-right"}],
    }, env={})
    session = Session(cfg)
    try:
        memory = session.connector("m")
        assert isinstance(memory, MemoryApp)
        for n in range(3):
            memory.user_create(world.memory_object, world.person(n))
        runner = session.runner("s")
        await runner.prepare()
        world.faults([f"{fault}:{world.create_kind}"])
        res = await runner.run()
        assert res.counters.failed == {"left": 0, "right": 0}
        assert [world.count(world.person_key(n)) for n in range(3)] == [1, 1, 1]
        assert session.store.counts("s") == {"syncing": 3}
        again = await runner.run(full=True)
        assert again.counters.created == {"left": 0, "right": 0}
        assert [world.count(world.person_key(n)) for n in range(3)] == [1, 1, 1]
    finally:
        await session.aclose()


# -- scans ------------------------------------------------------------------------------------------------
async def test_a_scan_resumed_from_its_cursor_loses_nothing(world: World) -> None:
    keys = world.seed(450)
    conn = world.connector()
    pages = await _pages(conn, world.object, [world.key])
    every = {str(r.properties[world.key]).lower() for p in pages for r in p.records}
    assert every >= {k.lower() for k in keys}
    first = next(p for p in pages if p.records and p.cursor)
    resumed = await _pages(conn, world.object, [world.key], after=first.cursor)
    before = [r.id for r in first.records]
    after = [r.id for p in resumed for r in p.records]
    assert {r.id for p in pages for r in p.records} == set(before) | set(after)
    if world.resumes:
        assert not set(before) & set(after) and len(after) == len(set(after))  # nothing read twice
    await conn.aclose()


# -- shared limits -----------------------------------------------------------------------------------------
async def test_two_connectors_of_one_app_share_its_limit(world: World) -> None:
    keys = world.seed(4)
    world.limit(10)
    a, b = world.connector(shared=True, **_limit_kw(world, 10)), world.connector(shared=True, **_limit_kw(world, 10))
    for c in (a, b):  # metadata and tokens first: the limited calls are the look-ups
        await c.find(world.object, world.key, [keys[0]], [world.key])
    world.recorder.hits.clear()  # type: ignore[union-attr]
    started = time.monotonic()
    await asyncio.gather(*(c.find(world.object, world.key, [keys[i % 4]], [world.key])
                           for i in range(15) for c in (a, b)))
    assert time.monotonic() - started >= 1.0  # 30 look-ups at 10 a second: they had to wait
    assert world.recorder.busiest(1.0, world.limited_path) <= 10  # type: ignore[union-attr]
    for c in (a, b):
        await c.aclose()


def _limit_kw(world: World, per_second: int) -> dict[str, Any]:
    """Constructor arguments giving the connector a limit of ``per_second`` on its limited calls."""
    return {"hubspot": {"search_rate": per_second}, "salesforce": {"rate_limit": per_second},
            "snovio": {"rate_limit": per_second, "rate_window": 1.0},
            "xentral": {"rate_limit": per_second, "rate_window": 1.0}}[world.vendor]


_PROCESS = """
import asyncio, importlib, json, sys
from sqlalchemy import create_engine
from accord.distributed.limits import SharedLimiters
spec = json.loads(sys.argv[1])
async def main() -> None:
    kw = dict(spec["kwargs"])
    conn = getattr(importlib.import_module(spec["module"]), spec["cls"])(kw.pop("name"), **kw)
    conn.use_limiters(SharedLimiters(create_engine(spec["pg"])))
    await conn.find(spec["object"], spec["key"], [spec["values"][0]], [spec["key"]])
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start their look-ups together
    for v in spec["values"]:
        await conn.find(spec["object"], spec["key"], [v], [spec["key"]])
    await conn.aclose()
asyncio.run(main())
"""


@pytest.mark.timeout(120)
async def test_two_processes_share_the_limit_through_postgresql(world: World, pg_url: str) -> None:
    keys = world.seed(4)
    world.limit(10)
    module, cls, kwargs = world.ctor(**_limit_kw(world, 10))
    spec = {"module": module, "cls": cls, "kwargs": kwargs, "pg": pg_url, "object": world.object, "key": world.key,
            "values": [keys[i % 4] for i in range(15)]}
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS, json.dumps(spec)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        world.recorder.hits.clear()  # type: ignore[union-attr]
        started = time.monotonic()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            assert await asyncio.to_thread(p.wait, 90) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert time.monotonic() - started >= 1.0  # 30 look-ups at 10 a second: they had to wait
    # A window bucket keeps any window of the bucket's clock at the limit; a request may reach the
    # server a little later than it took its token, hence one more. Salesforce's limit is a rate
    # (a bucket of rate_limit tokens a second saving up as many): twice that in a second at most.
    allowed = 20 if world.vendor == "salesforce" else 11
    assert world.recorder.busiest(1.0, world.limited_path) <= allowed  # type: ignore[union-attr]


# -- counting ------------------------------------------------------------------------------------------------
async def test_every_request_sent_is_counted(world: World) -> None:
    keys = world.seed(3)
    conn = world.connector()
    world.recorder.hits.clear()  # type: ignore[union-attr]
    await conn.find(world.object, world.key, [keys[0]], [world.key])
    world.faults(["429", "500"], retry_after=0)
    await conn.find(world.object, world.key, [keys[1]], [world.key])  # a 429 and a 500 on the way
    await conn.create(world.object, [world.item(7)])
    assert conn.api_calls == conn.counters().api_calls == world.recorder.count()  # type: ignore[union-attr]
    assert sum(conn.calls.values()) == conn.api_calls
    await conn.aclose()


# -- auth -----------------------------------------------------------------------------------------------------
async def test_an_expired_credential_is_renewed_once_and_the_call_sent_again(world: World) -> None:
    keys = world.seed(1)
    for flow, cost in world.flows().items():
        conn = world.flow_connector(flow)
        await conn.find(world.object, world.key, [keys[0]], [world.key])
        world.expire(flow)
        before = world.recorder.count()  # type: ignore[union-attr]
        found = await conn.find(world.object, world.key, [keys[0]], [world.key])
        assert len(found) == 1, flow
        # refused, a new token (from the token endpoint; none for a token file read again), sent again
        assert world.recorder.count() - before == 2 + cost, flow  # type: ignore[union-attr]
        assert conn.api_calls == conn.counters().api_calls
        await conn.aclose()
