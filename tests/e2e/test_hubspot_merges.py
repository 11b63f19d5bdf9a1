"""Merging duplicates in HubSpot, an everyday admin action, neither deletes nor duplicates.

Since 2023 a HubSpot merge archives both records and makes a new one (a new id) holding
them; reads by an old id answer with the new record. Read naively, that is two deletes and a
create: with ``deletes: propagate`` both Salesforce twins would be deleted and a third one
created. Accord reads it as two moves: the pair of one merged record follows the new one, the
other pair ends excluded with its Salesforce record kept. Found by an incremental pass (the
new record's ``hs_merged_object_ids``), a full pass (reads by id of the records the scan no
longer returns), the archived listing alone, and a ``contact.merge`` webhook.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_hubspot_salesforce import World, _hs_contact, hs_server, sf_server, w  # noqa: F401

from accord.connectors.hubspot import Cursor
from accord.model import Side, Status

L, R = Side.LEFT, Side.RIGHT


async def _three_pairs(w: World) -> dict[str, str]:  # noqa: F811
    """Ann, her duplicate Annie (another email) and Bob, synced both ways with deletes propagated."""
    ids = {k: w.hs.user_create("contacts", _hs_contact(first, "Lee", f"{k}@acme.com", **extra))["id"]
           for k, first, extra in (("ann", "Ann", {}), ("annie", "Annie", {"jobtitle": "CFO"}), ("bob", "Bob", {}))}
    w.sync("contacts", "contacts", "Contact", deletes="propagate")
    res = await w.run("contacts")
    assert res.counters.created == {"left": 0, "right": 3}
    return ids


def _merge(w: World, ids: dict[str, str]) -> str:  # noqa: F811
    """Annie merged into Ann (Ann the primary), as a user does it: the new record's id."""
    return str(w.hs.user_merge("contacts", ids["ann"], ids["annie"])["id"])


def _after_merge(w: World, ids: dict[str, str], new: str, annies_twin: dict[str, Any]) -> None:  # noqa: F811
    sf = w.sf_by_email()
    assert sorted(sf) == ["ann@acme.com", "annie@acme.com", "bob@acme.com"]  # none deleted, none created
    assert sf["ann@acme.com"]["Title"] == "CFO"  # the merged record's values reach Ann's twin
    assert sf["annie@acme.com"] == annies_twin  # Annie's twin is kept as it was
    assert sorted(w.hs_by_email()) == ["ann@acme.com", "bob@acme.com"]  # nothing created in HubSpot
    kept = w.link("contacts", L, new)
    assert kept is not None and kept.status == Status.SYNCING and kept.right_id == sf["ann@acme.com"]["Id"]
    ended = w.link("contacts", R, sf["annie@acme.com"]["Id"])
    assert ended is not None and ended.left_id is None and ended.status == Status.EXCLUDED
    assert ended.reason == "duplicate"
    assert f"{ids['annie']} became {new} in hubspot" in str(ended.message)
    assert "Nothing was deleted" in str(ended.hint)
    assert w.link("contacts", L, ids["ann"]) is None and w.link("contacts", L, ids["annie"]) is None


async def _quiet(w: World, *, full: bool) -> None:  # noqa: F811
    res = await w.run("contacts", full=full)
    c = res.counters
    assert (c.created, c.updated, c.archived) == ({"left": 0, "right": 0},) * 3, (full, c)


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_merge_moves_one_pair_and_keeps_the_other_twin(w: World, full: bool) -> None:  # noqa: F811
    ids = await _three_pairs(w)
    annies_twin = w.sf_by_email()["annie@acme.com"]
    new = _merge(w, ids)
    res = await w.run("contacts", full=full)
    assert res.counters.archived == {"left": 0, "right": 0}
    assert res.counters.created == {"left": 0, "right": 0}
    _after_merge(w, ids, new, annies_twin)
    await _quiet(w, full=False)
    await _quiet(w, full=True)
    # the kept twin given another e-mail is still the merged-away person: not created in HubSpot
    w.sf.update("Contact", annies_twin["Id"], {"Email": "annie.lee@acme.com"})
    w.sf.advance(1)
    await _quiet(w, full=False)
    await _quiet(w, full=True)
    assert sorted(w.hs_by_email()) == ["ann@acme.com", "bob@acme.com"]


async def test_a_merge_webhook_moves_the_pairs(w: World) -> None:  # noqa: F811
    ids = await _three_pairs(w)
    annies_twin = w.sf_by_email()["annie@acme.com"]
    events: list[dict[str, Any]] = []
    w.hs.store.on_events = events.extend
    new = _merge(w, ids)
    assert [e["subscriptionType"] for e in events] == ["contact.merge"]
    changes = w.hs_conn.webhook_changes([{**e, "eventId": n} for n, e in enumerate(events)])
    assert changes.changed == {"contacts": {ids["ann"], ids["annie"], new}} and not changes.deleted
    await w.runners["contacts"].sync_records(L, sorted(changes.changed["contacts"]))
    _after_merge(w, ids, new, annies_twin)
    await _quiet(w, full=True)


async def test_the_archived_listing_reads_merged_records_as_moves(w: World) -> None:  # noqa: F811
    """Without the new record's ``hs_merged_object_ids`` (its change not read yet, or merged long
    ago), the merged records listed as archived are moves, a deleted one stays a delete."""
    ids = await _three_pairs(w)
    cursor = await w.hs_conn.change_cursor("contacts")
    new = _merge(w, ids)
    w.hs.user_delete("contacts", ids["bob"])
    # a cursor past the merge's own change: only the archived listing sees the merged records
    start = Cursor.decode(cursor)
    late = Cursor(start.ts + 3_600_000, 0, start.archived, floor=start.ts + 3_600_000).encode()
    got = [r async for page in w.hs_conn.changes("contacts", late, ["email"]) for r in page.records]
    by_id = {r.id: r for r in got}
    assert by_id[ids["ann"]].moved_to == new and by_id[ids["annie"]].moved_to == new
    assert by_id[ids["bob"]].archived and by_id[ids["bob"]].moved_to is None
    assert new not in by_id
    # a read by an old id is a move too
    read = {r.id: r for r in await w.hs_conn.read("contacts", [ids["ann"], new, ids["bob"]], ["email"])}
    assert read[ids["ann"]].moved_to == new and read[new].properties["email"] == "ann@acme.com"
    assert read[ids["bob"]].archived


async def test_merged_companies_keep_both_accounts_and_contacts_follow_the_merge(w: World) -> None:  # noqa: F811
    """Two HubSpot companies merged: both Salesforce Accounts stay, one pair follows the new
    company, and a contact of the merged-away company (now the new one's, in HubSpot) moves to
    the kept Account in Salesforce rather than waiting for a pair that ended."""
    co1 = str(w.hs.user_create("companies", {"name": "Acme", "domain": "acme.com"})["id"])
    co2 = str(w.hs.user_create("companies", {"name": "Acme Europe", "domain": "acme.eu"})["id"])
    kid = str(w.hs.user_create("contacts", _hs_contact("Kid", "Lee", "kid@acme.com"))["id"])
    w.hs.store.associate("contacts", int(kid), "companies", int(co2), 1)  # primary company
    w.companies_and_contacts(deletes="propagate")
    await w.run("companies")
    await w.run("contacts")
    a1, a2 = w.link("companies", L, co1).right_id, w.link("companies", L, co2).right_id
    sf_kid = w.link("contacts", L, kid).right_id
    assert w.sf.get("Contact", sf_kid)["AccountId"] == a2  # type: ignore[index]
    new = str(w.hs.user_merge("companies", co1, co2)["id"])
    res = await w.run("companies")
    assert res.counters.archived == res.counters.created == {"left": 0, "right": 0}
    assert sorted(r["Id"] for r in w.sf.records("Account")) == sorted([a1, a2])
    assert w.link("companies", L, new).right_id == a1
    ended = w.link("companies", R, a2)
    assert (ended.left_id, ended.status, ended.reason) == (None, Status.EXCLUDED, "duplicate")
    # HubSpot moved the contact's association to the new company without touching the contact:
    # a full pass of the contacts sees it
    res = await w.run("contacts", full=True)
    assert res.counters.archived == res.counters.created == {"left": 0, "right": 0}
    assert w.sf.get("Contact", sf_kid)["AccountId"] == a1  # type: ignore[index]
    assert w.link("contacts", L, kid).status == Status.SYNCING
