"""Issue #18, service hardening, over loopback: every page from an escaping template, no 5xx,
sessions instead of the token in the cookie, throttled guessing, security headers, secrets
masked in settings shown back, the memory app's path refused, auth before form validation."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from openpyxl import load_workbook
from service_world import TOKEN, World, login

from accord.index import Store
from accord.model import ErrorCategory, UnreachableError, WriteError
from accord.sandbox.server import ServerThread, free_port
from accord.service.app import create_app
from accord.service.core import Service
from accord.service.web import Throttle
from accord.session import Session
from accord.vault import Vault

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def vworld(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path, vault=Vault(Fernet.generate_key())) as w:
        yield w


def second_app(world: World, token: str, **kw: Any) -> Any:
    """Another service process's app on the same index (its own Service: stopping it leaves the world's)."""
    svc = Service(world.cfg, Session(world.cfg, connectors={"a": world.left, "b": world.right}), schedule=False)
    return create_app(world.cfg, svc, token=token, start=False, **kw)


def test_a_name_in_the_url_comes_back_escaped(world: World) -> None:
    page = login(world.url)
    r = page.get(f"/syncs/{XSS}/edit")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert XSS not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
    csrf = r.text.split('"X-CSRF-Token": "')[1].split('"')[0]
    for path in (f"/syncs/{XSS}", f"/ui/syncs/{XSS}/row", f"/syncs/contacts/records?status={XSS}",
                 f"/setup/{XSS}"):
        r = page.request("POST" if path.startswith("/setup") else "GET", path, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404, path
        assert XSS not in r.text or r.headers["content-type"].startswith("application/json"), path


def test_the_inputs_that_answered_500_are_refused_or_served(world: World) -> None:
    """Each request of the issue's list, which answered 500 before."""
    def bell(obj: str, props: Any) -> WriteError | None:  # an app's error text with control characters in it
        if props.get("last_name") == "Bell":
            return WriteError(ErrorCategory.VALIDATION, f"{props['first_name']} rings\x07\x00 the bell")
        return None

    world.right.validators.append(bell)
    world.left.user_create("contacts", {"first_name": "Eve", "last_name": "Bell", "email": "eve@x.com"})
    world.left.user_create("contacts", {"first_name": " =cmd|' /C calc'!A0", "last_name": "Bell", "email": "f@x.com"})
    world.run_pass()
    api, page = world.client, login(world.url)
    xlsx = api.get("/api/syncs/contacts/export", params={"status": "failing", "format": "xlsx"})
    assert xlsx.status_code == 200
    messages = [r[4] for r in load_workbook(io.BytesIO(xlsx.content)).active.values]  # type: ignore[union-attr]
    assert "Eve rings\\x07\\x00 the bell" in messages, messages
    assert "' =cmd|' /C calc'!A0 rings\\x07\\x00 the bell" in messages, messages
    exported = api.get("/api/syncs/contacts/export", params={"status": "failing", "format": "csv"}).text
    assert "Eve rings\\x07\\x00 the bell" in exported and "\x07" not in exported
    rows = api.get("/api/syncs/contacts/export", params={"status": "failing", "format": "json"}).json()
    assert "Eve rings\\x07\\x00 the bell" in [r["message"] for r in rows]
    assert page.get("/ui/syncs/contacts/deleted", params={"side": "bogus"}).status_code == 422
    csrf = page.get("/syncs/contacts").text.split('"X-CSRF-Token": "')[1].split('"')[0]
    assert page.post("/ui/syncs/contacts/resync-deleted", data={"side": "bogus"},
                     headers={"X-CSRF-Token": csrf}).status_code == 422
    assert api.get("/api/syncs/contacts/records", params={"offset": "99999999999999999999"}).status_code == 422
    assert page.get("/syncs/contacts/records", params={"page": "99999999999999999999"}).status_code == 422
    # the largest accepted values answer an empty page
    assert api.get("/api/syncs/contacts/records", params={"offset": 500_000_000}).json()["items"] == []
    assert page.get("/syncs/contacts/records", params={"page": 10_000_000}).status_code == 200
    # a damaged setup draft is a page saying so, not a 500
    r = page.post("/setup/mappings", data={"draft": json.dumps({"mappings": [{"oops": 1}], "left_app": "zz"}),
                                           "csrf_token": csrf, "action": "add"})
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("text/html")


def test_dashboard_posts_check_the_session_before_the_form(world: World) -> None:
    anon = httpx.Client(base_url=world.url, follow_redirects=False)
    for path, data in (("/ui/syncs/contacts/resync-deleted", {}), ("/ui/syncs/contacts/resync-deleted", {"side": "x"}),
                       ("/setup/objects", {}), ("/ui/syncs/contacts/toggle", {}), ("/ui/syncs/nope/delete", {})):
        r = anon.post(path, data=data)
        assert (r.status_code, r.headers.get("location")) == (303, "/login"), (path, r.status_code, r.text)
    assert anon.get("/ui/syncs/contacts/deleted").status_code == 303  # without its side parameter too
    assert world.client.get("/api/syncs/contacts").json()["enabled"] is True


def test_the_cookie_is_a_session_revoked_by_logout_and_by_a_new_token(world: World, tmp_path: Path) -> None:
    page = login(world.url)
    sid = page.cookies["accord_session"]
    assert TOKEN not in sid and len(sid) >= 40
    # only a hash of the id is stored
    store = world.service.store
    assert not store.session_valid(sid, world.app.state.auth.fingerprint)
    assert page.get("/", follow_redirects=False).status_code == 200
    copy = httpx.Client(base_url=world.url, cookies={"accord_session": sid}, follow_redirects=False)
    assert copy.get("/api/syncs").status_code == 200
    csrf = page.get("/").text.split('"X-CSRF-Token": "')[1].split('"')[0]
    assert page.post("/logout", follow_redirects=False).headers["location"] == "/login"
    # the stolen copy of the cookie is worthless once its owner logged out
    assert copy.get("/api/syncs").status_code == 401
    assert copy.get("/", follow_redirects=False).headers["location"] == "/login"
    assert copy.post("/ui/syncs/contacts/toggle", headers={"X-CSRF-Token": csrf}).status_code == 303
    assert world.client.get("/api/syncs/contacts").json()["enabled"] is True

    # a service started with another token on the same index knows none of the old sessions
    page = login(world.url)
    sid = page.cookies["accord_session"]
    other = second_app(world, "another-token-0123456789abc")
    with ServerThread(other) as srv:
        assert httpx.get(f"{srv.url}/api/syncs", cookies={"accord_session": sid}).status_code == 401
        assert login(srv.url, "another-token-0123456789abc").get("/api/syncs").status_code == 200
    # …and its logins purged the sessions of the old token
    assert login(world.url).get("/api/syncs").status_code == 200


def test_sessions_expire(world: World) -> None:
    page = login(world.url)
    from sqlalchemy import update

    from accord.index.schema import sessions

    with world.service.store.engine.begin() as c:
        c.execute(update(sessions).values(expires_at=time.time() - 1))
    assert page.get("/api/syncs").status_code == 401
    assert page.get("/", follow_redirects=False).headers["location"] == "/login"


def test_failed_logins_and_bad_tokens_wait_longer_and_longer(tmp_path: Path) -> None:
    throttle = Throttle(free=3, base=0.2, cap=5.0)
    with World(tmp_path) as w:
        w.app.state.auth.throttle = throttle
        anon = httpx.Client(base_url=w.url, follow_redirects=False)
        codes = [anon.post("/login", data={"token": f"guess-{i}"}).status_code for i in range(4)]
        assert codes == [401, 401, 401, 401]
        r = anon.post("/login", data={"token": TOKEN})  # even the right token waits
        assert r.status_code == 429 and "Too many failed attempts" in r.text and int(r.headers["Retry-After"]) >= 1
        r = anon.get("/api/syncs", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 429 and r.headers["Retry-After"]
        time.sleep(0.25)
        assert anon.get("/api/syncs", headers={"Authorization": "Bearer nope"}).status_code == 401
        first = throttle.retry_after("127.0.0.1")
        time.sleep(first + 0.05)
        assert anon.get("/api/syncs", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert throttle.retry_after("127.0.0.1") > first  # each failure doubles the wait
        assert throttle.retry_after("10.1.2.3") == 0  # per address
        time.sleep(throttle.retry_after("127.0.0.1") + 0.05)
        assert anon.get("/api/syncs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert throttle.retry_after("127.0.0.1") == 0  # a success starts afresh


@pytest.mark.timeout(60)
def test_healthz_stays_fast_under_a_login_flood(tmp_path: Path) -> None:
    """`accord run` as a process, 8 clients guessing logins as fast as it answers them."""
    cfg = tmp_path / "accord.yaml"
    cfg.write_text(f"state: sqlite:///{tmp_path}/index.db\napps:\n  a: {{type: memory}}\n  b: {{type: memory}}\n")
    port = free_port()
    env = {**os.environ, "ACCORD_API_TOKEN": "t" * 32}
    proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "run", "-c", str(cfg), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        stop = time.monotonic() + 5

        def flood(i: int) -> list[int]:
            codes = []
            with httpx.Client(base_url=url, timeout=10) as c:
                while time.monotonic() < stop:
                    codes.append(c.post("/login", data={"token": f"wrong-{i}-{len(codes)}"}).status_code)
            return codes

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            sent = pool.map(flood, range(8))
            slowest = 0.0
            with httpx.Client(base_url=url, timeout=10) as probe:
                while time.monotonic() < stop - 0.5:
                    t0 = time.monotonic()
                    assert probe.get("/healthz").json() == {"ok": True}
                    slowest = max(slowest, time.monotonic() - t0)
                    time.sleep(0.05)
            codes = [c for batch in sent for c in batch]
    finally:
        proc.terminate()
        proc.wait(20)
    assert len(codes) > 200 and set(codes) == {401, 429}, (len(codes), set(codes))
    assert codes.count(401) <= 20  # all but the first few guesses of the address were not even checked
    assert slowest < 1.0, slowest


def test_security_headers_on_every_answer(world: World) -> None:
    anon = httpx.Client(base_url=world.url, follow_redirects=False)
    page = login(world.url)
    big = b"x" * (6 * 1024 * 1024)
    answers = [anon.get("/login"), anon.get("/"), page.get("/"), page.get("/syncs/contacts"), world.client.get("/api/syncs"),
               anon.get("/api/syncs"), anon.get("/nope"), anon.get("/static/htmx.min.js"), anon.get("/healthz"),
               anon.get("/openapi.json"), world.client.post("/api/syncs", content=big)]
    assert answers[-1].status_code == 413
    for r in answers:
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, r.url
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert "<style>" not in page.get("/").text and "<script>" not in page.get("/").text
    assert anon.get("/docs").status_code == 404 and anon.get("/redoc").status_code == 404


def test_api_docs_only_when_asked_for(world: World) -> None:
    app = second_app(world, TOKEN, api_docs=True)
    with ServerThread(app) as srv:
        r = httpx.get(f"{srv.url}/docs")
        assert r.status_code == 200 and "swagger" in r.text.lower()
        assert "cdn.jsdelivr.net" in r.headers["content-security-policy"]  # only this page allows the CDN
        assert "cdn.jsdelivr.net" not in httpx.get(f"{srv.url}/login").headers["content-security-policy"]


def test_a_database_password_never_comes_back(vworld: World) -> None:
    api = vworld.client
    url = "postgresql+psycopg://crm:pw-in-userinfo@db.invalid/crm?password=pw-in-query&sslmode=require"
    r = api.put("/api/apps/crm", json={"type": "sql", "url": url, "tables": {"contacts": "people"}})
    assert r.status_code == 200, r.text
    for text in (r.text, api.get("/api/apps").text):
        assert "pw-in-userinfo" not in text and "pw-in-query" not in text
        assert "crm:••••••@db.invalid/crm?password=••••••&sslmode=require" in text
    from accord import redact

    assert redact.scrub(f"connecting to {url} with pw-in-query") == (
        "connecting to postgresql+psycopg://crm:[redacted]@db.invalid/crm?password=[redacted]&sslmode=require "
        "with [redacted]")


def test_the_memory_app_path_is_refused_through_the_api(vworld: World, tmp_path: Path) -> None:
    target = tmp_path / "written-by-the-api.json"
    r = vworld.client.put("/api/apps/x", json={"type": "memory", "path": str(target)})
    assert r.status_code == 422 and r.json()["detail"][0]["path"] == "path"
    assert "accord.yaml" in r.json()["detail"][0]["message"]
    assert vworld.client.put("/api/apps/x", json={"type": "memory"}).status_code == 200
    assert not target.exists()


def test_run_errors_are_stored_without_record_values(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/index.db")
    run = store.begin_run("s", "pass")
    store.finish_run(run, "failed", {}, (
        "IntegrityError: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "
        "\"people_email_key\"\nDETAIL:  Key (email)=(ann.lee@example.com) already exists.\n"
        "[SQL: INSERT INTO people (id, email, phone) VALUES (%(id)s, %(email)s, %(phone)s)]\n"
        "[parameters: {'id': 'c-17', 'email': 'ann.lee@example.com', 'phone': '+49 30 1234567'}]\n"
        "(Background on this error at: https://sqlalche.me/e/20/gkpj)"))
    error = store.runs("s")[0]["error"]
    assert "ann.lee" not in error and "1234567" not in error, error
    assert "Key (email)=([redacted]) already exists" in error and "people_email_key" in error
    assert "INSERT INTO people (id, email, phone)" in error and "[parameters: [redacted]]" in error


def test_exports_neutralise_formulas_after_blanks(world: World) -> None:
    from accord.exports import safe_cell

    for cell in ("=1+1", " =1+1", "\n=1+1", "  +A1", "\t@SUM(A1)", "\r\n-2+3", " \n @x"):
        assert safe_cell(cell).startswith("'"), repr(cell)
    for cell in ("a=1", "x - y", "ann@x.com", ""):
        assert safe_cell(cell) == cell
    assert safe_cell("bell\x07 \ud800 \ufffe tab\tnl\n") == "bell\\x07 \\ud800 \\ufffe tab\tnl\n"
    out = world.client.get("/api/syncs/contacts/export", params={"format": "csv"})
    assert next(csv.reader(io.StringIO(out.text)))[0] == "sync"


def test_a_failing_app_during_a_requested_pass_is_502_not_500(world: World) -> None:
    world.run_pass()
    ann = next(r for r in world.right.live("contacts") if r.properties["email"] == "Ann@x.com")
    world.right.user_delete("contacts", ann.id)
    world.run_pass()

    async def down(*_a: Any, **_k: Any) -> Any:
        raise UnreachableError("a: connection refused (password=hunter22)")

    world.left.read = down  # type: ignore[method-assign]
    r = world.client.post("/api/syncs/contacts/resync-deleted", json={"side": "right"})
    assert r.status_code == 502 and "connection refused" in r.json()["detail"], r.text
    assert "hunter22" not in r.text
    left_id = next(lk["left_id"] for lk in world.client.get("/api/syncs/contacts/records",
                                                            params={"status": "syncing"}).json()["items"])
    assert world.client.post(f"/api/syncs/contacts/records/{left_id}/resync").status_code == 502
    page = login(world.url)
    csrf = page.get("/syncs/contacts").text.split('"X-CSRF-Token": "')[1].split('"')[0]
    r = page.post("/ui/syncs/contacts/resync-deleted", data={"side": "right"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and "connection refused" in r.text and 'role="alert"' in r.text


def test_logging_in_comes_back_to_the_page_asked_for_and_never_elsewhere(world: World) -> None:
    """A link from a notification or a bookmark, opened without a session (or after it expired):
    the login form comes back to that page, not to the summary. Only a page of the dashboard."""
    from service_world import TOKEN

    anon = httpx.Client(base_url=world.url, follow_redirects=False)
    r = anon.get("/syncs/contacts/records?status=failing")
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=%2Fsyncs%2Fcontacts%2Frecords%3Fstatus%3Dfailing")
    form = anon.get(r.headers["location"]).text
    assert '<input type="hidden" name="next" value="/syncs/contacts/records?status=failing">' in form
    wrong = anon.post("/login", data={"token": "nope", "next": "/syncs/contacts/records?status=failing"})
    assert wrong.status_code == 401 and 'name="next" value="/syncs/contacts/records?status=failing"' in wrong.text
    done = anon.post("/login", data={"token": TOKEN, "next": "/syncs/contacts/records?status=failing"})
    assert (done.status_code, done.headers["location"]) == (303, "/syncs/contacts/records?status=failing")
    assert anon.get(done.headers["location"]).status_code == 200
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/login/once/abc", "evil", "/x\n"):
        fresh = httpx.Client(base_url=world.url, follow_redirects=False)
        assert fresh.post("/login", data={"token": TOKEN, "next": evil}).headers["location"] == "/", evil
        assert 'name="next"' not in fresh.get("/login", params={"next": evil}).text, evil
