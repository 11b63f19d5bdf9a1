"""The HubSpot × xentral seed behaviours (seed 003), through the engine, against both sandboxes.

Each test runs real passes of :class:`SyncRunner` (and, at the end, the ``accord`` command)
with the real connectors over loopback HTTP, an SQLite index, and edits made as users in
either app. HubSpot is the left app, xentral the right one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow
from accord.connectors.xentral import Limits as XLimits
from accord.connectors.xentral import XentralConnector
from accord.index import Store
from accord.model import ConnectorError, Side
from accord.runner import PassResult, SyncRunner
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.sandbox.xentral import SandboxSettings as XSettings
from accord.sandbox.xentral import XentralSandbox, install

L, R = Side.LEFT, Side.RIGHT
GROUP = {"side": "right", "list": "Hubspot"}


@pytest.fixture(scope="module")
def hs_server() -> Iterator[tuple[HubSpotSandbox, ServerThread]]:
    sb = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv
    sb.close()


@pytest.fixture(scope="module")
def xt_server() -> Iterator[tuple[XentralSandbox, ServerThread]]:
    sb = XentralSandbox(XSettings(rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv


class World:
    """Both sandboxes (reset, xentral with its HubSpot module installed), connectors and one index."""

    def __init__(self, hs: HubSpotSandbox, hs_url: str, xt: XentralSandbox, xt_url: str) -> None:
        self.hs, self.xt = hs, xt
        self.hs_url, self.xt_url = hs_url, xt_url
        self.hs_conn = HubSpotConnector("hubspot", token="pat-e2e", base_url=hs_url, timeout=5, backoff=0.01,
                                        limits=Limits(RollingWindow(10_000, 10.0), RollingWindow(1000, 1.0)))
        self.xt_conn = self.xentral()
        self.store = Store("sqlite://")
        self.runners: dict[str, SyncRunner] = {}

    def xentral(self, **kw: Any) -> XentralConnector:
        return XentralConnector("xentral", base_url=self.xt_url, token="xt-pat", timeout=5, backoff=0.01,
                                page_size=4, limits=XLimits(RollingWindow(10_000, 60.0)), **kw)

    def sync(self, name: str, left: str, right: str, **extra: Any) -> SyncRunner:
        body = {"name": name, "left": {"app": "hubspot", "object": left},
                "right": {"app": "xentral", "object": right}, **extra}
        cfg = parse_config({"apps": {"hubspot": {"type": "hubspot", "token": "pat-e2e"},
                                     "xentral": {"type": "xentral", "base_url": self.xt_url, "token": "xt-pat"}},
                            "syncs": [body]}, env={})
        self.runners[name] = SyncRunner(cfg.syncs[0], self.store, self.hs_conn, self.xt_conn)
        return self.runners[name]

    async def run(self, name: str, full: bool = False) -> PassResult:
        return await self.runners[name].run(full=full)

    def link(self, sync: str, side: Side, rid: str) -> Any:
        return self.store.links_by_record(sync, side, [rid]).get(rid)

    def hs_contacts(self) -> dict[str, dict[str, Any]]:
        return {str(r["properties"].get("email")): r["properties"] for r in self.hs.records("contacts")}

    def xt_addresses(self) -> dict[str, dict[str, Any]]:
        return {a["email"]: a for a in self.xt.addresses()}

    def hs_deals(self) -> dict[str, dict[str, Any]]:
        return {str(r["properties"]["dealname"]): r for r in self.hs.records("deals")}

    def xt_deals(self) -> dict[str, dict[str, Any]]:
        return {r["bezeichnung"]: r for r in self.xt.resubmissions()}


@pytest.fixture()
async def w(hs_server: tuple[HubSpotSandbox, ServerThread],
            xt_server: tuple[XentralSandbox, ServerThread]) -> AsyncIterator[World]:
    hs, hs_srv = hs_server
    xt, xt_srv = xt_server
    hs.reset()
    xt.reset()
    install(xt.store)  # the group "Hubspot", the status free field, the board with HubSpot's stages
    world = World(hs, hs_srv.url, xt, xt_srv.url)
    yield world
    await world.hs_conn.aclose()
    await world.xt_conn.aclose()
    world.store.close()


def hs_person(first: str, last: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"firstname": first, "lastname": last, "email": email, **extra}


def xt_person(first: str, last: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"vorname": first, "nachname": last, "email": email, **extra}


# -- contacts ↔ addresses -------------------------------------------------------------------------------
async def test_only_group_members_sync_and_hubspot_contacts_join_the_group_with_a_new_id(w: World) -> None:
    ann = w.xt.user_create_address(xt_person("Ann", "Lee", "ann@x.com"), ["Hubspot"])
    bob = w.xt.user_create_address(xt_person("Bob", "Ray", "bob@x.com"))  # not in the group
    cy = w.hs.user_create("contacts", hs_person("Cy", "Do", "cy@x.com"))["id"]
    w.sync("contacts", "contacts", "adressen", inclusion=GROUP)
    res = await w.run("contacts")
    assert res.counters.created == {"left": 1, "right": 1}
    assert set(w.hs_contacts()) == {"ann@x.com", "cy@x.com"}
    assert w.link("contacts", R, bob).reason == "not_in_list"
    # the HubSpot contact became a new address of its own, in the group
    cy_addr = w.xt_addresses()["cy@x.com"]
    assert cy_addr["id"] not in (ann, bob, cy) and cy_addr["name"] == "Cy Do"
    assert [g["name"] for g in cy_addr["gruppen"]] == ["Hubspot"]
    assert sorted(w.xt.members("Hubspot")) == sorted([ann, cy_addr["id"]])
    again = await w.run("contacts")
    assert again.counters.created == {"left": 0, "right": 0} and again.counters.updated == {"left": 0, "right": 0}

    # joining the group starts syncing on the next pass; leaving it stops further updates
    w.xt.add_to_group(bob, "Hubspot")
    w.xt.remove_from_group(ann, "Hubspot")
    w.xt.user_update_address(ann, {"telefon": "030 1234"})
    res = await w.run("contacts")
    assert "bob@x.com" in w.hs_contacts() and res.counters.created["left"] == 1
    assert w.hs_contacts()["ann@x.com"].get("phone") in (None, "")
    assert w.link("contacts", R, ann).reason == "not_in_list"
    assert w.store.reason_counts("contacts") == {"excluded/not_in_list": 1}


async def test_contacts_from_hubspot_never_overwrite_existing_xentral_data(w: World) -> None:
    ann = w.xt.user_create_address(xt_person("Ann", "Lee", "ann@x.com", telefon="030 111"), ["Hubspot"])
    hs_ann = w.hs.user_create("contacts", hs_person("Annie", "Lee", "ann@x.com", phone="+1 555 0100",
                                                     city="Berlin"))["id"]
    w.sync("contacts", "contacts", "adressen", inclusion=GROUP)
    res = await w.run("contacts")
    assert res.counters.linked == 1 and res.counters.created == {"left": 0, "right": 0}
    addr = w.xt.address(ann)
    assert addr is not None
    assert (addr["vorname"], addr["telefon"], addr["ort"]) == ("Ann", "030 111", "Berlin")  # kept; blank filled
    assert w.hs_contacts()["ann@x.com"]["firstname"] == "Annie"  # the winner (HubSpot) keeps its own value

    # HubSpot edits never overwrite the address, not even its email …
    w.hs.user_update("contacts", hs_ann, {"phone": "+1 555 0199", "email": "ann.lee@new.com"})
    await w.run("contacts")
    addr = w.xt.address(ann)
    assert addr is not None and (addr["telefon"], addr["email"]) == ("030 111", "ann@x.com")
    # … while edits made in xentral still reach HubSpot
    w.xt.user_update_address(ann, {"telefon": "030 222"})
    await w.run("contacts")
    assert w.hs_contacts()["ann.lee@new.com"]["phone"] == "030 222"
    assert w.store.counts("contacts") == {"syncing": 1}
    assert len(w.xt.addresses()) == 1


async def test_contact_sync_start_time(w: World) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    old_ms = int((start - timedelta(days=60)).timestamp() * 1000)
    w.hs.store.create("contacts", hs_person("Old", "Timer", "old@x.com"), w.hs.user_source, at=old_ms)
    w.hs.user_create("contacts", hs_person("New", "Comer", "new@x.com"))
    w.xt.user_create_address(xt_person("Xen", "Tral", "xen@x.com"), ["Hubspot"])
    w.sync("contacts", "contacts", "adressen", inclusion=GROUP, created_after=start.isoformat())
    res = await w.run("contacts")
    assert set(w.xt_addresses()) == {"new@x.com", "xen@x.com"}
    assert "xen@x.com" in w.hs_contacts()  # addresses have no creation time: the start time is HubSpot's
    assert res.counters.excluded == {"filtered": 1}
    link = next(iter(w.store.links_by_record("contacts", L, [r["id"] for r in w.hs.records("contacts")
                                                              if r["properties"]["email"] == "old@x.com"]).values()))
    assert link.reason == "filtered" and "created before" in (link.message or "")


async def test_lead_status_filter_and_the_status_free_field(w: World) -> None:
    w.hs.user_create("contacts", hs_person("Nu", "New", "nu@x.com", hs_lead_status="NEW"))
    op = w.hs.user_create("contacts", hs_person("Op", "Open", "op@x.com", hs_lead_status="OPEN"))["id"]
    w.sync("contacts", "contacts", "adressen", inclusion=GROUP,
           filters={"left": [{"field": "hs_lead_status", "op": "in", "value": ["OPEN", "IN_PROGRESS"]}]})
    res = await w.run("contacts")
    assert set(w.xt_addresses()) == {"op@x.com"} and res.counters.excluded == {"filtered": 1}
    addr = w.xt_addresses()["op@x.com"]
    assert addr["freifeld1"] == "OPEN"  # the HubSpot status, in the free field labelled "Hubspot Status"
    # the status follows HubSpot's changes and a xentral user's (it is not a guarded field)
    w.hs.user_update("contacts", op, {"hs_lead_status": "IN_PROGRESS"})
    await w.run("contacts")
    assert w.xt_addresses()["op@x.com"]["freifeld1"] == "IN_PROGRESS"
    w.xt.user_update_address(addr["id"], {"freifeld1": "CONNECTED"})
    await w.run("contacts")
    assert w.hs_contacts()["op@x.com"]["hs_lead_status"] == "CONNECTED"


async def test_an_address_deleted_in_xentral_is_found_by_a_full_pass(w: World) -> None:
    ann = w.xt.user_create_address(xt_person("Ann", "Lee", "ann@x.com"), ["Hubspot"])
    w.sync("contacts", "contacts", "adressen", inclusion=GROUP)
    await w.run("contacts")
    w.xt.user_delete_address(ann)
    await w.run("contacts", full=True)
    link = w.link("contacts", R, ann)
    assert link.status == "failing" and link.category == "deleted"  # deletes: mark (two-way default)
    assert "ann@x.com" in w.hs_contacts()


# -- deals ↔ resubmissions -------------------------------------------------------------------------------
def _deal(name: str, amount: int, stage: str, pipeline: str = "default", **extra: Any) -> dict[str, Any]:
    return {"dealname": name, "amount": str(amount), "pipeline": pipeline, "dealstage": stage, **extra}


async def test_stages_are_mapped_automatically_one_to_one(w: World) -> None:
    w.hs.user_create("deals", _deal("Qualified deal", 1000, "qualifiedtobuy"))
    renewal = w.hs.user_create("deals", _deal("Renewal deal", 300, "renewal_open", pipeline="renewals"))["id"]
    w.xt.user_create_resubmission({"bezeichnung": "Xentral deal", "betrag": 700,
                                   "stages": w.xt.stage_id("Hubspot", "Contract Sent")})
    w.sync("deals", "deals", "wiedervorlagen", stages="auto")
    res = await w.run("deals")
    assert res.counters.created == {"left": 1, "right": 1}
    assert w.xt_deals()["Qualified deal"]["stages"] == w.xt.stage_id("Hubspot", "Qualified To Buy")
    assert w.hs_deals()["Xentral deal"]["properties"]["dealstage"] == "contractsent"
    # a stage the board does not have is not mapped: that deal stays in HubSpot only
    assert w.link("deals", L, renewal).reason == "unmapped_stage" and "Renewal deal" not in w.xt_deals()


async def test_automatic_mode_adds_the_hubspot_stages_the_board_lacks(w: World) -> None:
    # Seed 003, "Automatisch: Stages/Hubspot Deals werden 1:1 in xentral übernommen": the stages of
    # HubSpot's (first) pipeline that the board lacks are added to it, and their deals created.
    await w.xt_conn.aclose()
    _, (first, won, own) = w.xt.create_board("Vertrieb", ["Appointment Scheduled", "closed won", "Nachfassen"])
    w.xt_conn = w.xentral(board="Vertrieb")
    w.hs.user_create("deals", _deal("Qualified deal", 1000, "qualifiedtobuy"))
    w.hs.user_create("deals", _deal("Won deal", 2000, "closedwon"))
    renewal = w.hs.user_create("deals", _deal("Renewal deal", 300, "renewal_open", pipeline="renewals"))["id"]
    xt_deal = w.xt.user_create_resubmission({"bezeichnung": "Xentral deal", "betrag": 700, "stages": first})
    parked = w.xt.user_create_resubmission({"bezeichnung": "Parked deal", "betrag": 50, "stages": own})
    runner = w.sync("deals", "deals", "wiedervorlagen", stages="auto")

    # a check writes nothing: it only says which stages a pass would add
    await runner.prepare(write=False)
    copy = runner.stage_copy
    assert copy is not None and not copy.created and (copy.app, copy.pipeline, copy.source) == (
        "xentral", "Vertrieb", "Sales Pipeline")
    missing = ("Qualified To Buy", "Presentation Scheduled", "Decision Maker Bought-In", "Contract Sent", "Closed Lost")
    assert copy.labels == missing
    assert [s["name"] for s in w.xt.board_stages("Vertrieb")] == ["Appointment Scheduled", "closed won", "Nachfassen"]

    runner.spec = None  # the pass compiles the sync again, and adds the stages first
    res = await w.run("deals")
    assert runner.stage_copy is not None and runner.stage_copy.created
    stages = w.xt.board_stages("Vertrieb")
    # added after the board's own stages, named by HubSpot's labels (short name too); none removed
    assert [(s["name"], s["kurzbezeichnung"], s["sort"]) for s in stages[3:]] == [
        (label, label, str(4 + i)) for i, label in enumerate(missing)]
    assert [s["id"] for s in stages[:3]] == [first, won, own]
    assert res.counters.created == {"left": 1, "right": 2}
    assert w.xt_deals()["Qualified deal"]["stages"] == w.xt.stage_id("Vertrieb", "Qualified To Buy")
    assert w.xt_deals()["Won deal"]["stages"] == won  # matched by label, case aside: not added twice
    assert w.hs_deals()["Xentral deal"]["properties"]["dealstage"] == "appointmentscheduled"
    # only the first pipeline is copied (as the module does); a board-only stage stays unmapped
    assert w.link("deals", L, renewal).reason == "unmapped_stage" and "Renewal deal" not in w.xt_deals()
    assert w.link("deals", R, parked).reason == "unmapped_stage"

    # the next passes add nothing more; a resubmission moved to an added stage reaches HubSpot
    w.xt.user_update_resubmission(xt_deal, {"stages": w.xt.stage_id("Vertrieb", "Contract Sent")})
    runner.spec = None
    again = await w.run("deals")
    assert runner.stage_copy is None and len(w.xt.board_stages("Vertrieb")) == 8
    assert again.counters.created == {"left": 0, "right": 0}
    assert w.hs_deals()["Xentral deal"]["properties"]["dealstage"] == "contractsent"


async def test_stages_xentral_refuses_break_only_the_stage_copy(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    await w.xt_conn.aclose()
    w.xt.create_board("Vertrieb", ["Closed Won"])
    w.xt_conn = w.xentral(board="Vertrieb")

    async def refuse(object: str, pipeline: str, labels: Any) -> Any:
        raise ConnectorError("xentral POST wiedervorlagen/stages: HTTP 404 Route not found")

    monkeypatch.setattr(w.xt_conn, "ensure_stages", refuse)
    w.hs.user_create("deals", _deal("Won deal", 2000, "closedwon"))
    sent = w.hs.user_create("deals", _deal("Sent deal", 900, "contractsent"))["id"]
    w.sync("deals", "deals", "wiedervorlagen", stages="auto")
    res = await w.run("deals")
    assert res.broken == [".stages"] and res.counters.created == {"left": 0, "right": 1}
    assert set(w.xt_deals()) == {"Won deal"} and w.link("deals", L, sent).reason == "unmapped_stage"
    copy = w.runners["deals"].stage_copy
    assert copy is not None and not copy.created and "Route not found" in (copy.problem or "")


def test_check_and_plan_never_add_stages(tmp_path: Path, hs_server: tuple[HubSpotSandbox, ServerThread],
                                          xt_server: tuple[XentralSandbox, ServerThread]) -> None:
    from typer.testing import CliRunner

    from accord.cli import app as cli

    hs, hs_srv = hs_server
    xt, xt_srv = xt_server
    hs.reset()
    xt.reset()
    xt.create_board("Vertrieb", ["Closed Won"])
    hs.user_create("deals", _deal("Plan deal", 4200, "contractsent"))
    (tmp_path / "accord.yaml").write_text(f"""
state: sqlite:///{tmp_path}/accord.db
apps:
  hubspot: {{type: hubspot, token: pat-cli, base_url: "{hs_srv.url}", search_rate: 100}}
  xentral: {{type: xentral, base_url: "{xt_srv.url}", token: xt-cli, rate_limit: 6000, board: Vertrieb}}
syncs:
  - name: deals
    left: {{app: hubspot, object: deals}}
    right: {{app: xentral, object: wiedervorlagen}}
    stages: auto
""")
    cli_runner = CliRunner()
    checked = cli_runner.invoke(cli, ["check", "-c", str(tmp_path / "accord.yaml")], env={"COLUMNS": "300"})
    assert checked.exit_code == 0, checked.output
    assert ("deals: stages: auto would add (at the start of the next pass) 6 stages of Sales Pipeline to xentral "
            "Vertrieb: Appointment Scheduled, Qualified To Buy") in checked.output
    planned = cli_runner.invoke(cli, ["plan", "-c", str(tmp_path / "accord.yaml"), "--json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.output)[0]["created"] == {"left": 0, "right": 1}  # in a stage it would add
    assert [s["name"] for s in xt.board_stages("Vertrieb")] == ["Closed Won"] and xt.resubmissions() == []


async def test_stages_are_mapped_by_a_custom_table(w: World) -> None:
    await w.xt_conn.aclose()
    _, (first, offer, won, lost) = w.xt.create_board("Vertrieb", ["Erstkontakt", "Angebot", "Gewonnen", "Verloren"])
    w.xt_conn = w.xentral(board="Vertrieb")
    hs_deal = w.hs.user_create("deals", _deal("Website relaunch", 8000, "contractsent"))["id"]
    w.hs.user_create("deals", _deal("Unmapped stage", 10, "qualifiedtobuy"))
    xt_deal = w.xt.user_create_resubmission({"bezeichnung": "Wartungsvertrag", "betrag": 1200, "stages": first})
    w.sync("deals", "deals", "wiedervorlagen", stages={"Appointment Scheduled": "Erstkontakt",
                                                       "Contract Sent": "Angebot", "Closed Won": "Gewonnen",
                                                       "Closed Lost": "Verloren"})
    res = await w.run("deals")
    assert res.counters.created == {"left": 1, "right": 1} and res.counters.excluded == {"unmapped_stage": 1}
    assert w.xt_deals()["Website relaunch"]["stages"] == offer
    assert w.hs_deals()["Wartungsvertrag"]["properties"]["dealstage"] == "appointmentscheduled"
    w.xt.user_update_resubmission(xt_deal, {"stages": won})
    w.hs.user_update("deals", hs_deal, {"dealstage": "closedlost"})
    await w.run("deals")
    assert w.hs_deals()["Wartungsvertrag"]["properties"]["dealstage"] == "closedwon"
    assert w.xt_deals()["Website relaunch"]["stages"] == lost


async def test_deals_are_never_duplicated_and_only_amount_and_stage_are_updated(w: World) -> None:
    big = w.hs.user_create("deals", _deal("Big deal", 5000, "qualifiedtobuy", closedate="2025-03-01"))["id"]
    xt_deal = w.xt.user_create_resubmission({"bezeichnung": "Service contract", "betrag": 900,
                                             "stages": w.xt.stage_id("Hubspot", "Appointment Scheduled")})
    w.sync("deals", "deals", "wiedervorlagen", stages="auto")
    await w.run("deals")
    assert set(w.xt_deals()) == {"Big deal", "Service contract"} and len(w.hs.records("deals")) == 2
    big_xt = w.link("deals", L, big).right_id

    # amount and stage follow HubSpot; the resubmission's own title and close date stay
    w.hs.user_update("deals", big, {"amount": "6500", "dealstage": "presentationscheduled",
                                    "dealname": "Big deal (renamed)", "closedate": "2025-09-30"})
    res = await w.run("deals")
    row = w.xt.resubmission(big_xt)
    assert row is not None
    assert (row["betrag"], row["stages"]) == ("6500.00", w.xt.stage_id("Hubspot", "Presentation Scheduled"))
    assert (row["bezeichnung"], row["datum_abschluss"]) == ("Big deal", "2025-03-01")
    assert res.counters.created == {"left": 0, "right": 0}

    # a xentral edit of the amount reaches HubSpot
    w.xt.user_update_resubmission(xt_deal, {"betrag": 1100})
    await w.run("deals")
    assert w.hs_deals()["Service contract"]["properties"]["amount"] == "1100"

    for full in (False, True, False, True):
        again = await w.run("deals", full=full)
        assert again.counters.created == {"left": 0, "right": 0}
    assert len(w.hs.records("deals")) == 2 and len(w.xt.resubmissions()) == 2
    assert w.store.counts("deals") == {"syncing": 2}


async def test_unchanged_resubmissions_cost_no_writes_and_no_reads_of_hubspot(w: World) -> None:
    for i in range(6):
        w.xt.user_create_resubmission({"bezeichnung": f"Deal {i}", "betrag": 100 * i,
                                       "stages": w.xt.stage_id("Hubspot", "Closed Won")})
    w.sync("deals", "deals", "wiedervorlagen", stages="auto")
    await w.run("deals")
    before = dict(w.hs_conn.calls)
    res = await w.run("deals")
    # every resubmission is read again (no change timestamp) and found equal to its base
    assert res.kind == "incremental" and res.counters.read["right"] == 6 and res.counters.unchanged >= 6
    assert res.counters.updated == {"left": 0, "right": 0}
    spent = {k: v - before.get(k, 0) for k, v in w.hs_conn.calls.items() if v != before.get(k, 0)}
    assert set(spent) <= {"search", "list"}, spent  # HubSpot's own change feed only: no reads by id, no writes


# -- the command line --------------------------------------------------------------------------------------
def test_accord_check_and_sync_from_the_command_line(tmp_path: Path, hs_server: tuple[HubSpotSandbox, ServerThread],
                                                     xt_server: tuple[XentralSandbox, ServerThread]) -> None:
    hs, hs_srv = hs_server
    xt, xt_srv = xt_server
    hs.reset()
    xt.reset()
    install(xt.store)
    xt.user_create_address(xt_person("Ann", "Lee", "ann@x.com"), ["Hubspot"])
    hs.user_create("contacts", hs_person("Cy", "Do", "cy@x.com", hs_lead_status="OPEN"))
    hs.user_create("deals", _deal("CLI deal", 4200, "closedwon"))
    (tmp_path / "accord.yaml").write_text(f"""
state: sqlite:///{tmp_path}/accord.db
apps:
  hubspot: {{type: hubspot, token: pat-cli, base_url: "{hs_srv.url}", search_rate: 100}}
  xentral: {{type: xentral, base_url: "{xt_srv.url}", token: xt-cli, rate_limit: 6000}}
syncs:
  - name: contacts
    left: {{app: hubspot, object: contacts}}
    right: {{app: xentral, object: adressen}}
    inclusion: {{side: right, list: Hubspot}}
  - name: deals
    left: {{app: hubspot, object: deals}}
    right: {{app: xentral, object: wiedervorlagen}}
    stages: auto
""")
    env = {**os.environ, "COLUMNS": "200"}
    run = [sys.executable, "-m", "accord.cli"]
    r = subprocess.run([*run, "check", "-c", "accord.yaml"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([*run, "sync", "-c", "accord.yaml", "--json"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    results = {x["sync"]: x for x in json.loads(r.stdout)}
    assert results["contacts"]["created"] == {"left": 1, "right": 1}
    assert results["deals"]["created"] == {"left": 0, "right": 1}
    assert {a["email"] for a in xt.addresses()} == {"ann@x.com", "cy@x.com"}
    assert next(a for a in xt.addresses() if a["email"] == "cy@x.com")["freifeld1"] == "OPEN"
    assert [d["bezeichnung"] for d in xt.resubmissions()] == ["CLI deal"]
