"""The SQL connector's trigger change log (``changes: triggers``) on a real PostgreSQL server.

The synced table has neither an ``updated_at`` nor a tombstone column: edits and hard
deletes are seen only through the log the connector's triggers fill.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.connectors.sql import LOG_TABLE, SqlConnector
from accord.index import Store
from accord.model import ConnectorError, Page, ResyncRequired, Status
from accord.runner import SyncRunner
from helpers import by_email, person


def make_table(url: str) -> None:
    sql(url, "CREATE TABLE people (id serial PRIMARY KEY, first_name text, last_name text NOT NULL, "
             "email text UNIQUE, phone text, city text)",
        "INSERT INTO people (first_name, last_name, email, phone) VALUES "
        "('Ann', 'Lee', 'ann@x.com', '1'), ('Dan', 'Roe', 'dan@x.com', NULL)")


def sql(url: str, *statements: str) -> None:
    eng = create_engine(url)
    with eng.begin() as c:
        for s in statements:
            c.execute(text(s))
    eng.dispose()


def scalar(url: str, query: str) -> int:
    eng = create_engine(url)
    with eng.connect() as c:
        v = c.execute(text(query)).scalar_one()
    eng.dispose()
    return int(v)


async def pages(db: SqlConnector, cursor: str) -> list[Page]:
    return [p async for p in db.changes("contacts", cursor, ["email", "phone", "city"])]


async def test_two_way_sync_reads_edits_and_hard_deletes_from_the_log(pg_url: str, tmp_path: Path) -> None:
    make_table(pg_url)
    cfg = parse_config({"apps": {"mem": {"type": "memory"},
                                 "db": {"type": "sql", "url": pg_url, "tables": {"contacts": "people"},
                                        "changes": "triggers"}},
                        "syncs": [{"name": "s", "left": {"app": "mem", "object": "contacts"},
                                   "right": {"app": "db", "object": "contacts"}, "winner": "db"}]}, env={})
    mem = MemoryApp("mem")
    db = SqlConnector("db", pg_url, {"contacts": "people"}, changes="triggers")
    mem.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    runner = SyncRunner(cfg.syncs[0], Store(f"sqlite:///{tmp_path}/index.db"), mem, db)
    await runner.run()
    assert set(by_email(mem)) == {"ann@x.com", "dan@x.com", "bob@x.com"}
    # Accord's own insert (Bob) is in the log, tagged with its origin
    assert scalar(pg_url, f"SELECT count(*) FROM {LOG_TABLE} WHERE origin = 'accord:db'") == 1

    # the database's users edit a row (no timestamp column anywhere) and hard-delete another
    sql(pg_url, "UPDATE people SET phone = '99' WHERE email = 'dan@x.com'", "DELETE FROM people WHERE email = 'ann@x.com'")
    res = await runner.run()
    assert res.counters.read["right"] == 2
    assert by_email(mem)["dan@x.com"]["phone"] == "99"
    deleted = [r for r in runner.store.records("s", "failing") if r.category == "deleted"]
    assert len(deleted) == 1  # two-way default: the pair is marked, the memory record kept

    # an edit in the other app reaches the table; its echo is not even read back
    bob = next(r.id for r in mem.live("contacts") if r.properties["email"] == "bob@x.com")
    mem.user_update("contacts", bob, {"city": "Rome"})
    await runner.run()
    again = await runner.run()
    assert again.counters.read["right"] == 0 and sum(again.counters.updated.values()) == 0
    assert [r.properties["city"] for r in await db.find("contacts", "email", ["bob@x.com"], ["city"])] == ["Rome"]
    await db.aclose()


async def test_install_is_idempotent_and_cursor_catches_late_commits(pg_url: str) -> None:
    make_table(pg_url)
    db = SqlConnector("db", pg_url, {"contacts": "people"}, changes="triggers")
    other = SqlConnector("db2", pg_url, {"contacts": "people"}, changes="triggers")
    start = await db.change_cursor("contacts")
    await other.change_cursor("contacts")  # a second installer (another Accord app) changes nothing
    assert scalar(pg_url, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'people'::regclass "
                          "AND NOT tgisinternal") == 1

    # A transaction draws its log seq first but commits after a later one: the read in
    # between must not move past it for good.
    eng = create_engine(pg_url)
    slow = eng.connect()
    tx = slow.begin()
    slow.execute(text("INSERT INTO people (last_name, email) VALUES ('Slow', 'slow@x.com')"))
    sql(pg_url, "INSERT INTO people (last_name, email) VALUES ('Fast', 'fast@x.com')")
    first = await pages(db, start)
    assert [r.properties["email"] for p in first for r in p.records] == ["fast@x.com"]
    tx.commit()
    slow.close()
    eng.dispose()
    second = await pages(db, first[-1].cursor or "")
    assert [r.properties["email"] for p in second for r in p.records] == ["slow@x.com"]
    third = await pages(db, second[-1].cursor or "")
    assert [r for p in third for r in p.records] == []

    # several changes to one row come back as one record; a deleted row as a tombstone
    sql(pg_url, "UPDATE people SET city = 'A' WHERE email = 'dan@x.com'",
        "UPDATE people SET city = 'B' WHERE email = 'dan@x.com'", "DELETE FROM people WHERE email = 'ann@x.com'")
    recs = [r for p in await pages(db, third[-1].cursor or "") for r in p.records]
    assert [(r.properties.get("city"), r.archived) for r in recs] == [("B", False), (None, True)]
    await db.aclose()
    await other.aclose()


async def test_pruned_log_asks_for_a_full_pass(pg_url: str) -> None:
    make_table(pg_url)
    db = SqlConnector("db", pg_url, {"contacts": "people"}, changes="triggers", log_retention=0.05, prune_every=0)
    start = await db.change_cursor("contacts")
    sql(pg_url, "UPDATE people SET city = 'X'")
    assert scalar(pg_url, f"SELECT count(*) FROM {LOG_TABLE}") == 2
    await asyncio.sleep(0.1)
    later = await db.change_cursor("contacts")
    assert [r for p in await pages(db, later) for r in p.records] == []  # pruned as it read
    assert scalar(pg_url, f"SELECT count(*) FROM {LOG_TABLE}") == 0
    with pytest.raises(ResyncRequired):
        await pages(db, start)
    with pytest.raises(ResyncRequired):  # a cursor of the other change mode
        await pages(db, "2024-01-01T00:00:00.000Z|")
    await db.aclose()


async def test_full_pass_after_a_pruned_log_finds_deletes(pg_url: str, tmp_path: Path) -> None:
    make_table(pg_url)
    cfg = parse_config({"apps": {"mem": {"type": "memory"},
                                 "db": {"type": "sql", "url": pg_url, "tables": {"contacts": "people"},
                                        "changes": "triggers"}},
                        "syncs": [{"name": "s", "left": {"app": "db", "object": "contacts"},
                                   "right": {"app": "mem", "object": "contacts"}, "direction": "left-to-right"}]},
                       env={})
    mem = MemoryApp("mem")
    db = SqlConnector("db", pg_url, {"contacts": "people"}, changes="triggers", log_retention=0.05, prune_every=0)
    runner = SyncRunner(cfg.syncs[0], Store(f"sqlite:///{tmp_path}/index.db"), db, mem)
    await runner.run()
    sql(pg_url, "DELETE FROM people WHERE email = 'dan@x.com'")
    await asyncio.sleep(0.1)
    res = await runner.run()  # the log lost the delete: the runner falls back to a full pass
    assert res.kind == "full"
    assert set(by_email(mem)) == {"ann@x.com"}  # one-way default: deletes propagate
    assert [r.status for r in runner.store.records("s", "syncing")] == [Status.SYNCING]
    await db.aclose()


def test_triggers_need_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="PostgreSQL"):
        SqlConnector("db", f"sqlite:///{tmp_path}/x.db", changes="triggers")
