"""Per-field three-way merge against the base of the last sync (SPEC §2, Conflicts).

For every mapped field the engine knows three values per side: the base (what that side
held after the last sync), and the current value. Comparing each side with its own base
tells *who changed what*; only a field changed on both sides is a conflict, and only
conflicts consult the winner app or the per-mapping rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from accord.engine.mapping import FieldMap
from accord.engine.values import canon, convert, is_blank
from accord.model import Side, Value


class _NoBase:
    """Marks a pair that was never synced: every field counts as changed on both sides."""

    def __repr__(self) -> str:
        return "NO_BASE"


NO_BASE: Final = _NoBase()


@dataclass(frozen=True, slots=True)
class FieldOutcome:
    write_left: bool = False
    write_right: bool = False
    left_value: Value = None  # value to write (when write_left)
    right_value: Value = None
    conflict: bool = False
    error: str | None = None  # a value that cannot be converted to the target type


NOTHING: Final = FieldOutcome()


def _to(m: FieldMap, value: Value, dst: Side) -> Value:
    if m.plain:  # most mappings: skip convert's type dispatch (this runs per field of every linked pair)
        return canon(value)
    src = dst.other
    return canon(convert(value, m.type(src), m.type(dst), m.values_to(dst)))


def _push(m: FieldMap, value: Value, dst: Side, current_dst: Value) -> FieldOutcome:
    """Write ``value`` (from the other side) to ``dst`` if the mapping flows there and it differs."""
    if not m.flows_to(dst):
        return NOTHING
    try:
        v = _to(m, value, dst)
    except (ValueError, TypeError) as e:
        return FieldOutcome(error=f"{m.field(dst.other)} → {m.field(dst)}: {e}")
    if v == canon(current_dst) or not m.accepts(dst, v):
        return NOTHING  # no counterpart among the target's options: the field keeps its value
    if dst is Side.LEFT:
        return FieldOutcome(write_left=True, left_value=v)
    return FieldOutcome(write_right=True, right_value=v)


def _agree(m: FieldMap, left: Value, right: Value) -> bool:
    """Both sides hold the same value under the mapping (in either direction it flows)."""
    try:
        if m.to_right:
            return bool(_to(m, left, Side.RIGHT) == canon(right))
        return bool(_to(m, right, Side.LEFT) == canon(left))
    except (ValueError, TypeError):
        return False


# Rules whose outcome depends on who changed what since the base (or that overwrite): without a
# base for this exact mapping they merge as an initial sync does. ``prefer-*-unless-blank`` and
# ``fill-blanks-only`` never let a blank overwrite a value anyway and need no special case.
_BASED_RULES: Final = frozenset({"default", "two-way", "always-left", "always-right",
                                 "fill-blanks-only-left", "fill-blanks-only-right"})
_RULE_WINNER: Final = {"always-left": Side.LEFT, "always-right": Side.RIGHT}


def _first_merge(m: FieldMap, left: Value, right: Value, winner: Side) -> FieldOutcome:
    """A field pair with no base under its mapping (a new pair, a new or changed mapping).

    Nothing is known about who changed what, so nothing may be lost: the winner's non-blank
    value wins, a blank never overwrites a value and a value fills a blank. When the mapping
    cannot carry the winner's value (it flows one way only), its source decides instead.
    """
    if _agree(m, left, right):
        return NOTHING
    if not m.flows_to(winner.other):
        winner = winner.other
    src = winner if not is_blank(left if winner is Side.LEFT else right) else winner.other
    value, current = (left, right) if src is Side.LEFT else (right, left)
    if is_blank(value):
        return NOTHING
    out = _push(m, value, src.other, current)
    if m.rule == "fill-blanks-only-left" and out.write_left and not is_blank(left):
        return NOTHING
    if m.rule == "fill-blanks-only-right" and out.write_right and not is_blank(right):
        return NOTHING
    return FieldOutcome(out.write_left, out.write_right, out.left_value, out.right_value, True, out.error)


def merge_field(
    m: FieldMap,
    left: Value,
    right: Value,
    base_left: Value | _NoBase,
    base_right: Value | _NoBase,
    winner: Side,
    newer: Side | None = None,
) -> FieldOutcome:
    """Decide the writes for one mapped field of a linked pair.

    ``newer`` is the side whose record changed most recently (for the ``two-way`` rule).
    """
    left, right = canon(left), canon(right)
    rule = m.rule
    if rule == "none":
        return NOTHING
    if (isinstance(base_left, _NoBase) or isinstance(base_right, _NoBase)) and rule in _BASED_RULES:
        return _first_merge(m, left, right, _RULE_WINNER.get(rule, winner))
    if rule in ("always-left", "always-right"):
        src = Side.LEFT if rule == "always-left" else Side.RIGHT
        sv, ov, sb = (left, right, base_left) if src is Side.LEFT else (right, left, base_right)
        if is_blank(sv) and is_blank(canon(sb)):
            return NOTHING  # a blank that was never a value is not a clear: it wipes nothing
        return _push(m, sv, src.other, ov)
    if rule in ("prefer-left-unless-blank", "prefer-right-unless-blank"):
        pref = Side.LEFT if rule == "prefer-left-unless-blank" else Side.RIGHT
        pv, ov = (left, right) if pref is Side.LEFT else (right, left)
        if not is_blank(pv):
            return _push(m, pv, pref.other, ov)
        return _push(m, ov, pref, pv) if not is_blank(ov) else NOTHING
    if rule == "fill-blanks-only":
        if is_blank(left) and not is_blank(right):
            return _push(m, right, Side.LEFT, left)
        if is_blank(right) and not is_blank(left):
            return _push(m, left, Side.RIGHT, right)
        return NOTHING
    if rule in ("fill-blanks-only-left", "fill-blanks-only-right"):
        # One app's existing values are never overwritten (nor cleared); the other side
        # merges as usual, so edits made in the guarded app still flow out of it.
        out = merge_field(replace(m, rule="default"), left, right, base_left, base_right, winner, newer)
        if rule == "fill-blanks-only-left" and out.write_left and not is_blank(left):
            return replace(out, write_left=False, left_value=None)
        if rule == "fill-blanks-only-right" and out.write_right and not is_blank(right):
            return replace(out, write_right=False, right_value=None)
        return out

    changed_l = isinstance(base_left, _NoBase) or canon(base_left) != left
    changed_r = isinstance(base_right, _NoBase) or canon(base_right) != right
    if not changed_l and not changed_r:
        return NOTHING
    if changed_l and not changed_r:
        return _push(m, left, Side.RIGHT, right)
    if changed_r and not changed_l:
        return _push(m, right, Side.LEFT, left)
    if _agree(m, left, right):
        return NOTHING
    # Changed on both sides (or never synced): a real conflict.
    if rule == "two-way":
        src = newer or winner  # most recent change wins, blanks included
    else:
        src = winner
        if is_blank(left if src is Side.LEFT else right):
            # A blank on the winner never overwrites: the other side keeps its value and,
            # where the mapping flows that way, fills the winner's blank.
            src = src.other
    value, current = (left, right) if src is Side.LEFT else (right, left)
    out = _push(m, value, src.other, current)
    return FieldOutcome(out.write_left, out.write_right, out.left_value, out.right_value, True, out.error)
