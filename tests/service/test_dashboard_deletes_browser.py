"""Held deletes in the dashboard, in a real browser (Playwright on Debian's chromium): the summary
row points to them, the sync page shows the hold with its hint, and a confirmation step comes
before anything is deleted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS
from service_world import World
from test_dashboard_browser import login

pytestmark = pytest.mark.browser


@pytest.fixture
def held(tmp_path: Path) -> Iterator[World]:
    """A sync whose last pass held 30 deletes (more than 10 % of its pairs and than the floor of 25)."""
    with World(tmp_path, contacts={"deletes": "propagate"}) as world:
        ids = [world.left.user_create("contacts", {"first_name": f"P{i}", "last_name": "Pair",
                                                   "email": f"p{i}@x.com"}) for i in range(40)]
        world.run_pass()
        for rid in ids[:30]:
            world.left.user_delete("contacts", rid)
        assert world.run_pass()["status"] == "failed"
        yield world


@pytest.fixture
def page(browser: Any, held: World) -> Iterator[Any]:
    ctx = browser.new_context()
    p = ctx.new_page()
    p.set_default_timeout(5000)
    yield p
    ctx.close()


def test_held_deletes_are_confirmed_in_two_steps_on_the_sync_page(page: Any, held: World) -> None:
    world = held
    before = len(world.right.live("contacts"))
    login(page, world)
    page.click("#sync-contacts .held")  # the summary row: "deletes held", linking to the sync page
    page.wait_for_url("**/syncs/contacts")
    assert page.locator("#held .category").inner_text() == "mass_delete"
    assert "30 deletes held, nothing deleted: 30 in b (contacts)" in page.locator("#held .message").inner_text()
    assert "If the deletes are intended, confirm them" in page.locator("#held .hint").inner_text()

    page.click("#held .review")  # step 1: what confirming does; nothing deleted yet
    page.wait_for_selector("#held .question")
    assert page.locator("#held .question").inner_text().startswith("Delete 30 records in b (contacts)?")
    page.click("#held .cancel")  # changed their mind: back to the hold
    page.wait_for_selector("#held .review")
    assert len(world.right.live("contacts")) == before

    page.click("#held .review")
    page.wait_for_selector("#held .confirm")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-deletes-held.png"), full_page=True)
    page.click("#held .confirm")  # step 2: confirmed, a pass carries them out
    page.wait_for_selector("#held .result")
    assert page.locator("#held .result").inner_text().startswith("Confirmed 30 deletes")
    world.wait(lambda: len(world.right.live("contacts")) == before - 30)
    world.wait(lambda: not world.client.get("/api/syncs/contacts").json()["running"])
    page.reload()
    assert page.locator("#held").count() == 0
    assert world.client.get("/api/syncs/contacts").json()["deletes_held"] is None
