"""The newcomer's pages on a phone (390 px) in a real browser: nothing wider than the screen,
and a labelled cell keeps its words whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_world import TOKEN, World

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Any, world: World) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    p = ctx.new_page()
    p.set_default_timeout(5000)
    p.goto(f"{world.url}/login")
    p.fill("input[name=token]", TOKEN)
    p.click("button[type=submit]")
    p.wait_for_url(f"{world.url}/")
    yield p
    ctx.close()


def _wider_than_screen(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_apps_page_fits_a_phone(phone: Any, world: World) -> None:
    phone.goto(f"{world.url}/apps")
    assert _wider_than_screen(phone) == 0  # was 468 px too wide: the table did not fold into cards
    assert phone.locator("#app-a td[data-label=Vendor]").is_visible()


def test_mapping_cards_keep_a_fields_type_on_one_line(phone: Any, world: World) -> None:
    phone.goto(f"{world.url}/setup")
    phone.fill("#name", "deals")
    phone.select_option("#left_object", "deals")
    phone.select_option("#right_object", "deals")
    phone.click("button[value=next]")
    phone.click("button[value=next]")  # direction: as it is
    phone.wait_for_selector("#setup[data-step=mappings]")
    assert _wider_than_screen(phone) == 0
    cells = phone.locator("#mappings td[data-label]")
    assert cells.count() > 0
    # a block, not accord.css's flex row that squeezed "number" to a letter a line
    assert cells.first.evaluate("td => getComputedStyle(td).display") == "block"
    line = phone.locator("#mappings td .hint").first.evaluate("s => s.getClientRects().length")
    assert line == 1


def test_the_run_history_shows_every_count_on_a_phone(phone: Any, world: World) -> None:
    """A run's counts were in a table that scrolled sideways: on a phone its Updated and Failed
    columns were off-screen. Each run now wraps its labelled values inside the screen."""
    world.run_pass("contacts")
    phone.goto(f"{world.url}/syncs/contacts")
    run = phone.locator("#runs tbody tr").first
    run.wait_for()
    assert _wider_than_screen(phone) == 0
    assert phone.evaluate("(() => { const e = document.querySelector('#runs').closest('.scroll');"
                          " return e.scrollWidth - e.clientWidth })()") == 0
    for label in ("Created", "Updated", "Failed", "Started"):
        box = run.locator(f"td[data-label={label}]").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)
    assert phone.locator(".sides-note").inner_text() == "Created, Updated, Failed: a / b"


def test_finding_a_record_by_its_email_on_a_phone(phone: Any, world: World) -> None:
    """The question an admin brings: "why is Bob not in the other app?" — typed into the sync
    page's search, answered by his row with its status, the app's error and the hint."""
    world.run_pass("contacts")
    phone.goto(f"{world.url}/syncs/contacts")
    phone.fill("#find-q", "bob@X")
    phone.press("#find-q", "Enter")
    phone.wait_for_selector("h1:has-text('found')")
    assert phone.locator("h1").inner_text() == "1 record found for “bob@X”"
    row = phone.locator("#records tbody tr")
    assert row.count() == 1
    status = row.locator("td.category").inner_text()
    assert status.startswith("failing: rejected by the app") and "(custom_code)" in status
    assert "Ray is not allowed" in row.inner_text() and "Fix the rule" in row.inner_text()
    assert _wider_than_screen(phone) == 0
    assert phone.input_value("#find-q") == "bob@X"
