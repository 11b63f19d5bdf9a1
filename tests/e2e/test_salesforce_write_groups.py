"""``accord sync`` HubSpot → an empty Salesforce org with the defaults: the runner gathers HubSpot's
100-record pages into write groups of whole Salesforce batches (docs/reliability.md, "Write
groups"), so the creates take ceil(N / 200) sObject Collections calls through REST, and one
ingest job through the Bulk API once N is above ``bulk_write_threshold``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from accord.index import Store
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.hubspot.store import SEED
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread


def initial_sync(tmp_path: Path, n: int, bulk: bool) -> tuple[SalesforceSandbox, dict[str, Any]]:
    hs = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=100_000))
    sf = SalesforceSandbox()
    with hs.store.lock:
        for i in range(n):
            hs.store.create("contacts", {"email": f"group{i}@example.com", "firstname": f"F{i}", "lastname": f"L{i}"},
                            SEED)
    sf.start()
    try:
        with ServerThread(hs.app) as hs_srv:
            assert sf.tls is not None
            off = {} if bulk else {"bulk_threshold": None, "bulk_write_threshold": None}
            (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
                "state": f"sqlite:///{tmp_path}/index.db",
                "apps": {"hubspot": {"type": "hubspot", "token": "pat-groups", "base_url": hs_srv.url},
                         "salesforce": {"type": "salesforce", "instance_url": sf.url, "access_token": "token",
                                        "verify": sf.tls.cafile, **off}},
                "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                           "right": {"app": "salesforce", "object": "Contact"}}]}))
            done = subprocess.run([sys.executable, "-m", "accord.cli", "sync", "-c", "accord.yaml", "--json"],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=300,
                                  env={**os.environ, "COLUMNS": "200"})
            assert done.returncode == 0, done.stderr
            result = json.loads(done.stdout)[0]
        return sf, result
    finally:
        sf.stop()
        hs.close()


@pytest.mark.parametrize("n", [1_050, 1_600])
def test_rest_creates_take_ceil_n_over_200_collection_calls(tmp_path: Path, n: int) -> None:
    sf, result = initial_sync(tmp_path, n, bulk=False)
    assert result["created"] == {"left": 0, "right": n}
    assert sf.stats.by_kind.get("composite", 0) == math.ceil(n / 200)
    assert sf.stats.by_kind.get("jobs", 0) == 0
    assert len({str(r["Email"]) for r in sf.records("Contact")}) == n
    store = Store(f"sqlite:///{tmp_path}/index.db")
    try:
        assert store.counts("contacts") == {"syncing": n}
    finally:
        store.close()


def test_an_initial_sync_above_the_write_threshold_is_one_ingest_job(tmp_path: Path) -> None:
    n = 2_300  # above bulk_write_threshold (2,000): HubSpot's 23 pages are one write group
    sf, result = initial_sync(tmp_path, n, bulk=True)
    assert result["created"] == {"left": 0, "right": n}
    assert sf.stats.by_kind.get("composite", 0) == 0
    assert [(j.kind, j.operation, j.state) for j in sf.bulk.jobs.values()] == [("ingest", "insert", "JobComplete")]
    assert len({str(r["Email"]) for r in sf.records("Contact")}) == n
