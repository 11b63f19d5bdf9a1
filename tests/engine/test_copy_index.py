"""Moving the index to another database (``accord copy-index``): a deployment that grows from
the embedded SQLite file to PostgreSQL keeps every pair. Pointing ``state:`` at an empty
database instead would start each sync over and create every deal again in both apps."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.index.copy import CopyRefused, copy_index
from accord.index.leases import SyncLease
from accord.model import Side
from accord.runner import SyncRunner
from helpers import person, sync_config

DEALS = {"name": "deals", "left": {"app": "a", "object": "deals"}, "right": {"app": "b", "object": "deals"}}


async def synced_index(url: str) -> tuple[Store, MemoryApp, MemoryApp]:
    """Two syncs, two passes each: pairs, keys, bases, cursors and runs in the index."""
    store, left, right = Store(url), MemoryApp("a"), MemoryApp("b")
    for i in range(5):
        left.user_create("deals", {"name": f"Deal {i}", "amount": 10 * i, "stage": "qualified_to_buy"})
        left.user_create("contacts", person("P", str(i), f"p{i}@x.com"))
    right.user_create("contacts", person("Q", "Q", "q@x.com"))
    for _ in range(2):
        for cfg in (sync_config(**DEALS), sync_config()):
            await SyncRunner(cfg, store, left, right).run()
    return store, left, right


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
async def test_a_copied_index_goes_on_where_the_old_one_was(tmp_path: Path, target: str, request: pytest.FixtureRequest) -> None:
    source, left, right = await synced_index(f"sqlite:///{tmp_path}/old.db")
    url = f"sqlite:///{tmp_path}/new.db" if target == "sqlite" else request.getfixturevalue("pg_url")
    new = Store(url)
    done = copy_index(source, new)
    assert done.rows["links"] == 11 and done.rows["runs"] == 4 and done.rows["syncs"] == 2
    for name in ("deals", "contacts"):
        assert new.counts(name) == source.counts(name)
        for side in (Side.LEFT, Side.RIGHT):
            assert new.cursor(name, side) == source.cursor(name, side) is not None
    runs_before = new.runs("deals", limit=10)

    left.user_update("deals", left.live("deals")[0].id, {"amount": 999})
    for cfg in (sync_config(**DEALS), sync_config()):
        res = await SyncRunner(cfg, new, left, right).run()
        assert res.kind == "incremental" and res.counters.created == {"left": 0, "right": 0}
    assert (len(left.live("deals")), len(right.live("deals"))) == (5, 5)
    assert 999 in {r.properties["amount"] for r in right.live("deals")}
    # the new run is numbered after the copied ones (PostgreSQL: its sequence was moved on)
    runs = new.runs("deals", limit=10)
    assert len(runs) == len(runs_before) + 1 and runs[0]["id"] > max(r["id"] for r in runs_before)
    new.close()
    source.close()


async def test_copying_into_an_index_that_holds_syncs_is_refused(tmp_path: Path) -> None:
    source, _, _ = await synced_index(f"sqlite:///{tmp_path}/old.db")
    other, _, _ = await synced_index(f"sqlite:///{tmp_path}/other.db")
    with pytest.raises(CopyRefused, match="already holds syncs, links"):
        copy_index(source, other)
    assert other.counts("deals") == {"syncing": 5}  # untouched


async def test_copying_while_a_pass_runs_is_refused(tmp_path: Path) -> None:
    source, _, _ = await synced_index(f"sqlite:///{tmp_path}/old.db")
    lease = SyncLease(source.engine, "deals")
    assert lease.try_acquire()
    new = Store(f"sqlite:///{tmp_path}/new.db")
    with pytest.raises(CopyRefused, match="sync 'deals' is running in"):
        copy_index(source, new)
    assert new.counts("deals") == {}
    lease.release()
    assert copy_index(source, new).rows["links"] == 11
