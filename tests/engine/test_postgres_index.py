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
from accord.model import TransientError
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
