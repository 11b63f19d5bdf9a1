"""Custom object schemas: ``/crm/v3/schemas[/{object_type}]``, also served (as the official client
calls them) at ``/crm-object-schemas/v3/schemas``."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot import custom
from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import flag, read_json

PREFIXES = ("/crm/v3/schemas", "/crm-object-schemas/v3/schemas")


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    async def list_schemas(request: Request) -> JSONResponse:
        # CollectionResponseObjectSchemaNoPaging
        return JSONResponse({"results": custom.list_schemas(store, flag(request, "archived"))})

    async def create_schema(request: Request) -> JSONResponse:
        return JSONResponse(sb.create_schema(await read_json(request)), status_code=201)

    async def get_schema(object_type: str) -> JSONResponse:
        return JSONResponse(custom.schema_json(store, custom.find_schema(store, object_type)))

    async def archive_schema(object_type: str) -> Response:
        custom.archive_schema(store, object_type)
        return Response(status_code=204)

    for prefix in PREFIXES:
        app.get(prefix)(list_schemas)
        app.post(prefix)(create_schema)
        app.get(prefix + "/{object_type}")(get_schema)
        app.delete(prefix + "/{object_type}")(archive_schema)
