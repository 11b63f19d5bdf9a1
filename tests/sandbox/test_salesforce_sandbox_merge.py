"""Salesforce sandbox: merging duplicates as a REST client observes it (MasterRecordId in describe,
SOQL and queryAll; the merged records in getDeleted; child records moved to the master) and the admin
route that merges."""

from __future__ import annotations

import httpx
from sf_asgi import V, q

from accord.sandbox.salesforce import SalesforceSandbox


async def test_master_record_id_is_a_read_only_reference(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    for obj in ("Account", "Contact", "Lead"):
        fields = {f["name"]: f for f in (await api.get(f"{V}/sobjects/{obj}/describe")).json()["fields"]}
        f = fields["MasterRecordId"]
        assert f["type"] == "reference" and f["referenceTo"] == [obj] and f["nillable"]
        assert not f["createable"] and not f["updateable"]
    c = sb.create("Contact", {"LastName": "Plain"})
    assert (await q(api, f"SELECT Id, MasterRecordId FROM Contact WHERE Id = '{c}'"))[0]["MasterRecordId"] is None
    r = await api.post(f"{V}/sobjects/Contact", json={"LastName": "X", "MasterRecordId": c})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


async def test_merge_contacts_keeps_the_master_and_deletes_the_others(api: httpx.AsyncClient,
                                                                      sb: SalesforceSandbox) -> None:
    acc = sb.create("Account", {"Name": "Acme"})
    master = sb.create("Contact", {"LastName": "Lee", "Email": "ann@acme.com", "AccountId": acc})
    dup = sb.create("Contact", {"LastName": "Lee-Dup", "Email": "ann.lee@acme.com", "Title": "CTO", "Phone": "+1 5"})
    dup2 = sb.create("Contact", {"LastName": "Lee3", "Department": "R&D"})
    case = sb.create("Case", {"Subject": "Broken", "ContactId": dup})
    stamp = sb.get("Contact", master)["SystemModstamp"]  # type: ignore[index]
    sb.advance(120)
    r = await api.post(f"/_sandbox/records/Contact/{master}/merge", json={"merge": [dup, dup2]})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["success"] and done["id"] == master and sorted(done["mergedRecordIds"]) == sorted([dup, dup2])
    assert done["updatedRelatedIds"] == [case]
    row = sb.get("Contact", master)
    assert row is not None
    # the master keeps its own values and takes the others' where its own are blank
    assert (row["LastName"], row["Email"], row["AccountId"]) == ("Lee", "ann@acme.com", acc)
    assert (row["Title"], row["Phone"], row["Department"]) == ("CTO", "+1 5", "R&D")
    assert row["SystemModstamp"] > stamp and row["LastModifiedDate"] == row["SystemModstamp"]
    assert row["MasterRecordId"] is None
    assert sb.get("Case", case)["ContactId"] == master  # type: ignore[index]
    # the merged records are deleted: gone from query, in queryAll with their master, in getDeleted
    assert [c["Id"] for c in await q(api, "SELECT Id FROM Contact")] == [master]
    gone = await q(api, f"SELECT Id, IsDeleted, MasterRecordId FROM Contact WHERE Id IN ('{dup}', '{dup2}')",
                   "queryAll")
    assert {(g["Id"], g["IsDeleted"], g["MasterRecordId"]) for g in gone} == {(dup, True, master), (dup2, True, master)}
    sb.advance(60)
    now = sb.org.now()
    window = {"start": (now.replace(second=0) - sb.org.offset.__class__(minutes=10)).isoformat(),
              "end": now.isoformat()}
    deleted = (await api.get(f"{V}/sobjects/Contact/deleted/", params=window)).json()["deletedRecords"]
    assert sorted(d["id"] for d in deleted) == sorted([dup, dup2]) and all(d["deletedDate"] for d in deleted)


async def test_merge_accounts_moves_their_contacts_and_opportunities(sb: SalesforceSandbox) -> None:
    master, dup = sb.create("Account", {"Name": "Acme"}), sb.create("Account", {"Name": "ACME Inc", "Phone": "+1"})
    contact = sb.create("Contact", {"LastName": "Kid", "AccountId": dup})
    opp = sb.create("Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2030-01-01",
                                    "AccountId": dup})
    done = sb.merge("Account", master, [dup])
    assert sorted(done["updatedRelatedIds"]) == sorted([contact, opp])
    # the children live on under the master (deleting an account would have deleted them)
    assert sb.get("Contact", contact)["AccountId"] == master and not sb.get("Contact", contact)["IsDeleted"]  # type: ignore[index]
    assert sb.get("Opportunity", opp)["AccountId"] == master  # type: ignore[index]
    assert sb.get("Account", master)["Phone"] == "+1"  # type: ignore[index]
    assert sb.get("Account", dup)["MasterRecordId"] == master  # type: ignore[index]


async def test_merge_is_refused_unless_one_or_two_live_records_of_the_masters_object(
        api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    a, b, c, d = (sb.create("Contact", {"LastName": n}) for n in "ABCD")
    lead = sb.create("Lead", {"LastName": "L", "Company": "X"})
    converted = sb.create("Lead", {"LastName": "C", "Company": "X"})
    sb.convert_lead(converted)
    gone = sb.create("Contact", {"LastName": "Gone"})
    sb.delete("Contact", gone)
    before = sb.records("Contact", include_deleted=True)
    for t, master, body, code in (
        ("Contact", a, {"merge": []}, "INVALID_OPERATION"),
        ("Contact", a, {"merge": [b, c, d]}, "INVALID_OPERATION"),
        ("Contact", a, {"merge": [a]}, "INVALID_OPERATION"),
        ("Contact", a, {"merge": [lead]}, "INVALID_CROSS_REFERENCE_KEY"),
        ("Contact", a, {"merge": [gone]}, "ENTITY_IS_DELETED"),
        ("Contact", a, {"merge": b}, "INVALID_FIELD"),
        ("Contact", a, {}, "INVALID_FIELD"),
        ("Lead", lead, {"merge": [converted]}, "CANNOT_UPDATE_CONVERTED_LEAD"),
        ("Opportunity", a, {"merge": [b]}, "INVALID_TYPE_FOR_OPERATION"),
    ):
        r = await api.post(f"/_sandbox/records/{t}/{master}/merge", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()[0]["errorCode"] == code, body
    assert sb.records("Contact", include_deleted=True) == before  # nothing merged
