"""HubSpot connector against the HubSpot sandbox over loopback: metadata, reads, writes, webhooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI, Request, Response

from accord.connectors.hubspot import (
    HubSpotConnector,
    Limits,
    RollingWindow,
    SeenEvents,
    _Prop,
    from_config,
    to_canonical,
    to_wire,
    verify_signature_v3,
    webhook_changes,
)
from accord.model import ErrorCategory, FieldType
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread

FIELDS = ["email", "firstname", "lastname", "phone", "lifecyclestage"]


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(records=25, seed=5, search_rate=1000))
    yield sb
    sb.close()


@pytest.fixture
async def hs(server: ServerThread) -> AsyncIterator[HubSpotConnector]:
    conn = HubSpotConnector("hs", token="pat-test", base_url=server.url, timeout=5, backoff=0.01,
                            limits=Limits(RollingWindow(190, 10.0), RollingWindow(1000, 1.0)))
    yield conn
    await conn.aclose()


def test_value_conversion_round_trips() -> None:
    num, dt, d = _Prop("number", "number"), _Prop("datetime", "date"), _Prop("date", "date")
    multi, boolean, enum = _Prop("enumeration", "checkbox"), _Prop("bool", "booleancheckbox"), _Prop("enumeration", "radio")
    assert to_canonical(num, "1000") == 1000 and to_canonical(num, "12.50") == 12.5 and to_canonical(num, "3.0") == 3
    assert to_canonical(dt, "1700000000000") == "2023-11-14T22:13:20.000Z"
    assert to_canonical(dt, "2023-11-14T22:13:20Z") == "2023-11-14T22:13:20.000Z"
    assert to_canonical(d, "2024-05-01") == "2024-05-01" and to_canonical(d, "1714521600000") == "2024-05-01"
    assert to_canonical(multi, "a;b") == ["a", "b"] and to_canonical(boolean, "true") is True
    assert to_canonical(enum, "lead") == "lead" and to_canonical(_Prop(), "") is None and to_canonical(num, None) is None
    assert to_wire(num, 1000.0) == "1000" and to_wire(num, 12.5) == "12.5" and to_wire(boolean, False) == "false"
    assert to_wire(multi, ["a", "b"]) == "a;b" and to_wire(d, "2024-05-01T00:00:00.000Z") == "2024-05-01"
    assert to_wire(_Prop(), None) == "" and to_wire(dt, "2023-11-14T22:13:20.000Z") == "2023-11-14T22:13:20.000Z"


async def test_describe_pipelines_check(hs: HubSpotConnector) -> None:
    await hs.check()
    schema = await hs.describe("contacts")
    assert schema.fields["email"].type == FieldType.TEXT and schema.fields["email"].writable
    assert schema.fields["lifecyclestage"].type == FieldType.ENUM
    assert "lead" in {o.value for o in schema.fields["lifecyclestage"].options}
    assert schema.fields["createdate"].type == FieldType.DATETIME and schema.fields["createdate"].read_only
    assert schema.fields["num_associated_deals"].calculated
    deals = await hs.describe("deals")
    assert deals.fields["amount"].type == FieldType.NUMBER and deals.fields["hs_is_closed_won"].type == FieldType.BOOL
    pipes = await hs.pipelines("deals")
    assert pipes[0].id == "default" and pipes[0].stages[-1].id == "closedlost"


async def test_scan_pages_all_records(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    sandbox.seed(180, seed=9)  # 205 contacts: three pages of 100
    pages = [p async for p in hs.scan("contacts", FIELDS)]
    ids = [r.id for p in pages for r in p.records]
    assert len(pages) == 3 and len(ids) == len(set(ids)) == 205
    rec = pages[0].records[0]
    assert set(rec.properties) == set(FIELDS) and rec.updated_at and rec.updated_at.endswith("Z")
    assert hs.calls["list"] == 3 + 0 and hs.calls["properties"] == 1
    deals = [r async for p in hs.scan("deals", ["amount", "closedate"]) for r in p.records]
    assert isinstance(deals[0].properties["amount"], int) and deals[0].properties["closedate"].endswith("Z")


async def test_read_find(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    contacts = sandbox.records("contacts")
    ids = [c["id"] for c in contacts[:3]]
    sandbox.user_delete("contacts", ids[2])
    got = {r.id: r for r in await hs.read("contacts", [*ids, "999999"], FIELDS)}
    assert set(got) == set(ids) and got[ids[2]].archived and not got[ids[0]].archived
    assert got[ids[0]].properties["email"] == contacts[0]["properties"]["email"]
    emails = [contacts[3]["properties"]["email"].upper(), " " + contacts[4]["properties"]["email"], "nobody@x.org"]
    found = await hs.find("contacts", "email", emails, FIELDS)
    assert {r.id for r in found} == {contacts[3]["id"], contacts[4]["id"]}


async def test_create_update_archive_per_record_results(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    existing = sandbox.records("contacts")[0]["properties"]["email"]
    results = await hs.create("contacts", [
        {"email": "new1@example.com", "firstname": "New", "lifecyclestage": "lead"},
        {"email": "broken-email", "firstname": "Bad"},
        {"email": existing.upper(), "firstname": "Upserted"},  # an existing email: upsert, no duplicate
        {"firstname": "NoEmail", "lastname": "Person"},  # no email: plain create
        {"email": "new2@example.com", "lifecyclestage": "not-a-stage"},
        {"email": "new3@example.com", "favourite_colour": "blue"},
    ])
    assert [r.ok for r in results] == [True, False, True, True, False, False]
    assert results[1].error and results[1].error.category == ErrorCategory.VALIDATION
    assert results[1].error.code == "INVALID_EMAIL" and results[1].error.hint
    assert results[4].error and results[4].error.code == "INVALID_OPTION"
    assert results[5].error and results[5].error.code == "PROPERTY_DOESNT_EXIST"
    assert results[0].record and results[0].record.properties["lifecyclestage"] == "lead"
    assert results[2].id == sandbox.records("contacts")[0]["id"]
    assert len([c for c in sandbox.records("contacts") if c["properties"].get("email") == existing]) == 1

    a, b = results[0].id, results[3].id
    assert a and b
    upd = await hs.update("contacts", [(a, {"jobtitle": "CTO", "phone": None}), ("424242", {"firstname": "X"}),
                                       (b, {"email": "new1@example.com"}), (a, {"lastname": "Twice"})])
    assert [r.ok for r in upd] == [True, False, False, True]
    assert upd[1].error and upd[1].error.category == ErrorCategory.DELETED
    assert upd[2].error and upd[2].error.category == ErrorCategory.DUPLICATES
    assert "Existing ID" in upd[2].error.message
    stored = sandbox.get("contacts", a)
    assert stored and stored["properties"]["jobtitle"] == "CTO" and stored["properties"]["lastname"] == "Twice"

    arch = await hs.archive("contacts", [a, "31337"])
    assert all(r.ok for r in arch)
    assert sandbox.get("contacts", a)["archived"] is True  # type: ignore[index]


async def test_create_is_idempotent_for_contacts(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    items = [{"email": f"idem{i}@example.com", "firstname": f"I{i}"} for i in range(150)]
    first = await hs.create("contacts", items)
    again = await hs.create("contacts", items)  # e.g. a retry after a lost response
    assert all(r.ok for r in first + again)
    assert [r.id for r in first] == [r.id for r in again]
    assert len(sandbox.records("contacts")) == 25 + 150
    assert hs.calls["batch_upsert"] == 4


async def test_whole_batch_rejection_is_bisected(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    sandbox.settings.atomic_batch_errors = True  # one bad input fails the whole batch, as HubSpot sometimes does
    items = [{"name": f"Co {i}", "domain": f"co{i}.com"} for i in range(10)]
    items[6]["numberofemployees"] = "many"
    results = await hs.create("companies", items)
    assert [r.ok for r in results] == [True] * 6 + [False] + [True] * 3
    assert results[6].error and results[6].error.category == ErrorCategory.VALIDATION
    names = sorted(c["properties"]["name"] for c in sandbox.records("companies") if c["properties"]["name"].startswith("Co "))
    assert names == sorted(f"Co {i}" for i in range(10) if i != 6)


async def test_lists_and_associations(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    ids = [c["id"] for c in sandbox.records("contacts")]
    sandbox.create_list("Sync to Salesforce")
    sandbox.list_members("Sync to Salesforce", add=ids[:12])
    sandbox.settings.rate_limit = 190
    members = await hs.list_members("contacts", "Sync to Salesforce")
    assert members == frozenset(ids[:12])
    assoc = await hs.associations("contacts", ids[:3], "companies")
    assert all(len(v) == 1 for v in assoc.values())
    company = sandbox.records("companies")[-1]["id"]
    made = await hs.create("contacts", [{"email": "solo@example.com"}])
    solo = made[0].id
    assert solo and (await hs.associations("contacts", [solo], "companies")) == {solo: []}
    res = await hs.associate("contacts", "companies", [(solo, company), (solo, "999999")])
    assert res[0].ok and not res[1].ok and res[1].error and res[1].error.category == ErrorCategory.ASSOCIATIONS
    assert (await hs.associations("companies", [company], "contacts"))[company].count(solo) == 1


def _sign(secret: str, uri: str, body: bytes, ts: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), b"POST" + uri.encode() + body + ts.encode(),
                                     hashlib.sha256).digest()).decode()


def test_verify_signature_v3() -> None:
    body, uri, ts = b'[{"eventId":1}]', "https://accord.example.com/hooks/hubspot?app=hs", "1700000000000"
    sig = _sign("s3cret", uri, body, ts)
    assert verify_signature_v3("s3cret", "POST", uri, body, ts, sig, now=1_700_000_010)
    assert verify_signature_v3("s3cret", "post", uri.replace("?", "%3F"), body, ts, sig, now=1_700_000_010)
    assert not verify_signature_v3("other", "POST", uri, body, ts, sig, now=1_700_000_010)
    assert not verify_signature_v3("s3cret", "POST", uri, body + b" ", ts, sig, now=1_700_000_010)
    assert not verify_signature_v3("s3cret", "POST", uri, body, ts, sig, now=1_700_000_300)  # 5 minutes old
    assert not verify_signature_v3("s3cret", "POST", uri, body, "garbage", sig)
    conn = from_config("hs", type("App", (), {"token": "t", "webhook_secret": "s3cret", "base_url": "http://x"})())
    assert conn.verify_webhook("POST", uri, body, {"X-HubSpot-Request-Timestamp": ts,
                                                   "X-HubSpot-Signature-v3": sig}, now=1_700_000_000)


def test_webhook_changes_dedupes_and_flags_echoes() -> None:
    base = {"portalId": 1, "appId": 77, "occurredAt": 1, "attemptNumber": 0}
    events = [
        {**base, "eventId": 1, "subscriptionType": "contact.propertyChange", "objectId": 10, "changeSource": "CRM_UI",
         "sourceId": "userId:5", "propertyName": "firstname", "propertyValue": "A"},
        {**base, "eventId": 1, "subscriptionType": "contact.propertyChange", "objectId": 10, "changeSource": "CRM_UI",
         "sourceId": "userId:5", "propertyName": "firstname", "propertyValue": "A"},  # redelivered
        {**base, "eventId": 2, "subscriptionType": "contact.propertyChange", "objectId": 11,
         "changeSource": "INTEGRATION", "sourceId": "77"},  # our own write: echo
        {**base, "eventId": 3, "subscriptionType": "company.creation", "objectId": 20, "changeSource": "INTEGRATION",
         "sourceId": "555"},  # another integration
        {**base, "eventId": 4, "subscriptionType": "deal.deletion", "objectId": 30, "changeSource": "CRM_UI"},
        {**base, "eventId": 5, "subscriptionType": "contact.associationChange", "objectId": 10},
        {**base, "eventId": 6, "subscriptionType": "contact.propertyChange", "objectId": 10,
         "changeSource": "INTEGRATION", "sourceId": "77"},  # echo, but a user also changed 10
    ]
    seen = SeenEvents()
    out = webhook_changes(events, seen=seen)
    assert out.changed == {"contacts": {"10"}, "companies": {"20"}} and out.deleted == {"deals": {"30"}}
    assert out.echoes == {"contacts": {"11"}} and out.duplicates == 1 and out.ignored == 1
    assert webhook_changes(events[:1], seen=seen).duplicates == 1  # remembered across batches


async def test_webhooks_end_to_end_with_echo_suppression(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    hs.webhook_secret = "app-secret"
    batches: list[list[dict[str, object]]] = []
    app = FastAPI()

    @app.post("/hooks")
    async def hook(request: Request) -> Response:
        body = await request.body()
        if not hs.verify_webhook("POST", str(request.url), body, dict(request.headers)):
            return Response(status_code=401)
        batches.append(json.loads(body))
        return Response(status_code=200)

    with ServerThread(app) as rx:
        sandbox.configure_webhooks(f"{rx.url}/hooks", "app-secret")
        mine = await hs.create("contacts", [{"email": "echo@example.com", "firstname": "Echo"}])
        theirs = sandbox.user_create("contacts", {"email": "user@example.com"})
        await hs.update("contacts", [(theirs["id"], {"firstname": "Both"})])  # user + Accord touched it
        gone = sandbox.records("deals")[0]["id"]
        sandbox.user_delete("deals", gone)
        assert await asyncio.to_thread(sandbox.flush_webhooks, 10)
    assert sandbox.webhooks.stats.failed_attempts == 0  # every signature verified
    out = hs.webhook_changes([e for b in batches for e in b])
    assert out.echoes == {"contacts": {mine[0].id}}
    assert out.changed == {"contacts": {theirs["id"]}} and out.deleted == {"deals": {gone}}


async def test_the_account_a_token_signs_in_to_is_asked_once(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    """``GET /account-info/v3/details`` names the portal (its shape: tests/sandbox); asked once
    per connector, since a token's portal never changes."""
    assert await hs.account() == f"HubSpot account {sandbox.settings.portal_id}"
    assert await hs.account() == "HubSpot account 12345678" and hs.calls["account"] == 1
