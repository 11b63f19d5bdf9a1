"""Connecting apps in a real browser: ``accord run`` (the process, with no accord.yaml) starts
with no apps and no syncs; HubSpot and Salesforce are connected through their sandboxes' consent
pages (Allow, redirected back), tested, and synced by a sync made in the setup flow, whose
initial sync the browser watches finish.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import ARTIFACTS
from playwright.sync_api import expect

from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread, free_port

pytestmark = pytest.mark.browser
TOKEN = "apps-browser-token-0123456789"


class Run:
    """Both sandboxes in this process, and ``accord run`` as its own process in an empty directory."""

    def __init__(self, tmp: Path) -> None:
        self.hs = HubSpotSandbox(SandboxSettings(portal_id=4242))
        self.hs_srv = ServerThread(self.hs.app).start()
        self.sf = SalesforceSandbox()
        self.sf.start()
        for i in range(10):
            self.hs.user_create("contacts", {"firstname": f"Hs{i}", "lastname": f"Person{i}", "email": f"h{i}@example.com"})
        for i in range(4):
            self.sf.create("Contact", {"FirstName": f"Sf{i}", "LastName": f"Only{i}", "Email": f"s{i}@example.com"})
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "ACCORD_API_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1,localhost"}
        env.pop("ACCORD_SECRET_KEY", None)
        self.log = (tmp / "run.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "run", "--port", str(port)], cwd=tmp,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.api = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.api.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError((tmp / "run.log").read_text()) from None
                time.sleep(0.1)

    def close(self) -> None:
        self.api.close()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.sf.stop()
        self.hs_srv.stop()
        self.hs.close()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    r = Run(tmp_path)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(ignore_https_errors=True)  # the Salesforce sandbox's CA is the test's own
    p = ctx.new_page()
    p.set_default_timeout(20_000)
    yield p
    ctx.close()


def _connect(page: Any, run: Run, vendor: str, client_id: str, secret: str, base_url: str, verify: str = "") -> None:
    page.goto(f"{run.url}/apps")
    page.click(f"#connect-{vendor}")
    page.wait_for_selector("#connect-form")
    page.fill("input[name=client_id]", client_id)
    page.fill("input[name=client_secret]", secret)
    page.click("#connect-form summary")  # Advanced: the sandbox's URL (and CA)
    page.fill("input[name=base_url]", base_url)
    if verify:
        page.fill("input[name=verify]", verify)
    page.click("#continue")
    page.wait_for_selector("#allow")  # the vendor's consent page
    assert "Accord" in page.locator("#client").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"apps-consent-{vendor}.png"), full_page=True)
    page.click("#allow")
    page.wait_for_url(f"{run.url}/apps?connected={vendor}")


def _pick(page: Any, name: str, value: str) -> None:
    """Fill a setup-flow field whether it is a text input or a picker.

    An app picker refreshes the step (htmx swaps ``main``): wait for the swap, or a later
    choice made before it lands is replaced by the page the earlier request answered."""
    if not page.locator(f"select[name={name}]").count():
        page.fill(f"input[name={name}]", value)
        return
    refreshes = page.locator(f"select[name={name}][hx-post]").count() > 0
    if refreshes:
        page.locator("main").evaluate("m => m.dataset.stale = '1'")
    page.select_option(f"select[name={name}]", value)
    if refreshes:
        page.wait_for_selector("main:not([data-stale])")


def test_connect_hubspot_and_salesforce_then_sync_them(page: Any, run: Run) -> None:
    assert run.api.get("/api/apps").json() == [] and run.api.get("/api/syncs").json() == []
    page.goto(f"{run.url}/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{run.url}/")
    page.click("#nav-apps")
    page.wait_for_selector("#no-apps")

    hs, sf = run.hs.settings, run.sf.settings
    _connect(page, run, "hubspot", hs.client_id, hs.client_secret, run.hs_srv.url)
    expect(page.locator("#connected")).to_contain_text("hubspot")
    assert run.sf.tls is not None
    _connect(page, run, "salesforce", sf.client_id, sf.client_secret, run.sf.url, run.sf.tls.cafile)
    for app in ("hubspot", "salesforce"):
        page.click(f"#app-{app} button.test")
        expect(page.locator(f"#app-{app}")).to_have_attribute("data-state", "connected")
    assert "Hub ID 4242" in page.locator("#app-hubspot .account").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "apps-page.png"), full_page=True)

    # a sync between them, in the setup flow
    page.click("#new-sync")
    page.wait_for_selector("#setup[data-step=objects]")
    page.fill("input[name=name]", "contacts")
    _pick(page, "left_app", "hubspot")
    _pick(page, "left_object", "contacts")
    _pick(page, "right_app", "salesforce")
    _pick(page, "right_object", "Contact")
    page.click("#setup button[value=next]")
    page.wait_for_selector("#setup[data-step=direction]")
    page.check("input[name=direction][value=two-way]")
    page.check("input[name=winner][value=hubspot]")
    for step in ("mappings", "filters", "options", "review"):
        page.click("#setup button[value=next]")
        page.wait_for_selector(f"#setup[data-step={step}]")
    page.click("#save")
    page.wait_for_url(f"{run.url}/syncs/contacts")
    try:
        expect(page.locator("#progress-contacts")).to_contain_text("last: initial", timeout=60_000)
    except Exception as e:
        raise AssertionError(f"initial sync not shown as finished: {run.api.get('/api/syncs/contacts/runs').text}") from e
    counts = run.api.get("/api/syncs/contacts").json()["counts"]
    assert counts["syncing"] == 14 and counts["failing"] == 0
    assert len(run.sf.records("Contact")) == 14 and len(run.hs.records("contacts")) == 14
    assert run.hs.oauth.issued >= 1 and run.sf.oauth.issued >= 1  # they used the connected apps' tokens
