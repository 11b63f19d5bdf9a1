"""Prospects: ``POST /v1/add-prospect-to-list``, ``/v1/get-prospect-by-id``, ``/v1/get-prospects-by-email``,
``GET /v1/prospect-custom-fields``, and two endpoints designed after Snov.io's conventions (not in its
public API): ``POST /v1/update-prospect`` and ``/v1/delete-prospect-from-list``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.snovio.core import SnovioCore
from accord.sandbox.snovio.routes.common import authed, flag
from accord.sandbox.snovio.store import ApiError, ProspectInput


def register(app: FastAPI, sb: SnovioCore) -> None:
    store = sb.store

    @app.post("/v1/add-prospect-to-list")
    async def add_prospect(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        if p.get("listId") in (None, ""):
            raise ApiError(400, {"listId": "The listId is required"})
        prospect, added, updated = store.add_prospect(p["listId"], ProspectInput.parse(p),
                                                      update_contact=flag(p.get("updateContact", False)))
        return JSONResponse({"success": True, "id": prospect.id, "added": added, "updated": updated})

    @app.post("/v1/get-prospect-by-id")
    async def prospect_by_id(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        with store.lock:
            prospect = store.get(str(p.get("id") or ""))
            return JSONResponse({"success": True, "data": store.prospect_json(prospect)})

    @app.post("/v1/get-prospects-by-email")
    async def prospects_by_email(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        email = str(p.get("email") or "").strip()
        with store.lock:
            found = store.find_by_email(email) if email else []
            if not found:
                return JSONResponse({"success": False, "errors": f"Prospect with email '{email}' not found"})
            return JSONResponse({"success": True, "data": [store.prospect_json(x) for x in found]})

    @app.get("/v1/prospect-custom-fields")
    async def custom_fields(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        with store.lock:
            return JSONResponse([store.field_json(f) for f in store.fields.values()])

    # -- designed after Snov.io's conventions (not in its public API) --------------------------
    @app.post("/v1/update-prospect")
    async def update_prospect(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        prospect, changed = store.update_prospect(str(p.get("id") or ""), ProspectInput.parse(p))
        return JSONResponse({"success": True, "id": prospect.id, "updated": changed})

    @app.post("/v1/delete-prospect-from-list")
    async def delete_from_list(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        if p.get("listId") in (None, ""):
            raise ApiError(400, {"listId": "The listId is required"})
        removed = store.remove_from_list(str(p.get("id") or ""), p["listId"])
        return JSONResponse({"success": True, "deleted": removed})
