"""Associations (contact→company) kept on both sides once both records are synced."""

from __future__ import annotations

from accord.associations import plan_side
from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.model import Side
from accord.session import Session
from helpers import person


def make(winner: str = "a") -> tuple[Session, MemoryApp, MemoryApp]:
    cfg = parse_config({"state": "sqlite://", "apps": {"a": {"type": "memory"}, "b": {"type": "memory"}}, "syncs": [
        {"name": "companies", "left": {"app": "a", "object": "companies"}, "right": {"app": "b", "object": "companies"}},
        {"name": "contacts", "left": {"app": "a", "object": "contacts"}, "right": {"app": "b", "object": "contacts"},
         "associations": ["companies"], "winner": winner},
    ]}, env={})
    a, b = MemoryApp("a"), MemoryApp("b")
    return Session(cfg, connectors={"a": a, "b": b}), a, b


def assoc(app: MemoryApp, contact_email: str) -> list[str]:
    cid = next(r.id for r in app.live("contacts") if r.properties["email"] == contact_email)
    names = {r.id: r.properties["name"] for r in app.live("companies")}
    return sorted(names[c] for c in app.links.get(("contacts", "companies"), {}).get(cid, set()))


async def test_association_waits_for_its_company_then_syncs() -> None:
    s, a, b = make()
    acme = a.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    ann = a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await a.associate("contacts", "companies", [(ann, acme)])
    # contacts first: the company is not synced yet, so the association waits
    res = await s.runner("contacts").run()
    link = s.store.links_by_record("contacts", Side.LEFT, [ann])[ann]
    assert (link.status, link.reason) == ("queued", "waiting_for_association")
    assert res.counters.associated == {"left": 0, "right": 0}
    await s.runner("companies").run()
    res = await s.runner("contacts").run()
    assert res.counters.associated == {"left": 0, "right": 1}
    assert assoc(b, "ann@x.com") == ["Acme"]
    assert s.store.counts("contacts") == {"syncing": 1}
    # in step: nothing more to write
    res = await s.runner("contacts").run(full=True)
    assert res.counters.associated == {"left": 0, "right": 0}


async def test_association_both_ways_and_winner_on_disagreement() -> None:
    s, a, b = make(winner="a")
    a_acme = a.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    b_acme = b.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    b_glob = b.user_create("companies", {"name": "Globex", "domain": "globex.io"})
    a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    bob_b = b.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    ann_b = b.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    ann_a = next(r.id for r in a.live("contacts"))
    await a.associate("contacts", "companies", [(ann_a, a_acme)])
    await b.associate("contacts", "companies", [(ann_b, b_glob), (bob_b, b_acme)])
    await s.runner("companies").run()
    await s.runner("contacts").run()
    # Bob's association exists only on the right: copied left. Ann's disagree: the winner's is added.
    assert assoc(a, "bob@x.com") == ["Acme"]
    assert assoc(b, "ann@x.com") == ["Acme", "Globex"]
    assert assoc(a, "ann@x.com") == ["Acme"]


def test_plan_side() -> None:
    assert plan_side([], ["x"], theirs_win=False) == ["x"]
    assert plan_side(["y"], ["x"], theirs_win=False) == []
    assert plan_side(["y"], ["x", "y"], theirs_win=True) == ["x"]
