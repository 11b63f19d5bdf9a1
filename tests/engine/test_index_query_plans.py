"""The index's paging queries stay indexed: their cost must not grow with the index (issue #21).

SQLite's plans for the queries a pass runs over rows of one status (failing rows retried by
each incremental pass, deferred deletes, records excluded for leaving the inclusion list, the
activities an activity pass reads again): they must search the (sync, status, id) index, not
walk every row of the sync; the activities with a create in flight are paged through
``link_flights``' (sync, link_id) index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from accord.index.schema import links as links_t
from accord.index.store import Link, PageWrite, Store
from accord.model import ErrorCategory, Status
from accord.runner import activities as runner_activities
from accord.runner.incremental import retry_conditions


def _plans(store: Store, conditions: list[Any], sync: str = "s") -> list[str]:
    return _plans_of(store, lambda: store.iter_links(sync, *conditions, chunk=2))


def _plans_of(store: Store, pages: Callable[[], Iterable[list[Link]]]) -> list[str]:
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "links" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        batches = list(pages())
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


def test_the_activity_passes_rereads_use_indexes(tmp_path: Path) -> None:
    """accord.runner.activities reads again, every pass, the activities in flight, failing, waiting
    for their contact and without one: each query as the runner builds it searches an index and
    never walks the activity rows of the sync (most of them syncing)."""
    store = Store(f"sqlite:///{tmp_path}/index.db")
    sync = "s/calls"
    store.ensure_sync(sync, "h", True)
    w = PageWrite()
    for i in range(60):
        lk = Link(sync, left_id=f"a{i:02}", right_id=f"t{i:02}", status=Status.SYNCING.value)
        if i % 10 == 1:
            lk.status, lk.category, lk.attempts = Status.FAILING.value, ErrorCategory.VALIDATION.value, 1
        elif i % 10 == 2:
            lk.right_id, lk.status, lk.reason = None, Status.QUEUED.value, "waiting_for_contact"
        elif i % 10 == 3:
            lk.right_id, lk.status, lk.reason = None, Status.EXCLUDED.value, "no_contact"
        elif i % 10 == 4:  # a create sent, its answer lost
            lk.right_id, lk.pending, lk.in_flight = None, "right", {"sent": {"Subject": "x"}}
        w.add(lk)
    store.save(sync, w)
    for conditions in [*([c] for c in runner_activities.retry_conditions()), [runner_activities.without_contact()]]:
        plans = _plans(store, conditions, sync)
        assert plans and all("ix_links_status_id" in p and "SCAN" not in p for p in plans), plans
    plans = _plans_of(store, lambda: store.iter_flights(sync, chunk=2))
    assert plans and all("ix_link_flights_sync" in p and "SCAN" not in p and "ix_links_sync_id" not in p
                         for p in plans), plans
    assert [lk.left_id for page in store.iter_flights(sync, chunk=2) for lk in page] == [
        f"a{i:02}" for i in range(60) if i % 10 == 4]
