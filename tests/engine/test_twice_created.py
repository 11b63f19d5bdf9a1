"""Two syncs that would each create every record of one object in the same app, as two objects
(HubSpot contacts → Salesforce Contact in one sync, → Lead in another): each person would be in
Salesforce twice. Not an error (filters or a direction may split the records): a note of
``accord check`` and of the setup flow's review (accord.config.twice_created)."""

from __future__ import annotations

from typing import Any

import pytest

from accord.config import SyncConfig, twice_created


def _syncs(second: dict[str, Any], first: dict[str, Any] | None = None) -> list[SyncConfig]:
    base = {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
            "right": {"app": "salesforce", "object": "Contact"}, **(first or {})}
    return [SyncConfig.model_validate(base), SyncConfig.model_validate({"name": "leads", **second})]


LEADS = {"left": {"app": "hubspot", "object": "contacts"}, "right": {"app": "salesforce", "object": "Lead"}}


def test_hubspot_contacts_to_salesforce_contacts_and_leads_is_noted_on_the_later_sync() -> None:
    syncs = _syncs(LEADS)
    [(sync, why)] = twice_created(syncs)
    assert sync.name == "leads"
    assert why == ("sync 'leads' and sync 'contacts' each create every hubspot contacts record in salesforce, as "
                   "Lead here and as Contact there: each would be in salesforce twice. To avoid that, use one sync "
                   "with object [Contact, Lead] (each HubSpot contact becomes a Lead or a Contact, never both), or "
                   "give both syncs filters on hubspot that split its records.")


def test_the_shared_object_may_stand_on_either_side() -> None:
    flipped = {"left": {"app": "salesforce", "object": "Lead"}, "right": {"app": "hubspot", "object": "contacts"}}
    [(sync, why)] = twice_created(_syncs(flipped))
    assert sync.name == "leads" and "as Lead here and as Contact there" in why


@pytest.mark.parametrize("second", [
    {**LEADS, "filters": {"left": [{"field": "lifecyclestage", "op": "eq", "value": "lead"}]}},
    {**LEADS, "inclusion": {"side": "left", "list": "Leads"}},
    {**LEADS, "direction": "right-to-left"},  # creates HubSpot contacts from Leads only
    {**LEADS, "enabled": False},
    {**LEADS, "right": {"app": "sf2", "object": "Lead"}},  # another Salesforce org
    {"left": {"app": "hubspot", "object": "contacts"}, "right": {"app": "snovio", "object": "prospects"}},  # hub and spoke
    {"left": {"app": "hubspot", "object": "companies"}, "right": {"app": "salesforce", "object": "Account"}},
], ids=["filtered", "inclusion-list", "one-way-back", "disabled", "other-org", "hub-and-spoke", "other-object"])
def test_syncs_that_split_or_do_not_share_the_records_are_not_noted(second: dict[str, Any]) -> None:
    assert twice_created(_syncs(second)) == []


def test_the_first_sync_narrowed_to_a_list_is_not_noted_either() -> None:
    assert twice_created(_syncs(LEADS, first={"inclusion": {"side": "left", "list": "Customers"}})) == []


def test_any_other_pair_of_objects_is_noted_without_the_contact_and_lead_advice() -> None:
    [(_, why)] = twice_created(_syncs({"left": {"app": "hubspot", "object": "contacts"},
                                       "right": {"app": "salesforce", "object": "Account"}}))
    assert "as Account here and as Contact there" in why and "sync it with one of them" in why
