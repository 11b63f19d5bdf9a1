"""``fill-blanks-only-left``/``-right``: one app's existing values are never overwritten, while
edits made in that app still flow to the other (xentral's rule for data coming from HubSpot)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.engine.mapping import FieldMap
from accord.engine.merge import NO_BASE, merge_field
from accord.engine.values import is_blank
from accord.model import FieldType, Side
from helpers import Pair, by_email, person

L, R = Side.LEFT, Side.RIGHT


def fm(rule: str) -> FieldMap:
    return FieldMap("f", "g", rule, True, True, FieldType.TEXT, FieldType.TEXT)


def test_a_change_in_the_other_app_never_overwrites_the_guarded_value() -> None:
    out = merge_field(fm("fill-blanks-only-right"), "new", "kept", "old", "kept", winner=L)
    assert not (out.write_left or out.write_right)


def test_a_clear_in_the_other_app_never_clears_the_guarded_value() -> None:
    out = merge_field(fm("fill-blanks-only-right"), None, "kept", "old", "kept", winner=L)
    assert not out.write_right


def test_the_guarded_blank_is_filled() -> None:
    out = merge_field(fm("fill-blanks-only-right"), "value", None, NO_BASE, NO_BASE, winner=L)
    assert out.write_right and out.right_value == "value"


def test_an_edit_in_the_guarded_app_still_flows_out() -> None:
    out = merge_field(fm("fill-blanks-only-right"), "old", "edited", "old", "old", winner=L)
    assert out.write_left and out.left_value == "edited" and not out.write_right
    out = merge_field(fm("fill-blanks-only-left"), "edited", "old", "old", "old", winner=R)
    assert out.write_right and out.right_value == "edited" and not out.write_left


def test_a_first_match_keeps_the_guarded_value_and_the_winner_settles_the_rest() -> None:
    # never synced, both set: the winner (left) may not overwrite the guarded right …
    out = merge_field(fm("fill-blanks-only-right"), "l", "r", NO_BASE, NO_BASE, winner=L)
    assert not (out.write_left or out.write_right)
    # … and when the guarded side wins, its value goes to the other app as usual
    out = merge_field(fm("fill-blanks-only-right"), "l", "r", NO_BASE, NO_BASE, winner=R)
    assert out.write_left and out.left_value == "r"


values = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
bases = st.one_of(st.just(NO_BASE), values)


@given(l=values, r=values, bl=bases, br=bases, winner=st.sampled_from([L, R]),
       newer=st.one_of(st.none(), st.sampled_from([L, R])), guarded=st.sampled_from([L, R]))
def test_property_a_non_blank_guarded_value_is_never_written(l, r, bl, br, winner, newer, guarded) -> None:  # type: ignore[no-untyped-def]
    rule = "fill-blanks-only-left" if guarded is L else "fill-blanks-only-right"
    out = merge_field(fm(rule), l, r, bl, br, winner=winner, newer=newer)
    current, written = (l, out.write_left) if guarded is L else (r, out.write_right)
    assert not (written and not is_blank(current))


async def test_through_the_runner_guarded_values_are_kept_and_edits_flow_out() -> None:
    p = Pair(winner="a", mappings=[{"left": "phone", "right": "phone", "rule": "fill-blanks-only-right"},
                                   {"left": "city", "right": "city", "rule": "fill-blanks-only-right"}])
    lid = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="from-left", city="Rome"))
    rid = p.right.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="existing", city=None))
    await p.run()
    right = by_email(p.right)["ann@x.com"]
    assert (right["phone"], right["city"]) == ("existing", "Rome")  # kept; the blank filled
    p.left.user_update("contacts", lid, {"phone": "changed-left"})
    await p.run()
    assert by_email(p.right)["ann@x.com"]["phone"] == "existing"
    p.right.user_update("contacts", rid, {"phone": "edited-right"})
    await p.run()
    assert by_email(p.left)["ann@x.com"]["phone"] == "edited-right"


def test_catalog_defaults_carry_the_rule_and_a_restated_default_keeps_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from accord import catalog
    from accord.config import SyncConfig
    from accord.engine.mapping import compile_sync
    from accord.model import FieldSchema, ObjectSchema

    base = catalog.OBJECTS[("memory", "contacts")]
    monkeypatch.setitem(catalog.OBJECTS, ("memory", "guarded"),
                        catalog.ObjectInfo(base.kind, base.concepts, fill_blanks=frozenset({"email", "phone"})))
    rules = {d.concept: d.rule for d in catalog.default_mappings("memory", "contacts", "memory", "guarded")}
    assert rules["phone"] == rules["email"] == "fill-blanks-only-right" and rules["city"] is None

    schema = ObjectSchema("x", {f: FieldSchema(f, FieldType.TEXT) for f in base.concepts.values()})
    body = {"name": "s", "left": {"app": "a", "object": "contacts"}, "right": {"app": "b", "object": "guarded"}}
    for mappings, phone_rule in (([], "fill-blanks-only-right"),
                                 ([{"left": "phone", "right": "phone"}], "fill-blanks-only-right"),
                                 ([{"left": "phone", "right": "phone", "rule": "two-way"}], "two-way")):
        spec, issues = compile_sync(SyncConfig.model_validate({**body, "mappings": mappings}), "memory", "memory",
                                    schema, schema)
        assert not issues
        got = {m.left: m.rule for m in spec.mappings}
        assert got["phone"] == phone_rule and got["email"] == "fill-blanks-only-right" and got["city"] == "default"
