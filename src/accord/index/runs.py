"""The run log: one row per pass of a sync (kind, start and end, status, counters, error)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from accord.index.db import IndexDB, now_iso
from accord.index.schema import runs


class RunLog(IndexDB):
    def begin_run(self, sync: str, kind: str) -> int:
        with self.engine.begin() as c:
            res = c.execute(insert(runs).values(sync=sync, kind=kind, started_at=now_iso(), status="running"))
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, status: str, counters: dict[str, Any], error: str | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=now_iso(), status=status, counters=counters, error=error))

    def runs(self, sync: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        q = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if sync:
            q = q.where(runs.c.sync == sync)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]
