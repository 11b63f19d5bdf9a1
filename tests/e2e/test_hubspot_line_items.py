"""HubSpot line items ↔ Salesforce OpportunityLineItems with their deal/opportunity, through `accord sync`
processes against both sandboxes (issue #20): OpportunityLineItem.OpportunityId and its product (Product2Id, or
a PricebookEntryId) are required on create and never updateable, so a line item is created in Salesforce with its
Opportunity and Product2 named (accord.parents); a product created in Salesforce gets its standard price."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from accord.demo import Sandboxes, sandboxes
from accord.sandbox.salesforce.schema import STANDARD_PRICEBOOK_ID
from helpers import accord_sync, sandbox_apps


def _config(tmp_path: Path, boxes: Sandboxes, *, lines_first: bool = False) -> None:
    # the catalog's defaults: quantity, unit price, description; the deal and the product are the line
    # item's parents (products: name, SKU, price ↔ the standard price)
    parents = [{"name": "deals", "left": {"app": "hubspot", "object": "deals"},
                "right": {"app": "salesforce", "object": "Opportunity"}, "stages": "auto"},
               {"name": "products", "left": {"app": "hubspot", "object": "products"},
                "right": {"app": "salesforce", "object": "Product2"}}]
    lines = {"name": "line_items", "left": {"app": "hubspot", "object": "line_items"},
             "right": {"app": "salesforce", "object": "OpportunityLineItem"}, "associations": ["deals", "products"]}
    (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/index.db",
        "apps": sandbox_apps(boxes, "pat-lines"),
        "syncs": [lines, *parents] if lines_first else [*parents, lines]}))


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


def _accord_json(cwd: Path, command: str) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "accord.cli", command, "-c", "accord.yaml", "--json"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout, done.stderr)
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


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
        accord_sync(tmp_path, "--full")

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
        accord_sync(tmp_path, "--sync", "line_items")
        assert "Gizmos" not in _olis(sf)
        waiting = [lk for lk in _links(tmp_path, "line_items") if lk[1] is None]
        assert [(lk[2], lk[3]) for lk in waiting] == [("queued", "waiting_for_association")]
        # …and lands in the next pass, once its deal is paired, with that Opportunity
        accord_sync(tmp_path)
        olis = _olis(sf)
        assert olis["Gizmos"]["OpportunityId"] == _opportunity(sf, "Later deal")
        assert {lk[2] for lk in _links(tmp_path, "line_items")} == {"syncing"}

        # another pass creates nothing twice
        accord_sync(tmp_path)
        accord_sync(tmp_path, "--full")
        assert len(sf.records("OpportunityLineItem")) == len(hs.records("line_items")) == 4
        assert len(sf.records("Opportunity")) == len(hs.records("deals")) == 3


def test_line_items_listed_before_their_deals_and_products_land_in_the_same_run(tmp_path: Path) -> None:
    """The syncs run in dependency order whatever order accord.yaml lists them in (accord.ordering): one
    `accord sync` pairs the deals and products first, then creates every line item with them."""
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        big, small = _deal(hs, "Big deal"), _deal(hs, "Small deal")
        _line(hs, big, "Widgets", 2, 10)
        _line(hs, big, "Gadgets", 1, 5)
        _line(hs, small, "Gizmos", 4, 2.5)
        _config(tmp_path, boxes, lines_first=True)
        # the dry run plans the line items' creates too (after their parents' dry creates: the plan
        # knows line items name their deal and product), told in the config's order
        plan = _accord_json(tmp_path, "plan")
        assert [(r["sync"], r["created"]["right"]) for r in plan] == [("line_items", 3), ("deals", 2), ("products", 3)]
        results = accord_sync(tmp_path)

        assert [r["sync"] for r in results] == ["line_items", "deals", "products"]  # told in the config's order
        olis = _olis(sf)
        assert set(olis) == {"Widgets", "Gadgets", "Gizmos"}
        assert olis["Widgets"]["OpportunityId"] == olis["Gadgets"]["OpportunityId"] == _opportunity(sf, "Big deal")
        assert olis["Gizmos"]["OpportunityId"] == _opportunity(sf, "Small deal")
        products = {p["Name"]: p["Id"] for p in sf.records("Product2")}
        assert {d: o["Product2Id"] for d, o in olis.items()} == {d: products[f"{d} product"] for d in olis}
        assert {(lk[2], lk[3]) for lk in _links(tmp_path, "line_items")} == {("syncing", None)}


def test_moving_a_line_item_to_another_deal_fails_with_a_hint(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        first, second = _deal(hs, "First"), _deal(hs, "Second")
        li = _line(hs, first, "Widgets", 1, 1)
        _config(tmp_path, boxes)
        accord_sync(tmp_path, "--full")
        assert _olis(sf)["Widgets"]["OpportunityId"] == _opportunity(sf, "First")
        hs.dissociate("line_items", li, "deals", first)
        hs.associate("line_items", li, "deals", second)
        hs.user_update("line_items", li, {"quantity": 2})  # in the change feed
        accord_sync(tmp_path)
        oli = _olis(sf)["Widgets"]
        assert oli["OpportunityId"] == _opportunity(sf, "First") and oli["Quantity"] == 2
        [(_, _, status, _, category, hint)] = _links(tmp_path, "line_items")
        assert (status, category) == ("failing", "associations")
        assert "cannot move" in hint


def _entries(sf: Any, product: str) -> list[dict[str, Any]]:
    return [e for e in sf.records("PricebookEntry") if e["Product2Id"] == product]


def _product2(sf: Any, name: str) -> dict[str, Any]:
    return dict(next(p for p in sf.records("Product2") if p["Name"] == name))


def test_deal_product_and_line_item_land_with_the_standard_price_entry(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        deal = _deal(hs, "Big deal")
        widget = _product(hs, "Widget", 12.5)
        _line(hs, deal, "Widgets", 2, 10, widget)
        _config(tmp_path, boxes)
        accord_sync(tmp_path, "--full")

        product = _product2(sf, "Widget")
        assert product["ProductCode"] == "WIDGET"
        # the product Accord created is priced in the standard price book, once, active, at the HubSpot price
        [entry] = _entries(sf, product["Id"])
        assert (entry["Pricebook2Id"], entry["UnitPrice"], entry["IsActive"]) == (STANDARD_PRICEBOOK_ID, 12.5, True)
        oli = _olis(sf)["Widgets"]
        assert (oli["Product2Id"], oli["PricebookEntryId"]) == (product["Id"], entry["Id"])
        assert (oli["OpportunityId"], oli["Quantity"], oli["UnitPrice"]) == (_opportunity(sf, "Big deal"), 2, 10)
        # Salesforce gave the opportunity the standard price book with its first product
        opp = next(o for o in sf.records("Opportunity") if o["Name"] == "Big deal")
        assert opp["Pricebook2Id"] == STANDARD_PRICEBOOK_ID

        # a price edited in HubSpot moves the standard entry's price; still one entry
        hs.user_update("products", widget, {"price": 15})
        accord_sync(tmp_path)
        [entry] = _entries(sf, product["Id"])
        assert entry["UnitPrice"] == 15
        accord_sync(tmp_path, "--full")
        assert len(sf.records("PricebookEntry")) == 1 and len(sf.records("OpportunityLineItem")) == 1


def test_a_line_item_waits_for_its_product_and_one_without_a_product_fails(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        deal = _deal(hs, "Big deal")
        _config(tmp_path, boxes)
        accord_sync(tmp_path, "--full")
        gadget = _product(hs, "Gadget", 4)
        _line(hs, deal, "Gadgets", 3, 4, gadget)
        custom = _line(hs, deal, "Custom work", 1, 99, None)
        # only the line items sync runs: the product is not in Salesforce yet, so its line item waits…
        accord_sync(tmp_path, "--sync", "line_items")
        assert _olis(sf) == {}
        by_left = {lk[0]: lk for lk in _links(tmp_path, "line_items")}
        waiting = [lk for lk in by_left.values() if lk[0] != custom]
        assert [(lk[2], lk[3]) for lk in waiting] == [("queued", "waiting_for_association")]
        # …and a line item with no product at all fails, naming it, as a validation error
        _, right, status, _, category, hint = by_left[custom]
        assert (right, status, category) == (None, "failing", "validation")
        assert "products" in hint
        # the next pass syncs the product, then the line item with it; the custom line still fails
        accord_sync(tmp_path)
        olis = _olis(sf)
        assert set(olis) == {"Gadgets"}
        assert olis["Gadgets"]["Product2Id"] == _product2(sf, "Gadget")["Id"]
        assert by_left[custom][2] == "failing"
        statuses = {lk[0]: lk[2] for lk in _links(tmp_path, "line_items")}
        assert statuses[custom] == "failing" and sorted(statuses.values()) == ["failing", "syncing"]
        # given a product, the custom line item is created by the next passes
        hs.user_update("line_items", custom, {"hs_product_id": gadget})
        accord_sync(tmp_path)
        assert _olis(sf)["Custom work"]["Product2Id"] == _product2(sf, "Gadget")["Id"]
        assert {lk[2] for lk in _links(tmp_path, "line_items")} == {"syncing"}


def test_a_salesforce_line_item_reaches_hubspot_with_its_product(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        opp = sf.create("Opportunity", {"Name": "Small deal", "StageName": "Closed Won", "CloseDate": "2026-11-01"})
        sprocket = sf.create("Product2", {"Name": "Sprocket", "ProductCode": "SPROCKET", "IsActive": True})
        sf.create("PricebookEntry", {"Pricebook2Id": STANDARD_PRICEBOOK_ID, "Product2Id": sprocket, "UnitPrice": 7,
                                     "IsActive": True})
        sf.create("OpportunityLineItem", {"OpportunityId": opp, "Product2Id": sprocket, "Quantity": 3,
                                          "UnitPrice": 7, "Description": "Sprockets"})
        _config(tmp_path, boxes)
        accord_sync(tmp_path, "--full")
        [product] = hs.records("products")
        assert (product["properties"]["name"], float(product["properties"]["price"])) == ("Sprocket", 7)
        # the line item names the HubSpot product paired with its Product2 (the association pass)
        [line] = hs.records("line_items")
        assert (line["properties"]["description"], str(line["properties"]["hs_product_id"])) == (
            "Sprockets", str(product["id"]))


def test_lost_answers_never_make_a_second_product_or_price_entry(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        widget = str(hs.user_create("products", {"name": "Widget", "hs_sku": "WIDGET"})["id"])  # no price yet
        _config(tmp_path, boxes)
        # the product's create is carried out but its answer lost: the create is not sent again (the
        # runner finds the product by its code)
        sf.faults.queue.append("500_applied:composite")
        accord_sync(tmp_path, "--full")
        [product] = sf.records("Product2")
        assert _entries(sf, product["Id"]) == []  # no price to give it yet
        # priced in HubSpot: the standard entry is created, and its answer lost too; the connector looks
        # the entry up before sending anything again, so it is not created twice (Salesforce would refuse it)
        hs.user_update("products", widget, {"price": 12.5})
        sf.faults.queue.append("500_applied:composite")
        accord_sync(tmp_path)
        assert sf.faults.queue == []
        [entry] = _entries(sf, product["Id"])
        assert (entry["Pricebook2Id"], entry["UnitPrice"], entry["IsActive"]) == (STANDARD_PRICEBOOK_ID, 12.5, True)
        accord_sync(tmp_path, "--full")
        assert len(sf.records("Product2")) == 1 and len(sf.records("PricebookEntry")) == 1
        assert {lk[2] for lk in _links(tmp_path, "products")} == {"syncing"}


def test_a_priced_product_whose_create_answer_was_lost_gets_its_price(tmp_path: Path) -> None:
    """The product's create lands, its answer is lost, and so its price entry (a second request) is
    never sent: the runner finds the product by its code and writes what it lacks, so the product
    is usable on opportunities, and its price is not read back as blanked."""
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        hs.user_create("products", {"name": "Widget", "hs_sku": "WIDGET", "price": 12.5})
        _config(tmp_path, boxes)
        sf.faults.queue.append("500_applied:composite")
        accord_sync(tmp_path, "--full")
        assert sf.faults.queue == []
        [product] = sf.records("Product2")
        [entry] = _entries(sf, product["Id"])
        assert (entry["Pricebook2Id"], entry["UnitPrice"], entry["IsActive"]) == (STANDARD_PRICEBOOK_ID, 12.5, True)
        accord_sync(tmp_path, "--full")
        assert hs.records("products")[0]["properties"].get("price") in ("12.5", 12.5)
        assert len(sf.records("PricebookEntry")) == 1 and {lk[2] for lk in _links(tmp_path, "products")} == {"syncing"}
