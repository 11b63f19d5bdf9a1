"""Page intents: a page's index changes before its writes are sent, saved as one row.

The per-row save before sending was replaced by one intent row per page (schema.page_intents);
these tests hold the replacement to the rule it must keep: whenever the page's last save does
not run, the index ends exactly as the per-row save left it, so the recovery that followed a
crash (pending creates looked up by key, in-flight bases settled) is unchanged.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accord.index import Store
from accord.index.links import IntentsReplayed
from accord.index.schema import keys, link_flights, links, page_intents
from accord.index.store import Link, PageWrite
from accord.runner import SyncRunner
from helpers import Pair, by_email, person

SYNC = "contacts"


def _seed(store: Store, n: int = 12) -> None:
    w = PageWrite()
    for i in range(n):
        link = Link(SYNC, id=f"old{i:02d}", left_id=f"L{i}", right_id=f"R{i}" if i % 3 else None,
                    left_base={"e": f"{i}@x.com"}, right_base={"e": f"{i}@x.com"} if i % 3 else None,
                    status="syncing", label=f"person {i}",
                    in_flight={"left": {"e": "old"}, "right": None, "wrote": {}} if i % 4 == 0 else None)
        w.add(link)
        w.add_keys.append(("left", f"{i}@x.com", link.id))
    store.save(SYNC, w)


def _page(store: Store, seed: int) -> PageWrite:
    """A page's changes made from ``seed`` over the seeded index: the same PageWrite for the
    same seed and index (new links, changed rows, pending-only rows, keys, a dropped link)."""
    rng = random.Random(seed)
    existing = store.links_by_id([f"old{i:02d}" for i in range(12)])
    ids = sorted(existing)
    rng.shuffle(ids)
    dropped, dirty, pending = ids[:rng.randint(0, 1)], ids[1:1 + rng.randint(0, 5)], ids[6:6 + rng.randint(0, 5)]
    w = PageWrite(drop_links=list(dropped))
    for i in range(rng.randint(0, 6)):
        link = Link(SYNC, id=f"new{i:02d}", left_id=f"NL{i}", status=rng.choice(["queued", "syncing", None]),
                    snapshot={"p": {"email": f"n{i}@x.com", "n": i}} if rng.random() < 0.5 else None,
                    pending=rng.choice([None, "right"]), label=f"new {i}",
                    in_flight={"left": {"e": f"n{i}"}, "right": {"e": f"n{i}"}, "wrote": {"right": {"email": i}}}
                    if rng.random() < 0.7 else None)
        w.add(link)
        if rng.random() < 0.8:
            w.add_keys.append(("right", f"n{i}@x.com", link.id))
    for lid in dirty:
        link = existing[lid]
        link.status = rng.choice(["syncing", "failing", "queued"])
        link.left_base = {"e": f"changed {seed}"} if rng.random() < 0.5 else link.left_base
        link.in_flight = rng.choice([None, {"left": {"e": "x"}, "right": {"e": "y"}, "wrote": {"left": {"e": 1}}}])
        link.pending = rng.choice([None, "left"])
        w.touch(link)
    for lid in pending:
        if lid in dirty:
            continue
        link = existing[lid]
        link.pending = rng.choice([None, "right"])
        link.in_flight = rng.choice([None, {"left": {"e": "p"}, "right": None, "wrote": {"right": {"e": 2}}}])
        w.pending[lid] = link
    w.drop_keys = [("left", f"{i}@x.com") for i in range(12) if rng.random() < 0.2]
    return w


def _tables(store: Store) -> dict[str, list[Any]]:
    with store.engine.connect() as c:
        return {
            "links": sorted(tuple(v for k, v in r._mapping.items() if k != "updated_at")
                            for r in c.execute(select(links))),
            "flights": sorted(tuple(r) for r in c.execute(select(link_flights))),
            "keys": sorted(tuple(r) for r in c.execute(select(keys))),
            "intents": list(c.execute(select(page_intents.c.id))),
        }


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_an_intent_replayed_leaves_the_rows_the_per_row_save_wrote(seed: int) -> None:
    rows, intent = Store("sqlite://"), Store("sqlite://")
    for store in (rows, intent):
        _seed(store)
    rows.save(SYNC, _page(rows, seed))  # the per-row save before sending, as it was
    w = _page(intent, seed)
    intent.write_intent(SYNC, w)
    assert w.intent is not None and _tables(intent)["intents"]
    assert intent.replay_intents(SYNC) == 1  # the page's last save never ran
    assert _tables(intent) == _tables(rows)


def test_an_intent_stored_compressed_is_replayed_as_one_stored_as_is() -> None:
    """SQLite stores an intent as plain orjson, PostgreSQL (and the version before this one,
    on both) zlib'd: an index moved between them, or left by a crash of that version, replays
    either as it was written."""
    rows, old = Store("sqlite://"), Store("sqlite://")
    for store in (rows, old):
        _seed(store)
    rows.save(SYNC, _page(rows, 11))
    w = _page(old, 11)
    old.write_intent(SYNC, w)
    with old.engine.begin() as c:
        body = c.execute(select(page_intents.c.body)).scalar_one()
        assert body[:1] == b"{"  # SQLite: stored as is
        c.execute(page_intents.update().values(body=zlib.compress(body, 1)))
    assert old.replay_intents(SYNC) == 1
    assert _tables(old) == _tables(rows)


def test_the_page_s_last_save_writes_its_rows_once_and_deletes_its_intent() -> None:
    store = Store("sqlite://")
    _seed(store)
    w = _page(store, 7)
    store.write_intent(SYNC, w)
    for link in w.new.values():  # the outcomes: every create landed
        link.right_id, link.pending, link.in_flight, link.status = f"R-{link.id}", None, None, "syncing"
    store.save(SYNC, w)
    t = _tables(store)
    assert t["intents"] == [] and w.intent is None
    assert {lk.id: lk.right_id for lk in store.links_by_id(list(w.new)).values()} == \
        {lid: f"R-{lid}" for lid in w.new}


def test_a_save_while_another_page_s_intent_is_left_replays_it_and_saves_nothing() -> None:
    store = Store("sqlite://")
    _seed(store)
    left = _page(store, 3)
    store.write_intent(SYNC, left)  # a page whose last save never ran (its process died)
    late = PageWrite()
    late.add(Link(SYNC, id="late", left_id="LATE", status="syncing"))
    with pytest.raises(IntentsReplayed, match="interrupted page"):
        store.save(SYNC, late)  # planned without the left intent: not saved
    assert store.links_by_id(["late"]) == {}
    assert _tables(store)["intents"] == []
    assert set(store.links_by_id(list(left.new))) == set(left.new)  # the intent's rows are there
    store.write_intent(SYNC, PageWrite(new={"z": Link(SYNC, id="z", left_id="Z")}))  # the same before writes
    with pytest.raises(IntentsReplayed):
        store.write_intent(SYNC, PageWrite(new={"y": Link(SYNC, id="y", left_id="Y")}))
    assert not store.has_intents(SYNC) and store.links_by_id(["y"]) == {} and set(store.links_by_id(["z"])) == {"z"}
    store.save(SYNC, late)  # planned again from the replayed rows: saved
    assert set(store.links_by_id(["late"])) == {"late"}


def test_a_page_whose_intent_someone_else_replayed_does_not_save_over_it() -> None:
    store = Store("sqlite://")
    _seed(store)
    w = _page(store, 11)
    store.write_intent(SYNC, w)
    assert store.replay_intents(SYNC) == 1  # e.g. a process that took the lease over
    before = _tables(store)
    with pytest.raises(IntentsReplayed):
        store.save(SYNC, w)
    assert _tables(store) == before


def test_other_syncs_intents_do_not_stop_a_page() -> None:
    store = Store("sqlite://")
    _seed(store)
    store.write_intent("deals", PageWrite(new={"d": Link("deals", id="d", left_id="D1")}))
    w = PageWrite()
    w.add(Link(SYNC, id="x", left_id="X"))
    store.save(SYNC, w)
    assert store.has_intents("deals") and not store.has_intents(SYNC)


# -- a pass ------------------------------------------------------------------------------------
async def test_a_pass_killed_between_its_creates_and_its_last_save_is_finished_without_duplicates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after the creates landed and before the page's last save (no replay in
    that process): the next process's pass replays the intent and adopts the created records."""
    p = Pair(store_url=f"sqlite:///{tmp_path}/index.db")
    for i in range(30):
        p.left.user_create("contacts", person("L", str(i), f"l{i}@x.com"))
    real_create = p.right.create

    async def create_then_die(obj: str, items: Any) -> Any:
        await real_create(obj, items)
        raise SystemExit("killed after the create landed")

    p.right.create = create_then_die  # type: ignore[method-assign]
    monkeypatch.setattr(Store, "replay_intents", lambda self, sync, fence=None: 0)  # dead: nothing runs
    with pytest.raises(SystemExit):
        await p.run()
    assert p.store.has_intents("contacts")
    created = len(p.right.live("contacts"))
    assert created > 0
    monkeypatch.undo()
    # the next process, on the same index file
    p.right.create = real_create  # type: ignore[method-assign]
    p2 = Pair(store_url=f"sqlite:///{tmp_path}/index.db")
    p2.left, p2.right = p.left, p.right
    p2.runner = SyncRunner(p2.cfg, p2.store, p2.left, p2.right)
    await p2.run()
    emails = [r.properties["email"] for r in p.right.live("contacts")]
    assert len(emails) == len(set(emails)) == 30
    assert set(by_email(p.right)) == {f"l{i}@x.com" for i in range(30)}
    assert p2.status() == {"syncing": 30}
    assert not p2.store.has_intents("contacts")


async def test_a_page_that_fails_after_sending_leaves_its_rows_not_its_intent() -> None:
    """A failure inside the process (an app error raised after the create landed): the intent
    becomes rows at once, so a webhook batch the pass syncs next sees the pending create."""
    from accord.model import TransientError

    p = Pair()
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    real_create = p.right.create

    async def create_then_fail(obj: str, items: Any) -> Any:
        await real_create(obj, items)
        raise TransientError("connection reset after the create was applied")

    p.right.create = create_then_fail  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        await p.run()
    assert not p.store.has_intents("contacts")
    link = p.link_of("left", p.left.live("contacts")[0].id)
    assert link is not None and link.pending == "right"
    p.right.create = real_create  # type: ignore[method-assign]
    await p.run()
    assert len(p.right.live("contacts")) == 1 and p.status() == {"syncing": 1}


def test_on_postgresql_an_intent_replayed_leaves_the_rows_the_per_row_save_wrote(pg_server: str) -> None:
    import os

    from pg import create_database

    for seed in (1, 2, 3, 5, 8):
        rows = Store(create_database(pg_server, f"accord_intents_rows_{os.getpid()}_{seed}"))
        intent = Store(create_database(pg_server, f"accord_intents_{os.getpid()}_{seed}"))
        for store in (rows, intent):
            _seed(store)
        rows.save(SYNC, _page(rows, seed))
        w = _page(intent, seed)
        intent.write_intent(SYNC, w)
        assert intent.has_intents(SYNC)
        assert intent.replay_intents(SYNC) == 1
        assert _tables(intent) == _tables(rows)
        w2 = PageWrite(new={"own": Link(SYNC, id="own", left_id="OWN", pending="right")})  # a page's last save
        w2.add_keys.append(("right", "own@x.com", "own"))
        intent.write_intent(SYNC, w2)
        w2.new["own"].pending, w2.new["own"].right_id = None, "R-OWN"
        intent.save(SYNC, w2)
        assert not intent.has_intents(SYNC) and intent.links_by_id(["own"])["own"].right_id == "R-OWN"
        rows.close()
        intent.close()
