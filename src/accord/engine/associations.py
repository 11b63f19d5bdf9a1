"""Three-way merge of one pair's associations to one object (SPEC §2, Associations).

Pure: no I/O. Ids are the *pair's* id space: the ids of the associated sync's links, so
the left and right sides compare directly. Each side of a pair holds a set of associated
links and, where the app has one, a *primary* (HubSpot's primary company) or a single
value (a lookup such as Salesforce's ``AccountId``). The kind of each side says which:

* ``many``: a plain set (no primary);
* ``primary``: a set, one of which may be flagged primary;
* ``single``: at most one value (a lookup field).

Merging works like the field merge (:mod:`accord.engine.merge`): each side is compared
with its own base (what it held after the last sync), a change on one side is applied to
the other, and only a change on both sides that disagrees is a conflict, settled by the
winner (a winner that holds nothing never wipes the other side's value, as a blank field
never overwrites).

* Two sets (``many``/``primary``) merge per associated record: added or removed on one
  side since the base → added or removed on the other; additions from both sides union.
  Two ``primary`` sides also merge their primaries as a value.
* A ``single`` side merges as a value against the other side's *representative*: its
  flagged primary, else the one it had at the last sync while still associated, else the
  first (by id) of its associations. A lookup set on the single side becomes the other
  side's primary (associated first if needed) and the association the lookup held before
  is removed there; a lookup cleared removes that association; a new primary on the set
  side becomes the lookup's value. The set side's other associations are never touched.
* Without a base (a pair's first association pass, an index from before bases were
  stored) nothing is removed: missing associations are copied to a side that has none,
  and on disagreement the winner's are added to the other side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from accord.model import Side

Kind = Literal["many", "primary", "single"]
L, R = Side.LEFT, Side.RIGHT


@dataclass(frozen=True, slots=True)
class Assoc:
    """One record's associations to one object: the associated links, and the primary one
    (kind ``primary``: the flagged one, if any; ``single``: the lookup's value)."""

    ids: frozenset[str] = frozenset()
    primary: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"ids": sorted(self.ids), "primary": self.primary}

    @staticmethod
    def from_json(data: Mapping[str, object]) -> Assoc:
        ids = data.get("ids") or []
        primary = data.get("primary")
        return Assoc(frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset(),
                     str(primary) if primary is not None else None)


@dataclass(frozen=True, slots=True)
class SidePlan:
    """The writes to one side: associations to add and remove, and the one to make primary
    (associated first if missing; on a ``single`` side: the lookup's new value)."""

    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()
    primary: str | None = None

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove and self.primary is None


@dataclass(frozen=True, slots=True)
class AssocPlan:
    sides: dict[Side, SidePlan]
    # what each side holds once the writes landed, with its representative as ``primary``:
    # the pair's next base
    after: dict[Side, Assoc]
    conflict: bool = False
    ops: int = field(default=0)

    def side(self, s: Side) -> SidePlan:
        return self.sides[s]


def representative(a: Assoc, kind: Kind, base_rep: str | None) -> str | None:
    """The association a single value stands for: the lookup's value, the flagged primary,
    the one it was at the last sync if still associated, else the first."""
    if kind == "single":
        return a.primary if a.primary in a.ids else None
    if a.primary is not None and a.primary in a.ids:
        return a.primary
    if base_rep is not None and base_rep in a.ids:
        return base_rep
    return min(a.ids) if a.ids else None


def _pick(winner: Side, left: str | None, right: str | None) -> str | None:
    """The winner's value, unless it has none: an empty side never wipes the other's value."""
    w, o = (left, right) if winner is L else (right, left)
    return w if w is not None else o


def plan_associations(
    base: Mapping[Side, Assoc] | None,
    current: Mapping[Side, Assoc],
    kinds: Mapping[Side, Kind],
    winner: Side,
    writable: Mapping[Side, bool] | None = None,
) -> AssocPlan:
    """Decide the writes that bring one pair's associations in step (see the module doc)."""
    cur = {s: _normal(current[s], kinds[s]) for s in (L, R)}
    # a base's ``primary`` is the representative it stood for (many: too), kept as stored
    b = {s: (_normal(base[s], "single") if kinds[s] == "single" else base[s]) for s in (L, R)} if base is not None else None
    base_rep = {s: (b[s].primary if b is not None else None) for s in (L, R)}
    # two primaries merge as flagged; against a lookup a set stands for one of its associations
    single = "single" in (kinds[L], kinds[R])
    rep = {s: (representative(cur[s], kinds[s], base_rep[s]) if single else cur[s].primary) for s in (L, R)}
    w = _Work(add={L: set(), R: set()}, remove={L: set(), R: set()}, primary={L: None, R: None}, chosen=dict(rep))
    if not single:
        _merge_members(w, b, cur, winner)
    if single or kinds[L] == kinds[R] == "primary":
        _merge_primary(w, b, cur, kinds, rep, base_rep, winner)
    return _finish(w, cur, kinds, rep, single, writable or {L: True, R: True})


@dataclass
class _Work:
    add: dict[Side, set[str]]
    remove: dict[Side, set[str]]
    primary: dict[Side, str | None]
    chosen: dict[Side, str | None]  # each side's representative once the plan landed
    conflict: bool = False


def _merge_members(w: _Work, b: Mapping[Side, Assoc] | None, cur: Mapping[Side, Assoc], winner: Side) -> None:
    """Two sets, per associated record."""
    if b is None:
        for s in (L, R):
            theirs = cur[s.other].ids - cur[s].ids
            if theirs and (not cur[s].ids or s.other is winner):
                w.add[s] |= theirs
                w.conflict = w.conflict or bool(cur[s].ids)
        return
    for x in cur[L].ids | cur[R].ids | b[L].ids | b[R].ids:
        has = {s: x in cur[s].ids for s in (L, R)}
        changed = {s: has[s] != (x in b[s].ids) for s in (L, R)}
        if has[L] == has[R] or not (changed[L] or changed[R]):
            continue
        if changed[L] and changed[R]:
            w.conflict = True
            src = winner
        else:
            src = L if changed[L] else R
        (w.add if has[src] else w.remove)[src.other].add(x)


def _merge_primary(w: _Work, b: Mapping[Side, Assoc] | None, cur: Mapping[Side, Assoc], kinds: Mapping[Side, Kind],
                   rep: Mapping[Side, str | None], base_rep: Mapping[Side, str | None], winner: Side) -> None:
    """The primary / the lookup's value, merged as a value."""
    single = "single" in (kinds[L], kinds[R])
    value, apply, clash = _merge_value(b is not None, rep, base_rep, winner)
    w.conflict = w.conflict or clash
    for s in (L, R):
        if not apply or rep[s] == value:
            continue
        if value is None:
            # the lookup was cleared: drop the association it stood for (two primaries:
            # an association is only unflagged, which is not carried over)
            gone = (base_rep[s.other] if kinds[s] == "single" or kinds[s.other] == "single" else None)
            if gone is not None and gone in cur[s].ids:  # a lookup holding another value keeps it
                w.remove[s].add(gone)
            continue
        if not single and value not in (cur[s].ids | w.add[s]) - w.remove[s]:
            continue  # the membership merge removed it here: no primary to set
        w.primary[s] = value
        w.add[s].discard(value)
        w.chosen[s] = value
        gone = base_rep[s.other] if b is not None else None
        if (kinds[s.other] == "single" and kinds[s] != "single" and gone is not None
                and gone != value and gone in cur[s].ids):
            w.remove[s].add(gone)  # the lookup moved away from it


def _finish(w: _Work, cur: Mapping[Side, Assoc], kinds: Mapping[Side, Kind], rep: Mapping[Side, str | None],
            sticky: bool, can: Mapping[Side, bool]) -> AssocPlan:
    sides: dict[Side, SidePlan] = {}
    after: dict[Side, Assoc] = {}
    ops = 0
    add, remove, primary, chosen = w.add, w.remove, w.primary, w.chosen
    for s in (L, R):
        if not can[s]:
            add[s], remove[s], primary[s], chosen[s] = set(), set(), None, rep[s]
        flag = primary[s]
        if kinds[s] == "many" and flag is not None:
            add[s].add(flag)  # no primary to flag: associating is all there is
            primary[s] = None
        add[s] -= cur[s].ids
        if kinds[s] == "single":
            # a lookup holds one value: setting it replaces, so only a clear removes
            if primary[s] is not None:
                remove[s] = set()
            add[s] = set()
        p = SidePlan(frozenset(add[s]), frozenset(remove[s] - add[s]), primary[s])
        sides[s] = p
        ops += len(p.add) + len(p.remove) + (p.primary is not None)
        after[s] = _after(cur[s], kinds[s], p, chosen[s], sticky)
    return AssocPlan(sides, after, w.conflict, ops)


def _merge_value(based: bool, rep: Mapping[Side, str | None], base_rep: Mapping[Side, str | None],
                 winner: Side) -> tuple[str | None, bool, bool]:
    """(the value both sides should hold, whether to write it, whether that settles a conflict)."""
    if not based:
        # first pass: the winner's value, or the one side's that has one; nothing is cleared
        value = _pick(winner, rep[L], rep[R])
        return value, value is not None, None not in (rep[L], rep[R]) and rep[L] != rep[R]
    changed = {s: rep[s] != base_rep[s] for s in (L, R)}
    if changed[L] and changed[R]:
        return _pick(winner, rep[L], rep[R]), rep[L] != rep[R], rep[L] != rep[R]
    if changed[L] or changed[R]:
        return rep[L if changed[L] else R], True, False
    return None, False, False


def _normal(a: Assoc, kind: Kind) -> Assoc:
    """A lookup's set is its value; a primary that is not associated is no primary."""
    if kind == "single":
        v = a.primary if a.primary is not None else (min(a.ids) if a.ids else None)
        return Assoc(frozenset({v}) if v is not None else frozenset(), v)
    if kind == "many":
        return Assoc(a.ids, None)
    return a if a.primary is None or a.primary in a.ids else Assoc(a.ids, None)


def _after(a: Assoc, kind: Kind, p: SidePlan, rep: str | None, sticky: bool) -> Assoc:
    """A side once ``p`` landed, with its representative as ``primary`` (the next base)."""
    if kind == "single":
        if p.primary is not None:
            return Assoc(frozenset({p.primary}), p.primary)
        if p.remove:
            return Assoc()
        return a
    ids = (a.ids | p.add | ({p.primary} if p.primary is not None else set())) - p.remove
    flagged = p.primary if p.primary is not None else (a.primary if a.primary in ids else None)
    if kind == "many":
        flagged = None
    if not sticky:
        return Assoc(ids, flagged)
    hint = p.primary if p.primary is not None else rep
    return Assoc(ids, representative(Assoc(ids, flagged), kind, hint))
