"""The SQL connector: a real table (SQLite file and PostgreSQL server) synced two-way with an app."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, create_engine, text

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.connectors.sql import SqlConnector
from accord.index import Store
from accord.model import ContainerMissing, ErrorCategory
from accord.runner import SyncRunner
from helpers import by_email, person


def make_table(url: str) -> None:
    meta = MetaData()
    Table("people", meta,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("first_name", String(100)), Column("last_name", String(100), nullable=False),
          Column("email", String(200), unique=True), Column("phone", String(50)), Column("city", String(100)),
          Column("updated_at", DateTime, nullable=False), Column("deleted", Boolean, default=False))
    eng = create_engine(url.replace("postgresql+psycopg", "postgresql+psycopg"))
    meta.create_all(eng)
    with eng.begin() as c:
        c.execute(text("INSERT INTO people (first_name, last_name, email, phone, updated_at, deleted) "
                       "VALUES ('Ann', 'Lee', 'ann@x.com', '1', '2024-01-01 00:00:00', false), "
                       "('Dan', 'Roe', 'dan@x.com', NULL, '2024-01-01 00:00:00', false)"))
    eng.dispose()


def touch_row(url: str, sql: str) -> None:
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text(sql))
    eng.dispose()


async def scenario(url: str, tmp: Path) -> None:
    make_table(url)
    cfg = parse_config({"apps": {"mem": {"type": "memory"}, "db": {"type": "sql", "url": url, "tables": {"contacts": "people"}}},
                        "syncs": [{"name": "s", "left": {"app": "mem", "object": "contacts"},
                                   "right": {"app": "db", "object": "contacts"}, "winner": "db"}]}, env={})
    mem = MemoryApp("mem")
    db = SqlConnector("db", url, {"contacts": "people"})
    mem.user_create("contacts", person("Ann", "Lee", "ANN@x.com", city="Oslo"))
    mem.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    mem.user_create("contacts", person("Eve", None, "eve@x.com"))  # violates NOT NULL last_name
    runner = SyncRunner(cfg.syncs[0], Store(f"sqlite:///{tmp}/index.db"), mem, db)
    res = await runner.run()
    assert res.counters.linked == 1
    rows = {r.properties["email"]: r.properties for p in [p async for p in db.scan("contacts", ["email", "phone", "city", "first_name"])]
            for r in p.records}
    assert set(rows) == {"ann@x.com", "dan@x.com", "bob@x.com"}
    assert rows["ann@x.com"]["city"] == "Oslo"
    assert by_email(mem)["ann@x.com"]["phone"] == "1" and "dan@x.com" in by_email(mem)
    failing = runner.store.records("s", "failing")
    assert len(failing) == 1 and failing[0].category == ErrorCategory.VALIDATION
    # the database's own users edit and delete rows (a tombstone column marks deletes)
    touch_row(url, "UPDATE people SET phone = '99', updated_at = CURRENT_TIMESTAMP WHERE email = 'dan@x.com'")
    touch_row(url, "UPDATE people SET deleted = true, updated_at = CURRENT_TIMESTAMP WHERE email = 'bob@x.com'")
    await runner.run()
    assert by_email(mem)["dan@x.com"]["phone"] == "99"
    bob = runner.store.records("s", "failing")
    assert any(b.category == "deleted" for b in bob)
    # an edit in the app reaches the table; the engine's own write does not come back as a change
    ann = next(r.id for r in mem.live("contacts") if r.properties["email"].lower() == "ann@x.com")
    mem.user_update("contacts", ann, {"city": "Rome"})
    await runner.run()
    again = await runner.run()
    assert sum(again.counters.updated.values()) == 0
    assert [r.properties["city"] for r in await db.find("contacts", "email", ["ann@x.com"], ["city"])] == ["Rome"]
    await db.aclose()


async def test_sql_connector_on_sqlite(tmp_path: Path) -> None:
    await scenario(f"sqlite:///{tmp_path}/app.db", tmp_path)
    # the database's own settings stay its owner's: Accord switched it to WAL (a property of the
    # file), which other programs' connections open at that moment got "database is locked" for
    import sqlite3
    with sqlite3.connect(tmp_path / "app.db") as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not (tmp_path / "app.db-wal").exists()


async def test_sql_connector_on_postgres(pg_url: str, tmp_path: Path) -> None:
    await scenario(pg_url, tmp_path)


async def _dropped_table(url: str) -> None:
    make_table(url)
    db = SqlConnector("db", url, {"contacts": "people"})
    await db.check_container("contacts", create=False)
    assert len([r for p in [p async for p in db.scan("contacts", ["email"])] for r in p.records]) == 2
    touch_row(url, "DROP TABLE people")
    for call in (lambda: db.check_container("contacts", create=True),  # a table is never created
                 lambda: db.change_cursor("contacts"), lambda: db.read("contacts", ["1"], ["email"])):
        with pytest.raises(ContainerMissing, match="the table 'people' does not exist") as gone:
            await call()
        assert gone.value.key == "apps.db.tables.contacts" and not gone.value.creatable
    with pytest.raises(ContainerMissing):  # a new process cannot even read the schema
        await SqlConnector("db", url, {"contacts": "people"}).describe("contacts")
    db.engine.dispose()


async def test_a_dropped_table_is_a_missing_container_on_sqlite(tmp_path: Path) -> None:
    await _dropped_table(f"sqlite:///{tmp_path}/app.db")


async def test_a_dropped_table_is_a_missing_container_on_postgres(pg_url: str) -> None:
    await _dropped_table(pg_url)


async def test_unreachable_database(tmp_path: Path) -> None:
    from accord.model import UnreachableError

    db = SqlConnector("db", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    with pytest.raises(UnreachableError):
        await db.check()


async def batches(url: str) -> None:
    """A batch is written in one go; a bad row fails alone, and results stay in input order."""
    make_table(url)
    db = SqlConnector("db", url, {"contacts": "people"})
    items = [{"last_name": f"L{i}", "email": f"p{i}@x.com"} for i in range(5)]
    items[2] = {"last_name": "Dup", "email": "ann@x.com"}  # taken by a seeded row
    items.append({"last_name": "Odd", "nickname": "x"})  # no such column
    res = await db.create("contacts", items)
    assert [r.ok for r in res] == [True, True, False, True, True, False]
    assert res[2].error is not None and res[2].error.category == ErrorCategory.DUPLICATES
    assert res[5].error is not None and res[5].error.category == ErrorCategory.VALIDATION
    assert [r.record.properties["email"] for r in res if r.record] == ["p0@x.com", "p1@x.com", "p3@x.com", "p4@x.com"]
    got = {r.id: r.properties["email"] for r in await db.read("contacts", [r.id for r in res if r.id], ["email"])}
    assert got == {r.id: r.record.properties["email"] for r in res if r.id and r.record}
    ids = [r.id for r in res if r.id]
    upd = await db.update("contacts", [(ids[0], {"city": "Oslo"}), (ids[1], {"email": "dan@x.com"}),
                                       (ids[2], {"city": "Rome"}), ("999999", {"city": "Nowhere"})])
    assert [r.ok for r in upd] == [True, False, True, False]
    assert upd[1].error is not None and upd[1].error.category == ErrorCategory.DUPLICATES
    assert upd[3].error is not None and upd[3].error.category == ErrorCategory.NOT_FOUND
    cities = {r.id: r.properties["city"] for r in await db.read("contacts", ids, ["city"])}
    assert cities[ids[0]] == "Oslo" and cities[ids[2]] == "Rome" and cities[ids[1]] is None
    assert all(r.ok for r in await db.archive("contacts", ids[:2]))
    assert {r.id for r in await db.read("contacts", ids, ["city"]) if r.archived} == set(ids[:2])
    await db.aclose()


async def test_batches_on_sqlite(tmp_path: Path) -> None:
    await batches(f"sqlite:///{tmp_path}/app.db")


async def test_batches_on_postgres(pg_url: str) -> None:
    await batches(pg_url)


async def bulk_insert_order(url: str) -> None:
    """A batch of creates takes the driver's multi-row INSERT: each result's id and record
    are the row the database holds for that input (no shuffled ids), in statements split
    below the drivers' parameter limits."""
    make_table(url)
    db = SqlConnector("db", url, {"contacts": "people"})
    with db.engine.connect() as c:
        assert db._inserter(c, db._table("contacts"), ("last_name",)) is not None  # the fast path applies
    items = [{"first_name": f"F{i}" if i % 3 else None, "last_name": f"L{i}", "email": f"bulk{i}@x.com",
              "updated_at": f"2025-0{1 + i % 9}-1{i % 10}T10:00:0{i % 10}.000Z"} for i in range(5_000)]
    res = await db.create("contacts", items)
    assert all(r.ok for r in res) and len({r.id for r in res}) == 5_000
    stored = {r.id: r for r in await db.read("contacts", [str(r.id) for r in res], ["first_name", "last_name", "email"])}
    for item, r in zip(items, res, strict=True):
        assert r.record is not None and r.id is not None
        assert stored[r.id].properties == {k: r.record.properties[k] for k in ("first_name", "last_name", "email")}
        assert r.record.properties["email"] == item["email"]
    await db.aclose()


async def test_bulk_insert_order_on_sqlite(tmp_path: Path) -> None:
    await bulk_insert_order(f"sqlite:///{tmp_path}/app.db")


async def test_bulk_insert_order_on_postgres(pg_url: str) -> None:
    await bulk_insert_order(pg_url)


async def test_a_bulk_write_is_read_once_not_by_every_later_pass(tmp_path: Path) -> None:
    # The overlap is re-read before a lower bound of the writers' clock when the last pass read
    # (the newest row then, or the previous bound plus the time since), not before the newest
    # row: with no edit after a bulk write, the passes stop re-reading it after the overlap.
    import asyncio
    import datetime as dt

    url = f"sqlite:///{tmp_path}/bulk.db"
    make_table(url)

    def now() -> str:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")

    touch_row(url, f"UPDATE people SET updated_at = '{now()}' WHERE email = 'ann@x.com'")  # a table in use
    db = SqlConnector("db", url, {"contacts": "people"}, page_size=5, overlap=1.0)
    fields = ["email", "first_name"]

    async def read(cursor: str) -> tuple[list[str], str]:
        got = [p async for p in db.changes("contacts", cursor, fields)]
        return [r.id for p in got for r in p.records], next((p.cursor for p in reversed(got) if p.cursor), cursor)

    cursor = await db.change_cursor("contacts")
    stamp = now()
    touch_row(url, "INSERT INTO people (first_name, last_name, email, updated_at, deleted) VALUES " + ", ".join(
        f"('B{i}', 'Bulk', 'b{i}@x.com', '{stamp}', false)" for i in range(30)))  # one transaction, 6 pages
    await asyncio.sleep(2.2)  # older than the overlap and the clock slack
    first, cursor = await read(cursor)
    assert len(first) >= 30
    again, cursor = await read(cursor)
    assert len(again) <= 5 and not again  # ≤ one page; here: none at all
    touch_row(url, f"UPDATE people SET city = 'Rome', updated_at = '{now()}' WHERE email = 'b7@x.com'")
    third, cursor = await read(cursor)
    assert len(third) == 1  # a change after the pass is still read
    await db.aclose()
