"""The setup flow in a real browser, against the HubSpot and Salesforce sandboxes over loopback.

Log in, create a contacts sync through the six steps (a type-incompatible mapping is
refused with its reason, a required mapping cannot be removed), save & sync, watch the
initial sync finish on the live progress bar, open the failing list and export it, edit
the sync (saving restarts the initial sync), disable it, and finally delete it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import ARTIFACTS
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from accord.demo import sandboxes
from accord.sandbox.salesforce.store import ValidationRule
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.vault import Vault

pytestmark = pytest.mark.browser
TOKEN = "setup-flow-token"


class Stack:
    """Both sandboxes, and ``accord run`` over them with no sync configured yet."""

    def __init__(self, tmp: Path) -> None:
        self._boxes = sandboxes()
        boxes = self._boxes.__enter__()
        self.hs, self.sf = boxes.hubspot, boxes.salesforce
        for i in range(24):
            last = "Ray" if i % 8 == 0 else f"Last{i}"  # three contacts Salesforce's validation rule refuses
            self.hs.user_create("contacts", {"firstname": f"First{i}", "lastname": last, "email": f"p{i}@example.com"})
        for i in range(6):
            self.sf.create("Contact", {"FirstName": f"Sf{i}", "LastName": f"Only{i}", "Email": f"s{i}@example.com"})
        self.sf.org.validation_rules = [ValidationRule("No_Ray", "Contact", "LastName = 'Ray'",
                                                       "Ray is not allowed here", "LastName")]
        demo = boxes.config(f"sqlite:///{tmp}/index.db")
        # no syncs yet (the browser makes one), and no incremental pass right after the initial sync
        cfg = demo.model_copy(update={"syncs": [], "apps": {n: a.model_copy(update={"poll": 3600.0})
                                                            for n, a in demo.apps.items()}})
        self.service = Service(cfg, tick=0.1, vault=Vault(Fernet.generate_key()))
        self.server = ServerThread(create_app(cfg, self.service, token=TOKEN)).start()
        self.url = self.server.url
        self.api = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    def close(self) -> None:
        self.api.close()
        self.server.stop()
        self._boxes.__exit__(None, None, None)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(accept_downloads=True)
    p = ctx.new_page()
    p.set_default_timeout(15_000)
    yield p
    ctx.close()


def _next(page: Any) -> None:
    page.click("#setup button[value=next]")


def test_create_a_contacts_sync_through_the_setup_flow(page: Any, stack: Stack, tmp_path: Path) -> None:
    page.goto(f"{stack.url}/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    assert page.locator("#syncs tbody tr").count() == 0

    # 1. apps and objects
    page.click("#new-sync")
    page.wait_for_selector("#setup[data-step=objects]")
    page.fill("input[name=name]", "contacts")
    page.select_option("select[name=left_object]", "contacts")  # the pickers list each app's own objects
    page.select_option("select[name=right_object]", "Contact")
    _next(page)

    # 2. direction and winner
    page.wait_for_selector("#setup[data-step=direction]")
    page.check("input[name=direction][value=two-way]")
    page.check("input[name=winner][value=hubspot]")
    _next(page)

    # 3. mappings: required ones locked, a type clash refused, a custom one added, a default removed
    page.wait_for_selector("#setup[data-step=mappings]")
    required = page.locator("#mappings tr.required")
    assert {required.nth(i).get_attribute("data-left") for i in range(required.count())} >= {"email", "firstname", "lastname"}
    assert required.locator("button").count() == 0 and required.locator(".locked").count() == required.count()
    page.select_option("select[name=new_left]", "lifecyclestage")
    page.select_option("select[name=new_right]", "DoNotCall")
    page.click("button[value=add]")
    error = page.locator("#setup-error").inner_text()
    assert "Refused lifecyclestage ↔ DoNotCall: type-incompatible" in error and "(enumeration)" in error
    assert page.locator("#mappings tr[data-left=lifecyclestage]").count() == 0
    page.select_option("select[name=new_left]", "mobilephone")
    page.select_option("select[name=new_right]", "MobilePhone")
    page.select_option("select[name=new_rule]", "prefer-left-unless-blank")
    page.click("button[value=add]")
    page.wait_for_selector("#mappings tr[data-left=mobilephone]")
    page.click("#mappings tr[data-left=city] button")  # an optional default: removable
    page.wait_for_selector("#mappings tr.off[data-left=city]")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "setup-flow-mappings.png"), full_page=True)
    _next(page)

    # 4. records (filters), 5. deletes and schedule, then 6. review
    page.wait_for_selector("#setup[data-step=filters]")
    _next(page)
    page.wait_for_selector("#setup[data-step=options]")
    _next(page)
    page.wait_for_selector("#setup[data-step=review]")
    assert page.locator("#issues").count() == 0
    yaml_text = page.locator("#yaml").text_content()
    assert "mobilephone" in yaml_text and "rule: none" in yaml_text and "winner: hubspot" in yaml_text
    page.click("#save")

    # the sync page: the live progress bar runs until the initial sync is done
    page.wait_for_url(f"{stack.url}/syncs/contacts")
    try:
        expect(page.locator("#progress-contacts")).to_contain_text("last: initial", timeout=30_000)
    except Exception as e:  # say what the service did instead
        raise AssertionError(f"initial sync not shown as finished: {stack.api.get('/api/syncs/contacts/runs').text} "
                             f"{stack.api.get('/api/syncs/contacts/progress').text}") from e
    counts = stack.api.get("/api/syncs/contacts").json()["counts"]
    assert counts["failing"] == 3 and counts["syncing"] == 27
    assert len(stack.sf.records("Contact")) == 6 + 21 and len(stack.hs.records("contacts")) == 24 + 6
    page.goto(f"{stack.url}/")
    page.wait_for_selector("#progress-contacts .run")
    page.screenshot(path=str(ARTIFACTS / "setup-flow-summary.png"), full_page=True)

    # the failing list, exported
    page.click("#sync-contacts .count-failing")
    page.wait_for_url("**/syncs/contacts/records?status=failing")
    assert "Ray is not allowed here" in page.locator("#records").inner_text()
    with page.expect_download() as dl:
        page.click(".export-csv")
    target = tmp_path / "failing.csv"
    dl.value.save_as(target)
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 3 and {r["category"] for r in rows} == {"custom_code"}

    # edit: one-way now; saving restarts the initial sync
    page.goto(f"{stack.url}/syncs/contacts")
    page.click("#edit-sync")
    page.wait_for_selector("#setup[data-step=objects]")
    assert page.locator("input[name=name]").get_attribute("readonly") is not None
    _next(page)
    page.check("input[name=direction][value=left-to-right]")
    _next(page)
    page.wait_for_selector("#mappings tr[data-left=mobilephone]")  # the saved mappings come back
    assert page.locator("#mappings tr.off[data-left=city]").count() == 1
    _next(page)
    page.wait_for_selector("#setup[data-step=filters]")
    _next(page)
    page.wait_for_selector("#setup[data-step=options]")
    _next(page)
    page.wait_for_selector("#setup[data-step=review]")
    page.click("#save")
    page.wait_for_url(f"{stack.url}/syncs/contacts")
    runs = stack.api.get("/api/syncs/contacts/runs").json()
    assert stack.api.get("/api/syncs/contacts/config").json()["direction"] == "left-to-right"
    page.locator("#runs tbody tr").first.wait_for(state="attached")
    assert runs and all(r["kind"] == "initial" for r in runs)

    # disable, then delete
    page.goto(f"{stack.url}/")
    page.click("#sync-contacts .toggle")
    page.click("#sync-contacts .confirm")  # disabling asks first
    expect(page.locator("#sync-contacts .state")).to_have_text("disabled")
    assert stack.api.get("/api/syncs/contacts").json()["enabled"] is False
    page.goto(f"{stack.url}/syncs/contacts")
    page.click("#delete-sync")
    page.click("#confirm-delete")  # the question in the page, then the delete
    page.wait_for_url(f"{stack.url}/")
    assert stack.api.get("/api/syncs").json() == []
