"""The Apps page over HTTP, against the HubSpot and Salesforce sandboxes' OAuth servers.

``accord run`` starts with no apps; HubSpot and Salesforce accounts are connected through the
authorization-code flow (consent page, Allow, the callback), two HubSpot accounts side by side,
one added with a pasted private-app token; Test connection; a sync whose app's refresh token is
revoked fails with category ``auth`` and a hint naming the credential, and goes on by itself
once the app is reconnected; disconnecting.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from accord.config import empty_config
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.vault import Vault

TOKEN = "apps-page-token-1234567890"


class Stack:
    """Two HubSpot portals and a Salesforce org (TLS), and ``accord run`` with no apps."""

    def __init__(self, tmp: Path) -> None:
        self.hs = HubSpotSandbox(SandboxSettings(portal_id=111))
        self.hs2 = HubSpotSandbox(SandboxSettings(portal_id=222))
        self.hs_srv = ServerThread(self.hs.app).start()
        self.hs2_srv = ServerThread(self.hs2.app).start()
        self.sf = SalesforceSandbox()
        self.sf.start()
        cfg = empty_config(tmp / "accord.yaml")
        self.service = Service(cfg, tick=0.1, vault=Vault(Fernet.generate_key()), schedule=False)
        self.server = ServerThread(create_app(cfg, self.service, token=TOKEN)).start()
        self.url = self.server.url
        self.web = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20)

    def close(self) -> None:
        self.web.close()
        self.server.stop()
        self.sf.stop()
        for srv, sb in ((self.hs_srv, self.hs), (self.hs2_srv, self.hs2)):
            srv.stop()
            sb.close()

    # -- the authorization-code flow, as a browser follows it -------------------------------------------
    def connect(self, vendor: str, form: dict[str, str], allow: bool = True, verify: Any = True) -> httpx.Response:
        verify = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        go = self.web.post(f"/apps/connect/{vendor}", data=form)
        assert go.status_code == 200, go.text
        url = unescape(re.search(r'id="go" href="([^"]+)"', go.text).group(1))  # type: ignore[union-attr]
        nonce = go.cookies.get("accord_oauth")
        with httpx.Client(verify=verify, timeout=20) as browser:
            page = browser.get(url)
            assert page.status_code == 200 and 'id="allow"' in page.text, page.text
            action = re.search(r'action="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
            fields = {k: unescape(v) for k, v in fields.items()}
            back = browser.post(httpx.URL(url).join(action), data={**fields, "decision": "allow" if allow else "deny"})
        assert back.status_code == 302
        callback = back.headers["location"]
        assert callback.startswith(f"{self.url}/apps/callback?")
        self.web.cookies.set("accord_oauth", nonce or "", path="/apps/callback")
        return self.web.get(callback)

    def hubspot_form(self, sandbox: HubSpotSandbox, srv: ServerThread, name: str = "") -> dict[str, str]:
        s = sandbox.settings
        return {"name": name, "client_id": s.client_id, "client_secret": s.client_secret, "base_url": srv.url}

    def salesforce_form(self, name: str = "salesforce") -> dict[str, str]:
        s = self.sf.settings
        assert self.sf.tls is not None
        return {"name": name, "client_id": s.client_id, "client_secret": s.client_secret, "base_url": self.sf.url,
                "verify": self.sf.tls.cafile}

    def apps(self) -> dict[str, dict[str, Any]]:
        return {a["name"]: a for a in self.web.get("/api/apps").json()}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.close()


def test_accord_run_starts_with_no_apps_and_connects_them(stack: Stack) -> None:
    page = stack.web.get("/apps")
    assert page.status_code == 200 and 'id="no-apps"' in page.text
    assert 'id="connect-hubspot"' in page.text and 'id="connect-salesforce"' in page.text
    assert stack.web.get("/apps/connect/hubspot").text.count("hubspot") > 0

    done = stack.connect("hubspot", stack.hubspot_form(stack.hs, stack.hs_srv, "hubspot"))
    assert done.status_code == 200 and 'id="done"' in done.text, done.text
    # a second portal side by side: the form proposes a name of its own
    assert 'value="hubspot-2"' in stack.web.get("/apps/connect/hubspot").text
    stack.connect("hubspot", stack.hubspot_form(stack.hs2, stack.hs2_srv, "hubspot-2"))
    assert stack.connect("salesforce", stack.salesforce_form(), verify=stack.sf.tls.cafile).status_code == 200  # type: ignore[union-attr]

    apps = stack.apps()
    assert set(apps) == {"hubspot", "hubspot-2", "salesforce"}
    assert apps["hubspot"]["config"]["account"] == "Hub ID 111" and apps["hubspot-2"]["config"]["account"] == "Hub ID 222"
    assert apps["hubspot"]["config"]["refresh_token"] == "••••••"  # sealed, never shown
    assert apps["salesforce"]["config"]["instance_url"] == stack.sf.url
    assert apps["salesforce"]["config"]["account"].startswith("org 00D")

    listing = stack.web.get("/apps").text
    assert listing.count('data-state="untested"') == 3 and "OAuth app (refresh token)" in listing
    for name in ("hubspot", "hubspot-2", "salesforce"):
        row = stack.web.post(f"/ui/apps/{name}/test")
        assert 'data-state="connected"' in row.text, row.text
    assert stack.hs.oauth.issued >= 1 and stack.hs2.oauth.issued >= 1


def test_a_denied_or_replayed_authorization_connects_nothing(stack: Stack) -> None:
    denied = stack.connect("hubspot", stack.hubspot_form(stack.hs, stack.hs_srv, "hubspot"), allow=False)
    assert denied.status_code == 400 and "did not connect" in denied.text
    assert stack.apps() == {}
    # a callback without the browser's nonce cookie, or for a state never issued, is refused
    refused = stack.web.get("/apps/callback", params={"state": "forged", "code": "x"})
    assert refused.status_code == 400 and "unknown or expired" in refused.text
    bad = stack.web.post("/apps/connect/hubspot", data={"name": "bad name!", "client_id": "x"})
    assert bad.status_code == 422 and "letters, digits" in bad.text


def test_reconnecting_another_portal_under_the_same_name_is_refused(stack: Stack) -> None:
    stack.connect("hubspot", stack.hubspot_form(stack.hs, stack.hs_srv, "hubspot"))
    other = stack.connect("hubspot", stack.hubspot_form(stack.hs2, stack.hs2_srv, "hubspot"))
    assert other.status_code == 400 and "Hub ID 111" in other.text and "Hub ID 222" in other.text
    assert stack.apps()["hubspot"]["config"]["account"] == "Hub ID 111"


def test_a_private_app_token_is_the_alternative(stack: Stack) -> None:
    form = stack.web.get("/apps/add/hubspot")
    assert form.status_code == 200 and "Private-app access token" in form.text
    missing = stack.web.post("/apps/add/hubspot", data={"name": "hs", "base_url": stack.hs_srv.url})
    assert missing.status_code == 422 and "required" in missing.text
    added = stack.web.post("/apps/add/hubspot", data={"name": "hs", "token": "pat-na1-secret-token",
                                                      "base_url": stack.hs_srv.url}, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/apps?connected=hs"
    assert "private-app token" in stack.web.get("/apps").text
    assert 'data-state="connected"' in stack.web.post("/ui/apps/hs/test").text
    stack.hs.settings.token = "another-token"  # the token was rotated in HubSpot
    row = stack.web.post("/ui/apps/hs/test").text
    assert 'data-state="failing"' in row and "Private apps" in row
    assert stack.web.post("/ui/apps/hs/disconnect").headers.get("hx-redirect") == "/apps"
    assert stack.apps() == {}


def test_an_app_added_with_a_token_shows_the_account_its_passes_signed_in_to(stack: Stack) -> None:
    for name, srv in (("hs", stack.hs_srv), ("hs2", stack.hs2_srv)):
        added = stack.web.post("/apps/add/hubspot", data={"name": name, "token": "pat-na1-secret-token",
                                                          "base_url": srv.url}, follow_redirects=False)
        assert added.status_code == 303
    stack.hs.settings.token = stack.hs2.settings.token = "pat-na1-secret-token"

    def account(app: str) -> str:
        cell = re.search(rf'id="app-{app}".*?class="account"[^>]*><span>([^<]*)<', stack.web.get("/apps").text, re.S)
        assert cell is not None
        return cell.group(1)

    assert account("hs") == "—"  # a token names no account: known once a pass has signed in
    r = stack.web.post("/api/syncs", json={"name": "contacts", "left": {"app": "hs", "object": "contacts"},
                                           "right": {"app": "hs2", "object": "contacts"}})
    assert r.status_code == 201, r.text
    assert _run(stack) == "ok"
    assert (account("hs"), account("hs2")) == ("HubSpot account 111", "HubSpot account 222")


def _run(stack: Stack) -> str:
    """Run a pass of ``contacts`` and wait for it: its status (ok, failed)."""
    before = len(stack.web.get("/api/syncs/contacts/runs").json())
    assert stack.web.post("/api/syncs/contacts/run").status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = stack.web.get("/api/syncs/contacts/runs").json()
        if len(runs) > before and runs[0]["status"] != "running" and \
                not stack.web.get("/api/syncs/contacts/progress").json()["running"]:
            return str(runs[0]["status"])
        time.sleep(0.1)
    raise AssertionError("the pass did not finish")


def _sync(stack: Stack) -> dict[str, Any]:
    body = {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
            "right": {"app": "salesforce", "object": "Contact"}}
    r = stack.web.post("/api/syncs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_revoked_refresh_token_shows_the_sync_failing_until_the_app_is_reconnected(stack: Stack) -> None:
    stack.hs.user_create("contacts", {"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"})
    stack.connect("hubspot", stack.hubspot_form(stack.hs, stack.hs_srv, "hubspot"))
    stack.connect("salesforce", stack.salesforce_form(), verify=stack.sf.tls.cafile)  # type: ignore[union-attr]
    _sync(stack)
    assert _run(stack) == "ok"
    assert stack.web.get("/api/syncs/contacts").json()["problem"] is None

    stack.hs.revoke_refresh_tokens()  # the app was uninstalled from the portal
    assert _run(stack) == "failed"
    problem = stack.web.get("/api/syncs/contacts").json()["problem"]
    assert problem["category"] == "auth" and problem["app"] == "hubspot"
    assert "refresh token" in problem["hint"] and "Reconnect" in problem["hint"]
    assert "stopped: credentials refused</a>" in stack.web.get("/").text
    row = re.search(r'<tr id="app-hubspot".*?</tr>', stack.web.get("/apps").text, re.S).group(0)  # type: ignore[union-attr]
    assert 'data-state="failing"' in row and "refresh token" in row and 'class="button secondary reconnect"' in row

    stack.hs.user_create("contacts", {"email": "bob@example.com", "firstname": "Bob", "lastname": "Kim"})
    stack.connect("hubspot", stack.hubspot_form(stack.hs, stack.hs_srv, "hubspot"))  # Reconnect
    assert _run(stack) == "ok"  # the sync goes on by itself
    assert stack.web.get("/api/syncs/contacts").json()["problem"] is None
    assert {r.get("Email") for r in stack.sf.records("Contact")} >= {"ann@example.com", "bob@example.com"}
    refused = stack.web.post("/ui/apps/hubspot/disconnect")
    assert "used by sync(s) contacts" in refused.text


def test_hubspot_asks_for_the_other_objects_scopes_as_optional(stack: Stack) -> None:
    """Tickets, products, custom objects, activities and timeline events need scopes of their own;
    asked as ``optional_scope`` so an account whose tier lacks one can still connect."""
    go = stack.web.post("/apps/connect/hubspot", data=stack.hubspot_form(stack.hs, stack.hs_srv, "hubspot"))
    url = httpx.URL(unescape(re.search(r'id="go" href="([^"]+)"', go.text).group(1)))  # type: ignore[union-attr]
    required, optional = url.params["scope"].split(), url.params["optional_scope"].split()
    assert "crm.objects.contacts.write" in required and "tickets" not in required
    assert {"tickets", "e-commerce", "crm.objects.custom.read", "timeline"} <= set(optional)
    with httpx.Client(timeout=20) as browser:
        page = browser.get(str(url)).text
    assert "View and edit tickets" in page and "Write events on records&#x27; timelines" in page
