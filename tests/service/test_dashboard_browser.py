"""The dashboard in a real browser: Playwright driving Debian's chromium (never ``playwright install``).

Without chromium these tests skip, except under CI (``CI`` set), where they fail: CI must
install the ``chromium`` package (scripts/test-deps.sh does when run as root).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS
from playwright.sync_api import expect
from service_world import TOKEN, World

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any, world: World) -> Iterator[Any]:
    world.run_pass()
    ctx = browser.new_context(accept_downloads=True)
    p = ctx.new_page()
    p.set_default_timeout(5000)
    yield p
    ctx.close()


def login(page: Any, world: World) -> None:
    page.goto(f"{world.url}/")
    assert page.url.endswith("/login")
    page.fill("input[name=token]", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong token."
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{world.url}/")


def test_login_summary_failing_list_export_and_disable(page: Any, world: World, tmp_path: Path) -> None:
    login(page, world)
    row = page.locator("#sync-contacts")
    assert row.locator(".count-syncing").inner_text() == "2"
    assert row.locator(".count-failing").inner_text() == "2"
    assert row.locator(".count-excluded").inner_text() == "1"
    page.wait_for_selector("#progress-contacts .run")  # the progress cell loaded through htmx
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-summary.png"), full_page=True)

    row.locator(".count-failing").click()
    page.wait_for_url("**/syncs/contacts/records?status=failing")
    cells = page.locator("#records tbody td.category").all_inner_texts()
    assert cells == ["rejected by the app's own rules (custom_code)"] * 2  # in words, with the documented key
    assert "Fix the rule" in page.locator("#records").inner_text()
    with page.expect_download() as dl:
        page.click(".export-csv")
    target = tmp_path / "failing.csv"
    dl.value.save_as(target)
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 2 and rows[0]["hint"] == "Fix the rule"

    page.goto(f"{world.url}/")
    page.click("#sync-contacts .toggle")
    page.click("#sync-contacts .confirm")  # disabling asks first
    expect(page.locator("#sync-contacts .state")).to_have_text("disabled")
    assert world.client.get("/api/syncs/contacts").json()["enabled"] is False
    page.reload()
    assert page.locator("#sync-contacts .state").inner_text() == "disabled"
    assert page.locator("#sync-companies .state").inner_text() == "enabled"


def test_sync_page_runs_resync_deleted_and_live_progress(page: Any, world: World) -> None:
    ann = next(r for r in world.right.live("contacts") if r.properties["email"] == "Ann@x.com")
    world.right.user_delete("contacts", ann.id)
    world.run_pass()
    login(page, world)
    page.goto(f"{world.url}/syncs/contacts")
    assert page.locator("#runs tbody tr").count() == 2
    page.click("text=Deleted in b…")
    page.wait_for_selector("#deleted .apply")
    assert "1 record deleted in b would be recreated from a" in page.locator("#deleted").inner_text()
    page.click("#deleted .apply")
    page.wait_for_selector("#deleted .result")
    assert page.locator("#deleted .result").inner_text() == "Recreated 1 record in b."
    # live progress: "Sync now" starts a pass, the cell polls until it is done
    page.reload()
    assert "last: resync" in page.locator("#progress-contacts").inner_text()
    page.click("#progress-contacts .run")
    expect(page.locator("#progress-contacts")).to_contain_text("last: incremental")
    assert page.locator("#progress-contacts[data-running=no] .run").count() == 1


def test_a_crafted_url_runs_no_script(page: Any, world: World) -> None:
    """Issue #18: a link to /syncs/<img src=x onerror=alert(1)>/edit ran script for a logged-in
    user (it could read the CSRF token and disable syncs). Now every page is an escaping
    template under a script-src 'self' policy: no crafted URL opens a dialog."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, world)
    payloads = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>", "\"><svg onload=alert(3)>",
                "'><iframe src=javascript:alert(4)>"]
    for p in payloads:
        for path in (f"/syncs/{p}/edit", f"/syncs/{p}", f"/syncs/contacts/records?status={p}",
                     f"/ui/syncs/{p}/row", f"/ui/syncs/contacts/deleted?side={p}"):
            page.goto(f"{world.url}{path}")
            page.wait_for_load_state("load")
    page.goto(f"{world.url}/syncs/<img src=x onerror=alert(1)>/edit")
    page.wait_for_timeout(300)
    assert dialogs == []
    assert "No sync named '<img src=x onerror=alert(1)>'." in page.locator(".message").inner_text()
    # the dashboard itself still works under the policy (htmx, the stylesheet)
    page.goto(f"{world.url}/")
    page.click("#sync-contacts .toggle")
    page.click("#sync-contacts .confirm")
    expect(page.locator("#sync-contacts .state")).to_have_text("disabled")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 248, 250)"
