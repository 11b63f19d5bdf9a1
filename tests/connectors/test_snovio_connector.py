"""The Snov.io connector against the Snov.io sandbox over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from accord.connectors.hubspot import RollingWindow
from accord.connectors.snovio import Cursor, SnovioConnector
from accord.model import AuthError, ConnectorError, ErrorCategory, FieldType, Page
from accord.sandbox.server import ServerThread
from accord.sandbox.snovio import SnovioSandbox

P = "prospects"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SnovioSandbox, str]]:
    sb = SnovioSandbox(rate_limit=100_000, rate_window=1.0)
    with ServerThread(sb.app) as srv:
        yield sb, srv.url


@pytest.fixture
def sb(served: tuple[SnovioSandbox, str]) -> SnovioSandbox:
    sb = served[0]
    sb.reset()
    sb.clear_faults()
    sb.settings.rate_limit, sb.settings.rate_window = 100_000, 1.0
    sb.settings.client_secret, sb.settings.token_ttl = None, 3600.0
    return sb


@pytest.fixture
async def make(served: tuple[SnovioSandbox, str]) -> AsyncIterator[Any]:
    made: list[SnovioConnector] = []

    def factory(**kw: Any) -> SnovioConnector:
        args: dict[str, Any] = {"client_id": "cid", "client_secret": "secret", "list_name": "Sync",
                                "base_url": served[1], "window": RollingWindow(100_000, 1.0), "backoff": 0.01,
                                "timeout": 5.0, **kw}
        conn = SnovioConnector("snov", **args)
        made.append(conn)
        return conn

    yield factory
    for c in made:
        await c.aclose()


def _age(sb: SnovioSandbox, pid: str, days: int = 1) -> None:
    """Make a prospect look untouched for ``days`` (as if edited before the cursor)."""
    p = sb.store.prospects[pid]
    p.updated = p.updated - timedelta(days=days)


async def _pages(it: AsyncIterator[Page]) -> list[Page]:
    return [p async for p in it]


# -- auth ---------------------------------------------------------------------------------------
async def test_token_is_reused_and_renewed_when_the_api_answers_401(sb: SnovioSandbox, make: Any) -> None:
    conn = make()
    await conn.check_container(P, create=True)  # a new sync's first pass creates the list
    await conn.describe(P)
    await conn.describe(P)
    assert conn.calls["oauth/access_token"] == 1
    sb.expire_tokens()  # e.g. the hour ran out while the process slept
    schema = await conn.describe(P)
    assert "email" in schema.fields
    assert conn.calls["oauth/access_token"] == 2
    assert conn.calls["prospect-custom-fields"] == 4  # the refused call, sent again with the new token


async def test_token_is_renewed_before_it_expires(sb: SnovioSandbox, make: Any) -> None:
    sb.settings.token_ttl = 2
    conn = make()
    await conn.describe(P)
    time.sleep(1.1)  # inside the renewal margin (a tenth of the token's life, at least a second)
    await conn.describe(P)
    assert conn.calls["oauth/access_token"] == 2
    assert conn.calls["prospect-custom-fields"] == 2  # no 401 on the way


async def test_wrong_client_secret_is_an_auth_error(sb: SnovioSandbox, make: Any) -> None:
    sb.settings.client_secret = "the-real-one"
    with pytest.raises(AuthError, match="client_id and client_secret"):
        await make().check()
    await make(client_secret="the-real-one").check()


# -- metadata -------------------------------------------------------------------------------------
async def test_describe_lists_standard_and_custom_fields_and_creates_the_list(sb: SnovioSandbox, make: Any) -> None:
    sb.add_field("Lead source")
    sb.add_field("Score", "number")
    sb.add_field("country")  # same name as a standard field
    conn = make()
    schema = await conn.describe(P)
    assert sb.store.list_by_name("Sync") is None  # describing (accord check) creates nothing
    await conn.check_container(P, create=True)  # the first pass of a sync that never ran
    f = schema.fields
    assert f["email"].required and f["email"].writable
    assert not f["name"].writable and not f["emails"].writable and f["lastUpdateDate"].type == FieldType.DATETIME
    assert f["Lead source"].type == FieldType.TEXT and f["Score"].type == FieldType.NUMBER
    assert "customFields[country]" in f and f["country"].label == "Country"
    assert sb.list_id("Sync") > 0  # made on first use, as in Snov.io's "create a new list to sync with"


async def test_a_missing_list_is_an_error_when_lists_are_not_created(sb: SnovioSandbox, make: Any) -> None:
    sb.create_list("Cold leads")
    with pytest.raises(ConnectorError, match=r"no list 'Sync'.*'Cold leads'"):
        await make(create_list=False).describe(P)
    assert sb.store.list_by_name("Sync") is None
    with pytest.raises(ConnectorError, match="no object 'contacts'"):
        await make().describe("contacts")


async def test_the_list_can_be_named_by_id(sb: SnovioSandbox, make: Any) -> None:
    lid = sb.create_list("Q3 outreach")
    sb.user_add(lid, emails=["a@x.com"], firstName="A")
    recs = [r for p in await _pages(make(list_name=str(lid)).scan(P, ["email"])) for r in p.records]
    assert [r.properties["email"] for r in recs] == ["a@x.com"]


# -- reading ----------------------------------------------------------------------------------------
async def test_scan_pages_through_the_list_only_with_primary_email_and_first_phone(sb: SnovioSandbox,
                                                                                   make: Any) -> None:
    sb.add_field("Lead source")
    lid, other = sb.create_list("Sync"), sb.create_list("Other")
    for i in range(6):
        sb.user_add(lid, emails=[f"p{i}@x.com"], firstName=f"P{i}", lastName="Doe")
    multi = sb.user_add(lid, emails=["main@x.com", "second@y.com"], phones=["+1 555 0100", "+1 555 0199"],
                        firstName="Multi", lastName="Mail", country="Germany", industry="Retail",
                        position="CTO", companyName="Acme", companySite="https://acme.example",
                        custom={"Lead source": "Webinar"})
    sb.user_add(other, emails=["elsewhere@x.com"], firstName="Not", lastName="Synced")
    conn = make(page_size=3)
    pages = await _pages(conn.scan(P, ["email", "emails", "phones", "firstName", "country", "industry", "position",
                                       "companyName", "companySite", "Lead source", "name"]))
    assert conn.calls["prospect-list"] == 3
    recs = {r.id: r for p in pages for r in p.records}
    assert len(recs) == 7 and "elsewhere@x.com" not in {r.properties["email"] for r in recs.values()}
    m = recs[multi].properties
    assert (m["email"], m["emails"], m["phones"]) == ("main@x.com", "main@x.com, second@y.com", "+1 555 0100")
    assert (m["country"], m["industry"], m["position"], m["companyName"], m["companySite"], m["Lead source"],
            m["name"]) == ("Germany", "Retail", "CTO", "Acme", "https://acme.example", "Webinar", "Multi Mail")
    assert str(recs[multi].updated_at).endswith("Z")


async def test_a_walk_reads_again_when_the_list_shrinks_under_it(sb: SnovioSandbox, make: Any) -> None:
    lid = sb.create_list("Sync")
    ids = [sb.user_add(lid, emails=[f"p{i}@x.com"]) for i in range(12)]
    conn = make(page_size=4)
    deleted: list[str] = []

    async def delete_after_first_page(resp: httpx.Response) -> None:
        if resp.request.url.path == "/v1/prospect-list" and not deleted:
            deleted.append(ids[0])
            sb.user_delete(ids[0])  # page 2 now starts one prospect later: ids[4] would be skipped

    conn._http.event_hooks["response"].append(delete_after_first_page)
    seen = [r.id for p in await _pages(conn.scan(P, ["email"])) for r in p.records]
    assert set(ids[1:]) <= set(seen) and len(seen) == len(set(seen))
    assert conn.calls["prospect-list"] == 3 + 3  # the walk noticed the count change and walked again


async def test_changes_are_prospects_updated_since_the_cursor_and_tombstones_for_those_that_left(
        sb: SnovioSandbox, make: Any) -> None:
    lid, other = sb.create_list("Sync"), sb.create_list("Other")
    ids = [sb.user_add(lid, emails=[f"p{i}@x.com"], firstName=f"P{i}") for i in range(6)]
    both = sb.user_add(lid, emails=["both@x.com"])
    sb.store.lists[other].members[both] = None  # in two lists
    for pid in [*ids, both]:
        _age(sb, pid)
    conn = make(page_size=4)
    cursor = await conn.change_cursor(P)
    assert set(Cursor.decode(cursor).ids or ()) == {*ids, both}
    sb.user_update(ids[0], firstName="Changed")
    sb.remove_from_list(ids[1], lid)  # taken out of the synced list (and so deleted: it was in no other)
    sb.user_delete(ids[2])
    sb.remove_from_list(both, lid)  # stays in "Other": gone from this sync all the same
    new = sb.user_add(lid, emails=["new@x.com"])
    pages = await _pages(conn.changes(P, cursor, ["firstName", "email"]))
    live = {r.id: r for p in pages for r in p.records if not r.archived}
    gone = {r.id for p in pages for r in p.records if r.archived}
    assert set(live) == {ids[0], new} and live[ids[0]].properties["firstName"] == "Changed"
    assert gone == {ids[1], ids[2], both}
    assert conn.calls["get-prospect-by-id"] == 3  # each departure confirmed before it is reported
    end = Cursor.decode(pages[-1].cursor or "")
    assert set(end.ids or ()) == {ids[0], *ids[3:], new}
    again = await _pages(conn.changes(P, pages[-1].cursor or "", ["email"]))
    assert not [r for p in again for r in p.records if r.archived]
    assert {r.id for p in again for r in p.records} <= {ids[0], new}  # only the same second is re-read


async def test_a_vanished_id_still_in_the_list_is_not_reported_deleted(sb: SnovioSandbox, make: Any) -> None:
    lid = sb.create_list("Sync")
    kept, gone = sb.user_add(lid, emails=["kept@x.com"]), sb.user_add(lid, emails=["gone@x.com"])
    sb.user_delete(gone)
    conn = make()
    assert await conn._confirm_gone([kept, gone]) == {gone}


async def test_read_by_id_keeps_to_the_list_and_walks_for_many(sb: SnovioSandbox, make: Any) -> None:
    lid, other = sb.create_list("Sync"), sb.create_list("Other")
    ids = [sb.user_add(lid, emails=[f"p{i}@x.com"]) for i in range(10)]
    outside = sb.user_add(other, emails=["out@x.com"])
    conn = make(page_size=5)
    recs = await conn.read(P, [ids[0], outside, "no-such-id"], ["email"])
    assert [r.id for r in recs] == [ids[0]] and conn.calls["get-prospect-by-id"] == 3
    await conn.describe(P)  # learns the list's size: 10 prospects = 2 pages
    recs = await conn.read(P, ids, ["email"])
    assert {r.id for r in recs} == set(ids)
    assert conn.calls["get-prospect-by-id"] == 3 and conn.calls["prospect-list"] == 2


async def test_find_by_email_matches_primary_emails_in_the_list(sb: SnovioSandbox, make: Any) -> None:
    lid, other = sb.create_list("Sync"), sb.create_list("Other")
    a = sb.user_add(lid, emails=["a@x.com"])
    sb.user_add(other, emails=["b@x.com"])
    sb.user_add(lid, emails=["c1@x.com", "c2@x.com"])
    conn = make()
    found = await conn.find(P, "email", [" A@x.com", "b@x.com", "c2@x.com"], ["email"])
    assert [r.id for r in found] == [a] and conn.calls["get-prospects-by-email"] == 3
    many = await conn.find(P, "email", [f"z{i}@x.com" for i in range(5)] + ["a@x.com"], ["email"])
    assert [r.id for r in many] == [a] and conn.calls["prospect-list"] == 1  # one page instead of six look-ups


# -- writing ----------------------------------------------------------------------------------------
async def test_create_update_and_archive(sb: SnovioSandbox, make: Any) -> None:
    sb.add_field("Lead source")
    other = sb.create_list("Other")
    conn = make()
    await conn.check_container(P, create=True)  # a new sync's first pass creates the list
    await conn.describe(P)
    res = await conn.create(P, [
        {"firstName": "Ann", "lastName": "Lee", "email": "ann@x.com", "phones": "+1 555 0100", "country": "Germany",
         "industry": "Retail", "Lead source": "from HubSpot"},
        {"firstName": "Bad", "email": "not-an-email"},
    ])
    assert res[0].ok and res[0].id
    assert not res[1].ok and res[1].error and res[1].error.category == ErrorCategory.VALIDATION
    assert "not a valid email" in res[1].error.message
    lid = sb.list_id("Sync")
    ann = sb.by_email(lid)["ann@x.com"]
    assert (ann["firstName"], ann["phones"], ann["country"], ann["industry"], ann["customFields"]["Lead source"]) == (
        "Ann", ["+1 555 0100"], "Germany", "Retail", "from HubSpot")
    pid = res[0].id
    sb.user_update(pid, phones=["+1 555 0100", "+1 555 0199"])
    sb.store.lists[other].members[pid] = None

    assert (await conn.update(P, [(pid, {"phones": "+49 30 1234", "industry": None})]))[0].ok
    ann = sb.by_email(lid)["ann@x.com"]
    assert ann["phones"] == ["+49 30 1234", "+1 555 0199"] and ann["industry"] is None
    assert conn.calls["add-prospect-to-list"] == 3 and conn.calls["update-prospect"] == 0

    sb.user_update(pid, emails=["ann@x.com", "ann.private@y.com"])
    assert (await conn.update(P, [(pid, {"email": "ann.lee@x.com"})]))[0].ok
    assert conn.calls["update-prospect"] == 1
    assert [e["email"] for e in sb.prospects(lid)[0]["emails"]] == ["ann.lee@x.com", "ann.private@y.com"]

    sb.user_add(lid, emails=["taken@x.com"])
    dup = (await conn.update(P, [(pid, {"email": "taken@x.com"})]))[0]
    assert dup.error and dup.error.category == ErrorCategory.DUPLICATES
    gone = (await conn.update(P, [("no-such-id", {"firstName": "X"})]))[0]
    assert gone.error and gone.error.category == ErrorCategory.DELETED

    assert (await conn.archive(P, [pid]))[0].ok
    assert "ann.lee@x.com" not in sb.by_email(lid)
    assert "ann.lee@x.com" in sb.by_email(other)  # only taken out of the synced list


async def test_create_of_an_email_known_in_another_list_adds_that_prospect(sb: SnovioSandbox, make: Any) -> None:
    other = sb.create_list("Other")
    existing = sb.user_add(other, emails=["known@x.com"], firstName="Known", position="CEO")
    conn = make()
    await conn.check_container(P, create=True)  # a new sync's first pass creates the list
    res = await conn.create(P, [{"email": "known@x.com", "firstName": "Known", "lastName": "Person"}])
    assert res[0].ok and res[0].id == existing  # updateContact: one prospect, now in both lists
    p = sb.by_email(sb.list_id("Sync"))["known@x.com"]
    assert (p["lastName"], p["currentJob"][0]["position"], len(p["lists"])) == ("Person", "CEO", 2)


async def test_a_deleted_custom_field_stops_only_its_mapping(sb: SnovioSandbox, make: Any) -> None:
    sb.add_field("Lead source")
    conn = make()
    await conn.check_container(P, create=True)  # a new sync's first pass creates the list
    await conn.describe(P)
    pid = (await conn.create(P, [{"email": "ann@x.com", "firstName": "Ann", "Lead source": "web"}]))[0].id
    assert pid
    fields = ["firstName", "Lead source"]
    first = [r for p in await _pages(conn.scan(P, fields)) for r in p.records]
    assert first[0].properties["Lead source"] == "web"
    sb.delete_field("Lead source")

    # A sync compiled before the deletion still reads the field: it keeps its last value
    # (a None would look like a user clearing it, and wipe the other app's value).
    again = [r for p in await _pages(conn.scan(P, fields)) for r in p.records]
    assert again[0].properties["Lead source"] == "web"
    res = (await conn.update(P, [(pid, {"firstName": "Anna", "Lead source": "fair"})]))[0]
    assert not res.ok and res.error and res.error.code == "CUSTOM_FIELD_DELETED" and "Lead source" in res.error.message
    assert res.id == pid and sb.by_email()["ann@x.com"]["firstName"] == "Anna"  # the other field was written
    writes = conn.calls["add-prospect-to-list"]
    only = (await conn.update(P, [(pid, {"Lead source": "x"})]))[0]
    assert only.error and only.error.code == "CUSTOM_FIELD_DELETED" and conn.calls["add-prospect-to-list"] == writes
    # A fresh describe no longer lists it: the engine then reports the mapping broken and skips it.
    assert "Lead source" not in (await conn.describe(P)).fields
    created = await conn.create(P, [{"email": "bob@x.com", "firstName": "Bob", "Lead source": "x"}])
    assert created[0].ok  # a create never loses the new prospect's id over a deleted field


async def test_without_the_designed_endpoints_email_changes_and_deletes_fail_per_record(make: Any) -> None:
    real = SnovioSandbox(rate_limit=100_000)  # as the public API stands: no update-prospect, no delete-prospect-from-list
    real.app.router.routes = [r for r in real.app.router.routes
                              if getattr(r, "path", "") not in ("/v1/update-prospect", "/v1/delete-prospect-from-list")]
    with ServerThread(real.app) as srv:
        conn = make(base_url=srv.url)
        await conn.check_container(P, create=True)  # a new sync's first pass creates the list
        pid = (await conn.create(P, [{"email": "ann@x.com", "firstName": "Ann"}]))[0].id
        assert pid
        res = await conn.update(P, [(pid, {"email": "ann.lee@x.com"}), (pid, {"firstName": "Anna"})])
        assert res[0].error and res[0].error.code == "UNSUPPORTED" and "make the change in Snov.io" in res[0].error.hint
        assert res[1].ok and real.by_email()["ann@x.com"]["firstName"] == "Anna"
        gone = (await conn.archive(P, [pid]))[0]
        assert gone.error and gone.error.code == "UNSUPPORTED"
        await conn.aclose()


# -- rate limits --------------------------------------------------------------------------------------
async def test_the_shared_window_keeps_under_the_limit(sb: SnovioSandbox, make: Any) -> None:
    sb.settings.rate_limit, sb.settings.rate_window = 8, 0.5
    lid = sb.create_list("Sync")
    ids = [sb.user_add(lid, emails=[f"p{i}@x.com"]) for i in range(2)]
    conn = make(window=RollingWindow(8, 0.5))
    for _ in range(12):
        await conn.read(P, ids, ["email"])
    assert sb.counters["rate_limited"] == 0 and sb.counters["total"] >= 26


async def test_the_connector_survives_429s_and_honours_retry_after(sb: SnovioSandbox, make: Any) -> None:
    sb.settings.rate_limit, sb.settings.rate_window = 5, 1.0
    conn = make(window=RollingWindow(1000, 1.0))  # thinks it has room: another tool spends the account's minute
    await conn.check_container(P, create=True)  # a new sync's first pass creates the list
    res = await conn.create(P, [{"email": f"p{i}@x.com", "firstName": f"P{i}"} for i in range(12)])
    assert all(r.ok for r in res)
    assert sb.counters["rate_limited"] > 0
    assert len(sb.by_email(sb.list_id("Sync"))) == 12
    sb.settings.rate_limit = 100_000
    sb.set_faults(rate_429=0.4, retry_after=0.2, seed=3)  # injected 429s with a Retry-After header
    recs = [r for p in await _pages(conn.scan(P, ["email"])) for r in p.records]
    assert len(recs) == 12 and sb.counters["fault_429"] > 0


async def test_a_bulk_write_is_read_once_not_by_every_later_pass(sb: SnovioSandbox, make: Any) -> None:
    # The cursor is the server time the last pass read at (its first page's Date), so the
    # overlap is re-read before that, not before the newest change: with no edit after a bulk
    # write, the next pass returns none of it. (The walk itself reads the whole list every pass:
    # Snov.io has no "changed since" query.)
    lid = sb.create_list("Sync")
    conn = make(page_size=5)
    cursor = await conn.change_cursor(P)
    time.sleep(1.05)
    bulk = [sb.user_add(lid, emails=[f"b{i}@x.com"], firstName=f"B{i}") for i in range(30)]  # 6 pages
    time.sleep(3.1)  # older than the overlap (+2 s: the Date header has whole seconds, renewed each second)
    pages = await _pages(conn.changes(P, cursor, ["email"]))
    assert set(bulk) <= {r.id for p in pages for r in p.records}
    cursor = pages[-1].cursor or cursor
    again = [r for p in await _pages(conn.changes(P, cursor, ["email"])) for r in p.records]
    assert len(again) <= 5 and not again  # ≤ one page; here: none at all
    sb.user_update(bulk[7], firstName="Later")
    third = [r.id for p in await _pages(conn.changes(P, cursor, ["email"])) for r in p.records]
    assert third == [bulk[7]]
