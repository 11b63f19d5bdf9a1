"""Association bases: per linked pair and associated sync, the associations both sides held
after the last association pass that wrote all it planned (the base of accord.associations'
three-way merge), and whether the pair's associations are *owed* a sync (a pass stopped
before it, or a write failed): the next pass syncs owed pairs whether or not their records
changed, since their changes may have left the change feed already."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update

from accord.index.db import IndexDB, chunks
from accord.index.schema import association_bases

_t = association_bases.c


class AssociationBases(IndexDB):
    def association_bases(self, sync: str, target: str, link_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored bases of these pairs (pairs without one are left out)."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as c:
            for part in chunks(list(link_ids)):
                q = select(_t.link_id, _t.base).where(_t.sync == sync, _t.target == target, _t.link_id.in_(part),
                                                      _t.base.is_not(None))
                out.update((r.link_id, r.base) for r in c.execute(q) if r.base is not None)
        return out

    def save_association_bases(self, sync: str, target: str, bases: Mapping[str, dict[str, Any]],
                               synced: Sequence[str] = ()) -> None:
        """Replace the bases of these pairs; they, and the pairs ``synced`` (in step, their base
        unchanged), are no longer owed. One transaction."""
        t = association_bases
        with self.engine.begin() as c:
            for part in chunks(sorted(bases)):
                c.execute(delete(t).where(_t.sync == sync, _t.target == target, _t.link_id.in_(part)))
                c.execute(insert(t), [{"sync": sync, "target": target, "link_id": lid, "base": bases[lid],
                                       "owed": False} for lid in part])
            for part in chunks(sorted(set(synced) - set(bases))):
                c.execute(update(t).where(_t.sync == sync, _t.target == target, _t.link_id.in_(part),
                                          _t.owed.is_(True)).values(owed=False))

    def owe_associations(self, sync: str, target: str, link_ids: Sequence[str]) -> None:
        """Mark these pairs' associations as owed a sync (kept across passes until synced)."""
        t = association_bases
        with self.engine.begin() as c:
            for part in chunks(sorted(set(link_ids))):
                c.execute(update(t).where(_t.sync == sync, _t.target == target, _t.link_id.in_(part)).values(owed=True))
                have = {r[0] for r in c.execute(select(_t.link_id).where(
                    _t.sync == sync, _t.target == target, _t.link_id.in_(part)))}
                rows = [{"sync": sync, "target": target, "link_id": lid, "base": None, "owed": True}
                        for lid in part if lid not in have]
                if rows:
                    c.execute(insert(t), rows)

    def owed_associations(self, sync: str, limit: int = 5000) -> list[str]:
        """Pairs whose associations (to any associated sync) are owed a sync."""
        with self.engine.connect() as c:
            q = select(_t.link_id).where(_t.sync == sync, _t.owed.is_(True)).distinct().limit(limit)
            return [r[0] for r in c.execute(q)]

    def forget_association_bases(self, sync: str, target: str, link_ids: Sequence[str]) -> None:
        """Forget these pairs' bases and owed marks: their links are gone (merged, unlinked)."""
        with self.engine.begin() as c:
            for part in chunks(sorted(set(link_ids))):
                c.execute(delete(association_bases).where(_t.sync == sync, _t.target == target,
                                                          _t.link_id.in_(part)))

    def drop_association_bases(self, sync: str) -> None:
        """Forget a sync's association bases (its pairs merge as never synced)."""
        with self.engine.begin() as c:
            c.execute(delete(association_bases).where(_t.sync == sync))
