"""``accord sync`` HubSpot → Salesforce with small Bulk API 2.0 thresholds (issue #21): the
Salesforce scan reads through a query job, the creates go through ingest jobs, and rows Salesforce
rejects become failing records with the REST path's category while the rest are synced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from accord.index import Store
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.hubspot.store import SEED
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread


def test_accord_sync_through_bulk_api(tmp_path: Path) -> None:
    hs = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=10_000))
    sf = SalesforceSandbox()
    # more than one REST page (2,000): the scan reads the first page, then the rest through a query job
    sf.org.seed(2300, seed=5, objects=("Contact",))
    sf.add_validation_rule("Contact", "LastName = 'Reject'", "Rejected by the rule", "LastName")
    with hs.store.lock:
        for i in range(400):
            hs.store.create("contacts", {"email": f"bulk{i}@example.com", "firstname": f"F{i}",
                                         "lastname": "Reject" if i % 50 == 0 else f"L{i}"}, SEED)
    sf.start()
    try:
        with ServerThread(hs.app) as hs_srv:
            assert sf.tls is not None
            (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
                "state": f"sqlite:///{tmp_path}/index.db",
                "apps": {"hubspot": {"type": "hubspot", "token": "pat-bulk", "base_url": hs_srv.url},
                         "salesforce": {"type": "salesforce", "instance_url": sf.url, "access_token": "token",
                                        "verify": sf.tls.cafile, "bulk_threshold": 1000, "bulk_write_threshold": 50}},
                "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                           "right": {"app": "salesforce", "object": "Contact"}, "direction": "left-to-right"}]}))
            cmd = [sys.executable, "-m", "accord.cli", "sync", "-c", "accord.yaml", "--json"]
            done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                                  env={**os.environ, "COLUMNS": "200"})
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)[0]["sync"] == "contacts"
        kinds = {(j.kind, j.operation, j.state) for j in sf.bulk.jobs.values()}
        assert ("query", "query", "JobComplete") in kinds and ("ingest", "insert", "JobComplete") in kinds
        assert sf.stats.by_kind.get("composite", 0) == 0  # every create went through ingest jobs
        emails = {str(r["Email"]) for r in sf.records("Contact")}
        want = {f"bulk{i}@example.com" for i in range(400) if i % 50}
        assert want <= emails and not {f"bulk{i}@example.com" for i in range(0, 400, 50)} & emails
        store = Store(f"sqlite:///{tmp_path}/index.db")
        try:
            assert store.reason_counts("contacts").get("failing/custom_code") == 8
            failing = store.records("contacts", status="failing")
            assert all("Rejected by the rule" in str(lk.message) for lk in failing)
        finally:
            store.close()
    finally:
        sf.stop()
        hs.close()
