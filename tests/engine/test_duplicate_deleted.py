"""One of two duplicates deleted in an app that allows them: the one that lives on takes over
the pair (accord.runner.pairing.survivors), as the record a merge keeps does. Before, with
``deletes: propagate`` the twin in the other app was deleted (the person was gone from it though
their other record lived on), and with ``mark`` the pair stayed *failing: deleted* while the
other record stayed excluded as "a duplicate of" the record that was gone, in every pass."""

from __future__ import annotations

import pytest

from accord.model import Side
from helpers import Pair, person


def _pair_with_a_duplicate(side: Side, deletes: str) -> tuple[Pair, str, str, str]:
    """(pair, the other app's record, the duplicate paired, the duplicate excluded)."""
    p = Pair(deletes=deletes)
    app, other = (p.left, p.right) if side is Side.LEFT else (p.right, p.left)
    app.objects["contacts"].unique = ()  # duplicates allowed there, as in Salesforce
    twin = other.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="1"))
    first = app.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="1"))
    second = app.user_create("contacts", person("Ann", "Lee", "ANN@x.com", phone="2"))
    return p, twin, first, second


@pytest.mark.parametrize("side", [Side.LEFT, Side.RIGHT])
@pytest.mark.parametrize("deletes", ["propagate", "mark"])
@pytest.mark.parametrize("full", [False, True])
async def test_the_duplicate_that_lives_on_takes_over_the_pair(side: Side, deletes: str, full: bool) -> None:
    p, twin, first, second = _pair_with_a_duplicate(side, deletes)
    app, other = (p.left, p.right) if side is Side.LEFT else (p.right, p.left)
    await p.run()
    assert p.link_of(side.value, first).id_of(side.other) == twin
    assert p.link_of(side.value, second).reason == "duplicate"
    app.user_delete("contacts", first)
    res = await p.run(full=full)
    assert res.counters.archived == res.counters.created == {"left": 0, "right": 0}
    assert [r.id for r in other.live("contacts")] == [twin]  # nothing deleted in the other app
    link = p.link_of(side.other.value, twin)
    assert (link.id_of(side), link.status) == (second, "syncing")
    assert other.get("contacts", twin).properties["phone"] == "2"  # the survivor's values come along
    assert p.status() == {"syncing": 1}
    for again in (False, True):
        res = await p.run(full=again)
        assert res.counters.created == res.counters.updated == res.counters.archived == {"left": 0, "right": 0}


async def test_without_a_live_duplicate_the_delete_goes_on_as_before() -> None:
    p = Pair(deletes="propagate")
    twin = p.right.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    first = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await p.run()
    p.left.user_delete("contacts", first)
    res = await p.run()
    assert res.counters.archived == {"left": 0, "right": 1}
    assert p.right.get("contacts", twin).archived


async def test_a_record_that_syncs_with_another_one_does_not_take_over() -> None:
    """Only a never-paired duplicate takes over: a record of the same e-mail that is already in a
    pair of its own (an e-mail changed since) is not moved."""
    p = Pair(deletes="mark")
    p.left.objects["contacts"].unique = ()
    p.right.objects["contacts"].unique = ()
    a1 = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a2 = p.left.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    await p.run()
    p.left.user_update("contacts", a2, {"email": "ann@x.com"})  # a2 now has a1's e-mail, but syncs with its own twin
    await p.run()
    p.left.user_delete("contacts", a1)
    await p.run(full=True)
    assert p.link_of("left", a2).right_id is not None and p.link_of("left", a2).status == "syncing"
    assert p.link_of("left", a1).category == "deleted"


@pytest.mark.parametrize("deletes", ["mark", "propagate"])
async def test_a_full_pass_frees_a_duplicate_left_behind_by_an_earlier_delete(
        deletes: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pair ended by the delete of one of two duplicates before the other could take over (an
    index from before this was fixed, or a lookup that missed it): the next pass that reads the
    duplicate again (the daily full pass) frees it, and it takes the deleted one's place. Before,
    it stayed excluded for good, "a duplicate of" a record that was gone."""
    from accord.runner import pairing

    p, twin, first, second = _pair_with_a_duplicate(Side.RIGHT, deletes)
    await p.run()
    p.right.user_delete("contacts", first)
    with monkeypatch.context() as m:
        async def nothing(*_: object) -> dict[str, object]:
            return {}
        m.setattr(pairing, "survivors", nothing)
        await p.run()  # as an older version did
    assert p.link_of("right", second).reason == "duplicate"
    res = await p.run(full=True)
    link = p.link_of("right", second)
    assert link.status == "syncing" and link.left_id is not None
    if deletes == "mark":  # the twin lives on: the two pair up
        assert link.left_id == twin and res.counters.created == {"left": 0, "right": 0}
    else:  # the twin was deleted with it: the person comes back from the record that lives on
        assert res.counters.created == {"left": 1, "right": 0}
    assert p.status() == {"syncing": 1}
    # merged as in a first sync (the bases were the deleted record's): the two agree
    assert p.left.get("contacts", str(link.left_id)).properties["phone"] == p.right.get("contacts", second).properties["phone"]
    for again in (False, True):
        res = await p.run(full=again)
        assert res.counters.created == res.counters.updated == res.counters.archived == {"left": 0, "right": 0}


async def test_a_third_duplicate_names_the_record_that_took_over() -> None:
    """Three records with one e-mail; the one that synced is deleted and the second takes over:
    the third, read again, says it is a duplicate of the second, not of the record that is gone."""
    p, twin, first, second = _pair_with_a_duplicate(Side.RIGHT, "mark")
    third = p.right.user_create("contacts", person("Ann", "Lee", "ann@X.com", phone="3"))
    await p.run()
    assert first in p.link_of("right", third).message
    p.right.user_delete("contacts", first)
    await p.run()
    assert p.link_of("right", second).left_id == twin
    await p.run(full=True)
    row = p.link_of("right", third)
    assert (row.reason, row.message) == ("duplicate", f"same match key as {second}, which syncs instead")
    assert p.status() == {"syncing": 1, "excluded": 1}
