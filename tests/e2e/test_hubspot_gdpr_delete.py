"""A GDPR delete in HubSpot (the contact deleted for good, not even listed as archived) applies
the sync's delete setting as soon as its ``contact.privacyDeletion`` webhook arrives; without
the webhook, the next full pass finds it (the change feed cannot: nothing lists it any more)."""

from __future__ import annotations

from typing import Any

import pytest
from test_hubspot_salesforce import World, _hs_contact, hs_server, sf_server, w  # noqa: F401

from accord.model import Side, Status

L, R = Side.LEFT, Side.RIGHT


async def _synced(w: World, deletes: str) -> tuple[str, str]:  # noqa: F811
    ann = str(w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"])
    w.hs.user_create("contacts", _hs_contact("Bob", "Lee", "bob@acme.com"))
    w.sync("contacts", "contacts", "Contact", deletes=deletes)
    await w.run("contacts")
    return ann, str(w.link("contacts", L, ann).right_id)


@pytest.mark.parametrize("deletes", ["mark", "propagate"])
async def test_a_gdpr_delete_webhook_applies_the_delete_setting(w: World, deletes: str) -> None:  # noqa: F811
    ann, _ = await _synced(w, deletes)
    events: list[dict[str, Any]] = []
    w.hs.store.on_events = events.extend
    w.hs.store.gdpr_delete("contacts", ann, w.hs.user_source)
    changes = w.hs_conn.webhook_changes([{**e, "eventId": n} for n, e in enumerate(events)])
    assert changes.deleted == {"contacts": {ann}}
    await w.runners["contacts"].sync_records(L, sorted(changes.deleted["contacts"]))
    link = w.link("contacts", L, ann)
    if deletes == "propagate":
        assert sorted(w.sf_by_email()) == ["bob@acme.com"]
        assert (link.status, link.reason) == (Status.EXCLUDED, "deleted")
    else:
        assert sorted(w.sf_by_email()) == ["ann@acme.com", "bob@acme.com"]
        assert (link.status, link.category) == (Status.FAILING, "deleted")


async def test_without_its_webhook_a_full_pass_finds_a_gdpr_delete(w: World) -> None:  # noqa: F811
    ann, twin = await _synced(w, "mark")
    w.hs.store.gdpr_delete("contacts", ann, w.hs.user_source)
    await w.run("contacts")  # the change feed has nothing to say about it
    assert w.link("contacts", L, ann).status == Status.SYNCING
    await w.run("contacts", full=True)
    assert (w.link("contacts", L, ann).status, w.link("contacts", L, ann).category) == (Status.FAILING, "deleted")
    assert w.sf.get("Contact", twin)["IsDeleted"] is False  # type: ignore[index]
