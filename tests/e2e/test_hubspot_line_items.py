"""HubSpot line items ↔ Salesforce OpportunityLineItems with their deal/opportunity, through `accord sync`
processes against both sandboxes (issue #20): OpportunityLineItem.OpportunityId and its product (Product2Id, or
a PricebookEntryId) are required on create and never updateable, so a line item is created in Salesforce with its
Opportunity and Product2 named (accord.parents); a product created in Salesforce gets its standard price."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import yaml

from accord.demo import Sandboxes, sandboxes
from accord.sandbox.salesforce.schema import STANDARD_PRICEBOOK_ID
from helpers import accord_sync, sandbox_apps


def _sync(tmp_path: Path, *extra: str) -> list[dict[str, Any]]:
    return accord_sync(tmp_path, *extra)


def _config(tmp_path: Path, boxes: Sandboxes) -> None:
    (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/index.db",
        "apps": sandbox_apps(boxes, "pat-lines"),
        # the catalog's defaults: quantity, unit price, description; the deal and the product are the line
        # item's parents (products: name, SKU, price ↔ the standard price)
        "syncs": [{"name": "deals", "left": {"app": "hubspot", "object": "deals"},
                   "right": {"app": "salesforce", "object": "Opportunity"}, "stages": "auto"},
                  {"name": "products", "left": {"app": "hubspot", "object": "products"},
                   "right": {"app": "salesforce", "object": "Product2"}},
                  {"name": "line_items", "left": {"app": "hubspot", "object": "line_items"},
                   "right": {"app": "salesforce", "object": "OpportunityLineItem"},
                   "associations": ["deals", "products"]}]}))


def _links(tmp_path: Path, sync: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "index.db") as db:
        return list(db.execute("SELECT left_id, right_id, status, reason, category, hint FROM links WHERE sync = ?",
                               (sync,)))


def _deal(hs: Any, name: str) -> str:
    return str(hs.user_create("deals", {"dealname": name, "amount": "100", "dealstage": "closedwon",
                                        "closedate": "2026-12-01"})["id"])


def _product(hs: Any, name: str, price: float = 1) -> str:
    return str(hs.user_create("products", {"name": name, "hs_sku": name.upper(), "price": price})["id"])


def _line(hs: Any, deal: str | None, description: str, qty: int, price: float, product: str | None = "") -> str:
    """A line item of ``deal``; of ``product`` (by default a product of its own: None gives none)."""
    if product == "":
        product = _product(hs, f"{description} product", price)
    props: dict[str, Any] = {"name": description, "description": description, "quantity": qty, "price": price}
    if product is not None:
        props["hs_product_id"] = product
    li = str(hs.user_create("line_items", props)["id"])
    if deal is not None:
        hs.associate("line_items", li, "deals", deal)
    return li


def _opportunity(sf: Any, name: str) -> str:
    return str(next(o["Id"] for o in sf.records("Opportunity") if o["Name"] == name))


def _olis(sf: Any) -> dict[str, dict[str, Any]]:
    return {o["Description"]: o for o in sf.records("OpportunityLineItem")}


def test_line_items_sync_with_their_opportunity(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        big = _deal(hs, "Big deal")
        _line(hs, big, "Widgets", 2, 10)
        _line(hs, big, "Gadgets", 1, 5)
        small = sf.create("Opportunity", {"Name": "Small deal", "StageName": "Closed Won", "CloseDate": "2026-11-01",
                                          "Amount": 50})
        sprocket = sf.create("Product2", {"Name": "Sprocket", "ProductCode": "SPROCKET", "IsActive": True})
        sf.create("PricebookEntry", {"Pricebook2Id": STANDARD_PRICEBOOK_ID, "Product2Id": sprocket, "UnitPrice": 7,
                                     "IsActive": True})
        sf.create("OpportunityLineItem", {"OpportunityId": small, "Product2Id": sprocket, "Quantity": 3,
                                          "UnitPrice": 7, "Description": "Sprockets"})
        _config(tmp_path, boxes)
        _sync(tmp_path, "--full")

        olis = _olis(sf)
        assert set(olis) == {"Widgets", "Gadgets", "Sprockets"}
        assert olis["Widgets"]["OpportunityId"] == olis["Gadgets"]["OpportunityId"] == _opportunity(sf, "Big deal")
        assert (olis["Widgets"]["Quantity"], olis["Widgets"]["UnitPrice"]) == (2, 10)
        # the Salesforce line item lands in HubSpot, associated with the deal paired with its Opportunity
        lines = {li["properties"]["description"]: li for li in hs.records("line_items")}
        assert set(lines) == {"Widgets", "Gadgets", "Sprockets"}
        small_deal = next(d["id"] for d in hs.records("deals") if d["properties"]["dealname"] == "Small deal")
        assert set(hs.store.associated(hs.store.type_of("line_items"), int(lines["Sprockets"]["id"]),
                                       hs.store.type_of("deals"))) == {int(small_deal)}

        # a line item whose deal is not synced yet waits (only the line items sync runs)…
        later = _deal(hs, "Later deal")
        _line(hs, later, "Gizmos", 4, 2.5)
        _sync(tmp_path, "--sync", "line_items")
        assert "Gizmos" not in _olis(sf)
        waiting = [lk for lk in _links(tmp_path, "line_items") if lk[1] is None]
        assert [(lk[2], lk[3]) for lk in waiting] == [("queued", "waiting_for_association")]
        # …and lands in the next pass, once its deal is paired, with that Opportunity
        _sync(tmp_path)
        olis = _olis(sf)
        assert olis["Gizmos"]["OpportunityId"] == _opportunity(sf, "Later deal")
        assert {lk[2] for lk in _links(tmp_path, "line_items")} == {"syncing"}

        # another pass creates nothing twice
        _sync(tmp_path)
        _sync(tmp_path, "--full")
        assert len(sf.records("OpportunityLineItem")) == len(hs.records("line_items")) == 4
        assert len(sf.records("Opportunity")) == len(hs.records("deals")) == 3


def test_moving_a_line_item_to_another_deal_fails_with_a_hint(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        first, second = _deal(hs, "First"), _deal(hs, "Second")
        li = _line(hs, first, "Widgets", 1, 1)
        _config(tmp_path, boxes)
        _sync(tmp_path, "--full")
        assert _olis(sf)["Widgets"]["OpportunityId"] == _opportunity(sf, "First")
        hs.dissociate("line_items", li, "deals", first)
        hs.associate("line_items", li, "deals", second)
        hs.user_update("line_items", li, {"quantity": 2})  # in the change feed
        _sync(tmp_path)
        oli = _olis(sf)["Widgets"]
        assert oli["OpportunityId"] == _opportunity(sf, "First") and oli["Quantity"] == 2
        [(_, _, status, _, category, hint)] = _links(tmp_path, "line_items")
        assert (status, category) == ("failing", "associations")
        assert "cannot move" in hint
