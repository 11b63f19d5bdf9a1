"""Deletes held for a confirmation: the index side of the delete guard (accord.runner.deletes).

A pass never deletes or archives records as it finds them: it marks the pairs ``queued`` with
reason ``delete_pending`` and, at its end, either carries them out or holds them. Held pairs
have reason ``delete_held`` and the sync a hold (``syncs.deletes_hold``, a JSON object: what
the dashboard and ``accord status`` show). A confirmation turns exactly the pairs held at
that moment into ``delete_confirmed``, which the next pass carries out whatever their number;
deletes found later are counted afresh. A vanished container (a list, a group, a table) is a
hold of its own kind, with no pairs: its confirmation lets the next pass create the container
again where the app allows it. So is the unmatched start of a sync with no match key (see
accord.runner.deletes.guard_unmatched_start).

Everything lives in the index, so a hold survives restarts and is shared by every process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection

from accord.index.db import IndexDB, now_iso
from accord.index.schema import links, syncs

DELETE_PENDING = "delete_pending"  # found by the running pass: carried out or held at its end
DELETE_HELD = "delete_held"  # waiting for a confirmation
DELETE_CONFIRMED = "delete_confirmed"  # confirmed: the next pass carries them out
DEFERRED = frozenset({DELETE_PENDING, DELETE_HELD, DELETE_CONFIRMED})

# the kinds of hold; UNMATCHED: the first pass of a sync with no match key into two apps that
# both hold records (each would be created in the other: twice, if they were synced before)
MASS, CONTAINER, UNMATCHED = "mass", "container", "unmatched"

Fence = Callable[[Connection], None]


class HoldChanged(Exception):
    """The hold a confirmation named is no longer the sync's hold (a pass added deletes to it)."""


class NotConfirmable(Exception):
    """Nothing a confirmation could carry out (no hold, or a container Accord cannot create)."""


class DeleteHolds(IndexDB):
    def deletes_hold(self, sync: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            hold = c.execute(select(syncs.c.deletes_hold).where(syncs.c.name == sync)).scalar()
        return dict(hold) if hold else None

    def set_deletes_hold(self, sync: str, hold: dict[str, Any] | None, fence: Fence | None = None) -> None:
        with self.engine.begin() as c:
            if fence is not None:
                fence(c)
            c.execute(update(syncs).where(syncs.c.name == sync).values(deletes_hold=hold, updated_at=now_iso()))

    def deferred_counts(self, sync: str) -> dict[str, int]:
        """Pairs per deferred reason (``delete_pending`` …) that have a record left to delete."""
        with self.engine.connect() as c:
            # deferred pairs are always queued: the (sync, status) index finds them
            q = (select(links.c.reason, func.count())
                 .where(links.c.sync == sync, links.c.status == "queued", links.c.reason.in_(sorted(DEFERRED)))
                 .group_by(links.c.reason))
            return {r[0]: int(r[1]) for r in c.execute(q)}

    def delete_targets(self, sync: str, reasons: tuple[str, ...]) -> dict[str, int]:
        """Of the pairs with these reasons, how many records each side would lose."""
        with self.engine.connect() as c:
            return _targets(c, sync, reasons)

    def linked_pairs(self, sync: str) -> int:
        """Pairs with a record in both apps, not yet deleted: what the guard's share is of."""
        with self.engine.connect() as c:
            q = select(func.count()).where(
                links.c.sync == sync, links.c.left_id.is_not(None), links.c.right_id.is_not(None),
                ~and_(links.c.status == "excluded", links.c.reason == "deleted"))
            return int(c.execute(q).scalar() or 0)

    def has_links(self, sync: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(select(links.c.id).where(links.c.sync == sync).limit(1)).first() is not None

    def hold_deletes(self, sync: str, hold: dict[str, Any], fence: Fence | None = None) -> dict[str, Any]:
        """Hold the pending deletes with those already held, under ``hold``; returns the hold
        as stored, with ``count`` (the pairs held) and ``targets`` (records per side)."""
        with self.engine.begin() as c:
            if fence is not None:
                fence(c)
            c.execute(update(links).where(links.c.sync == sync, links.c.reason == DELETE_PENDING)
                      .values(reason=DELETE_HELD, updated_at=now_iso()))
            targets = _targets(c, sync, (DELETE_HELD,))
            hold = {**hold, "count": sum(targets.values()), "targets": targets}
            c.execute(update(syncs).where(syncs.c.name == sync).values(deletes_hold=hold, updated_at=now_iso()))
        return hold

    def confirm_deletes(self, sync: str, hold_id: int | None = None) -> dict[str, Any]:
        """Confirm the sync's hold (``hold_id``: only if it is still that one, else HoldChanged).

        A mass delete: the pairs held now become ``delete_confirmed`` and the hold is lifted.
        A vanished container: the hold is marked confirmed, which lets the next pass create
        the container again; an unmatched start likewise lets the next pass create the records. Returns the hold with ``confirmed`` (pairs confirmed) set.
        """
        with self.engine.begin() as c:
            if c.dialect.name == "postgresql":
                c.execute(select(syncs.c.name).where(syncs.c.name == sync).with_for_update())
            hold = c.execute(select(syncs.c.deletes_hold).where(syncs.c.name == sync)).scalar()
            if not hold:
                raise NotConfirmable(f"sync {sync!r} has no held deletes to confirm")
            hold = dict(hold)
            if hold_id is not None and int(hold.get("id") or 0) != hold_id:
                raise HoldChanged(f"the held deletes of sync {sync!r} changed since hold {hold_id} (now hold "
                                  f"{hold.get('id')}, {hold.get('count', 0)} records): review them again")
            if hold.get("kind") in (CONTAINER, UNMATCHED):
                if not hold.get("confirmable"):
                    raise NotConfirmable(str(hold.get("hint") or hold.get("message")))
                hold = {**hold, "confirmed": True}
                c.execute(update(syncs).where(syncs.c.name == sync).values(deletes_hold=hold, updated_at=now_iso()))
                return hold
            res = c.execute(update(links).where(links.c.sync == sync, links.c.reason == DELETE_HELD)
                            .values(reason=DELETE_CONFIRMED, updated_at=now_iso()))
            c.execute(update(syncs).where(syncs.c.name == sync).values(deletes_hold=None, updated_at=now_iso()))
            return {**hold, "confirmed": int(res.rowcount or 0)}


def _targets(c: Connection, sync: str, reasons: tuple[str, ...]) -> dict[str, int]:
    out = {"left": 0, "right": 0}
    q = (select(links.c.left_deleted, links.c.right_deleted, func.count())
         .where(links.c.sync == sync, links.c.reason.in_(reasons))
         .group_by(links.c.left_deleted, links.c.right_deleted))
    for left_gone, right_gone, n in c.execute(q):
        if bool(left_gone) != bool(right_gone):
            out["right" if left_gone else "left"] += int(n)
    return out
