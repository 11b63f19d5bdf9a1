"""The index's paging queries stay indexed: their cost must not grow with the index (issue #21).

SQLite's plans for the queries a pass runs over rows of one status (failing rows retried by
each incremental pass, deferred deletes, records excluded for leaving the inclusion list):
they must search the (sync, status, id) index, not walk every row of the sync.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from accord.index.schema import links as links_t
from accord.index.store import Link, PageWrite, Store
from accord.model import ErrorCategory, Status
from accord.runner.incremental import retry_conditions


def _plans(store: Store, conditions: list[Any]) -> list[str]:
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM links" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        batches = list(store.iter_links("s", *conditions, chunk=2))
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert batches, "the rows were found"
    with store.engine.connect() as c:
        return [" ".join(str(r[-1]) for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
                for sql, params in seen]


def test_paging_by_status_uses_the_status_index(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/index.db")
    store.ensure_sync("s", "h", True)
    w = PageWrite()
    for i in range(50):
        status = Status.FAILING if i % 10 == 0 else Status.SYNCING
        w.add(Link("s", left_id=f"l{i}", right_id=f"r{i}", status=status.value,
                   category=ErrorCategory.VALIDATION.value if status is Status.FAILING else None))
    for i in range(3):
        w.add(Link("s", left_id=f"q{i}", status=Status.QUEUED.value, reason="delete_pending"))
        w.add(Link("s", left_id=f"p{i}", status=Status.QUEUED.value, reason="waiting_for_association"))
    store.save("s", w)
    cases = [
        # incremental.py: _retry_failing, each of its queries as the runner builds it
        *([c] for c in retry_conditions()),
        # deletes.py: _carry_out
        [links_t.c.status == Status.QUEUED.value, links_t.c.reason.in_(["delete_pending", "delete_held"])],
    ]
    for conditions in cases:
        plans = _plans(store, conditions)
        assert plans and all("ix_links_status_id" in p for p in plans), plans
