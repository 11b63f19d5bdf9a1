"""Salesforce sandbox: lead conversion as a REST client observes it (the Converted* fields in
describe and SOQL, converted leads read-only) and the admin route that converts a lead."""

from __future__ import annotations

import httpx
from sf_asgi import V, q

from accord.sandbox.salesforce import SalesforceSandbox


async def test_describe_has_conversion_fields_read_only(api: httpx.AsyncClient) -> None:
    fields = {f["name"]: f for f in (await api.get(f"{V}/sobjects/Lead/describe")).json()["fields"]}
    for name, kind in (("ConvertedContactId", "reference"), ("ConvertedAccountId", "reference"),
                       ("ConvertedOpportunityId", "reference"), ("ConvertedDate", "date")):
        assert fields[name]["type"] == kind
        assert not fields[name]["createable"] and not fields[name]["updateable"] and fields[name]["nillable"]
    assert fields["ConvertedContactId"]["referenceTo"] == ["Contact"]
    assert fields["ConvertedAccountId"]["referenceTo"] == ["Account"]
    assert fields["IsConverted"]["createable"] and not fields["IsConverted"]["updateable"]
    assert fields["IsConverted"]["defaultedOnCreate"]


async def test_convert_creates_account_and_contact_and_locks_the_lead(api: httpx.AsyncClient,
                                                                      sb: SalesforceSandbox) -> None:
    lead = sb.create("Lead", {"FirstName": "Ada", "LastName": "Lovelace", "Company": "Engines Ltd",
                              "Email": "ada@engines.example", "Title": "CTO", "City": "London"})
    r = await api.post(f"/_sandbox/leads/{lead}/convert", json={"opportunity": True})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["success"] and done["leadId"] == lead
    assert done["contactId"].startswith("003") and done["accountId"].startswith("001")
    assert done["opportunityId"].startswith("006")
    row = (await q(api, "SELECT Id, IsConverted, ConvertedContactId, ConvertedAccountId, ConvertedOpportunityId, "
                        f"ConvertedDate, Status FROM Lead WHERE Id = '{lead}'"))[0]
    assert row["IsConverted"] is True and row["Status"] == "Closed - Converted"
    assert (row["ConvertedContactId"], row["ConvertedAccountId"], row["ConvertedOpportunityId"]) == (
        done["contactId"], done["accountId"], done["opportunityId"])
    assert len(row["ConvertedDate"]) == 10  # a date, no time
    # converted leads stay queryable; the filter a client uses to skip them works
    assert [r["Id"] for r in await q(api, "SELECT Id FROM Lead WHERE IsConverted = false")] == []
    contact = (await q(api, f"SELECT Id, Email, Title, MailingCity, AccountId FROM Contact WHERE Id = '{done['contactId']}'"))[0]
    assert (contact["Email"], contact["Title"], contact["MailingCity"], contact["AccountId"]) == (
        "ada@engines.example", "CTO", "London", done["accountId"])
    account = (await q(api, f"SELECT Name FROM Account WHERE Id = '{done['accountId']}'"))[0]
    assert account["Name"] == "Engines Ltd"
    # read-only afterwards: the single-record and the collection endpoints both refuse
    r = await api.patch(f"{V}/sobjects/Lead/{lead}", json={"Title": "CEO"})
    assert r.status_code == 400
    assert r.json() == [{"message": "cannot reference converted lead", "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
                         "fields": []}]
    r = await api.patch(f"{V}/composite/sobjects", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, "Id": lead, "Title": "CEO"}]})
    assert r.json() == [{"id": lead, "success": False, "errors": [
        {"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD", "message": "cannot reference converted lead", "fields": []}]}]
    # the Converted* fields are never writable
    other = sb.create("Lead", {"LastName": "Other", "Company": "X"})
    r = await api.patch(f"{V}/sobjects/Lead/{other}", json={"ConvertedContactId": done["contactId"]})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    # converting twice is refused
    r = await api.post(f"/_sandbox/leads/{lead}/convert", json={})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


async def test_convert_into_existing_contact_fills_its_blanks_only(api: httpx.AsyncClient,
                                                                   sb: SalesforceSandbox) -> None:
    acct = sb.create("Account", {"Name": "Acme"})
    contact = sb.create("Contact", {"LastName": "Known", "Email": "k@acme.example", "AccountId": acct})
    lead = sb.create("Lead", {"LastName": "Lead", "Company": "Acme", "Email": "k@acme.example", "Title": "VP"})
    done = (await api.post(f"/_sandbox/leads/{lead}/convert", json={"contactId": contact})).json()
    assert (done["contactId"], done["accountId"], done["opportunityId"]) == (contact, acct, None)
    row = sb.get("Contact", contact)
    assert row is not None and (row["LastName"], row["Title"]) == ("Known", "VP")
    assert len(sb.records("Contact")) == 1 and len(sb.records("Account")) == 1
