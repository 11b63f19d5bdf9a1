"""One of two duplicate Salesforce Contacts deleted (a cleanup by hand, not a merge): the HubSpot
contact it synced with pairs with the other, which lives on, instead of being deleted
(``deletes: propagate``) or left *failing: deleted* while the other stays excluded as "a
duplicate of" a record that is gone (accord.runner.pairing.survivors). Through the engine against
both sandboxes over loopback HTTP(S), incremental and full."""

from __future__ import annotations

import pytest
from test_hubspot_salesforce import World, _hs_contact, hs_server, sf_server, w  # noqa: F401

from accord.model import Side

L, R = Side.LEFT, Side.RIGHT


@pytest.mark.parametrize("deletes", ["propagate", "mark"])
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_the_duplicate_that_lives_on_takes_over_the_pair(w: World, deletes: str, full: bool) -> None:  # noqa: F811
    c1 = str(w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"])
    s1 = w.sf.create("Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@acme.com"})
    w.sf.advance(5)
    s2 = w.sf.create("Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": "ANN@acme.com", "Title": "CTO"})
    w.sync("contacts", "contacts", "Contact", deletes=deletes)
    await w.run("contacts")
    assert w.link("contacts", L, c1).right_id == s1
    dup = w.link("contacts", R, s2)
    assert (dup.status, dup.reason) == ("excluded", "duplicate")

    w.sf.advance(5)
    w.sf.delete("Contact", s1)  # someone deletes one of the two in Salesforce
    w.sf.advance(60)  # getDeleted ignores seconds: a delete shows once its minute is over
    res = await w.run("contacts", full=full)
    assert res.counters.archived == {"left": 0, "right": 0} and res.counters.created == {"left": 0, "right": 0}
    link = w.link("contacts", L, c1)
    assert (link.right_id, link.status) == (s2, "syncing")
    c1_now = w.hs.get("contacts", c1)
    assert c1_now is not None and c1_now["properties"]["jobtitle"] == "CTO"  # the survivor's values come along
    assert w.link("contacts", R, s2).id == link.id  # its excluded row gave way
    assert w.store.counts("contacts") == {"syncing": 1}
    for again in (False, True):  # settled
        res = await w.run("contacts", full=again)
        c = res.counters
        assert c.created == c.updated == c.archived == c.failed == {"left": 0, "right": 0}, again
