"""The run log: one row per pass of a sync (kind, start and end, status, counters, error).

A pass run in steps by several processes (accord.distributed: a step's worker may die and
another attempt take over) also keeps a :class:`PageLedger`: a ``run_pages`` row in the
transaction of each page it commits, with the counters that page's writes added and, for a
scan, the page's cursor. The run's counters are the sum of its rows, whichever attempt or
worker wrote them (a step that dies takes its uncommitted counts with it, as it takes the
uncommitted page), and a resumed step starts after the last page committed, however stale
the step's last heartbeat was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from accord import redact
from accord.index.db import IndexDB, now_iso
from accord.index.schema import run_pages, runs
from accord.model import Counters

Counts = dict[str, Any]  # Counters.as_dict(): ints and dicts of ints


def add_counts(total: Counts, more: Counts) -> Counts:
    """``total`` plus ``more`` (nested dicts of ints, as Counters.as_dict() has them)."""
    out = dict(total)
    for k, v in more.items():
        if isinstance(v, dict):
            out[k] = add_counts(out.get(k) or {}, v)
        else:
            out[k] = (out.get(k) or 0) + v
    return out


def sub_counts(now: Counts, before: Counts) -> Counts:
    """What ``now`` has beyond ``before``, without zeros (empty: nothing changed)."""
    out: Counts = {}
    for k, v in now.items():
        if isinstance(v, dict):
            d = sub_counts(v, before.get(k) or {})
            if d:
                out[k] = d
        elif v != (before.get(k) or 0):
            out[k] = v - (before.get(k) or 0)
    return out


class PageLedger:
    """A pass's counters and scan cursor, written page by page in the pages' transactions.

    ``counts`` reads the pass's counters as they are now; each save (Store.save) writes what
    they gained since the last committed page. :meth:`arm` names the page being worked on
    (its phase and cursor): the page's last save (``page_end``) writes it with the counters,
    so a resumed step starts after it and counts none of it twice.
    """

    def __init__(self, sync: str, run_id: int, counts: Callable[[], Counts]) -> None:
        self.sync, self.run_id, self.counts = sync, run_id, counts
        self.flushed: Counts = counts()  # what earlier steps or saves accounted for
        self.mark: tuple[str, str | None] | None = None
        self._staged: tuple[Counts, bool] | None = None

    def arm(self, phase: str, cursor: str | None) -> None:
        self.mark = (phase, cursor)

    @property
    def armed(self) -> bool:
        return self.mark is not None

    def write(self, c: Connection, page_end: bool) -> None:
        """In the transaction of a page's last save: the counters gained since the last page, and
        the page's mark. Saves before it (create intents, sent before the writes) count nothing:
        a page that dies before its last save is planned and counted again when it is re-read."""
        if not page_end:
            return
        now = self.counts()
        delta = sub_counts(now, self.flushed)
        mark = self.mark
        self._staged = (now, mark is not None)
        if delta or mark is not None:
            c.execute(insert(run_pages).values(
                run_id=self.run_id, sync=self.sync, counters=delta or None, at=now_iso(),
                phase=mark[0] if mark else None, cursor=mark[1] if mark else None))

    def committed(self) -> None:
        """The save's transaction committed: its counts are accounted for, its page is done."""
        if self._staged is not None:
            self.flushed, ended = self._staged
            if ended:
                self.mark = None
        self._staged = None

    def rolled_back(self) -> None:
        self._staged = None


def _sum(c: Connection, run_id: int) -> Counts:
    total = Counters().as_dict()  # every counter, as a pass's result has them
    for (counts,) in c.execute(select(run_pages.c.counters).where(run_pages.c.run_id == run_id)):
        if counts:  # a page with only a cursor (its JSON may be null)
            total = add_counts(total, counts)
    return total


class RunLog(IndexDB):
    def begin_run(self, sync: str, kind: str) -> int:
        with self.engine.begin() as c:
            res = c.execute(insert(runs).values(sync=sync, kind=kind, started_at=now_iso(), status="running"))
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, status: str, counters: dict[str, Any], error: str | None = None) -> None:
        """``error`` is stored without secrets or the record values it quotes (:func:`redact.scrub_error`)."""
        error = redact.scrub_error(error) if error else error
        with self.engine.begin() as c:
            c.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=now_iso(), status=status, counters=counters, error=error))

    def close_run(self, run_id: int, status: str, ledger: PageLedger | None = None,
                  error: str | None = None) -> Counts:
        """End a run kept in a :class:`PageLedger`: its counters are the sum of its pages' (with
        what ``ledger`` has not saved yet, in the same transaction); returns them."""
        error = redact.scrub_error(error) if error else error
        with self.engine.begin() as c:
            if ledger is not None:
                ledger.write(c, page_end=True)
            counters = _sum(c, run_id)
            c.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=now_iso(), status=status, counters=counters, error=error))
        if ledger is not None:
            ledger.committed()
        return counters

    def run_counters(self, run_id: int) -> Counts:
        """The counters a run's committed pages added up to (:class:`PageLedger`)."""
        with self.engine.connect() as c:
            return _sum(c, run_id)

    def run_mark(self, run_id: int) -> tuple[str, str | None] | None:
        """(phase, cursor) of the scan page the run committed last, if any."""
        with self.engine.connect() as c:
            row = c.execute(select(run_pages.c.phase, run_pages.c.cursor)
                            .where(run_pages.c.run_id == run_id, run_pages.c.phase.is_not(None))
                            .order_by(run_pages.c.id.desc()).limit(1)).first()
        return (str(row.phase), row.cursor) if row is not None else None

    def runs(self, sync: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        q = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if sync:
            q = q.where(runs.c.sync == sync)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]
