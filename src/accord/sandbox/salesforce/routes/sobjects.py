"""Single records: ``/services/data/{v}/sobjects/{t}`` (create), ``…/{t}/{id}`` (read, update,
delete) and ``…/{t}/{ext_field}/{value}`` (read and upsert by external id)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.routes.common import allow_save, external_field, field_name, read_json
from accord.sandbox.salesforce.store import RequestError


def register(app: FastAPI, sb: SalesforceCore) -> None:
    @app.post("/services/data/{v}/sobjects/{t}")
    async def create(v: str, t: str, request: Request) -> JSONResponse:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise RequestError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        id = sb.org.create(t, body, allow_save=allow_save(request))
        return JSONResponse({"id": id, "success": True, "errors": []}, status_code=201)

    @app.get("/services/data/{v}/sobjects/{t}/{id}")
    async def read(v: str, t: str, id: str, fields: str | None = None) -> dict[str, Any]:
        obj = sb.org.obj(t)
        with sb.org.lock:
            row = sb.org.view(obj, sb.org.get(obj, id))
        names = [field_name(obj, f) for f in fields.split(",")] if fields else list(obj.fields)
        return sb.org.render(obj, row, names, v)

    @app.patch("/services/data/{v}/sobjects/{t}/{id}")
    async def update(v: str, t: str, id: str, request: Request) -> Response:
        body = await read_json(request)
        obj = sb.org.obj(t)
        sb.org.get(obj, id)  # 404 for an unknown or deleted id, as the single-record resource does
        sb.org.update(t, id, body or {}, allow_save=allow_save(request))
        return Response(status_code=204)

    @app.delete("/services/data/{v}/sobjects/{t}/{id}")
    async def delete(v: str, t: str, id: str) -> Response:
        obj = sb.org.obj(t)
        sb.org.get(obj, id)
        sb.org.delete(obj.name, id)
        return Response(status_code=204)

    _by_external_id(app, sb)


def _by_external_id(app: FastAPI, sb: SalesforceCore) -> None:
    @app.get("/services/data/{v}/sobjects/{t}/{ext_field}/{value}")
    async def read_by_external_id(v: str, t: str, ext_field: str, value: str) -> Any:
        obj = sb.org.obj(t)
        f = external_field(obj, ext_field)
        with sb.org.lock:
            hits = [sb.org.view(obj, r) for r in sb.org.find_by(obj, f, value)]
        if not hits:
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        if len(hits) > 1:
            return JSONResponse([f"/services/data/{v}/sobjects/{obj.name}/{r['Id']}" for r in hits], status_code=300)
        return sb.org.render(obj, hits[0], list(obj.fields), v)

    @app.patch("/services/data/{v}/sobjects/{t}/{ext_field}/{value}")
    async def upsert(v: str, t: str, ext_field: str, value: str, request: Request) -> Response:
        obj = sb.org.obj(t)
        f = external_field(obj, ext_field)
        body = dict(await read_json(request) or {})
        if any(k.lower() == f.lower() for k in body) and f != "Id":
            raise RequestError(400, "INVALID_FIELD", f"The external ID field {f} can't be included in the "
                               "request body when it's in the URL")
        with sb.org.lock:
            hits = [r for r in sb.org.find_by(obj, f, value)] if f != "Id" else []
            if len(hits) > 1:
                urls = [f"/services/data/{v}/sobjects/{obj.name}/{r['Id']}" for r in hits]
                return JSONResponse(urls, status_code=300)
            if hits:
                id = sb.org.update(obj.name, hits[0]["Id"], body, allow_save=allow_save(request))
                return JSONResponse({"id": id, "success": True, "errors": [], "created": False}, status_code=200)
            if f == "Id":
                raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
            id = sb.org.create(obj.name, {**body, f: value}, allow_save=allow_save(request))
        return JSONResponse({"id": id, "success": True, "errors": [], "created": True}, status_code=201)
