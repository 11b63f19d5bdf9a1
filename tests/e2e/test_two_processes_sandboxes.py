"""Two `accord sync` processes on one index, against the HubSpot and Salesforce sandboxes (issue #16).

Before the sync lease, a second process's full pass on the same SQLite index marked about
4,000 live pairs `excluded/deleted` ("deleted in both apps") and skipped new contacts. Here
two real processes run the demo's three syncs at once over loopback HTTP(S): they take turns
per sync, and the apps end with every record once and the index with no pair wrongly deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from accord.demo import DEMO_SYNCS, sandboxes, seed_sandboxes
from accord.index import Store


def test_two_sync_processes_take_turns_and_lose_nothing(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        seed_sandboxes(boxes.hubspot, boxes.salesforce, 300, seed=11)
        assert boxes.salesforce.tls is not None
        (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
            "state": f"sqlite:///{tmp_path}/index.db",
            "apps": {"hubspot": {"type": "hubspot", "token": "pat-two-processes", "base_url": boxes.hubspot_server.url},
                     "salesforce": {"type": "salesforce", "instance_url": boxes.salesforce.url,
                                    "access_token": "token", "verify": boxes.salesforce.tls.cafile}},
            "syncs": DEMO_SYNCS}))
        cmd = [sys.executable, "-m", "accord.cli", "sync", "-c", "accord.yaml", "--full", "--json"]
        env = {**os.environ, "COLUMNS": "200"}
        # Every Salesforce call takes a remote org's round trip, so each process's passes last
        # seconds: one still runs when the other, however slow to start on a loaded machine,
        # arrives (else the two may never meet and the test proves nothing).
        boxes.salesforce.settings.latency = 0.1
        procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert any("waiting for process" in err for _, err in outs), "the two never met: the test proves nothing"
        hs = Counter(str(r["properties"].get("email") or "").lower() for r in boxes.hubspot.records("contacts"))
        sf = Counter(str(r.get("Email") or "").lower() for r in boxes.salesforce.records("Contact"))
        # the seed's own duplicates (same e-mail twice in Salesforce) stay; nothing else is doubled
        seeded_twice = {e for e, n in sf.items() if n > 1 and e}
        assert not {e for e, n in hs.items() if n > 1 and e}, "a HubSpot contact was created twice"
        assert all(sf[e] == 2 for e in seeded_twice)
        assert set(hs) - {""} == set(sf) - {""}, "a contact is missing on one side"
        store = Store(f"sqlite:///{tmp_path}/index.db")
        for name in ("companies", "contacts", "deals"):
            reasons = store.reason_counts(name)
            assert not reasons.get("excluded/deleted"), (name, reasons)
            runs = sorted(store.runs(name, limit=10), key=lambda r: r["id"])
            assert [r["status"] for r in runs] == ["ok", "ok"], runs
            assert runs[1]["started_at"] >= runs[0]["finished_at"], f"{name}: the two passes overlapped"
        store.close()
        for out, _ in outs:
            assert all(r["sync"] in ("companies", "contacts", "deals") for r in json.loads(out))

