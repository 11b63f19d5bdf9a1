"""Manual sync from the command line (issue #19, seed 001: "contact lists and individual contacts,
companies and deals can be synced manually"): one record, indexed or created after the last
pass, and every member of a list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_cli import accord

from accord.connectors.memory import MemoryApp
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread
from helpers import person


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    a = MemoryApp("a", path=str(tmp_path / "a.json"))
    b = MemoryApp("b", path=str(tmp_path / "b.json"))
    a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a.save()
    b.save()
    (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/accord.db",
        "apps": {"a": {"type": "memory", "path": f"{tmp_path}/a.json"}, "b": {"type": "memory", "path": f"{tmp_path}/b.json"}},
        "syncs": [{"name": "contacts", "left": {"app": "a", "object": "contacts"},
                   "right": {"app": "b", "object": "contacts"}}]}))
    assert accord("sync", "-c", "accord.yaml", cwd=tmp_path).returncode == 0
    return tmp_path


def _emails(path: Path) -> set[str]:
    app = MemoryApp("x", path=str(path))
    return {str(r["p"].get("email")) for r in app.objects["contacts"].records.values() if not r["archived"]}


def test_a_record_created_after_the_last_pass_syncs_by_its_id(apps: Path) -> None:
    a = MemoryApp("a", path=str(apps / "a.json"))
    new = a.user_create("contacts", person("Neu", "Kunde", "neu@x.com"))
    a.save()
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", new, cwd=apps)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"] == {"left": 0, "right": 1}
    assert "neu@x.com" in _emails(apps / "b.json")
    # an indexed record still resyncs as before; its side is known from the index
    again = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", new, cwd=apps)
    assert again.returncode == 0 and json.loads(again.stdout)["kind"] == "records"


def test_an_id_in_neither_app_is_exit_2_naming_both(apps: Path) -> None:
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", "zz404", cwd=apps)
    assert r.returncode == 2
    assert r.stderr.strip() == "accord.yaml: contacts: no record 'zz404' in a (contacts) or b (contacts)"
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", "zz404", "--side", "up", cwd=apps)
    assert (r.returncode, r.stderr.strip()) == (2, "--side: use a or b (or left or right)")
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", cwd=apps)
    assert (r.returncode, r.stderr.strip()) == (2, "give one of --deleted-in a|b, --record ID or --list NAME")


def test_every_member_of_a_list_syncs(apps: Path) -> None:
    a = MemoryApp("a", path=str(apps / "a.json"))
    ids = [a.user_create("contacts", person(f"L{i}", "Member", f"l{i}@x.com")) for i in range(3)]
    a.user_create("contacts", person("Not", "Listed", "not@x.com"))
    a.lists["Trade fair"] = set(ids)
    a.save()
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--list", "Trade fair", cwd=apps)
    assert r.returncode == 0, r.stderr
    assert "contacts: 3 member(s) of the list 'Trade fair' synced" in r.stderr
    assert json.loads(r.stdout)["kind"] == "list"
    emails = _emails(apps / "b.json")
    assert {"l0@x.com", "l1@x.com", "l2@x.com"} <= emails and "not@x.com" not in emails
    # no list named and no inclusion list: say so
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--list", "", cwd=apps)
    assert (r.returncode, r.stderr.strip()) == (
        2, "accord.yaml: contacts: sync 'contacts' has no inclusion list; name the list to sync")


@pytest.fixture
def hubspot() -> Iterator[tuple[HubSpotSandbox, str]]:
    sb = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv.url
    sb.close()


def test_a_hubspot_contact_created_after_the_last_pass(tmp_path: Path, hubspot: tuple[HubSpotSandbox, str]) -> None:
    """The issue's case: `accord resync --record 102` on a contact HubSpot created after the last
    pass said "not in the index" (exit 2); now it syncs, and so does the sync's inclusion list."""
    hs, url = hubspot
    b = MemoryApp("b", path=str(tmp_path / "b.json"))
    b.save()
    hs.create_list("Newsletter")
    (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/accord.db",
        "apps": {"hubspot": {"type": "hubspot", "token": "t", "base_url": url},
                 "b": {"type": "memory", "path": f"{tmp_path}/b.json"}},
        "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                   "right": {"app": "b", "object": "contacts"},
                   "inclusion": {"side": "left", "list": "Newsletter"}}]}))
    assert accord("sync", "-c", "accord.yaml", cwd=tmp_path).returncode == 0
    new = str(hs.user_create("contacts", {"firstname": "Late", "lastname": "Comer", "email": "late@x.com"})["id"])
    hs.list_members("Newsletter", add=[new])
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", new, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"]["right"] == 1
    more = [str(hs.user_create("contacts", {"firstname": f"M{i}", "lastname": "X", "email": f"m{i}@x.com"})["id"])
            for i in range(2)]
    hs.list_members("Newsletter", add=more)
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--list", "Newsletter", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3 member(s) of the list 'Newsletter'" in r.stderr
    assert {"late@x.com", "m0@x.com", "m1@x.com"} <= _emails(tmp_path / "b.json")


@pytest.fixture
def salesforce() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox()
    sb.start()
    yield sb
    sb.stop()


def _activities_project(tmp_path: Path, hs_url: str, sf: SalesforceSandbox) -> None:
    assert sf.tls is not None
    (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/accord.db",
        "apps": {"hubspot": {"type": "hubspot", "token": "t", "base_url": hs_url},
                 "salesforce": {"type": "salesforce", "instance_url": sf.url, "access_token": "t",
                                "verify": sf.tls.cafile}},
        "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                   "right": {"app": "salesforce", "object": "Contact"}, "activities": ["calls", "notes"]}]}))


def test_a_failing_activity_is_retried_by_its_id(tmp_path: Path, hubspot: tuple[HubSpotSandbox, str],
                                                 salesforce: SalesforceSandbox) -> None:
    """An activity Salesforce refused is retried by `accord resync --record ID` (its HubSpot id,
    ``TYPE:ID``, or its Salesforce id once written) after the cause is fixed, whatever its attempts."""
    hs, url = hubspot
    rule = salesforce.add_validation_rule("Task", "Subject = 'Bad call'", "Calls need a proper subject",
                                          field="Subject")
    ann = str(hs.user_create("contacts", {"firstname": "Ann", "lastname": "Lee", "email": "ann@x.com"})["id"])
    call = str(hs.user_create("calls", {"hs_timestamp": "2026-03-02T10:00:00.000Z", "hs_call_title": "Bad call"})["id"])
    hs.associate("calls", call, "contacts", ann)
    _activities_project(tmp_path, url, salesforce)
    first = accord("sync", "-c", "accord.yaml", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    failing = accord("records", "-c", "accord.yaml", "--sync", "contacts", "--status", "failing", "--format", "json",
                     cwd=tmp_path)
    assert [r["left_id"] for r in json.loads(failing.stdout)] == [call]
    # still refused: one more attempt, nothing written
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", call, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert (res["kind"], res["activities"]["calls"]["failed"]) == ("records", 1)
    assert salesforce.records("Task") == []
    # the rule fixed in Salesforce (the call itself unchanged in HubSpot): the resync writes it
    salesforce.org.validation_rules.remove(rule)
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", f"calls:{call}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["activities"] == {"calls": {"read": 1, "created": 1, "updated": 0, "unchanged": 0,
                                                            "failed": 0, "waiting": 0, "excluded": 0}}
    [task] = salesforce.records("Task")
    assert task["Subject"] == "Bad call"
    status = accord("status", "-c", "accord.yaml", "--json", cwd=tmp_path)
    assert json.loads(status.stdout)[0]["counts"] == {"syncing": 2}, status.stdout
    # by its Salesforce Task id too, now that it has one: in step, nothing written
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", task["Id"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["activities"]["calls"]["unchanged"] == 1 and len(salesforce.records("Task")) == 1


def test_an_unknown_activity_id_is_exit_2_naming_it(tmp_path: Path, hubspot: tuple[HubSpotSandbox, str],
                                                     salesforce: SalesforceSandbox) -> None:
    _, url = hubspot
    _activities_project(tmp_path, url, salesforce)
    assert accord("sync", "-c", "accord.yaml", cwd=tmp_path).returncode == 0
    for record, said in (
            ("calls:987654", "no call '987654' in hubspot (calls)"),
            ("meetings:1", "meetings:1: sync 'contacts' copies no meetings from HubSpot (activities: calls, notes)"),
            ("987654", "no record '987654' in hubspot (contacts) or salesforce (Contact), nor a HubSpot activity "
                       "of the sync (calls, notes)")):
        r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--record", record, cwd=tmp_path)
        assert (r.returncode, r.stderr.strip()) == (2, f"accord.yaml: contacts: {said}"), r.stderr
