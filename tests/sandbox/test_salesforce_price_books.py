"""Price books as a real org keeps them, driven through ``simple-salesforce``: the standard price book
exists from the start, an opportunity product must name its product (or price book entry) in the
opportunity's price book, a product is priced in the standard book before any other, once per book."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from accord.sandbox.salesforce import SalesforceSandbox
from helpers import simple_salesforce


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox(records=0)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture()
def sf(sandbox: SalesforceSandbox) -> Iterator[Salesforce]:
    with simple_salesforce(sandbox) as client:
        yield client


def _standard(sf: Salesforce) -> str:
    [book] = sf.query("SELECT Id, Name, IsActive FROM Pricebook2 WHERE IsStandard = true")["records"]
    assert (book["Name"], book["IsActive"]) == ("Standard Price Book", True)
    return str(book["Id"])


def _opportunity(sf: Salesforce, name: str) -> str:
    return str(sf.Opportunity.create({"Name": name, "StageName": "Prospecting", "CloseDate": "2026-12-01"})["id"])


def _product(sf: Salesforce, name: str) -> str:
    return str(sf.Product2.create({"Name": name, "ProductCode": name.upper(), "IsActive": True})["id"])


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(SalesforceMalformedRequest) as e:
        call()
    [err] = e.value.content
    return dict(err)


def test_an_opportunity_product_without_product_or_entry_is_refused(sf: Salesforce) -> None:
    opp = _opportunity(sf, "No product")
    assert _error(lambda: sf.OpportunityLineItem.create({"OpportunityId": opp, "Quantity": 1, "UnitPrice": 1})) == {
        "message": "field integrity exception: PricebookEntryId, unknown (versions 3.0 and higher must specify "
                   "pricebook entry id; others must specify product id)",
        "errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": ["PricebookEntryId"]}


def test_a_product_is_priced_in_the_standard_book_first_and_once(sf: Salesforce) -> None:
    standard, product = _standard(sf), _product(sf, "Gear")
    custom = str(sf.Pricebook2.create({"Name": "Partners", "IsActive": True})["id"])
    err = _error(lambda: sf.PricebookEntry.create({"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 8,
                                                   "IsActive": True}))
    assert err["errorCode"] == "STANDARD_PRICE_NOT_DEFINED"
    err = _error(lambda: sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product}))
    assert (err["errorCode"], err["fields"]) == ("REQUIRED_FIELD_MISSING", ["UnitPrice"])
    sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 10, "IsActive": True})
    err = _error(lambda: sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 11,
                                                   "IsActive": True}))
    assert err["errorCode"] == "DUPLICATE_VALUE"
    sf.PricebookEntry.create({"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 8, "IsActive": True})
    entries = sf.query(f"SELECT Pricebook2Id, UnitPrice, ProductCode FROM PricebookEntry WHERE Product2Id = '{product}'")
    assert sorted((e["Pricebook2Id"], e["UnitPrice"], e["ProductCode"]) for e in entries["records"]) == sorted(
        [(standard, 10.0, "GEAR"), (custom, 8.0, "GEAR")])


def test_a_product_takes_its_entry_in_the_opportunitys_book(sf: Salesforce) -> None:
    standard, product, opp = _standard(sf), _product(sf, "Cog"), _opportunity(sf, "Cogs")
    # no active entry for the product: refused, naming the entry
    err = _error(lambda: sf.OpportunityLineItem.create({"OpportunityId": opp, "Product2Id": product, "Quantity": 1}))
    assert (err["errorCode"], err["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["PricebookEntryId"])
    entry = str(sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 4,
                                          "IsActive": True})["id"])
    oli = str(sf.OpportunityLineItem.create({"OpportunityId": opp, "Product2Id": product, "Quantity": 2,
                                             "UnitPrice": 5})["id"])
    row = sf.OpportunityLineItem.get(oli)
    assert (row["PricebookEntryId"], row["Product2Id"], row["ListPrice"], row["TotalPrice"]) == (entry, product, 4, 10)
    # the opportunity took the standard price book with its first product
    assert sf.Opportunity.get(opp)["Pricebook2Id"] == standard
    # neither the entry nor the product of an opportunity product can change
    for field in ("Product2Id", "PricebookEntryId"):
        err = _error(lambda f=field: sf.OpportunityLineItem.update(oli, {f: product if f == "Product2Id" else entry}))
        assert (err["errorCode"], err["fields"]) == ("INVALID_FIELD_FOR_INSERT_UPDATE", [field])


def test_the_entry_must_be_in_the_opportunitys_book_and_active(sf: Salesforce) -> None:
    standard, product = _standard(sf), _product(sf, "Bolt")
    custom = str(sf.Pricebook2.create({"Name": "Resellers", "IsActive": True})["id"])
    sf.PricebookEntry.create({"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 1, "IsActive": True})
    in_custom = str(sf.PricebookEntry.create({"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 2,
                                              "IsActive": False})["id"])
    opp = _opportunity(sf, "Bolts")
    sf.OpportunityLineItem.create({"OpportunityId": opp, "Product2Id": product, "Quantity": 1})  # standard book
    err = _error(lambda: sf.OpportunityLineItem.create({"OpportunityId": opp, "PricebookEntryId": in_custom,
                                                        "Quantity": 1}))
    assert err["errorCode"] == "FIELD_INTEGRITY_EXCEPTION" and "different pricebook" in err["message"]
    # an opportunity of the custom book: its product's entry there is inactive
    other = str(sf.Opportunity.create({"Name": "Reseller bolts", "StageName": "Prospecting",
                                       "CloseDate": "2026-12-01", "Pricebook2Id": custom})["id"])
    err = _error(lambda: sf.OpportunityLineItem.create({"OpportunityId": other, "Product2Id": product,
                                                        "Quantity": 1}))
    assert (err["errorCode"], err["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["PricebookEntryId"])
    err = _error(lambda: sf.OpportunityLineItem.create({"OpportunityId": other, "PricebookEntryId": in_custom,
                                                        "Quantity": 1}))
    assert "inactive" in err["message"]
