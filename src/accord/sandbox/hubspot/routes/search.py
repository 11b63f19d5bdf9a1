"""CRM search v3: ``POST /crm/v3/objects/{object_type}/search`` (its own rate bucket, see the gate)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import read_json


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.post("/crm/v3/objects/{object_type}/search")
    async def search(object_type: str, request: Request) -> JSONResponse:
        t = store.type_of(object_type)
        body = await read_json(request)
        found = store.search(t, body, sb.settings.search_cap)
        sb.counters["results_search"] += len(found["results"])
        return JSONResponse(found)

