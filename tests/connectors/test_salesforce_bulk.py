"""The Salesforce connector's Bulk API 2.0 paths against the sandbox: a scan through a query job
returns the REST scan's records, an ingest job's failing rows become failing records with the REST
path's categories, and the thresholds switch between the two."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accord.connectors.salesforce import SalesforceConnector, SalesforceSettings, from_config
from accord.connectors.salesforce_bulk import parse_errors, typed
from accord.model import ErrorCategory, Page, Record
from accord.sandbox.salesforce import SalesforceSandbox

FIELDS = ["FirstName", "LastName", "Email", "AccountId", "Birthdate", "HasOptedOutOfEmail", "Account_Name__c"]
ACCOUNT = ["Name", "NumberOfEmployees", "AnnualRevenue", "Industry", "Phone"]


@pytest.fixture(scope="module")
def server() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox()
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture()
def sb(server: SalesforceSandbox) -> SalesforceSandbox:
    server.reset()
    server.bulk.polls = 0
    server.org.seed(700, seed=3, objects=("Account", "Contact"))
    return server


def connector(sb: SalesforceSandbox, **kw: object) -> SalesforceConnector:
    assert sb.tls is not None
    opts: dict[str, object] = {"verify": sb.tls.cafile, "backoff": 0.01, "timeout": 5.0, **kw}
    conn = SalesforceConnector("sf", sb.url, "token", **opts)  # type: ignore[arg-type]
    conn.bulk.poll = conn.bulk.ingest_poll = 0.01
    return conn


async def scan(conn: SalesforceConnector, obj: str, fields: list[str]) -> list[Page]:
    return [p async for p in conn.scan(obj, fields)]


def by_id(pages: list[Page]) -> dict[str, Record]:
    return {r.id: r for p in pages for r in p.records}


async def test_bulk_scan_returns_the_rest_scans_records(sb: SalesforceSandbox) -> None:
    sb.create("Account", {"Name": "Typed", "NumberOfEmployees": 7, "AnnualRevenue": 2.5})
    rest, bulk = connector(sb, bulk_threshold=None), connector(sb, bulk_threshold=100, page_size=200)
    bulk.bulk.page = 300
    try:
        for obj, fields in (("Contact", FIELDS), ("Account", ACCOUNT)):
            before = sb.stats.by_kind.get("jobs", 0)
            want, got = await scan(rest, obj, fields), await scan(bulk, obj, fields)
            assert by_id(got) == by_id(want)  # same values, typed the same way
            assert len(by_id(got)) >= 700
            # 1 REST page (200 records and the size), then 1 job, 1 status read, ceil((n - 200)/300) result pages
            assert sb.stats.by_kind["jobs"] - before == 2 + -(-(len(by_id(got)) - 200) // 300)
            assert len(got[0].records) == 200 and got[0].cursor == got[0].records[-1].id
            assert all(p.cursor and p.cursor.startswith("bulk:") for p in got[1:])
            assert got[-1].cursor and got[-1].cursor.endswith(":null")
    finally:
        await rest.aclose()
        await bulk.aclose()


async def test_bulk_scan_resumes_from_a_page_cursor_and_waits_for_the_job(sb: SalesforceSandbox) -> None:
    sb.bulk.polls = 2  # the job is in progress for two status reads
    conn = connector(sb, bulk_threshold=100, page_size=200)
    conn.bulk.page = 250
    try:
        pages = await scan(conn, "Contact", FIELDS)
        assert [len(p.records) for p in pages] == [200, 250, 250]
        ids = [r.id for p in pages for r in p.records]
        assert len(set(ids)) == 700
        # from a bulk page's cursor: the job's next pages
        rest = [p async for p in conn.scan_from("Contact", FIELDS, str(pages[1].cursor))]
        assert [r.id for p in rest for r in p.records] == ids[450:]
        assert [p async for p in conn.scan_from("Contact", FIELDS, str(pages[-1].cursor))] == []
        # from the REST page's cursor (an Id): the records after it, through a new job
        after = [p async for p in conn.scan_from("Contact", FIELDS, str(pages[0].cursor))]
        assert sorted(r.id for p in after for r in p.records) == sorted(ids[200:])
        sb.bulk.clear()  # the job is gone: the scan starts over
        again = [p async for p in conn.scan_from("Contact", FIELDS, str(pages[1].cursor))]
        assert len(by_id(again)) == 700
    finally:
        await conn.aclose()


async def test_threshold_switch(sb: SalesforceSandbox) -> None:
    for threshold, jobs in ((None, 0), (0, 0), (10_000, 0), (699, 2)):
        conn = connector(sb, bulk_threshold=threshold, page_size=200)
        try:
            before = sb.stats.by_kind.get("jobs", 0)
            pages = await scan(conn, "Contact", ["LastName"])
            assert sum(len(p.records) for p in pages) == 700
            assert sb.stats.by_kind.get("jobs", 0) - before >= jobs and (jobs or sb.stats.by_kind.get("jobs", 0) == before)
        finally:
            await conn.aclose()
    assert SalesforceSettings(type="salesforce", instance_url="https://x", access_token="t").bulk_threshold == 10_000
    app = SalesforceSettings(type="salesforce", instance_url="https://x", access_token="t", bulk_threshold=0,
                             bulk_write_threshold=None)
    conn = from_config("sf", app)
    assert conn.bulk_threshold is None and conn.bulk_write_threshold is None and conn.batch_size == 200
    await conn.aclose()


async def test_ingest_creates_with_failing_rows(sb: SalesforceSandbox) -> None:
    sb.reset()
    acct = sb.create("Account", {"Name": "Acme"})
    conn = connector(sb, bulk_write_threshold=5)
    assert conn.batch_size > 200  # the engine hands over whole pages
    items = [{"FirstName": f"F{i}", "LastName": f"L{i}", "Email": f"p{i}@example.com", "AccountId": acct,
              "HasOptedOutOfEmail": i % 2 == 0, "Birthdate": "1990-01-02"} for i in range(12)]
    items[3] = {**items[3], "LastName": None}  # required
    items[5] = {**items[5], "Email": "nope"}
    items[7] = {**items[7], "AccountId": "001000000000000AAA"}  # a lookup to nothing
    try:
        before = sb.stats.by_kind.get("jobs", 0)
        res = await conn.create("Contact", items)
        # create, upload, close, status, successfulResults, failedResults
        assert sb.stats.by_kind["jobs"] - before == 6 and sb.stats.by_kind.get("composite", 0) == 0
        assert [r.ok for r in res] == [i not in (3, 5, 7) for i in range(12)]
        assert res[3].error and res[3].error.category == ErrorCategory.VALIDATION
        assert res[3].error.code == "REQUIRED_FIELD_MISSING" and "LastName" in res[3].error.message
        assert res[5].error and res[5].error.category == ErrorCategory.VALIDATION
        assert res[7].error and res[7].error.category == ErrorCategory.ASSOCIATIONS
        made = sb.get("Contact", str(res[0].id))
        assert made is not None and made["HasOptedOutOfEmail"] is True and made["Birthdate"] == "1990-01-02"
        assert len(sb.records("Contact")) == 9
        # updates: an empty value clears the field, a deleted record fails as deleted
        sb.delete("Contact", str(res[2].id))
        upd = await conn.update("Contact", [(str(r.id), {"Title": "CTO", "Birthdate": None})
                                            for r in res if r.ok])
        assert [u.ok for u in upd] == [r.id != res[2].id for r in res if r.ok]
        failed = next(u for u in upd if not u.ok)
        assert failed.id == res[2].id and failed.error and failed.error.category == ErrorCategory.DELETED
        got = sb.get("Contact", str(res[0].id))
        assert got is not None and got["Title"] == "CTO" and got["Birthdate"] is None
        # an update whose rows all succeed reads no result set: create, upload, close, status
        before = sb.stats.by_kind["jobs"]
        live = [str(r.id) for r in res if r.ok and r.id != res[2].id]
        again = await conn.update("Contact", [(i, {"Title": "CFO"}) for i in live])
        assert all(u.ok for u in again) and [u.id for u in again] == live
        assert sb.stats.by_kind["jobs"] - before == 4
        # below the threshold: sObject Collections as before
        small = await conn.create("Contact", items[:2])
        assert all(r.ok for r in small) and sb.stats.by_kind.get("composite", 0) == 1
    finally:
        await conn.aclose()


async def test_failed_ingest_job_falls_back_to_rest(sb: SalesforceSandbox) -> None:
    conn = connector(sb, bulk_write_threshold=1)
    try:
        res = await conn.create("Contact", [{"LastName": "A", "Nope__c": "x"}, {"LastName": "B", "Nope__c": "y"}])
        assert not any(r.ok for r in res) and res[0].error and res[0].error.code == "INVALID_FIELD"
        assert sb.stats.by_kind.get("composite", 0) == 1
    finally:
        await conn.aclose()


def test_csv_values_and_errors() -> None:
    assert typed("double", "2.0") == 2 and typed("double", "2.5") == 2.5 and typed("int", "") is None
    assert typed("boolean", "false") is False and typed("date", "2024-01-02") == "2024-01-02"
    errs = parse_errors("INVALID_EMAIL_ADDRESS:Email: invalid email address: a:b:Email -- "
                        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --")
    assert [(e["statusCode"], e["fields"]) for e in errs] == [("INVALID_EMAIL_ADDRESS", ["Email"]),
                                                              ("REQUIRED_FIELD_MISSING", ["LastName"])]
    assert parse_errors("DUPLICATES_DETECTED:Use one of these records?: --")[0]["message"] == "Use one of these records?"
