"""Initial sync into an empty right app: each left page is synced as soon as it is indexed.

Phase 3 (create on the right what phase 2 did not pair) then runs page by page during
phase 1, so writes to the right overlap reads from the left (the HubSpot benchmark's
bound depends on it); the outcome must be the same as with the three phases one after
the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import pytest

from accord.model import Page, Value, WriteResult
from accord.runner import SyncRunner
from helpers import Pair, by_email, person


def spy(p: Pair) -> list[str]:
    """Log left pages read and right creates, in order."""
    events: list[str] = []
    left_scan, right_create = p.left.scan, p.right.create

    async def scan(object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        async for page in left_scan(object, fields):
            events.append("page")
            yield page

    async def create(object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        events.append("create")
        return await right_create(object, items)

    p.left.scan, p.right.create = scan, create  # type: ignore[method-assign]
    return events


async def test_empty_right_is_filled_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", 0)  # every page on its own, however fast they come
    p = Pair()  # left pages of 7
    for i in range(30):
        p.left.user_create("contacts", person(f"F{i}", f"L{i}", f"c{i}@x.com", phone=str(i)))
    p.left.user_create("contacts", person("Dup", "Licate", "C3@x.com"))  # same key as c3: a duplicate
    p.left.user_create("contacts", person("No", "Key", None))
    events = spy(p)
    res = await p.run()
    assert events.index("create") < len(events) - 1 - events[::-1].index("page")  # a create before the last page
    assert events.count("page") == 5 and res.counters.created == {"left": 0, "right": 30}
    assert p.right.calls["scan"] == 1  # the empty right app was scanned once, not again in phase 2
    assert by_email(p.right)["c3@x.com"]["first_name"] == "F3" and len(by_email(p.right)) == 30
    assert p.store.reason_counts("contacts") == {"excluded/duplicate": 1, "excluded/no_match_key": 1}
    assert p.status() == {"syncing": 30, "excluded": 2}
    again = await p.run()
    assert sum(again.counters.created.values()) + sum(again.counters.updated.values()) == 0


async def test_full_pass_after_the_right_was_emptied_marks_deletes() -> None:
    p = Pair()
    for i in range(12):
        p.left.user_create("contacts", person(f"F{i}", f"L{i}", f"c{i}@x.com"))
    await p.run()
    for r in p.right.live("contacts"):
        p.right.user_delete("contacts", r.id)
    res = await p.run(full=True)
    assert res.counters.created == {"left": 0, "right": 0}  # deletes are marked, not recreated
    assert p.store.reason_counts("contacts") == {"failing/deleted": 12}


async def test_non_empty_right_still_pairs_across_pages() -> None:
    p = Pair()
    for i in range(20):
        p.left.user_create("contacts", person(f"F{i}", f"L{i}", f"c{i}@x.com"))
    p.right.user_create("contacts", person("F19", "L19", "c19@x.com", city="Rome"))  # pairs with the last left page
    res = await p.run()
    assert res.counters.linked == 1 and res.counters.created == {"left": 0, "right": 19}
    assert by_email(p.left)["c19@x.com"]["city"] == "Rome" and len(by_email(p.right)) == 20


async def test_pages_already_read_are_synced_together() -> None:
    """Pages that arrive faster than they are synced are merged (up to merge_pages_up_to records):
    fewer index transactions and bigger batches to the right app."""
    p = Pair()  # left pages of 7, all read at once from memory
    for i in range(30):
        p.left.user_create("contacts", person(f"F{i}", f"L{i}", f"c{i}@x.com", phone=str(i)))
    events = spy(p)
    res = await p.run()
    assert events.count("page") == 5 and events.count("create") < 5 and res.counters.created == {"left": 0, "right": 30}
    assert p.status() == {"syncing": 30}
