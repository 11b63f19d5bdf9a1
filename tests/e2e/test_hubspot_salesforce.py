"""The HubSpot–Salesforce seed behaviours (seeds 001 and 004), through the engine, against both sandboxes.

Each test runs real passes of :class:`SyncRunner` with the real connectors over loopback HTTP
(HubSpot) and HTTPS (Salesforce), an SQLite index, and edits made as users in either app.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from accord.associations import AssociationTarget
from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow
from accord.connectors.salesforce import SalesforceConnector
from accord.index import Store
from accord.model import Side
from accord.runner import PassResult, SyncRunner
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread

L, R = Side.LEFT, Side.RIGHT


@pytest.fixture(scope="module")
def hs_server() -> Iterator[tuple[HubSpotSandbox, ServerThread]]:
    sb = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv
    sb.close()


@pytest.fixture(scope="module")
def sf_server() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox()
    sb.start()
    yield sb
    sb.stop()


class World:
    """Both sandboxes (reset), their connectors and one index; ``sync(...)`` builds a runner."""

    def __init__(self, hs: HubSpotSandbox, hs_url: str, sf: SalesforceSandbox) -> None:
        self.hs, self.sf = hs, sf
        assert sf.tls is not None
        self.hs_conn = HubSpotConnector("hubspot", token="pat-e2e", base_url=hs_url, timeout=5, backoff=0.01,
                                        limits=Limits(RollingWindow(10_000, 10.0), RollingWindow(1000, 1.0)))
        self.sf_conn = SalesforceConnector("salesforce", sf.url, "token", verify=sf.tls.cafile, backoff=0.01, timeout=5)
        self.store = Store("sqlite://")
        self.runners: dict[str, SyncRunner] = {}

    def sync(self, name: str, left: str, right: str | list[str], **extra: Any) -> SyncRunner:
        body = {"name": name, "left": {"app": "hubspot", "object": left},
                "right": {"app": "salesforce", "object": right}, **extra}
        cfg = parse_config({"apps": {"hubspot": {"type": "hubspot", "token": "pat-e2e"},
                                     "salesforce": {"type": "salesforce", "instance_url": self.sf.url,
                                                    "access_token": "token"}},
                            "syncs": [body]}, env={})
        self.runners[name] = SyncRunner(cfg.syncs[0], self.store, self.hs_conn, self.sf_conn)
        return self.runners[name]

    def companies_and_contacts(self, **extra: Any) -> SyncRunner:
        """The companies ↔ Account sync and a contacts ↔ Contact sync whose pairs' companies it syncs."""
        self.sync("companies", "companies", "Account", **extra)
        contacts = self.sync("contacts", "contacts", "Contact", **extra)
        contacts.associations = [AssociationTarget("companies", {L: "companies", R: "Account"})]
        return contacts

    async def run(self, name: str, full: bool = False) -> PassResult:
        return await self.runners[name].run(full=full)

    def link(self, sync: str, side: Side, rid: str) -> Any:
        return self.store.links_by_record(sync, side, [rid]).get(rid)

    def hs_by_email(self) -> dict[str, dict[str, Any]]:
        return {str(r["properties"].get("email")): r["properties"] for r in self.hs.records("contacts")}

    def sf_by_email(self, obj: str = "Contact") -> dict[str, dict[str, Any]]:
        return {str(r["Email"]).lower(): r for r in self.sf.records(obj)}


@pytest.fixture()
async def w(hs_server: tuple[HubSpotSandbox, ServerThread], sf_server: SalesforceSandbox) -> AsyncIterator[World]:
    hs, srv = hs_server
    hs.reset()
    sf_server.reset()
    sf_server.set_faults()
    sf_server.org.validation_rules = []
    sf_server.set_duplicate_rule(False)
    world = World(hs, srv.url, sf_server)
    yield world
    await world.hs_conn.aclose()
    await world.sf_conn.aclose()
    world.store.close()


def _hs_contact(first: str, last: str, email: str | None, **extra: Any) -> dict[str, Any]:
    return {"firstname": first, "lastname": last, "email": email, **extra}


def _sf_contact(first: str, last: str, email: str | None, **extra: Any) -> dict[str, Any]:
    return {"FirstName": first, "LastName": last, "Email": email, **extra}


async def test_formula_field_recomputation_alone_syncs_nothing(w: World) -> None:
    acct = w.sf.create("Account", {"Name": "Acme"})
    cid = w.sf.create("Contact", _sf_contact("Ann", "Lee", "ann@acme.com", AccountId=acct))
    w.sync("contacts", "contacts", "Contact",
           mappings=[{"left": "company", "right": "Account_Name__c", "direction": "right-to-left"}])
    await w.run("contacts")
    assert w.hs_by_email()["ann@acme.com"]["company"] == "Acme"
    # Renaming the account recomputes the contact's formula; a system change makes the contact
    # show up in the change feed with only that formula value different.
    w.sf.update("Account", acct, {"Name": "Acme Europe"})
    w.sf.touch("Contact", cid)
    res = await w.run("contacts")
    assert res.counters.read["right"] >= 1
    assert res.counters.updated == {"left": 0, "right": 0} and res.counters.created == {"left": 0, "right": 0}
    assert w.hs_by_email()["ann@acme.com"]["company"] == "Acme"
    # The new value travels with the next real change.
    w.sf.update("Contact", cid, {"Title": "CTO"})
    res = await w.run("contacts")
    assert res.counters.updated["left"] == 1
    hs = w.hs_by_email()["ann@acme.com"]
    assert (hs["jobtitle"], hs["company"]) == ("CTO", "Acme Europe")


async def test_contacts_without_email_do_not_sync(w: World) -> None:
    w.hs.user_create("contacts", _hs_contact("No", "Mail", None))
    w.hs.user_create("contacts", _hs_contact("Has", "Mail", "has@x.com"))
    no_mail = w.sf.create("Contact", _sf_contact("Also", "Nomail", None))
    w.sync("contacts", "contacts", "Contact")
    res = await w.run("contacts")
    assert res.counters.created == {"left": 0, "right": 1}
    assert w.store.reason_counts("contacts") == {"excluded/no_match_key": 2}
    assert set(w.sf_by_email()) == {"has@x.com", "none"}  # the Salesforce one without e-mail stays put
    assert len(w.hs.records("contacts")) == 2
    assert w.link("contacts", R, no_mail).reason == "no_match_key"


async def test_validation_rule_failure_is_failing_custom_code_and_the_rest_syncs(w: World) -> None:
    w.sf.add_validation_rule("Contact", "Title = 'CEO' AND Phone = null", "A CEO needs a phone number", field="Phone")
    ceo = w.hs.user_create("contacts", _hs_contact("Big", "Boss", "boss@x.com", jobtitle="CEO"))["id"]
    for i in range(3):
        w.hs.user_create("contacts", _hs_contact(f"P{i}", "Person", f"p{i}@x.com", jobtitle="Engineer"))
    w.sync("contacts", "contacts", "Contact")
    res = await w.run("contacts")
    assert res.counters.created["right"] == 3 and res.counters.failed["right"] == 1
    assert w.store.counts("contacts") == {"syncing": 3, "failing": 1}
    link = w.link("contacts", L, ceo)
    assert link.status == "failing" and link.category == "custom_code"
    assert "CEO needs a phone" in (link.message or "") and link.hint
    # Fixing the record in HubSpot lets it through on the next pass (failing records are retried).
    w.hs.user_update("contacts", ceo, {"phone": "+1 555 0100"})
    await w.run("contacts")
    assert w.sf_by_email()["boss@x.com"]["Phone"] == "+1 555 0100"
    assert w.store.counts("contacts") == {"syncing": 4}


async def test_inclusion_list_membership_controls_what_syncs(w: World) -> None:
    a = w.hs.user_create("contacts", _hs_contact("Ann", "In", "ann@x.com"))["id"]
    b = w.hs.user_create("contacts", _hs_contact("Bob", "Out", "bob@x.com"))["id"]
    w.hs.create_list("Sync to Salesforce")
    w.hs.list_members("Sync to Salesforce", add=[a])
    w.sync("contacts", "contacts", "Contact", inclusion={"side": "left", "list": "Sync to Salesforce"})
    await w.run("contacts")
    assert set(w.sf_by_email()) == {"ann@x.com"}
    assert w.link("contacts", L, b).reason == "not_in_list"
    # Joining the list starts syncing on the next pass; leaving it stops further updates.
    w.hs.list_members("Sync to Salesforce", add=[b], remove=[a])
    w.hs.user_update("contacts", a, {"jobtitle": "Left the list"})
    await w.run("contacts")
    sf = w.sf_by_email()
    assert set(sf) == {"ann@x.com", "bob@x.com"}
    assert sf["ann@x.com"]["Title"] is None
    assert w.link("contacts", L, a).reason == "not_in_list"
    assert w.link("contacts", L, b).status == "syncing"


async def test_a_new_salesforce_contact_syncs_an_existing_contact_outside_the_list_once(w: World) -> None:
    # Seed 004: a Salesforce contact created whose e-mail matches an existing HubSpot contact
    # outside the inclusion list "syncs the existing contact"; further updates wait for the list.
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "In", "ann@x.com"))["id"]
    olga = w.hs.user_create("contacts", _hs_contact("Olga", "Out", "olga@x.com"))["id"]  # no title, no phone
    pre = w.hs.user_create("contacts", _hs_contact("Pre", "Existing", "pre@x.com"))["id"]
    w.sf.create("Contact", _sf_contact("Pre", "Existing", "pre@x.com", Title="Buyer", Phone="+1 555 0001"))
    w.hs.create_list("Sync to Salesforce")
    w.hs.list_members("Sync to Salesforce", add=[ann])
    w.sync("contacts", "contacts", "Contact", inclusion={"side": "left", "list": "Sync to Salesforce"})
    await w.run("contacts")
    # records that existed before the sync are not "created": that pair stays as it was
    assert w.link("contacts", L, pre).reason == "not_in_list" and w.hs_by_email()["pre@x.com"].get("jobtitle") is None

    sid = w.sf.create("Contact", _sf_contact("Olga", "Out", "olga@x.com", Title="CTO", Phone="+1 555 0100"))
    res = await w.run("contacts")
    assert res.kind == "incremental" and res.counters.created == {"left": 0, "right": 0}
    assert res.counters.updated == {"left": 1, "right": 0}
    hs = w.hs_by_email()
    assert (hs["olga@x.com"]["jobtitle"], hs["olga@x.com"]["phone"]) == ("CTO", "+1 555 0100")
    link = w.link("contacts", L, olga)
    assert (link.right_id, link.status, link.reason) == (sid, "excluded", "not_in_list")
    assert hs["pre@x.com"].get("jobtitle") is None  # still not synced
    assert len(w.hs.records("contacts")) == 3

    # later changes on either side wait for list membership …
    w.sf.update("Contact", sid, {"Title": "CFO"})
    w.hs.user_update("contacts", olga, {"phone": "+1 555 0199"})
    res = await w.run("contacts")
    assert res.counters.updated == {"left": 0, "right": 0}
    assert w.hs_by_email()["olga@x.com"]["jobtitle"] == "CTO" and w.sf_by_email()["olga@x.com"]["Phone"] == "+1 555 0100"
    for full in (True, False):  # a full pass does not sync it once more
        again = await w.run("contacts", full=full)
        assert again.counters.updated == {"left": 0, "right": 0}
    # … and joining the list syncs both edits made since the pair was synced
    w.hs.list_members("Sync to Salesforce", add=[olga])
    await w.run("contacts")
    assert w.hs_by_email()["olga@x.com"]["jobtitle"] == "CFO" and w.sf_by_email()["olga@x.com"]["Phone"] == "+1 555 0199"
    assert w.link("contacts", L, olga).status == "syncing"


async def test_a_new_salesforce_lead_syncs_an_existing_contact_outside_the_list_once(w: World) -> None:
    olga = w.hs.user_create("contacts", _hs_contact("Olga", "Out", "olga@x.com"))["id"]
    w.hs.touch("contacts", [olga], int(time.time() * 1000) - 7_200_000)  # untouched for hours
    w.hs.user_create("contacts", _hs_contact("Ann", "In", "ann@x.com"))
    w.hs.create_list("Sync to Salesforce")
    w.sync("leads", "contacts", "Lead", inclusion={"side": "left", "list": "Sync to Salesforce"})
    await w.run("leads")
    # the new lead comes through Salesforce's change feed and meets Olga's row in the index
    lead = w.sf.create("Lead", _sf_contact("Olga", "Out", "OLGA@x.com", Company="Acme", Title="Buyer"))
    res = await w.run("leads")
    # (HubSpot's feed re-reads only its newest record, Ann: Olga's row is met by the lead's pairing)
    assert res.counters.read["left"] <= 1 and res.counters.updated["left"] == 1
    assert w.sf_by_email("Lead")["olga@x.com"]["Email"] == "olga@x.com"  # a normal merge: the winner's e-mail
    assert (w.hs_by_email()["olga@x.com"]["jobtitle"], w.hs_by_email()["olga@x.com"]["company"]) == ("Buyer", "Acme")
    link = w.link("leads", L, olga)
    assert (link.right_id, link.reason) == (lead, "not_in_list") and "synced once" in (link.message or "")
    w.sf.update("Lead", lead, {"Title": "Owner"})
    await w.run("leads")
    assert w.hs_by_email()["olga@x.com"]["jobtitle"] == "Buyer"


async def test_lead_and_contact_with_one_email_map_to_one_hubspot_contact(w: World) -> None:
    w.sf.create("Contact", _sf_contact("Sam", "Both", "sam@x.com", Title="Buyer"))
    w.sf.create("Lead", _sf_contact("Sam", "Both", "SAM@x.com", Company="Acme", Phone="+1 555 0199"))
    w.sf.create("Lead", _sf_contact("Lea", "Lead", "lea@x.com", Company="Initech", Status="Working - Contacted"))
    w.sf.create("Contact", _sf_contact("Con", "Tact", "con@x.com"))
    w.hs.user_create("contacts", _hs_contact("New", "Lead", "newlead@x.com", lifecyclestage="lead", company="Globex"))
    w.hs.user_create("contacts", _hs_contact("New", "Customer", "newcust@x.com", lifecyclestage="customer"))
    # HubSpot's new contacts go to Salesforce as Leads or Contacts by lifecycle stage; both
    # Salesforce objects flow into the one HubSpot contacts object, matched by e-mail.
    w.sync("contacts", "contacts", "Contact",
           filters={"left": [{"field": "lifecyclestage", "op": "in", "value": ["customer", "opportunity"]}]})
    w.sync("leads", "contacts", "Lead",
           filters={"left": [{"field": "lifecyclestage", "op": "in", "value": ["lead", "subscriber"]}]})
    for _ in range(2):
        await w.run("contacts")
        await w.run("leads")
    hs = w.hs_by_email()
    assert sorted(hs) == ["con@x.com", "lea@x.com", "newcust@x.com", "newlead@x.com", "sam@x.com"]
    assert (hs["sam@x.com"]["jobtitle"], hs["sam@x.com"]["phone"]) == ("Buyer", "+1 555 0199")
    assert hs["lea@x.com"]["hs_lead_status"] == "IN_PROGRESS"  # the default Lead.Status value map
    assert sorted(w.sf_by_email("Contact")) == ["con@x.com", "newcust@x.com", "sam@x.com"]
    assert sorted(w.sf_by_email("Lead")) == ["lea@x.com", "newlead@x.com", "sam@x.com"]
    sam = next(r["id"] for r in w.hs.records("contacts") if r["properties"]["email"] == "sam@x.com")
    assert w.link("contacts", L, sam).status == "syncing" and w.link("leads", L, sam).status == "syncing"


async def test_incremental_changes_on_either_side_arrive_on_the_other(w: World) -> None:
    h = w.hs.user_create("contacts", _hs_contact("Hal", "Hub", "hal@x.com"))["id"]
    s = w.sf.create("Contact", _sf_contact("Sue", "Force", "sue@x.com"))
    w.sync("contacts", "contacts", "Contact")
    await w.run("contacts")
    w.hs.user_update("contacts", h, {"jobtitle": "VP Sales", "city": "Lyon"})
    w.sf.update("Contact", s, {"Phone": "+44 20 7946 0000"})
    w.hs.user_create("contacts", _hs_contact("New", "Here", "new@x.com"))
    w.sf.create("Contact", _sf_contact("Newer", "There", "newer@x.com"))
    res = await w.run("contacts")
    assert res.kind == "incremental"
    assert res.counters.created == {"left": 1, "right": 1} and res.counters.updated == {"left": 1, "right": 1}
    sf, hs = w.sf_by_email(), w.hs_by_email()
    assert (sf["hal@x.com"]["Title"], sf["hal@x.com"]["MailingCity"]) == ("VP Sales", "Lyon")
    assert hs["sue@x.com"]["phone"] == "+44 20 7946 0000"
    assert set(sf) == set(hs) == {"hal@x.com", "sue@x.com", "new@x.com", "newer@x.com"}
    # Nothing bounces back: the next pass writes nothing.
    again = await w.run("contacts")
    assert again.counters.created == {"left": 0, "right": 0} and again.counters.updated == {"left": 0, "right": 0}


async def test_deals_sync_with_stage_mapping_and_are_never_duplicated(w: World) -> None:
    won = w.hs.user_create("deals", {"dealname": "Big deal", "amount": "5000", "pipeline": "default",
                                     "dealstage": "closedwon", "closedate": "2025-03-01"})["id"]
    early = w.hs.user_create("deals", {"dealname": "Early deal", "amount": "100", "pipeline": "default",
                                       "dealstage": "appointmentscheduled", "closedate": "2025-03-01"})["id"]
    opp = w.sf.create("Opportunity", {"Name": "Big deal", "Amount": 700, "StageName": "Closed Lost",
                                      "CloseDate": "2025-04-01"})
    w.sync("deals", "deals", "Opportunity", stages="auto")
    res = await w.run("deals")
    assert res.counters.created == {"left": 1, "right": 1}  # same name, yet deals match by link only
    assert w.link("deals", L, early).reason == "unmapped_stage"
    sf = {r["Id"]: r for r in w.sf.records("Opportunity")}
    won_sf = sf[w.link("deals", L, won).right_id]
    assert (won_sf["StageName"], won_sf["Amount"], won_sf["CloseDate"]) == ("Closed Won", 5000.0, "2025-03-01")
    opp_hs = w.hs.get("deals", w.link("deals", R, opp).left_id)
    assert opp_hs is not None and opp_hs["properties"]["dealstage"] == "closedlost"
    # Stage and amount changes move across; passes of every kind create nothing new.
    w.sf.update("Opportunity", opp, {"StageName": "Id. Decision Makers", "Amount": 900})
    w.hs.user_update("deals", won, {"amount": "6000"})
    res = await w.run("deals")
    assert res.counters.updated == {"left": 1, "right": 1}
    opp_hs = w.hs.get("deals", w.link("deals", R, opp).left_id)
    assert opp_hs is not None
    assert (opp_hs["properties"]["dealstage"], opp_hs["properties"]["amount"]) == ("decisionmakerboughtin", "900")
    assert w.sf.get("Opportunity", won_sf["Id"])["Amount"] == 6000.0  # type: ignore[index]
    for full in (False, True, False):
        again = await w.run("deals", full=full)
        assert again.counters.created == {"left": 0, "right": 0}
    assert len(w.hs.records("deals")) == 3 and len(w.sf.records("Opportunity")) == 2


async def test_contact_company_association_syncs_as_account_id(w: World) -> None:
    comp = w.hs.user_create("companies", {"name": "Acme", "domain": "acme.com"})["id"]
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
    w.hs.associate("contacts", ann, "companies", comp)
    w.companies_and_contacts()
    await w.run("companies")
    res = await w.run("contacts")
    assert res.counters.associated == {"left": 0, "right": 1}
    acct = next(r for r in w.sf.records("Account") if r["Name"] == "Acme")
    assert w.sf_by_email()["ann@acme.com"]["AccountId"] == acct["Id"]
    # The other way: a Salesforce contact created under the account gets the HubSpot association.
    w.sf.create("Contact", _sf_contact("Bob", "Ray", "bob@acme.com", AccountId=acct["Id"]))
    res = await w.run("contacts")
    assert res.counters.associated["left"] == 1
    bob = w.hs_by_email()["bob@acme.com"]["hs_object_id"]
    assert (await w.hs_conn.associations("contacts", [str(bob)], "companies"))[str(bob)] == [str(comp)]
    again = await w.run("contacts", full=True)
    assert again.counters.associated == {"left": 0, "right": 0}


async def test_repointing_a_mapping_keeps_every_phone(w: World) -> None:
    """Issue #16: phone ↔ Phone repointed to phone ↔ MobilePhone used to clear ``phone`` on
    almost every HubSpot contact (5,635 of 5,815): the old mapping's base made the empty
    MobilePhone look like a deliberate clear. Now the new mapping merges as a first sync."""
    for i in range(40):
        w.hs.user_create("contacts", _hs_contact(f"P{i}", "Lee", f"p{i}@x.com", phone=f"+49 30 {1000 + i}"))
    w.sf.create("Contact", _sf_contact("Sf", "Only", "sf@x.com", Phone="+1 555 0100", MobilePhone="+1 555 0199"))
    w.sync("contacts", "contacts", "Contact")  # HubSpot wins conflicts (the left app)
    await w.run("contacts")
    assert all(c.get("Phone") for c in w.sf_by_email().values())
    w.sync("contacts", "contacts", "Contact", mappings=[{"left": "phone", "right": "MobilePhone"}])
    res = await w.run("contacts")
    assert res.kind == "initial"  # a config change restarts the initial sync
    hs, sf = w.hs_by_email(), w.sf_by_email()
    assert {e: hs[e].get("phone") for e in hs if e.startswith("p")} == {f"p{i}@x.com": f"+49 30 {1000 + i}"
                                                                        for i in range(40)}
    assert all(sf[f"p{i}@x.com"]["MobilePhone"] == f"+49 30 {1000 + i}" for i in range(40))
    assert hs["sf@x.com"]["phone"] == "+1 555 0100"  # the winner's (HubSpot's) value stays; it was Phone's copy
    assert sf["sf@x.com"]["MobilePhone"] == "+1 555 0100"
    quiet = await w.run("contacts", full=True)
    assert quiet.counters.updated == {"left": 0, "right": 0}
