"""The per-field three-way merge, rule by rule, plus property-based invariants."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.engine.mapping import FieldMap
from accord.engine.merge import NO_BASE, merge_field
from accord.model import FieldType, Side

L, R = Side.LEFT, Side.RIGHT


def fm(rule: str = "default", to_right: bool = True, to_left: bool = True,
       lt: FieldType = FieldType.TEXT, rt: FieldType = FieldType.TEXT) -> FieldMap:
    return FieldMap("f", "g", rule, to_right, to_left, lt, rt)


def test_one_side_change_takes_that_value() -> None:
    out = merge_field(fm(), "new", "old", "old", "old", winner=R)
    assert out.write_right and out.right_value == "new" and not out.write_left and not out.conflict


def test_untouched_field_writes_nothing() -> None:
    out = merge_field(fm(), "a", "b", "a", "b", winner=L)
    assert not (out.write_left or out.write_right)


def test_conflict_goes_to_winner() -> None:
    out = merge_field(fm(), "left", "right", "base", "base", winner=R)
    assert out.conflict and out.write_left and out.left_value == "right" and not out.write_right


def test_blank_winner_never_overwrites_and_gets_filled() -> None:
    out = merge_field(fm(), None, "kept", NO_BASE, NO_BASE, winner=L)
    assert not out.write_right
    assert out.write_left and out.left_value == "kept"


def test_user_clear_on_one_side_propagates() -> None:
    out = merge_field(fm(), None, "x", "x", "x", winner=R)
    assert out.write_right and out.right_value is None


def test_two_way_rule_most_recent_wins_including_blanks() -> None:
    out = merge_field(fm("two-way"), None, "r", "b", "b", winner=R, newer=L)
    assert out.write_right and out.right_value is None


def test_prefer_left_unless_blank() -> None:
    m = fm("prefer-left-unless-blank")
    assert merge_field(m, "l", "r", "l", "r", winner=R).right_value == "l"
    out = merge_field(m, None, "r", None, "r", winner=R)
    assert out.write_left and out.left_value == "r" and not out.write_right


def test_prefer_right_unless_blank() -> None:
    out = merge_field(fm("prefer-right-unless-blank"), "l", "r", "l", "r", winner=L)
    assert out.write_left and out.left_value == "r"


def test_always_left_clears_the_right() -> None:
    out = merge_field(fm("always-left"), None, "r", "x", "r", winner=R)
    assert out.write_right and out.right_value is None and not out.write_left


def test_always_right() -> None:
    out = merge_field(fm("always-right"), "l", "r", "l", "r", winner=L)
    assert out.write_left and out.left_value == "r" and not out.write_right


def test_fill_blanks_only_never_overwrites() -> None:
    m = fm("fill-blanks-only")
    assert not merge_field(m, "changed", "existing", "old", "existing", winner=L).write_right
    out = merge_field(m, "value", None, "value", None, winner=R)
    assert out.write_right and out.right_value == "value"


def test_none_rule_does_nothing() -> None:
    out = merge_field(fm("none"), "a", "b", NO_BASE, NO_BASE, winner=L)
    assert out == merge_field(fm("none"), "x", "y", "z", "w", winner=R)
    assert not (out.write_left or out.write_right)


def test_number_to_text_converts() -> None:
    m = fm(lt=FieldType.NUMBER, rt=FieldType.TEXT, to_left=False)
    out = merge_field(m, 12.0, None, NO_BASE, NO_BASE, winner=L)
    assert out.right_value == "12"


def test_enum_value_map() -> None:
    m = FieldMap("stage", "Stage", "default", True, True, FieldType.ENUM, FieldType.ENUM,
                 lr_values={"won": "Closed Won"}, rl_values={"Closed Won": "won"})
    assert merge_field(m, "won", "Open", "open", "Open", winner=L).right_value == "Closed Won"
    assert merge_field(m, "open", "Closed Won", "open", "Open", winner=L).left_value == "won"


values = st.one_of(st.none(), st.sampled_from(["a", "b", "c", ""]))
rules = st.sampled_from(["default", "two-way"])
sides = st.sampled_from([L, R])


@given(old=values, new=values, rule=rules, winner=sides, changed=sides)
def test_property_change_on_one_side_ends_on_both(old: str | None, new: str | None, rule: str, winner: Side, changed: Side) -> None:
    """A field changed on one side only always ends with that value on both sides."""
    left, right = (new, old) if changed is L else (old, new)
    out = merge_field(fm(rule), left, right, old, old, winner=winner)
    final_l = out.left_value if out.write_left else left
    final_r = out.right_value if out.write_right else right
    assert (final_l or None) == (final_r or None) == (new or None)


@given(l=values, r=values, bl=values, br=values, rule=st.sampled_from(
    ["default", "two-way", "prefer-left-unless-blank", "prefer-right-unless-blank", "always-left", "always-right",
     "fill-blanks-only", "none"]), winner=sides, newer=st.one_of(st.none(), sides))
def test_property_one_way_never_writes_source(l, r, bl, br, rule, winner, newer) -> None:  # type: ignore[no-untyped-def]
    """With a left-to-right mapping the left side is never written, whatever the rule."""
    out = merge_field(fm(rule, to_right=True, to_left=False), l, r, bl, br, winner=winner, newer=newer)
    assert not out.write_left


@given(l=values, r=values, rule=st.sampled_from(
    ["default", "two-way", "prefer-left-unless-blank", "prefer-right-unless-blank", "always-left", "always-right",
     "fill-blanks-only"]), winner=sides)
def test_property_merge_converges_in_one_step(l, r, rule, winner) -> None:  # type: ignore[no-untyped-def]
    """After applying a merge, merging again with the results as bases writes nothing."""
    m = fm(rule)
    out = merge_field(m, l, r, NO_BASE, NO_BASE, winner=winner)
    nl = out.left_value if out.write_left else l
    nr = out.right_value if out.write_right else r
    again = merge_field(m, nl, nr, nl, nr, winner=winner)
    assert not (again.write_left or again.write_right)


@given(l=values, r=values, rule=st.sampled_from(["default", "two-way"]), winner=sides, newer=st.one_of(st.none(), sides))
def test_property_untouched_field_produces_no_write(l, r, rule, winner, newer) -> None:  # type: ignore[no-untyped-def]
    """Both sides equal to their bases: nothing to write, whatever the values and the winner."""
    out = merge_field(fm(rule), l, r, l, r, winner=winner, newer=newer)
    assert not (out.write_left or out.write_right or out.conflict)


# -- no base for the mapping (new pair, new or repointed mapping): nothing may be lost ------------------------
RULES = ("default", "two-way", "always-left", "always-right", "prefer-left-unless-blank",
         "prefer-right-unless-blank", "fill-blanks-only", "fill-blanks-only-left", "fill-blanks-only-right")
values = st.one_of(st.none(), st.sampled_from(["", "a", "b"]))


@given(rule=st.sampled_from(RULES), left=values, right=values, base=values, missing=st.sampled_from(["l", "r", "both"]),
       winner=st.sampled_from([L, R]), newer=st.sampled_from([L, R, None]))
def test_without_a_base_a_blank_never_overwrites_and_the_winner_keeps_its_value(
        rule: str, left: str | None, right: str | None, base: str | None, missing: str, winner: Side,
        newer: Side | None) -> None:
    """The repointed-mapping bug: one side's base under the old mapping made an empty new field
    look like a deliberate clear. With either base missing, the merge is an initial one."""
    bl = NO_BASE if missing in ("l", "both") else base
    br = NO_BASE if missing in ("r", "both") else base
    out = merge_field(fm(rule), left, right, bl, br, winner=winner, newer=newer)
    guarded = {"fill-blanks-only": {L, R}, "fill-blanks-only-left": {L}, "fill-blanks-only-right": {R}}.get(rule, set())
    for side, wrote, value, current in ((L, out.write_left, out.left_value, left),
                                        (R, out.write_right, out.right_value, right)):
        if wrote:
            assert value not in (None, ""), "a blank overwrote a value"
            assert side not in guarded or current in (None, ""), "a guarded value was overwritten"
    pref = {"always-left": L, "prefer-left-unless-blank": L, "always-right": R, "prefer-right-unless-blank": R}
    keeper = pref.get(rule, winner)
    kept = left if keeper is L else right
    if kept not in (None, "") and rule not in ("fill-blanks-only", "fill-blanks-only-left", "fill-blanks-only-right"):
        assert not (out.write_left if keeper is L else out.write_right), "the winner's non-blank value was replaced"


def test_no_base_on_one_side_only_is_an_initial_merge() -> None:
    # left's base from the old mapping, none on the right (a repointed mapping, empty new field)
    out = merge_field(fm(), "555", None, "555", NO_BASE, winner=L)
    assert out.write_right and out.right_value == "555" and not out.write_left
    out = merge_field(fm(), "555", None, "555", NO_BASE, winner=R)
    assert out.write_right and out.right_value == "555" and not out.write_left


def test_always_rule_does_not_clear_with_a_blank_that_never_held_a_value() -> None:
    out = merge_field(fm("always-right", to_right=False), "kept", None, "kept", None, winner=R)
    assert not (out.write_left or out.write_right)
    out = merge_field(fm("always-right", to_right=False), "x", None, "x", "was", winner=R)
    assert out.write_left and out.left_value is None  # a real clear still propagates
