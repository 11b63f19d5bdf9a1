"""A record deleted, then created again (or imported anew) with the same match key: the new
record takes the deleted one's place in its pair (accord.runner.pairing._takes_place_of_deleted).

Before, it was excluded as a "duplicate of" the record that was gone ("same match key as a1,
which syncs instead"), so the person never reached the other app again, in any pass.
"""

from __future__ import annotations

import pytest

from accord.model import Side
from helpers import Pair, by_email, person


async def _deleted_then_created_again(p: Pair, side: Side, deletes: str) -> str:
    app, other = (p.left, p.right) if side is Side.LEFT else (p.right, p.left)
    first = app.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="1"))
    other.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    await p.run()
    app.user_delete("contacts", first)
    await p.run()
    assert p.status() == ({"excluded": 1, "syncing": 1} if deletes == "propagate" else {"failing": 1, "syncing": 1})
    return app.user_create("contacts", person("Ann", "Lee-Berg", "ANN@x.com", phone="2"))


@pytest.mark.parametrize("side", [Side.LEFT, Side.RIGHT])
@pytest.mark.parametrize("full", [False, True])
async def test_created_again_after_a_propagated_delete_it_is_created_in_the_other_app(side: Side, full: bool) -> None:
    p = Pair(deletes="propagate")
    again = await _deleted_then_created_again(p, side, "propagate")
    res = await p.run(full=full)
    assert res.counters.created == ({"left": 0, "right": 1} if side is Side.LEFT else {"left": 1, "right": 0})
    assert by_email(p.left)["ann@x.com"]["last_name"] == by_email(p.right)["ann@x.com"]["last_name"] == "Lee-Berg"
    assert p.status() == {"syncing": 2}
    assert p.link_of(side.value, again) is not None
    for full_again in (False, True):  # settled: later passes write nothing
        res = await p.run(full=full_again)
        assert res.counters.created == res.counters.updated == {"left": 0, "right": 0}


@pytest.mark.parametrize("side", [Side.LEFT, Side.RIGHT])
@pytest.mark.parametrize("full", [False, True])
async def test_created_again_while_its_twin_lives_on_it_pairs_with_the_twin(side: Side, full: bool) -> None:
    """``deletes: mark`` kept the twin (the pair failing, "deleted in …"): the new record pairs
    with it, as a record with that e-mail would in a first sync; nothing is created twice."""
    p = Pair(deletes="mark")
    await _deleted_then_created_again(p, side, "mark")
    res = await p.run(full=full)
    assert res.counters.created == {"left": 0, "right": 0}
    assert len(p.left.live("contacts")) == len(p.right.live("contacts")) == 2
    assert by_email(p.left)["ann@x.com"]["phone"] == by_email(p.right)["ann@x.com"]["phone"]
    assert p.status() == {"syncing": 2}
    res = await p.run(full=True)
    assert res.counters.created == res.counters.updated == {"left": 0, "right": 0}


async def test_two_new_records_with_the_deleted_ones_key_one_takes_its_place_the_other_is_a_duplicate() -> None:
    p = Pair(deletes="propagate")
    await _deleted_then_created_again(p, Side.LEFT, "propagate")
    p.left.user_create("contacts", person("Ann", "Twin", "ann@x.com"))
    await p.run()
    assert len([r for r in p.right.live("contacts") if r.properties["email"].lower() == "ann@x.com"]) == 1
    assert p.status() == {"syncing": 2, "excluded": 1}
    [dup] = p.store.records("contacts", "excluded")
    assert dup.reason == "duplicate"


async def test_a_deleted_pair_whose_delete_is_held_keeps_its_key() -> None:
    """Deletes waiting for a confirmation are not carried out yet: a new record with the key of
    one of them is a duplicate until then (the held delete may still be undone)."""
    p = Pair(deletes="propagate", delete_guard={"share": "1%", "floor": 0})
    first = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await p.run()
    p.left.user_delete("contacts", first)
    with pytest.raises(Exception, match="deletes held"):
        await p.run()
    p.left.user_create("contacts", person("Ann", "Again", "ann@x.com"))
    with pytest.raises(Exception, match="deletes held"):
        await p.run()
    assert [r.properties["last_name"] for r in p.right.live("contacts")] == ["Lee"]


# -- an address handed on: the pair's keys follow its record's new e-mail -----------------------------
@pytest.mark.parametrize("side", [Side.LEFT, Side.RIGHT])
async def test_an_email_given_up_by_one_contact_is_free_for_a_new_one(side: Side) -> None:
    """Ann's e-mail changes; later someone new gets her old address (info@, a reused address):
    the newcomer syncs. Before, the index still gave the old address to Ann's pair, and the
    newcomer stayed a "duplicate of" Ann, who no longer had it."""
    p = Pair()
    app = p.left if side is Side.LEFT else p.right
    ann = app.user_create("contacts", person("Ann", "Lee", "info@x.com"))
    await p.run()
    app.user_update("contacts", ann, {"email": "ann@x.com"})
    await p.run()
    assert sorted(by_email(p.left)) == sorted(by_email(p.right)) == ["ann@x.com"]
    app.user_create("contacts", person("Cy", "New", "info@x.com"))
    res = await p.run()
    assert res.counters.created == ({"left": 0, "right": 1} if side is Side.LEFT else {"left": 1, "right": 0})
    assert sorted(by_email(p.left)) == sorted(by_email(p.right)) == ["ann@x.com", "info@x.com"]
    assert by_email(p.right)["info@x.com"]["last_name"] == "New" and p.status() == {"syncing": 2}
    res = await p.run(full=True)
    assert res.counters.created == res.counters.updated == {"left": 0, "right": 0}
    # and Ann's new address is hers: a second record with it is a duplicate of Ann
    app.user_create("contacts", person("Ann", "Again", "ann@x.com"))
    await p.run()
    assert p.status() == {"syncing": 2, "excluded": 1}


async def test_an_address_handed_on_within_one_pass_syncs_by_the_next_full_pass() -> None:
    """The change and the newcomer in the same pass: the newcomer is planned before Ann's pair
    lets go of the address, so it waits as a duplicate; the next full pass frees it (its key
    belongs to no one any more) and syncs it."""
    p = Pair()
    ann = p.left.user_create("contacts", person("Ann", "Lee", "info@x.com"))
    await p.run()
    p.left.user_update("contacts", ann, {"email": "ann@x.com"})
    p.left.user_create("contacts", person("Cy", "New", "info@x.com"))
    await p.run()
    await p.run(full=True)
    assert sorted(by_email(p.right)) == ["ann@x.com", "info@x.com"] and p.status() == {"syncing": 2}
