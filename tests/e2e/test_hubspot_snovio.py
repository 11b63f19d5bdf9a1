"""The Snov.io × HubSpot seed behaviours (seed 000), through the engine and the CLI, against both sandboxes.

Real passes of :class:`SyncRunner` (and of ``accord sync``) with the real connectors over
loopback HTTP, an SQLite index, and edits made as users in either app. HubSpot contacts are
the left side, the prospects of the Snov.io list "Sync" the right side.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from accord import catalog
from accord.cli import app as cli
from accord.config import ConfigError, config_hash, parse_config
from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow
from accord.connectors.snovio import SnovioConnector
from accord.index import Store
from accord.model import Side
from accord.runner import PassResult, SyncRunner
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.sandbox.snovio import SnovioSandbox

L, R = Side.LEFT, Side.RIGHT
LIST = "Sync"


@pytest.fixture(scope="module")
def hs_server() -> Iterator[tuple[HubSpotSandbox, str]]:
    sb = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv.url
    sb.close()


@pytest.fixture(scope="module")
def sn_server() -> Iterator[tuple[SnovioSandbox, str]]:
    sb = SnovioSandbox(rate_limit=100_000, rate_window=1.0)
    with ServerThread(sb.app) as srv:
        yield sb, srv.url


def _apps(hs_url: str, sn_url: str) -> dict[str, Any]:
    return {"hubspot": {"type": "hubspot", "token": "pat-e2e", "base_url": hs_url, "rate_limit": 10_000,
                        "search_rate": 1000},
            "snovio": {"type": "snovio", "client_id": "cid", "client_secret": "secret", "base_url": sn_url,
                       "list": LIST, "rate_limit": 100_000, "rate_window": "1s"}}


def _sync(**extra: Any) -> dict[str, Any]:
    return {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
            "right": {"app": "snovio", "object": "prospects"}, **extra}


class World:
    """Both sandboxes (reset), their connectors and one index; ``runner(...)`` compiles the sync afresh."""

    def __init__(self, hs: HubSpotSandbox, hs_url: str, sn: SnovioSandbox, sn_url: str) -> None:
        self.hs, self.sn, self.hs_url, self.sn_url = hs, sn, hs_url, sn_url
        self.hs_conn = HubSpotConnector("hubspot", token="pat-e2e", base_url=hs_url, timeout=5, backoff=0.01,
                                        limits=Limits(RollingWindow(10_000, 10.0), RollingWindow(1000, 1.0)))
        self.sn_conn = self.snovio()
        self.store = Store("sqlite://")

    def snovio(self, window: RollingWindow | None = None) -> SnovioConnector:
        return SnovioConnector("snovio", client_id="cid", client_secret="secret", list_name=LIST,
                               base_url=self.sn_url, window=window or RollingWindow(100_000, 1.0), backoff=0.01,
                               timeout=5)

    def runner(self, **extra: Any) -> SyncRunner:
        cfg = parse_config({"apps": _apps(self.hs_url, self.sn_url), "syncs": [_sync(**extra)]}, env={})
        return SyncRunner(cfg.syncs[0], self.store, self.hs_conn, self.sn_conn, path="syncs[0]")

    async def run(self, **extra: Any) -> PassResult:
        """One pass with a freshly compiled sync, as each ``accord sync`` does."""
        return await self.runner(**extra).run()

    def link(self, side: Side, rid: str) -> Any:
        return self.store.links_by_record("contacts", side, [rid]).get(rid)

    def hs_by_email(self) -> dict[str, dict[str, Any]]:
        return {str(r["properties"].get("email")): r["properties"] for r in self.hs.records("contacts")}

    def in_list(self) -> dict[str, dict[str, Any]]:
        return self.sn.by_email(self.sn.list_id(LIST))


@pytest.fixture()
async def w(hs_server: tuple[HubSpotSandbox, str], sn_server: tuple[SnovioSandbox, str]) -> AsyncIterator[World]:
    hs, hs_url = hs_server
    sn, sn_url = sn_server
    hs.reset()
    sn.reset()
    sn.clear_faults()
    sn.settings.rate_limit, sn.settings.rate_window = 100_000, 1.0
    world = World(hs, hs_url, sn, sn_url)
    yield world
    await world.hs_conn.aclose()
    await world.sn_conn.aclose()
    world.store.close()


def _contact(first: str, last: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"firstname": first, "lastname": last, "email": email, **extra}


LEAD_STATUS = {"to_left": {"hs_lead_status": "NEW"}}  # the status contacts get when they come from Snov.io


async def test_default_mappings_are_the_seed_table_and_the_asterisked_ones_are_locked(w: World) -> None:
    defaults = catalog.default_mappings("hubspot", "contacts", "snovio", "prospects")
    assert [(d.left, d.right, d.required) for d in defaults] == [
        ("firstname", "firstName", True), ("lastname", "lastName", True), ("email", "email", True),
        ("phone", "phones", False), ("country", "country", False), ("industry", "industry", False)]
    with pytest.raises(ConfigError, match="required mapping and cannot be changed"):
        parse_config({"apps": _apps(w.hs_url, w.sn_url),
                      "syncs": [_sync(mappings=[{"left": "firstname", "right": "position"}])]}, env={})
    with pytest.raises(ConfigError, match="cannot be turned off"):
        parse_config({"apps": _apps(w.hs_url, w.sn_url),
                      "syncs": [_sync(mappings=[{"left": "email", "right": "email", "rule": "none"}])]}, env={})
    # the optional defaults can be replaced or turned off
    spec = await w.runner(mappings=[{"left": "phone", "right": "phones", "rule": "none"},
                                    {"left": "jobtitle", "right": "position"}]).prepare()
    assert {(m.left, m.right, m.required) for m in spec.mappings} == {
        ("firstname", "firstName", True), ("lastname", "lastName", True), ("email", "email", True),
        ("country", "country", False), ("industry", "industry", False), ("jobtitle", "position", False)}
    assert all(m.to_left and m.to_right for m in spec.mappings)


async def test_initial_sync_fills_the_chosen_list_and_gives_contacts_from_snovio_their_lead_status(w: World) -> None:
    w.sn.add_field("Source")
    lid, cold = w.sn.create_list(LIST), w.sn.create_list("Cold leads")
    w.sn.user_add(lid, emails=["pia@x.com", "pia.private@y.com"], phones=["+49 30 111", "+49 170 222"],
                  firstName="Pia", lastName="Prospect", country="Germany", industry="Retail")
    w.sn.user_add(lid, emails=["Both@X.com"], firstName="Bo", lastName="Th", country="Austria")
    w.sn.user_add(cold, emails=["cold@x.com"], firstName="Cold", lastName="Lead")
    w.hs.user_create("contacts", _contact("Hugo", "Hub", "hugo@x.com", phone="+1 555 0100", country="France",
                                          industry="Software", hs_lead_status="IN_PROGRESS"))
    w.hs.user_create("contacts", _contact("Bo", "Th", "both@x.com", industry="Finance"))

    res = await w.run(constants={**LEAD_STATUS, "to_right": {"Source": "from HubSpot"}})
    assert res.counters.created == {"left": 1, "right": 1} and res.counters.linked == 1

    hugo = w.in_list()["hugo@x.com"]  # HubSpot contacts land in the chosen list
    assert (hugo["firstName"], hugo["lastName"], hugo["phones"], hugo["country"], hugo["industry"]) == (
        "Hugo", "Hub", ["+1 555 0100"], "France", "Software")
    assert hugo["customFields"]["Source"] == "from HubSpot"  # constant field, HubSpot → Snov.io
    hs = w.hs_by_email()
    pia = hs["pia@x.com"]  # only the primary email, and the first phone
    assert (pia["firstname"], pia["phone"], pia["country"], pia["industry"]) == ("Pia", "+49 30 111", "Germany",
                                                                                 "Retail")
    assert pia["hs_lead_status"] == "NEW"  # constant field, Snov.io → HubSpot: the chosen lead status
    assert "pia.private@y.com" not in hs and "cold@x.com" not in hs  # other lists are not synced
    assert hs["hugo@x.com"]["hs_lead_status"] == "IN_PROGRESS"  # not created from Snov.io: untouched
    both = hs["both@x.com"]  # matched by email (case-insensitive): combined, no duplicate
    assert (both["country"], both["industry"]) == ("Austria", "Finance")
    assert w.in_list()["both@x.com"]["industry"] == "Finance"
    assert len(w.sn.prospects()) == 4 and len(hs) == 3

    again = await w.run(constants={**LEAD_STATUS, "to_right": {"Source": "from HubSpot"}})
    assert again.counters.created == {"left": 0, "right": 0} and again.counters.updated == {"left": 0, "right": 0}
    assert w.store.counts("contacts") == {"syncing": 3}


async def test_changes_flow_both_ways_without_echoes_and_deletes_are_found(w: World) -> None:
    lid = w.sn.create_list(LIST)
    pia = w.sn.user_add(lid, emails=["pia@x.com"], phones=["+49 30 111", "+49 170 222"], firstName="Pia",
                        lastName="Prospect")
    gone = w.sn.user_add(lid, emails=["gone@x.com"], firstName="Gone", lastName="Soon")
    hugo = w.hs.user_create("contacts", _contact("Hugo", "Hub", "hugo@x.com", phone="+1 555 0100"))["id"]
    await w.run(constants=LEAD_STATUS, deletes="mark")

    w.sn.user_update(pia, country="Spain")
    w.hs.user_update("contacts", hugo, {"phone": "+1 555 0199", "industry": "Banking"})
    w.hs.user_create("contacts", _contact("New", "Contact", "new@x.com"))
    w.sn.user_add(lid, emails=["newbie@x.com"], firstName="New", lastName="Prospect")
    w.sn.remove_from_list(gone, lid)  # taken out of the synced list: gone from the sync
    res = await w.run(constants=LEAD_STATUS, deletes="mark")
    assert res.kind == "incremental"
    assert res.counters.created == {"left": 1, "right": 1}
    hs = w.hs_by_email()
    assert hs["pia@x.com"]["country"] == "Spain" and hs["newbie@x.com"]["hs_lead_status"] == "NEW"
    sn = w.in_list()
    assert (sn["hugo@x.com"]["phones"], sn["hugo@x.com"]["industry"]) == (["+1 555 0199"], "Banking")
    assert sn["new@x.com"]["firstName"] == "New"
    assert w.sn.by_email()["pia@x.com"]["phones"] == ["+49 30 111", "+49 170 222"]
    link = w.link(R, gone)
    # an explicit `deletes: mark` still wins over the Snov.io default: marked, not propagated
    assert (link.status, link.category) == ("failing", "deleted")
    assert hs["gone@x.com"]["firstname"] == "Gone"

    quiet = await w.run(constants=LEAD_STATUS, deletes="mark")  # our own writes come back from both apps: no ping-pong
    assert quiet.counters.updated == {"left": 0, "right": 0} and quiet.counters.created == {"left": 0, "right": 0}


async def test_deletes_sync_both_ways_by_default(w: World) -> None:
    # Seed 000: "each time you add, update or delete a prospect in one app, the changes are made in
    # the other app": a two-way sync with a Snov.io side propagates deletes unless told otherwise.
    lid = w.sn.create_list(LIST)
    pia = w.sn.user_add(lid, emails=["pia@x.com"], firstName="Pia", lastName="Prospect")
    w.sn.user_add(lid, emails=["stay@x.com"], firstName="Stay", lastName="Here")
    hugo = w.hs.user_create("contacts", _contact("Hugo", "Hub", "hugo@x.com"))["id"]
    assert (await w.runner().prepare()).deletes == "propagate"
    await w.run()
    assert set(w.in_list()) == {"pia@x.com", "stay@x.com", "hugo@x.com"} and len(w.hs_by_email()) == 3
    hs_pia = w.link(R, pia).left_id
    hugo_prospect = w.link(L, hugo).right_id

    w.sn.user_delete(pia)  # deleted in Snov.io: archived in HubSpot
    w.hs.user_delete("contacts", hugo)  # deleted in HubSpot: taken out of the list (and so deleted)
    res = await w.run()
    assert res.kind == "incremental" and res.counters.archived == {"left": 1, "right": 1}
    assert set(w.hs_by_email()) == {"stay@x.com"} and set(w.in_list()) == {"stay@x.com"}
    assert hs_pia in {r["id"] for r in w.hs.records("contacts", archived=True)}
    assert "hugo@x.com" not in w.sn.by_email() and hugo_prospect is not None
    for rid, side in ((pia, R), (hugo, L)):
        link = w.link(side, rid)
        assert (link.status, link.reason) == ("excluded", "deleted")
    quiet = await w.run()
    assert quiet.counters.archived == {"left": 0, "right": 0} and quiet.counters.created == {"left": 0, "right": 0}


async def test_a_deleted_custom_field_stops_its_mapping_only(w: World) -> None:
    w.sn.add_field("Job title")
    lid = w.sn.create_list(LIST)
    hugo = w.hs.user_create("contacts", _contact("Hugo", "Hub", "hugo@x.com", jobtitle="CTO"))["id"]
    pia = w.sn.user_add(lid, emails=["pia@x.com"], firstName="Pia", lastName="P", custom={"Job title": "CEO"})
    mapping = {"mappings": [{"left": "jobtitle", "right": "Job title"}]}
    await w.run(**mapping)
    assert w.in_list()["hugo@x.com"]["customFields"]["Job title"] == "CTO"
    assert w.hs_by_email()["pia@x.com"]["jobtitle"] == "CEO"
    stale = w.runner(**mapping)
    await stale.prepare()  # a long-running service compiled the sync before the field went away

    w.sn.delete_field("Job title")
    w.hs.user_update("contacts", hugo, {"firstname": "Hugh", "jobtitle": "CIO"})
    w.sn.user_update(pia, lastName="Prospect")
    res = await stale.run()
    assert w.in_list()["hugo@x.com"]["firstName"] == "Hugh"  # the other mappings keep syncing, both ways
    assert w.hs_by_email()["pia@x.com"]["lastname"] == "Prospect"
    assert w.hs_by_email()["pia@x.com"]["jobtitle"] == "CEO"  # never wiped by the vanished field
    link = w.link(L, hugo)
    assert link.status == "failing" and "Job title" in link.message and "replace it" in link.hint
    assert res.counters.failed["right"] >= 1  # and retried, within the engine's bounded retries

    fresh = await w.run(**mapping)  # the next compile (restart, `accord sync`) sees the field gone
    assert fresh.broken == ["syncs[0].mappings[0].right"]
    assert w.link(L, hugo).status == "syncing"  # retried without the broken mapping
    w.hs.user_update("contacts", hugo, {"lastname": "Hubbard", "jobtitle": "CFO"})
    again = await w.run(**mapping)
    assert again.broken and w.in_list()["hugo@x.com"]["lastName"] == "Hubbard"
    assert w.hs_by_email()["hugo@x.com"]["jobtitle"] == "CFO" and w.link(L, hugo).status == "syncing"


async def test_a_pass_survives_the_snovio_rate_limit(w: World) -> None:
    w.sn.settings.rate_limit, w.sn.settings.rate_window = 10, 1.0
    w.sn_conn = w.snovio(RollingWindow(1000, 1.0))  # shares the account with a tool that spends its minute
    for i in range(25):
        w.hs.user_create("contacts", _contact(f"C{i}", "Rate", f"c{i}@x.com"))
    res = await w.run()
    assert res.counters.created["right"] == 25 and len(w.in_list()) == 25
    assert w.sn.counters["rate_limited"] > 0


def test_manual_sync_of_existing_data_one_way_in_the_background(
        tmp_path: Path, hs_server: tuple[HubSpotSandbox, str], sn_server: tuple[SnovioSandbox, str]) -> None:
    hs, hs_url = hs_server
    sn, sn_url = sn_server
    hs.reset()
    sn.reset()
    sn.settings.rate_limit, sn.settings.rate_window = 100_000, 1.0
    lid = sn.create_list(LIST)
    for i in range(3):
        sn.user_add(lid, emails=[f"old.prospect{i}@x.com"], firstName=f"P{i}", lastName="Old")
    # existing HubSpot data, last edited hours ago; HubSpot's change cursor starts at its newest
    # record (Oscar), which the first regular pass reads again: Olga stands for the rest
    old_contact = hs.user_create("contacts", _contact("Olga", "Old", "olga@x.com"))["id"]
    newest = hs.user_create("contacts", _contact("Oscar", "Old", "oscar@x.com"))["id"]
    now_ms = int(time.time() * 1000)
    hs.touch("contacts", [old_contact], now_ms - 7_200_000)
    hs.touch("contacts", [newest], now_ms - 3_600_000)
    cfg_path = tmp_path / "accord.yaml"
    cfg_path.write_text(yaml.safe_dump({"state": f"sqlite:///{tmp_path}/accord.db", "apps": _apps(hs_url, sn_url),
                                        "syncs": [_sync(constants=LEAD_STATUS)]}))
    runner = CliRunner()

    checked = runner.invoke(cli, ["check", "-c", str(cfg_path)])
    assert checked.exit_code == 0 and "contacts: ok (6 field mappings, two-way)" in checked.output, checked.output
    assert "hubspot: signs in to HubSpot account 12345678" in checked.output  # "is this the right token?"
    wrong = runner.invoke(cli, ["sync", "-c", str(cfg_path), "--direction", "sideways"])
    assert wrong.exit_code == 2
    log = tmp_path / "manual.log"
    started = runner.invoke(cli, ["sync", "-c", str(cfg_path), "--sync", "contacts", "--direction", "right-to-left",
                                  "--background", "--log", str(log)])
    assert started.exit_code == 0, started.output
    pid = int(re.search(r"pid (\d+)", started.output).group(1))  # type: ignore[union-attr]
    _, status = os.waitpid(pid, 0)  # the detached pass finishes on its own
    assert os.waitstatus_to_exitcode(status) == 0, log.read_text()
    summary = json.loads(log.read_text()[log.read_text().index("["):])
    assert summary[0]["kind"] == "manual right-to-left" and summary[0]["created"] == {"left": 3, "right": 0}

    contacts = {r["properties"]["email"]: r["properties"] for r in hs.records("contacts")}
    assert {f"old.prospect{i}@x.com" for i in range(3)} <= set(contacts)
    assert contacts["old.prospect0@x.com"]["hs_lead_status"] == "NEW"
    assert not {"olga@x.com", "oscar@x.com"} & set(sn.by_email())  # existing HubSpot data was not copied

    cfg = parse_config(yaml.safe_load(cfg_path.read_text()), env={})
    store = Store(cfg.state)
    state = store.sync_state("contacts")
    assert state is not None and state.initial_done and state.config_hash == config_hash(cfg.syncs[0])
    store.close()

    # from now on the sync is two-way, for new and changed records
    hs.user_create("contacts", _contact("Nina", "New", "nina@x.com"))
    sn.user_update(sn.by_email()["old.prospect1@x.com"]["id"], country="Italy")
    after = runner.invoke(cli, ["sync", "-c", str(cfg_path), "--json"])
    assert after.exit_code == 0, after.output
    assert json.loads(after.output)[0]["kind"] == "incremental"
    assert "nina@x.com" in sn.by_email() and "olga@x.com" not in sn.by_email()
    assert {r["properties"]["email"]: r["properties"] for r in hs.records("contacts")}[
        "old.prospect1@x.com"]["country"] == "Italy"
    hs.user_update("contacts", old_contact, {"jobtitle": "Owner"})  # a pre-existing record starts syncing once changed
    assert runner.invoke(cli, ["sync", "-c", str(cfg_path)]).exit_code == 0
    assert sn.by_email()["olga@x.com"]["firstName"] == "Olga"

    one_way = tmp_path / "one-way.yaml"
    one_way.write_text(yaml.safe_dump({"state": f"sqlite:///{tmp_path}/b.db", "apps": _apps(hs_url, sn_url),
                                       "syncs": [_sync(direction="right-to-left")]}))
    refused = runner.invoke(cli, ["sync", "-c", str(one_way), "--direction", "left-to-right"])
    assert refused.exit_code == 2 and "cannot copy left-to-right" in refused.output
