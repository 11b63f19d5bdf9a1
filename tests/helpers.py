"""Shared test helpers: two in-memory apps, a sync config and a runner over an SQLite index."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from accord.config import SyncConfig, parse_config
from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.runner import PassResult, SyncRunner


def sync_config(**overrides: Any) -> SyncConfig:
    body: dict[str, Any] = {
        "name": "contacts",
        "left": {"app": "a", "object": "contacts"},
        "right": {"app": "b", "object": "contacts"},
    }
    body.update(overrides)
    cfg = parse_config({"apps": {"a": {"type": "memory"}, "b": {"type": "memory"}}, "syncs": [body]}, env={})
    return cfg.syncs[0]


class Pair:
    """Two memory apps synced by one runner; ``run()`` does one pass."""

    def __init__(self, store_url: str = "sqlite://", **overrides: Any) -> None:
        self.left = MemoryApp("a", page_size=7)
        self.right = MemoryApp("b", page_size=5)
        self.store = Store(store_url)
        self.cfg = sync_config(**overrides)
        self.runner = SyncRunner(self.cfg, self.store, self.left, self.right)

    def reconfigure(self, **overrides: Any) -> None:
        self.cfg = sync_config(**overrides)
        self.runner = SyncRunner(self.cfg, self.store, self.left, self.right)

    async def run(self, full: bool = False) -> PassResult:
        return await self.runner.run(full=full)

    def status(self) -> dict[str, int]:
        return self.store.counts(self.cfg.name)

    def link_of(self, side: str, rid: str) -> Any:
        from accord.model import Side
        return self.store.links_by_record(self.cfg.name, Side(side), [rid]).get(rid)


def person(first: str, last: str, email: str | None, **extra: Any) -> Mapping[str, Any]:
    return {"first_name": first, "last_name": last, "email": email, **extra}


def two_memory_apps(folder: Path, syncs: str, names: tuple[str, str] = ("a", "b")) -> None:
    """accord.yaml in ``folder``: an SQLite index, memory apps ``names`` (in a.json and b.json
    beside it) and ``syncs`` (the YAML list under ``syncs:``, as it stands in the file)."""
    (folder / "accord.yaml").write_text(f"""
state: sqlite:///{folder}/accord.db
apps:
  {names[0]}: {{type: memory, path: {folder}/a.json}}
  {names[1]}: {{type: memory, path: {folder}/b.json}}
syncs:
{syncs.strip(chr(10))}
""")


def by_email(app: MemoryApp, obj: str = "contacts") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in app.live(obj):
        out.setdefault(str(r.properties.get("email")).lower(), dict(r.properties))
    return out


def index_structure(engine: Any) -> dict[str, dict[str, Any]]:
    """What a database's tables look like to SQLAlchemy's inspector (for comparing two indexes)."""
    from sqlalchemy import inspect

    insp = inspect(engine)
    return {t: {"columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                            for c in insp.get_columns(t)],
                "primary key": insp.get_pk_constraint(t),
                "indexes": sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in insp.get_indexes(t)),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t)),
                "foreign keys": insp.get_foreign_keys(t)}
            for t in sorted(insp.get_table_names())}


def build_index_by_migrations(url: str, revision: str = "head") -> None:
    """Run the index's alembic migrations on an empty database up to ``revision``."""
    from accord.index.store import make_engine, upgrade_with_alembic

    engine = make_engine(url)
    with engine.begin() as c:
        upgrade_with_alembic(c, revision)
    engine.dispose()


def accord_sync(cwd: Any, *extra: str) -> list[dict[str, Any]]:
    """``accord sync -c accord.yaml --json`` as a process in ``cwd``; its passes (exit 0 asserted)."""
    import json
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "accord.cli", "sync", "-c", "accord.yaml", "--json", *extra]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, (done.stdout, done.stderr)
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


def sandbox_apps(boxes: Any, token: str) -> dict[str, Any]:
    """The ``apps:`` of a config over ``accord.demo.sandboxes()``: HubSpot (a private-app token) and Salesforce."""
    assert boxes.salesforce.tls is not None
    return {"hubspot": {"type": "hubspot", "token": token, "base_url": boxes.hubspot_server.url},
            "salesforce": {"type": "salesforce", "instance_url": boxes.salesforce.url,
                           "access_token": "token", "verify": boxes.salesforce.tls.cafile}}


@contextmanager
def simple_salesforce(sandbox: Any) -> Iterator[Any]:
    """The official client ``simple_salesforce.Salesforce`` on a started Salesforce sandbox,
    trusting its CA; closed after use."""
    import requests
    from simple_salesforce import Salesforce

    session = requests.Session()
    session.trust_env = False  # requests lets REQUESTS_CA_BUNDLE override session.verify (psf/requests#3829)
    assert sandbox.tls is not None
    session.verify = sandbox.tls.cafile
    try:
        yield Salesforce(instance_url=sandbox.url, session_id="any-token", session=session, version="62.0")
    finally:
        session.close()
