"""The official-ish client, ``simple-salesforce``, works against the sandbox unchanged but for
the host: it builds ``https://`` URLs itself, so the sandbox is served over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from accord.sandbox.salesforce import SalesforceSandbox
from helpers import simple_salesforce


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox(records=0)
    sb.org.seed(2500, seed=7, objects=("Account", "Contact"))
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture()
def sf(sandbox: SalesforceSandbox) -> Iterator[Salesforce]:
    with simple_salesforce(sandbox) as client:
        yield client


def test_describe(sf: Salesforce) -> None:
    d = sf.Contact.describe()
    fields = {f["name"]: f for f in d["fields"]}
    assert d["keyPrefix"] == "003"
    formula = fields["Name_Formula__c"]
    assert formula["calculated"] and not formula["createable"] and not formula["updateable"]
    assert fields["LastName"]["nillable"] is False and fields["Email"]["type"] == "email"
    assert "Qualified" in [p["value"] for p in fields["Status__c"]["picklistValues"]]
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    names = {o["name"] for o in (sf.describe() or {})["sobjects"]}
    assert {"Contact", "Lead", "Account", "Opportunity", "OpportunityStage"} <= names


def test_query_pages_at_2000_and_query_all_follows(sf: Salesforce) -> None:
    first = sf.query("SELECT Id, Email FROM Contact")
    assert first["totalSize"] == 2500 and not first["done"] and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert rest["done"] and len(rest["records"]) == 500
    rec = first["records"][0]
    assert rec["attributes"]["type"] == "Contact" and rec["attributes"]["url"].endswith(rec["Id"])
    everything = sf.query_all("SELECT Id FROM Contact")
    assert len({r["Id"] for r in everything["records"]}) == 2500


def test_batch_size_header(sf: Salesforce) -> None:
    res = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(res["records"]) == 500 and res["nextRecordsUrl"].endswith("-500")


def test_crud_and_upsert(sf: Salesforce) -> None:
    created = sf.Contact.create({"LastName": "Lovelace", "FirstName": "Ada", "Email": "ada@example.org"})
    assert created["success"] and created["id"].startswith("003") and len(created["id"]) == 18
    got = sf.Contact.get(created["id"])
    assert got["Name"] == "Ada Lovelace" and got["Name_Formula__c"] == "Ada LOVELACE"
    assert sf.Contact.update(created["id"], {"Title": "Countess"}) == 204
    assert sf.Contact.get(created["id"])["Title"] == "Countess"
    assert sf.Contact.upsert("External_Id__c/ext-1", {"LastName": "Hopper"}) == 201
    assert sf.Contact.upsert("External_Id__c/ext-1", {"LastName": "Hopper", "FirstName": "Grace"}) == 200
    assert sf.Contact.get_by_custom_id("External_Id__c", "ext-1")["FirstName"] == "Grace"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as e:
        sf.Contact.get(created["id"])
    assert e.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{created['id']}'", include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True
    assert sf.query(f"SELECT Id FROM Contact WHERE Id = '{created['id']}'")["totalSize"] == 0


def test_errors_come_back_as_salesforce_sends_them(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Lead.create({"LastName": "X"})
    assert e.value.content == [{"message": "Required fields are missing: [Company]",
                                "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Company"]}]
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Contact.create({"LastName": "X", "Name_Formula__c": "nope"})
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query("SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01T00:00:00Z'")
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_composite_collections(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Account"}, "Name": f"Collection Co {i}"} for i in range(3)]
    records.append({"attributes": {"type": "Account"}, "Website": "https://no-name.example"})
    res = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in res] == [True, True, True, False]
    assert res[3]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    ids = [r["id"] for r in res[:3]]
    upd = [{"attributes": {"type": "Account"}, "Id": i, "Industry": "Energy"} for i in ids]
    assert all(r["success"] for r in sf.restful("composite/sobjects", method="PATCH", json={"records": upd}))
    assert sf.Account.get(ids[0])["Industry"] == "Energy"
    gone = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"})
    assert [r["success"] for r in gone] == [True, True, True]


def test_all_or_none_rolls_back(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Account"}, "Name": "Rolled Back Co"},
               {"attributes": {"type": "Account"}, "Name": None}]
    res = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert res[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.query("SELECT Id FROM Account WHERE Name = 'Rolled Back Co'")["totalSize"] == 0


def test_updated_deleted_and_limits(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    victim = sf.Contact.create({"LastName": "Short-lived"})["id"]
    sf.Contact.delete(victim)
    now = datetime.now(UTC) + sandbox.org.offset
    deleted = sf.Contact.deleted(now - timedelta(days=1), now + timedelta(minutes=1))
    assert victim in [d["id"] for d in deleted["deletedRecords"]]
    updated = sf.Contact.updated(now - timedelta(days=29), now + timedelta(minutes=1))
    assert len(updated["ids"]) > 100
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000
    assert sf.api_usage["api-usage"].used == sandbox.api_used
