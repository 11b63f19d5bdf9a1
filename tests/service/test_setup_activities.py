"""HubSpot activities to Salesforce in the dashboard (issue #20 item 1), against the sandboxes.

The setup flow shows one checkbox per activity type only for a HubSpot contacts ↔ Salesforce
Contact sync; the sync saved with ``calls`` copies the calls, and the records views (the API's
status and records, the dashboard's records page) show an activity waiting for its contact
with its reason, like any other record.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from service_world import login

from accord.config import parse_config
from accord.demo import sandboxes
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.vault import Vault

TOKEN = "activities-token-for-the-api-0123456789"
WHEN = "2026-03-02T10:00:00.000Z"


class Flow:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.page = client.get("/setup").text
        self.csrf = self.page.split('csrf_token" value="')[1].split('"')[0]
        self.draft = self._draft(self.page)

    @staticmethod
    def _draft(page: str) -> dict[str, Any]:
        m = re.search(r'name="draft" value="([^"]*)"', page)
        assert m, page[:2000]
        out: dict[str, Any] = json.loads(html.unescape(m.group(1)))
        return out

    def post(self, step: str, action: str = "next", status: int = 200, **fields: Any) -> None:
        r = self.client.post(f"/setup/{step}", data={"draft": json.dumps(self.draft), "csrf_token": self.csrf,
                                                     "action": action, **fields})
        assert r.status_code == status, (r.status_code, r.text[:3000])
        self.page = r.text
        if status != 303:
            self.draft = self._draft(r.text)

    def to_options(self, name: str, left: str, right: str) -> None:
        self.post("objects", name=name, left_app="hubspot", left_object=left, right_app="salesforce",
                  right_object=right)
        self.post("direction", direction="two-way", winner="")
        self.post("mappings")
        self.post("filters", require_match_key="on")
        assert 'data-step="options"' in self.page


def test_activity_checkboxes_save_the_sync_and_its_records_show_waiting_ones(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        ann = hs.user_create("contacts", {"firstname": "Ann", "lastname": "Lee", "email": "ann@acme.com"})["id"]
        bob = hs.user_create("contacts", {"firstname": "Bob", "lastname": "Ray"})["id"]  # no e-mail: not synced
        for contact, title in ((ann, "Intro call"), (bob, "Cold call")):
            call = hs.user_create("calls", {"hs_timestamp": WHEN, "hs_call_title": title})["id"]
            hs.associate("calls", call, "contacts", contact)
        note = hs.user_create("notes", {"hs_timestamp": WHEN, "hs_note_body": "Not copied"})["id"]
        hs.associate("notes", note, "contacts", ann)
        base = boxes.config(f"sqlite:///{tmp_path}/index.db")
        cfg = parse_config({"state": base.state, "apps": {n: a.model_dump(mode="json") for n, a in base.apps.items()},
                            "syncs": []}, "accord.yaml", env={})
        service = Service(cfg, tick=0.05, vault=Vault(Fernet.generate_key()))
        server = ServerThread(create_app(cfg, service, token=TOKEN)).start()
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        try:
            flow = Flow(login(server.url, TOKEN))
            flow.to_options("companies", "companies", "Account")
            assert 'id="activities"' not in flow.page  # companies ↔ Account: no activities
            flow = Flow(login(server.url, TOKEN))
            flow.to_options("contacts", "contacts", "Contact")
            assert 'id="activities"' in flow.page
            for kind in ("calls", "emails", "meetings", "notes", "tasks"):
                assert f'name="activities" value="{kind}"' in flow.page
            flow.post("options", activities_shown="1", activities="calls")
            assert flow.draft["activities"] == ["calls"]
            assert 'data-step="review"' in flow.page and "calls from HubSpot to Salesforce" in flow.page
            # the review says each setting in words, not as the config's values
            review = html.unescape(flow.page)
            for words in (" fields</td>", "all records; a record without a match key is left out",
                          "the other record is kept and the pair shows as failing (the default)",
                          "looks for changes every"):
                assert words in review, words
            assert "waits for your confirmation" not in review  # the delete guard only guards propagated deletes
            other = Flow(login(server.url, TOKEN))
            other.to_options("contacts-propagating", "contacts", "Contact")
            other.post("options", deletes="propagate")
            review = html.unescape(other.page)
            assert "deleted in the other app too; a pass that would delete more than 10 % of the pairs" in review
            assert "activities:\n" in html.unescape(flow.page)  # the YAML of the review
            flow.post("review", status=303)
            sync = api.get("/api/syncs/contacts").json()
            deadline = time.monotonic() + 60
            while not (sync["initial_done"] and sf.records("Task")):
                assert time.monotonic() < deadline, "the contacts sync did not finish its initial pass"
                time.sleep(0.1)
                sync = api.get("/api/syncs/contacts").json()
            assert [t["Subject"] for t in sf.records("Task")] == ["Intro call"]  # the note is not copied
            status = api.get("/api/syncs/contacts/status").json()
            assert status["reasons"]["queued/waiting_for_contact"] == 1
            assert status["counts"]["queued"] == 1
            queued = api.get("/api/syncs/contacts/records", params={"status": "queued"}).json()
            assert [(i["label"], i["reason"]) for i in queued["items"]] == [("call: Cold call", "waiting_for_contact")]
            page = flow.client.get("/syncs/contacts/records", params={"status": "queued"}).text
            assert "call: Cold call" in page and "waiting_for_contact" in page
            # the run history keeps what each pass did with the activities (API and dashboard)
            runs = api.get("/api/syncs/contacts/runs").json()
            initial = next(r for r in runs if r["kind"] == "initial")
            assert initial["counters"]["activities"]["calls"]["created"] == 1
            assert initial["counters"]["activities"]["calls"]["waiting"] == 1
            history = flow.client.get("/ui/syncs/contacts/runs").text
            assert 'scope="col">Activities<' in history and "calls 1 created, 1 waiting" in history
            assert "calls 1 created, 1 waiting" in flow.client.get("/syncs/contacts").text
            row = re.search(r'<tr id="record-[^"]*">\s*<th scope="row" data-label="Record">(<a href="([^"]+)">)?call: Cold call'
                            r'.*?</tr>', page, re.S)
            assert row is not None and "Sync now" not in row.group(0)  # not a contact: the next pass syncs it
            # its own page (an activity row of the sync) says what it waits for
            detail = flow.client.get(row.group(2)).text
            assert "waiting for its contact" in detail and "Sync now" not in detail
            # editing the sync shows the saved choice checked
            edit = flow.client.get("/syncs/contacts/edit").text
            assert Flow._draft(edit)["activities"] == ["calls"]
        finally:
            api.close()
            server.stop()


def test_a_failing_activity_row_is_retried_from_the_dashboard(tmp_path: Path) -> None:
    """The records page's "Sync now" on a failing activity (a Task Salesforce refused) syncs it
    once the cause is fixed, without waiting for the next pass."""
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        rule = sf.add_validation_rule("Task", "Subject = 'Bad call'", "Calls need a proper subject", field="Subject")
        ann = hs.user_create("contacts", {"firstname": "Ann", "lastname": "Lee", "email": "ann@acme.com"})["id"]
        call = hs.user_create("calls", {"hs_timestamp": WHEN, "hs_call_title": "Bad call"})["id"]
        hs.associate("calls", call, "contacts", ann)
        base = boxes.config(f"sqlite:///{tmp_path}/index.db")
        apps = {n: {**a.model_dump(mode="json"), "poll": "1h"} for n, a in base.apps.items()}  # no pass meanwhile
        sync = {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                "right": {"app": "salesforce", "object": "Contact"}, "activities": ["calls"]}
        cfg = parse_config({"state": base.state, "apps": apps, "syncs": [sync]}, "accord.yaml", env={})
        service = Service(cfg, tick=0.05, vault=Vault(Fernet.generate_key()))
        server = ServerThread(create_app(cfg, service, token=TOKEN)).start()
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        try:
            deadline = time.monotonic() + 60
            while api.get("/api/syncs/contacts/status").json()["counts"].get("failing") != 1:
                assert time.monotonic() < deadline, "the call did not fail"
                time.sleep(0.1)
            client = login(server.url, TOKEN)
            page = client.get("/syncs/contacts/records", params={"status": "failing"}).text
            row = re.search(r'<tr id="record-[^"]*">\s*<th scope="row" data-label="Record">(?:<a href="[^"]+">)?call: Bad call.*?</tr>',
                            page, re.S)
            assert row is not None and "Sync now" in row.group(0), page[-3000:]
            post = re.search(r'hx-post="([^"]+)"\s+hx-vals=\'([^\']+)\'', row.group(0))
            assert post is not None
            form = json.loads(post.group(2))
            assert form == {"side": "left", "status": "failing", "activity": "calls"}
            csrf = page.split('"X-CSRF-Token": "')[1].split('"')[0]
            sf.org.validation_rules.remove(rule)  # the cause, fixed in Salesforce
            r = client.post(post.group(1), data=form, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 200, r.text
            assert "Synced: created 1." in r.text and "Now syncing." in r.text, r.text
            assert [t["Subject"] for t in sf.records("Task")] == ["Bad call"]
            counts = api.get("/api/syncs/contacts/status").json()["counts"]
            assert (counts["syncing"], counts["failing"]) == (2, 0)
        finally:
            api.close()
            server.stop()
