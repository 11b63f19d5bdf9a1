"""The first pass of a sync with no match key into two apps that both hold records waits for a
confirmation (accord.runner.deletes.guard_unmatched_start): it would create every record of
each app in the other, and if they were synced before (an index lost: a new server or database,
a sync deleted and made again) each would then be there twice, for good."""

from __future__ import annotations

import pytest

from accord.index import Store
from accord.model import DeletesHeld
from accord.runner import SyncRunner
from accord.runner.deletes import UNMATCHED_FLOOR
from helpers import Pair, by_email, person

N = UNMATCHED_FLOOR + 5


def _seed(p: Pair, left: int, right: int) -> None:
    for i in range(left):
        p.left.user_create("contacts", person(f"L{i}", "Left", f"l{i}@x.com"))
    for i in range(right):
        p.right.user_create("contacts", person(f"R{i}", "Right", f"r{i}@x.com"))


async def test_an_unmatched_start_into_two_full_apps_waits_for_a_confirmation_then_creates_once() -> None:
    p = Pair(match="none")
    _seed(p, N, N)
    for _ in range(2):  # held again by the next pass: nothing is written until someone confirms
        with pytest.raises(DeletesHeld) as held:
            await p.run()
        assert len(p.left.live("contacts")) == N and len(p.right.live("contacts")) == N
    hold = p.store.deletes_hold("contacts")
    assert hold is not None and (hold["kind"], hold["category"], hold["confirmable"]) == (
        "unmatched", "unmatched_start", True)
    assert str(held.value) == (
        "sync contacts: both apps already hold records (contacts in a, contacts in b: at least 25 each) and this sync "
        "has no match key: its first pass would create each record of a in b and each record of b in a. Nothing "
        "was written.")
    assert "set match so that twins pair up" in held.value.hint and "--confirm" in held.value.hint

    res = await p.runner.run(confirm_deletes=True)
    assert p.runner.confirmed is not None and p.runner.confirmed["kind"] == "unmatched"
    assert res.counters.created == {"left": N, "right": N}
    assert p.store.deletes_hold("contacts") is None
    res = await p.run()  # and never again
    assert res.counters.created == {"left": 0, "right": 0} and len(p.right.live("contacts")) == 2 * N


async def test_a_lost_index_duplicates_nothing() -> None:
    """Synced once (into an empty app: not held), then the index is gone: a new, empty index
    over the same two apps holds the pass instead of copying every record a second time."""
    p = Pair(match="none")
    _seed(p, N, 0)
    assert (await p.run()).counters.created == {"left": 0, "right": N}
    fresh = SyncRunner(p.cfg, Store("sqlite://"), p.left, p.right)
    with pytest.raises(DeletesHeld):
        await fresh.run()
    with pytest.raises(DeletesHeld):
        await fresh.run(full=True)
    assert len(p.left.live("contacts")) == N and len(p.right.live("contacts")) == N


async def test_a_match_key_set_while_held_lifts_the_hold_and_pairs_the_twins() -> None:
    p = Pair(match="none")
    _seed(p, N, 0)
    await p.run()
    lost = Pair(match="none")
    lost.left, lost.right = p.left, p.right
    lost.runner = SyncRunner(lost.cfg, lost.store, p.left, p.right)
    with pytest.raises(DeletesHeld):
        await lost.run()
    lost.reconfigure(match=["email"])  # the hint's advice
    lost.left, lost.right = p.left, p.right
    lost.runner = SyncRunner(lost.cfg, lost.store, p.left, p.right)
    res = await lost.run()
    assert res.counters.created == {"left": 0, "right": 0} and lost.status() == {"syncing": N}
    assert lost.store.deletes_hold("contacts") is None


@pytest.mark.parametrize(("left", "right", "match"), [
    (N, N, None),  # a match key (email): twins pair up, nothing to fear
    (N, 0, "none"),  # an empty app: nothing there to copy twice
    (N, UNMATCHED_FLOOR - 1, "none"),  # a few records: as the delete guard's floor, small syncs just run
])
async def test_starts_that_are_not_held(left: int, right: int, match: str | None) -> None:
    p = Pair(**({"match": match} if match else {}))
    _seed(p, left, right)
    res = await p.run()
    assert res.counters.created == {"left": right, "right": left}
    assert set(by_email(p.left)) == set(by_email(p.right))


async def test_a_one_way_unmatched_start_names_the_one_way_it_would_create() -> None:
    p = Pair(match="none", direction="left-to-right")
    _seed(p, N, N)
    with pytest.raises(DeletesHeld) as held:
        await p.run()
    assert "would create each record of a in b. Nothing" in str(held.value)
