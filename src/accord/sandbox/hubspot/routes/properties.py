"""Properties: ``/crm/v3/properties/{object_type}[/{name}]`` (custom object schemas: routes/schemas.py)."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import read_json
from accord.sandbox.hubspot.store import ApiError, iso_ms


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.get("/crm/v3/properties/{object_type}")
    async def properties(object_type: str) -> JSONResponse:
        t = store.type_of(object_type)
        ts = iso_ms(store.started)
        return JSONResponse({"results": [p.to_json(ts) for p in store.props[t].values()]})

    @app.get("/crm/v3/properties/{object_type}/{name}")
    async def property_one(object_type: str, name: str) -> JSONResponse:
        t = store.type_of(object_type)
        pd = store.props[t].get(name)
        if pd is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property with name {name}")
        return JSONResponse(pd.to_json(iso_ms(store.started)))

    @app.post("/crm/v3/properties/{object_type}")
    async def property_create(object_type: str, request: Request) -> JSONResponse:
        t = store.type_of(object_type)
        pd = store.add_property(t, await read_json(request))
        return JSONResponse(pd.to_json(iso_ms(int(time.time() * 1000))), status_code=201)

