"""Apps and syncs made through the REST API: create, replace (initial sync restarts), delete,
refusals with key paths, credentials sealed at rest, CSRF, body limits, persisted eventIds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from service_world import World, login

from accord.index import Store
from accord.vault import Vault


@pytest.fixture
def mworld(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path, schedule=True, tick=0.05, vault=Vault(Fernet.generate_key())) as w:
        w.wait(lambda: all(s["initial_done"] for s in w.client.get("/api/syncs").json()), timeout=10)
        yield w


MIRROR = {"name": "mirror", "left": {"app": "a", "object": "contacts"}, "right": {"app": "b", "object": "people"},
          "direction": "left-to-right", "mappings": [{"left": "email", "right": "email"},
                                                     {"left": "last_name", "right": "last_name"}],
          "match": [{"left": "email", "right": "email"}]}


def _finished(w: World, name: str, n: int) -> list[dict[str, object]]:
    runs: list[dict[str, object]] = w.wait(
        lambda: (r := w.client.get(f"/api/syncs/{name}/runs").json()) and len(r) >= n
        and r[0]["status"] != "running" and r, timeout=10)
    return runs


def test_create_replace_and_delete_a_sync(mworld: World) -> None:
    w = mworld
    w.right.add_object("people", {"email": "text", "last_name": "text", "first_name": "text"})  # type: ignore[dict-item]
    created = w.client.post("/api/syncs", json=MIRROR)
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "api" and created.json()["direction"] == "left-to-right"
    runs = _finished(w, "mirror", 1)
    assert runs[0]["kind"] == "initial" and runs[0]["status"] == "ok"
    people = {r.properties["email"]: r.properties for r in w.right.live("people")}
    assert set(people) == {"Ann@x.com", "Cid@x.com"}  # b refuses last name Ray: those two are failing
    assert w.client.get("/api/syncs/mirror").json()["counts"]["failing"] == 2
    assert "first_name" not in people["Ann@x.com"] or people["Ann@x.com"]["first_name"] is None
    assert w.client.get("/api/syncs/mirror/config").json()["mappings"][1] == {"left": "last_name", "right": "last_name"}

    # replacing the settings restarts the initial sync (and the new mapping fills first names in)
    body = {**MIRROR, "mappings": [*MIRROR["mappings"], {"left": "first_name", "right": "first_name"}]}  # type: ignore[list-item]
    assert w.client.put("/api/syncs/mirror", json=body).status_code == 200
    runs = _finished(w, "mirror", 2)
    assert runs[0]["kind"] == "initial"
    assert {r.properties["first_name"] for r in w.right.live("people")} == {"Ann", "Cid"}
    assert len(w.right.live("people")) == 2  # matched, not created twice
    assert w.client.put("/api/syncs/mirror", json={**MIRROR, "name": "other"}).json()["detail"][0]["path"] == "name"

    # accord.yaml's syncs are read-only here
    file_sync = w.client.get("/api/syncs/contacts/config").json()
    assert w.client.put("/api/syncs/contacts", json=file_sync).status_code == 409
    assert w.client.delete("/api/syncs/contacts").status_code == 409
    assert w.client.post("/api/syncs", json={**MIRROR, "name": "contacts"}).json()["detail"][0]["path"] == "name"

    assert w.client.delete("/api/syncs/mirror").status_code == 204
    assert w.client.get("/api/syncs/mirror").status_code == 404
    assert [s["name"] for s in w.client.get("/api/syncs").json()] == ["contacts", "companies"]
    assert len(w.right.live("people")) == 2  # deleting a sync keeps the records
    assert w.service.store.counts("mirror") == {} and w.service.store.managed_syncs() == []
    assert w.client.delete("/api/syncs/mirror").status_code == 404


def test_refusals_name_the_key(mworld: World) -> None:
    w = mworld
    post = w.client.post
    r = post("/api/syncs", json={**MIRROR, "name": "bad name!"})
    assert r.status_code == 422 and r.json()["detail"][0]["path"] == "name"
    r = post("/api/syncs", json={**MIRROR, "left": {"app": "nope", "object": "contacts"}})
    assert r.status_code == 422 and r.json()["detail"] == [{"path": "left.app", "message": "unknown app 'nope'; defined: a, b"}]
    r = post("/api/syncs", json={**MIRROR, "directoin": "two-way"})
    assert r.status_code == 422 and r.json()["detail"] == [{"path": "directoin", "message": "unknown key"}]
    deals = {"name": "deals", "left": {"app": "a", "object": "deals"}, "right": {"app": "b", "object": "deals"},
             "mappings": [{"left": "amount", "right": "close_date"}]}
    r = post("/api/syncs", json=deals)
    assert r.status_code == 422
    (issue,) = r.json()["detail"]
    assert issue["path"] == "mappings[0].right" and issue["message"].startswith("type-incompatible: amount (number)")
    r = post("/api/syncs", json={**MIRROR, "right": {"app": "b", "object": "no_such_object"}})
    assert r.status_code == 422 and "cannot read the apps' schemas" in r.json()["detail"][0]["message"]
    assert post("/api/syncs", content=b"[1, 2", headers={"content-type": "application/json"}).status_code == 422
    assert [s["name"] for s in w.client.get("/api/syncs").json()] == ["contacts", "companies"]
    assert w.service.store.managed_syncs() == []


def test_apps_are_sealed_at_rest_and_never_shown(mworld: World, tmp_path: Path) -> None:
    w = mworld
    secret = "pat-na1-SECRET-0123456789"
    r = w.client.put("/api/apps/crm", json={"type": "hubspot", "token": secret, "base_url": "http://127.0.0.1:9"})
    assert r.status_code == 200 and r.json()["config"]["token"] == "••••••"
    listed = w.client.get("/api/apps")
    assert secret not in listed.text and {a["name"]: a["source"] for a in listed.json()} == {"a": "file", "b": "file", "crm": "api"}
    raw = (tmp_path / "index.db").read_bytes() + (tmp_path / "index.db-wal").read_bytes() if (tmp_path / "index.db-wal").exists() \
        else (tmp_path / "index.db").read_bytes()
    assert secret.encode() not in raw
    sealed = Store(f"sqlite:///{tmp_path}/index.db").managed_apps()["crm"][1]
    assert secret not in sealed and w.service.registry.vault is not None
    assert w.service.registry.vault.open(sealed)["token"] == secret
    r = w.client.put("/api/apps/crm", json={"type": "hubspot"})
    assert r.status_code == 422 and r.json()["detail"][0]["path"] == "token"
    assert w.client.put("/api/apps/a", json={"type": "memory"}).status_code == 409
    assert w.client.delete("/api/apps/crm").status_code == 204
    assert "crm" not in {a["name"] for a in w.client.get("/api/apps").json()}


def test_cookie_writes_need_the_csrf_token_and_bodies_are_limited(mworld: World) -> None:
    w = mworld
    cookie = login(w.url)
    assert cookie.get("/api/syncs").status_code == 200  # reads need no CSRF token
    assert cookie.post("/api/syncs/contacts/disable").status_code == 403
    assert w.client.get("/api/syncs/contacts").json()["enabled"] is True
    page = cookie.get("/syncs/contacts").text
    csrf = page.split('"X-CSRF-Token": "')[1].split('"')[0]
    assert cookie.post("/api/syncs/contacts/disable", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert cookie.post("/ui/syncs/contacts/toggle").status_code == 403
    assert cookie.post("/ui/syncs/contacts/toggle", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert w.client.get("/api/syncs/contacts").json()["enabled"] is True
    big = b"[" + b"0," * (3 * 1024 * 1024) + b"0]"
    assert w.client.post("/api/syncs", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(6):
            yield b" " * (1024 * 1024)

    assert w.client.post("/api/syncs", content=chunks(), headers={"content-type": "application/json"}).status_code == 413


def test_a_second_sync_on_the_same_object_pair_is_refused_naming_the_first(mworld: World) -> None:
    """Issue #16: two syncs on one object pair create each other's records forever."""
    w = mworld
    twin = {"name": "contacts2", "left": {"app": "b", "object": "contacts"}, "right": {"app": "a", "object": "contacts"}}
    r = w.client.post("/api/syncs", json=twin)
    assert r.status_code == 409, r.text
    assert "as sync 'contacts' already does" in r.json()["detail"]
    assert [s["name"] for s in w.client.get("/api/syncs").json()] == ["contacts", "companies"]
    # the setup flow stops at its first step, naming the other sync (Save is never offered)
    cookie = login(w.url)
    page = cookie.get("/setup").text
    csrf = page.split('csrf_token" value="')[1].split('"')[0]
    fields = {"name": "contacts2", "left_app": "a", "left_object": "contacts", "right_app": "b",
              "right_object": "contacts"}
    r = cookie.post("/setup/objects", data={"draft": json.dumps(fields), **fields, "action": "next", "csrf_token": csrf})
    assert r.status_code == 422
    assert "as sync &#39;contacts&#39; already does" in r.text or "as sync 'contacts' already does" in r.text
    assert w.service.store.managed_syncs() == []


def test_a_sync_renamed_goes_on_from_its_pairs(mworld: World) -> None:
    """Renaming keeps the index: the renamed sync creates nothing twice (a delete and a new sync
    under the new name would start from an empty index). accord.yaml's syncs are renamed in the file."""
    w = mworld
    w.right.add_object("people", {"email": "text", "last_name": "text", "first_name": "text"})  # type: ignore[dict-item]
    assert w.client.post("/api/syncs", json=MIRROR).status_code == 201
    _finished(w, "mirror", 1)
    people, counts = len(w.right.live("people")), w.client.get("/api/syncs/mirror").json()["counts"]

    r = w.client.post("/api/syncs/mirror/rename", json={"name": "people-mirror"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "people-mirror" and r.json()["counts"] == counts
    assert w.client.get("/api/syncs/mirror").status_code == 404
    assert [s["name"] for s in w.service.store.managed_syncs()] == ["people-mirror"]
    _finished(w, "people-mirror", 2)  # its first pass under the new name (the scheduler starts it)
    w.wait(lambda: not w.client.get("/api/syncs/people-mirror").json()["running"], timeout=10)
    w.left.user_create("contacts", {"first_name": "Zed", "last_name": "Fox", "email": "zed.new@x.com"})
    assert w.client.post("/api/syncs/people-mirror/run").status_code == 202
    w.wait(lambda: len(w.right.live("people")) > people, timeout=10)
    runs = _finished(w, "people-mirror", 3)  # the run history came along
    assert runs[-1]["kind"] == "initial" and all(r["status"] == "ok" for r in runs), runs
    assert sum(r["counters"]["created"]["right"] for r in runs[:-1]) == 1, runs
    assert len(w.right.live("people")) == people + 1  # Zed only: nothing created twice

    # refused, saying why
    assert w.client.post("/api/syncs/contacts/rename", json={"name": "x"}).status_code == 409  # accord.yaml's
    assert w.client.post("/api/syncs/people-mirror/rename", json={"name": "bad name!"}).json()["detail"][0]["path"] == "name"
    assert w.client.post("/api/syncs/people-mirror/rename", json={"name": "companies"}).status_code == 422
    assert w.client.post("/api/syncs/nope/rename", json={"name": "x"}).status_code == 404
    assert "Rename on its page" in w.client.put(
        "/api/syncs/people-mirror", json={**MIRROR, "name": "other"}).json()["detail"][0]["message"]

    # the dashboard's Rename…: a refusal keeps the form open with the reason, a rename opens the new page
    form = w.client.get("/ui/syncs/people-mirror/state?confirm=rename").text
    assert 'id="rename-name"' in form and "creates nothing twice" in form
    again = w.client.post("/ui/syncs/people-mirror/rename", data={"name": "companies"})
    assert again.status_code == 200 and "another sync is named" in again.text and 'value="companies"' in again.text
    done = w.client.post("/ui/syncs/people-mirror/rename", data={"name": "mirror"})
    assert done.headers.get("hx-redirect") == "/syncs/mirror"
    assert w.client.get("/api/syncs/mirror").json()["counts"]["syncing"] == counts["syncing"] + 1


def test_renaming_a_sync_others_keep_associations_through_renames_it_there_too(mworld: World) -> None:
    w = mworld
    w.right.add_object("orgs", {"name": "text", "domain": "text"})  # type: ignore[dict-item]
    w.right.add_object("people", {"email": "text", "last_name": "text", "first_name": "text"})  # type: ignore[dict-item]
    orgs = {"name": "orgs", "left": {"app": "a", "object": "companies"}, "right": {"app": "b", "object": "orgs"},
            "direction": "left-to-right", "mappings": [{"left": "name", "right": "name"}],
            "match": [{"left": "name", "right": "name"}]}
    assert w.client.post("/api/syncs", json=orgs).status_code == 201, w.client.post("/api/syncs", json=orgs).text
    r = w.client.post("/api/syncs", json={**MIRROR, "associations": ["orgs"]})
    assert r.status_code == 201, r.text
    assert w.client.post("/api/syncs/orgs/rename", json={"name": "accounts"}).status_code == 200
    assert w.client.get("/api/syncs/mirror/config").json()["associations"] == ["accounts"]
    assert [x["name"] for x in w.service.store.managed_syncs()] == ["accounts", "mirror"]  # each kept its place
    assert {s["name"] for s in w.client.get("/api/syncs").json()} >= {"accounts", "mirror"}
    assert w.client.post("/api/syncs/contacts/rename", json={"name": "people"}).status_code == 409


def _to_review(flow: Any) -> None:
    flow.post("objects", "next", name="mirror", left_app="a", left_object="contacts", right_app="b", right_object="people")
    flow.post("direction", "next", direction="left-to-right", winner="")
    for step in ("mappings", "filters", "options"):
        flow.post(step, "next")


def test_an_edit_saved_over_settings_changed_since_it_opened_is_refused(mworld: World) -> None:
    """Two admins (or two tabs) edit one sync: the second save would silently undo the first.
    The setup flow's edit and the API's If-Match refuse it; nothing is saved."""
    from test_setup_flow_forms import Flow

    w = mworld
    w.right.add_object("people", {"email": "text", "last_name": "text", "first_name": "text"})  # type: ignore[dict-item]
    assert w.client.post("/api/syncs", json=MIRROR).status_code == 201
    _finished(w, "mirror", 1)
    got = w.client.get("/api/syncs/mirror/config")
    etag = got.headers["ETag"]
    # admin 1 opens the edit in the dashboard …
    web = login(w.url)
    flow = Flow(web)
    flow.page = web.get("/syncs/mirror/edit").text
    flow.draft = Flow._draft(flow.page)
    # … admin 2 adds a mapping through the API, naming the settings it read
    added = {**MIRROR, "mappings": [*MIRROR["mappings"], {"left": "first_name", "right": "first_name"}]}  # type: ignore[list-item]
    assert w.client.put("/api/syncs/mirror", json=added, headers={"If-Match": etag}).status_code == 200
    # a second PUT with the old ETag is stale now: 412, nothing saved
    stale = w.client.put("/api/syncs/mirror", json=MIRROR, headers={"If-Match": etag})
    assert stale.status_code == 412 and "was changed since this edit was opened" in stale.text
    assert len(w.client.get("/api/syncs/mirror/config").json()["mappings"]) == 3
    # admin 1 goes through the steps and saves: refused, admin 2's mapping kept
    _to_review(flow)
    page = flow.post("review", "next", status=422)
    assert "sync &#39;mirror&#39; was changed since this edit was opened" in page
    assert len(w.client.get("/api/syncs/mirror/config").json()["mappings"]) == 3
    # opened again, the edit starts from the current settings and saves
    fresh = Flow(web)
    fresh.page = web.get("/syncs/mirror/edit").text
    fresh.draft = Flow._draft(fresh.page)
    _to_review(fresh)
    r = web.post("/setup/review", data={"draft": json.dumps(fresh.draft), "csrf_token": fresh.csrf, "action": "next"},
                 follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    # without If-Match the API replaces as before
    assert w.client.put("/api/syncs/mirror", json=MIRROR).status_code == 200
