"""SOQL: ``/services/data/{v}/query`` and ``…/queryAll`` (deleted rows too), and their next pages
``…/query/{token}``, ``…/queryAll/{token}``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, overload

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
    fields = parsed.fields
    records = Rendered(rows, lambda r: sb.org.render(parsed.sobject, r, fields, v))
    return sb.page(v, endpoint, records, 0, batch_size(request, sb.settings.page_size))


class Rendered(Sequence[dict[str, Any]]):
    """A query's rows (the org's rows as they were at the query: ``Org.query`` copies them),
    rendered as JSON records a page at a time when the page is asked for: a first page of a
    large object answers as fast as Salesforce does, without rendering every record first."""

    def __init__(self, rows: list[dict[str, Any]], render: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.rows, self.render = rows, render

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self.render(r) for r in self.rows[i]]
        return self.render(self.rows[i])


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
