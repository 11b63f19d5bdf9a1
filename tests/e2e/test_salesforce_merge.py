"""Duplicates merged in Salesforce (the master keeps its Id, the others are deleted with
MasterRecordId naming it): the pair of a merged-away record ends as a duplicate of the master's pair,
and nothing is deleted or created in HubSpot, through the engine against both sandboxes over loopback
HTTP(S)."""

from __future__ import annotations

from typing import Any

import pytest
from test_contact_lead_routing import _contacts, _open_leads
from test_hubspot_salesforce import World, _hs_contact, hs_server, sf_server, w  # noqa: F401

from accord.model import Side

L, R = Side.LEFT, Side.RIGHT


async def _two_pairs(world: World) -> tuple[str, str, str, str]:
    """HubSpot C1 ↔ Salesforce S1 and C2 ↔ S2, synced, deletes propagated: (C1, C2, S1, S2)."""
    c1 = str(world.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"])
    c2 = str(world.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann.lee@acme.com", jobtitle="CTO",
                                                          phone="+1 555 0100"))["id"])
    world.sync("contacts", "contacts", "Contact", deletes="propagate")
    await world.run("contacts")
    s1, s2 = world.link("contacts", L, c1).right_id, world.link("contacts", L, c2).right_id
    assert s1 and s2 and s1 != s2
    return c1, c2, s1, s2


def _hs_state(world: World) -> list[dict[str, Any]]:
    return sorted(world.hs.records("contacts"), key=lambda r: str(r["id"]))


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_merged_contact_keeps_both_hubspot_contacts(w: World, full: bool) -> None:  # noqa: F811
    c1, c2, s1, s2 = await _two_pairs(w)
    c2_before = w.hs.get("contacts", c2)
    w.sf.advance(5)
    w.sf.merge("Contact", s1, [s2])  # S1 stays; it takes S2's title and phone (its own are blank)
    w.sf.advance(60)  # getDeleted ignores seconds: a delete shows once its minute is over
    res = await w.run("contacts", full=full)
    assert res.kind == ("full" if full else "incremental")
    # nothing deleted, nothing created, in either app
    assert res.counters.archived == {"left": 0, "right": 0} and res.counters.created == {"left": 0, "right": 0}
    assert sorted(str(r["id"]) for r in w.hs.records("contacts")) == sorted([c1, c2])
    assert not w.hs.records("contacts", archived=True)
    assert [r["Id"] for r in w.sf.records("Contact")] == [s1]
    # C1 ↔ S1 syncs on, S1's new values reached C1 as any change does
    link = w.link("contacts", L, c1)
    assert (link.right_id, link.status) == (s1, "syncing")
    c1_now = w.hs.get("contacts", c1)
    assert c1_now is not None and c1_now["properties"]["jobtitle"] == "CTO"
    assert c1_now["properties"]["phone"] == "+1 555 0100"
    # C2's pair ends as a duplicate (S2 lives on as S1, which syncs with C1); C2 itself is untouched
    dup = w.link("contacts", L, c2)
    assert (dup.right_id, dup.status, dup.reason) == (None, "excluded", "duplicate")
    assert s2 in dup.message and s1 in dup.message and c1 in dup.message
    assert w.hs.get("contacts", c2) == c2_before
    # a second pass (either kind) changes nothing
    hs_before, sf_before = _hs_state(w), w.sf.records("Contact", include_deleted=True)
    for again in (False, True):
        res = await w.run("contacts", full=again)
        c = res.counters
        assert c.created == c.updated == c.archived == c.failed == {"left": 0, "right": 0}, again
        assert _hs_state(w) == hs_before and w.sf.records("Contact", include_deleted=True) == sf_before
        assert w.link("contacts", L, c2).reason == "duplicate" and w.link("contacts", L, c1).status == "syncing"


async def test_merged_lead_in_a_routed_sync(w: World) -> None:  # noqa: F811
    """Contacts and Leads in one sync: two Leads merged end the same way."""
    c1 = str(w.hs.user_create("contacts", _hs_contact("Leo", "Lead", "leo@x.com"))["id"])
    c2 = str(w.hs.user_create("contacts", _hs_contact("Leo", "Lead", "leo.lead@x.com", jobtitle="CEO"))["id"])
    _contacts(w, deletes="propagate")  # new records as Leads
    await w.run("contacts")
    s1, s2 = w.link("contacts", L, c1).right_id, w.link("contacts", L, c2).right_id
    assert s1 in {r["Id"] for r in _open_leads(w).values()} and s2 and s2.startswith("00Q")
    w.sf.advance(5)
    w.sf.merge("Lead", s1, [s2])
    w.sf.advance(60)
    res = await w.run("contacts")
    assert res.counters.archived == {"left": 0, "right": 0} and res.counters.created == {"left": 0, "right": 0}
    assert len(w.hs.records("contacts")) == 2 and len(w.sf.records("Lead")) == 1
    assert w.link("contacts", L, c1).right_id == s1
    assert w.hs.get("contacts", c1)["properties"]["jobtitle"] == "CEO"  # type: ignore[index]
    dup = w.link("contacts", L, c2)
    assert (dup.right_id, dup.reason) == (None, "duplicate")
    res = await w.run("contacts", full=True)
    assert res.counters.created == res.counters.archived == {"left": 0, "right": 0}


async def test_merged_account_keeps_both_companies_and_its_contacts_follow(w: World) -> None:  # noqa: F811
    """Two Accounts merged: both HubSpot companies stay, the merged one's pair ends as a duplicate, and
    the merged Account's Contact (now the master's) keeps its pair."""
    co1 = str(w.hs.user_create("companies", {"name": "Acme", "domain": "acme.com"})["id"])
    co2 = str(w.hs.user_create("companies", {"name": "Acme Europe", "domain": "acme.eu"})["id"])
    w.companies_and_contacts(deletes="propagate")
    await w.run("companies")
    await w.run("contacts")
    a1, a2 = w.link("companies", L, co1).right_id, w.link("companies", L, co2).right_id
    assert a1 and a2
    kid = w.sf.create("Contact", {"FirstName": "Kid", "LastName": "Lee", "Email": "kid@acme.com", "AccountId": a2})
    await w.run("contacts")
    hs_kid = str(w.link("contacts", R, kid).left_id)
    assert (await w.hs_conn.associations("contacts", [hs_kid], "companies"))[hs_kid] == [co2]
    w.sf.advance(5)
    w.sf.merge("Account", a1, [a2])
    w.sf.advance(60)
    res = await w.run("companies")
    assert res.counters.archived == res.counters.created == {"left": 0, "right": 0}
    assert sorted(str(c["id"]) for c in w.hs.records("companies")) == sorted([co1, co2])
    assert w.link("companies", L, co1).right_id == a1
    assert (w.link("companies", L, co2).right_id, w.link("companies", L, co2).reason) == (None, "duplicate")
    # the merged Account's Contact now belongs to the master; in HubSpot it is still with the company
    # kept as a duplicate (until that one is merged there too): nothing is deleted or created, and
    # the contact gets the master's company too rather than waiting for the duplicate's pair, which
    # ended and will never sync again
    res = await w.run("contacts")
    assert res.counters.archived == res.counters.created == {"left": 0, "right": 0}
    assert w.sf.get("Contact", kid)["AccountId"] == a1  # type: ignore[index]
    link = w.link("contacts", R, kid)
    assert link.left_id == hs_kid and len(w.hs.records("contacts")) == 1
    assert link.status == "syncing", (link.status, link.reason, link.message)
    assert sorted((await w.hs_conn.associations("contacts", [hs_kid], "companies"))[hs_kid]) == sorted([co1, co2])
    res = await w.run("contacts", full=True)  # and it stays so
    assert w.link("contacts", R, kid).status == "syncing"
    assert w.sf.get("Contact", kid)["AccountId"] == a1  # type: ignore[index]
