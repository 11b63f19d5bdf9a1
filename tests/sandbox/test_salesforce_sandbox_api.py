"""Salesforce sandbox over raw HTTP (in-process ASGI): errors, limits, SOQL, replication windows,
save rules, formulas and faults."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from accord.sandbox.salesforce import SalesforceSandbox, SandboxSettings

V = "/services/data/v62.0"


@pytest.fixture()
def sb() -> SalesforceSandbox:
    sandbox = SalesforceSandbox(SandboxSettings(daily_limit=1000))
    sandbox.org.seed(30, seed=3)
    return sandbox


async def q(api: httpx.AsyncClient, soql: str) -> Any:
    r = await api.get(f"{V}/query", params={"q": soql})
    assert r.status_code == 200, r.text
    return r.json()


async def test_auth(sb: SalesforceSandbox) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sb.app), base_url="https://sf.test") as c:
        r = await c.get(f"{V}/limits")
        assert r.status_code == 401
        assert r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}]
        assert (await c.get("/services/data")).status_code == 200  # the version list needs no session
    sb.settings.token = "secret"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sb.app), base_url="https://sf.test") as c:
        assert (await c.get(f"{V}/limits", headers={"Authorization": "Bearer other"})).status_code == 401
        assert (await c.get(f"{V}/limits", headers={"Authorization": "Bearer secret"})).status_code == 200


async def test_limit_header_and_daily_budget(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    r1 = await api.get(f"{V}/sobjects")
    r2 = await api.get(f"{V}/limits")
    assert r1.headers["Sforce-Limit-Info"] == "api-usage=1/1000"
    assert r2.headers["Sforce-Limit-Info"] == "api-usage=2/1000"
    assert r2.json()["DailyApiRequests"] == {"Max": 1000, "Remaining": 998}
    sb.set_limits(used=1000)
    r = await api.get(f"{V}/limits")
    assert r.status_code == 403 and r.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sb.stats.by_kind == {"sobjects": 1, "limits": 1}


async def test_soql_subset(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    a = sb.create("Account", {"Name": "Zeta Corp"})
    ids = [sb.create("Contact", {"LastName": n, "Email": f"{n.lower()}@zeta.io", "AccountId": a})
           for n in ("Adams", "Baker", "Clark")]
    res = await q(api, f"SELECT Id, LastName FROM Contact WHERE AccountId = '{a}' ORDER BY LastName DESC")
    assert [r["LastName"] for r in res["records"]] == ["Clark", "Baker", "Adams"]
    res = await q(api, f"SELECT Id FROM Contact WHERE AccountId = '{a}' AND (LastName = 'Adams' OR Email LIKE 'bak%')")
    assert {r["Id"] for r in res["records"]} == set(ids[:2])
    res = await q(api, f"SELECT Id FROM Contact WHERE Id IN ('{ids[0]}', '{ids[2][:15]}') LIMIT 5")
    assert {r["Id"] for r in res["records"]} == {ids[0], ids[2]}
    stamp = sb.get("Contact", ids[0])["SystemModstamp"]  # type: ignore[index]
    res = await q(api, f"SELECT Id FROM Contact WHERE SystemModstamp >= {stamp} ORDER BY SystemModstamp, Id")
    assert [r["Id"] for r in res["records"]] == ids  # equal stamps: Id breaks the tie
    res = await q(api, "SELECT COUNT() FROM Account")
    assert res == {"totalSize": 31, "done": True, "records": []}
    bad = await api.get(f"{V}/query", params={"q": "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Title = 'c'"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_QUERY"
    bad = await api.get(f"{V}/query", params={"q": "SELECT Nope FROM Contact"})
    assert bad.json()[0]["errorCode"] == "INVALID_FIELD"
    bad = await api.get(f"{V}/query", params={"q": "SELECT Id FROM Nope"})
    assert bad.json()[0]["errorCode"] == "INVALID_TYPE"


async def test_query_pages_are_the_rows_as_they_were_at_the_query(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    """Pages are rendered when asked for (a first page does not wait for every record to be
    rendered), from the rows as they were when the query ran."""
    for i in range(420):
        sb.create("Contact", {"LastName": f"Paged{i}"})
    r = await api.get(f"{V}/query", params={"q": "SELECT Id, LastName FROM Contact ORDER BY Id"},
                      headers={"Sforce-Query-Options": "batchSize=200"})
    first = r.json()
    assert len(first["records"]) == 200 and not first["done"]
    ids = [c["Id"] for c in (await q(api, "SELECT Id, LastName FROM Contact ORDER BY Id"))["records"]]
    before = sb.get("Contact", ids[250])["LastName"]  # type: ignore[index]
    sb.update("Contact", ids[250], {"LastName": "Changed Later"})
    nxt = (await api.get(first["nextRecordsUrl"])).json()
    assert [c["Id"] for c in nxt["records"]] == ids[200:400] and nxt["records"][50]["LastName"] == before
    assert nxt["records"][50]["attributes"]["type"] == "Contact" and nxt["totalSize"] == len(ids)


async def test_replication_windows(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    now = sb.org.now()

    def window(days: float) -> dict[str, str]:
        return {"start": (now - timedelta(days=days)).isoformat(), "end": (now + timedelta(minutes=1)).isoformat()}

    victim = sb.create("Contact", {"LastName": "Gone"})
    sb.delete("Contact", victim)
    r = await api.get(f"{V}/sobjects/Contact/deleted/", params=window(14))
    body = r.json()
    assert r.status_code == 200 and [d["id"] for d in body["deletedRecords"]] == [victim]
    assert {"earliestDateAvailable", "latestDateCovered"} <= body.keys()
    r = await api.get(f"{V}/sobjects/Contact/deleted/", params=window(16))
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    r = await api.get(f"{V}/sobjects/Contact/updated/", params=window(25))
    assert r.status_code == 200 and len(r.json()["ids"]) == 30  # the victim is deleted, not updated
    r = await api.get(f"{V}/sobjects/Contact/updated/", params=window(31))
    assert r.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    sb.advance(16 * 86400)  # the delete is now older than the delete log reaches
    r = await api.get(f"{V}/sobjects/Contact/deleted/", params=window(14))
    assert r.status_code == 400
    sb.org.purge_deleted("Contact")
    later = sb.org.now()
    r = await api.get(f"{V}/sobjects/Contact/deleted/",
                      params={"start": (later - timedelta(hours=1)).isoformat(), "end": later.isoformat()})
    assert r.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


async def test_validation_and_duplicate_rules(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    sb.add_validation_rule("Contact", "Title = 'CEO' AND Phone = null", "A CEO needs a phone number", "Phone")
    r = await api.post(f"{V}/sobjects/Contact", json={"LastName": "Boss", "Title": "CEO"})
    assert r.status_code == 400
    assert r.json() == [{"message": "A CEO needs a phone number", "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                         "fields": ["Phone"]}]
    sb.set_duplicate_rule(True)
    email = sb.records("Contact")[0]["Email"] or "x@y.z"
    sb.update("Contact", sb.records("Contact")[0]["Id"], {"Email": email})
    r = await api.post(f"{V}/sobjects/Contact", json={"LastName": "Twin", "Email": email.upper()})
    err = r.json()[0]
    assert err["errorCode"] == "DUPLICATES_DETECTED" and err["duplicateResult"]["matchResults"][0]["size"] == 1
    r = await api.post(f"{V}/sobjects/Contact", json={"LastName": "Twin", "Email": email},
                       headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert r.status_code == 201
    recs = [{"attributes": {"type": "Contact"}, "LastName": "Dup", "Email": email},
            {"attributes": {"type": "Contact"}, "LastName": "Ok", "Email": "not-an-email"}]
    res = (await api.post(f"{V}/composite/sobjects", json={"records": recs})).json()
    assert [e["statusCode"] for r in res for e in r["errors"]] == ["DUPLICATES_DETECTED", "INVALID_EMAIL_ADDRESS"]
    assert "duplicateResult" in res[0]["errors"][0]


async def test_formula_recomputation_moves_no_stamp(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    acc = sb.create("Account", {"Name": "Old Name"})
    con = sb.create("Contact", {"LastName": "Kid", "AccountId": acc})
    opp = sb.create("Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2030-01-01",
                                    "Amount": 1000, "AccountId": acc})
    before = sb.get("Contact", con)
    sb.advance(5)
    sb.update("Account", acc, {"Name": "New Name"})
    after = sb.get("Contact", con)
    assert before and after and after["Account_Name__c"] == "New Name"
    assert after["SystemModstamp"] == before["SystemModstamp"]
    res = await q(api, f"SELECT ExpectedRevenue, Probability FROM Opportunity WHERE Id = '{opp}'")
    assert res["records"][0]["ExpectedRevenue"] == 100.0 and res["records"][0]["Probability"] == 10.0
    r = await api.patch(f"{V}/sobjects/Opportunity/{opp}", json={"ExpectedRevenue": 5})
    assert r.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


async def test_system_only_change_moves_systemmodstamp_only(sb: SalesforceSandbox) -> None:
    con = sb.create("Contact", {"LastName": "Quiet"})
    sb.advance(3)
    sb.touch("Contact", con)
    rec = sb.get("Contact", con)
    assert rec and rec["SystemModstamp"] > rec["LastModifiedDate"]


async def test_required_fields_and_types(api: httpx.AsyncClient) -> None:
    r = await api.post(f"{V}/sobjects/Opportunity", json={"Amount": 5})
    assert r.json()[0]["fields"] == ["Name", "StageName", "CloseDate"]
    r = await api.post(f"{V}/sobjects/Opportunity", json={"Name": "x", "StageName": "Nope", "CloseDate": "2030-01-01"})
    assert r.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    r = await api.post(f"{V}/sobjects/Account", json={"Name": "x", "NumberOfEmployees": "many"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    r = await api.post(f"{V}/sobjects/Contact", json={"LastName": "x", "AccountId": "001000000000000AAA"})
    assert r.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    r = await api.post(f"{V}/composite/sobjects", json={"records": [{"attributes": {"type": "Account"}, "Name": "n"}] * 201})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


async def test_fault_injection(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    sb.set_faults(queue=["error", "rate_limit"])
    r = await api.get(f"{V}/limits")
    assert r.status_code == 500 and r.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    r = await api.get(f"{V}/limits")
    assert r.status_code == 403 and r.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert (await api.get(f"{V}/limits")).status_code == 200
    sb.set_faults(error=1.0)
    assert (await api.get(f"{V}/limits")).status_code == 500
    assert sb.stats.faults == {"error": 2, "rate_limit": 1}


async def test_latency_delays_every_api_call(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    assert sb.settings.latency == 0.0
    sb.settings.latency = 0.2
    t0 = time.monotonic()
    for _ in range(2):
        assert (await api.get(f"{V}/limits")).status_code == 200
    assert time.monotonic() - t0 >= 0.4  # a lower bound only: each call waited out its round trip


async def test_admin_routes(api: httpx.AsyncClient, sb: SalesforceSandbox) -> None:
    r = await api.post("/_sandbox/records/Lead", json={"LastName": "Admin", "Company": "Acme"})
    lead = r.json()["id"]
    assert (await api.patch(f"/_sandbox/records/Lead/{lead}", json={"Title": "VP"})).status_code == 200
    assert sb.get("Lead", lead)["Title"] == "VP"  # type: ignore[index]
    await api.put("/_sandbox/faults", json={"error": 0.5})
    assert (await api.get("/_sandbox/faults")).json()["error"] == 0.5
    await api.put("/_sandbox/validation-rules", json=[{"object": "Lead", "condition": "Title = 'VP'",
                                                        "message": "no VPs"}])
    r = await api.post("/_sandbox/reset", json={"records": 5})
    assert len((await api.get("/_sandbox/records/Lead")).json()) == 5
    assert (await api.get("/_sandbox/stats")).json()["calls"] == 0
    assert (await api.post("/_sandbox/clock", json={"advance_seconds": 60})).status_code == 200


def test_seeding_is_deterministic() -> None:
    def names(seed: int) -> list[tuple[str, str | None]]:
        sandbox = SalesforceSandbox(SandboxSettings(records=20, seed=seed))
        return [(r["Name"], r["AccountId"]) for r in sandbox.records("Opportunity")]

    assert names(5) == names(5) != names(6)
    sandbox = SalesforceSandbox(SandboxSettings(records=20, seed=5))
    contacts = sandbox.records("Contact")
    assert len(contacts) == 20 and all(c["LastName"] for c in contacts)
    assert len({c["Email"] for c in contacts if c["Email"]}) == len([c for c in contacts if c["Email"]])
