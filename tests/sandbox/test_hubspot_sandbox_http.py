"""HubSpot sandbox over raw HTTP: errors, 207s, rate limits, faults, search lag/cap, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread

SPECS = Path("/work/shared/vendor-specs/hubspot")
AUTH = {"Authorization": "Bearer pat-test"}


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(records=12, seed=3, webhook_backoff=0.01))
    yield sb
    sb.close()


@pytest.fixture
def http(sandbox: HubSpotSandbox) -> Iterator[httpx.Client]:
    with ServerThread(sandbox.app) as srv, httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c:
        yield c


# -- a tiny OpenAPI shape check (required keys and JSON types) against HubSpot's own specs --------
def _check(spec: dict[str, Any], schema: dict[str, Any], value: Any, path: str = "$") -> None:
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for sub in schema.get("allOf", []):
        _check(spec, sub, value, path)
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if kind in types and value is not None:
        assert isinstance(value, types[kind]), f"{path}: {value!r} is not {kind}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{path}: missing required {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check(spec, sub, value[key], f"{path}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, v in value.items():
                if key not in schema.get("properties", {}):
                    _check(spec, extra, v, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            _check(spec, schema["items"], v, f"{path}[{i}]")


def conforms(spec_file: str, path: str, method: str, status: str, body: Any) -> None:
    spec = json.loads((SPECS / spec_file).read_text())
    response = spec["paths"][path][method]["responses"][status]
    # "default" (error) responses carry no schema in these files: check against the Error component
    schema = response["content"]["application/json"]["schema"] if "content" in response else {
        "$ref": "#/components/schemas/Error"}
    _check(spec, schema, body)


def test_responses_match_the_openapi_specs(http: httpx.Client, sandbox: HubSpotSandbox) -> None:
    contacts = "CRM_Contacts_Rollouts_424_v3_contacts.json"
    page = http.get("/crm/v3/objects/contacts", params={"limit": 5}).json()
    conforms(contacts, "/crm/v3/objects/contacts", "get", "200", page)
    one = page["results"][0]["id"]
    conforms(contacts, "/crm/v3/objects/contacts/{contactId}", "get", "200",
             http.get(f"/crm/v3/objects/contacts/{one}").json())
    r = http.post("/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": one}, {"id": "9"}], "properties": []})
    assert r.status_code == 207
    conforms(contacts, "/crm/v3/objects/contacts/batch/read", "post", "207", r.json())
    r = http.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": [
        {"id": "x@example.com", "idProperty": "email", "properties": {"firstname": "X"}}]})
    conforms(contacts, "/crm/v3/objects/contacts/batch/upsert", "post", "200", r.json())
    r = http.post("/crm/v3/objects/contacts/search", json={"limit": 2})
    conforms(contacts, "/crm/v3/objects/contacts/search", "post", "200", r.json())
    bad = http.get("/crm/v3/objects/contacts/999999")
    conforms(contacts, "/crm/v3/objects/contacts/{contactId}", "get", "default", bad.json())
    conforms("CRM_Properties_Rollouts_145899_v3_properties.json", "/crm/v3/properties/{objectType}", "get", "200",
             http.get("/crm/v3/properties/deals").json())
    conforms("CRM_Pipelines_Rollouts_145896_v3_pipelines.json", "/crm/v3/pipelines/{objectType}", "get", "200",
             http.get("/crm/v3/pipelines/deals").json())
    conforms("CRM_Associations_Rollouts_130902_v4_associations.json",
             "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}", "get", "200",
             http.get(f"/crm/v4/objects/contacts/{one}/associations/companies").json())
    lst = http.post("/crm/v3/lists", json={"name": "L", "objectTypeId": "0-1", "processingType": "MANUAL"}).json()
    conforms("CRM_Lists_Rollouts_144891_v3_lists.json", "/crm/v3/lists", "post", "200", lst)
    added = http.put(f"/crm/v3/lists/{lst['list']['listId']}/memberships/add", json=[one]).json()
    conforms("CRM_Lists_Rollouts_144891_v3_lists.json", "/crm/v3/lists/{listId}/memberships/add", "put", "200", added)
    members = http.get(f"/crm/v3/lists/{lst['list']['listId']}/memberships").json()
    conforms("CRM_Lists_Rollouts_144891_v3_lists.json", "/crm/v3/lists/{listId}/memberships", "get", "200", members)


def test_auth(sandbox: HubSpotSandbox) -> None:
    with ServerThread(sandbox.app) as srv:
        assert httpx.get(f"{srv.url}/crm/v3/objects/contacts").status_code == 401
        sandbox.settings.token = "secret"
        r = httpx.get(f"{srv.url}/crm/v3/objects/contacts", headers=AUTH)
        assert r.status_code == 401 and r.json()["category"] == "INVALID_AUTHENTICATION"
        assert httpx.get(f"{srv.url}/crm/v3/objects/contacts", headers={"Authorization": "Bearer secret"}).is_success


def test_paging_link_is_absolute_and_followable(http: httpx.Client) -> None:
    seen = []
    url: str | None = f"{http.base_url}/crm/v3/objects/companies?limit=5&properties=name,domain"
    while url:
        body = http.get(url).json()
        seen += body["results"]
        assert all(set(r["properties"]) == {"name", "domain"} for r in body["results"])
        url = body.get("paging", {}).get("next", {}).get("link")
    assert len(seen) == 12 and len({r["id"] for r in seen}) == 12
    assert http.get("/crm/v3/objects/companies", params={"limit": 101}).status_code == 400


def test_validation_errors_and_conflicts(http: httpx.Client) -> None:
    r = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "not-an-email"}})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    assert "INVALID_EMAIL" in r.json()["message"]
    r = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@b.co", "favourite_colour": "x"}})
    body = r.json()
    assert r.status_code == 400 and body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert {"status", "message", "correlationId", "category"} <= set(body)
    r = http.post("/crm/v3/objects/contacts", json={"properties": {"hs_object_id": "5"}})
    assert r.status_code == 400 and "READ_ONLY_VALUE" in r.text
    r = http.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D", "dealstage": "nope"}})
    assert r.status_code == 400 and "INVALID_OPTION" in r.text
    first = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "dup@example.com"}}).json()
    r = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "DUP@example.com"}})
    assert r.status_code == 409 and r.json()["category"] == "CONFLICT"
    assert r.json()["message"] == f"Contact already exists. Existing ID: {first['id']}"


def test_batch_multi_status(http: httpx.Client) -> None:
    r = http.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": "ok1@example.com"}, "objectWriteTraceId": "0"},
        {"properties": {"email": "broken"}, "objectWriteTraceId": "1"},
        {"properties": {"email": "ok2@example.com", "nope": "x"}, "objectWriteTraceId": "2"},
        {"properties": {"email": "ok3@example.com"}, "objectWriteTraceId": "3"}]})
    body = r.json()
    assert r.status_code == 207 and body["numErrors"] == 2
    assert sorted(e["context"]["objectWriteTraceId"][0] for e in body["errors"]) == ["1", "2"]
    assert sorted(x["objectWriteTraceId"] for x in body["results"]) == ["0", "3"]
    ids = [x["id"] for x in body["results"]]
    r = http.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [
        {"id": ids[0], "properties": {"firstname": "A"}}, {"id": "77777", "properties": {"firstname": "B"}},
        {"id": ids[1], "properties": {"email": "ok1@example.com"}}]})
    errs = {e["context"]["ids"][0]: e for e in r.json()["errors"]}
    assert r.status_code == 207 and errs["77777"]["category"] == "OBJECT_NOT_FOUND"
    assert errs[ids[1]]["category"] == "CONFLICT"
    too_many = http.post("/crm/v3/objects/contacts/batch/create",
                         json={"inputs": [{"properties": {}} for _ in range(101)]})
    assert too_many.status_code == 400
    single = http.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [{"properties": {"email": "x"}}]})
    assert single.status_code == 400  # a one-input batch fails as a plain error


def test_rate_limit_headers_and_429(sandbox: HubSpotSandbox, http: httpx.Client) -> None:
    sandbox.settings.rate_limit = 5
    statuses = []
    for _ in range(6):
        r = http.get("/crm/v3/objects/contacts", params={"limit": 1})
        statuses.append(r.status_code)
        assert r.headers["X-HubSpot-RateLimit-Max"] == "5"
        assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert "X-HubSpot-RateLimit-Daily-Remaining" in r.headers
    assert statuses == [200] * 5 + [429]
    assert r.json()["policyName"] == "TEN_SECONDLY_ROLLING" and int(r.headers["Retry-After"]) >= 1
    assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    # search has its own per-second bucket, outside the ten-second window
    sandbox.settings.search_rate = 2
    codes = [http.post("/crm/v3/objects/contacts/search", json={}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    sandbox.settings.daily_limit = 0
    sandbox.settings.rate_limit = 1000
    r = http.get("/crm/v3/objects/contacts")
    assert r.status_code == 429 and r.json()["policyName"] == "DAILY"
    assert sandbox.counters["list"] == 7 and sandbox.counters["search"] == 3


def test_faults(sandbox: HubSpotSandbox, http: httpx.Client) -> None:
    sandbox.set_faults(rate_429=1.0, retry_after=2)
    r = http.get("/crm/v3/objects/contacts")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    sandbox.set_faults(rate_429=0.0, rate_500=1.0)
    assert http.get("/crm/v3/objects/contacts").status_code == 500
    sandbox.set_faults(rate_500=0.0, rate_timeout=1.0, hang_seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/crm/v3/objects/contacts", json={"properties": {"email": "t@example.com"}}, timeout=0.2)
    sandbox.clear_faults()
    time.sleep(1.0)
    # a timed-out request was never applied
    assert all(c["properties"]["email"] != "t@example.com" for c in sandbox.records("contacts"))
    sandbox.set_faults(rate_500=0.3, seed=1)
    codes = [http.get("/crm/v3/objects/contacts", params={"limit": 1}).status_code for _ in range(40)]
    assert 4 <= codes.count(500) <= 20
    r = http.put("/_sandbox/faults", json={"rate_429": 0.5})
    assert r.json()["rate_429"] == 0.5
    assert http.delete("/_sandbox/faults").json()["rate_429"] == 0.0


def test_search_lag_cap_and_ties(sandbox: HubSpotSandbox, http: httpx.Client) -> None:
    sandbox.settings.search_rate = 1000
    sandbox.set_search_lag(0.3)
    made = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "lag@example.com"}}).json()
    q = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "lag@example.com"}]}]}
    assert http.post("/crm/v3/objects/contacts/search", json=q).json()["total"] == 0
    assert http.get(f"/crm/v3/objects/contacts/{made['id']}").is_success  # reads are immediate
    time.sleep(0.35)
    assert http.post("/crm/v3/objects/contacts/search", json=q).json()["total"] == 1
    sandbox.set_search_lag(0)
    sandbox.settings.search_cap = 10
    every = {"sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 5}
    assert http.post("/crm/v3/objects/contacts/search", json={**every, "after": "5"}).is_success
    r = http.post("/crm/v3/objects/contacts/search", json={**every, "after": "10"})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    assert http.post("/crm/v3/objects/contacts/search", json={"limit": 201}).status_code == 400
    # records sharing a timestamp come back in no particular (not id) order
    ids = [c["id"] for c in sandbox.records("contacts")]
    sandbox.touch("contacts", ids, 1_700_000_000_000)
    body = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 100}
    sandbox.settings.search_cap = 10_000
    got = [r["id"] for r in http.post("/crm/v3/objects/contacts/search", json=body).json()["results"]]
    assert sorted(got, key=int) == sorted(ids, key=int) and got != sorted(got, key=int)


def test_user_edits_and_admin_routes(http: httpx.Client, sandbox: HubSpotSandbox) -> None:
    r = http.post("/_sandbox/objects/contacts", json={"properties": {"email": "ui@example.com", "firstname": "U"}})
    cid = r.json()["id"]
    assert http.patch(f"/_sandbox/objects/contacts/{cid}", json={"properties": {"firstname": "V"}}).is_success
    assert http.get(f"/crm/v3/objects/contacts/{cid}").json()["properties"]["firstname"] == "V"
    assert http.delete(f"/_sandbox/objects/contacts/{cid}").json() == {"archived": True}
    assert http.get("/_sandbox/").json()["records"]["contacts"] == 12
    assert http.post("/_sandbox/reset").is_success and sandbox.records("contacts") == []
    assert http.post("/_sandbox/seed", json={"records": 4, "seed": 1}).json() == {"companies": 4, "contacts": 4, "deals": 4}
    again = HubSpotSandbox(SandboxSettings(records=4, seed=1))
    emails = sorted(c["properties"]["email"] for c in sandbox.records("contacts"))
    assert emails == sorted(c["properties"]["email"] for c in again.records("contacts"))  # deterministic by seed
    http.get("/crm/v3/objects/contacts")
    assert http.get("/_sandbox/counters").json()["list"] >= 1
    http.post("/_sandbox/lists", json={"name": "VIP"})
    members = http.put("/_sandbox/lists/VIP/members", json={"add": [sandbox.records("contacts")[0]["id"]]}).json()
    assert len(members["members"]) == 1
    contact = sandbox.records("contacts")[0]
    assert contact["properties"]["lifecyclestage"] and contact["properties"]["jobtitle"]
    deal = sandbox.records("deals")[0]["properties"]
    assert deal["pipeline"] in ("default", "renewals") and float(deal["amount"]) > 0


# -- webhooks ---------------------------------------------------------------------------------------
class Receiver:
    """A webhook endpoint that verifies v3 signatures itself (independently of the connector)."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret, self.fail_first = secret, fail_first
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.app = FastAPI()
        self.url = ""

        @self.app.post("/hooks/hubspot")
        async def hook(request: Request) -> Response:
            body = await request.body()
            ts = request.headers["X-HubSpot-Request-Timestamp"]
            msg = b"POST" + self.url.encode() + body + ts.encode()
            want = base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()
            with self.lock:
                if not hmac.compare_digest(want, request.headers["X-HubSpot-Signature-v3"]):
                    self.bad_signatures += 1
                    return Response(status_code=401)
                assert request.headers["X-HubSpot-Signature-Version"] == "v3"
                assert abs(int(ts) - time.time() * 1000) < 60_000
                if self.fail_first > 0:
                    self.fail_first -= 1
                    return Response(status_code=503)
                self.events += json.loads(body)
            return Response(status_code=204)


def test_webhooks_signed_batched_retried(sandbox: HubSpotSandbox, http: httpx.Client) -> None:
    rx = Receiver("s3cret", fail_first=1)
    with ServerThread(rx.app) as srv:
        rx.url = f"{srv.url}/hooks/hubspot"
        sandbox.configure_webhooks(rx.url, "s3cret", backoff=0.01)
        made = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "w@example.com"}}).json()
        http.patch(f"/crm/v3/objects/contacts/{made['id']}", json={"properties": {"firstname": "W", "lastname": "X"}})
        user = sandbox.user_update("contacts", made["id"], {"jobtitle": "CEO"})
        http.delete(f"/crm/v3/objects/contacts/{made['id']}")
        http.post("/crm/v3/objects/companies/batch/create",
                  json={"inputs": [{"properties": {"name": f"C{i}"}} for i in range(100)]})
        assert http.post("/_sandbox/webhooks/flush", json={"timeout": 10}).json() == {"flushed": True}
    assert rx.bad_signatures == 0
    evs = [e for e in rx.events if e["objectId"] == int(made["id"])]
    kinds = [(e["subscriptionType"], e.get("propertyName")) for e in evs]
    assert kinds == [("contact.creation", None), ("contact.propertyChange", "firstname"),
                     ("contact.propertyChange", "lastname"), ("contact.propertyChange", "jobtitle"),
                     ("contact.deletion", None)]
    api_ev, ui_ev = evs[1], evs[3]
    assert api_ev["changeSource"] == "INTEGRATION" and api_ev["sourceId"] == str(sandbox.settings.app_id)
    assert ui_ev["changeSource"] == "CRM_UI" and ui_ev["sourceId"] == f"userId:{sandbox.settings.user_id}"
    assert ui_ev["propertyValue"] == user["properties"]["jobtitle"]
    assert {"eventId", "subscriptionId", "portalId", "appId", "occurredAt", "attemptNumber"} <= set(evs[0])
    assert evs[0]["attemptNumber"] == 1  # the first delivery got a 503 and was retried
    assert sum(e["subscriptionType"] == "company.creation" for e in rx.events) == 100
    assert len({e["eventId"] for e in rx.events}) == len(rx.events)
    assert sandbox.webhooks.stats.failed_attempts == 1
    assert all(len(b) <= 100 for b in sandbox.webhooks.stats.batches)


def test_webhooks_drop_fault_and_property_filter(sandbox: HubSpotSandbox, http: httpx.Client) -> None:
    rx = Receiver("k")
    with ServerThread(rx.app) as srv:
        rx.url = f"{srv.url}/hooks/hubspot"
        sandbox.configure_webhooks(rx.url, "k", properties={"email"})
        cid = sandbox.user_create("contacts", {"email": "p@example.com"})["id"]
        sandbox.user_update("contacts", cid, {"firstname": "ignored", "email": "q@example.com"})
        assert sandbox.flush_webhooks()
        assert [e.get("propertyName") for e in rx.events] == [None, "email"]
        sandbox.set_faults(drop_webhooks=1.0)
        sandbox.user_update("contacts", cid, {"email": "r@example.com"})
        assert sandbox.flush_webhooks()
    assert len(rx.events) == 2 and sandbox.webhooks.stats.dropped == 1
