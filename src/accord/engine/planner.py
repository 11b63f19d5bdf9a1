"""The sync planner: from one pair's records and index state to the writes and the new status.

Pure: the runner gathers the inputs (records, bases, list membership) and carries out
the plan; everything that decides *what* happens lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accord.engine.filters import passes
from accord.engine.mapping import FieldMap, SyncSpec
from accord.engine.merge import NO_BASE, merge_field
from accord.engine.values import canon, canon_fields, convert, parse_ts
from accord.model import ErrorCategory, ExcludedReason, Record, Side, Status, Value

_L, _R = Side.LEFT, Side.RIGHT  # module globals: an enum class's member lookup is slow in 3.11


@dataclass(frozen=True, slots=True)
class PairInput:
    left: Record | None
    right: Record | None
    left_base: Mapping[str, Value] | None = None  # None: never synced
    right_base: Mapping[str, Value] | None = None
    linked: bool = False
    in_list: bool | None = None  # membership of the inclusion-side record, when there is a list
    has_key: bool = True  # the record(s) carry a match key (or the sync allows none)
    # the record on the side without the inclusion list was created since the sync's initial
    # sync and meets its twin here for the first time (see ``_synced_once``)
    new_match: bool = False
    # the side whose delete an earlier pass found and only marked (``deletes: mark`` then): it stays
    # marked if ``deletes`` is ``propagate`` now, which applies to the deletes found from then on
    marked_deleted: Side | None = None


@dataclass(slots=True)
class PairPlan:
    create: Side | None = None
    create_props: dict[str, Value] = field(default_factory=dict)
    update: dict[Side, dict[str, Value]] = field(default_factory=lambda: {_L: {}, _R: {}})
    archive: Side | None = None
    status: Status | None = Status.SYNCING
    reason: str | None = None
    category: str | None = None
    message: str | None = None
    hint: str | None = None
    left_base: dict[str, Value] | None = None
    right_base: dict[str, Value] | None = None
    conflicts: int = 0
    deleted: Side | None = None  # the side found deleted

    @property
    def writes(self) -> bool:
        return bool(self.create or self.archive or self.update[Side.LEFT] or self.update[Side.RIGHT])

    def base(self, side: Side) -> dict[str, Value] | None:
        return self.left_base if side is Side.LEFT else self.right_base


def excluded(reason: ExcludedReason, message: str = "", hint: str | None = None) -> PairPlan:
    """Left out by a rule; ``hint``: what a person does to have the record sync after all."""
    return PairPlan(status=Status.EXCLUDED, reason=reason.value, message=message or None, hint=hint)


def _values(rec: Record, spec: SyncSpec, side: Side) -> dict[str, Value]:
    """The record's mapped values, keyed as bases are (by mapping, see ``FieldMap.base_key``)."""
    return canon_fields(rec.properties, spec.based(side))


def _stage_ok(spec: SyncSpec, rec: Record | None, side: Side) -> bool:
    if rec is None or side not in spec.stage_field:
        return True
    m = next((m for m in spec.mappings if m.field(side) == spec.stage_field[side]), None)
    if m is None:
        return True
    stages = m.lr_values if side is Side.LEFT else m.rl_values
    v = canon(rec.properties.get(spec.stage_field[side]))
    return stages is not None and v is not None and str(v) in stages


def _created_ok(spec: SyncSpec, rec: Record) -> bool:
    if spec.created_after is None or rec.created_at is None:
        return True
    c, start = parse_ts(rec.created_at), parse_ts(spec.created_after)
    return c is None or start is None or c >= start


def _constants_for(spec: SyncSpec, side: Side, current: Mapping[str, Value] | None) -> dict[str, Value]:
    consts = spec.constants.get(side, {})
    if current is None:
        return dict(consts)
    return {k: v for k, v in consts.items() if canon(current.get(k)) != canon(v)}


def _newer(left: Record, right: Record) -> Side | None:
    lt, rt = parse_ts(left.updated_at), parse_ts(right.updated_at)
    if lt is None or rt is None or lt == rt:
        return None
    return Side.LEFT if lt > rt else Side.RIGHT


def plan_create(spec: SyncSpec, src: Record, src_side: Side) -> PairPlan:
    """A record on one side only: the gates that decide whether it *starts* syncing, then the create."""
    dst = src_side.other
    if not _created_ok(spec, src):
        return excluded(ExcludedReason.FILTERED, f"created before {spec.created_after}",
                        f"Only records created after {spec.created_after} start syncing: an earlier "
                        "created_after in the sync's settings takes it in.")
    if (filters := spec.filters.get(src_side)) and not passes(filters, src.properties):
        return excluded(ExcludedReason.FILTERED, f"does not match the sync's filters on {spec.app(src_side)}",
                        f"It starts syncing with the first pass after it matches them (a change in "
                        f"{spec.app(src_side)}), or after the filters change to let it in.")
    if not _stage_ok(spec, src, src_side):
        return _unmapped_stage(spec, src, src_side)
    if not spec.writes_to(dst):
        return PairPlan(status=None)  # target-side record of a one-way sync: indexed for matching only
    props: dict[str, Value] = {}
    errors = []
    src_base = _values(src, spec, src_side)  # canonical, and what the source side's base becomes
    for src_field, dst_field, as_is, m in spec.flows_to(dst):
        v = src_base[m.base_key]
        if v is None:
            continue
        if as_is:
            props[dst_field] = v
            continue
        try:
            out = canon(convert(v, m.type(src_side), m.type(dst), m.values_to(dst)))
        except (ValueError, TypeError) as e:
            errors.append(f"{src_field} → {dst_field}: {e}")
            continue
        if m.accepts(dst, out):  # else no counterpart among the target's options: left empty
            props[dst_field] = out
    if errors:
        return _failing_values(spec, dst, errors)
    if spec.constants.get(dst):
        props.update({k: canon(v) for k, v in _constants_for(spec, dst, None).items()})
    dst_base = {k: props.get(f) for f, k in spec.based(dst)}  # every value in props is canonical
    plan = PairPlan(create=dst, create_props=props)
    plan.left_base, plan.right_base = (src_base, dst_base) if src_side is Side.LEFT else (dst_base, src_base)
    return plan


def _failing_values(spec: SyncSpec, dst: Side | None, errors: list[str]) -> PairPlan:
    to = spec.app(dst) if dst is not None else f"{spec.app(Side.LEFT)} or {spec.app(Side.RIGHT)}"
    return PairPlan(
        status=Status.FAILING,
        category=ErrorCategory.VALIDATION.value,
        message=f"a value cannot be written to {to}: " + "; ".join(errors),
        hint=f"Change the value where it comes from, or map the field to a {to} field of a type that takes it.",
    )


def _unmapped_stage(spec: SyncSpec, rec: Record, side: Side) -> PairPlan:
    # the stage named, so the person reading it knows which entry the stage map lacks
    stage = canon(rec.properties.get(spec.stage_field[side]))
    app, other = spec.app(side), spec.app(side.other)
    if stage is None:
        return excluded(ExcludedReason.UNMAPPED_STAGE, f"the deal has no stage in {app}, and only deals whose "
                                                       f"stage is mapped to a {other} stage sync (the sync's stage map)",
                        f"Give the deal a stage in {app} that the stage map maps: the next pass then syncs it.")
    return excluded(ExcludedReason.UNMAPPED_STAGE, f"the deal's stage {stage!s} in {app} is not mapped to a {other} "
                                                   "stage (the sync's stage map)",
                    f"Map {stage!s} to a {other} stage in the sync's stage map: the pass after that change "
                    "syncs the deal.")


def plan_deleted(spec: SyncSpec, deleted: Side, survivor: Record | None, *, marked: bool = False) -> PairPlan:
    """One side of a linked pair was deleted: propagate the delete or only mark it (``marked``:
    it was marked before, and stays so)."""
    if survivor is None or survivor.archived:
        return PairPlan(status=Status.EXCLUDED, reason=ExcludedReason.DELETED.value,
                        message="deleted in both apps", deleted=deleted)
    other = deleted.other
    if spec.deletes == "propagate" and spec.writes_to(other) and not marked:
        return PairPlan(archive=other, status=Status.EXCLUDED, reason=ExcludedReason.DELETED.value,
                        message=f"deleted in {spec.app(deleted)}; deleted in {spec.app(other)} too", deleted=deleted)
    return PairPlan(
        status=Status.FAILING,
        category=ErrorCategory.DELETED.value,
        message=f"the record was deleted in {spec.app(deleted)}",
        hint=f"Resync deleted records to recreate it in {spec.app(deleted)} (accord resync --deleted-in "
             f"{deleted.value}, or the sync's page in the dashboard), or delete it in {spec.app(other)} too.",
        deleted=deleted,
    )


def plan_pair(spec: SyncSpec, inp: PairInput) -> PairPlan:
    """Plan one pair: a linked pair, a freshly matched pair, or a record on one side only."""
    left, right = inp.left, inp.right
    for side, rec, other in ((Side.LEFT, left, right), (Side.RIGHT, right, left)):
        if rec is not None and rec.archived:
            if inp.linked or (other is not None and not other.archived):
                return plan_deleted(spec, side, other, marked=inp.marked_deleted is side)
            return PairPlan(status=None, deleted=side)
    if left is None and right is None:
        return PairPlan(status=None)
    if not inp.has_key and not inp.linked:
        side = Side.LEFT if left is not None else Side.RIGHT
        fields = spec.match_fields(side) or ["match key"]
        app, other_app = spec.app(side), spec.app(side.other)
        named = " or ".join(fields)
        then = f"pairs it with the {other_app} record that has the same {named}" + (
            ", or creates it there" if spec.writes_to(side.other) else "")
        return excluded(ExcludedReason.NO_MATCH_KEY, f"the record has no {', '.join(fields)} in {app} to match it by",
                        f"Fill in its {named} in {app}: the next pass then {then}.")
    once = False
    list_side = spec.inclusion_side
    if list_side is not None and inp.in_list is False:
        list_rec = left if list_side is Side.LEFT else right
        once = _synced_once(spec, inp)
        if list_rec is not None and not once:
            name = f" {spec.inclusion_list!r}" if spec.inclusion_list else ""
            return excluded(ExcludedReason.NOT_IN_LIST,
                            f"the record is not in the inclusion list{name} of {spec.app(list_side)}",
                            f"Add it to the list{name} in {spec.app(list_side)}: the next pass syncs it.")
    if left is None or right is None:
        src_side = Side.LEFT if left is not None else Side.RIGHT
        src = left or right
        assert src is not None
        return plan_create(spec, src, src_side)
    for side, rec in ((Side.LEFT, left), (Side.RIGHT, right)):
        if not _stage_ok(spec, rec, side):
            assert rec is not None  # (a missing record's stage is never unmapped)
            return _unmapped_stage(spec, rec, side)
    if not inp.linked and not (
        passes(spec.filters.get(Side.LEFT, ()), left.properties)
        or passes(spec.filters.get(Side.RIGHT, ()), right.properties)
    ):
        return excluded(ExcludedReason.FILTERED, f"neither record matches the sync's filters (on {spec.app(Side.LEFT)} "
                                                 f"or on {spec.app(Side.RIGHT)})",
                        "The two start syncing with the first pass after either matches them, or after the "
                        "filters change to let them in.")
    plan = _merge_pair(spec, left, right, inp)
    if once and plan.status is Status.SYNCING:
        assert list_side is not None  # (only a sync with an inclusion list syncs a record once)
        # merged this once, with the bases kept (so joining the list later is a three-way
        # merge from here), and shown as outside the list: later changes wait for membership
        plan.status, plan.reason = Status.EXCLUDED, ExcludedReason.NOT_IN_LIST.value
        plan.message = ("synced once, when the record was created in the other app; not in the inclusion list, "
                        "so later changes wait until it joins")
        plan.hint = f"Add it to the inclusion list in {spec.app(list_side)} for its changes to sync."
    return plan


def _synced_once(spec: SyncSpec, inp: PairInput) -> bool:
    """Seed 004: a lead or contact created in Salesforce "syncs the existing contact" in HubSpot even
    when that contact is not in the inclusion list (further updates wait for the list's criteria).

    Only where the vendor pair's own integration does so (``spec.match_once_outside_list``), for a
    first match of two records (never a linked pair), and when the sync may write to the list side
    (the integration's "create HubSpot contacts from Salesforce" setting).
    """
    return (spec.match_once_outside_list and inp.new_match and not inp.linked
            and inp.left is not None and inp.right is not None
            and spec.inclusion_side is not None and spec.writes_to(spec.inclusion_side))


def _merge_pair(spec: SyncSpec, left: Record, right: Record, inp: PairInput) -> PairPlan:
    lb: Mapping[str, Any] | None = inp.left_base if inp.linked else None
    rb: Mapping[str, Any] | None = inp.right_base if inp.linked else None
    newer = _newer(left, right)
    plan = PairPlan()
    new_l = _values(left, spec, Side.LEFT)
    new_r = _values(right, spec, Side.RIGHT)
    errors: list[str] = []
    triggered = lb is None or rb is None
    for m, k, plain in spec.merge_order:
        bl = lb.get(k, NO_BASE) if lb is not None else NO_BASE
        br = rb.get(k, NO_BASE) if rb is not None else NO_BASE
        lv, rv = new_l[k], new_r[k]
        if not triggered and _changed_uncalculated(m, lv, rv, bl, br):
            triggered = True
        if plain and lv == rv:
            # Values that cross unchanged and agree: every rule leaves such a field alone (this
            # is merge_field's answer for them, without its per-field dispatch; most fields
            # of most pairs agree).
            continue
        out = merge_field(m, lv, rv, bl, br, spec.winner, newer)
        if out.error:
            errors.append(out.error)
            continue
        plan.conflicts += out.conflict
        if out.write_left:
            plan.update[Side.LEFT][m.left] = out.left_value
            new_l[k] = out.left_value
        if out.write_right:
            plan.update[Side.RIGHT][m.right] = out.right_value
            new_r[k] = out.right_value
    if errors:
        return _failing_values(spec, None, errors)
    if not triggered:
        # Only calculated (formula) fields changed: they never trigger a sync by themselves,
        # and keeping the old base lets their new value travel with the next real change.
        # Bases of mappings no longer configured are dropped: were one restored later, a
        # stale base would pass for an agreement the apps never had under it.
        assert lb is not None and rb is not None
        return PairPlan(left_base={k: lb[k] for k in new_l if k in lb}, right_base={k: rb[k] for k in new_r if k in rb})
    for side, rec in ((Side.LEFT, left), (Side.RIGHT, right)):
        if plan.update[side]:
            plan.update[side].update(_constants_for(spec, side, rec.properties))
    plan.left_base, plan.right_base = new_l, new_r
    return plan


def _changed_uncalculated(m: FieldMap, left: Value, right: Value, bl: Any, br: Any) -> bool:
    changed_l = bl is NO_BASE or canon(bl) != canon(left)
    changed_r = br is NO_BASE or canon(br) != canon(right)
    return (changed_l and not m.left_calculated) or (changed_r and not m.right_calculated)

