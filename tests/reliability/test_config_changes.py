"""Config changes an admin makes every day never lose a value (issue #16, point 1).

Bases are kept per mapping (both fields, and what decides how values cross), so a mapping
that is new, repointed, re-ruled or turned one way has no base and merges as an initial
sync does: the winner's non-blank value wins, a blank never overwrites a value, a value
fills a blank. Each test changes the config between passes, as the setup flow or an edit of
accord.yaml does, and checks every value a user entered is still there.
"""

from __future__ import annotations

from typing import Any

import pytest

from accord.model import ConnectorError, Side
from helpers import Pair, by_email, person

REQUIRED = [{"left": f, "right": f} for f in ("first_name", "last_name", "email")]


def maps(*pairs: tuple[str, str] | dict[str, Any]) -> dict[str, Any]:
    """Config overrides for exactly these mappings (plus the required ones): no other default."""
    extra = [p if isinstance(p, dict) else {"left": p[0], "right": p[1]} for p in pairs]
    return {"defaults": False, "mappings": REQUIRED + extra}


def _rid(app: Any, email: str) -> str:
    return next(r.id for r in app.live("contacts") if r.properties["email"] == email)


async def _synced_pair(**cfg: Any) -> Pair:
    p = Pair(**cfg)
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="111", city="Oslo"))
    p.left.user_create("contacts", person("Bob", "Ray", "bob@x.com", phone="222"))
    p.right.user_create("contacts", person("Cy", "Do", "cy@x.com", phone="333", notes="n-cy"))
    await p.run()
    return p


@pytest.mark.parametrize("winner", ["a", "b"])
async def test_repointed_mapping_keeps_the_winners_values_and_fills_the_new_field(winner: str) -> None:
    """phone ↔ phone repointed to phone ↔ notes (empty on the right): before the fix the empty
    new field counted as a deliberate clear and blanked ``phone`` on every left record."""
    p = await _synced_pair(winner=winner, **maps(("phone", "phone")))
    assert by_email(p.right)["ann@x.com"]["phone"] == "111"
    p.reconfigure(winner=winner, **maps(("phone", "notes")))
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    cy = "333" if winner == "a" else "n-cy"  # both non-blank: the winner's value wins
    assert {e: left[e]["phone"] for e in left} == {"ann@x.com": "111", "bob@x.com": "222", "cy@x.com": cy}
    # the left values fill the empty notes; nothing is cleared on either side
    assert {e: right[e]["notes"] for e in right} == {"ann@x.com": "111", "bob@x.com": "222", "cy@x.com": cy}
    assert {e: right[e]["phone"] for e in right} == {"ann@x.com": "111", "bob@x.com": "222", "cy@x.com": "333"}
    again = await p.run(full=True)
    assert sum(again.counters.updated.values()) == 0, "a second pass after the change still wrote"


async def test_swapped_mappings_converge_to_the_winner_without_blanks() -> None:
    p = await _synced_pair(winner="a", **maps(("phone", "phone"), ("city", "city")))
    p.reconfigure(winner="a", **maps(("phone", "city"), ("city", "phone")))
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    assert (left["ann@x.com"]["phone"], right["ann@x.com"]["city"]) == ("111", "111")
    assert (left["ann@x.com"]["city"], right["ann@x.com"]["phone"]) == ("Oslo", "Oslo")
    # bob has no city on the left: the right's phone fills it instead of being cleared
    assert (left["bob@x.com"]["city"], right["bob@x.com"]["phone"]) == ("222", "222")


async def test_removed_then_restored_mapping_never_takes_a_blank_for_a_clear() -> None:
    p = await _synced_pair(winner="b", **maps(("phone", "phone"), ("city", "city")))
    p.reconfigure(winner="b", **maps(("city", "city")))
    await p.run()
    # while phone is not synced, the right (the winner) clears it and the left edits it
    p.right.user_update("contacts", _rid(p.right, "ann@x.com"), {"phone": None})
    p.left.user_update("contacts", _rid(p.left, "bob@x.com"), {"phone": "222-new"})
    await p.run()
    p.reconfigure(winner="b", **maps(("phone", "phone"), ("city", "city")))
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    # no base for the restored mapping: the winner's blank never overwrites, the loser's value fills it
    assert left["ann@x.com"]["phone"] == right["ann@x.com"]["phone"] == "111"
    assert right["bob@x.com"]["phone"] == "222", "the winner's non-blank value wins"
    assert left["bob@x.com"]["phone"] == "222"


@pytest.mark.parametrize("rule", ["fill-blanks-only", "none", "always-right"])
async def test_re_ruled_mapping_converges_without_losing_values(rule: str) -> None:
    p = await _synced_pair(winner="a", **maps({"left": "phone", "right": "phone", "rule": rule}))
    p.left.user_update("contacts", _rid(p.left, "ann@x.com"), {"phone": "111-l"})
    p.right.user_update("contacts", _rid(p.right, "bob@x.com"), {"phone": None})
    await p.run()
    p.reconfigure(winner="a", **maps(("phone", "phone")))
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    for email in ("ann@x.com", "bob@x.com", "cy@x.com"):
        assert left[email].get("phone") == right[email].get("phone"), email
        assert left[email].get("phone") is not None, f"{email}: a value was lost"
    assert left["ann@x.com"]["phone"] == "111-l"


async def test_direction_round_trip_keeps_target_edits_and_converges() -> None:
    p = await _synced_pair(winner="a")
    p.reconfigure(winner="a", direction="left-to-right")
    await p.run()
    # one-way: the target's own edit is not carried back, and not overwritten until the source changes
    p.right.user_update("contacts", _rid(p.right, "ann@x.com"), {"city": "Bergen"})
    p.right.user_update("contacts", _rid(p.right, "bob@x.com"), {"city": "Turku"})
    await p.run()
    assert by_email(p.left)["bob@x.com"].get("city") is None
    p.reconfigure(winner="a", direction="two-way")
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    assert left["ann@x.com"]["city"] == right["ann@x.com"]["city"] == "Oslo", "the winner's value wins"
    assert left["bob@x.com"]["city"] == right["bob@x.com"]["city"] == "Turku", "a value fills a blank"


async def test_value_map_change_re_merges_the_field() -> None:
    p = Pair(winner="b", **maps(("lead_status", "lead_status")))
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com", lead_status="open"))
    await p.run()
    assert by_email(p.right)["ann@x.com"]["lead_status"] == "open"
    p.reconfigure(winner="b", **maps({"left": "lead_status", "right": "lead_status",
                                      "values": {"open": "in_progress", "new": "new"}}))
    await p.run()
    # under the new map "open" means "in_progress" on the right; the right (the winner) holds
    # "open", which maps back to "open": nothing is cleared, the pair ends equal under the map
    left, right = by_email(p.left), by_email(p.right)
    assert left["ann@x.com"]["lead_status"] is not None and right["ann@x.com"]["lead_status"] is not None


async def test_config_restart_writes_nothing_the_old_config_agreed_on() -> None:
    p = await _synced_pair(winner="a")
    writes = (p.left.writes, p.right.writes)
    p.reconfigure(winner="b", filters={"left": [{"field": "city", "op": "set"}]})
    res = await p.run()
    assert res.kind == "initial"
    assert (p.left.writes, p.right.writes) == writes, "the restarted initial sync rewrote agreed values"


async def test_disable_edit_enable_merges_three_way() -> None:
    p = await _synced_pair(winner="a")
    p.store.set_enabled("contacts", False)
    p.right.user_update("contacts", _rid(p.right, "ann@x.com"), {"phone": None})  # a clear in the loser
    p.left.user_update("contacts", _rid(p.left, "bob@x.com"), {"city": "Riga"})
    p.store.set_enabled("contacts", True)
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    assert left["ann@x.com"]["phone"] is None and right["ann@x.com"]["phone"] is None, "a clear is a change"
    assert right["bob@x.com"]["city"] == "Riga"


async def test_bases_are_keyed_by_mapping() -> None:
    p = await _synced_pair(winner="a", mappings=[{"left": "phone", "right": "notes"}], )
    link = p.link_of("left", _rid(p.left, "ann@x.com"))
    assert link.left_base["phone|notes"] == link.right_base["phone|notes"] == "111"
    assert link.left_base["email|email"] == "ann@x.com" and "phone|phone" not in link.left_base
    assert p.link_of(Side.RIGHT.value, _rid(p.right, "cy@x.com")).right_base is not None


def _as_before_0005(p: Pair) -> None:
    """Turn the index into one written before bases were keyed by mapping (keys = field names)."""
    from sqlalchemy import update

    from accord.index.schema import links, syncs

    for chunk in p.store.iter_links("contacts"):
        with p.store.engine.begin() as c:
            for lk in chunk:
                old = {s: {k.split("|")[0 if s == "left" else 1]: v for k, v in (b or {}).items()} if b is not None
                       else None for s, b in (("left", lk.left_base), ("right", lk.right_base))}
                c.execute(update(links).where(links.c.id == lk.id).values(left_base=old["left"], right_base=old["right"]))
    with p.store.engine.begin() as c:
        c.execute(update(syncs).values(base_keys=None))


async def test_an_index_keyed_by_field_is_rekeyed_and_keeps_three_way_merges() -> None:
    p = await _synced_pair(winner="a", **maps(("phone", "phone"), ("city", "city")))
    _as_before_0005(p)
    assert "phone" in p.link_of("left", _rid(p.left, "ann@x.com")).left_base
    # a clear in the loser since the last pass: a change only the three-way merge recognises
    p.right.user_update("contacts", _rid(p.right, "ann@x.com"), {"phone": None})
    p.runner = type(p.runner)(p.cfg, p.store, p.left, p.right)  # the upgraded process
    await p.run()
    assert by_email(p.left)["ann@x.com"]["phone"] is None, "the clear was lost in the upgrade"
    assert p.store.sync_state("contacts").bases_keyed
    assert set(p.link_of("left", _rid(p.left, "bob@x.com")).left_base) >= {"phone|phone", "city|city"}


async def test_an_index_keyed_by_field_under_a_changed_config_merges_as_new() -> None:
    p = await _synced_pair(winner="b", **maps(("phone", "phone")))
    _as_before_0005(p)
    p.reconfigure(winner="b", **maps(("phone", "notes")))  # changed while upgrading: old bases are not this mapping's
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    assert left["ann@x.com"]["phone"] == right["ann@x.com"]["notes"] == "111"
    assert p.store.sync_state("contacts").bases_keyed


# Found by the convergence fuzzer's operator actions (tests/reliability/convergence.py): phase 1
# of a scan indexed a new left record against left key owners only.
@pytest.mark.parametrize("cfg", [{"direction": "left-to-right"}, {"filters": {"right": [{"field": "city", "op": "set"}]}}],
                         ids=["one-way target", "filtered"])
async def test_a_restarted_scan_links_a_twin_of_a_record_indexed_unpaired(cfg: dict[str, Any]) -> None:
    p = Pair(winner="b", **cfg)
    p.right.user_create("contacts", person("Rae", "Roe", "c5@x.com", phone="1"))
    await p.run()  # the right record is indexed for matching only: not created in the left app
    p.left.user_create("contacts", person("Lee", "Loe", "c5@x.com", city="Oslo"))  # its twin
    p.reconfigure(winner="a", **cfg)  # a saved config change: the next pass restarts the initial sync
    res = await p.run()
    assert res.kind == "initial"
    assert p.status() == {"syncing": 1}, "the twins were not linked"
    assert len(p.right.live("contacts")) == 1
    assert by_email(p.right)["c5@x.com"]["city"] == "Oslo"


async def test_a_one_way_delete_whose_archive_died_is_carried_out_by_the_restarted_scan() -> None:
    p = await _synced_pair(winner="a")
    p.reconfigure(winner="a", direction="right-to-left")  # one-way: the source's deletes propagate
    await p.run()
    cy = _rid(p.right, "cy@x.com")
    p.right.user_delete("contacts", cy)
    p.left.fail_after_writes = p.left.writes  # the pass dies sending the archive (a crash, a time-out)
    with pytest.raises(ConnectorError):
        await p.run()
    p.left.fail_after_writes = None
    p.reconfigure(winner="b", direction="right-to-left")  # saved again: the next pass restarts the initial sync
    await p.run()
    await p.run()
    assert "cy@x.com" not in by_email(p.left), "the source's delete never reached the target"
    assert p.link_of("right", cy).status != "syncing"


async def test_a_mapping_restored_after_a_died_pass_merges_as_new() -> None:
    p = Pair(winner="a", **maps(("phone", "phone"), ("city", "city")))
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="111", city="Oslo"))
    p.left.user_create("contacts", person("Bob", "Ray", "bob@x.com", phone="222", city="Rome"))
    await p.run()
    p.reconfigure(winner="a", **maps(("phone", "city"), ("city", "phone")))  # swapped
    p.right.fail_after_writes = p.right.writes + 1  # ann's update lands, the pass dies on bob's
    with pytest.raises(ConnectorError):
        await p.run()
    p.right.fail_after_writes = None
    assert by_email(p.right)["ann@x.com"]["phone"] == "Oslo"  # written under the swapped mappings
    p.reconfigure(winner="a", **maps(("phone", "phone"), ("city", "city")))  # swapped back
    await p.run()
    left, right = by_email(p.left), by_email(p.right)
    # no base under the restored mappings since ann's pair was planned without them: the winner's
    # values win; a kept base from before the swap took the engine's own writes for user edits
    assert (left["ann@x.com"]["phone"], left["ann@x.com"]["city"]) == ("111", "Oslo")
    assert (right["ann@x.com"]["phone"], right["ann@x.com"]["city"]) == ("111", "Oslo")


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_deletes_marked_before_stay_marked_when_deletes_become_propagate(full: bool) -> None:
    """``deletes: mark`` kept a contact whose twin was deleted; the admin then switches to
    ``propagate``. That applies to deletes found from then on: an edit of the kept contact
    must not delete it (it did: the edit replanned the pair under the new setting)."""
    p = await _synced_pair(winner="a", deletes="mark")
    p.right.user_delete("contacts", _rid(p.right, "ann@x.com"))
    await p.run()
    kept = _rid(p.left, "ann@x.com")
    assert p.link_of("left", kept).status == "failing"
    p.reconfigure(winner="a", deletes="propagate")
    await p.run()
    p.left.user_update("contacts", kept, {"city": "Rome"})
    await p.run(full=full)
    assert by_email(p.left)["ann@x.com"]["city"] == "Rome", "a delete marked before was propagated by an edit"
    link = p.link_of("left", kept)
    assert (link.status, link.category) == ("failing", "deleted")
    # a delete found from now on propagates
    p.right.user_delete("contacts", _rid(p.right, "bob@x.com"))
    await p.run(full=full)
    assert "bob@x.com" not in by_email(p.left)
