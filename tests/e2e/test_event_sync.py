"""Event sync, app → HubSpot timeline (issue #20 item 2, seed 002's four rules), through real
passes of :class:`SyncRunner` against the HubSpot, Snov.io and Salesforce sandboxes.

The rules: (1) one way, app → HubSpot: nothing is written back; (2) only events of contact
records sync; (3) an event syncs even when its contact is filtered out of the record sync;
(4) only onto contacts already in HubSpot: an event never creates a contact. Also: a second
pass writes no duplicates, and with the checkbox off no event syncs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from test_hubspot_salesforce import sf_server  # noqa: F401
from test_hubspot_snovio import hs_server, sn_server  # noqa: F401
from typer.testing import CliRunner

from accord.cli import app as cli
from accord.config import ConfigError, config_hash, parse_config
from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow
from accord.connectors.salesforce import SalesforceConnector
from accord.connectors.snovio import SnovioConnector
from accord.index import Store
from accord.index.event_cursors import event_cursor
from accord.model import Side
from accord.runner import PassResult, SyncRunner
from accord.sandbox.hubspot import HubSpotSandbox
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.snovio import SnovioSandbox

L, R = Side.LEFT, Side.RIGHT
LIST = "Sync"
APP_ID = "4242"
HS = {"type": "hubspot", "token": "pat-e2e", "app_id": APP_ID}


def _hub(url: str) -> HubSpotConnector:
    return HubSpotConnector("hubspot", token="pat-e2e", base_url=url, timeout=5, backoff=0.01, app_id=APP_ID,
                            limits=Limits(RollingWindow(10_000, 10.0), RollingWindow(1000, 1.0)))


def _contact(first: str, last: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"firstname": first, "lastname": last, "email": email, **extra}


class SnWorld:
    def __init__(self, hs: HubSpotSandbox, hs_url: str, sn: SnovioSandbox, sn_url: str) -> None:
        self.hs, self.sn, self.hs_url, self.sn_url = hs, sn, hs_url, sn_url
        self.hs_conn = _hub(hs_url)
        self.sn_conn = SnovioConnector("snovio", client_id="cid", client_secret="secret", list_name=LIST,
                                       base_url=sn_url, window=RollingWindow(100_000, 1.0), backoff=0.01, timeout=5)
        self.store = Store("sqlite://")

    async def run(self, **extra: Any) -> PassResult:
        cfg = parse_config({"apps": {"hubspot": {**HS, "base_url": self.hs_url},
                                     "snovio": {"type": "snovio", "client_id": "cid", "client_secret": "secret",
                                                "base_url": self.sn_url, "list": LIST}},
                            "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                                       "right": {"app": "snovio", "object": "prospects"}, **extra}]}, env={})
        return await SyncRunner(cfg.syncs[0], self.store, self.hs_conn, self.sn_conn, path="syncs[0]").run()

    def contact_id(self, email: str) -> str:
        return next(str(r["id"]) for r in self.hs.records("contacts") if r["properties"].get("email") == email)

    def timeline(self, email: str) -> list[dict[str, Any]]:
        return self.hs.timeline_events("contacts", self.contact_id(email))

    def event(self, campaign: int, type_: str, email: str, at: datetime, subject: str = "Hello") -> None:
        """Recorded through the sandbox's admin route, as Snov.io's mailbox would."""
        r = httpx.post(f"{self.sn_url}/_sandbox/campaigns/{campaign}/events",
                       json={"type": type_, "email": email, "at": at.isoformat(), "subject": subject})
        assert r.status_code == 201, r.text


@pytest.fixture()
async def sw(hs_server: tuple[HubSpotSandbox, str], sn_server: tuple[SnovioSandbox, str]) -> AsyncIterator[SnWorld]:  # noqa: F811
    hs, hs_url = hs_server
    sn, sn_url = sn_server
    hs.reset()
    sn.reset()
    world = SnWorld(hs, hs_url, sn, sn_url)
    yield world
    await world.hs_conn.aclose()
    await world.sn_conn.aclose()
    world.store.close()


FILTERS = {"left": [{"field": "lifecyclestage", "op": "neq", "value": "other"}]}


def _yesterday() -> datetime:
    """A campaign's creation before its events: those of the tests go back up to 3 hours, which
    is the day before between 00:00 and 03:00 UTC (the first read starts at the creation's day)."""
    return datetime.now(UTC) - timedelta(days=1)


def _snovio_world(sw: SnWorld, created: datetime | None = None) -> int:
    """Pia syncs both ways; Hidden is a HubSpot contact the filters keep out of the record sync
    (her prospect is in another list); Ghost is a prospect HubSpot has no contact for."""
    lid, cold = sw.sn.create_list(LIST), sw.sn.create_list("Cold")
    sw.sn.user_add(lid, emails=["pia@x.com"], firstName="Pia", lastName="Prospect")
    sw.sn.user_add(cold, emails=["hidden@x.com"], firstName="Hid", lastName="Den")
    sw.sn.user_add(cold, emails=["ghost@x.com"], firstName="Gho", lastName="St")
    sw.hs.user_create("contacts", _contact("Hid", "Den", "hidden@x.com", lifecyclestage="other"))
    r = httpx.post(f"{sw.sn_url}/_sandbox/campaigns", json={"name": "Spring", "listId": lid,
                                                            "createdAt": (created or _yesterday()).isoformat()})
    assert r.status_code == 201
    return int(r.json()["id"])


async def test_snovio_events_follow_the_four_rules_and_a_second_pass_writes_no_duplicates(sw: SnWorld) -> None:
    campaign = _snovio_world(sw)
    first = await sw.run(filters=FILTERS)  # the record sync alone: Pia goes to HubSpot, Hidden stays out
    assert first.counters.created == {"left": 1, "right": 0}
    hidden = sw.store.links_by_record("contacts", L, [sw.contact_id("hidden@x.com")])
    assert [(x.status, x.reason) for x in hidden.values()] == [("excluded", "filtered")]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    for i, kind in enumerate(("sent", "open", "click", "reply")):
        sw.event(campaign, kind, "pia@x.com", t0 + timedelta(minutes=i), subject="Spring offer")
    sw.event(campaign, "open", "hidden@x.com", t0 + timedelta(minutes=5))
    sw.event(campaign, "sent", "ghost@x.com", t0 + timedelta(minutes=6))
    sw.event(campaign, "bounce", "ghost@x.com", t0 + timedelta(minutes=7))
    sw.event(campaign, "sent", "", t0 + timedelta(minutes=8))  # a step with no recipient email: no contact
    prospects, hs_contacts = sw.sn.prospects(), len(sw.hs.records("contacts"))
    writes = {k: v for k, v in sw.sn.counters.items() if k.startswith(("add-", "update-", "delete-", "lists"))}

    res = await sw.run(filters=FILTERS, events=True)
    assert res.counters.events == {"read": 8, "written": 5, "already": 0, "not_a_contact": 1,
                                   "no_contact_in_hubspot": 2, "from_hubspot": 0, "failed": 0}
    pia = sw.timeline("pia@x.com")
    assert [e["tokens"]["kind"] for e in pia] == ["Email sent", "Email opened", "Email link clicked",
                                                 "Email replied"]
    assert pia[0]["tokens"]["subject"] == "Spring offer" and pia[0]["tokens"]["source"] == "Campaign: Spring"
    assert pia[0]["timestamp"].startswith(t0.strftime("%Y-%m-%dT%H:%M"))
    # rule 3: Hidden is filtered out of the record sync, her event still syncs
    assert [e["tokens"]["kind"] for e in sw.timeline("hidden@x.com")] == ["Email opened"]
    # rule 4: Ghost is not in HubSpot: dropped, and no contact was created for it
    assert len(sw.hs.records("contacts")) == hs_contacts
    assert "ghost@x.com" not in {r["properties"].get("email") for r in sw.hs.records("contacts")}
    # rule 1: one way — nothing written to Snov.io by the event sync
    assert sw.sn.prospects() == prospects
    assert {k: v for k, v in sw.sn.counters.items() if k.startswith(("add-", "update-", "delete-", "lists"))} == writes

    again = await sw.run(filters=FILTERS, events=True)  # nothing new: nothing written twice
    assert again.counters.events["written"] == 0 and again.counters.events["failed"] == 0
    assert len(sw.timeline("pia@x.com")) == 4 and len(sw.timeline("hidden@x.com")) == 1
    sw.event(campaign, "click", "hidden@x.com", datetime.now(UTC).replace(microsecond=0))
    third = await sw.run(filters=FILTERS, events=True)
    assert third.counters.events["written"] == 1
    assert len(sw.timeline("pia@x.com")) == 4 and len(sw.timeline("hidden@x.com")) == 2
    templates = httpx.get(f"{sw.hs_url}/crm/v3/timeline/{APP_ID}/event-templates",
                          headers={"Authorization": "Bearer pat-e2e"}).json()["results"]
    assert [t["name"] for t in templates] == ["Accord: Snov.io activity"]  # registered once


async def test_a_retry_after_the_cursor_was_lost_writes_no_duplicates(sw: SnWorld) -> None:
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=70)
    campaign = _snovio_world(sw, created=long_ago)
    sw.event(campaign, "open", "hidden@x.com", long_ago + timedelta(days=1))
    sw.event(campaign, "click", "hidden@x.com", long_ago + timedelta(days=45))
    # the first pass reads the campaign's whole history, in windows of at most 31 days
    res = await sw.run(filters=FILTERS, events=True)
    assert res.counters.events["written"] == 2
    sw.store.delete_sync("contacts")  # e.g. a pass that died before its cursor was saved: all read again
    again = await sw.run(filters=FILTERS, events=True)
    assert again.counters.events["written"] == 0 and again.counters.events["already"] == 2
    assert len(sw.timeline("hidden@x.com")) == 2


async def test_with_the_checkbox_off_no_event_syncs(sw: SnWorld) -> None:
    campaign = _snovio_world(sw)
    sw.event(campaign, "open", "hidden@x.com", datetime.now(UTC).replace(microsecond=0))
    res = await sw.run(filters=FILTERS)
    assert "events" not in res.as_dict() and res.counters.events == {}
    assert sw.timeline("hidden@x.com") == [] and sw.timeline("pia@x.com") == []
    assert httpx.get(f"{sw.hs_url}/crm/v3/timeline/{APP_ID}/event-templates",
                     headers={"Authorization": "Bearer pat-e2e"}).json()["results"] == []


def test_the_events_key_is_checked_and_does_not_restart_the_initial_sync() -> None:
    apps = {"hs": HS, "sn": {"type": "snovio", "client_id": "c", "client_secret": "s", "list": "L"},
            "sf": {"type": "salesforce", "instance_url": "https://sf.example", "access_token": "t"}}

    def sync(right: dict[str, str], **extra: Any) -> dict[str, Any]:
        return {"apps": apps, "syncs": [{"name": "s", "left": {"app": "hs", "object": "contacts"},
                                         "right": right, **extra}]}
    on = parse_config(sync({"app": "sn", "object": "prospects"}, events=True), env={})
    off = parse_config(sync({"app": "sn", "object": "prospects"}), env={})
    assert on.syncs[0].events and config_hash(on.syncs[0]) == config_hash(off.syncs[0])
    with pytest.raises(ConfigError) as e:
        parse_config(sync({"app": "sf", "object": "Account"}, events=True), env={})
    assert "syncs[0].events: event sync needs HubSpot contacts" in str(e.value)
    no_app_id = {**apps, "hs": {"type": "hubspot", "token": "t"}}
    with pytest.raises(ConfigError) as e:
        parse_config({**sync({"app": "sn", "object": "prospects"}, events=True), "apps": no_app_id}, env={})
    assert "syncs[0].events" in str(e.value) and "apps.hs.app_id" in str(e.value)


# -- Salesforce activity history --------------------------------------------------------------------
class SfWorld:
    def __init__(self, hs: HubSpotSandbox, hs_url: str, sf: SalesforceSandbox) -> None:
        assert sf.tls is not None
        self.hs, self.sf, self.hs_url = hs, sf, hs_url
        self.hs_conn = _hub(hs_url)
        self.sf_conn = SalesforceConnector("salesforce", sf.url, "token", verify=sf.tls.cafile, backoff=0.01,
                                           timeout=5)
        self.store = Store("sqlite://")

    async def run(self, right_object: str | list[str] = "Contact", **extra: Any) -> PassResult:
        cfg = parse_config({"apps": {"hubspot": {**HS, "base_url": self.hs_url},
                                     "salesforce": {"type": "salesforce", "instance_url": self.sf.url,
                                                    "access_token": "token"}},
                            "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                                       "right": {"app": "salesforce", "object": right_object}, **extra}]}, env={})
        return await SyncRunner(cfg.syncs[0], self.store, self.hs_conn, self.sf_conn).run()

    def timeline(self, email: str) -> list[dict[str, Any]]:
        cid = next(str(r["id"]) for r in self.hs.records("contacts") if r["properties"].get("email") == email)
        return self.hs.timeline_events("contacts", cid)


@pytest.fixture()
async def fw(hs_server: tuple[HubSpotSandbox, str], sf_server: SalesforceSandbox) -> AsyncIterator[SfWorld]:  # noqa: F811
    hs, hs_url = hs_server
    hs.reset()
    sf_server.reset()
    sf_server.set_faults()
    world = SfWorld(hs, hs_url, sf_server)
    yield world
    await world.hs_conn.aclose()
    await world.sf_conn.aclose()
    world.store.close()


async def test_salesforce_activity_history_follows_the_four_rules(fw: SfWorld) -> None:
    acct = fw.sf.create("Account", {"Name": "Acme"})
    ann = fw.sf.create("Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@acme.com",
                                   "LeadSource": "Web"})
    bob = fw.sf.create("Contact", {"FirstName": "Bob", "LastName": "Out", "Email": "bob@acme.com",
                                   "LeadSource": "Other"})
    cat = fw.sf.create("Contact", {"FirstName": "Cat", "LastName": "Solo", "Email": "cat@acme.com",
                                   "LeadSource": "Other"})
    lead = fw.sf.create("Lead", {"FirstName": "Lea", "LastName": "D", "Email": "lea@acme.com", "Company": "Acme"})
    fw.hs.user_create("contacts", _contact("Bob", "Out", "bob@acme.com"))
    filters = {"right": [{"field": "LeadSource", "op": "eq", "value": "Web"}]}
    first = await fw.run(filters=filters, direction="right-to-left")
    assert first.counters.created == {"left": 1, "right": 0}  # Ann; Bob and Cat are filtered out
    fw.sf.create("Task", {"WhoId": ann, "Subject": "Intro email", "TaskSubtype": "Email", "Status": "Completed"})
    fw.sf.create("Task", {"WhoId": ann, "Subject": "Follow-up call", "TaskSubtype": "Call", "Status": "Completed"})
    fw.sf.create("Event", {"WhoId": bob, "Subject": "Demo", "StartDateTime": "2026-01-05T10:00:00.000Z",
                           "EndDateTime": "2026-01-05T11:00:00.000Z", "DurationInMinutes": 60})
    fw.sf.create("Task", {"WhoId": cat, "Subject": "Cold email", "TaskSubtype": "Email"})  # Cat: not in HubSpot
    fw.sf.create("Task", {"WhatId": acct, "Subject": "Account email", "TaskSubtype": "Email"})  # no contact
    fw.sf.create("Task", {"WhoId": lead, "Subject": "Lead email", "TaskSubtype": "Email"})  # the Lead sync's
    fw.sf.create("Task", {"WhoId": ann, "Subject": "Plain to-do", "TaskSubtype": "Task"})  # not an activity
    sf_before = {o: fw.sf.records(o) for o in ("Contact", "Task", "Event")}
    hs_contacts = len(fw.hs.records("contacts"))

    res = await fw.run(filters=filters, direction="right-to-left", events=True)
    assert res.counters.events == {"read": 5, "written": 3, "already": 0, "not_a_contact": 1,
                                   "no_contact_in_hubspot": 1, "from_hubspot": 0, "failed": 0}
    ann_events = sorted((e["tokens"]["kind"], e["tokens"]["subject"]) for e in fw.timeline("ann@acme.com"))
    assert ann_events == [("Call", "Follow-up call"), ("Email", "Intro email")]
    bob_events = fw.timeline("bob@acme.com")  # filtered out of the record sync, the event still syncs
    assert [(e["tokens"]["kind"], e["timestamp"][:16]) for e in bob_events] == [("Meeting", "2026-01-05T10:00")]
    assert len(fw.hs.records("contacts")) == hs_contacts  # Cat got no contact
    assert {o: fw.sf.records(o) for o in ("Contact", "Task", "Event")} == sf_before  # one way

    again = await fw.run(filters=filters, direction="right-to-left", events=True)
    assert again.counters.events["written"] == 0
    assert len(fw.timeline("ann@acme.com")) == 2 and len(fw.timeline("bob@acme.com")) == 1


def test_accord_sync_reports_the_events_and_check_refuses_a_pair_without_events(
        tmp_path: Path, sw: SnWorld) -> None:
    campaign = _snovio_world(sw)
    sw.event(campaign, "open", "hidden@x.com", datetime.now(UTC).replace(microsecond=0))
    sw.event(campaign, "open", "ghost@x.com", datetime.now(UTC).replace(microsecond=0))
    apps = {"hubspot": {**HS, "base_url": sw.hs_url},
            "snovio": {"type": "snovio", "client_id": "cid", "client_secret": "secret", "base_url": sw.sn_url,
                       "list": LIST}}
    sync = {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
            "right": {"app": "snovio", "object": "prospects"}, "filters": FILTERS, "events": True}
    cfg_path = tmp_path / "accord.yaml"
    cfg_path.write_text(yaml.safe_dump({"state": f"sqlite:///{tmp_path}/accord.db", "apps": apps, "syncs": [sync]}))
    runner = CliRunner()
    done = runner.invoke(cli, ["sync", "-c", str(cfg_path)])
    assert done.exit_code == 0, done.output
    assert ("contacts: events read 2; 1 written to HubSpot's timeline, 1 dropped: no contact in HubSpot"
            in " ".join(done.output.split())), done.output
    sw.event(campaign, "click", "hidden@x.com", datetime.now(UTC).replace(microsecond=0))
    again = runner.invoke(cli, ["sync", "-c", str(cfg_path), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output[again.output.index("["):])[0]["events"]["written"] == 1
    assert len(sw.timeline("hidden@x.com")) == 2

    wrong = {**sync, "right": {"app": "hubspot", "object": "companies"}, "name": "companies"}
    cfg_path.write_text(yaml.safe_dump({"apps": apps, "syncs": [wrong]}))
    checked = runner.invoke(cli, ["check", "-c", str(cfg_path)])
    assert checked.exit_code == 2 and "syncs[0].events" in checked.output, checked.output


async def test_a_lead_sync_carries_the_leads_activities_not_the_contacts(fw: SfWorld) -> None:
    lea = fw.sf.create("Lead", {"FirstName": "Lea", "LastName": "D", "Email": "lea@acme.com", "Company": "Acme"})
    ann = fw.sf.create("Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@acme.com"})
    fw.hs.user_create("contacts", _contact("Ann", "Lee", "ann@acme.com"))
    fw.sf.create("Task", {"WhoId": lea, "Subject": "Lead email", "TaskSubtype": "Email"})
    fw.sf.create("Task", {"WhoId": ann, "Subject": "Contact email", "TaskSubtype": "Email"})
    res = await fw.run(events=True, right_object="Lead")
    assert res.counters.created["left"] == 1  # Lea to HubSpot
    assert res.counters.events["read"] == 1 and res.counters.events["written"] == 1
    assert [e["tokens"]["subject"] for e in fw.timeline("lea@acme.com")] == ["Lead email"]
    assert fw.timeline("ann@acme.com") == []  # a Contact's activity: the Contact sync's, not this one's
    assert event_cursor(fw.store, "contacts") is not None  # the cursor moves past rows it skips too


async def test_a_contacts_and_leads_sync_carries_the_activities_of_both(fw: SfWorld) -> None:
    lea = fw.sf.create("Lead", {"FirstName": "Lea", "LastName": "D", "Email": "lea@acme.com", "Company": "Acme"})
    ann = fw.sf.create("Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@acme.com"})
    fw.hs.user_create("contacts", _contact("Ann", "Lee", "ann@acme.com"))
    fw.sf.create("Task", {"WhoId": lea, "Subject": "Lead email", "TaskSubtype": "Email"})
    fw.sf.create("Task", {"WhoId": ann, "Subject": "Contact email", "TaskSubtype": "Email"})
    res = await fw.run(events=True, right_object=["Contact", "Lead"])
    assert res.counters.events["read"] == 2 and res.counters.events["written"] == 2
    assert [e["tokens"]["subject"] for e in fw.timeline("lea@acme.com")] == ["Lead email"]
    assert [e["tokens"]["subject"] for e in fw.timeline("ann@acme.com")] == ["Contact email"]
