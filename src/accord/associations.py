"""Association sync: contact→company, deal→company (…) kept on both sides (SPEC §2, Associations).

A sync lists the syncs of the objects its records are associated with, e.g. the contacts
sync names the companies sync. After a pass, for each linked pair the associations on
both sides are read, translated through the other sync's index, and the missing ones are
written. An association whose other record is not synced yet waits: the pair is
``queued`` with reason ``waiting_for_association`` until a later pass finds it linked.

Without a base for associations, disagreement is settled like a conflict: when both
sides have associations and they differ, the winner's are written to the other side
(a Salesforce lookup such as ``AccountId`` holds one value, so copying both ways would
flip it on every pass); when one side has none, the other side's are copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.connectors.base import Connector
from accord.index.store import Link, PageWrite, Store
from accord.model import ErrorCategory, ExcludedReason, Side, Status


@dataclass(frozen=True)
class AssociationTarget:
    sync: str  # the sync that links the associated records
    objects: dict[Side, str]  # the associated object on each side (companies / Account)


@dataclass
class AssociationResult:
    written: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    waiting: int = 0
    failed: int = 0


def plan_side(mine: Sequence[str], theirs_translated: Sequence[str], *, theirs_win: bool) -> list[str]:
    """Associations to add on one side, given its own and the other side's (translated) ones."""
    missing = [t for t in theirs_translated if t not in mine]
    if not mine or theirs_win:
        return missing
    return []


async def sync_associations(
    store: Store,
    sync: str,
    links: Sequence[Link],
    conn: dict[Side, Connector],
    objects: dict[Side, str],
    target: AssociationTarget,
    winner: Side,
    writable: dict[Side, bool],
) -> AssociationResult:
    """Bring the associations of a chunk of linked pairs in step on both sides."""
    res = AssociationResult()
    pairs = [lk for lk in links if lk.left_id and lk.right_id and lk.status in (Status.SYNCING, Status.QUEUED)]
    if not pairs:
        return res
    current: dict[Side, dict[str, list[str]]] = {}
    for s in (Side.LEFT, Side.RIGHT):
        ids = [str(lk.id_of(s)) for lk in pairs]
        current[s] = await conn[s].associations(objects[s], ids, target.objects[s])
    # Translate each side's associated ids into the other side's ids through the target sync.
    translated: dict[Side, dict[str, str | None]] = {}
    for s in (Side.LEFT, Side.RIGHT):
        wanted = sorted({t for ts in current[s].values() for t in ts})
        found = store.links_by_record(target.sync, s, wanted)
        translated[s] = {t: (found[t].id_of(s.other) if t in found and found[t].linked else None) for t in wanted}
    todo: dict[Side, list[tuple[Link, str]]] = {Side.LEFT: [], Side.RIGHT: []}
    w = PageWrite()
    for lk in pairs:
        waiting = False
        for s in (Side.LEFT, Side.RIGHT):
            other = s.other
            theirs = current[other].get(str(lk.id_of(other)), [])
            mapped = [translated[other][t] for t in theirs]
            waiting = waiting or any(m is None for m in mapped)
            mine = current[s].get(str(lk.id_of(s)), [])
            if writable[s]:
                for t in plan_side(mine, [m for m in mapped if m], theirs_win=other is winner):
                    todo[s].append((lk, t))
        if waiting:
            lk.set_status(Status.QUEUED, ExcludedReason.WAITING_FOR_ASSOCIATION.value,
                          message="an associated record is not synced yet")
            res.waiting += 1
            w.touch(lk)
        elif lk.status == Status.QUEUED and lk.reason == ExcludedReason.WAITING_FOR_ASSOCIATION:
            lk.set_status(Status.SYNCING)
            w.touch(lk)
    for s in (Side.LEFT, Side.RIGHT):
        if not todo[s]:
            continue
        results = await conn[s].associate(objects[s], target.objects[s], [(str(lk.id_of(s)), t) for lk, t in todo[s]])
        for (lk, _), r in zip(todo[s], results, strict=True):
            if r.ok:
                res.written[s.value] += 1
            else:
                res.failed += 1
                lk.set_status(Status.FAILING, category=ErrorCategory.ASSOCIATIONS.value,
                              message=r.error.message if r.error else "the association was rejected",
                              hint=(r.error.hint if r.error else "") or "Check that both records exist and the association is allowed.")
                w.touch(lk)
    store.save(sync, w)
    return res
