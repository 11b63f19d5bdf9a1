"""A second deals sync beside `deals` (HubSpot deals ↔ Salesforce Opportunity), against the sandboxes.

Issue #16: made through the setup flow, `deals2` went through without a warning and HubSpot
went from 394 to 2,384 deals (Salesforce from 405 to 2,395) in 2.5 minutes. Now the API
answers 409 and the setup flow stops at its first step, both naming `deals`; nothing is
created, and the running `deals` sync keeps both apps' deal counts where they were.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from service_world import login

from accord.demo import sandboxes, seed_sandboxes
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.vault import Vault

TOKEN = "overlap-token-for-the-api-0123456789"
DEALS2 = {"name": "deals2", "left": {"app": "hubspot", "object": "deals"},
          "right": {"app": "salesforce", "object": "Opportunity"}, "stages": "auto"}


def test_a_second_deals_sync_is_refused_and_nothing_multiplies(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        seed_sandboxes(boxes.hubspot, boxes.salesforce, 60, seed=7)
        cfg = boxes.config(f"sqlite:///{tmp_path}/index.db")
        service = Service(cfg, tick=0.05, vault=Vault(Fernet.generate_key()))
        server = ServerThread(create_app(cfg, service, token=TOKEN)).start()
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        try:
            deadline = time.monotonic() + 60
            while not all(s["initial_done"] for s in api.get("/api/syncs").json()):
                assert time.monotonic() < deadline, "the initial syncs did not finish"
                time.sleep(0.1)
            counts = (len(boxes.hubspot.records("deals")), len(boxes.salesforce.records("Opportunity")))
            r = api.post("/api/syncs", json=DEALS2)
            assert r.status_code == 409, r.text
            assert "as sync 'deals' already does" in r.json()["detail"]
            cookie = login(server.url, TOKEN)
            csrf = cookie.get("/setup").text.split('csrf_token" value="')[1].split('"')[0]
            fields = {"name": "deals2", "left_app": "hubspot", "left_object": "deals", "right_app": "salesforce",
                      "right_object": "Opportunity"}
            page = cookie.post("/setup/objects", data={"draft": json.dumps(fields), **fields, "action": "next",
                                                       "csrf_token": csrf})
            assert page.status_code == 422 and "already does" in page.text and "deals" in page.text
            time.sleep(1.0)  # a few scheduler ticks of the running syncs
            assert [s["name"] for s in api.get("/api/syncs").json()] == ["companies", "contacts", "deals"]
            assert (len(boxes.hubspot.records("deals")), len(boxes.salesforce.records("Opportunity"))) == counts
        finally:
            api.close()
            server.stop()
