"""Association bases: per linked pair and associated sync, the associations both sides held
after the last association pass that wrote all it planned (the base of accord.associations'
three-way merge)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select

from accord.index.db import IndexDB, chunks
from accord.index.schema import association_bases


class AssociationBases(IndexDB):
    def association_bases(self, sync: str, target: str, link_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored bases of these pairs (pairs without one are left out)."""
        t = association_bases.c
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as c:
            for part in chunks(list(link_ids)):
                q = select(t.link_id, t.base).where(t.sync == sync, t.target == target, t.link_id.in_(part))
                out.update((r.link_id, r.base) for r in c.execute(q))
        return out

    def save_association_bases(self, sync: str, target: str, bases: Mapping[str, dict[str, Any]]) -> None:
        """Replace the bases of these pairs, in one transaction."""
        if not bases:
            return
        t = association_bases.c
        with self.engine.begin() as c:
            for part in chunks(sorted(bases)):
                c.execute(delete(association_bases).where(t.sync == sync, t.target == target, t.link_id.in_(part)))
                c.execute(insert(association_bases), [
                    {"sync": sync, "target": target, "link_id": lid, "base": bases[lid]} for lid in part])

    def drop_association_bases(self, sync: str) -> None:
        """Forget a sync's association bases (its pairs merge as never synced)."""
        with self.engine.begin() as c:
            c.execute(delete(association_bases).where(association_bases.c.sync == sync))
