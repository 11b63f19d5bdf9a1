"""The sync index: migrations match the table definitions; pages save in one transaction."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.index import Store
from accord.index.schema import metadata
from accord.index.store import _LINK_FIELDS, HEAD_REVISION, Link, PageWrite, alembic_config, make_engine
from accord.model import Side
from helpers import build_index_by_migrations, index_structure


def test_migrations_match_schema(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/i.db")
    with store.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    assert diff == []
    Store(f"sqlite:///{tmp_path}/i.db")  # upgrading again is a no-op
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA page_size").scalar() == 16384


def test_new_index_equals_one_built_by_every_migration(tmp_path: Path) -> None:
    fresh = Store(f"sqlite:///{tmp_path}/fresh.db")  # made from the table definitions, then stamped
    build_index_by_migrations(f"sqlite:///{tmp_path}/migrated.db")
    assert index_structure(fresh.engine) == index_structure(make_engine(f"sqlite:///{tmp_path}/migrated.db"))
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION
    with fresh.engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION


def test_an_older_index_is_upgraded_when_opened(tmp_path: Path) -> None:
    build_index_by_migrations(f"sqlite:///{tmp_path}/old.db", "0003")
    old = Store(f"sqlite:///{tmp_path}/old.db")
    assert index_structure(old.engine) == index_structure(Store(f"sqlite:///{tmp_path}/new.db").engine)
    with old.engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION


def intents_move_to_link_flights(url: str) -> None:
    """Migration 0012 moves the in-flight intents a crash left from ``links.in_flight`` to
    ``link_flights``: the links load with them, and the recovery's query finds the same links."""
    from sqlalchemy import insert, select

    from accord.index.schema import link_flights, links

    build_index_by_migrations(url, "0011")
    flight = {"left": {"e|email": "a@x.com"}, "right": None, "wrote": {"right": {"email": "a@x.com"}}}
    old = make_engine(url)
    with old.begin() as c:
        c.exec_driver_sql("INSERT INTO links (id, sync, left_id, right_id, left_deleted, right_deleted, attempts, "
                          "updated_at, handled, in_flight) VALUES ('a', 's', 'L1', 'R1', false, false, 0, 't', 7, "
                          f"'{json.dumps(flight)}')")
        c.exec_driver_sql("INSERT INTO links (id, sync, left_id, left_deleted, right_deleted, attempts, updated_at, "
                          "handled, in_flight) VALUES ('b', 's', 'L2', false, false, 0, 't', 7, 'null')")
        c.exec_driver_sql("INSERT INTO links (id, sync, left_id, left_deleted, right_deleted, attempts, updated_at, "
                          "handled) VALUES ('c', 's', 'L3', false, false, 0, 't', 7)")
    old.dispose()
    store = Store(url)  # upgraded when opened
    got = store.links_by_id(["a", "b", "c"])
    assert {k: lk.in_flight for k, lk in got.items()} == {"a": flight, "b": None, "c": None}
    assert [lk.id for b in store.iter_links("s", link_flights.c.in_flight.is_not(None)) for lk in b] == ["a"]
    assert [lk.in_flight for lk in store.records("s")] == [flight, None, None]
    with store.engine.connect() as c:
        assert c.execute(select(link_flights.c.link_id, link_flights.c.sync)).all() == [("a", "s")]
        assert "in_flight" not in {col.name for col in links.columns}
    # settled: the intent's row goes in the page's save
    a = got["a"]
    a.in_flight = None
    w = PageWrite()
    w.pending[a.id] = a
    store.save("s", w)
    with store.engine.begin() as c:
        assert c.execute(select(link_flights)).all() == []
        c.execute(insert(link_flights).values(link_id="c", sync="s", in_flight=flight))
    store.delete_sync("s")
    with store.engine.connect() as c:
        assert c.execute(select(link_flights)).all() == []
    store.close()


def test_migration_0012_moves_intents_to_link_flights(tmp_path: Path) -> None:
    intents_move_to_link_flights(f"sqlite:///{tmp_path}/i.db")


def test_opening_an_index_does_not_import_alembic(tmp_path: Path) -> None:
    # new or up to date, an index opens without alembic (a tenth of a second of every CLI call)
    code = ("import sys; from accord.index import Store; Store(sys.argv[1]); Store(sys.argv[1]); "
            "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path}/i.db"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def test_page_write_round_trip_and_config_restart(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/i.db")
    assert store.ensure_sync("s", "h1").initial_done is False
    store.set_initial_done("s")
    assert store.ensure_sync("s", "h1").initial_done is True
    w = PageWrite()
    link = Link("s", left_id="L1", left_base={"email": "a@x.com"}, status="syncing")
    w.add(link)
    w.add_keys.append(("left", "email:a@x.com", link.id))
    store.save("s", w, (Side.LEFT, "42"))
    assert store.links_by_record("s", Side.LEFT, ["L1"])["L1"].left_base == {"email": "a@x.com"}
    assert store.key_owners("s", Side.LEFT, ["email:a@x.com"]) == {"email:a@x.com": link.id}
    assert store.cursor("s", Side.LEFT) == "42"
    assert store.counts("s") == {"syncing": 1}
    # a changed config fingerprint restarts the initial sync but keeps the links
    assert store.ensure_sync("s", "h2").initial_done is False
    assert store.counts("s") == {"syncing": 1}
    other = Store("sqlite://")
    store.clone_sync("s", other)
    assert other.counts("s") == {"syncing": 1} and other.cursor("s", Side.LEFT) == "42"


_CHANGES = {
    "left_id": st.sampled_from([None, "L1", "L2"]), "right_id": st.sampled_from([None, "R1", "R2"]),
    "left_base": st.sampled_from([None, {}, {"email": "a@x.com"}, {"email": "b@x.com", "n": 1}]),
    "right_base": st.sampled_from([None, {"email": "a@x.com"}]),
    "snapshot": st.sampled_from([None, {"p": {"email": "a@x.com"}, "u": None, "c": None}]),
    "status": st.sampled_from([None, "queued", "syncing", "failing"]), "message": st.sampled_from([None, "boom"]),
    "pending": st.sampled_from([None, "left", "right"]), "left_deleted": st.booleans(),
    "handled": st.sampled_from([None, 1, 2]), "attempts": st.integers(0, 3),
    "in_flight": st.sampled_from([None, {"left": {}, "right": {"e": 1}, "wrote": {"right": {"e": 1}}}]),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(sorted(_CHANGES)), st.none()),
                          st.sampled_from(["dirty", "pending", "reload"])), min_size=1, max_size=8), st.data())
def test_saves_that_set_only_changed_columns_keep_the_row_equal_to_the_link(
        steps: list[tuple[dict[str, None], str]], data: st.DataObject) -> None:
    """Store.save sets only the columns a link changed since it was read or saved: whatever
    the sequence of changes, saves (whole, or pending-only) and re-reads, the row read back
    holds what the link holds."""
    store = Store("sqlite://")
    link = Link("s", left_id="L0", status="queued")
    w = PageWrite()
    w.add(link)
    store.save("s", w)
    for changed, how in steps:
        for col in changed:
            setattr(link, col, data.draw(_CHANGES[col]))
        w = PageWrite()
        if how == "pending":  # only pending and in_flight are written: the row is checked on those
            w.pending[link.id] = link
            store.save("s", w)
            row = store.links_by_id([link.id])[link.id]
            assert (row.pending, row.in_flight) == (link.pending, link.in_flight)
            continue
        w.touch(link)
        store.save("s", w)
        row = store.links_by_id([link.id])[link.id]
        assert {f: getattr(row, f) for f in _LINK_FIELDS} == {f: getattr(link, f) for f in _LINK_FIELDS}
        if how == "reload":
            link = row


def test_none_and_booleans_bind_as_null_and_integers_through_the_fast_adapters(tmp_path: Path) -> None:
    """make_engine registers sqlite3 adapters for None and bool (a speed-up): what they bind
    must be what the module binds without them, NULL and 0/1, on any sqlite3 connection."""
    make_engine(f"sqlite:///{tmp_path}/x.db").dispose()
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE t (a, b, c, d)")
    c.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(None, True, False, 7), (None, None, True, "x")])
    assert c.execute("SELECT typeof(a), a, typeof(b), b, typeof(c), c, d FROM t ORDER BY rowid").fetchall() == [
        ("null", None, "integer", 1, "integer", 0, 7), ("null", None, "null", None, "integer", 1, "x")]
