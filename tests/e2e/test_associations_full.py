"""Associations in full against the sandboxes: a contact moved to another company, an association
removed, and both sides changed, HubSpot ↔ Salesforce (the primary company ↔ ``AccountId``) and
HubSpot ↔ HubSpot (a contact with several companies)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from test_hubspot_salesforce import World, _hs_contact, _sf_contact, hs_server, sf_server, w  # noqa: F401
from test_hubspot_two_accounts import Accounts

from accord.config import parse_config
from accord.model import Side
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.session import Session

L, R = Side.LEFT, Side.RIGHT


def _setup(world: World, winner: str | None = None) -> None:
    world.companies_and_contacts(**({"winner": winner} if winner else {}))


def _hs_companies(world: World, contact: str) -> tuple[list[str], int | None]:
    """(names of the contact's companies, its primary company's id) in HubSpot."""
    names = {int(r["id"]): r["properties"]["name"] for r in world.hs.records("companies")}
    found = world.hs.store.associated("contacts", int(contact), "companies")
    return sorted(names[c] for c in found), world.hs.primary("contacts", contact, "companies")


def _account_name(world: World, email: str) -> str | None:
    acct = world.sf_by_email()[email].get("AccountId")
    return None if acct is None else str(world.sf.get("Account", acct)["Name"])  # type: ignore[index]


async def _companies(world: World) -> tuple[dict[str, Any], dict[str, str]]:
    hs = {n: world.hs.user_create("companies", {"name": n, "domain": f"{n.lower()}.com"})["id"]
          for n in ("Acme", "Globex", "Initech")}
    await world.run("companies")
    sf = {r["Name"]: r["Id"] for r in world.sf.records("Account")}
    return hs, sf


async def test_a_contact_moved_between_companies_follows_on_each_side(w: World) -> None:  # noqa: F811
    _setup(w)
    hs_co, sf_acct = await _companies(w)
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
    w.hs.associate("contacts", ann, "companies", hs_co["Acme"], primary=True)
    await w.run("contacts")
    assert _account_name(w, "ann@acme.com") == "Acme"
    # moved in HubSpot: Globex is the primary company now, Acme's association removed
    w.hs.associate("contacts", ann, "companies", hs_co["Globex"], primary=True)
    w.hs.dissociate("contacts", ann, "companies", hs_co["Acme"])
    res = await w.run("contacts", full=True)
    assert _account_name(w, "ann@acme.com") == "Globex"
    assert res.counters.associated == {"left": 0, "right": 1}
    # moved in Salesforce: Initech becomes the primary in HubSpot and Globex's association goes
    w.sf.update("Contact", w.sf_by_email()["ann@acme.com"]["Id"], {"AccountId": sf_acct["Initech"]})
    res = await w.run("contacts")
    assert _hs_companies(w, ann) == (["Initech"], int(hs_co["Initech"]))
    # in step: nothing more to write
    again = await w.run("contacts", full=True)
    assert again.counters.associated == {"left": 0, "right": 0}


async def test_an_association_removed_on_one_side_is_removed_on_the_other(w: World) -> None:  # noqa: F811
    _setup(w)
    hs_co, sf_acct = await _companies(w)
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
    w.hs.associate("contacts", ann, "companies", hs_co["Acme"], primary=True)
    w.sf.create("Contact", _sf_contact("Bob", "Ray", "bob@acme.com", AccountId=sf_acct["Globex"]))
    await w.run("contacts")
    bob = w.hs_by_email()["bob@acme.com"]["hs_object_id"]
    assert _hs_companies(w, bob) == (["Globex"], int(hs_co["Globex"]))
    # Ann's company removed in HubSpot: her AccountId is cleared; Bob's cleared in Salesforce:
    # his HubSpot association goes
    w.hs.dissociate("contacts", ann, "companies", hs_co["Acme"])
    w.sf.update("Contact", w.sf_by_email()["bob@acme.com"]["Id"], {"AccountId": None})
    await w.run("contacts", full=True)
    assert _account_name(w, "ann@acme.com") is None
    assert _hs_companies(w, bob) == ([], None)
    again = await w.run("contacts", full=True)
    assert again.counters.associated == {"left": 0, "right": 0}


async def test_both_sides_moved_the_contact_the_winner_decides(w: World) -> None:  # noqa: F811
    _setup(w, winner="salesforce")
    hs_co, sf_acct = await _companies(w)
    ann = w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
    w.hs.associate("contacts", ann, "companies", hs_co["Acme"], primary=True)
    await w.run("contacts")
    w.hs.associate("contacts", ann, "companies", hs_co["Globex"], primary=True)
    w.sf.update("Contact", w.sf_by_email()["ann@acme.com"]["Id"], {"AccountId": sf_acct["Initech"]})
    await w.run("contacts", full=True)
    # Salesforce wins: Initech is the primary in HubSpot; Acme (the lookup's old value) goes,
    # Globex (HubSpot's own addition) stays, unlabelled
    assert _account_name(w, "ann@acme.com") == "Initech"
    assert _hs_companies(w, ann) == (["Globex", "Initech"], int(hs_co["Initech"]))
    again = await w.run("contacts", full=True)
    assert again.counters.associated == {"left": 0, "right": 0}


@contextmanager
def two_accounts(tmp_path: Path) -> Iterator[Accounts]:
    """Two HubSpot sandboxes; syncs ``companies`` and ``contacts`` (associated with the companies)."""
    a, b = HubSpotSandbox(SandboxSettings(records=0, seed=1)), HubSpotSandbox(SandboxSettings(records=0, seed=2))
    with ServerThread(a.app) as sa, ServerThread(b.app) as sb:
        apps = {n: {"type": "hubspot", "token": f"{n}-{uuid.uuid4().hex}", "base_url": srv.url}
                for n, srv in (("a", sa), ("b", sb))}
        syncs = [{"name": o, "left": {"app": "a", "object": o}, "right": {"app": "b", "object": o}}
                 for o in ("companies", "contacts")]
        syncs[1]["associations"] = ["companies"]
        cfg = parse_config({"state": f"sqlite:///{tmp_path / 'index.db'}", "apps": apps, "syncs": syncs}, env={})
        try:
            yield Accounts(a, b, Session(cfg))
        finally:
            a.close()
            b.close()


async def test_hubspot_to_hubspot_multi_company_contact(tmp_path: Path) -> None:
    with two_accounts(tmp_path) as acc:
        names = ("Acme", "Globex", "Initech", "Umbrella")
        ca = {n: acc.a.user_create("companies", {"name": n, "domain": f"{n.lower()}.com"})["id"] for n in names}
        ann = acc.a.user_create("contacts", {"firstname": "Ann", "lastname": "Lee", "email": "ann@x.com"})["id"]
        acc.a.associate("contacts", ann, "companies", ca["Acme"], primary=True)
        acc.a.associate("contacts", ann, "companies", ca["Globex"])
        acc.a.associate("contacts", ann, "companies", ca["Initech"])
        await acc.session.runner("companies").run()
        await acc.session.runner("contacts").run()

        def state(sb: Any) -> tuple[list[str], str | None]:
            by_id = {int(r["id"]): r["properties"]["name"] for r in sb.records("companies")}
            cid = next(int(r["id"]) for r in sb.records("contacts") if r["properties"]["email"] == "ann@x.com")
            p = sb.primary("contacts", cid, "companies")
            return sorted(by_id[c] for c in sb.store.associated("contacts", cid, "companies")), by_id.get(p)

        assert state(acc.b) == state(acc.a) == (["Acme", "Globex", "Initech"], "Acme")
        cb = {r["properties"]["name"]: r["id"] for r in acc.b.records("companies")}
        ann_b = next(r["id"] for r in acc.b.records("contacts"))
        # left: Globex removed, Umbrella added; right: Initech removed → both apply
        acc.a.dissociate("contacts", ann, "companies", ca["Globex"])
        acc.a.associate("contacts", ann, "companies", ca["Umbrella"])
        acc.b.dissociate("contacts", ann_b, "companies", cb["Initech"])
        await acc.session.runner("contacts").run(full=True)
        assert state(acc.a) == state(acc.b) == (["Acme", "Umbrella"], "Acme")
        # both made another company primary: the winner's (left, by default) stands
        acc.a.associate("contacts", ann, "companies", ca["Umbrella"], primary=True)
        acc.b.associate("contacts", ann_b, "companies", cb["Globex"], primary=True)
        await acc.session.runner("contacts").run(full=True)
        assert state(acc.a) == state(acc.b) == (["Acme", "Globex", "Umbrella"], "Umbrella")
        acc.b.dissociate("contacts", ann_b, "companies", cb["Globex"])
        acc.b.associate("contacts", ann_b, "companies", cb["Acme"], primary=True)
        # a new primary and a removal on the right follow on the left
        await acc.session.runner("contacts").run(full=True)
        assert state(acc.a) == state(acc.b) == (["Acme", "Umbrella"], "Acme")
        res = await acc.session.runner("contacts").run(full=True)
        assert res.counters.associated == {"left": 0, "right": 0}
