"""Rate limits shared through PostgreSQL: several processes (here: engines) draw from one bucket."""

from __future__ import annotations

import asyncio
import time

import pytest
from typer.testing import CliRunner

from accord.cli import app as cli
from accord.connectors.hubspot import HubSpotConnector
from accord.connectors.salesforce import SalesforceConnector
from accord.distributed.limits import SharedWindow, share_limits
from accord.index import Store
from accord.index.buckets import TokenBucket, window_bucket


async def test_two_processes_share_one_rate(pg_url: str) -> None:
    stores = [Store(pg_url), Store(pg_url)]  # two connection pools, as two workers have
    buckets = [TokenBucket(s.engine, "app:general", rate=50, capacity=5) for s in stores]
    stamps: list[float] = []

    async def calls(b: TokenBucket, n: int) -> None:
        for _ in range(n):
            await b.acquire()
            stamps.append(time.monotonic())

    t0 = time.monotonic()
    await asyncio.gather(calls(buckets[0], 30), calls(buckets[1], 30))
    elapsed = time.monotonic() - t0
    # 60 calls at 50/s after a burst of 5: at least 55/50 s, whoever makes them
    assert elapsed >= 55 / 50 - 0.05
    assert elapsed < 3.0
    assert buckets[0].waited > 0 and buckets[1].waited > 0  # both were held back
    for s in stores:
        s.close()


async def test_a_window_bucket_never_lets_more_than_the_limit_into_a_window(pg_url: str) -> None:
    store = Store(pg_url)
    limit, window = 20, 1.0
    b = window_bucket(store.engine, "hs:general", limit, window)
    stamps: list[float] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.5:
        await b.acquire()
        stamps.append(time.monotonic())
    worst = max(sum(1 for t in stamps if s <= t < s + window) for s in stamps)
    assert worst <= limit
    assert len(stamps) >= 2.5 * limit * 0.7  # and it does not starve: most of the limit is used
    store.close()


async def test_block_holds_every_process_back(pg_url: str) -> None:
    stores = [Store(pg_url), Store(pg_url)]
    a, b = (TokenBucket(s.engine, "app:x", rate=1000, capacity=100) for s in stores)
    a.block(0.5)  # one worker got a 429 with Retry-After
    t0 = time.monotonic()
    await b.acquire()
    assert time.monotonic() - t0 >= 0.45
    for s in stores:
        s.close()


def test_buckets_refuse_sqlite() -> None:
    store = Store("sqlite://")
    with pytest.raises(ValueError, match="PostgreSQL"):
        TokenBucket(store.engine, "x", 1, 1)
    store.close()


async def test_connectors_take_their_limits_from_shared_buckets(pg_url: str) -> None:
    from accord.config import parse_config

    cfg = parse_config({"apps": {
        "hs": {"type": "hubspot", "token": "pat-1", "base_url": "http://127.0.0.1:9", "rate_limit": 100},
        "sf": {"type": "salesforce", "instance_url": "https://127.0.0.1:9", "access_token": "t", "rate_limit": 5},
        "sf2": {"type": "salesforce", "instance_url": "https://127.0.0.1:9", "access_token": "t"}}, "syncs": []}, env={})
    store = Store(pg_url)
    hs = HubSpotConnector("hs", token="pat-1", base_url="http://127.0.0.1:9")
    sf, sf2 = SalesforceConnector("sf", "https://127.0.0.1:9", "t"), SalesforceConnector("sf2", "https://127.0.0.1:9", "t")
    for name, conn in (("hs", hs), ("sf", sf), ("sf2", sf2)):
        share_limits(store.engine, name, cfg.apps[name], conn)
    assert isinstance(hs.limits.general, SharedWindow) and isinstance(hs.limits.search, SharedWindow)
    assert hs.limits.general.bucket.capacity == 10  # a tenth of 100 per 10 s as the burst
    assert isinstance(sf.limiter, TokenBucket) and sf.limiter.rate == 5
    assert sf2.limiter is None  # no rate_limit: only the daily API budget limits Salesforce
    # the same credential in another worker draws from the same row
    again = HubSpotConnector("hs", token="pat-1", base_url="http://127.0.0.1:9")
    share_limits(Store(pg_url).engine, "hs", cfg.apps["hs"], again)
    assert isinstance(again.limits.general, SharedWindow)
    assert again.limits.general.bucket.key == hs.limits.general.bucket.key
    for c in (hs, sf, sf2, again):
        await c.aclose()
    store.close()


def test_worker_and_run_refuse_an_sqlite_index(tmp_path: object) -> None:
    from pathlib import Path

    cfg = Path(str(tmp_path)) / "accord.yaml"
    cfg.write_text("state: sqlite:///accord.db\napps: {a: {type: memory}, b: {type: memory}}\n"
                   "syncs: [{name: c, left: {app: a, object: contacts}, right: {app: b, object: contacts}}]\n")
    for args in (["worker", "-c", str(cfg), "--temporal", "127.0.0.1:7233"],
                 ["run", "-c", str(cfg), "--temporal", "127.0.0.1:7233"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2, res.output
        assert "needs the sync index on PostgreSQL" in res.output
