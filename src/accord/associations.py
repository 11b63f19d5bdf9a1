"""Association sync: contact→company, deal→company (…) kept on both sides (SPEC §2, Associations).

A sync lists the syncs of the objects its records are associated with, e.g. the contacts
sync names the companies sync. After a pass, for each linked pair the associations on
both sides are read, translated through the other sync's index into the pair's id space
(the associated sync's link ids) and merged three ways against the pair's *association
base*: what both sides held after the last association pass that wrote everything it
planned (stored per pair and associated sync, :mod:`accord.index.association_bases`).
The merge itself is pure (:func:`accord.engine.associations.plan_associations`):

* an association added, moved or removed on one side since the base is added, moved or
  removed on the other; both sides' additions union; a change on both sides that
  disagrees is settled by the sync's winner, as for fields;
* a single-valued lookup (Salesforce ``Contact.AccountId``, ``Opportunity.AccountId``)
  holds the other side's *primary* association (HubSpot's primary company); a moved
  lookup makes its new value the primary there and removes the association it held
  before; a cleared lookup removes that association;
* without a base (the pair's first association pass, an index from before bases were
  stored) nothing is removed: a side with no associations gets the other's, and on
  disagreement the winner's are added to the other side (:func:`plan_side`).

Writes go adds and primaries first, removals after (only for pairs whose adds landed); a
pair's base is saved only once all its writes succeeded, so a failed write is planned
again by the next pass. An association whose other record is not synced yet waits: the
pair is ``queued`` with reason ``waiting_for_association`` until a later pass finds it
linked (the rest of its associations sync meanwhile; a lookup or primary pointing at it
waits as a whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.connectors.base import Associated, Connector
from accord.engine.associations import Assoc, AssocPlan, Kind, SidePlan, plan_associations
from accord.index.store import Link, PageWrite, Store
from accord.model import ErrorCategory, ExcludedReason, Side, Status

L, R = Side.LEFT, Side.RIGHT


@dataclass(frozen=True)
class AssociationTarget:
    sync: str  # the sync that links the associated records
    objects: dict[Side, str]  # the associated object on each side (companies / Account)


def waits_for_association(link: Link) -> bool:
    """A linked pair whose fields are synced while an association waits for a record to be paired."""
    return link.status == Status.QUEUED and link.reason == ExcludedReason.WAITING_FOR_ASSOCIATION


def waiting_text(sync: str) -> str:
    """A pair's message while one of its associations waits for the ``sync`` sync to pair a record."""
    return f"waiting for an associated record of the {sync} sync, not synced yet"


async def twins_of_associated(store: Store, conn: Connector, object: str, ids: Sequence[str],
                              target: AssociationTarget, side: Side) -> tuple[dict[str, Associated], dict[str, str]]:
    """The associations of records ``ids`` of ``object`` on ``side`` to ``target``'s object there,
    and, for each associated record ``target``'s sync has paired, its twin on the other side (one
    not deleted there): what a create naming its parent, or an activity's ``WhatId``, points at."""
    other = side.other
    found = await conn.associated(object, list(ids), target.objects[side])
    wanted = sorted({t for a in found.values() for t in a.ids})
    links = store.links_by_record(target.sync, side, wanted) if wanted else {}
    twins = {t: str(lk.id_of(other)) for t, lk in links.items()
             if lk.linked and lk.id_of(other) and not lk.deleted(other)}
    return found, twins


@dataclass
class AssociationResult:
    written: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    waiting: int = 0
    failed: int = 0


def plan_side(mine: Sequence[str], theirs_translated: Sequence[str], *, theirs_win: bool) -> list[str]:
    """Associations to add on one side, given its own and the other side's (translated) ones,
    when the pair has no base yet (the first-pass rule, as plan_associations applies it)."""
    missing = [t for t in theirs_translated if t not in mine]
    if not mine or theirs_win:
        return missing
    return []


Op = tuple[Link, str]  # a pair and the associated record (in that side's ids)


@dataclass
class _Read:
    """What one chunk's pairs hold: per side, each record's associations, and the translation
    of associated records into the pair's id space (their links in the target sync)."""

    current: dict[Side, dict[str, Associated]]
    to_link: dict[Side, dict[str, str | None]]  # None: not linked yet (the pair waits)
    by_link: dict[str, Link]
    gone: set[str]  # links whose record was deleted on a side: left out of the merge


async def sync_associations(
    store: Store,
    sync: str,
    links: Sequence[Link],
    conn: dict[Side, Connector],
    objects: dict[Side, str],
    target: AssociationTarget,
    winner: Side,
    writable: dict[Side, bool],
    others: frozenset[str] = frozenset(),
) -> AssociationResult:
    """Bring the associations of a chunk of linked pairs in step on both sides. ``others``: the
    sync's other association targets (their syncs' names), whose waits this one leaves alone."""
    res = AssociationResult()
    pairs = [lk for lk in links if lk.left_id and lk.right_id and lk.status in (Status.SYNCING, Status.QUEUED)]
    # no longer a pair (a side deleted, or left out by a rule since): nothing is owed to it any more
    # (a resync of a deleted record syncs its associations as part of that record's pass);
    # a failing pair stays owed, its associations sync once it syncs again
    settled = [lk.id for lk in links if not (lk.left_id and lk.right_id) or lk.status == Status.EXCLUDED
               or lk.category == ErrorCategory.DELETED]
    if settled:
        store.save_association_bases(sync, target.sync, {}, synced=settled)
    if not pairs:
        return res
    kinds: dict[Side, Kind] = {s: conn[s].association_kind(objects[s], target.objects[s]) for s in (L, R)}
    read = await _read(store, pairs, conn, objects, target)
    stored = store.association_bases(sync, target.sync, [lk.id for lk in pairs])
    w = PageWrite()
    plans: dict[str, AssocPlan] = {}
    for lk in pairs:
        cur, waiting, held = _current(lk, read)
        if waiting:
            lk.set_status(Status.QUEUED, ExcludedReason.WAITING_FOR_ASSOCIATION.value, message=waiting_text(target.sync))
            res.waiting += 1
            w.touch(lk)
        elif waits_for_association(lk) and not any(lk.message == waiting_text(o) for o in others):
            # no longer waiting here, nor (as far as the last pass saw) for another target: a pair
            # waiting for its company was set syncing by its deals target and queued again by the
            # companies one, every pass
            lk.set_status(Status.SYNCING)
            w.touch(lk)
        if held and ("single" in kinds.values() or kinds[L] == kinds[R] == "primary"):
            continue  # merged once that record is synced
        if not all(conn[s].holds_associations(objects[s], str(lk.id_of(s))) for s in (L, R)):
            # a record that holds none (a Salesforce Lead): nothing is written, and the base keeps the
            # other side as it is now, so what the record holds once it can (the Account of a
            # converted Lead) counts as a change of its side and reaches the other side
            keep = L if conn[L].holds_associations(objects[L], str(lk.id_of(L))) else R
            plans[lk.id] = AssocPlan({L: SidePlan(), R: SidePlan()}, {keep: cur[keep], keep.other: Assoc()})
            continue
        raw_base = stored.get(lk.id)
        base = None
        if raw_base is not None:
            base = {s: _without(Assoc.from_json(raw_base.get(s.value) or {}), read.gone) for s in (L, R)}
        plans[lk.id] = plan_associations(base, cur, kinds, winner, writable)
    failed = await _write(plans, {lk.id: lk for lk in pairs}, read, conn, objects, target, res, w)
    store.save(sync, w)
    # A pair's base moves only once every write it reflects landed: a failed write leaves the
    # old base, so the next pass plans the same change again.
    bases = {lid: {s.value: plan.after[s].to_json() for s in (L, R)} for lid, plan in plans.items()
             if lid not in failed}
    store.save_association_bases(sync, target.sync, {lid: b for lid, b in bases.items() if stored.get(lid) != b},
                                 synced=list(bases))
    if failed:  # retried by the next pass even if a full pass re-plans the pair's fields first
        store.owe_associations(sync, target.sync, sorted(failed))
    return res


async def _read(store: Store, pairs: Sequence[Link], conn: dict[Side, Connector], objects: dict[Side, str],
                target: AssociationTarget) -> _Read:
    current: dict[Side, dict[str, Associated]] = {}
    for s in (L, R):
        current[s] = await conn[s].associated(objects[s], [str(lk.id_of(s)) for lk in pairs], target.objects[s])
    read = _Read(current, {}, {}, set())
    for s in (L, R):
        wanted = sorted({t for a in current[s].values() for t in a.ids})
        found = store.links_by_record(target.sync, s, wanted)
        read.to_link[s] = {}
        for t in wanted:
            tl = found.get(t)
            if tl is not None and not tl.linked and _ended(tl):
                # its pair ended for good (merged into another record's pair, or deleted): left
                # out like a deleted one, not waited for, since it will never sync again
                read.to_link[s][t] = tl.id
                read.gone.add(tl.id)
                continue
            read.to_link[s][t] = tl.id if tl is not None and tl.linked else None
            if tl is not None and tl.linked:
                read.by_link[tl.id] = tl
                if tl.left_deleted or tl.right_deleted:
                    read.gone.add(tl.id)
    return read


def _ended(link: Link) -> bool:
    """A pair that ended without a twin and will not sync again on its own: its record became
    another that syncs with a record of its own (a merge, a converted Lead), or it was deleted."""
    return link.status == Status.EXCLUDED and link.reason in (ExcludedReason.DUPLICATE, ExcludedReason.DELETED)


def _current(lk: Link, read: _Read) -> tuple[dict[Side, Assoc], bool, bool]:
    """(the pair's associations in its id space, whether some record is not synced yet,
    whether that is a lookup's value or a primary, which cannot be merged without it)."""
    waiting = held = False
    cur: dict[Side, Assoc] = {}
    for s in (L, R):
        raw = read.current[s].get(str(lk.id_of(s))) or Associated([])
        mapped = {t: read.to_link[s].get(t) for t in raw.ids}
        waiting = waiting or any(m is None for m in mapped.values())
        ids = frozenset(m for m in mapped.values() if m is not None and m not in read.gone)
        first = mapped.get(raw.primary) if raw.primary is not None else None
        held = held or (raw.primary is not None and first is None)
        cur[s] = Assoc(ids, first if first in ids else None)
    return cur, waiting, held


async def _write(plans: dict[str, AssocPlan], pair_of: dict[str, Link], read: _Read, conn: dict[Side, Connector],
                 objects: dict[Side, str], target: AssociationTarget, res: AssociationResult, w: PageWrite) -> set[str]:
    """Send the plans' writes; returns the pairs with a failed write.

    Adds and primaries first, removals only for pairs whose adds went through: a failure
    leaves an association too many, never one too few."""
    failed: set[str] = set()
    for step in ("add", "primary", "remove"):
        for s in (L, R):
            ops: list[Op] = []
            for lid, plan in plans.items():
                sp = plan.side(s)
                if step == "remove" and lid in failed:
                    continue
                targets = (sorted(sp.add) if step == "add" else [sp.primary] if step == "primary" and sp.primary
                           else sorted(sp.remove) if step == "remove" else [])
                ops += [(pair_of[lid], str(read.by_link[t].id_of(s))) for t in targets]
            if not ops:
                continue
            call = {"add": conn[s].associate, "primary": conn[s].make_primary, "remove": conn[s].dissociate}[step]
            results = await call(objects[s], target.objects[s], [(str(lk.id_of(s)), t) for lk, t in ops])
            for (lk, _), r in zip(ops, results, strict=True):
                if r.ok:
                    res.written[s.value] += 1
                    continue
                res.failed += 1
                failed.add(lk.id)
                lk.set_status(Status.FAILING, category=ErrorCategory.ASSOCIATIONS.value,
                              message=r.error.message if r.error else "the association was rejected",
                              hint=(r.error.hint if r.error else "") or "Check that both records exist and the association is allowed.")
                w.touch(lk)
    return failed


def _without(a: Assoc, gone: set[str]) -> Assoc:
    if not gone:
        return a
    return Assoc(a.ids - gone, None if a.primary in gone else a.primary)
