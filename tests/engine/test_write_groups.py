"""Write groups (scan.write_group): into an empty right app, phase 1 gathers the left pages into
whole write batches of the right connector before it writes them, however slowly the pages come,
bounded by ``SyncRunner.write_group_max``; one group is one page for the index (one commit, one
resume point)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest

from accord.model import Page, Value, WriteResult
from accord.runner import SyncRunner, scan
from helpers import Pair, by_email, person


def slow_pages_and_create_sizes(p: Pair) -> list[int]:
    """Left pages come one at a time (the next one only after the runner asked for it and the loop
    turned a few times), so pages are never "already there"; returns the sizes of the right creates."""
    sizes: list[int] = []
    left_scan, right_create = p.left.scan, p.right.create

    async def scan(object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        async for page in left_scan(object, fields):
            await asyncio.sleep(0.002)
            yield page

    async def create(object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        sizes.append(len(items))
        return await right_create(object, items)

    p.left.scan, p.right.create = scan, create  # type: ignore[method-assign]
    return sizes


def seeded(n: int, page: int, batch: int) -> Pair:
    p = Pair()
    p.left.page_size, p.right.batch_size = page, batch
    for i in range(n):
        p.left.user_create("contacts", person(f"F{i}", f"L{i}", f"c{i}@x.com", phone=str(i)))
    return p


async def test_slow_pages_go_out_in_whole_batches_of_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", 20)
    p = seeded(43, page=7, batch=10)  # groups of 20 (two batches): pages of 7 gathered, and split
    sizes = slow_pages_and_create_sizes(p)
    res = await p.run()
    assert sizes == [10, 10, 10, 10, 3]  # ceil(43 / 10) creates: only the source's last one part-full
    assert res.counters.created == {"left": 0, "right": 43} and p.status() == {"syncing": 43}
    assert len(by_email(p.right)) == 43
    again = await p.run()
    assert sum(again.counters.created.values()) + sum(again.counters.updated.values()) == 0


async def test_a_group_holds_at_most_write_group_max_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A target batch bigger than a group may hold (an ingest job's worth): groups of the maximum."""
    monkeypatch.setattr(SyncRunner, "write_group_max", 15)
    p = seeded(43, page=5, batch=1000)
    sizes = slow_pages_and_create_sizes(p)
    res = await p.run()
    assert sizes == [15, 15, 13]
    assert res.counters.created == {"left": 0, "right": 43} and p.status() == {"syncing": 43}


@pytest.mark.parametrize("merge, group_max", [(0, 50_000), (500, 0)])
async def test_no_groups_page_by_page(monkeypatch: pytest.MonkeyPatch, merge: int, group_max: int) -> None:
    """merge_pages_up_to 0 (a distributed step: one committed page per page read) or
    write_group_max 0: every slow page is written on its own."""
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", merge)
    monkeypatch.setattr(SyncRunner, "write_group_max", group_max)
    p = seeded(23, page=5, batch=10)
    sizes = slow_pages_and_create_sizes(p)
    await p.run()
    assert sizes == [5, 5, 5, 5, 3]


async def test_groups_only_into_an_empty_right_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """With records on the right, phase 1 only indexes (pages are not waited for) and phase 3
    creates in chunks of at least a group: still whole batches."""
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", 20)
    monkeypatch.setattr(SyncRunner, "scan_chunk", 7)
    p = seeded(43, page=5, batch=10)
    p.right.user_create("contacts", person("F0", "L0", "c0@x.com", city="Rome"))  # pairs with the first left one
    sizes = slow_pages_and_create_sizes(p)
    res = await p.run()
    assert res.counters.linked == 1 and res.counters.created == {"left": 0, "right": 42}
    assert sizes == [10, 10, 10, 10, 2]  # phase 3 chunks of max(7, 20) rows


async def test_pages_bigger_than_a_group_stay_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A group takes every whole batch there is once it holds its least (a Salesforce query job's
    50,000-record page into SQL stays one page: one index transaction, not a hundred)."""
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", 20)
    p = seeded(123, page=50, batch=10)
    sizes = slow_pages_and_create_sizes(p)
    groups: list[int] = []
    regather = scan._groups

    async def recorded(*args: Any, **kw: Any) -> AsyncIterator[Any]:
        async for page in regather(*args, **kw):
            groups.append(len(page.records))
            yield page

    monkeypatch.setattr(scan, "_groups", recorded)
    await p.run()
    assert groups[:4] == [50, 50, 20, 3] and sizes == [10] * 12 + [3]
