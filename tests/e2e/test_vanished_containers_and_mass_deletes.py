"""Data safety when an admin deletes a container or many records (issue #16, point 6), end to end.

HubSpot contacts are the left side; the right side is the prospects of the Snov.io list "Sync",
xentral addresses of the group "Hubspot", or a table of an SQLite database. Passes run through
:class:`SyncRunner` and through the ``accord`` command (each call a new process's worth of
connectors, so what is held must come from the index).

* a container gone (a Snov.io list, a xentral group, a HubSpot inclusion list, an SQL table)
  stops the pass before anything is written: nothing archived in HubSpot, no list created
  again, ``accord sync`` exits 2 naming the config key, with a hint;
* more deletes than the delete guard allows are held (exit 1) until ``--confirm-deletes``;
  fewer are carried out as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, create_engine, text
from typer.testing import CliRunner

from accord.cli import app as cli
from accord.config import load_config, parse_config
from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow
from accord.connectors.snovio import SnovioConnector
from accord.index import Store
from accord.model import ContainerMissing, Side
from accord.runner import SyncRunner
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.sandbox.snovio import SnovioSandbox
from accord.sandbox.xentral import SandboxSettings as XSettings
from accord.sandbox.xentral import XentralSandbox, install
from accord.session import Session

L, R = Side.LEFT, Side.RIGHT
LIST = "Sync"
N = 30  # prospects in the list: more than the guard's floor of 25


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


@pytest.fixture(scope="module")
def xt_server() -> Iterator[tuple[XentralSandbox, str]]:
    sb = XentralSandbox(XSettings(rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv.url


@pytest.fixture()
def hs(hs_server: tuple[HubSpotSandbox, str]) -> HubSpotSandbox:
    hs_server[0].reset()
    return hs_server[0]


@pytest.fixture()
def sn(sn_server: tuple[SnovioSandbox, str]) -> SnovioSandbox:
    sn_server[0].reset()
    sn_server[0].clear_faults()
    return sn_server[0]


def apps(hs_url: str, **more: Any) -> dict[str, Any]:
    return {"hubspot": {"type": "hubspot", "token": "pat-e2e", "base_url": hs_url, "rate_limit": 10_000,
                        "search_rate": 1000}, **more}


def snovio_app(url: str) -> dict[str, Any]:
    return {"type": "snovio", "client_id": "cid", "client_secret": "secret", "base_url": url, "list": LIST,
            "rate_limit": 100_000, "rate_window": "1s"}


def contacts_sync(right: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"}, "right": right, **extra}


class Cli:
    """``accord`` against an accord.yaml in ``tmp`` (each call opens the index and the apps afresh)."""

    def __init__(self, tmp: Path, apps: dict[str, Any], syncs: list[dict[str, Any]]) -> None:
        self.path = tmp / "accord.yaml"
        self.path.write_text(yaml.safe_dump({"state": f"sqlite:///{tmp}/index.db", "apps": apps, "syncs": syncs}))
        self.state = f"sqlite:///{tmp}/index.db"

    def __call__(self, *args: str) -> Any:
        return CliRunner().invoke(cli, [args[0], "-c", str(self.path), *args[1:]])

    def hold(self, sync: str = "contacts") -> dict[str, Any] | None:
        store = Store(self.state)
        try:
            return store.deletes_hold(sync)
        finally:
            store.close()


def _passes_going_on(run: Cli, caplog: pytest.LogCaptureFixture, says: str) -> Iterator[None]:
    """An incremental pass, then a full one: each goes on (exit 0) and logs ``says``."""
    for args in (("sync",), ("sync", "--full")):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="accord.runner"):
            res = run(*args)
        assert res.exit_code == 0, res.output
        assert says in caplog.text
        yield


def seed_snovio(hs: HubSpotSandbox, sn: SnovioSandbox) -> int:
    lid = sn.create_list(LIST)
    for i in range(N):
        sn.user_add(lid, emails=[f"p{i}@x.com"], firstName=f"P{i}", lastName="Prospect")
    hs.user_create("contacts", {"firstname": "Hugo", "lastname": "Hub", "email": "hugo@x.com"})
    return lid


def live_contacts(hs: HubSpotSandbox) -> set[str]:
    return {str(r["properties"]["email"]) for r in hs.records("contacts")}


# -- a Snov.io list deleted ------------------------------------------------------------------------------
def test_a_deleted_snovio_list_stops_every_pass_until_confirmed_and_is_never_recreated_silently(
        tmp_path: Path, hs: HubSpotSandbox, sn: SnovioSandbox, hs_server: Any, sn_server: Any) -> None:
    run = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])),
              [contacts_sync({"app": "snovio", "object": "prospects"}, deletes="propagate")])
    lid = seed_snovio(hs, sn)
    first = run("sync", "--json")
    assert first.exit_code == 0, first.output
    assert len(live_contacts(hs)) == N + 1 and len(sn.by_email(lid)) == N + 1

    sn.delete_list(lid)  # an admin deletes the list in Snov.io
    for args in (("sync",), ("sync", "--full")):  # incremental, then a full reconciliation
        res = run(*args)
        assert res.exit_code == 2, res.output  # a config error: the list apps.snovio.list names is gone
        assert "apps.snovio.list: app 'snovio': Snov.io has no list 'Sync' (lists:" in res.output
        assert "hint: If the list 'Sync' was deleted, restore it in Snov.io" in res.output
        assert "--confirm-deletes" in res.output
        assert len(live_contacts(hs)) == N + 1  # nothing archived in HubSpot
        assert sn.store.list_by_name(LIST) is None  # and no empty list created in its place
    hold = run.hold()
    assert hold is not None and (hold["kind"], hold["category"], hold["key"], hold["confirmable"]) == (
        "container", "container_missing", "apps.snovio.list", True)
    status = json.loads(run("status", "--json").output)
    assert status[0]["deletes_held"]["message"].startswith("apps.snovio.list: app 'snovio': Snov.io has no list")
    assert status[0]["last_run"]["status"] == "failed"

    # "start over with an empty list": confirmed, the list is created again, and the HubSpot
    # contacts whose prospects it no longer holds (30 > 25) are held for another confirmation
    # (the change feed knows the 30 prospects the list held when its cursor was taken)
    again = run("sync", "--confirm-deletes")
    assert again.exit_code == 1, again.output
    assert "contacts: confirmed: the Snov.io list 'Sync' will be created again, empty" in again.output
    assert "30 deletes held, nothing deleted: 30 in hubspot (contacts) would be deleted" in again.output
    assert sn.list_id(LIST) != lid and len(live_contacts(hs)) == N + 1
    assert run.hold()["kind"] == "mass"  # type: ignore[index]
    assert run("sync").exit_code == 1  # still held, across processes
    done = run("sync", "--confirm-deletes", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output[done.output.index("["):])[0]["archived"] == {"left": N, "right": 0}
    assert live_contacts(hs) == {"hugo@x.com"} and run.hold() is None
    assert run("sync", "--full").exit_code == 0  # the last one, found by a full pass: under the limit
    assert live_contacts(hs) == set()


def test_a_renamed_snovio_list_is_followed_not_taken_for_gone(
        tmp_path: Path, hs: HubSpotSandbox, sn: SnovioSandbox, hs_server: Any, sn_server: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """A list renamed in Snov.io's UI is the same list (its id): taken for gone, the sync would
    stop and offer to "create it again, empty", whose deletes (propagated, Snov.io's default)
    would then take its prospects' contacts out of HubSpot."""
    run = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])),
              [contacts_sync({"app": "snovio", "object": "prospects"}, deletes="propagate")])
    lid = seed_snovio(hs, sn)
    assert run("sync").exit_code == 0 and len(sn.by_email(lid)) == N + 1
    sn.rename_list(lid, "Sync (renamed)")
    hs.user_create("contacts", {"firstname": "New", "lastname": "Hub", "email": "new@x.com"})
    for _ in _passes_going_on(run, caplog, "'Sync' is now named 'Sync (renamed)' there"):
        assert run.hold() is None and len(live_contacts(hs)) == N + 2  # nothing held, nothing deleted
        assert len(sn.by_email(lid)) == N + 2 and sn.store.list_by_name(LIST) is None  # no second list
    checked = run("check")  # a note, not "no list 'Sync'; did you mean 'Sync (renamed)'?" (exit 2)
    assert checked.exit_code == 0, checked.output
    assert ("apps.snovio.list: the snovio list 'Sync' is now named 'Sync (renamed)' there; the sync 'contacts' "
            "follows it: write the new name here") in checked.output
    sn.delete_list(lid)  # then deleted: as any list gone
    res = run("sync")
    assert res.exit_code == 2 and "Snov.io has no list 'Sync' (lists:" in res.output


async def test_a_deleted_snovio_list_through_the_runner_incremental_and_full(
        hs: HubSpotSandbox, sn: SnovioSandbox, hs_server: Any, sn_server: Any) -> None:
    cfg = parse_config({"apps": apps(hs_server[1], snovio=snovio_app(sn_server[1])),
                        "syncs": [contacts_sync({"app": "snovio", "object": "prospects"}, deletes="propagate")]},
                       env={})
    store = Store("sqlite://")
    hs_conn = HubSpotConnector("hubspot", token="pat-e2e", base_url=hs_server[1], timeout=5, backoff=0.01,
                               limits=Limits(RollingWindow(10_000, 10.0), RollingWindow(1000, 1.0)))

    def runner() -> SyncRunner:  # a fresh Snov.io connector: a new process, no list id remembered
        sn_conn = SnovioConnector("snovio", client_id="cid", client_secret="secret", list_name=LIST,
                                  base_url=sn_server[1], window=RollingWindow(100_000, 1.0), backoff=0.01, timeout=5)
        return SyncRunner(cfg.syncs[0], store, hs_conn, sn_conn, path="syncs[0]")

    lid = seed_snovio(hs, sn)
    await runner().run()
    long_running = runner()
    await long_running.run()  # a service's runner, which knows the list's id
    sn.delete_list(lid)
    for r, full in ((long_running, False), (runner(), False), (runner(), True)):
        with pytest.raises(ContainerMissing) as gone:
            await r.run(full=full)
        assert gone.value.key == "apps.snovio.list" and gone.value.creatable
        assert len(live_contacts(hs)) == N + 1 and sn.store.list_by_name(LIST) is None
    assert store.counts("contacts") == {"syncing": N + 1}  # no pair marked deleted either
    await hs_conn.aclose()
    store.close()


def test_a_new_sync_creates_its_list_and_one_with_create_list_false_names_the_lists(
        tmp_path: Path, hs: HubSpotSandbox, sn: SnovioSandbox, hs_server: Any, sn_server: Any) -> None:
    sn.create_list("Cold leads")
    hs.user_create("contacts", {"firstname": "Hugo", "lastname": "Hub", "email": "hugo@x.com"})
    strict = Cli(tmp_path, apps(hs_server[1], snovio={**snovio_app(sn_server[1]), "create_list": False}),
                 [contacts_sync({"app": "snovio", "object": "prospects"})])
    res = strict("sync")
    assert res.exit_code == 2 and "Snov.io has no list 'Sync' (lists: 'Cold leads')" in res.output
    assert "hint: Create the list 'Sync' in Snov.io, or set apps.snovio.create_list: true." in res.output
    (tmp_path / "index.db").unlink()
    fresh = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])),
                [contacts_sync({"app": "snovio", "object": "prospects"})])
    assert fresh("check").exit_code == 0 and sn.store.list_by_name(LIST) is None  # check creates nothing
    plan = fresh("plan", "--json")  # nor does a dry run: it reads the list it would create as empty
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.output)[0]["created"] == {"left": 0, "right": 1}
    assert sn.store.list_by_name(LIST) is None
    assert fresh("sync").exit_code == 0  # the first pass of a sync that never ran creates its list
    assert set(sn.by_email(sn.list_id(LIST))) == {"hugo@x.com"}


# -- more deletes than the guard allows --------------------------------------------------------------------
def test_a_mass_delete_in_snovio_is_held_until_confirmed_and_a_small_one_goes_through(
        tmp_path: Path, hs: HubSpotSandbox, sn: SnovioSandbox, hs_server: Any, sn_server: Any) -> None:
    run = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])),
              [contacts_sync({"app": "snovio", "object": "prospects"}, deletes="propagate")])
    lid = seed_snovio(hs, sn)
    for i in range(N, 60):
        sn.user_add(lid, emails=[f"p{i}@x.com"], firstName=f"P{i}", lastName="Prospect")
    assert run("sync").exit_code == 0 and len(live_contacts(hs)) == 61
    ids = {p["emails"][0]["email"]: p["id"] for p in sn.prospects(lid)}

    for i in range(3):  # a small delete: carried out as before
        sn.remove_from_list(ids[f"p{i}@x.com"], lid)
    small = run("sync", "--json")
    assert small.exit_code == 0, small.output
    assert json.loads(small.output)[0]["archived"] == {"left": 3, "right": 0} and len(live_contacts(hs)) == 58

    for i in range(3, 40):  # 37 of 58 pairs: held
        sn.remove_from_list(ids[f"p{i}@x.com"], lid)
    held = run("sync")
    assert held.exit_code == 1, held.output
    assert "37 deletes held, nothing deleted: 37 in hubspot (contacts) would be deleted, more than the delete " \
           "guard allows (25: 10% of 58 linked pairs, at least 25)" in held.output
    assert "hint: Check why so many records vanished from snovio" in held.output
    assert len(live_contacts(hs)) == 58
    plan = run("plan", "--json")  # the dry run says what is held, and changes nothing
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.output)[0]["deletes_held"]["targets"] == {"left": 37, "right": 0}
    assert "held 37/0" in run("plan").output
    assert run("sync", "--full").exit_code == 1 and len(live_contacts(hs)) == 58  # a full pass holds them too
    hold = json.loads(run("status", "--json").output)[0]["deletes_held"]
    assert (hold["count"], hold["targets"]) == (37, {"left": 37, "right": 0})

    done = run("sync", "--confirm-deletes")
    assert done.exit_code == 0, done.output
    assert "contacts: 37 held deletes confirmed; this pass carries them out" in done.output
    assert len(live_contacts(hs)) == 21 and run.hold() is None
    assert run("sync").exit_code == 0


# -- a HubSpot inclusion list deleted ------------------------------------------------------------------------
def test_a_deleted_hubspot_inclusion_list_stops_the_sync(
        tmp_path: Path, hs: HubSpotSandbox, sn: SnovioSandbox, hs_server: Any, sn_server: Any) -> None:
    run = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])),
              [contacts_sync({"app": "snovio", "object": "prospects"}, deletes="propagate",
                             inclusion={"side": "left", "list": "To Snov.io"})])
    hs.create_list("To Snov.io")
    ids = [hs.user_create("contacts", {"firstname": f"C{i}", "lastname": "Hub", "email": f"c{i}@x.com"})["id"]
           for i in range(5)]
    hs.list_members("To Snov.io", add=ids)
    assert run("sync").exit_code == 0 and len(sn.by_email(sn.list_id(LIST))) == 5
    list_id = hs.delete_list("To Snov.io")
    for args in (("sync",), ("sync", "--full")):
        res = run(*args)
        assert res.exit_code == 2, res.output
        assert "syncs[0].inclusion.list: app 'hubspot': HubSpot has no contacts list 'To Snov.io'" in res.output
        assert "hint: Restore the list 'To Snov.io' in HubSpot" in res.output
        assert "--confirm-deletes" not in res.output  # Accord cannot create it: nothing to confirm
    confirm = run("sync", "--confirm-deletes")
    assert confirm.exit_code == 2 and "Restore the list" in confirm.output
    store = Store(run.state)
    assert store.counts("contacts") == {"syncing": 5}  # no pair left the list, none deleted
    store.close()
    hs.restore_list(list_id)  # restored: the sync goes on, the hold lifts
    assert run("sync").exit_code == 0 and run.hold() is None


def test_a_renamed_hubspot_inclusion_list_is_followed(
        tmp_path: Path, hs: HubSpotSandbox, sn: SnovioSandbox, hs_server: Any, sn_server: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """Renaming a list is an everyday edit in HubSpot: the sync goes on with it (by its id, as
    HubSpot's own syncs do) and says the config's name is stale; a list deleted, or a config
    naming another list, still stops the sync."""
    syncs = [contacts_sync({"app": "snovio", "object": "prospects"}, deletes="propagate",
                           inclusion={"side": "left", "list": "To Snov.io"})]
    run = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])), syncs)
    hs.create_list("To Snov.io")
    ids = [hs.user_create("contacts", {"firstname": f"C{i}", "lastname": "Hub", "email": f"c{i}@x.com"})["id"]
           for i in range(5)]
    hs.list_members("To Snov.io", add=ids[:4])
    assert run("sync").exit_code == 0 and len(sn.by_email(sn.list_id(LIST))) == 4
    list_id = hs.rename_list("To Snov.io", "Snov.io sync (EU)")
    hs.list_members("Snov.io sync (EU)", add=[ids[4]])
    for _ in _passes_going_on(run, caplog, "the hubspot list 'To Snov.io' is now named 'Snov.io sync (EU)' there"):
        assert len(sn.by_email(sn.list_id(LIST))) == 5  # the new member synced; no pair left the list
    store = Store(run.state)
    assert store.counts("contacts") == {"syncing": 5}
    store.close()
    check = run("check")
    assert check.exit_code == 0, check.output
    assert "the hubspot list 'To Snov.io' is now named 'Snov.io sync (EU)' there; the sync follows it" in check.output

    # a config naming a list HubSpot does not have is not taken for the renamed one
    other = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])),
                [{**syncs[0], "inclusion": {"side": "left", "list": "To Snov.io (old)"}}])
    res = other("sync")
    assert res.exit_code == 2 and "HubSpot has no contacts list 'To Snov.io (old)'" in res.output
    # the renamed list deleted: the sync stops, as for any list gone
    run = Cli(tmp_path, apps(hs_server[1], snovio=snovio_app(sn_server[1])), syncs)  # the config as it was
    hs.store.delete_list(list_id)
    res = run("sync")
    assert res.exit_code == 2 and "HubSpot has no contacts list 'To Snov.io'" in res.output, res.output
    assert len(sn.by_email(sn.list_id(LIST))) == 5


# -- a xentral group deleted ------------------------------------------------------------------------------------
def _synced_with_a_xentral_group(tmp_path: Path, hs: HubSpotSandbox, hs_server: Any,
                                 xt_server: tuple[XentralSandbox, str]) -> Cli:
    """HubSpot contacts ↔ the addresses of xentral's group "Hubspot" (the app's group and the
    inclusion list), deletes propagated, after a first pass: 4 addresses and Hugo, 5 in all."""
    xt, xt_url = xt_server
    xt.reset()
    install(xt.store)  # the group "Hubspot", the status free field, the board
    run = Cli(tmp_path, apps(hs_server[1], xentral={"type": "xentral", "base_url": xt_url, "token": "xt-pat",
                                                    "rate_limit": 10_000}),
              [contacts_sync({"app": "xentral", "object": "adressen"}, deletes="propagate",
                             inclusion={"side": "right", "list": "Hubspot"})])
    for i in range(4):
        xt.user_create_address({"vorname": f"X{i}", "nachname": "Adr", "email": f"x{i}@x.de"}, groups=["Hubspot"])
    hs.user_create("contacts", {"firstname": "Hugo", "lastname": "Hub", "email": "hugo@x.com"})
    assert run("sync").exit_code == 0 and len(live_contacts(hs)) == 5 and len(xt.members("Hubspot")) == 5
    return run


def test_a_deleted_xentral_group_stops_the_sync_and_is_not_recreated(
        tmp_path: Path, hs: HubSpotSandbox, hs_server: Any, xt_server: tuple[XentralSandbox, str]) -> None:
    xt = xt_server[0]
    run = _synced_with_a_xentral_group(tmp_path, hs, hs_server, xt_server)

    xt.delete_group("Hubspot")
    hs.user_create("contacts", {"firstname": "Nina", "lastname": "New", "email": "nina@x.com"})
    for args in (("sync",), ("sync", "--full")):
        res = run(*args)
        assert res.exit_code == 2, res.output
        assert "apps.xentral.group: app 'xentral': the xentral group 'Hubspot' does not exist" in res.output
        assert "hint: Restore the group 'Hubspot' in xentral" in res.output
        assert len(live_contacts(hs)) == 6 and xt.store.group_by_name("Hubspot") is None
        assert "nina@x.com" not in {a["email"] for a in xt.addresses()}  # nothing written at all
    store = Store(run.state)
    assert store.counts("contacts") == {"syncing": 5}  # not "excluded/not_in_list" either
    store.close()


def test_a_renamed_xentral_group_is_followed(
        tmp_path: Path, hs: HubSpotSandbox, hs_server: Any, xt_server: tuple[XentralSandbox, str],
        caplog: pytest.LogCaptureFixture) -> None:
    """The group is the app's container and the sync's inclusion list: renamed in xentral (same
    id), the sync goes on with it in both roles."""
    xt = xt_server[0]
    run = _synced_with_a_xentral_group(tmp_path, hs, hs_server, xt_server)
    xt.rename_group("Hubspot", "HubSpot-Kontakte")
    hs.user_create("contacts", {"firstname": "Nina", "lastname": "New", "email": "nina@x.com"})
    for _ in _passes_going_on(run, caplog, "'Hubspot' is now named 'HubSpot-Kontakte' there"):
        assert len(xt.members("HubSpot-Kontakte")) == 6 and xt.store.group_by_name("Hubspot") is None
        assert len(live_contacts(hs)) == 6 and run.hold() is None
    checked = run("check")  # the group, as the app's container and as the inclusion list
    assert checked.exit_code == 0, checked.output
    assert "apps.xentral.group: the xentral group 'Hubspot' is now named 'HubSpot-Kontakte' there" in checked.output
    assert "syncs[0].inclusion.list: the xentral list 'Hubspot' is now named 'HubSpot-Kontakte'" in checked.output
    store = Store(run.state)
    assert store.counts("contacts") == {"syncing": 6}
    store.close()


# -- an SQL table dropped --------------------------------------------------------------------------------------
def _people(url: str) -> None:
    meta = MetaData()
    Table("people", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("first_name", String(100)), Column("last_name", String(100)), Column("email", String(200)),
          Column("updated_at", DateTime, nullable=False), Column("deleted", Boolean, default=False))
    eng = create_engine(url)
    meta.create_all(eng)
    with eng.begin() as c:
        for i in range(3):
            c.execute(text("INSERT INTO people (first_name, last_name, email, updated_at, deleted) "
                           f"VALUES ('S{i}', 'Row', 's{i}@x.com', '2024-01-01 00:00:00', false)"))
    eng.dispose()


def test_a_dropped_sql_table_stops_the_sync(tmp_path: Path, hs: HubSpotSandbox, hs_server: Any) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    _people(url)
    run = Cli(tmp_path, apps(hs_server[1], db={"type": "sql", "url": url, "tables": {"contacts": "people"}}),
              [contacts_sync({"app": "db", "object": "contacts"}, deletes="propagate")])
    hs.user_create("contacts", {"firstname": "Hugo", "lastname": "Hub", "email": "hugo@x.com"})
    first = run("sync")
    assert first.exit_code == 0, first.output
    assert len(live_contacts(hs)) == 4

    async def long_running() -> None:  # a process that reflected the table before it was dropped
        service = Session(load_config(run.path))
        await service.runner("contacts").run()
        eng = create_engine(url)
        with eng.begin() as c:
            c.execute(text("DROP TABLE people"))
        eng.dispose()
        with pytest.raises(ContainerMissing, match="the table 'people' does not exist"):
            await service.runner("contacts").run()
        await service.aclose()

    asyncio.run(long_running())
    for args in (("sync",), ("sync", "--full")):
        res = run(*args)
        assert res.exit_code == 2, res.output
        assert "apps.db.tables.contacts: app 'db': the table 'people' does not exist" in res.output
        assert "hint: Restore the table 'people' in the database of app 'db'" in res.output
        assert len(live_contacts(hs)) == 4
    assert run.hold()["key"] == "apps.db.tables.contacts"  # type: ignore[index]


def test_a_table_not_made_yet_says_create_it_and_holds_nothing(tmp_path: Path, hs: HubSpotSandbox, hs_server: Any) -> None:
    """A new sync into a table that does not exist yet lost nothing: `accord check` and `accord
    sync` say to create it (not "restore it from a backup"), and no hold waits on the dashboard;
    once the table is made, the first pass syncs."""
    url = f"sqlite:///{tmp_path}/app.db"
    run = Cli(tmp_path, apps(hs_server[1], db={"type": "sql", "url": url, "tables": {"contacts": "people"}}),
              [contacts_sync({"app": "db", "object": "contacts"})])
    for args in (("check",), ("sync",)):
        res = run(*args)
        assert res.exit_code == 2, res.output
        assert "apps.db.tables.contacts: app 'db': the table 'people' does not exist\n" in res.output, res.output
        assert ("hint: Create the table 'people' in the database of app 'db' (Accord syncs a table of yours and never "
                "creates one: docs/connectors/sql.md shows one)") in res.output
        assert "Restore" not in res.output and "(any more)" not in res.output
    assert run.hold() is None
    _people(url)
    res = run("sync")
    assert res.exit_code == 0, res.output
    assert len(live_contacts(hs)) == 3  # the table's three rows
