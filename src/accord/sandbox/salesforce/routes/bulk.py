"""Bulk API 2.0: ``/services/data/{v}/jobs/query`` and ``…/jobs/ingest`` (jobs, their state,
CSV uploads and CSV results). Every call is one API call, as the gate counts any other."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.routes.common import read_json
from accord.sandbox.salesforce.store import RequestError

CSV = "text/csv; charset=UTF-8"


def _body(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RequestError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    return raw


def _listing(sb: SalesforceCore, v: str, kind: str) -> dict[str, Any]:
    return {"done": True, "records": [j.info(v, False) for j in sb.bulk.listing(kind)], "nextRecordsUrl": None}


def register(app: FastAPI, sb: SalesforceCore) -> None:
    _query_routes(app, sb)
    _ingest_routes(app, sb)
    for kind in ("query", "ingest"):
        _job_routes(app, sb, kind)


def _job_routes(app: FastAPI, sb: SalesforceCore, kind: str) -> None:
    """What query and ingest jobs share: the listing, a job's status, its state change, delete."""
    base = f"/services/data/{{v}}/jobs/{kind}"

    async def listing(v: str) -> dict[str, Any]:
        return _listing(sb, v, kind)

    async def info(v: str, id: str) -> dict[str, Any]:
        return sb.bulk.status(kind, id).info(v, True)

    async def set_state(v: str, id: str, request: Request) -> dict[str, Any]:
        return sb.bulk.set_state(kind, id, _body(await read_json(request)).get("state")).info(v, False)

    async def delete(v: str, id: str) -> Response:
        sb.bulk.get(kind, id)
        sb.bulk.jobs.pop(id, None)
        return Response(status_code=204)

    app.get(base, name=f"list_{kind}_jobs")(listing)
    app.get(f"{base}/{{id}}", name=f"{kind}_job")(info)
    app.patch(f"{base}/{{id}}", name=f"{kind}_job_state")(set_state)
    app.delete(f"{base}/{{id}}", name=f"delete_{kind}_job")(delete)


def _query_routes(app: FastAPI, sb: SalesforceCore) -> None:
    @app.post("/services/data/{v}/jobs/query")
    async def create_query(v: str, request: Request) -> JSONResponse:
        job = sb.bulk.create_query(_body(await read_json(request)))
        return JSONResponse(job.info(v, False), status_code=200)

    @app.get("/services/data/{v}/jobs/query/{id}/results")
    async def query_results(v: str, id: str, locator: str | None = None, maxRecords: int | None = None) -> Response:
        text, nxt, n = sb.bulk.results(id, locator, maxRecords)
        return Response(text, media_type=CSV, headers={"Sforce-Locator": nxt, "Sforce-NumberOfRecords": str(n)})


def _ingest_routes(app: FastAPI, sb: SalesforceCore) -> None:
    @app.post("/services/data/{v}/jobs/ingest")
    async def create_ingest(v: str, request: Request) -> JSONResponse:
        job = sb.bulk.create_ingest(_body(await read_json(request)))
        return JSONResponse(job.info(v, False), status_code=200)

    @app.put("/services/data/{v}/jobs/ingest/{id}/batches")
    async def upload(v: str, id: str, request: Request) -> Response:
        sb.bulk.upload(id, await request.body())
        return Response(status_code=201)

    # the documented path is "unprocessedrecords"; clients (simple-salesforce) also ask "unprocessedRecords"
    for path in ("successfulResults", "failedResults", "unprocessedrecords", "unprocessedRecords"):
        _results_route(app, sb, path, path.lower() if path.startswith("unprocessed") else path)


def _results_route(app: FastAPI, sb: SalesforceCore, path: str, which: str) -> None:
    async def results(v: str, id: str) -> Response:
        return Response(sb.bulk.ingest_results(id, which), media_type=CSV)

    app.get(f"/services/data/{{v}}/jobs/ingest/{{id}}/{path}", name=f"ingest_{path}")(results)

