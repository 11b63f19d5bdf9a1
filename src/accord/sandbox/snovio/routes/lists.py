"""Lists: ``GET /v1/get-user-lists``, ``POST /v1/lists`` and ``POST /v1/prospect-list`` (a list's prospects, paged)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.snovio.core import SnovioCore
from accord.sandbox.snovio.routes.common import authed, int_param
from accord.sandbox.snovio.store import ApiError


def register(app: FastAPI, sb: SnovioCore) -> None:
    store = sb.store

    @app.get("/v1/get-user-lists")
    async def user_lists(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        with store.lock:
            return JSONResponse([store.list_json(x) for x in store.lists.values()])

    @app.post("/v1/lists")
    async def create_list(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        lst = store.create_list(str(p.get("name") or ""))
        return JSONResponse({"success": True, "data": {"id": lst.id}})

    @app.post("/v1/prospect-list")
    async def prospect_list(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        page = int_param(p.get("page"), "page", 1)
        per_page = int_param(p.get("perPage"), "perPage", sb.settings.max_per_page)
        if page < 1:
            raise ApiError(400, {"page": "The page must be 1 or more"})
        if not 1 <= per_page <= sb.settings.max_per_page:
            raise ApiError(400, {"perPage": f"perPage must be between 1 and {sb.settings.max_per_page}"})
        with store.lock:
            lst, prospects = store.page(p.get("listId"), page, per_page)
            lj = store.list_json(lst)
            body = {"success": True, "list": {k: lj[k] for k in ("name", "contacts", "isDeleted", "creationDate",
                                                                   "deletionDate")},
                    "prospects": [store.prospect_json(x) for x in prospects]}
        return JSONResponse(body)
