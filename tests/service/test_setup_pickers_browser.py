"""The whole setup flow with pickers only (issue #19), in Chromium at 1280 × 800 and 390 × 844.

HubSpot companies ↔ Salesforce Account against both seeded sandboxes: the objects come from
each app (HubSpot's picker offers no Salesforce object), fields are picked by label, the
industries Salesforce has and HubSpot lacks are shown with their value map, which is set in
the value-map editor; replacing a default mapping asks first and shows the arrow; a constant,
a filter on enumeration values, an inclusion list picked from HubSpot's lists, the matching,
delete handling, the delete guard and the poll interval are all set, and nothing but the
sync's name and two numbers is typed. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from browser import ARTIFACTS
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from accord.config import parse_config
from accord.sandbox.hubspot import HubSpotSandbox
from accord.sandbox.hubspot import SandboxSettings as HubSpotSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.salesforce import SandboxSettings as SalesforceSettings
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.vault import Vault

pytestmark = pytest.mark.browser
TOKEN = "setup-pickers-token-0123456789"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


class Stack:
    """Both sandboxes, seeded as `accord sandbox` seeds them, and the service with no sync yet."""

    def __init__(self, tmp: Path) -> None:
        self.hs = HubSpotSandbox(HubSpotSettings(records=40, seed=3, search_rate=1000))
        self.sf = SalesforceSandbox(SalesforceSettings(records=40, seed=3))
        self.hs_srv = ServerThread(self.hs.app).start()
        self.sf.start()
        assert self.sf.tls is not None
        self.hs.create_list("Key accounts", "companies")
        cfg = parse_config({
            "state": f"sqlite:///{tmp}/index.db",
            "apps": {"hubspot": {"type": "hubspot", "token": "t", "base_url": self.hs_srv.url, "poll": "1h"},
                     "salesforce": {"type": "salesforce", "instance_url": self.sf.url, "access_token": "t",
                                    "verify": self.sf.tls.cafile, "poll": "1h"}}}, "test", env={})
        self.service = Service(cfg, tick=0.1, vault=Vault(Fernet.generate_key()))
        self.server = ServerThread(create_app(cfg, self.service, token=TOKEN)).start()
        self.url = self.server.url
        self.api = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    def close(self) -> None:
        self.api.close()
        self.server.stop()
        self.sf.stop()
        self.hs_srv.stop()
        self.hs.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.close()


def _page(browser: Any, size: str) -> Any:
    w, h = SIZES[size]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    p = ctx.new_page()
    p.set_default_timeout(15_000)
    return p


def _shot(page: Any, size: str, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"setup-{name}-{size}.png"), full_page=True)
    # nothing wider than the window: no sideways scrolling at 390 px
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= SIZES[size][0], f"{name} at {size}: the page is {width} px wide"


def _swapped(page: Any, act: Any) -> None:
    """Do ``act`` (a picker whose choice refreshes the step) and wait until htmx swapped the step in."""
    page.locator("main").evaluate("m => m.dataset.stale = '1'")
    act()
    # the step is built from the apps' live schemas (a Salesforce describe over TLS): on a loaded
    # 2-core CI machine that once took longer than the page's default 15 s
    page.wait_for_selector("main:not([data-stale])", timeout=45_000)


def _pick(page: Any, selector: str, value: str | dict[str, str], refresh: bool = False) -> None:
    def act() -> None:
        page.select_option(selector, **({"label": value["label"]} if isinstance(value, dict) else {"value": value}))
    if refresh:
        _swapped(page, act)
    else:
        act()


def _next(page: Any, step: str) -> None:
    page.click("#setup button[value=next]")
    page.wait_for_selector(f"#setup[data-step={step}]")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_whole_flow_with_pickers(browser: Any, stack: Stack, size: str) -> None:
    page = _page(browser, size)
    page.goto(f"{stack.url}/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    page.click("#new-sync")
    page.wait_for_selector("#setup[data-step=objects]")

    # 1. objects: each side offers only its app's objects
    page.fill("#name", "companies")
    _pick(page, "#left_app", "hubspot", refresh=True)
    _pick(page, "#right_app", "salesforce", refresh=True)
    left = page.locator("#left_object option").all_inner_texts()
    right = [o.get_attribute("value") for o in page.locator("#right_object option").all()]
    assert "Companies (companies)" in left and not any("Account" in t for t in left)
    assert "Account" in right and "companies" not in right
    _pick(page, "#left_object", "companies")
    _pick(page, "#right_object", "Contact+Lead")  # Salesforce's "new records as" shows for it alone
    expect(page.locator("#new_records_as")).to_be_visible()
    _pick(page, "#right_object", "Account")
    expect(page.locator("#new_records_as")).to_be_hidden()
    _shot(page, size, "objects")
    _next(page, "direction")

    # 2. direction
    page.check("input[name=direction][value=two-way]")
    page.check("input[name=winner][value=hubspot]")
    _next(page, "mappings")

    # 3. mappings: labels and arrows, the values Salesforce has and HubSpot lacks, their value map
    industry = page.locator("#mappings tr[data-left=industry]")
    expect(industry).to_contain_text("Industry")
    expect(industry.locator(".arrow")).to_have_text("↔")
    expect(page.locator("#mappings tr[data-left=name]")).to_contain_text("Company name")
    expect(page.locator("#unmapped")).to_contain_text("Electronics")
    page.locator("#unmapped button").first.click()
    page.wait_for_selector("#value-map")
    electronics = page.locator("#values-rl tr[data-value=Electronics] select")
    expect(electronics).to_have_value("")  # no counterpart: not synced
    finance = page.locator("#values-rl tr[data-value=Finance] select")
    expect(finance).to_have_value("FINANCIAL_SERVICES")  # paired by a similar label
    electronics.select_option(label="Computer Software")
    _shot(page, size, "values")
    page.click("#values-save")
    page.wait_for_selector("#setup[data-step=mappings]:not(:has(#value-map))")
    expect(page.locator("#unmapped")).not_to_contain_text("Electronics")
    expect(industry.locator("button.values")).to_contain_text("Edit values")

    # replacing a default mapping is shown and confirmed
    _pick(page, "#new_left", {"label": "Website URL (text)"})
    _pick(page, "#new_right", {"label": "Website (text)"})
    page.click("#add")
    expect(page.locator("#confirm-replace")).to_contain_text("Company Domain Name ↔ Website")
    page.click("#confirm-add")
    page.wait_for_selector("#mappings tr[data-left=website][data-right=Website]")
    assert page.locator("#mappings tr[data-left=domain]").count() == 0
    expect(page.locator("#mappings tr[data-left=website] .arrow")).to_have_text("↔")

    # a constant picked from the field's options
    _pick(page, "#const_side", "right", refresh=True)
    _pick(page, "#const_field", {"label": "Account Type (enumeration)"}, refresh=True)
    _pick(page, "#const_value", {"label": "Prospect"})
    page.click("#const-add")
    expect(page.locator("#constants")).to_contain_text("Account Type = Prospect")
    _shot(page, size, "mappings")
    _next(page, "filters")

    # 4. records: a filter on enumeration values, an inclusion list from HubSpot's lists, matching
    _pick(page, "#filter_side", "right", refresh=True)
    _pick(page, "#filter_field", {"label": "Industry (enumeration)"}, refresh=True)
    _pick(page, "#filter_op", "not_in", refresh=True)
    page.check("#add-filter input[name=filter_value][value=Agriculture]")
    page.check("#add-filter input[name=filter_value][value=Energy]")
    page.click("#filter-add")
    expect(page.locator("#filters")).to_contain_text("is none of")
    expect(page.locator("#filters")).to_contain_text("Agriculture, Energy")
    _pick(page, "#inclusion_side", "left", refresh=True)
    _pick(page, "#inclusion_list", "Key accounts")
    expect(page.locator("#matching")).to_contain_text("Company name = Account Name")
    assert page.locator("#require_match_key").is_checked()
    _shot(page, size, "records")
    _next(page, "options")

    # 5. deletes and schedule
    page.check("input[name=deletes][value=propagate]")
    page.fill("#guard_share", "5")
    page.fill("#guard_floor", "50")
    _pick(page, "#poll", "15m")
    _shot(page, size, "options")
    _next(page, "review")

    # 6. review: every setting in the YAML, no issue, the values still left out as a note
    assert page.locator("#issues").count() == 0
    saved = yaml.safe_load(page.locator("#yaml").text_content() or "")["syncs"][0]
    industry_map = next(m for m in saved["mappings"] if m["left"] == "industry")
    assert industry_map["values_to_left"] == {"Electronics": "COMPUTER_SOFTWARE"}
    assert {"left": "website", "right": "Website"} in saved["mappings"]
    assert saved["constants"] == {"to_right": {"Type": "Prospect"}}
    assert saved["filters"] == {"right": [{"field": "Industry", "op": "not_in", "value": ["Agriculture", "Energy"]}]}
    assert saved["inclusion"] == {"side": "left", "list": "Key accounts"}
    assert (saved["deletes"], saved["delete_guard"], saved["poll"]) == ("propagate", {"share": "5%", "floor": 50}, "15m")
    expect(page.locator("#notes")).to_contain_text("Banking")
    _shot(page, size, "review")
    page.click("#save")
    page.wait_for_url(f"{stack.url}/syncs/companies")
    config = stack.api.get("/api/syncs/companies/config").json()
    assert config["delete_guard"] == {"share": 0.05, "floor": 50} and config["poll"] == 900.0
    page.context.close()
