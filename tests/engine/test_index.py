"""The sync index: migrations match the table definitions; pages save in one transaction."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accord.index import Store
from accord.index.schema import metadata
from accord.index.store import Link, PageWrite
from accord.model import Side


def test_migrations_match_schema(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/i.db")
    with store.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    assert diff == []
    Store(f"sqlite:///{tmp_path}/i.db")  # upgrading again is a no-op
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


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
