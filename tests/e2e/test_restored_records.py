"""A record restored from an app's recycle bin syncs again.

With ``deletes: propagate`` a contact deleted in HubSpot is deleted in Salesforce too and the
pair ends as deleted in both apps. Restoring the contact in HubSpot (an admin undoing a
mistake) used to leave that pair ended for good: the restored contact and every later edit of
it never reached Salesforce again, while the dashboard said "deleted in both apps". Now the pair
starts over from the restored record and its twin is created again, once. A record that only
a lagging search still lists after its delete is no restore: nothing comes back.
"""

from __future__ import annotations

import asyncio

import pytest
from test_hubspot_salesforce import World, _hs_contact, hs_server, sf_server, w  # noqa: F401

from accord.model import Side, Status

L, R = Side.LEFT, Side.RIGHT


async def _deleted_everywhere(w: World) -> str:  # noqa: F811
    """Ann and Bob synced; Ann deleted in HubSpot and, propagated, in Salesforce: her HubSpot id."""
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
    w.hs.user_create("contacts", _hs_contact("Bob", "Lee", "bob@acme.com"))
    w.sync("contacts", "contacts", "Contact", deletes="propagate")
    await w.run("contacts")
    w.hs.user_delete("contacts", ann)
    res = await w.run("contacts")
    assert res.counters.archived == {"left": 0, "right": 1}
    assert sorted(w.sf_by_email()) == ["bob@acme.com"]
    link = w.link("contacts", L, ann)
    assert link.status == Status.EXCLUDED and link.reason == "deleted"
    return str(ann)


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_contact_restored_in_hubspot_is_created_again_in_salesforce(w: World, full: bool) -> None:  # noqa: F811
    ann = await _deleted_everywhere(w)
    w.hs.user_restore("contacts", ann)
    w.hs.user_update("contacts", ann, {"jobtitle": "CEO"})
    res = await w.run("contacts", full=full)
    assert res.counters.created == {"left": 0, "right": 1}
    twin = w.sf_by_email()["ann@acme.com"]
    assert (twin["FirstName"], twin["Title"]) == ("Ann", "CEO")
    link = w.link("contacts", L, ann)
    assert link.status == Status.SYNCING and link.right_id == twin["Id"]
    assert not link.left_deleted and not link.right_deleted
    for again in (False, True):  # created once: later passes find nothing to do
        res = await w.run("contacts", full=again)
        assert res.counters.created == res.counters.archived == {"left": 0, "right": 0}
    assert sorted(w.sf_by_email()) == ["ann@acme.com", "bob@acme.com"]
    w.hs.user_update("contacts", ann, {"jobtitle": "CFO"})  # and it syncs on
    await w.run("contacts")
    assert w.sf_by_email()["ann@acme.com"]["Title"] == "CFO"


async def test_a_deleted_contact_a_lagging_search_still_lists_is_not_brought_back(w: World) -> None:  # noqa: F811
    lag = 3.0
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
    w.hs.user_create("contacts", _hs_contact("Bob", "Lee", "bob@acme.com"))
    w.sync("contacts", "contacts", "Contact", deletes="propagate")
    await w.run("contacts")
    w.hs.store.search_lag = lag  # (the sandbox serves the module's other tests: set back below)
    try:
        await _deleted_while_search_lags(w, ann, lag)
    finally:
        w.hs.store.search_lag = 0.0


async def _deleted_while_search_lags(w: World, ann: str, lag: float) -> None:  # noqa: F811
    w.hs.user_update("contacts", ann, {"jobtitle": "CEO"})
    await asyncio.sleep(lag + 0.2)  # search shows the edit now
    await w.run("contacts")
    w.hs.user_delete("contacts", ann)
    # within the lag search still lists Ann, live, as she was before the delete; the archived
    # listing does not lag: her delete is propagated, and the next pass still finds her in search
    for _ in range(2):
        res = await w.run("contacts")
        assert res.counters.created == {"left": 0, "right": 0}
    link = w.link("contacts", L, ann)
    assert link.status == Status.EXCLUDED and link.reason == "deleted"
    assert sorted(w.sf_by_email()) == ["bob@acme.com"]
    assert w.hs.store.search("contacts", {"filterGroups": [], "limit": 10}, 10_000)["total"] == 2  # (still lagging)


@pytest.mark.parametrize("deletes", ["mark", "propagate"])
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_contact_undeleted_in_salesforce_syncs_again(w: World, deletes: str, full: bool) -> None:  # noqa: F811
    """Salesforce's Recycle Bin: a Contact deleted there and restored. Under ``mark`` its HubSpot
    twin was kept and the pair syncs on; under ``propagate`` the twin was deleted too and is
    created again, once."""
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
    w.hs.user_create("contacts", _hs_contact("Bob", "Lee", "bob@acme.com"))
    w.sync("contacts", "contacts", "Contact", deletes=deletes)
    await w.run("contacts")
    sf_ann = w.link("contacts", L, ann).right_id
    w.sf.advance(5)
    w.sf.delete("Contact", sf_ann)
    w.sf.advance(60)
    await w.run("contacts")
    assert sorted(w.hs_by_email()) == (["bob@acme.com"] if deletes == "propagate" else ["ann@acme.com", "bob@acme.com"])
    w.sf.advance(5)
    w.sf.undelete("Contact", sf_ann)
    w.sf.update("Contact", sf_ann, {"Title": "CEO"})
    w.sf.advance(60)
    res = await w.run("contacts", full=full)
    assert res.counters.created == {"left": 1 if deletes == "propagate" else 0, "right": 0}
    assert sorted(w.hs_by_email()) == ["ann@acme.com", "bob@acme.com"]
    assert w.hs_by_email()["ann@acme.com"]["jobtitle"] == "CEO"
    link = w.link("contacts", R, sf_ann)
    assert link.status == Status.SYNCING and not link.left_deleted and not link.right_deleted
    for again in (False, True):
        res = await w.run("contacts", full=again)
        assert res.counters.created == res.counters.archived == {"left": 0, "right": 0}
    hs_ann = w.link("contacts", R, sf_ann).left_id
    w.hs.user_update("contacts", hs_ann, {"jobtitle": "CFO"})  # and edits flow both ways again
    await w.run("contacts")
    assert w.sf.get("Contact", sf_ann)["Title"] == "CFO"  # type: ignore[index]
    assert w.link("contacts", R, sf_ann).status == Status.SYNCING


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_contact_deleted_then_created_anew_in_hubspot_syncs_as_ann(w: World, full: bool) -> None:  # noqa: F811
    """Not restored but made again (a new id, the same e-mail: a form fill, an import): it takes
    the deleted contact's place and reaches Salesforce once, instead of staying excluded as a
    duplicate of the contact that is gone."""
    ann = await _deleted_everywhere(w)
    again = w.hs.user_create("contacts", _hs_contact("Ann", "Lee-Berg", "ann@acme.com"))["id"]
    res = await w.run("contacts", full=full)
    assert res.counters.created == {"left": 0, "right": 1}
    assert w.sf_by_email()["ann@acme.com"]["LastName"] == "Lee-Berg"
    link = w.link("contacts", L, again)
    assert link.status == Status.SYNCING and w.link("contacts", L, ann) is None
    res = await w.run("contacts", full=True)
    assert res.counters.created == {"left": 0, "right": 0}
    assert sorted(w.sf_by_email()) == ["ann@acme.com", "bob@acme.com"]
