"""The delete guard (accord.runner.deletes) on two memory apps: deletes under the limit are carried
out as before, a mass delete is held (surviving a restart) until confirmed, and a confirmation
covers only the deletes held at that moment."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.config import DeleteGuard, config_hash, parse_config
from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.index.holds import HoldChanged, NotConfirmable
from accord.model import DeletesHeld, Side
from accord.runner import SyncRunner
from helpers import Pair, person

L, R = Side.LEFT, Side.RIGHT


def _pair(n: int, tmp: Path | None = None, **kw: object) -> tuple[Pair, list[str]]:
    p = Pair(f"sqlite:///{tmp}/index.db" if tmp else "sqlite://", deletes="propagate", **kw)
    ids = [p.left.user_create("contacts", person(f"P{i}", "Pair", f"p{i}@x.com")) for i in range(n)]
    return p, ids


def _restore(app: MemoryApp, rid: str) -> None:
    """Undo a user's delete (a restore from the app's recycle bin)."""
    app.user_update("contacts", rid, {})
    app.objects["contacts"].records[rid]["archived"] = False


def test_the_limit_is_a_share_of_the_linked_pairs_with_a_floor() -> None:
    g = DeleteGuard()
    assert (g.share, g.floor) == (0.10, 25)
    assert [g.limit(n) for n in (0, 100, 250, 251, 1000, 10_000)] == [25, 25, 25, 25, 100, 1000]
    assert DeleteGuard(share="5%").share == 0.05  # type: ignore[arg-type]
    base = {"name": "s", "left": {"app": "a", "object": "c"}, "right": {"app": "b", "object": "c"}}
    apps = {"a": {"type": "memory"}, "b": {"type": "memory"}}
    plain = parse_config({"apps": apps, "syncs": [base]}, env={}).syncs[0]
    tuned = parse_config({"apps": apps, "syncs": [{**base, "delete_guard": {"share": "2%", "floor": 5}}]},
                         env={}).syncs[0]
    assert tuned.delete_guard.limit(1000) == 20
    assert config_hash(plain) == config_hash(tuned)  # tuning the guard never restarts the initial sync


@pytest.mark.parametrize("full", [False, True])
async def test_a_small_delete_under_the_limit_is_carried_out_as_before(full: bool) -> None:
    p, ids = _pair(60)
    await p.run()
    for rid in ids[:25]:  # 25 of 60: the floor
        p.left.user_delete("contacts", rid)
    res = await p.run(full=full)
    assert res.counters.archived["right"] == 25 and len(p.right.live("contacts")) == 35
    assert p.store.deletes_hold("contacts") is None
    assert (p.link_of("left", ids[0]).status, p.link_of("left", ids[0]).reason) == ("excluded", "deleted")
    assert p.status() == {"syncing": 35, "excluded": 25}


@pytest.mark.parametrize("full", [False, True])
async def test_a_mass_delete_is_held_until_confirmed_and_survives_a_restart(tmp_path: Path, full: bool) -> None:
    p, ids = _pair(60, tmp_path)
    await p.run()
    for rid in ids[:26]:  # one more than the floor
        p.left.user_delete("contacts", rid)
    with pytest.raises(DeletesHeld) as held:
        await p.run(full=full)
    assert len(p.right.live("contacts")) == 60  # nothing deleted
    hold = held.value.hold
    assert (hold["kind"], hold["category"], hold["count"], hold["targets"]) == ("mass", "mass_delete", 26,
                                                                                {"left": 0, "right": 26})
    assert "26 deletes held" in str(held.value) and "accord sync --sync contacts --confirm-deletes" in held.value.hint
    link = p.link_of("left", ids[0])
    assert (link.status, link.reason, link.left_deleted) == ("queued", "delete_held", True)
    assert p.store.runs("contacts", limit=1)[0]["status"] == "failed"

    # a restart: a new process opens the index; the hold is still there and still holds
    p.store.close()
    p.store = Store(f"sqlite:///{tmp_path}/index.db")
    p.runner = SyncRunner(p.cfg, p.store, p.left, p.right)
    assert p.store.deletes_hold("contacts")["count"] == 26  # type: ignore[index]
    p.right.user_update("contacts", p.right.live("contacts")[-1].id, {"phone": "1"})  # other changes still sync
    with pytest.raises(DeletesHeld):
        await p.run()
    assert len(p.right.live("contacts")) == 60 and p.link_of("left", ids[-1]).status == "syncing"

    res = await p.runner.run(confirm_deletes=True)
    assert res.confirmed is not None and res.confirmed["confirmed"] == 26
    assert res.counters.archived["right"] == 26 and len(p.right.live("contacts")) == 34
    assert p.store.deletes_hold("contacts") is None
    assert p.status() == {"syncing": 34, "excluded": 26}

    # the confirmation was for those 26: a later mass delete is held again
    for rid in ids[26:56]:
        p.left.user_delete("contacts", rid)
    with pytest.raises(DeletesHeld):
        await p.run()
    assert len(p.right.live("contacts")) == 34


async def test_a_confirmation_covers_the_deletes_held_then_not_those_found_after() -> None:
    p, ids = _pair(100)
    await p.run()
    for rid in ids[:30]:
        p.left.user_delete("contacts", rid)
    with pytest.raises(DeletesHeld) as first:
        await p.run()
    shown = first.value.hold["id"]
    for rid in ids[30:33]:  # more deletes while the first ones wait: they join the hold
        p.left.user_delete("contacts", rid)
    with pytest.raises(DeletesHeld) as second:
        await p.run()
    assert second.value.hold["count"] == 33 and second.value.hold["id"] != shown
    with pytest.raises(HoldChanged):  # confirming what the admin saw before is refused: they look again
        p.store.confirm_deletes("contacts", shown)
    assert p.store.confirm_deletes("contacts", second.value.hold["id"])["confirmed"] == 33
    for rid in ids[33:36]:  # found after the confirmation: counted afresh (3 ≤ 25: carried out)
        p.left.user_delete("contacts", rid)
    res = await p.run()
    assert res.counters.archived["right"] == 36 and len(p.right.live("contacts")) == 64
    with pytest.raises(NotConfirmable):
        p.store.confirm_deletes("contacts")


async def test_records_that_come_back_lift_the_hold_and_confirmed_deletes_skip_them() -> None:
    p, ids = _pair(60)
    await p.run()
    for rid in ids[:30]:
        p.left.user_delete("contacts", rid)
    with pytest.raises(DeletesHeld):
        await p.run()
    for rid in ids[:29]:  # an admin restores them (the deletes were a mistake) …
        _restore(p.left, rid)
    p.store.confirm_deletes("contacts")  # … while another one confirms what was held
    res = await p.run(full=True)
    # only the one still deleted is carried out; the others sync again
    assert res.counters.archived["right"] == 1 and len(p.right.live("contacts")) == 59
    assert not p.link_of("left", ids[0]).left_deleted and p.link_of("left", ids[0]).status == "syncing"
    p.left.user_update("contacts", ids[0], {"phone": "42"})
    await p.run()
    assert next(r for r in p.right.live("contacts") if r.properties["email"] == "p0@x.com").properties["phone"] == "42"

    for rid in ids[30:60]:
        p.left.user_delete("contacts", rid)
    with pytest.raises(DeletesHeld):
        await p.run()
    for rid in ids[30:60]:
        _restore(p.left, rid)
    await p.run(full=True)  # all of them back: nothing left to hold
    assert p.store.deletes_hold("contacts") is None and len(p.right.live("contacts")) == 59


async def test_deletes_mark_are_never_held() -> None:
    p = Pair(deletes="mark")
    ids = [p.left.user_create("contacts", person(f"P{i}", "Pair", f"p{i}@x.com")) for i in range(40)]
    await p.run()
    for rid in ids:
        p.left.user_delete("contacts", rid)
    await p.run()  # marking writes nothing to the apps: no guard needed
    assert p.store.deletes_hold("contacts") is None and len(p.right.live("contacts")) == 40
    assert p.status() == {"failing": 40}


async def test_the_share_counts_above_the_floor() -> None:
    p, ids = _pair(300, delete_guard={"share": 0.1, "floor": 5})
    await p.run()
    for rid in ids[:30]:  # 10 % of 300
        p.left.user_delete("contacts", rid)
    assert (await p.run()).counters.archived["right"] == 30
    for rid in ids[30:58]:  # 28 > 10 % of the 270 pairs left
        p.left.user_delete("contacts", rid)
    with pytest.raises(DeletesHeld) as held:
        await p.run()
    assert (held.value.hold["limit"], held.value.hold["pairs"]) == (27, 270)
