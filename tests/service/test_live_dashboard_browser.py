"""The dashboard as a newcomer meets it (issue #19), in Chromium at 1280 × 800 and 390 × 844:
``accord demo``'s one-time login link, counts that change without a reload, confirmations
before disabling, deleting and syncing a list, manual sync of a record, keyboard use, no
horizontal overflow on a phone, and the e-mail of a finished initial sync on a loopback SMTP
server. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import io
import queue
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS
from playwright.sync_api import expect
from rich.console import Console
from service_world import TOKEN, World
from smtp import Inbox, smtp_server, text_of

from accord.demo import Dashboard, run_demo

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fits(page: Any) -> None:
    """Nothing is wider than the window: no sideways scrolling of the page."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{page.url}: the page is {width} px wide in a {inner} px window"


def number(text: str) -> int:
    return int(text.replace(",", ""))


# -- the demo ----------------------------------------------------------------------------------
@contextmanager
def _no_bar(enabled: bool) -> Iterator[None]:
    yield None


@pytest.fixture(scope="module")
def demo() -> Iterator[Dashboard]:
    """``accord demo`` (in-process, small) serving its dashboard until the module's tests are done."""
    ready: queue.Queue[Dashboard] = queue.Queue()
    loop = asyncio.new_event_loop()
    task: list[asyncio.Task[int]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task.append(loop.create_task(run_demo(
            records=90, serve=True, port=0, state=None, seed=11, console=Console(file=io.StringIO(), width=200),
            progress=_no_bar, interval=0.6, ready=ready.put)))
        loop.run_until_complete(task[0])

    thread = threading.Thread(target=run, daemon=True, name="accord-demo")
    thread.start()
    dash = ready.get(timeout=120)
    yield dash
    loop.call_soon_threadsafe(task[0].cancel)
    thread.join(30)


def _counts_change_without_reload(page: Any, name: str = "contacts") -> None:
    page.evaluate("window.accordMarker = 'not reloaded'")
    count = page.locator(f"#count-syncing-{name}")
    before = number(count.inner_text())
    # the demo's users create a contact each round: the count grows within a few rounds (waited
    # for, as a round may also move a contact out of syncing)
    page.wait_for_function(
        "([id, before]) => { const el = document.getElementById(id);"
        " return el !== null && parseInt(el.textContent.replace(/,/g, ''), 10) > before; }",
        arg=[f"count-syncing-{name}", before], timeout=20_000)
    assert number(count.inner_text()) > before
    assert page.evaluate("window.accordMarker") == "not reloaded"


def test_the_demo_login_link_live_counts_and_a_phone_sized_window(browser: Any, demo: Dashboard) -> None:
    desk = browser.new_context(viewport={"width": 1280, "height": 800})
    page = desk.new_page()
    page.set_default_timeout(10_000)
    page.goto(demo.login_link)
    page.wait_for_url(demo.url)  # logged in: straight to the summary
    assert page.locator("h1").inner_text() == "Sync summary"
    assert page.locator("#syncs tbody").count() == 3
    _counts_change_without_reload(page)
    fits(page)
    shot(page, "demo-summary-1280")
    page.goto(f"{demo.url}syncs/contacts")
    expect(page.locator("#tile-syncing .n")).not_to_have_text("0")
    shot(page, "demo-sync-1280")
    desk.close()

    # the link is void once used
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    again = other.new_page()
    again.goto(demo.login_link)
    assert "This login link was used already or has expired" in again.locator("[role=alert]").inner_text()
    shot(again, "demo-link-used-1280")
    other.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{demo.url}login")
    fits(page)
    page.fill("input[name=token]", demo.token)
    page.click("button[type=submit]")
    page.wait_for_url(demo.url)
    # every count of every sync is on screen, none beside it
    for sync in ("companies", "contacts", "deals"):
        for status in ("syncing", "failing", "excluded"):
            box = page.locator(f"#count-{status}-{sync}").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (sync, status, box)
    _counts_change_without_reload(page)
    fits(page)
    shot(page, "demo-summary-390")
    for path in ("syncs/contacts", "syncs/contacts/records?status=excluded", "syncs/deals/records?status=syncing"):
        page.goto(f"{demo.url}{path}")
        page.wait_for_load_state("load")
        fits(page)
    shot(page, "demo-records-390")
    page.goto(f"{demo.url}syncs/contacts")
    shot(page, "demo-sync-390")
    phone.close()


# -- confirmations, manual sync, keyboard (two memory apps) --------------------------------------------
@pytest.fixture(params=list(VIEWPORTS))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Any, size: str) -> Iterator[Any]:
    w, h = VIEWPORTS[size]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    p = ctx.new_page()
    p.set_default_timeout(8000)
    yield p
    ctx.close()


def login(page: Any, world: World) -> None:
    page.goto(f"{world.url}/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{world.url}/")


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement ? (document.activeElement.id || "
                             "document.activeElement.className || document.activeElement.tagName) : ''"))


def test_disable_asks_first_and_works_from_the_keyboard(page: Any, world: World, size: str) -> None:
    world.run_pass()
    login(page, world)
    page.keyboard.press("Tab")
    assert focused(page) == "skip"  # the first Tab offers to skip the header
    page.keyboard.press("Enter")
    assert focused(page) == "main"
    for _ in range(40):  # every control is reachable with Tab
        page.keyboard.press("Tab")
        if focused(page) == "toggle-contacts":
            break
    assert focused(page) == "toggle-contacts"
    page.keyboard.press("Enter")
    question = page.locator("#sync-contacts .question")
    expect(question).to_have_text(re.compile(r"^Disable contacts\? No pass runs"))
    expect(page.locator("#sync-contacts .cancel")).to_be_focused()  # the safe answer has the focus
    fits(page)
    shot(page, f"confirm-disable-{size}")
    page.wait_for_timeout(3500)  # the row does not reload (and lose the question) while it is asked
    expect(question).to_be_visible()
    page.keyboard.press("Enter")  # Cancel
    expect(question).to_have_count(0)
    expect(page.locator("#toggle-contacts")).to_be_focused()
    assert world.client.get("/api/syncs/contacts").json()["enabled"]
    page.keyboard.press("Enter")
    expect(page.locator("#sync-contacts .cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # back to "Disable contacts"
    expect(page.locator("#sync-contacts .confirm")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#sync-contacts .state")).to_have_text("disabled")
    assert world.client.get("/api/syncs/contacts").json()["enabled"] is False
    expect(page.locator("#toggle-contacts")).to_be_focused()
    assert page.locator("#toggle-contacts").inner_text() == "Enable"
    page.keyboard.press("Enter")  # enabling asks nothing
    expect(page.locator("#sync-contacts .state")).to_have_text("enabled")
    # the sync's own page asks too
    page.goto(f"{world.url}/syncs/contacts")
    page.click("#toggle-contacts")
    expect(page.locator("#state-contacts .question")).to_contain_text("Disable contacts?")
    page.click("#state-contacts .confirm")
    expect(page.locator("#state-contacts .state")).to_have_text("disabled")


def test_delete_asks_first(page: Any, world: World, size: str) -> None:
    made = world.client.post("/api/syncs", json={"name": "deals", "left": {"app": "a", "object": "deals"},
                                                 "right": {"app": "b", "object": "deals"}})
    assert made.status_code == 201, made.text
    login(page, world)
    page.goto(f"{world.url}/syncs/deals")
    page.click("#delete-sync")
    expect(page.locator("#state-deals .question")).to_contain_text("Delete the sync deals and its index?")
    # what deleting costs: a new sync would create every deal again (deals have no match key)
    expect(page.locator("#state-deals .question")).to_contain_text("every deal, which has no match key")
    fits(page)
    shot(page, f"confirm-delete-{size}")
    page.click("#state-deals .cancel")
    expect(page.locator("#delete-sync")).to_be_focused()
    assert [s["name"] for s in world.client.get("/api/syncs").json()] == ["contacts", "companies", "deals"]
    page.click("#delete-sync")
    page.click("#confirm-delete")
    page.wait_for_url(f"{world.url}/")
    assert [s["name"] for s in world.client.get("/api/syncs").json()] == ["contacts", "companies"]


def test_manual_sync_of_a_record_and_of_a_list(page: Any, world: World, size: str) -> None:
    world.run_pass()
    login(page, world)
    # a failing record, fixed in its app, synced from its row
    bob = next(r for r in world.left.live("contacts") if r.properties["first_name"] == "Bob")
    world.left.user_update("contacts", bob.id, {"last_name": "Rae"})
    page.goto(f"{world.url}/syncs/contacts/records?status=failing")
    row = page.locator("#records tbody tr", has_text="Bob")
    row.locator(".resync").click()
    note = page.locator("#records .note.ok")
    expect(note).to_have_text("Synced: created 0 in a and 1 in b. Now syncing.")
    fits(page)
    shot(page, f"record-synced-{size}")
    # a record created after the last pass, by its id
    new = world.left.user_create("contacts", {"first_name": "Neu", "last_name": "Kunde", "email": "neu@x.com"})
    page.goto(f"{world.url}/syncs/contacts")
    page.fill("#record-id", new)
    page.click("#sync-record button[type=submit]")
    expect(page.locator("#record-outcome")).to_have_text("Synced: created 0 in a and 1 in b.")
    page.fill("#record-id", "zz404")
    page.click("#sync-record button[type=submit]")
    expect(page.locator("#record-outcome [role=alert]")).to_have_text("no record 'zz404' in a (contacts) or b (contacts)")
    # a whole list: its size first, then the sync
    ids = [world.left.user_create("contacts", {"first_name": f"L{i}", "last_name": "X", "email": f"l{i}@x.com"})
           for i in range(3)]
    world.left.lists["Trade fair"] = set(ids)
    page.fill("#list-name", "Trade fair")
    page.click("#sync-list button[type=submit]")
    question = page.locator("#list-step .question")
    expect(question).to_have_text("Sync the 3 records of the list “Trade fair” in a now? Each is matched and "
                                  "written to the other app as a pass would.")
    fits(page)
    shot(page, f"confirm-list-{size}")
    assert not any(r.properties["email"] == "l0@x.com" for r in world.right.live("contacts"))  # asked, not done
    page.click("#list-step .confirm")
    expect(page.locator("#list-step .outcome")).to_have_text(
        "List “Trade fair” in a: 3 records. Synced: created 0 in a and 3 in b.")
    assert {"l0@x.com", "l1@x.com", "l2@x.com"} <= {r.properties["email"] for r in world.right.live("contacts")}
    # live counts on the sync's page: the tiles followed without a reload
    expect(page.locator("#tile-syncing .n")).to_have_text("7", timeout=6000)


# -- the e-mail of a finished initial sync -------------------------------------------------------------------
@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


def test_the_initial_sync_is_e_mailed_and_followed_live(page: Any, tmp_path: Path, inbox: Inbox, size: str) -> None:
    with World(tmp_path, notifications={"urls": [inbox.url()]}) as world:
        login(page, world)
        page.evaluate("window.accordMarker = 'not reloaded'")
        assert page.locator("#count-syncing-contacts").inner_text() == "0"
        page.click("#run-contacts")  # Sync now: the initial sync
        expect(page.locator("#count-syncing-contacts")).to_have_text("2", timeout=10_000)
        expect(page.locator("#progress-contacts")).to_contain_text("last: initial")
        assert page.evaluate("window.accordMarker") == "not reloaded"
        mail = inbox.wait_for("Accord: the initial sync of contacts is done")
        body = text_of(mail)
        assert "2 records syncing, 2 failing, 1 excluded." in body
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"initial-sync-email-{size}.txt").write_text(f"Subject: {mail['Subject']}\n\n{body}")
        fits(page)
        shot(page, f"initial-sync-done-{size}")
