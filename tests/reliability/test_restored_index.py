"""An index restored from a backup is older than the apps (docs/deploy.md, "Backing up the
index, and restoring a backup"): the pairs made since the backup come back by match key, and
a sync without one is given one for the passes that catch up. Nothing is created twice."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.runner import SyncRunner
from helpers import Pair, person, sync_config

DEAL_NAMES = [{"left": "name", "right": "name"}]


def _maker(obj: str) -> Callable[[MemoryApp, int], str]:
    if obj == "contacts":
        return lambda app, i: app.user_create(obj, person(f"P{i}", "X", f"p{i}@x.com"))
    return lambda app, i: app.user_create(obj, {"name": f"D{i}", "stage": "qualified_to_buy"})


async def _restored(tmp: Path, obj: str, **sync: Any) -> Pair:
    """5 records synced, the index backed up, 3 + 2 more records synced, the backup restored."""
    db = tmp / "index.db"
    p = Pair(f"sqlite:///{db}", name=obj, left={"app": "a", "object": obj}, right={"app": "b", "object": obj}, **sync)
    make = _maker(obj)
    for i in range(5):
        make(p.left, i)
    await p.run()
    p.store.engine.dispose()
    shutil.copy(db, tmp / "backup.db")
    for i in range(5, 8):
        make(p.left, i)
    for i in range(8, 10):
        make(p.right, i)
    await p.run()
    assert len(p.left.live(obj)) == len(p.right.live(obj)) == 10
    p.store.engine.dispose()
    shutil.copy(tmp / "backup.db", db)
    p.store = Store(f"sqlite:///{db}")
    p.runner = SyncRunner(p.cfg, p.store, p.left, p.right)
    return p


@pytest.mark.parametrize("full", [False, True])
async def test_records_paired_since_the_backup_pair_again_by_their_match_key(tmp_path: Path, full: bool) -> None:
    p = await _restored(tmp_path, "contacts")
    res = await p.run(full=full)
    assert res.counters.created == {"left": 0, "right": 0}
    assert len(p.left.live("contacts")) == len(p.right.live("contacts")) == 10
    assert p.status() == {"syncing": 10}


async def test_a_sync_without_a_match_key_given_one_for_the_catch_up_creates_nothing_twice(tmp_path: Path) -> None:
    p = await _restored(tmp_path, "deals")
    p.cfg = sync_config(name="deals", left={"app": "a", "object": "deals"}, right={"app": "b", "object": "deals"},
                        match=DEAL_NAMES)
    p.runner = SyncRunner(p.cfg, p.store, p.left, p.right)
    res = await p.run()  # the changed config: the initial pass again, pairing by name
    assert res.counters.created == {"left": 0, "right": 0}
    assert p.status() == {"syncing": 10}
    # the key taken out again: the pairs stay, nothing is created
    p.cfg = sync_config(name="deals", left={"app": "a", "object": "deals"}, right={"app": "b", "object": "deals"})
    p.runner = SyncRunner(p.cfg, p.store, p.left, p.right)
    for full in (False, True):
        res = await p.run(full=full)
        assert res.counters.created == {"left": 0, "right": 0}
    assert len(p.left.live("deals")) == len(p.right.live("deals")) == 10


async def test_without_a_match_key_the_records_made_since_the_backup_are_created_again(tmp_path: Path) -> None:
    """What the docs warn of: why such a sync needs the key before the first pass on a restored index."""
    p = await _restored(tmp_path, "deals")
    await p.run()
    assert len(p.left.live("deals")) == len(p.right.live("deals")) == 15
