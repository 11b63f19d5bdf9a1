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
