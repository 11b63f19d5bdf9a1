"""The same index code on PostgreSQL: migrations, a full sync, an interrupted pass, deletes."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accord.index import Store
from accord.index.schema import metadata
from accord.index.store import make_engine
from accord.model import Side, TransientError
from helpers import Pair, build_index_by_migrations, by_email, index_structure, person
from pg import create_database


def test_postgres_migrations_match_schema(pg_url: str) -> None:
    store = Store(pg_url)
    with store.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), metadata) == []
    store.close()


def test_postgres_new_index_equals_one_built_by_every_migration(pg_server: str) -> None:
    fresh = Store(create_database(pg_server, f"accord_fresh_{os.getpid()}"))
    migrated = create_database(pg_server, f"accord_migrated_{os.getpid()}")
    build_index_by_migrations(migrated)
    engine = make_engine(migrated)
    assert index_structure(fresh.engine) == index_structure(engine)
    engine.dispose()
    fresh.close()


def test_postgres_migration_0012_moves_intents_to_link_flights(pg_server: str) -> None:
    from test_index import intents_move_to_link_flights

    intents_move_to_link_flights(create_database(pg_server, f"accord_flights_{os.getpid()}"))


def test_postgres_workers_opening_a_new_index_at_once(pg_url: str) -> None:
    # one creates the tables under the advisory lock; the others wait, then find them there
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store(pg_url), range(4)))
    for s in stores:
        with s.engine.connect() as c:
            assert c.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
        s.close()


async def test_postgres_initial_incremental_and_deletes(pg_url: str) -> None:
    p = Pair(pg_url, deletes="propagate")
    a = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="1"))
    p.right.user_create("contacts", person("Ann", "Lee", "ANN@x.com", city="Oslo"))
    p.right.user_create("contacts", person("Cy", "Do", "cy@x.com"))
    p.left.user_create("contacts", person("No", "Mail", None))
    res = await p.run()
    assert res.counters.linked == 1 and res.counters.created == {"left": 1, "right": 0}
    assert p.status() == {"syncing": 2, "excluded": 1}
    p.left.user_update("contacts", a, {"phone": "2"})
    await p.run()
    assert by_email(p.right)["ann@x.com"]["phone"] == "2"
    p.left.user_delete("contacts", a)
    await p.run()
    assert set(by_email(p.right)) == {"cy@x.com"}


async def test_postgres_interrupted_pass_no_duplicates(pg_url: str) -> None:
    p = Pair(pg_url)
    for i in range(25):
        p.left.user_create("contacts", person("L", str(i), f"l{i}@x.com"))
    p.right.fail_after_writes = 9
    with pytest.raises(TransientError):
        await p.run()
    p.right.fail_after_writes = None
    await p.run()
    emails = [r.properties["email"] for r in p.right.live("contacts")]
    assert len(emails) == len(set(emails)) == 25


def test_postgres_saves_that_set_only_changed_columns_keep_the_row_equal_to_the_link(pg_server: str) -> None:
    """As tests/engine/test_index.py checks on SQLite: PostgreSQL updates a page's rows in one
    statement per set of changed columns (their values as one JSON document); whatever the
    sequence of changes, saves and re-reads, the row read back holds what the link holds,
    every column type included (text, JSON, booleans, integers, NULLs)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from test_index import _CHANGES

    from accord.index.store import _LINK_FIELDS, Link, PageWrite

    store = Store(create_database(pg_server, f"accord_cols_{os.getpid()}"))
    syncs = iter(range(10**6))

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.tuples(st.dictionaries(st.sampled_from(sorted(_CHANGES)), st.none()),
                              st.sampled_from(["dirty", "pending", "reload"])), min_size=1, max_size=6), st.data())
    def check(steps: list[tuple[dict[str, None], str]], data: st.DataObject) -> None:
        sync = f"s{next(syncs)}"
        link = Link(sync, left_id="L0", status="queued")
        w = PageWrite()
        w.add(link)
        store.save(sync, w)
        for changed, how in steps:
            for col in changed:
                setattr(link, col, data.draw(_CHANGES[col]))
            w = PageWrite()
            if how == "pending":
                w.pending[link.id] = link
                store.save(sync, w)
                row = store.links_by_id([link.id])[link.id]
                assert (row.pending, row.in_flight) == (link.pending, link.in_flight)
                continue
            w.touch(link)
            store.save(sync, w)
            row = store.links_by_id([link.id])[link.id]
            assert {f: getattr(row, f) for f in _LINK_FIELDS} == {f: getattr(link, f) for f in _LINK_FIELDS}
            if how == "reload":
                link = row

    check()
    store.close()


def test_postgres_lookups_of_ids_with_quotes_backslashes_and_commas(pg_url: str) -> None:
    """The per-page lookups send their ids to PostgreSQL as one array literal: ids with the
    characters an array literal quotes or escapes are found like any other, and only those."""
    from accord.index.store import Link, PageWrite
    from accord.model import Side

    store = Store(pg_url)
    odd = ['a"b', "c\\d", "e,f", "{g}", "h i", "NULL", "j'k", "ü€", ""]
    links = {rid: Link("s", left_id=rid, right_id=f"r{i}") for i, rid in enumerate(odd)}
    w = PageWrite()
    for link in links.values():
        w.add(link)
    w.add_keys.extend(("left", f"k:{rid}", link.id) for rid, link in links.items())
    store.save("s", w)
    assert set(store.links_by_record("s", Side.LEFT, [*odd, "nope", 'a"', "c\\"])) == set(odd)
    assert set(store.links_by_id([lk.id for lk in links.values()])) == {lk.id for lk in links.values()}
    assert store.key_owners("s", Side.LEFT, [f"k:{rid}" for rid in odd] + ["k:a"]) == {
        f"k:{rid}": lk.id for rid, lk in links.items()}
    store.close()


def test_postgres_looks_keys_up_by_probe_as_the_index_grows(pg_url: str) -> None:
    """A new index's tables have no planner statistics until autovacuum analyzes them (at most
    once a minute): the planner took them for tiny and looked a page's keys up by scanning the
    whole side, which made an initial sync O(n²) on PostgreSQL. The store analyzes them as
    they double, so the look-up stays a probe per key."""
    from accord.index.store import Link, PageWrite

    store = Store(pg_url)
    for page in range(6):
        w = PageWrite()
        for i in range(500):
            link = Link("contacts", left_id=f"L{page}-{i}")
            w.add(link)
            w.add_keys.append(("left", f"email:u{page}-{i}@x.com", link.id))
        store.save("contacts", w)
    assert store.key_owners("contacts", Side.LEFT, ["email:u5-7@x.com"])
    with store.engine.connect() as c:
        analyzed = dict(c.exec_driver_sql(
            "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname IN ('links', 'keys')").all())
        plan = "\n".join(r[0] for r in c.exec_driver_sql(
            "EXPLAIN SELECT key, link_id FROM keys WHERE sync = 'contacts' AND side = 'left' "
            "AND key = ANY('{email:u1-1@x.com,email:u2-2@x.com}'::text[])"))
    store.close()
    assert analyzed["links"] >= 1 and analyzed["keys"] >= 1
    # the keys in the index condition, not a filter over every key of the side
    assert "Filter" not in plan and "= ANY" in plan, plan


def test_postgres_a_failed_analyze_does_not_fail_the_saved_page(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """ANALYZE runs after the page's transaction committed: if it fails (a lost connection, a
    lock timeout), the page is saved all the same, and the save says so by returning."""
    from sqlalchemy.engine import Connection
    from sqlalchemy.exc import OperationalError

    from accord.index.store import Link, PageWrite

    real = Connection.exec_driver_sql

    def failing(self: Connection, sql: str, *args: object, **kw: object) -> object:
        if sql.startswith("ANALYZE"):
            raise OperationalError(sql, None, Exception("server closed the connection unexpectedly"))
        return real(self, sql, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Connection, "exec_driver_sql", failing)
    store = Store(pg_url)
    w = PageWrite()
    for i in range(2500):
        link = Link("contacts", left_id=f"L{i}")
        w.add(link)
    store.save("contacts", w)  # does not raise
    assert len(store.links_by_record("contacts", Side.LEFT, ["L0", "L2499"])) == 2
    store.close()


async def test_postgres_finds_records_by_id_and_by_label_in_any_case(pg_url: str) -> None:
    """``find_records`` on PostgreSQL (ILIKE; SQLite's lower() LIKE is tested through the API):
    an id exactly, a part of the label in any case, wildcards as text."""
    p = Pair(pg_url)
    ann = p.left.user_create("contacts", person("Ann", "Lee", "Ann.Lee@X.com"))
    p.left.user_create("contacts", person("Bo", "Ray", "bo_ray@y.com"))
    p.left.user_create("contacts", person("Bo", "Rxy", "borxy@y.com"))
    p.left.user_create("contacts", person("No", "Mail", None))
    await p.run()
    name = p.cfg.name

    def labels(text: str) -> list[str | None]:
        return [lk.label for lk in p.store.find_records(name, text)[0]]

    assert labels("ann.lee@x") == ["Ann.Lee@X.com"]
    assert labels(ann) == ["Ann.Lee@X.com"]
    assert labels("o_r") == ["bo_ray@y.com"]  # "_" is a character here, not any character
    assert labels("no mail") == ["No Mail"]
    found, total = p.store.find_records(name, "@", limit=2)
    assert (len(found), total) == (2, 3)
