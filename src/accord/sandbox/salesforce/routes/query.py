"""SOQL: ``/services/data/{v}/query`` and ``…/queryAll`` (deleted rows too), and their next pages
``…/query/{token}``, ``…/queryAll/{token}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.routes.common import batch_size
from accord.sandbox.salesforce.store import RequestError


def _query(sb: SalesforceCore, v: str, endpoint: str, q: str | None, request: Request) -> dict[str, Any]:
    if not q:
        raise RequestError(400, "MALFORMED_QUERY", "A query string has to be specified")
    parsed = soql.parse(q)
    rows = sb.org.query(parsed, include_deleted=endpoint == "queryAll")
    if parsed.fields is None:
        return {"totalSize": len(rows), "done": True, "records": []}
    with sb.org.lock:
        records = [sb.org.render(parsed.sobject, r, parsed.fields, v) for r in rows]
    return sb.page(v, endpoint, records, 0, batch_size(request, sb.settings.page_size))


def register(app: FastAPI, sb: SalesforceCore) -> None:
    @app.get("/services/data/{v}/query")
    async def query(v: str, request: Request, q: str | None = None) -> dict[str, Any]:
        return _query(sb, v, "query", q, request)

    @app.get("/services/data/{v}/queryAll")
    async def query_all(v: str, request: Request, q: str | None = None) -> dict[str, Any]:
        return _query(sb, v, "queryAll", q, request)

    @app.get("/services/data/{v}/query/{token}")
    async def query_more(v: str, token: str) -> dict[str, Any]:
        return sb.more(v, "query", token)

    @app.get("/services/data/{v}/queryAll/{token}")
    async def query_all_more(v: str, token: str) -> dict[str, Any]:
        return sb.more(v, "queryAll", token)
