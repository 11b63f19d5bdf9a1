"""The connectors parse every recorded answer of the real HubSpot and Salesforce APIs.

The recordings live outside the project (``shared/realpayloads`` beside the repository, with
their sources in its SOURCES.md); they are read from there at test time, never copied in. Each
exchange is served back by an ``httpx.MockTransport`` for the request the connector makes, and
the connector's own reading of it is checked. Skipped where the directory is absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.connectors.hubspot import HubSpotConnector, _answer, webhook_changes, write_error
from accord.connectors.salesforce import SalesforceConnector
from accord.model import AuthError, BudgetExhausted, ErrorCategory


def _root() -> Path | None:
    here = Path(__file__).resolve().parents[2]
    for candidate in (os.environ.get("ACCORD_REALPAYLOADS"), here.parent / "shared" / "realpayloads",
                      here.parent.parent / "shared" / "realpayloads"):
        if candidate and Path(candidate, "SOURCES.md").exists():
            return Path(candidate)
    return None


ROOT = _root()
pytestmark = pytest.mark.skipif(ROOT is None, reason="the recorded payloads (shared/realpayloads) are not here")


def exchange(name: str) -> dict[str, Any]:
    assert ROOT is not None
    data: dict[str, Any] = json.loads((ROOT / f"{name}.json").read_text())
    return data


def answer(ex: dict[str, Any], request: httpx.Request | None = None) -> httpx.Response:
    return httpx.Response(ex["status"], headers=ex["headers"], json=ex["body"], request=request)


Route = Callable[[httpx.Request], dict[str, Any] | None]


def transport(route: Route, served: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        ex = route(request)
        if ex is None:
            raise AssertionError(f"no recording for {request.method} {request.url.path}")
        served.append(f"{request.method} {request.url.path}")
        return answer(ex, request)
    return httpx.MockTransport(handle)


def recorded(vendor: str) -> set[str]:
    assert ROOT is not None
    return {f"{vendor}/{p.stem}" for p in (ROOT / vendor).glob("*.json")}


# -- HubSpot ---------------------------------------------------------------------------------------------
def _hubspot_route(request: httpx.Request) -> dict[str, Any] | None:
    path, m = request.url.path, request.method
    by_path = {("GET", "/crm/v3/properties/companies"): "properties_companies",
               ("GET", "/crm/v3/properties/deals"): "properties_deals",
               ("GET", "/crm/v3/objects/contacts"): "list_contacts", ("GET", "/crm/v3/objects/companies"): "list_companies",
               ("GET", "/crm/v3/objects/deals"): "list_deals", ("POST", "/crm/v3/objects/deals/search"): "search_deals",
               ("POST", "/crm/v3/objects/companies/search"): "search_companies",
               ("POST", "/crm/v3/objects/companies/batch/create"): "batch_create_companies",
               ("POST", "/crm/v3/objects/companies/batch/update"): "batch_update_companies",
               ("POST", "/crm/v3/objects/line_items/batch/read"): "batch_read_line_items",
               ("GET", "/crm/v3/pipelines/deals"): "pipelines_deals"}
    if (m, path) in by_path:
        return exchange(f"hubspot/{by_path[(m, path)]}")
    if m == "GET" and path.startswith("/crm/v3/properties/"):  # not recorded: properties read as text
        return {"status": 200, "headers": {}, "body": {"results": []}}
    return None


async def test_the_hubspot_connector_reads_every_recorded_hubspot_answer() -> None:
    served: list[str] = []
    conn = HubSpotConnector("hs", token="pat-recorded", read_ahead=0, max_retries=0,
                            transport=transport(_hubspot_route, served))
    seen: set[str] = set()
    try:
        for obj, n in (("companies", 200), ("deals", 150)):
            schema = await conn.describe(obj)
            assert len(schema.fields) > n, obj
            seen.add(f"hubspot/properties_{obj}")
        for obj in ("contacts", "companies", "deals"):
            raws, _ = await conn._list_page(obj, ["hs_object_id"], None)
            records = [conn._record(obj, await conn._types(obj), r) for r in raws]
            assert records and all(r.id and r.updated_at for r in records), obj
            seen.add(f"hubspot/list_{obj}")
        for obj in ("deals", "companies"):
            body = await conn._search(obj, [], ("hs_lastmodifieddate", "ASCENDING"), ["hs_object_id"])
            assert body["total"] >= len(body["results"]) > 0
            seen.add(f"hubspot/search_{obj}")
        seen |= await _hubspot_writes(conn)
    finally:
        await conn.aclose()
    seen |= _hubspot_answers(conn)
    assert seen == recorded("hubspot") - {"hubspot/assoc_v3_batch_create"}  # v3 associations: Accord uses v4


async def _hubspot_writes(conn: HubSpotConnector) -> set[str]:
    create = exchange("hubspot/batch_create_companies")["source"]["request"]["data"]["inputs"]
    made = await conn.create("companies", [i["properties"] for i in create])
    assert [r.ok for r in made] == [True] and made[0].id == "421355332816"
    update = exchange("hubspot/batch_update_companies")["source"]["request"]["data"]["inputs"]
    changed = await conn.update("companies", [(i["id"], i["properties"]) for i in update])
    assert [r.ok for r in changed] == [True]
    stages = await conn.pipelines("deals")
    assert stages and all(p.stages for p in stages)
    ids = [r["id"] for r in exchange("hubspot/batch_read_line_items")["body"]["results"]]
    items = await conn.read("line_items", ids, ["name"])
    assert sorted(r.id for r in items) == sorted(ids)
    return {"hubspot/batch_create_companies", "hubspot/batch_update_companies", "hubspot/pipelines_deals",
            "hubspot/batch_read_line_items"}


def _hubspot_answers(conn: HubSpotConnector) -> set[str]:
    conflict = exchange("hubspot/error_409_conflict")
    assert write_error(409, conflict["body"]).category == ErrorCategory.DUPLICATES
    limited = _answer(answer(exchange("hubspot/error_429_secondly"), httpx.Request("POST", "https://x/search")))
    assert limited.retry and limited.limited and limited.wait == 1.0  # SECONDLY without Retry-After: a second
    conn._observe(answer(exchange("hubspot/oauth_app_headers")))
    assert conn.http.limits.secondly.limit == 11  # an OAuth app's per-second limit, learned
    generic = webhook_changes(exchange("hubspot/webhook_generic_object")["body"])
    assert generic.changed == {"contacts": {"546500061938"}}
    legacy = webhook_changes(exchange("hubspot/webhook_legacy_integration")["body"])
    assert legacy.echoes == {"contacts": {"106314056576"}}  # written by the receiving app itself
    return {"hubspot/error_409_conflict", "hubspot/error_429_secondly", "hubspot/oauth_app_headers",
            "hubspot/webhook_generic_object", "hubspot/webhook_legacy_integration"}


# -- Salesforce ------------------------------------------------------------------------------------------
def _salesforce_route(request: httpx.Request) -> dict[str, Any] | None:
    path, m = request.url.path.rstrip("/"), request.method
    if path == "/services/data":
        return exchange("salesforce/versions")
    tail = path.split("/", 4)[4] if path.count("/") >= 4 else ""  # after /services/data/vXX.X/
    by_tail = {("GET", "sobjects/Account/describe"): "describe_account", ("GET", "limits"): "limits",
               ("GET", "queryAll"): "query_all_accounts", ("GET", "query"): "query_accounts_p1",
               ("GET", "query/0r8xx5R2yF2gs3VASQ-2000"): "query_accounts_p2",
               ("POST", "composite/sobjects"): "collection_create",
               ("PATCH", "composite/sobjects"): "collection_update_error",
               ("DELETE", "composite/sobjects"): "collection_delete", ("GET", "sobjects/Account/deleted"): "get_deleted"}
    return exchange(f"salesforce/{by_tail[(m, tail)]}") if (m, tail) in by_tail else None


def _salesforce(route: Route, served: list[str]) -> SalesforceConnector:
    return SalesforceConnector("sf", "https://example.my.salesforce.com", "00D!recorded", max_retries=0,
                               transport=transport(route, served))


async def test_the_salesforce_connector_reads_every_recorded_salesforce_answer() -> None:
    served: list[str] = []
    conn = _salesforce(_salesforce_route, served)
    try:
        schema = await conn.describe("Account")
        assert len(schema.fields) > 40 and "Name" in schema.fields
        pages = [p async for p in conn.scan("Account", ["Name"])]
        assert sum(len(p.records) for p in pages) == 60 + 86  # both pages, through nextRecordsUrl
        every = [r async for rows in conn._soql("SELECT Id FROM Account", include_deleted=True) for r in rows]
        assert every and all(r["Id"] for r in every)
        await conn.check()
        assert (conn.api_used, conn.api_limit) == (24, 15000)  # Sforce-Limit-Info
        await conn._server_now()
        made = await conn.create("Account", [{"Name": "Test Account from Nango Action"}])
        assert made[0].ok and made[0].id == "001dM00003kS2ndQAC"
        failed = await conn.update("Account", [("001xx000003DHP0AAO", {"Name": "Updated Account Name"})])
        assert not failed[0].ok and failed[0].error is not None and failed[0].error.code == "INVALID_CROSS_REFERENCE_KEY"
        gone = await conn.archive("Account", ["001dM00003kREKdQAO", "001dM00003kREKeQAO"])
        assert all(r.ok for r in gone)
        deleted = await conn._json("GET", "sobjects/Account/deleted/", params={"start": "2013-05-03T00:00:00Z"})
        assert deleted["deletedRecords"][0]["id"] == "a00D0000008pQRAIA2"
    finally:
        await conn.aclose()
    errors = await _salesforce_errors()
    assert {f"salesforce/{_salesforce_name(s)}" for s in served} | errors == recorded("salesforce")


def _salesforce_name(served: str) -> str:
    method, path = served.split(" ", 1)
    ex = _salesforce_route(httpx.Request(method, f"https://x{path}"))
    assert ex is not None
    return {json.dumps(exchange(f"salesforce/{p.stem}")["body"], sort_keys=True): p.stem
            for p in (ROOT / "salesforce").glob("*.json")}[json.dumps(ex["body"], sort_keys=True)]  # type: ignore[operator]


async def _salesforce_errors() -> set[str]:
    for name, error in (("error_401_invalid_session", AuthError), ("error_403_total_requests", BudgetExhausted)):
        conn = _salesforce(lambda r, n=name: exchange(f"salesforce/{n}"), [])  # type: ignore[misc]
        with pytest.raises(error):
            await conn.describe("Account")
        await conn.aclose()
    return {"salesforce/error_401_invalid_session", "salesforce/error_403_total_requests"}
