"""A sync's pairs belong to the objects and sides they were made with (accord.runner.index_guard).

Renamed in accord.yaml, a sync starts from an empty index while the old name's pairs are
still in it: its first pass would match what a key matches and create the rest again in both
apps — every deal, which has no key. Refused until the pairs are moved (``rename_sync``) or
dropped on purpose (``delete_sync``). With its sides swapped or changed, its pairs' ids would
be read as the other side's: refused until the sides are put back."""

from __future__ import annotations

import pytest

from accord.config import ConfigError
from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.runner import SyncRunner
from helpers import Pair, person, sync_config

DEALS = {"left": {"app": "a", "object": "deals"}, "right": {"app": "b", "object": "deals"}}


def deal_pair() -> Pair:
    p = Pair(name="deals", **DEALS)
    for i in range(4):
        p.left.user_create("deals", {"name": f"Deal {i}", "amount": 100 * i, "stage": "qualified_to_buy"})
    return p


def counts(p: Pair) -> tuple[int, int]:
    return len(p.left.live("deals")), len(p.right.live("deals"))


async def test_a_renamed_deal_sync_is_refused_and_creates_nothing() -> None:
    p = deal_pair()
    await p.run()
    assert counts(p) == (4, 4)
    p.reconfigure(name="pipeline-deals", **DEALS)
    writes = (p.left.writes, p.right.writes)
    with pytest.raises(ConfigError) as e:
        await p.run()
    (issue,) = e.value.issues
    assert issue.path.endswith(".name")  # syncs[i].name under a Session (the CLI test)
    assert "holds the 4 pairs of sync 'deals'" in issue.message
    assert "accord rename deals pipeline-deals" in issue.message and "accord forget deals" in issue.message
    assert counts(p) == (4, 4) and (p.left.writes, p.right.writes) == writes
    # refused again on the next try: the refused pass left nothing that would let it through
    with pytest.raises(ConfigError):
        await p.run()

    # the pairs moved to the new name: its pass goes on from them, nothing made twice
    p.store.rename_sync("deals", "pipeline-deals")
    res = await p.run()
    assert res.counters.created == {"left": 0, "right": 0} and counts(p) == (4, 4)
    assert p.store.counts("pipeline-deals") == {"syncing": 4} and p.store.counts("deals") == {}
    p.left.user_update("deals", p.left.live("deals")[0].id, {"amount": 999})
    await p.run()
    assert sorted(r.properties["amount"] for r in p.right.live("deals"))[-1] == 999


async def test_swapped_sides_count_as_the_same_objects_and_other_objects_do_not() -> None:
    p = deal_pair()
    await p.run()
    swapped = sync_config(name="deals-back", left={"app": "b", "object": "deals"}, right={"app": "a", "object": "deals"})
    with pytest.raises(ConfigError):
        await SyncRunner(swapped, p.store, p.right, p.left).run()
    # a new sync of other objects beside the old pairs: nothing to do with them
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    res = await SyncRunner(sync_config(name="people"), p.store, p.left, p.right).run()
    assert res.counters.created == {"left": 0, "right": 1}


async def test_dropping_the_old_pairs_on_purpose_lets_the_new_sync_start_afresh() -> None:
    p = Pair(name="people")
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    p.right.user_create("contacts", person("Cy", "Do", "cy@x.com"))
    await p.run()
    p.reconfigure(name="contacts")
    with pytest.raises(ConfigError):
        await p.run()
    p.store.delete_sync("people")
    res = await p.run()  # contacts match by email again: nothing made twice
    assert res.counters.linked == 2 and res.counters.created == {"left": 0, "right": 0}


async def test_only_an_empty_sync_is_looked_at() -> None:
    """A sync that has pairs is linked to its records and is never refused; old pairs whose
    objects an index from before revision 0015 did not record (NULL) refuse nothing."""
    from sqlalchemy import update

    from accord.index.schema import syncs

    store = Store("sqlite://")
    left, right = MemoryApp("a"), MemoryApp("b")
    left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await SyncRunner(sync_config(name="old"), store, left, right).run()
    with store.engine.begin() as c:
        recorded = c.execute(syncs.select().where(syncs.c.name == "old")).one().objects
        c.execute(update(syncs).where(syncs.c.name == "old").values(objects=None))
    assert recorded == {"left": ["a", ["contacts"]], "right": ["b", ["contacts"]]}
    res = await SyncRunner(sync_config(), store, left, right).run()
    assert res.counters.linked == 1  # by email: nothing made twice
    with store.engine.begin() as c:
        c.execute(update(syncs).where(syncs.c.name == "old").values(objects=recorded))
    left.user_create("contacts", person("Bo", "Ray", "bo@x.com"))
    res = await SyncRunner(sync_config(), store, left, right).run()
    assert res.counters.created == {"left": 0, "right": 1}


async def test_swapping_the_sides_of_a_sync_with_pairs_is_refused() -> None:
    """Left and right exchanged in the file (to have "HubSpot on the left"): read with the
    sides exchanged, no pair was found again — every deal was created a second time in both
    apps and every contact turned excluded (found by hand before this guard)."""
    p = deal_pair()
    await p.run()
    swapped = sync_config(name="deals", left={"app": "b", "object": "deals"}, right={"app": "a", "object": "deals"})
    writes = (p.left.writes, p.right.writes)
    with pytest.raises(ConfigError) as e:
        await SyncRunner(swapped, p.store, p.right, p.left).run()
    (issue,) = e.value.issues
    assert issue.path.endswith(".left")
    assert "now has its apps the other way round: its 4 pairs were made with a deals on the left" in issue.message
    assert "`winner:`" in issue.message and "`direction:`" in issue.message
    assert counts(p) == (4, 4) and (p.left.writes, p.right.writes) == writes
    # put back, it goes on from its pairs
    res = await p.run()
    assert res.counters.created == {"left": 0, "right": 0} and counts(p) == (4, 4)


async def test_another_object_on_a_side_of_a_sync_with_pairs_is_refused() -> None:
    p = Pair()
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await p.run()
    p.reconfigure(right={"app": "b", "object": "companies"})
    with pytest.raises(ConfigError) as e:
        await p.run()
    (issue,) = e.value.issues
    assert issue.path.endswith(".right")
    assert "now has b companies on the right, but its 1 pair was made with a contacts on the left and b contacts" \
        in issue.message
    assert p.right.live("companies") == []


@pytest.mark.parametrize(("now", "holds"), [
    ({"left": ["hs", ["contacts"]], "right": ["sf", ["contact"]]}, True),
    # routing new records to Leads too: the pairs' Contacts are still read
    ({"left": ["hs", ["contacts"]], "right": ["sf", ["contact", "lead"]]}, True),
    ({"left": ["sf", ["contact"]], "right": ["hs", ["contacts"]]}, False),  # swapped
    ({"left": ["hubspot", ["contacts"]], "right": ["sf", ["contact"]]}, False),  # the app renamed in the file
    ({"left": ["hs", ["contacts"]], "right": ["sf", ["lead"]]}, False),
])
def test_which_changes_of_sides_still_hold_a_syncs_pairs(now: dict[str, list[object]], holds: bool) -> None:
    from accord.runner.index_guard import _still_holds

    was = {"left": ["hs", ["contacts"]], "right": ["sf", ["contact"]]}
    assert _still_holds(was, now) is holds
    # and the other way: a [Contact, Lead] side narrowed to Contact would lose its Lead pairs
    assert _still_holds({"left": ["hs", ["contacts"]], "right": ["sf", ["contact", "lead"]]}, was) is False


async def test_credentials_of_another_account_are_refused() -> None:
    """A token replaced with another portal's (say the sandbox portal's instead of production's):
    the pairs' records would read as deleted and the other portal's as new."""
    p = deal_pair()
    p.right.account_name = "HubSpot account 111"
    await p.run()
    assert p.store.sync_state("deals").accounts == {"left": None, "right": "HubSpot account 111"}  # type: ignore[union-attr]
    p.right.account_name = "HubSpot account 222"
    p.reconfigure(name="deals", **DEALS)  # a new process: it asks the app again
    writes = (p.left.writes, p.right.writes)
    with pytest.raises(ConfigError) as e:
        await p.run()
    (issue,) = e.value.issues
    assert issue.path == "apps.b"
    assert "app 'b' now signs in to HubSpot account 222, but the sync's 4 pairs were made with HubSpot account 111" \
        in issue.message
    assert counts(p) == (4, 4) and (p.left.writes, p.right.writes) == writes
    # an app that cannot tell (None) is not refused, and keeps the account last known
    p.right.account_name = None
    p.reconfigure(name="deals", **DEALS)
    await p.run()
    assert p.store.sync_state("deals").accounts == {"left": None, "right": "HubSpot account 111"}  # type: ignore[union-attr]
    p.right.account_name = "HubSpot account 111"  # the right credentials again
    p.reconfigure(name="deals", **DEALS)
    res = await p.run()
    assert res.counters.created == {"left": 0, "right": 0}


async def test_rename_moves_a_syncs_activity_pairs_and_the_association_bases_naming_it() -> None:
    from sqlalchemy import insert, select

    from accord.index.schema import association_bases, cursors, links

    p = deal_pair()
    await p.run()
    with p.store.engine.begin() as c:  # what a sync with `activities:` holds beside its own pairs
        c.execute(insert(links).values(id="act1", sync="deals/calls", left_id="c1", status="syncing", attempts=0,
                                       left_deleted=False, right_deleted=False, updated_at="2026-01-01T00:00:00Z"))
        c.execute(insert(cursors).values(sync="deals/calls", side="left", cursor="7", updated_at="2026-01-01T00:00:00Z"))
        c.execute(insert(association_bases).values(sync="contacts", target="deals", link_id="x", owed=False))
    p.store.rename_sync("deals", "pipeline")
    with p.store.engine.connect() as c:
        assert {r[0] for r in c.execute(select(links.c.sync))} == {"pipeline", "pipeline/calls"}
        assert [r[0] for r in c.execute(select(cursors.c.sync).where(cursors.c.side == "left"))].count("pipeline/calls") == 1
        assert [r[0] for r in c.execute(select(association_bases.c.target))] == ["pipeline"]
    assert p.store.counts("pipeline") == {"syncing": 5}  # its 4 deals and the activity row, as the records views count them


async def test_an_app_that_may_not_read_its_account_still_syncs() -> None:
    """A token without the right to read its account's details (HubSpot answers 403): the pass
    goes on, and the guard waits for an account it knows."""
    from accord.model import AuthError

    class NoAccountInfo(MemoryApp):
        async def account(self) -> str | None:
            raise AuthError("This app hasn't been granted all required scopes", app=self.name)

    store, left, right = Store("sqlite://"), MemoryApp("a"), NoAccountInfo("b")
    left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    res = await SyncRunner(sync_config(), store, left, right).run()
    assert res.counters.created == {"left": 0, "right": 1}
    assert store.sync_state("contacts").accounts is None  # type: ignore[union-attr]  # nothing known: nothing kept
