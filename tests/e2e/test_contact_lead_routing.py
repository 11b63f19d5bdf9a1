"""Contact/Lead routing (issue #20 item 4): one sync of HubSpot contacts with Salesforce Contacts
and Leads (``right: {app: sf, object: [Contact, Lead]}``), Lead conversion included, through the
engine against both sandboxes over loopback HTTP(S)."""

from __future__ import annotations

from typing import Any

from test_hubspot_salesforce import World, _hs_contact, hs_server, sf_server, w  # noqa: F401

from accord.associations import AssociationTarget
from accord.config import parse_config
from accord.model import Side
from accord.runner import SyncRunner

L, R = Side.LEFT, Side.RIGHT
ROUTED = ["Contact", "Lead"]


def _contacts(world: World, new_records_as: str | None = None, **extra: Any) -> None:
    """The routed sync (``new_records_as``: the setting, absent for its default)."""
    right: dict[str, Any] = {"app": "salesforce", "object": ROUTED}
    if new_records_as is not None:
        right["new_records_as"] = new_records_as
    cfg = parse_config({"apps": {"hubspot": {"type": "hubspot", "token": "pat-e2e"},
                                 "salesforce": {"type": "salesforce", "instance_url": world.sf.url,
                                                "access_token": "token"}},
                        "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                                   "right": right, **extra}]}, env={})
    world.runners["contacts"] = SyncRunner(cfg.syncs[0], world.store, world.hs_conn, world.sf_conn)


def _hs(world: World) -> dict[str, dict[str, Any]]:
    return world.hs_by_email()


def _open_leads(world: World) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in world.sf_by_email("Lead").items() if not v["IsConverted"]}


async def test_existing_contact_pairs_as_contact_else_lead_and_new_contacts_create_leads(w: World) -> None:  # noqa: F811
    both_c = w.sf.create("Contact", {"FirstName": "Cora", "LastName": "Both", "Email": "both@x.com"})
    w.sf.create("Lead", {"FirstName": "Lena", "LastName": "Both", "Email": "both@x.com", "Company": "X"})
    lead = w.sf.create("Lead", {"FirstName": "Leo", "LastName": "Lead", "Email": "leo@x.com", "Company": "X"})
    w.hs.user_create("contacts", _hs_contact("Cora", "Both", "both@x.com"))
    w.hs.user_create("contacts", _hs_contact("Leo", "Lead", "leo@x.com", jobtitle="CTO"))
    new = w.hs.user_create("contacts", _hs_contact("Nina", "New", "nina@x.com"))["id"]
    _contacts(w)
    res = await w.run("contacts")
    # the Contact pairs (not the Lead with the same email); the Lead pairs where no Contact has the email
    assert w.link("contacts", L, str(_hs_id(w, "both@x.com"))).right_id == both_c
    assert w.link("contacts", L, str(_hs_id(w, "leo@x.com"))).right_id == lead
    assert w.sf.get("Lead", lead)["Title"] == "CTO"  # type: ignore[index]
    # the new HubSpot contact became a Lead (the default), its company "[not provided]" as HubSpot's integration does
    created = _open_leads(w)["nina@x.com"]
    assert created["Company"] == "[not provided]" and "nina@x.com" not in w.sf_by_email("Contact")
    assert w.link("contacts", L, new).right_id == created["Id"]
    assert res.counters.created == {"left": 0, "right": 1}
    # the Lead sharing the Contact's email never makes a second HubSpot contact
    assert sorted(_hs(w)) == ["both@x.com", "leo@x.com", "nina@x.com"]
    again = await w.run("contacts", full=True)
    assert again.counters.created == {"left": 0, "right": 0} and len(w.hs.records("contacts")) == 3


async def test_new_records_as_contact(w: World) -> None:  # noqa: F811
    w.hs.user_create("contacts", _hs_contact("Nina", "New", "nina@x.com"))
    _contacts(w, new_records_as="Contact")
    await w.run("contacts")
    assert "nina@x.com" in w.sf_by_email("Contact") and not w.sf.records("Lead")
    # a HubSpot contact created later, incrementally, too
    w.hs.user_create("contacts", _hs_contact("Otto", "Later", "otto@x.com"))
    await w.run("contacts")
    assert "otto@x.com" in w.sf_by_email("Contact") and not w.sf.records("Lead")


async def test_salesforce_records_in_both_objects_make_one_hubspot_contact(w: World) -> None:  # noqa: F811
    w.sf.create("Lead", {"LastName": "Twin", "Email": "twin@x.com", "Company": "X"})
    w.sf.create("Contact", {"LastName": "Twin", "Email": "Twin@X.com", "AccountId": w.sf.create("Account", {"Name": "T"})})
    w.sf.create("Lead", {"LastName": "Solo", "Email": "solo@x.com", "Company": "X"})
    _contacts(w)
    await w.run("contacts")
    assert sorted(_hs(w)) == ["solo@x.com", "twin@x.com"]
    # incrementally: a Contact and a Lead with one new email, created between passes
    w.sf.advance(5)
    w.sf.create("Contact", {"LastName": "Pair", "Email": "pair@x.com"})
    w.sf.create("Lead", {"LastName": "Pair", "Email": "pair@x.com", "Company": "X"})
    await w.run("contacts")
    await w.run("contacts", full=True)
    assert sorted(_hs(w)) == ["pair@x.com", "solo@x.com", "twin@x.com"]
    assert len(w.hs.records("contacts")) == 3
    # the Lead left out as a duplicate is converted into the Contact that syncs: its row gives way
    twin_lead = _open_leads(w)["twin@x.com"]["Id"]
    assert w.link("contacts", R, twin_lead).reason == "duplicate"
    w.sf.advance(2)
    w.sf.convert_lead(twin_lead, contact_id=w.sf_by_email()["twin@x.com"]["Id"])
    await w.run("contacts")
    await w.run("contacts", full=True)
    assert w.link("contacts", R, twin_lead) is None and len(w.hs.records("contacts")) == 3
    assert w.link("contacts", R, w.sf_by_email()["twin@x.com"]["Id"]).status == "syncing"


def _hs_id(world: World, email: str) -> str:
    return next(str(r["id"]) for r in world.hs.records("contacts") if r["properties"].get("email") == email)


async def test_converted_lead_moves_the_pair_to_its_contact(w: World) -> None:  # noqa: F811
    w.sync("companies", "companies", "Account")
    _contacts(w)
    w.runners["contacts"].associations = [AssociationTarget("companies", {L: "companies", R: "Account"})]
    hs_id = w.hs.user_create("contacts", _hs_contact("Ada", "Lovelace", "ada@engines.example", jobtitle="CTO"))["id"]
    await w.run("companies")
    await w.run("contacts")
    lead = _open_leads(w)["ada@engines.example"]["Id"]
    assert w.link("contacts", L, hs_id).right_id == lead
    # a two-way edit while it is a Lead
    w.sf.update("Lead", lead, {"Company": "Engines Ltd", "Title": "Chief Engineer"})
    await w.run("contacts")
    assert _hs(w)["ada@engines.example"]["jobtitle"] == "Chief Engineer"
    # converted in Salesforce mid-life: a new Account and Contact
    w.sf.advance(2)
    done = w.sf.convert_lead(lead)
    contact, account = str(done["contactId"]), str(done["accountId"])
    await w.run("companies")  # the converted Account reaches HubSpot as a company
    res = await w.run("contacts")
    link = w.link("contacts", L, hs_id)
    assert link.right_id == contact and w.link("contacts", R, lead) is None
    assert res.counters.created == {"left": 0, "right": 0}
    assert len(w.hs.records("contacts")) == 1 and len(w.sf.records("Contact")) == 1
    assert not _open_leads(w)
    # the HubSpot contact's company follows ConvertedAccountId
    company = w.link("companies", R, account).left_id
    assert company is not None and w.hs.primary("contacts", hs_id, "companies") == int(company)
    # two-way edits keep flowing, now with the Contact
    w.hs.user_update("contacts", hs_id, {"jobtitle": "Countess"})
    await w.run("contacts")
    assert w.sf.get("Contact", contact)["Title"] == "Countess"  # type: ignore[index]
    w.sf.advance(2)
    w.sf.update("Contact", contact, {"Phone": "+44 20 0000"})
    await w.run("contacts")
    assert _hs(w)["ada@engines.example"]["phone"] == "+44 20 0000"
    # a full re-scan changes nothing: no second contact on either side
    again = await w.run("contacts", full=True)
    assert again.counters.created == {"left": 0, "right": 0}
    assert len(w.hs.records("contacts")) == 1 and len(w.sf.records("Contact")) == 1
    assert w.link("contacts", L, hs_id).status == "syncing"


async def test_conversion_found_by_a_full_scan_and_into_an_existing_contact(w: World) -> None:  # noqa: F811
    _contacts(w)
    a = w.hs.user_create("contacts", _hs_contact("Ann", "A", "ann@x.com"))["id"]
    b = w.hs.user_create("contacts", _hs_contact("Bob", "B", "bob@x.com"))["id"]
    await w.run("contacts")
    leads = _open_leads(w)
    # Ann's Lead converts into a new Contact; Bob's into a Contact a user made meanwhile (same email)
    acct = w.sf.create("Account", {"Name": "Acme"})
    bob_c = w.sf.create("Contact", {"LastName": "B", "Email": "bob@x.com", "AccountId": acct})
    w.sf.advance(2)
    ann_c = str(w.sf.convert_lead(leads["ann@x.com"]["Id"])["contactId"])
    w.sf.convert_lead(leads["bob@x.com"]["Id"], contact_id=bob_c)
    res = await w.run("contacts", full=True)
    assert w.link("contacts", L, a).right_id == ann_c and w.link("contacts", L, b).right_id == bob_c
    assert res.counters.created == {"left": 0, "right": 0}
    assert len(w.hs.records("contacts")) == 2 and len(w.sf.records("Contact")) == 2
    # edits reach the Contacts, not the read-only Leads
    w.hs.user_update("contacts", b, {"jobtitle": "VP"})
    res = await w.run("contacts")
    assert res.counters.failed == {"left": 0, "right": 0}
    assert w.sf.get("Contact", bob_c)["Title"] == "VP"  # type: ignore[index]


async def test_hubspot_edit_of_a_just_converted_lead_writes_the_contact(w: World) -> None:  # noqa: F811
    _contacts(w)
    a = w.hs.user_create("contacts", _hs_contact("Ann", "A", "ann@x.com"))["id"]
    await w.run("contacts")
    lead = _open_leads(w)["ann@x.com"]["Id"]
    w.sf.advance(2)
    contact = str(w.sf.convert_lead(lead)["contactId"])
    # HubSpot's changes are read before Salesforce's: the pair still points at the Lead then
    w.hs.user_update("contacts", a, {"jobtitle": "Founder", "firstname": "Anna"})
    res = await w.run("contacts")
    assert res.counters.failed == {"left": 0, "right": 0}
    row = w.sf.get("Contact", contact)
    assert row is not None and (row["Title"], row["FirstName"]) == ("Founder", "Anna")
    assert w.link("contacts", L, a).right_id == contact
    assert len(w.hs.records("contacts")) == 1 and len(w.sf.records("Contact")) == 1


async def test_conversion_into_a_contact_that_syncs_with_another_hubspot_contact(w: World) -> None:  # noqa: F811
    _contacts(w)
    a = w.hs.user_create("contacts", _hs_contact("Ann", "A", "ann@x.com"))["id"]
    await w.run("contacts")
    lead = _open_leads(w)["ann@x.com"]["Id"]
    other = w.sf.create("Contact", {"LastName": "Other", "Email": "other@x.com",
                                    "AccountId": w.sf.create("Account", {"Name": "O"})})
    w.sf.advance(2)
    await w.run("contacts")  # the Contact syncs with a new HubSpot contact
    assert sorted(_hs(w)) == ["ann@x.com", "other@x.com"]
    w.sf.convert_lead(lead, contact_id=other)
    await w.run("contacts")
    await w.run("contacts", full=True)
    # Ann's pair ends (excluded), nothing is created again on either side
    link = w.link("contacts", L, a)
    assert (link.status, link.reason, link.right_id) == ("excluded", "duplicate", None)
    assert len(w.hs.records("contacts")) == 2 and len(w.sf.records("Contact")) == 1 and not _open_leads(w)


async def test_routed_object_offered_described_and_checked(w: World) -> None:  # noqa: F811
    from accord.checks import check_sync

    objects = await w.sf_conn.list_objects()
    assert objects[0].value == "Contact+Lead" and objects[0].label == "Contacts and Leads"
    schema = await w.sf_conn.describe("Contact+Lead")
    assert {"FirstName", "LastName", "Email", "Phone", "Title", "LeadSource"} <= set(schema.fields)
    assert not {"Company", "AccountId", "MailingCity", "IsConverted", "ConvertedContactId"} & set(schema.fields)
    # a field of one object only cannot be mapped in a routed sync: check names the key
    _contacts(w, mappings=[{"left": "company", "right": "Company"}])
    found = await check_sync(w.runners["contacts"])
    assert [i.path for i in found.errors] == [".mappings[0].right"]  # (a runner of no config file)
    assert "Company" in found.errors[0].message
