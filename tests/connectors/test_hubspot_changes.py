"""The HubSpot change feed: (timestamp, id) walking past the 10,000 cap, look-back for search lag,
tombstones, resumable page cursors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from accord.connectors.hubspot import Cursor, HubSpotConnector, Limits, RollingWindow
from accord.model import Record
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.hubspot.store import SEED
from accord.sandbox.server import ServerThread

FIELDS = ["email", "firstname"]


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(search_rate=10_000, rate_limit=10_000))
    yield sb
    sb.close()


def connector(url: str, lookback: float = 0.0) -> HubSpotConnector:
    return HubSpotConnector("hs", token="t", base_url=url, lookback=lookback, backoff=0.01,
                            limits=Limits(RollingWindow(10_000, 10.0), RollingWindow(10_000, 1.0)))


def make_contacts(sb: HubSpotSandbox, n: int, at: int) -> list[int]:
    return [sb.store.create("contacts", {"email": f"c{i}@example.com", "firstname": f"C{i}"}, SEED, at=at).id
            for i in range(n)]


async def collect(conn: HubSpotConnector, cursor: str, object: str = "contacts") -> tuple[list[Record], str]:
    recs: list[Record] = []
    last = cursor
    async for page in conn.changes(object, cursor, FIELDS):
        recs += page.records
        last = page.cursor or last
    return recs, last


async def test_changes_since_cursor_and_tombstones(sandbox: HubSpotSandbox, server: ServerThread) -> None:
    now = int(time.time() * 1000)
    ids = make_contacts(sandbox, 30, now - 60_000)
    conn = connector(server.url)
    cursor = await conn.change_cursor("contacts")
    assert Cursor.decode(cursor).ts == now - 60_000
    await asyncio.sleep(0.01)
    sandbox.user_update("contacts", ids[3], {"firstname": "Changed"})
    sandbox.user_update("contacts", ids[7], {"firstname": "Also"})
    sandbox.user_delete("contacts", ids[9])
    made = sandbox.user_create("contacts", {"email": "fresh@example.com"})
    recs, nxt = await collect(conn, cursor)
    live = {r.id: r for r in recs if not r.archived}
    # the cursor's own timestamp is re-read (id 0): the untouched 26 come back once, harmlessly
    assert {str(ids[3]), str(ids[7]), made["id"]} <= set(live)
    assert live[str(ids[3])].properties["firstname"] == "Changed"
    assert [r.id for r in recs if r.archived] == [str(ids[9])]
    # nothing new: the next pass from the returned cursor reads only the tail again
    again, _ = await collect(conn, nxt)
    assert {r.id for r in again if not r.archived} <= {made["id"]} and not [r for r in again if r.archived]
    await conn.aclose()


async def test_more_records_on_one_timestamp_than_the_search_cap(sandbox: HubSpotSandbox,
                                                                 server: ServerThread) -> None:
    # Same logic as the 10,000 cap with smaller numbers: 1,250 records share one timestamp, the
    # cap is 500. Paging with `after` would hit the cap; a cursor on the timestamp alone would loop.
    sandbox.settings.search_cap = 500
    base = int(time.time() * 1000) - 120_000
    ids = make_contacts(sandbox, 1300, base)
    conn = connector(server.url)
    cursor = await conn.change_cursor("contacts")
    sandbox.touch("contacts", ids[:1250], base + 10_000)  # a month-end batch job
    sandbox.touch("contacts", ids[1250:1260], base + 20_000)
    sandbox.user_update("contacts", ids[5], {"firstname": "Later"})
    recs, nxt = await collect(conn, cursor)
    got = [r.id for r in recs if not r.archived]
    assert len(got) == len(set(got))  # never emitted twice
    assert set(map(str, ids[:1260])) <= set(got)
    assert next(r for r in recs if r.id == str(ids[5])).properties["firstname"] == "Later"
    assert conn.calls["search"] < 20
    assert Cursor.decode(nxt).ts >= base + 20_000
    await conn.aclose()


async def test_page_cursors_resume_without_loss(sandbox: HubSpotSandbox, server: ServerThread) -> None:
    base = int(time.time() * 1000) - 120_000
    ids = make_contacts(sandbox, 700, base)
    for i, chunk in enumerate(range(0, 700, 100)):
        sandbox.touch("contacts", ids[chunk:chunk + 100], base + 1000 * (i + 1))
    conn = connector(server.url)
    start = Cursor(base, 0, base).encode()
    seen: set[str] = set()
    cursor = start
    for _ in range(50):  # interrupt after every page, resume from its cursor
        pages = conn.changes("contacts", cursor, FIELDS)
        page = await anext(pages, None)
        await pages.aclose()
        if page is None or page.cursor == cursor:
            break
        seen |= {r.id for r in page.records}
        assert page.cursor and Cursor.decode(page.cursor) >= Cursor.decode(cursor)  # never backwards
        cursor = page.cursor
    assert set(map(str, ids)) <= seen
    await conn.aclose()


async def test_lookback_catches_records_the_lagging_index_showed_late(sandbox: HubSpotSandbox,
                                                                      server: ServerThread) -> None:
    ids = make_contacts(sandbox, 5, int(time.time() * 1000) - 60_000)
    sandbox.set_search_lag(0.4)
    sandbox.user_update("contacts", ids[0], {"firstname": "Slow"})  # visible to search only after 0.4 s
    await asyncio.sleep(0.005)
    sandbox.set_search_lag(0.0)
    sandbox.user_update("contacts", ids[1], {"firstname": "Fast"})  # later timestamp, visible at once

    results = {}
    for lookback in (0.0, 5.0):
        conn = connector(server.url, lookback)
        cursor = Cursor(int(time.time() * 1000) - 30_000, 0, 0).encode()
        first, nxt = await collect(conn, cursor)
        assert str(ids[1]) in {r.id for r in first}
        results[lookback] = nxt
        await conn.aclose()
    await asyncio.sleep(0.45)
    for lookback, expect in ((0.0, False), (5.0, True)):
        conn = connector(server.url, lookback)
        later, _ = await collect(conn, results[lookback])
        assert (str(ids[0]) in {r.id for r in later}) is expect
        await conn.aclose()


@pytest.mark.slow
async def test_ten_thousand_cap_with_default_settings(sandbox: HubSpotSandbox, server: ServerThread) -> None:
    assert sandbox.settings.search_cap == 10_000
    base = int(time.time() * 1000) - 120_000
    ids = make_contacts(sandbox, 10_050, base)
    conn = connector(server.url)
    cursor = Cursor(base - 1, 0, base).encode()
    recs, _ = await collect(conn, cursor)
    got = [r.id for r in recs if not r.archived]
    assert len(got) == len(set(got)) == 10_050 and set(got) == set(map(str, ids))
    await conn.aclose()


async def test_a_bulk_write_is_read_once_not_by_every_later_pass(sandbox: HubSpotSandbox,
                                                                  server: ServerThread) -> None:
    # The look-back is anchored to the time the last pass read, not to the newest change it
    # saw: with no edit after a bulk write, the next pass reads nothing outside the look-back
    # (it used to re-read every record written within the look-back of the newest, each pass).
    conn = connector(server.url, lookback=1.0)
    cursor = await conn.change_cursor("contacts")
    made = await conn.create("contacts", [{"email": f"bulk{i}@example.com", "firstname": f"B{i}"}
                                          for i in range(1_000)])  # 10 batches, 5 search pages
    assert all(r.ok for r in made)
    # the whole write is older than the look-back (+2 s: uvicorn's Date has whole seconds, renewed each second)
    await asyncio.sleep(3.0)
    first, cursor = await collect(conn, cursor)
    assert {r.id for r in first} >= {str(r.id) for r in made}
    searches = conn.calls["search"]
    again, cursor = await collect(conn, cursor)
    assert len(again) <= 200 and not again  # ≤ one search page; here: none at all
    assert conn.calls["search"] - searches <= 2  # the floor's own timestamp, then "later than it"
    # Never missing a change: one the lagging index shows late is still read by a later pass.
    sandbox.set_search_lag(0.5)
    sandbox.user_update("contacts", int(str(made[3].id)), {"firstname": "Late"})
    sandbox.set_search_lag(0.0)
    sandbox.user_update("contacts", int(str(made[4].id)), {"firstname": "Now"})
    third, cursor = await collect(conn, cursor)
    assert str(made[4].id) in {r.id for r in third} and str(made[3].id) not in {r.id for r in third}
    await asyncio.sleep(0.6)
    fourth, cursor = await collect(conn, cursor)
    assert next(r for r in fourth if r.id == str(made[3].id)).properties["firstname"] == "Late"
    await asyncio.sleep(3.0)
    _, cursor = await collect(conn, cursor)  # re-reads the look-back once more, moving the floor past it
    assert (await collect(conn, cursor))[0] == []
    await conn.aclose()
