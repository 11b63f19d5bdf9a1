"""The Salesforce connector against the sandbox, over loopback TLS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest

from accord.connectors.salesforce import ResyncRequired, SalesforceConnector, from_config
from accord.model import AuthError, BudgetExhausted, ErrorCategory, FieldType, Page, TransientError
from accord.sandbox.salesforce import SalesforceSandbox

FIELDS = ["FirstName", "LastName", "Email", "AccountId", "Account_Name__c", "Birthdate"]


@pytest.fixture(scope="module")
def server() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox()
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture()
def sb(server: SalesforceSandbox) -> SalesforceSandbox:
    server.reset()
    server.set_faults()
    server.org.validation_rules = []
    server.set_duplicate_rule(False)
    server.settings.daily_limit = 100_000
    server.org.offset = server.org.offset.__class__(0)
    return server


def connector(sb: SalesforceSandbox, **kw: object) -> SalesforceConnector:
    assert sb.tls is not None
    opts: dict[str, object] = {"verify": sb.tls.cafile, "backoff": 0.01, "timeout": 5.0, **kw}
    return SalesforceConnector("sf", sb.url, "token", **opts)  # type: ignore[arg-type]


@pytest.fixture()
async def sf(sb: SalesforceSandbox) -> AsyncIterator[SalesforceConnector]:
    conn = connector(sb)
    yield conn
    await conn.aclose()


async def collect(pages: AsyncIterator[Page]) -> list[Page]:
    return [p async for p in pages]


async def test_describe(sf: SalesforceConnector) -> None:
    schema = await sf.describe("Contact")
    assert schema.fields["Name_Formula__c"].calculated and not schema.fields["Name_Formula__c"].writable
    assert schema.fields["LastName"].required and not schema.fields["FirstName"].required
    assert not schema.fields["HasOptedOutOfEmail"].required  # defaulted on create
    assert schema.fields["Status__c"].type == FieldType.ENUM
    assert [o.value for o in schema.fields["Status__c"].options][:2] == ["Open", "Contacted"]
    assert schema.fields["Birthdate"].type == FieldType.DATE
    assert schema.fields["SystemModstamp"].read_only
    opp = await sf.describe("Opportunity")
    assert opp.fields["Amount"].type == FieldType.NUMBER and opp.fields["ExpectedRevenue"].calculated
    assert opp.fields["StageName"].required and opp.fields["CloseDate"].type == FieldType.DATE


async def test_scan_pages_past_2000(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    sb.org.seed(2300, seed=1, objects=("Account", "Contact"))
    pages = await collect(sf.scan("Contact", FIELDS))
    assert [len(p.records) for p in pages] == [2000, 300]
    ids = [r.id for p in pages for r in p.records]
    assert len(set(ids)) == 2300 and ids == sorted(ids)
    rec = pages[0].records[0]
    assert set(rec.properties) == set(FIELDS)
    assert rec.updated_at and rec.updated_at.endswith("Z") and len(rec.updated_at) == 24
    assert pages[0].cursor == pages[0].records[-1].id


async def test_values_round_trip(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    res = await sf.create("Opportunity", [{"Name": "Big", "StageName": "Prospecting", "CloseDate": "2030-06-30",
                                           "Amount": 1500}])
    assert res[0].ok and res[0].id
    [rec] = await sf.read("Opportunity", [res[0].id], ["Amount", "CloseDate", "IsClosed", "ExpectedRevenue",
                                                        "Probability"])
    assert rec.properties == {"Amount": 1500, "CloseDate": "2030-06-30", "IsClosed": False,
                              "ExpectedRevenue": 150, "Probability": 10}


async def test_changes_with_overlap(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    sb.org.seed(20, seed=2, objects=("Contact",))
    cursor = await sf.change_cursor("Contact")
    assert [r for p in await collect(sf.changes("Contact", cursor, FIELDS)) for r in p.records] == []
    old = sb.records("Contact")[0]["Id"]
    sb.advance(10)
    new = sb.create("Contact", {"LastName": "Fresh"})
    sb.update("Contact", old, {"Title": "CTO"})
    pages = await collect(sf.changes("Contact", cursor, FIELDS))
    changed = [r.id for p in pages for r in p.records]
    assert changed == [old, new] or changed == [new, old]
    final = pages[-1].cursor
    assert final and final > cursor
    # the next pass re-reads the overlap window (5 minutes) ...
    again = [r.id for p in await collect(sf.changes("Contact", final, FIELDS)) for r in p.records]
    assert set(again) == {old, new}
    # ... and nothing once the window has passed
    sb.advance(600)
    later = await sf.change_cursor("Contact")
    assert [r for p in await collect(sf.changes("Contact", later, FIELDS)) for r in p.records] == []


async def test_changes_tie_break_on_equal_stamps(sb: SalesforceSandbox) -> None:
    conn = connector(sb, overlap=0, page_size=200)
    try:
        cursor = await conn.change_cursor("Contact")
        with sb.org.lock:  # freeze the clock so that all 450 share one SystemModstamp
            frozen = sb.org.now()
            sb.org.now = lambda: frozen  # type: ignore[method-assign]
            try:
                ids = [sb.create("Contact", {"LastName": f"Batch {i}"}) for i in range(450)]
            finally:
                del sb.org.now
        stream = conn.changes("Contact", cursor, ["LastName"])
        first = await anext(stream)
        await stream.aclose()
        assert len(first.records) == 200 and first.cursor and first.cursor.endswith(first.records[-1].id)
        # resuming from the page cursor continues after (stamp, Id): no repeats, nothing skipped
        rest = [r.id for p in await collect(conn.changes("Contact", first.cursor, ["LastName"])) for r in p.records]
        assert [r.id for r in first.records] + rest == ids
    finally:
        await conn.aclose()


async def test_deletes_come_from_get_deleted(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    a = sb.create("Contact", {"LastName": "A"})
    b = sb.create("Contact", {"LastName": "B"})
    sb.advance(400)
    cursor = await sf.change_cursor("Contact")
    sb.advance(5)
    sb.delete("Contact", a)
    res = await sf.archive("Contact", [b, b])  # the second is already gone: still a success
    assert [r.ok for r in res] == [True, True]
    sb.advance(60)  # getDeleted ignores seconds: a delete shows once its minute is over
    pages = await collect(sf.changes("Contact", cursor, FIELDS))
    gone = [r for p in pages for r in p.records if r.archived]
    assert {r.id for r in gone} == {a, b} and all(r.properties == {} for r in gone)


async def test_window_exceeded_asks_for_full_rescan(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    cursor = await sf.change_cursor("Contact")
    sb.advance(16 * 86400)
    with pytest.raises(ResyncRequired):
        await collect(sf.changes("Contact", cursor, FIELDS))


async def test_formula_recomputation_is_not_a_change(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    acc = sb.create("Account", {"Name": "Before"})
    con = sb.create("Contact", {"LastName": "Child", "AccountId": acc})
    sb.advance(600)
    cursor = await sf.change_cursor("Contact")
    sb.advance(5)
    sb.update("Account", acc, {"Name": "After"})
    assert [r for p in await collect(sf.changes("Contact", cursor, FIELDS)) for r in p.records] == []
    [rec] = await sf.read("Contact", [con], FIELDS)
    assert rec.properties["Account_Name__c"] == "After"
    assert [r.id for p in await collect(sf.changes("Account", cursor, ["Name"])) for r in p.records] == [acc]


async def test_per_record_errors_and_categories(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    sb.set_duplicate_rule(True)
    sb.add_validation_rule("Contact", "Title = 'CEO' AND Phone = null", "CEOs need a phone", "Phone")
    sb.create("Contact", {"LastName": "Original", "Email": "taken@example.com"})
    items = [
        {"LastName": "Fine", "Email": "fine@example.com"},
        {"FirstName": "NoLast"},
        {"LastName": "Bad", "Email": "not-an-email"},
        {"LastName": "Formula", "Name_Formula__c": "x"},
        {"LastName": "Copy", "Email": "TAKEN@example.com"},
        {"LastName": "Boss", "Title": "CEO"},
        {"LastName": "Orphan", "AccountId": "0015g0000000zzzAAA"},
    ]
    res = await sf.create("Contact", items)
    assert res[0].ok and res[0].id
    got = [(r.error.category, r.error.code) if r.error else None for r in res[1:]]
    assert got == [
        (ErrorCategory.VALIDATION, "REQUIRED_FIELD_MISSING"),
        (ErrorCategory.VALIDATION, "INVALID_EMAIL_ADDRESS"),
        (ErrorCategory.PERMISSIONS, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        (ErrorCategory.DUPLICATES, "DUPLICATES_DETECTED"),
        (ErrorCategory.CUSTOM_CODE, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        (ErrorCategory.ASSOCIATIONS, "INVALID_CROSS_REFERENCE_KEY"),
    ]
    assert all(r.error and r.error.hint for r in res[1:])
    assert res[5].error and res[5].error.message == "CEOs need a phone"
    deleted = sb.create("Contact", {"LastName": "Gone"})
    sb.delete("Contact", deleted)
    upd = await sf.update("Contact", [(res[0].id or "", {"Title": "Dev"}), (deleted, {"Title": "x"}),
                                      ("0035g0000000zzzAAA", {"Title": "x"})])
    assert upd[0].ok and upd[0].id == res[0].id
    assert [r.error.category for r in upd[1:] if r.error] == [ErrorCategory.DELETED, ErrorCategory.NOT_FOUND]
    assert upd[1].id == deleted


async def test_batches_of_200(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    before = sb.stats.by_kind.get("composite", 0)
    res = await sf.create("Account", [{"Name": f"Co {i}"} for i in range(450)])
    assert all(r.ok for r in res) and len({r.id for r in res}) == 450
    assert sb.stats.by_kind["composite"] - before == 3
    found = await sf.find("Account", "Name", ["Co 7", "co 449", "Nope"], ["Name"])
    assert sorted(r.properties["Name"] for r in found) == ["Co 449", "Co 7"]


async def test_read_returns_deleted_as_archived(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    a = sb.create("Contact", {"LastName": "Live", "Email": "Mixed.Case@Example.com"})
    b = sb.create("Contact", {"LastName": "Dead"})
    sb.delete("Contact", b)
    recs = {r.id: r for r in await sf.read("Contact", [a, b, "0035g0000000zzzAAA"], ["LastName"])}
    assert not recs[a].archived and recs[b].archived and len(recs) == 2
    found = await sf.find("Contact", "Email", ["mixed.case@example.com"], ["Email"])
    assert [r.id for r in found] == [a]


async def test_budget_cap(sb: SalesforceSandbox) -> None:
    sb.settings.daily_limit = 100
    sb.set_limits(used=45)
    conn = connector(sb, api_budget=0.5)
    try:
        await conn.check()  # learns usage 46/100 from Sforce-Limit-Info
        with pytest.raises(BudgetExhausted):
            for _ in range(10):
                await conn.describe("Contact")
                conn._schemas.clear()
        assert sb.api_used == 50 and conn.api_used == 50
        with pytest.raises(BudgetExhausted):  # no call is made while the budget is spent
            await conn.check()
        assert sb.api_used == 50
        sb.set_limits(used=10)  # the rolling 24 hours freed calls: a periodic re-check notices
        conn.budget_recheck = 0
        await conn.check()
        assert conn.api_used == 12
    finally:
        await conn.aclose()
    conn = connector(sb, api_budget=1.0)
    try:
        sb.set_limits(used=100)
        with pytest.raises(BudgetExhausted):  # the org's own limit: REQUEST_LIMIT_EXCEEDED TotalRequests
            await conn.check()
    finally:
        await conn.aclose()


async def test_faults_are_retried(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    sb.create("Contact", {"LastName": "Survivor"})
    sb.set_faults(queue=["error", "rate_limit", "error"])
    pages = await collect(sf.scan("Contact", ["LastName"]))
    assert [r.properties["LastName"] for r in pages[0].records] == ["Survivor"]
    assert sf.retries == 3 and sb.stats.faults == {"error": 2, "rate_limit": 1}
    sb.set_faults(error=1.0)
    with pytest.raises(TransientError):
        await sf.describe("Account")


@pytest.mark.slow
async def test_timeouts(sb: SalesforceSandbox) -> None:
    conn = connector(sb, timeout=0.3)
    try:
        sb.set_faults(queue=["timeout"], hang_seconds=0.8)
        assert (await conn.describe("Lead")).fields["Company"].required  # retried after the time-out
        await conn.describe("Account")
        sb.set_faults(queue=["timeout"], hang_seconds=0.8)
        with pytest.raises(TransientError):  # a create may have been saved: not retried blindly
            await conn.create("Account", [{"Name": "Maybe"}])
    finally:
        await conn.aclose()


async def test_pipelines_and_associations(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    [pipe] = await sf.pipelines("Opportunity")
    assert pipe.stages[0].id == "Prospecting" and pipe.stages[-1].label == "Closed Lost" and len(pipe.stages) == 10
    with pytest.raises(NotImplementedError):
        await sf.pipelines("Contact")
    a1, a2 = sb.create("Account", {"Name": "One"}), sb.create("Account", {"Name": "Two"})
    c = sb.create("Contact", {"LastName": "C", "AccountId": a1})
    o = sb.create("Opportunity", {"Name": "O", "StageName": "Prospecting", "CloseDate": "2030-01-01", "AccountId": a1})
    assert await sf.associations("Contact", [c], "Account") == {c: [a1]}
    assert await sf.associations("Account", [a1, a2], "Opportunity") == {a1: [o], a2: []}
    res = await sf.associate("Account", "Contact", [(a2, c)])
    assert res[0].ok and await sf.associations("Contact", [c], "Account") == {c: [a2]}


async def test_auth_and_from_config(sb: SalesforceSandbox) -> None:
    sb.settings.token = "right"
    assert sb.tls is not None
    app = SimpleNamespace(instance_url=sb.url, access_token="wrong", api_version="62.0", api_budget=0.5,
                          verify=sb.tls.cafile)
    conn = from_config("sf", app)
    try:
        assert conn.version == "v62.0" and conn.batch_size == 200
        with pytest.raises(AuthError):
            await conn.check()
    finally:
        await conn.aclose()
        sb.settings.token = None


async def test_in_process_without_a_server() -> None:
    """The demo can skip TLS and sockets: the connector talks to the ASGI app directly."""
    sandbox = SalesforceSandbox(records=3)
    conn = SalesforceConnector("sf", "https://sandbox.invalid", "token",
                               transport=httpx.ASGITransport(app=sandbox.app))
    try:
        pages = await collect(conn.scan("Account", ["Name"]))
        assert len(pages[0].records) == 3
        assert (await conn.create("Account", [{"Name": "In-process"}]))[0].ok
    finally:
        await conn.aclose()


async def test_a_bulk_write_is_read_once_not_by_every_later_pass(sb: SalesforceSandbox) -> None:
    # A pass's last cursor is the org's time it read at (the Date header), so the overlap is
    # re-read before that, not before the newest change: with no edit after a bulk write older
    # than the overlap, the next pass reads none of it.
    conn = connector(sb, page_size=5, overlap=300.0)
    cursor = await conn.change_cursor("Contact")
    sb.advance(1)
    bulk = [sb.create("Contact", {"LastName": f"Bulk{i}"}) for i in range(30)]  # 6 pages
    sb.advance(400)  # older than the overlap
    pages = await collect(conn.changes("Contact", cursor, ["LastName"]))
    assert set(bulk) <= {r.id for p in pages for r in p.records}
    cursor = pages[-1].cursor or cursor
    again = [r for p in await collect(conn.changes("Contact", cursor, ["LastName"])) for r in p.records]
    assert len(again) <= 5 and not again  # ≤ one page; here: none at all
    sb.update("Contact", bulk[7], {"Title": "CTO"})
    third = [r.id for p in await collect(conn.changes("Contact", cursor, ["LastName"])) for r in p.records]
    assert third == [bulk[7]]
    await conn.aclose()


async def test_the_org_a_session_signs_in_to_comes_with_its_token(sb: SalesforceSandbox) -> None:
    """The token answer's identity URL (``…/id/ORG/USER``) names the org: no call of its own.
    A session id given as is comes without one: the org cannot be told."""
    s = sb.settings
    assert sb.tls is not None
    conn = SalesforceConnector("sf", sb.url, client_id=s.client_id, client_secret=s.client_secret,
                               refresh_token=sb.oauth.new_refresh(s.client_id), login_url=sb.url, verify=sb.tls.cafile,
                               timeout=5.0)
    try:
        assert await conn.account() is None  # no token asked for yet
        await conn.describe("Contact")
        assert await conn.account() == f"Salesforce org {s.org_id}"
    finally:
        await conn.aclose()
    static = connector(sb)
    try:
        await static.describe("Contact")
        assert await static.account() is None
    finally:
        await static.aclose()


async def test_a_merged_record_reads_as_a_move_to_the_one_that_remains(sb: SalesforceSandbox,
                                                                      sf: SalesforceConnector) -> None:
    master = sb.create("Contact", {"LastName": "Master"})
    merged = sb.create("Contact", {"LastName": "Dup", "Email": "dup@x.com"})
    deleted = sb.create("Contact", {"LastName": "Gone"})
    sb.advance(400)
    cursor = await sf.change_cursor("Contact")
    sb.advance(5)
    await collect(sf.changes("Contact", cursor, FIELDS))  # the describe, read once
    sf.calls.clear()
    assert [r for p in await collect(sf.changes("Contact", cursor, FIELDS)) for r in p.records] == []
    assert sf.calls == {"resources": 1, "deleted": 1, "query": 1}  # nothing deleted: no look-up
    sb.merge("Contact", master, [merged])
    sb.delete("Contact", deleted)
    sb.advance(60)  # getDeleted ignores seconds: a delete shows once its minute is over
    sf.calls.clear()
    got = {r.id: r for p in await collect(sf.changes("Contact", cursor, FIELDS)) for r in p.records}
    assert sf.calls == {"resources": 1, "deleted": 1, "query": 2}  # one queryAll for the deletes' MasterRecordId
    # the merged record lives on as the master (a move); the deleted one is deleted; the master changed
    assert (got[merged].moved_to, got[merged].archived, got[merged].properties) == (master, False, {})
    assert got[deleted].archived and got[deleted].moved_to is None
    assert got[master].properties["LastName"] == "Master" and got[master].moved_to is None
    # a read by id (a full pass's look-up of records its scan missed) says the same
    read = {r.id: r for r in await sf.read("Contact", [master, merged, deleted], FIELDS)}
    assert read[merged].moved_to == master and not read[merged].archived
    assert read[deleted].archived and read[deleted].moved_to is None and read[master].properties["Email"] == "dup@x.com"
    # an object without MasterRecordId: its deletes stay deletes, with no look-up
    opp = sb.create("Opportunity", {"Name": "D", "StageName": "Prospecting", "CloseDate": "2030-01-01"})
    sb.delete("Opportunity", opp)
    sb.advance(60)
    sf.calls.clear()
    gone = [r for p in await collect(sf.changes("Opportunity", cursor, ["Name"])) for r in p.records]
    assert [(r.id, r.archived) for r in gone] == [(opp, True)] and sf.calls["query"] == 1


async def test_a_merged_lead_moves_in_a_routed_sync(sb: SalesforceSandbox, sf: SalesforceConnector) -> None:
    master = sb.create("Lead", {"LastName": "Master", "Company": "X"})
    merged = sb.create("Lead", {"LastName": "Dup", "Company": "X"})
    contact, dup_contact = sb.create("Contact", {"LastName": "C"}), sb.create("Contact", {"LastName": "C2"})
    sb.advance(400)
    cursor = await sf.change_cursor("Contact+Lead")
    sb.advance(5)
    sb.merge("Lead", master, [merged])
    sb.merge("Contact", contact, [dup_contact])
    sb.advance(60)
    got = {r.id: r for p in await collect(sf.changes("Contact+Lead", cursor, FIELDS[:3])) for r in p.records}
    assert got[merged].moved_to == master and got[dup_contact].moved_to == contact
    assert not got[master].moved_to and got[master].properties["LastName"] == "Master"
    read = {r.id: r for r in await sf.read("Contact+Lead", [merged, dup_contact, master], FIELDS[:3])}
    assert (read[merged].moved_to, read[dup_contact].moved_to, read[master].moved_to) == (master, contact, None)
