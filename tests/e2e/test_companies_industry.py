"""HubSpot companies ↔ Salesforce Account with the defaults, against both seeded sandboxes (issue #19).

Salesforce's Industry picklist has values HubSpot's industry options lack (Electronics,
Agriculture, …): 108 accounts used to fail on ``Electronics was not one of the allowed
options`` while ``accord check`` said ok. Now check lists those values with the value map to
add, and the sync runs without a single failing record; the paired values arrive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.sandbox.hubspot import HubSpotSandbox
from accord.sandbox.hubspot import SandboxSettings as HubSpotSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.salesforce import SandboxSettings as SalesforceSettings
from accord.sandbox.server import ServerThread

ACCORD = [sys.executable, "-m", "accord.cli"]


def accord(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    return subprocess.run([*ACCORD, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, HubSpotSandbox, SalesforceSandbox]]:
    hs = HubSpotSandbox(HubSpotSettings(records=120, seed=0))
    sf = SalesforceSandbox(SalesforceSettings(records=120, seed=0))
    with ServerThread(hs.app) as hs_srv:
        sf.start()
        try:
            assert sf.tls is not None
            (tmp_path / "accord.yaml").write_text(f"""
state: sqlite:///{tmp_path}/index.db
apps:
  hubspot: {{type: hubspot, token: t, base_url: "{hs_srv.url}"}}
  salesforce: {{type: salesforce, instance_url: "{sf.url}", access_token: t, verify: "{sf.tls.cafile}"}}
syncs:
  - name: companies
    left: {{app: hubspot, object: companies}}
    right: {{app: salesforce, object: Account}}
""")
            yield tmp_path, hs, sf
        finally:
            sf.stop()
            hs.close()


def test_defaults_sync_every_company_and_check_names_the_values_left_out(
        project: tuple[Path, HubSpotSandbox, SalesforceSandbox]) -> None:
    path, hs, sf = project
    industries = {str(a.get("Industry")) for a in sf.records("Account")}
    assert "Electronics" in industries  # the sandbox's seed: values HubSpot's options lack
    r = accord("check", "-c", "accord.yaml", cwd=path)
    assert r.returncode == 0, r.stderr
    assert "companies: ok" in r.stdout
    note = next(line for line in r.stdout.splitlines() if "no counterpart" in line)
    assert "salesforce Industry value(s) have no counterpart in hubspot Industry and are not written to hubspot" in note
    assert "Electronics" in note and "values_to_left: {" in note and "FINANCIAL_SERVICES" in note
    before = {a["Id"]: dict(a) for a in sf.records("Account")}

    r = accord("sync", "-c", "accord.yaml", "--json", cwd=path)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)[0]
    assert result["failed"] == {"left": 0, "right": 0}, result
    assert result["created"]["left"] > 50 and result["created"]["right"] > 50
    r = accord("records", "-c", "accord.yaml", "--sync", "companies", "--status", "failing", "--format", "json",
               cwd=path)
    assert json.loads(r.stdout or "[]") == []
    # the paired values arrived; values with no counterpart left HubSpot's industry empty
    by_name = {c["properties"]["name"]: c["properties"] for c in hs.records("companies")}
    paired = {"Finance": "FINANCIAL_SERVICES", "Technology": "COMPUTER_SOFTWARE", "Retail": "RETAIL",
              "Healthcare": "HOSPITAL_HEALTH_CARE", "Education": "EDUCATION_MANAGEMENT"}
    seen = set()
    for a in before.values():
        hub = by_name.get(a["Name"])
        if hub is None:
            continue
        if a.get("Industry") in paired:
            assert hub.get("industry") == paired[a["Industry"]], (a["Name"], a["Industry"], hub.get("industry"))
            seen.add(a["Industry"])
        elif a.get("Industry") == "Electronics":
            assert not hub.get("industry")
            seen.add("Electronics")
    assert {"Electronics", "Finance"} <= seen

    # the value map check suggested: Electronics now has a counterpart, and check stops naming it
    cfg = (path / "accord.yaml").read_text() + (
        "    mappings:\n      - {left: industry, right: Industry, values_to_left: {Electronics: COMPUTER_SOFTWARE}}\n")
    (path / "accord.yaml").write_text(cfg)
    r = accord("check", "-c", "accord.yaml", cwd=path)
    assert r.returncode == 0, r.stderr
    note = next(line for line in r.stdout.splitlines() if "no counterpart" in line)
    assert "Electronics" not in note and "Agriculture" in note
