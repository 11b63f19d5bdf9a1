"""The xentral connector against the xentral sandbox over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from accord.config import parse_config
from accord.connectors import build_connector
from accord.connectors.hubspot import RollingWindow
from accord.connectors.xentral import STATUS, Cursor, Limits, XentralConnector
from accord.model import AuthError, ContainerMissing, ErrorCategory, FieldType, Page, Record
from accord.sandbox.server import ServerThread
from accord.sandbox.xentral import SandboxSettings, XentralSandbox, install

FIELDS = ("vorname", "nachname", "email", "telefon", STATUS)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[XentralSandbox, str]]:
    sb = XentralSandbox(SandboxSettings(rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv.url


@pytest.fixture()
def sb(served: tuple[XentralSandbox, str]) -> XentralSandbox:
    sandbox = served[0]
    sandbox.reset()
    sandbox.settings.rate_limit = 10_000
    install(sandbox.store)
    return sandbox


def connector(url: str, **kw: Any) -> XentralConnector:
    kw.setdefault("limits", Limits(RollingWindow(10_000, 60.0)))
    return XentralConnector("xentral", base_url=url, token="pat", backoff=0.01, timeout=5, **kw)


@pytest.fixture()
async def conn(served: tuple[XentralSandbox, str], sb: XentralSandbox) -> AsyncIterator[XentralConnector]:
    c = connector(served[1], page_size=3)
    yield c
    await c.aclose()


async def pages(it: AsyncIterator[Page]) -> list[Page]:
    return [p async for p in it]


def person(first: str, last: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"vorname": first, "nachname": last, "email": email, **extra}


async def test_describe_names_free_fields_and_finds_the_status_field(conn: XentralConnector,
                                                                     sb: XentralSandbox) -> None:
    schema = await conn.describe("adressen")
    assert schema.fields[STATUS].type == FieldType.ENUM and "freifeld1" in schema.fields[STATUS].label
    assert schema.fields["freifeld1"].label == "Hubspot Status (freifeld1)"
    assert schema.fields["kundennummer"].read_only and schema.fields["lead"].type == FieldType.BOOL
    deals = await conn.describe("wiedervorlagen")
    stage = deals.fields["stages"]
    assert stage.type == FieldType.ENUM and [o.label for o in stage.options][:2] == ["Appointment Scheduled",
                                                                                     "Qualified To Buy"]
    pipes = await conn.pipelines("wiedervorlagen")
    assert [p.label for p in pipes] == ["Hubspot"] and len(pipes[0].stages) == 7


async def test_a_status_field_missing_in_xentral_leaves_the_field_out(served: tuple[XentralSandbox, str],
                                                                      sb: XentralSandbox) -> None:
    c = connector(served[1], status_field="HubSpot-Lead-Status")
    assert STATUS not in (await c.describe("adressen")).fields
    by_column = connector(served[1], status_field="freifeld4")
    assert (await by_column.describe("adressen")).fields[STATUS].label.endswith("(freifeld4)")
    await c.aclose()
    await by_column.aclose()


async def test_scan_pages_by_id_and_resumes_after_a_page(conn: XentralConnector, sb: XentralSandbox) -> None:
    ids = [sb.user_create_address(person(f"P{i}", "Scan", f"p{i}@x.de", freifeld1="NEW"), ["Hubspot"])
           for i in range(7)]
    got = await pages(conn.scan("adressen", FIELDS))
    assert [len(p.records) for p in got] == [3, 3, 1]
    assert [r.id for p in got for r in p.records] == ids
    first = got[0].records[0]
    assert first.properties == {"vorname": "P0", "nachname": "Scan", "email": "p0@x.de", "telefon": None,
                                STATUS: "NEW"}
    assert first.updated_at and first.updated_at.endswith("Z")
    rest = await pages(conn.scan_from("adressen", FIELDS, got[0].cursor or ""))
    assert [r.id for p in rest for r in p.records] == ids[3:]
    # an address deleted in xentral is no longer scanned
    sb.user_delete_address(ids[1])
    assert ids[1] not in [r.id for p in await pages(conn.scan("adressen", FIELDS)) for r in p.records]


async def test_an_empty_instance_scans_one_empty_page(conn: XentralConnector) -> None:
    assert [p.records for p in await pages(conn.scan("adressen", FIELDS))] == [[]]
    assert [p.records for p in await pages(conn.scan("wiedervorlagen", ("bezeichnung",)))] == [[]]


async def test_changes_follow_logdatei_from_the_cursor(served: tuple[XentralSandbox, str], sb: XentralSandbox) -> None:
    c = connector(served[1], page_size=2, overlap=0)
    old = sb.user_create_address(person("Old", "One", "old@x.de"))
    time.sleep(1.05)
    # "now" on the server's clock, in its time zone (Date header: up to a second behind)
    now = Cursor.decode(await c.change_cursor("adressen")).stamp
    assert sb.address(old)["logdatei"] <= now <= sb.store.stamp()  # type: ignore[index]
    cursor = Cursor(sb.store.stamp()).encode()
    time.sleep(1.05)
    new = [sb.user_create_address(person(f"N{i}", "New", f"n{i}@x.de")) for i in range(3)]
    sb.user_update_address(new[0], {"telefon": "123"})  # changed again: read once
    got = await pages(c.changes("adressen", cursor, FIELDS))
    seen = [r.id for p in got for r in p.records]
    assert sorted(seen) == sorted(new) and len(seen) == 3 and old not in seen
    last = got[-1].cursor
    assert last is not None and Cursor.decode(last).stamp == sb.address(new[0])["logdatei"]  # type: ignore[index]
    # from the last page's cursor only what changed at that second or later comes back
    again = [r.id for p in await pages(c.changes("adressen", last, FIELDS)) for r in p.records]
    assert new[0] in again and old not in again
    await c.aclose()


async def test_changes_page_through_many_changes_within_one_second(served: tuple[XentralSandbox, str],
                                                                   sb: XentralSandbox) -> None:
    clock = sb.store.clock
    frozen = clock()
    sb.store.clock = lambda: frozen  # every write lands in the same second
    try:
        ids = [sb.user_create_address(person(f"T{i}", "Tie", f"t{i}@x.de")) for i in range(7)]
        c = connector(served[1], page_size=2, overlap=0)
        cursor = Cursor(sb.store.stamp()).encode()
        got = [r.id for p in await pages(c.changes("adressen", cursor, FIELDS)) for r in p.records]
        assert got == ids  # every one once, in (logdatei, id) order, though each page is all ties
        await c.aclose()
    finally:
        sb.store.clock = clock


async def test_read_returns_tombstones_for_deleted_and_unknown_ids(conn: XentralConnector, sb: XentralSandbox) -> None:
    a = sb.user_create_address(person("A", "Read", "a@x.de"))
    b = sb.user_create_address(person("B", "Read", "b@x.de"))
    sb.user_delete_address(b)
    got = {r.id: r for r in await conn.read("adressen", [a, b, "9999"], FIELDS)}
    assert not got[a].archived and got[a].properties["email"] == "a@x.de"
    assert got[b].archived and got["9999"].archived
    many = [sb.user_create_address(person(f"M{i}", "Many", f"m{i}@x.de")) for i in range(60)]
    before = conn.calls["lookup"]
    assert [r.id for r in await conn.read("adressen", many, FIELDS)] == many
    assert conn.calls["lookup"] - before == 2  # 50 ids OR-ed per request


async def test_find_by_email_is_case_insensitive(conn: XentralConnector, sb: XentralSandbox) -> None:
    a = sb.user_create_address(person("Ann", "Find", "Ann.Find@Example.de"))
    sb.user_create_address(person("Bob", "Find", "bob@example.de"))
    found = await conn.find("adressen", "email", ["ann.find@example.de", "nobody@example.de", None], FIELDS)
    assert [r.id for r in found] == [a]
    assert [r.id for r in await conn.find("adressen", STATUS, ["x"], FIELDS)] == []


async def test_create_puts_the_address_in_the_group_with_a_new_id(served: tuple[XentralSandbox, str],
                                                                   sb: XentralSandbox) -> None:
    sb.reset()  # no group yet: the connector creates it, as xentral's module does
    sb.label_free_field("freifeld1", "Hubspot Status")
    c = connector(served[1], group="HubSpot Kontakte")
    await c.check_container("adressen", create=True)  # the first pass of a sync that never ran
    existing = sb.user_create_address(person("Old", "Timer", "old@x.de"))
    res = await c.create("adressen", [person("New", "Person", "new@x.de", **{STATUS: "OPEN"}),
                                      {"email": "bad-address", "nachname": "Broken"}])
    assert res[0].ok and res[0].id not in (None, existing) and res[0].record is not None
    assert res[0].record.properties[STATUS] == "OPEN"
    stored = sb.address(res[0].id or "")
    assert stored is not None and stored["name"] == "New Person" and stored["freifeld1"] == "OPEN"
    assert [g["name"] for g in stored["gruppen"]] == ["HubSpot Kontakte"]
    assert sb.members("HubSpot Kontakte") == [res[0].id]
    bad = res[1]
    assert not bad.ok and bad.error is not None and bad.error.category == ErrorCategory.VALIDATION
    assert "email" in bad.error.message and "email address" in bad.error.hint
    assert await c.list_members("adressen", "HubSpot Kontakte") == frozenset({res[0].id})
    with pytest.raises(ContainerMissing, match="'No such group' does not exist"):  # never "nobody is a member"
        await c.list_members("adressen", "No such group")
    await c.aclose()


async def test_update_and_archive_addresses(conn: XentralConnector, sb: XentralSandbox) -> None:
    a = sb.user_create_address(person("Up", "Date", "up@x.de"))
    res = await conn.update("adressen", [(a, {"telefon": "0301", STATUS: "IN_PROGRESS"}), ("9999", {"telefon": "1"})])
    assert res[0].ok and res[0].record is not None and res[0].record.properties["telefon"] == "0301"
    assert sb.address(a)["freifeld1"] == "IN_PROGRESS"  # type: ignore[index]
    assert not res[1].ok and res[1].error is not None and res[1].error.category == ErrorCategory.DELETED
    out = await conn.archive("adressen", [a, "9999"])
    assert all(r.ok for r in out)
    assert sb.address(a)["geloescht"] == "1"  # type: ignore[index]


async def test_resubmissions_create_with_reminder_defaults_and_update(conn: XentralConnector,
                                                                      sb: XentralSandbox) -> None:
    stage = sb.stage_id("Hubspot", "Contract Sent")
    res = await conn.create("wiedervorlagen", [
        {"bezeichnung": "Big deal", "betrag": 1500.5, "stages": stage, "datum_abschluss": "2025-06-30"},
        {"bezeichnung": "ab", "betrag": 1}])
    ok, bad = res
    assert ok.ok and ok.record is not None
    assert ok.record.properties["betrag"] == 1500.5 and ok.record.properties["stages"] == stage
    row = sb.resubmission(ok.id or "")
    assert row is not None and (row["datum_erinnerung"], row["zeit_erinnerung"]) == ("2025-06-30", "09:00:00")
    assert not bad.ok and bad.error is not None and "3 characters" in bad.error.hint
    up = await conn.update("wiedervorlagen", [(ok.id or "", {"betrag": 2000, "datum_abschluss": None})])
    assert up[0].ok and sb.resubmission(ok.id or "")["datum_abschluss"] == "0000-00-00"  # type: ignore[index]
    got = (await conn.read("wiedervorlagen", [ok.id or ""], ("betrag", "datum_abschluss")))[0]
    assert got.properties == {"betrag": 2000, "datum_abschluss": None} and got.created_at
    nope = await conn.archive("wiedervorlagen", [ok.id or ""])
    assert not nope[0].ok and nope[0].error is not None and "cannot delete" in nope[0].error.message


async def test_resubmission_changes_are_a_full_scan(conn: XentralConnector, sb: XentralSandbox) -> None:
    for i in range(4):
        sb.user_create_resubmission({"bezeichnung": f"Deal {i}", "stages": sb.stage_id("Hubspot", "Closed Won")})
    assert await conn.change_cursor("wiedervorlagen") == "scan"
    got = await pages(conn.changes("wiedervorlagen", "scan", ("bezeichnung",)))
    assert sum(len(p.records) for p in got) == 4 and {p.cursor for p in got} == {"scan"}


async def test_rate_limit_429_is_waited_out(served: tuple[XentralSandbox, str], sb: XentralSandbox) -> None:
    sb.settings.rate_limit = 2
    sb.settings.rate_window = 1.0
    c = connector(served[1])
    try:
        for _ in range(4):
            await pages(c.scan("adressen", FIELDS))
        assert sb.counters["rate_limited"] >= 1  # the sandbox said 429 and the connector retried
    finally:
        sb.settings.rate_window = 60.0
        await c.aclose()


async def test_retries_server_errors_and_rejects_a_bad_token(served: tuple[XentralSandbox, str],
                                                              sb: XentralSandbox) -> None:
    sb.set_faults(rate_500=0.5, seed=4)
    c = connector(served[1])
    recs = await pages(c.scan("adressen", FIELDS))
    assert recs and sb.counters["fault_500"] >= 1
    sb.set_faults(rate_500=0.0)
    sb.settings.token = "right"
    try:
        with pytest.raises(AuthError):
            await c.check()
    finally:
        sb.settings.token = None
        await c.aclose()


async def test_built_from_config(served: tuple[XentralSandbox, str], sb: XentralSandbox) -> None:
    cfg = parse_config({"apps": {"x": {"type": "xentral", "base_url": served[1], "token": "pat", "group": "Hubspot",
                                       "board": "Hubspot", "timezone": "Europe/Berlin", "poll": "10m"}}}, env={})
    c = build_connector("x", cfg.apps["x"])
    assert isinstance(c, XentralConnector) and c.vendor == "xentral"
    await c.check()
    sb.user_create_address(person("Cfg", "Built", "cfg@x.de"), ["Hubspot"])
    assert len(await c.list_members("adressen", "Hubspot")) == 1
    await c.aclose()


def test_cursor_round_trip() -> None:
    assert Cursor.decode(Cursor("2025-01-02 03:04:05").encode()).stamp == "2025-01-02 03:04:05"
    with pytest.raises(ValueError):
        Cursor.decode("v1|yesterday")


def test_records_convert_wire_strings() -> None:
    c = XentralConnector("x", base_url="http://127.0.0.1:9", token="t", timezone="Europe/Berlin",
                         limits=Limits(RollingWindow(1, 60.0)))
    rec: Record = c._record("adressen", {"id": "5", "lead": "1", "projekt": "0", "geburtstag": "0000-00-00",
                                         "logdatei": "2025-07-01 14:00:00", "email": ""}, None)
    assert rec.properties["lead"] is True and rec.properties["projekt"] is None
    assert rec.properties["geburtstag"] is None and rec.properties["email"] is None
    assert rec.updated_at == "2025-07-01T12:00:00.000Z"  # CEST → UTC


async def test_a_bulk_write_is_read_once_not_by_every_later_pass(served: tuple[XentralSandbox, str],
                                                                  sb: XentralSandbox) -> None:
    # The overlap is re-read before the time the last pass read, not before the newest change it
    # saw: with no edit after a bulk write, the next pass reads nothing older than the overlap.
    c = connector(served[1], page_size=5, overlap=1)
    cursor = await c.change_cursor("adressen")
    time.sleep(1.05)
    bulk = [sb.user_create_address(person(f"B{i}", "Bulk", f"b{i}@x.de")) for i in range(30)]  # 6 pages
    # older than the overlap, with room: the Date header has whole seconds, and the pass's read
    # time is Date less the round trip, which a loaded machine stretches to seconds
    time.sleep(6.1)

    async def read(cursor: str) -> tuple[list[str], str]:
        got = await pages(c.changes("adressen", cursor, FIELDS))
        return [r.id for p in got for r in p.records], next((p.cursor for p in reversed(got) if p.cursor), cursor)

    first, cursor = await read(cursor)
    assert set(bulk) <= set(first)
    again, cursor = await read(cursor)
    assert len(again) <= 5 and not again  # ≤ one page; here: none at all
    # never missing a change: an edit after the pass is read by the next one
    sb.user_update_address(bulk[7], {"telefon": "42"})
    third, cursor = await read(cursor)
    assert third == [bulk[7]]
    await c.aclose()
