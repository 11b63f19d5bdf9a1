"""Bulk API 2.0 in the Salesforce sandbox: simple-salesforce's ``bulk2`` client, written for the
real API, reads and writes through it unchanged; and the job states, ``Sforce-Locator`` paging,
per-row failures and the API-call accounting, over plain HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest
from simple_salesforce import Salesforce

from accord.sandbox.salesforce import SalesforceSandbox, bulk
from accord.sandbox.salesforce.schema import OBJECTS
from helpers import simple_salesforce

V = "/services/data/v62.0"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox(records=0)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture()
def fresh(sandbox: SalesforceSandbox) -> SalesforceSandbox:
    sandbox.reset()
    sandbox.bulk.polls = 0
    sandbox.org.seed(1200, seed=7, objects=("Account", "Contact"))
    return sandbox


@pytest.fixture()
def sf(fresh: SalesforceSandbox) -> Iterator[Salesforce]:
    with simple_salesforce(fresh) as client:
        yield client


@pytest.fixture()
def http(fresh: SalesforceSandbox) -> Iterator[httpx.Client]:
    assert fresh.tls is not None
    with httpx.Client(base_url=fresh.url + V, headers={"Authorization": "Bearer t"}, verify=fresh.tls.cafile) as c:
        yield c


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_simple_salesforce_bulk2_query_pages_through_locators(sf: Salesforce, fresh: SalesforceSandbox) -> None:
    before = fresh.api_used
    pages = list(sf.bulk2.Contact.query("SELECT Id, Email, LastName FROM Contact", max_records=500, wait=0))
    got = [r for p in pages for r in rows(str(p))]
    assert [len(rows(str(p))) for p in pages] == [500, 500, 200]
    assert {r["Id"] for r in got} == {r["Id"] for r in fresh.records("Contact")}
    # create, one status read, three result pages: each an API call
    assert fresh.api_used - before == 5
    assert fresh.stats.by_kind["jobs"] >= 5


def test_simple_salesforce_bulk2_insert_reports_a_failing_row(sf: Salesforce, fresh: SalesforceSandbox) -> None:
    res = sf.bulk2.Contact.insert(records=[
        {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@example.com"},
        {"FirstName": "Bob", "LastName": "", "Email": "bob@example.com"},  # LastName is required
        {"FirstName": "Cy", "LastName": "Ho", "Email": "not-an-email"},
    ], wait=0)
    assert res[0]["numberRecordsProcessed"] == 3 and res[0]["numberRecordsFailed"] == 2
    job = res[0]["job_id"]
    ok = rows(sf.bulk2.Contact.get_successful_records(job))
    assert [(r["sf__Created"], r["LastName"]) for r in ok] == [("true", "Lee")]
    assert fresh.get("Contact", ok[0]["sf__Id"])["Email"] == "ann@example.com"  # type: ignore[index]
    failed = rows(sf.bulk2.Contact.get_failed_records(job))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName")
    assert failed[1]["sf__Error"].startswith("INVALID_EMAIL_ADDRESS:") and failed[1]["Email"] == "not-an-email"
    assert rows(sf.bulk2.Contact.get_unprocessed_records(job)) == []


def test_query_job_states_locator_and_counts(http: httpx.Client, fresh: SalesforceSandbox) -> None:
    fresh.bulk.polls = 2
    job = http.post("/jobs/query", json={"operation": "query", "query": "SELECT Id, Name FROM Account"}).json()
    assert job["state"] == "UploadComplete" and job["operation"] == "query" and job["object"] == "Account"
    early = http.get(f"/jobs/query/{job['id']}/results")
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    states = [http.get(f"/jobs/query/{job['id']}").json()["state"] for _ in range(3)]
    assert states == ["InProgress", "InProgress", "JobComplete"]
    info = http.get(f"/jobs/query/{job['id']}").json()
    assert info["numberRecordsProcessed"] == 1200 and info["jobType"] == "V2Query"
    seen: list[str] = []
    locator: str | None = None
    while True:
        resp = http.get(f"/jobs/query/{job['id']}/results", params={"maxRecords": 700, **(
            {"locator": locator} if locator else {})})
        assert resp.headers["content-type"].startswith("text/csv")
        page = rows(resp.text)
        assert int(resp.headers["Sforce-NumberOfRecords"]) == len(page)
        seen += [r["Id"] for r in page]
        locator = resp.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert len(seen) == len(set(seen)) == 1200
    bad = http.get(f"/jobs/query/{job['id']}/results", params={"locator": "not-a-locator"})
    assert bad.status_code == 400
    assert job["id"] in [j["id"] for j in http.get("/jobs/query").json()["records"]]
    assert http.get("/jobs/query/7505g9999999999AAA").status_code == 404


def test_query_results_are_typed_csv_and_query_all_sees_deleted(http: httpx.Client, fresh: SalesforceSandbox) -> None:
    aid = fresh.create("Account", {"Name": "Typed", "NumberOfEmployees": 12, "AnnualRevenue": 1500.5})
    fresh.delete("Account", fresh.create("Account", {"Name": "Gone"}))
    q = "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, Phone, CreatedDate, IsDeleted FROM Account"
    for op, want_deleted in (("query", False), ("queryAll", True)):
        job = http.post("/jobs/query", json={"operation": op, "query": q}).json()
        http.get(f"/jobs/query/{job['id']}")
        got = {r["Name"]: r for r in rows(http.get(f"/jobs/query/{job['id']}/results").text)}
        assert ("Gone" in got) is want_deleted
        t = got["Typed"]
        assert t["Id"] == aid and t["NumberOfEmployees"] == "12" and t["AnnualRevenue"] == "1500.5"
        assert t["Phone"] == "" and t["IsDeleted"] == "false" and t["CreatedDate"].endswith(".000Z")
    bad = http.post("/jobs/query", json={"operation": "query", "query": "SELECT Nope FROM Account"})
    assert bad.status_code == 400


def test_ingest_update_upsert_delete_and_abort(http: httpx.Client, fresh: SalesforceSandbox) -> None:
    def run(body: dict[str, object], data: str) -> dict[str, object]:
        job = http.post("/jobs/ingest", json={"contentType": "CSV", "lineEnding": "LF", **body}).json()
        assert job["state"] == "Open" and job["contentUrl"].endswith(f"/jobs/ingest/{job['id']}/batches")
        put = http.put(f"/jobs/ingest/{job['id']}/batches", content=data, headers={"Content-Type": "text/csv"})
        assert put.status_code == 201
        assert http.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).json()["state"] == "UploadComplete"
        info: dict[str, object] = http.get(f"/jobs/ingest/{job['id']}").json()
        assert info["state"] == "JobComplete"
        return info

    cid = fresh.create("Contact", {"LastName": "Old", "Title": "CEO"})
    info = run({"object": "Contact", "operation": "update"}, f"Id,LastName,Title\n{cid},New,#N/A\n003000000000000AAA,X,\n")
    assert info["numberRecordsProcessed"] == 2 and info["numberRecordsFailed"] == 1
    rec = fresh.get("Contact", cid)
    assert rec is not None and rec["LastName"] == "New" and rec["Title"] is None  # #N/A clears
    failed = rows(http.get(f"/jobs/ingest/{info['id']}/failedResults/").text)
    assert failed[0]["sf__Error"].startswith("INVALID_CROSS_REFERENCE_KEY:")
    info = run({"object": "Account", "operation": "upsert", "externalIdFieldName": "External_Id__c"},
               'External_Id__c,Name\nx-1,"Acme, Inc."\nx-1,Acme Two\n')
    ok = rows(http.get(f"/jobs/ingest/{info['id']}/successfulResults/").text)
    assert [r["sf__Created"] for r in ok] == ["true", "false"] and ok[0]["sf__Id"] == ok[1]["sf__Id"]
    assert fresh.get("Account", ok[0]["sf__Id"])["Name"] == "Acme Two"  # type: ignore[index]
    info = run({"object": "Contact", "operation": "delete"}, f"Id\n{cid}\n")
    assert info["numberRecordsFailed"] == 0 and fresh.get("Contact", cid)["IsDeleted"] is True  # type: ignore[index]
    # an aborted job processes nothing: its rows are unprocessed
    job = http.post("/jobs/ingest", json={"object": "Contact", "operation": "insert"}).json()
    http.put(f"/jobs/ingest/{job['id']}/batches", content="LastName\nA\nB\n")
    assert http.patch(f"/jobs/ingest/{job['id']}", json={"state": "Aborted"}).json()["state"] == "Aborted"
    assert [r["LastName"] for r in rows(http.get(f"/jobs/ingest/{job['id']}/unprocessedrecords/").text)] == ["A", "B"]
    # an unknown column fails the whole job
    job = http.post("/jobs/ingest", json={"object": "Contact", "operation": "insert"}).json()
    http.put(f"/jobs/ingest/{job['id']}/batches", content="LastName,Nope__c\nA,1\n")
    http.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    info = http.get(f"/jobs/ingest/{job['id']}").json()
    assert info["state"] == "Failed" and "Nope__c" in info["errorMessage"]
    assert len(http.get("/jobs/ingest").json()["records"]) == 5


def test_bulk_calls_count_against_the_daily_limit(http: httpx.Client, fresh: SalesforceSandbox) -> None:
    fresh.set_limits(daily_limit=fresh.api_used + 1)
    ok = http.post("/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"})
    assert ok.status_code == 200 and ok.headers["Sforce-Limit-Info"].startswith("api-usage=")
    refused = http.get(f"/jobs/query/{ok.json()['id']}")
    assert refused.status_code == 403 and refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    fresh.set_limits(daily_limit=100_000)


def test_a_query_job_formats_each_cell_as_csv_value_does() -> None:
    """The job's cells are formatted a column at a time (bulk._cells): the same text as one
    ``csv_value`` per cell, on every object's seeded rows and on a row of each non-text type."""
    box = SalesforceSandbox()
    box.seed(300, 7)
    odd = {"boolean": True, "double": 3.0, "currency": 2.5, "percent": 10, "int": 4,
           "datetime": datetime(2020, 1, 1, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=2))),
           "date": date(2020, 1, 2)}
    for name, obj in OBJECTS.items():
        fields = list(obj.fields.values())
        rows = [*box.org.rows.get(name, {}).values(),
                {f.name: odd.get(f.type, 5) for f in fields}, {f.name: None for f in fields}]
        assert bulk._cells(fields, rows) == [[bulk.csv_value(f, r.get(f.name)) for f in fields] for r in rows], name
    stamp = datetime(2020, 1, 1, 1, 2, 3, 456789, tzinfo=UTC)
    assert bulk.csv_value(OBJECTS["Contact"].fields["LastModifiedDate"], stamp) == "2020-01-01T01:02:03.456Z"
