"""Lists v3: ``/crm/v3/lists`` — create, search, look up by id or name, rename, delete and restore, read and change memberships."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import int_param, read_json
from accord.sandbox.hubspot.store import ApiError, iso_ms


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.post("/crm/v3/lists")
    async def list_create(request: Request) -> JSONResponse:
        body = await read_json(request)
        if not body.get("name") or str(body.get("objectTypeId")) not in {k.type_id for k in store.kinds.values()}:
            raise ApiError(400, "VALIDATION_ERROR", "name and a valid objectTypeId are required")
        lst = store.create_list(str(body["name"]), str(body["objectTypeId"]), str(body.get("processingType", "MANUAL")))
        return JSONResponse({"list": lst.wire()})

    @app.post("/crm/v3/lists/search")
    async def list_search(request: Request) -> JSONResponse:
        """Lists whose name contains ``query``, ``count`` (≤ 500) a page from ``offset``, oldest first."""
        body = await read_json(request)
        count, offset = body.get("count", 20), body.get("offset", 0)
        if not isinstance(count, int) or not 1 <= count <= 500 or not isinstance(offset, int) or offset < 0:
            raise ApiError(400, "VALIDATION_ERROR", "count must be between 1 and 500, offset at least 0")
        query = str(body.get("query") or "").casefold()
        kinds = set(body.get("processingTypes") or ())
        with store.lock:
            found = [lst.wire() for lst in sorted(store.lists.values(), key=lambda x: x.id)
                     if lst.deleted is None and query in lst.name.casefold()
                     and (not kinds or lst.processing_type in kinds)]
        page = found[offset:offset + count]
        return JSONResponse({"lists": page, "offset": offset + len(page), "hasMore": offset + count < len(found),
                             "total": len(found)})

    @app.get("/crm/v3/lists/object-type-id/{object_type_id}/name/{list_name}")
    async def list_by_name(object_type_id: str, list_name: str) -> JSONResponse:
        return JSONResponse({"list": store.list_by_name(object_type_id, list_name).wire()})

    @app.get("/crm/v3/lists/{list_id}")
    async def list_get(list_id: str) -> JSONResponse:
        return JSONResponse({"list": store.list_by_id(list_id).wire()})

    @app.put("/crm/v3/lists/{list_id}/update-list-name")
    async def list_rename(list_id: str, request: Request) -> JSONResponse:
        return JSONResponse({"updatedList": store.rename_list(list_id, request.query_params.get("listName", "")).wire()})

    @app.delete("/crm/v3/lists/{list_id}")
    async def list_delete(list_id: str) -> Response:
        store.delete_list(list_id)
        return Response(status_code=204)

    @app.put("/crm/v3/lists/{list_id}/restore")
    async def list_restore(list_id: str) -> Response:
        store.restore_list(list_id)
        return Response(status_code=204)

    @app.get("/crm/v3/lists/{list_id}/memberships")
    async def list_memberships(list_id: str, request: Request) -> JSONResponse:
        lst = store.list_by_id(list_id)
        limit = int_param(request.query_params.get("limit"), "limit", 100)
        if not 1 <= limit <= 250:
            raise ApiError(400, "VALIDATION_ERROR", "limit must be between 1 and 250")
        after = int_param(request.query_params.get("after"), "after", 0)
        with store.lock:
            members = sorted((k, v) for k, v in lst.members.items() if k >= after)
        body: dict[str, Any] = {"results": [{"recordId": str(k), "membershipTimestamp": iso_ms(v)}
                                            for k, v in members[:limit]], "total": len(lst.members)}
        if len(members) > limit:
            nxt = str(members[limit][0])
            body["paging"] = {"next": {"after": nxt, "link": str(request.url.include_query_params(after=nxt))}}
        return JSONResponse(body)

    @app.put("/crm/v3/lists/{list_id}/memberships/add")
    async def list_add(list_id: str, request: Request) -> JSONResponse:
        return JSONResponse(store.change_members(list_id, add=[str(i) for i in await read_json(request)]))

    @app.put("/crm/v3/lists/{list_id}/memberships/remove")
    async def list_remove(list_id: str, request: Request) -> JSONResponse:
        return JSONResponse(store.change_members(list_id, remove=[str(i) for i in await read_json(request)]))

