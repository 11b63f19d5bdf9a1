"""Associations (contact→company) kept on both sides once both records are synced."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.associations import plan_side
from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.engine.associations import Assoc, AssocPlan, Kind, SidePlan, plan_associations, representative
from accord.model import ErrorCategory, Side, WriteError, WriteResult
from accord.session import Session
from helpers import person

L, R = Side.LEFT, Side.RIGHT


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


async def test_a_pair_waiting_for_its_company_stays_queued_through_passes_that_read_it_again() -> None:
    """Its fields sync, but it says it waits (and for which sync) until the company is synced:
    a pass that read it again (a full pass, an edit of a mapped field) set it syncing and the
    association step queued it again, so the dashboard's count flickered every pass and the
    pair read "syncing" between passes."""
    s, a, b = make()
    acme = a.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    ann = a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await a.associate("contacts", "companies", [(ann, acme)])
    seen: list[str | None] = []
    real = s.store.save

    def save(sync: str, w: Any, *args: Any, **kw: Any) -> None:
        real(sync, w, *args, **kw)
        if sync == "contacts":
            seen.extend(lk.status for lk in (*w.new.values(), *w.dirty.values()) if lk.left_id == ann)

    s.store.save = save  # type: ignore[method-assign]
    await s.runner("contacts").run()
    seen.clear()
    await s.runner("contacts").run(full=True)  # reads the pair again
    a.user_update("contacts", ann, {"phone": "+1 555 0100"})
    res = await s.runner("contacts").run()  # writes its change
    assert res.counters.updated == {"left": 0, "right": 1}
    assert set(seen) == {"queued"}, seen
    link = s.store.links_by_record("contacts", Side.LEFT, [ann])[ann]
    assert (link.status, link.reason) == ("queued", "waiting_for_association")
    assert link.message == "waiting for an associated record of the companies sync, not synced yet"
    # the dashboard's and `accord status`'s reasons say what the queued pair waits for
    assert s.store.reason_counts("contacts") == {"queued/waiting_for_association": 1}
    await s.runner("companies").run()
    await s.runner("contacts").run(full=True)
    assert assoc(b, "ann@x.com") == ["Acme"]
    assert s.store.counts("contacts") == {"syncing": 1}


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


# -- the three-way merge of association sets (pure) --------------------------------------------------------
IDS = ("a", "b", "c", "d")
KINDS: tuple[Kind, ...] = ("many", "primary", "single")


# built once: a strategy made inside a draw is new to hypothesis each time, and validating
# it cost more than the test itself (1,500 examples took 15 s, most of it in is_empty)
_SINGLE = st.sampled_from((None, *IDS))
_SETS = st.sets(st.sampled_from(IDS))
_PRIMARY_OF: dict[frozenset[str], st.SearchStrategy[str | None]] = {}


def _primary_of(ids: frozenset[str]) -> st.SearchStrategy[str | None]:
    if ids not in _PRIMARY_OF:
        _PRIMARY_OF[ids] = st.sampled_from((None, *sorted(ids)))
    return _PRIMARY_OF[ids]


@st.composite
def _assoc(draw: st.DrawFn, kind: Kind) -> Assoc:
    if kind == "single":
        v = draw(_SINGLE)
        return Assoc(frozenset({v}) if v else frozenset(), v)
    ids = frozenset(draw(_SETS))
    primary = draw(_primary_of(ids)) if kind == "primary" else None
    return Assoc(ids, primary)


_ASSOC = {k: _assoc(k) for k in KINDS}


@st.composite
def _case(draw: st.DrawFn) -> tuple[dict[Side, Assoc] | None, dict[Side, Assoc], dict[Side, Kind], Side, dict[Side, bool]]:
    kinds = {L: draw(st.sampled_from(KINDS)), R: draw(st.sampled_from(KINDS))}
    base = None if draw(st.booleans()) and draw(st.booleans()) else {s: draw(_ASSOC[kinds[s]]) for s in (L, R)}
    if base is not None:  # a base holds the representative, as plan.after does
        sticky = "single" in kinds.values()
        base = {s: Assoc(b.ids, representative(b, kinds[s], None) if sticky else b.primary) for s, b in base.items()}
    cur = {s: draw(_ASSOC[kinds[s]]) for s in (L, R)}
    writable = {L: draw(st.booleans()) or True, R: draw(st.sampled_from((True, True, False)))}
    return base, cur, kinds, draw(st.sampled_from((L, R))), writable


def _apply(a: Assoc, kind: Kind, p: SidePlan) -> Assoc:
    """What the app holds once the plan's writes landed (HubSpot: a new primary demotes the old)."""
    if kind == "single":
        if p.primary is not None:
            return Assoc(frozenset({p.primary}), p.primary)
        return Assoc() if p.remove else a
    ids = (a.ids | p.add | ({p.primary} if p.primary else set())) - p.remove
    if kind == "many":
        return Assoc(ids)
    flagged = p.primary or (a.primary if a.primary in ids else None)
    return Assoc(ids, flagged)


@given(_case())
@settings(max_examples=1500, deadline=None)
def test_plan_is_idempotent_and_touches_only_changes(case: tuple[Any, ...]) -> None:
    base, cur, kinds, winner, writable = case
    plan = plan_associations(base, cur, kinds, winner, writable)
    applied = {s: _apply(cur[s], kinds[s], plan.side(s)) for s in (L, R)}
    for s in (L, R):
        assert plan.after[s].ids == applied[s].ids
        if not writable[s]:
            assert plan.side(s).empty
    # re-planning against the new base finds nothing to do
    again = plan_associations(plan.after, applied, kinds, winner, writable)
    assert again.ops == 0, f"{case}\n{plan}\n{again}"
    if base is None:
        assert not plan.side(L).remove and not plan.side(R).remove  # a first pass never removes
        return
    sticky = "single" in kinds.values()
    rep = {s: (representative(cur[s], kinds[s], base[s].primary) if sticky else cur[s].primary) for s in (L, R)}
    changed = set().union(*((cur[s].ids ^ base[s].ids) for s in (L, R)))
    changed |= {v for s in (L, R) if rep[s] != base[s].primary for v in (rep[s], base[s].primary) if v}
    for s in (L, R):
        p = plan.side(s)
        touched = p.add | p.remove | ({p.primary} if p.primary else set())
        assert touched <= changed, f"{case}\n{plan}"
        for x in p.remove:
            o = s.other
            removed_there = x in base[o].ids and x not in cur[o].ids
            cleared_there = rep[o] is None and base[o].primary is not None
            assert removed_there or (kinds[s] == "single" and cleared_there), (x, s)


def _ab(kl: Kind, kr: Kind, base: tuple[Assoc, Assoc] | None, cur: tuple[Assoc, Assoc], winner: Side = L) -> AssocPlan:
    return plan_associations(None if base is None else {L: base[0], R: base[1]}, {L: cur[0], R: cur[1]},
                             {L: kl, R: kr}, winner)


def A(*ids: str, p: str | None = None) -> Assoc:
    return Assoc(frozenset(ids), p)


def test_plan_moves_removals_and_conflicts() -> None:
    # a set: added on one side, removed on the other → both apply
    plan = _ab("many", "many", (A("a", "b"), A("a", "b")), (A("a", "b", "c"), A("b")))
    assert plan.side(R).add == {"c"} and plan.side(L).remove == {"a"}
    # both sides changed one association differently: the winner's
    plan = _ab("many", "many", (A("a"), A()), (A(), A("a")), winner=R)
    assert plan.side(L).add == {"a"} and plan.conflict
    # HubSpot primary ↔ Salesforce lookup: the contact moved to another company on HubSpot
    plan = _ab("primary", "single", (A("a", p="a"), A("a", p="a")), (A("a", "b", p="b"), A("a", p="a")))
    assert plan.side(R).primary == "b" and plan.side(L).empty
    # …and on Salesforce: b becomes primary on HubSpot, the old company's association goes
    plan = _ab("primary", "single", (A("a", p="a"), A("a", p="a")), (A("a", p="a"), A("b", p="b")))
    assert plan.side(L).primary == "b" and plan.side(L).remove == {"a"} and plan.side(R).empty
    # the lookup cleared: the association it stood for is removed, the others stay
    plan = _ab("primary", "single", (A("a", "c", p="a"), A("a", p="a")), (A("a", "c", p="a"), A()))
    assert plan.side(L).remove == {"a"} and plan.side(L).primary is None
    # both changed: the winner's value
    plan = _ab("primary", "single", (A("a", p="a"), A("a", p="a")), (A("a", "b", p="b"), A("c", p="c")), winner=R)
    assert plan.side(L).primary == "c" and plan.side(L).remove == {"a"} and plan.conflict
    # no base: nothing removed, the winner's primary where the sides disagree
    plan = _ab("primary", "single", None, (A("a", "b", p="b"), A("c", p="c")), winner=L)
    assert plan.side(R).primary == "b" and not plan.side(L).remove


async def test_association_moves_and_removals_follow_both_ways() -> None:
    s, a, b = make(winner="a")
    names = ("Acme", "Globex", "Initech")
    ca = {n: a.user_create("companies", {"name": n, "domain": f"{n.lower()}.com"}) for n in names}
    ann_a = a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a.user_associate("contacts", ann_a, "companies", ca["Acme"])
    a.user_associate("contacts", ann_a, "companies", ca["Globex"])
    await s.runner("companies").run()
    await s.runner("contacts").run()
    assert assoc(b, "ann@x.com") == ["Acme", "Globex"]
    cb = {r.properties["name"]: r.id for r in b.live("companies")}
    ann_b = next(r.id for r in b.live("contacts"))
    # moved on the right (Globex → Initech), one removed on the left (Acme): both follow
    b.user_dissociate("contacts", ann_b, "companies", cb["Globex"])
    b.user_associate("contacts", ann_b, "companies", cb["Initech"])
    a.user_dissociate("contacts", ann_a, "companies", ca["Acme"])
    res = await s.runner("contacts").run(full=True)
    assert assoc(a, "ann@x.com") == assoc(b, "ann@x.com") == ["Initech"]
    assert res.counters.associated == {"left": 2, "right": 1}
    res = await s.runner("contacts").run(full=True)
    assert res.counters.associated == {"left": 0, "right": 0}
    # both sides changed the same association: the winner's (left) change stands
    a.user_dissociate("contacts", ann_a, "companies", ca["Initech"])
    b.user_associate("contacts", ann_b, "companies", cb["Acme"])
    await s.runner("contacts").run(full=True)
    assert assoc(a, "ann@x.com") == assoc(b, "ann@x.com") == ["Acme"]


async def test_a_lookup_takes_the_primary_and_moves_it() -> None:
    s, a, b = make(winner="a")
    a.association_kinds[("contacts", "companies")] = "primary"
    b.association_kinds[("contacts", "companies")] = "single"
    ca = {n: a.user_create("companies", {"name": n, "domain": f"{n.lower()}.com"}) for n in ("Acme", "Globex", "Initech")}
    ann_a = a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a.user_associate("contacts", ann_a, "companies", ca["Acme"])
    a.user_associate("contacts", ann_a, "companies", ca["Globex"], primary=True)
    await s.runner("companies").run()
    await s.runner("contacts").run()
    assert assoc(b, "ann@x.com") == ["Globex"]  # the lookup holds the primary
    cb = {r.properties["name"]: r.id for r in b.live("companies")}
    ann_b = next(r.id for r in b.live("contacts"))
    # the lookup moved on the right: Initech becomes the primary on the left, Globex goes
    b.user_associate("contacts", ann_b, "companies", cb["Initech"])
    await s.runner("contacts").run(full=True)
    assert assoc(a, "ann@x.com") == ["Acme", "Initech"]
    assert a.primaries[("contacts", "companies")][ann_a] == ca["Initech"]
    # a new primary on the left moves the lookup
    a.user_associate("contacts", ann_a, "companies", ca["Acme"], primary=True)
    await s.runner("contacts").run(full=True)
    assert assoc(b, "ann@x.com") == ["Acme"]
    # the lookup cleared: the association it held goes, the other stays
    b.user_dissociate("contacts", ann_b, "companies", cb["Acme"])
    await s.runner("contacts").run(full=True)
    assert assoc(a, "ann@x.com") == ["Initech"]
    res = await s.runner("contacts").run(full=True)
    assert res.counters.associated == {"left": 0, "right": 0}
    assert assoc(b, "ann@x.com") == []


async def test_a_failed_association_write_keeps_the_old_base() -> None:
    s, a, b = make(winner="a")
    ca = {n: a.user_create("companies", {"name": n, "domain": f"{n.lower()}.com"}) for n in ("Acme", "Globex")}
    ann_a = a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a.user_associate("contacts", ann_a, "companies", ca["Acme"])
    await s.runner("companies").run()
    await s.runner("contacts").run()
    a.user_dissociate("contacts", ann_a, "companies", ca["Acme"])
    a.user_associate("contacts", ann_a, "companies", ca["Globex"])
    real = b.dissociate

    async def refuse(*args: Any) -> list[WriteResult]:
        return [WriteResult.failure(WriteError(ErrorCategory.ASSOCIATIONS, "nope", ""), "x")]

    b.dissociate = refuse  # type: ignore[method-assign]
    await s.runner("contacts").run(full=True)
    assert assoc(b, "ann@x.com") == ["Acme", "Globex"]
    assert s.store.counts("contacts") == {"failing": 1}
    b.dissociate = real  # type: ignore[method-assign]
    await s.runner("contacts").run(full=True)  # the same removal again, from the old base
    assert assoc(b, "ann@x.com") == ["Globex"]


async def test_owed_marks_of_pairs_that_are_gone_are_forgotten() -> None:
    """A pair owed its associations (a write failed) whose record is then deleted, and a mark left
    by a link merged away since: the next pass clears both instead of looking them up forever."""
    s, a, b = make(winner="a")
    acme = a.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    globex = a.user_create("companies", {"name": "Globex", "domain": "globex.com"})
    ann = a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a.user_associate("contacts", ann, "companies", acme)
    await s.runner("companies").run()
    await s.runner("contacts").run()
    a.user_dissociate("contacts", ann, "companies", acme)
    a.user_associate("contacts", ann, "companies", globex)
    real = b.dissociate

    async def refuse(*args: Any) -> list[WriteResult]:
        return [WriteResult.failure(WriteError(ErrorCategory.ASSOCIATIONS, "nope", ""), "x")]

    b.dissociate = refuse  # type: ignore[method-assign]
    await s.runner("contacts").run()
    b.dissociate = real  # type: ignore[method-assign]
    link = s.store.links_by_record("contacts", Side.LEFT, [ann])[ann]
    assert s.store.owed_associations("contacts") == [link.id]
    s.store.owe_associations("contacts", "companies", ["merged-away-link"])
    a.user_delete("contacts", ann)
    await s.runner("contacts").run()
    assert s.store.links_by_record("contacts", Side.LEFT, [ann])[ann].category == "deleted"
    assert s.store.owed_associations("contacts") == []
