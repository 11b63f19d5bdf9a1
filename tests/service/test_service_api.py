"""REST API of ``accord run`` over loopback: auth, syncs, status, records, export, resync, runs, metrics."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

import httpx
from openpyxl import load_workbook
from service_world import TOKEN, World, login


def test_auth_health_and_docs(world: World) -> None:
    anon = httpx.Client(base_url=world.url)
    assert anon.get("/healthz").json() == {"ok": True}
    assert anon.get("/api/syncs").status_code == 401
    assert anon.get("/api/syncs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anon.get("/api/syncs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    # the dashboard's cookie is a session, never the token itself
    assert httpx.get(f"{world.url}/api/syncs", headers={"Cookie": f"accord_session={TOKEN}"}).status_code == 401
    assert login(world.url).get("/api/syncs").status_code == 200
    assert anon.get("/", follow_redirects=False).headers["location"] == "/login"
    schema = anon.get("/openapi.json").json()
    assert "/api/syncs/{name}/records" in schema["paths"] and "/webhooks/{app}" in schema["paths"]
    assert anon.get("/docs").status_code == 404  # Swagger UI loads scripts from a CDN: only with --api-docs
    assert "htmx" in anon.get("/static/htmx.min.js").text[:200]


def test_pass_status_records_and_export(world: World) -> None:
    run = world.run_pass()
    assert run["kind"] == "initial" and run["status"] == "ok"
    syncs = {s["name"]: s for s in world.client.get("/api/syncs").json()}
    assert syncs["contacts"]["counts"] == {"syncing": 2, "failing": 2, "excluded": 1, "queued": 0}
    assert syncs["contacts"]["initial_done"] and syncs["contacts"]["enabled"]
    status = world.client.get("/api/syncs/contacts/status").json()
    assert status["reasons"] == {"failing/custom_code": 2, "excluded/no_match_key": 1}
    # the dashboard says them in words (the API keeps the keys)
    counts = world.client.get("/ui/syncs/contacts/counts").text
    assert "excluded: no match key (e.g. no e-mail)" in counts and "failing: rejected by the app&#39;s own rules" in counts
    # each reason opens the list of its records
    assert re.search(r'<a href="/syncs/contacts/records\?status=excluded&amp;reason=no_match_key">excluded: no match key',
                     counts)
    only = world.client.get("/syncs/contacts/records", params={"status": "failing", "reason": "custom_code"}).text
    assert "2 failing records: rejected by the app" in only and "Show all failing records" in only
    assert world.client.get("/syncs/contacts/records", params={"status": "failing", "reason": "validation"}).text \
        .count("No failing records.") == 1

    page1 = world.client.get("/api/syncs/contacts/records", params={"status": "failing", "limit": 1}).json()
    assert page1["total"] == 2 and page1["next_offset"] == 1
    item = page1["items"][0]
    assert (item["category"], item["hint"]) == ("custom_code", "Fix the rule")
    page2 = world.client.get("/api/syncs/contacts/records", params={"status": "failing", "limit": 1, "offset": 1}).json()
    assert page2["next_offset"] is None and page2["items"][0]["id"] != item["id"]
    assert world.client.get("/api/syncs/contacts/records", params={"status": "nope"}).status_code == 422
    assert world.client.get("/api/syncs/nope/records").status_code == 404

    # a reason of the status, as the dashboard's chips open it: its records, its count, its export
    custom = world.client.get("/api/syncs/contacts/records", params={"status": "failing", "reason": "custom_code"}).json()
    assert (custom["reason"], custom["total"], len(custom["items"])) == ("custom_code", 2, 2)
    none = world.client.get("/api/syncs/contacts/records", params={"status": "failing", "reason": "validation"}).json()
    assert (none["total"], none["items"], none["next_offset"]) == (0, [], None)
    assert world.client.get("/api/syncs/contacts/records", params={"reason": "Bad Reason"}).status_code == 422
    only = world.client.get("/api/syncs/contacts/export", params={"status": "excluded", "reason": "no_match_key"})
    assert [r["reason"] for r in csv.DictReader(io.StringIO(only.text))] == ["no_match_key"]
    assert 'filename="contacts-excluded-no_match_key.csv"' in only.headers["content-disposition"]
    assert list(csv.DictReader(io.StringIO(world.client.get(
        "/api/syncs/contacts/export", params={"status": "failing", "reason": "validation"}).text))) == []
    page = world.client.get("/syncs/contacts/records", params={"status": "failing", "reason": "custom_code"}).text
    assert "Export (these 2 records)" in page
    assert re.search(r'href="/api/syncs/contacts/export\?status=failing&(amp;)?reason=custom_code&(amp;)?format=csv"', page)

    exp = world.client.get("/api/syncs/contacts/export", params={"status": "failing", "format": "csv"})
    assert exp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exp.text)))
    assert [r["category"] for r in rows] == ["custom_code", "custom_code"] and rows[0]["hint"] == "Fix the rule"
    xlsx = world.client.get("/api/syncs/contacts/export", params={"status": "excluded", "format": "xlsx"})
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    assert ws is not None
    values = list(ws.values)
    assert values[0][:3] == ("sync", "status", "reason") and values[1][2] == "no_match_key"

    runs = world.client.get("/api/syncs/contacts/runs").json()
    assert runs[0]["counters"]["created"]["right"] == 2
    prog = world.client.get("/api/syncs/contacts/progress").json()
    assert prog["running"] is False and prog["kind"] == "initial" and prog["records"] >= 5


def test_enable_disable_and_scheduled_jobs_skip_disabled(world: World) -> None:
    assert world.client.post("/api/syncs/contacts/disable").json()["enabled"] is False
    assert world.client.get("/api/syncs/contacts").json()["enabled"] is False
    fut = asyncio.run_coroutine_threadsafe(world.service.scheduled("contacts"), world.service.loop)
    assert fut.result(5) is None and world.client.get("/api/syncs/contacts/runs").json() == []
    # "No pass runs … until you enable it again": not by "Sync now" either
    r = world.client.post("/api/syncs/contacts/run")
    assert r.status_code == 409 and "is disabled: no pass runs until it is enabled" in r.text
    web = login(world.url)
    page = web.get("/syncs/contacts").text
    assert "No pass runs while it is disabled." in page and 'id="run-contacts"' not in page
    csrf = page.split('"X-CSRF-Token": "')[1].split('"')[0]
    assert "No pass runs while it is disabled." in web.post("/ui/syncs/contacts/run", headers={"X-CSRF-Token": csrf}).text
    assert world.client.get("/api/syncs/contacts/runs").json() == []
    assert world.client.post("/api/syncs/contacts/enable").json()["enabled"] is True
    assert world.client.post("/api/syncs/nope/enable").status_code == 404


def test_resync_deleted_preview_then_apply_and_resync_one_record(world: World) -> None:
    world.run_pass()
    ann = next(r for r in world.right.live("contacts") if r.properties["email"] == "Ann@x.com")
    world.right.user_delete("contacts", ann.id)
    world.run_pass()
    failing = world.client.get("/api/syncs/contacts/records", params={"status": "failing"}).json()["items"]
    assert "deleted" in {f["category"] for f in failing}
    preview = world.client.get("/api/syncs/contacts/deleted", params={"side": "right"}).json()
    assert preview["total"] == 1 and preview["items"][0]["right_id"] == ann.id
    assert world.client.get("/api/syncs/contacts/deleted", params={"side": "left"}).json()["total"] == 0
    res = world.client.post("/api/syncs/contacts/resync-deleted", json={"side": "right"}).json()
    assert res["created"]["right"] == 1 and res["kind"] == "resync"
    assert sum(r.properties["email"] == "Ann@x.com" for r in world.right.live("contacts")) == 1

    # one record: fix the validation problem by editing, then resync just that record
    bob = next(r for r in world.left.live("contacts") if r.properties["first_name"] == "Bob")
    world.left.user_update("contacts", bob.id, {"last_name": "Rae"})
    one = world.client.post(f"/api/syncs/contacts/records/{bob.id}/resync").json()
    assert one["kind"] == "records" and one["created"]["right"] == 1
    assert world.client.post("/api/syncs/contacts/records/nope/resync").status_code == 404


def test_metrics(world: World) -> None:
    world.run_pass()
    text = httpx.get(f"{world.url}/metrics").text
    assert 'accord_records_synced_total{side="right",sync="contacts"} 2.0' in text
    assert 'accord_records_failed_total{side="right",sync="contacts"} 2.0' in text
    assert 'accord_api_calls_total{app="a"}' in text
    assert 'accord_pass_duration_seconds_count{kind="pass",sync="contacts"} 1.0' in text
    assert "accord_webhook_queue_depth 0.0" in text



def test_manual_one_way_copy_runs_in_the_background(world: World) -> None:
    world.right.user_create("contacts", {"first_name": "Zed", "last_name": "Roe", "email": "zed@x.com"})
    r = world.client.post("/api/syncs/contacts/run", params={"direction": "right-to-left"})
    assert r.status_code == 202 and r.json()["started"] == "manual right-to-left"
    world.wait(lambda: (runs := world.client.get("/api/syncs/contacts/runs").json()) and runs[0]["status"] == "ok")
    assert "zed@x.com" in {c.properties["email"] for c in world.left.live("contacts")}
    assert {c.properties["email"] for c in world.right.live("contacts")} == {"zed@x.com"}  # nothing copied back
    assert world.client.get("/api/syncs/contacts").json()["initial_done"] is True
    assert world.client.post("/api/syncs/contacts/run", params={"direction": "sideways"}).status_code == 422


def test_a_sync_off_in_its_configuration_stays_off_whatever_the_switch(tmp_path: Path) -> None:
    """``enabled: false`` in accord.yaml always wins (accord.index.sync_state.sync_enabled): the
    API refuses to turn it on, and the dashboard says why instead of offering *Enable*."""
    with World(tmp_path, contacts={"enabled": False}) as w:
        body = w.client.get("/api/syncs/contacts").json()
        assert (body["enabled"], body["off_in_config"]) == (False, True)
        r = w.client.post("/api/syncs/contacts/enable")
        assert r.status_code == 409 and "enabled: false in its configuration, which always wins" in r.text
        assert w.service.store.sync_state("contacts") is None or w.service.store.sync_state("contacts").enabled
        web = login(w.url)
        row = web.get("/").text.split('id="sync-contacts"')[1].split("</tbody>")[0]
        assert "off in its configuration" in row and ">Enable<" not in row
        page = web.get("/syncs/contacts").text
        assert "Off in its configuration (<code>enabled: false</code>)" in page and ">Enable</button>" not in page
        csrf = page.split('"X-CSRF-Token": "')[1].split('"')[0]
        assert web.post("/ui/syncs/contacts/toggle", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert w.client.get("/api/syncs/contacts").json()["enabled"] is False
        assert w.client.get("/api/syncs/companies").json()["off_in_config"] is False
