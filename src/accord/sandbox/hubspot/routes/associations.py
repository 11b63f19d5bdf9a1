"""Associations v4: ``/crm/v4/objects/…/associations/…`` and ``/crm/v4/associations/…/batch/{read,create,archive}``.

Ids are strings here as in HubSpot's v4 spec (clients should accept numbers too).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import batch_inputs, batch_response, int_param, read_json
from accord.sandbox.hubspot.store import ApiError, Store, iso_ms, not_found


def _assoc_types(store: Store, from_t: str, to_t: str, type_ids: set[int]) -> list[dict[str, Any]]:
    labels = dict(store.assoc_types.get((from_t, to_t), []))
    return [{"category": "HUBSPOT_DEFINED", "typeId": tid, "label": labels.get(tid)} for tid in sorted(type_ids)]


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.get("/crm/v4/objects/{from_type}/{object_id}/associations/{to_type}")
    async def assoc_list(from_type: str, object_id: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.type_of(from_type), store.type_of(to_type)
        limit = min(int_param(request.query_params.get("limit"), "limit", 500), 500)
        after = int_param(request.query_params.get("after"), "after", 0)
        if not object_id.isdigit():
            raise not_found(object_id)
        found = sorted(store.associated(f, int(object_id), t).items())
        chunk = [(k, v) for k, v in found if k >= after][:limit + 1]
        body: dict[str, Any] = {"results": [{"toObjectId": str(k), "associationTypes": _assoc_types(store, f, t, v)}
                                            for k, v in chunk[:limit]]}
        if len(chunk) > limit:
            body["paging"] = {"next": {"after": str(chunk[limit][0]),
                                       "link": str(request.url.include_query_params(after=str(chunk[limit][0])))}}
        return JSONResponse(body)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/read")
    async def assoc_batch_read(from_type: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.type_of(from_type), store.type_of(to_type)
        started = iso_ms(int(time.time() * 1000))
        results, errors = [], []
        for item in batch_inputs(await read_json(request)):
            oid = str(item.get("id"))
            found = store.associated(f, int(oid), t) if oid.isdigit() else {}
            if not found:
                errors.append(ApiError(404, "OBJECT_NOT_FOUND", f"No {t} is associated with {store.kinds[f].singular} {oid}.",
                                       sub_category="crm.associations.NO_ASSOCIATIONS_FOUND")
                              .batch_error({"fromObjectId": [oid]}))
                continue
            results.append({"from": {"id": oid}, "to": [{"toObjectId": str(k), "associationTypes": _assoc_types(store, f, t, v)}
                                                        for k, v in sorted(found.items())]})
        return batch_response(results, errors, started, 200)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/create")
    async def assoc_batch_create(from_type: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.type_of(from_type), store.type_of(to_type)
        started = iso_ms(int(time.time() * 1000))
        results, errors = [], []
        for item in batch_inputs(await read_json(request)):
            fid, tid = str((item.get("from") or {}).get("id")), str((item.get("to") or {}).get("id"))
            types = [int(x.get("associationTypeId", 0)) for x in item.get("types") or []]
            valid = {x[0] for x in store.assoc_types.get((f, t), [])}
            try:
                if not types or any(x not in valid for x in types):
                    raise ApiError(400, "VALIDATION_ERROR", f"Invalid association type ids {types} for {f} to {t}")
                for x in types:
                    store.associate(f, int(fid) if fid.isdigit() else -1, t, int(tid) if tid.isdigit() else -1, x)
            except ApiError as e:
                errors.append(e.batch_error({"fromObjectId": [fid], "toObjectId": [tid]}))
                continue
            results.append({"fromObjectTypeId": store.kinds[f].type_id, "fromObjectId": fid,
                            "toObjectTypeId": store.kinds[t].type_id, "toObjectId": tid,
                            "labels": [lab for x, lab in store.assoc_types[(f, t)] if x in types and lab]})
        return batch_response(results, errors, started, 201)


    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/archive")
    async def assoc_batch_archive(from_type: str, to_type: str, request: Request) -> Response:
        """Every association type between each pair goes; pairs not associated are ignored (204)."""
        f, t = store.type_of(from_type), store.type_of(to_type)
        for item in batch_inputs(await read_json(request)):
            fid = str((item.get("from") or {}).get("id"))
            for to in item.get("to") or []:
                tid = str((to or {}).get("id"))
                if fid.isdigit() and tid.isdigit():
                    store.dissociate(f, int(fid), t, int(tid))
        return Response(status_code=204)

    @app.get("/crm/v4/associations/{from_type}/{to_type}/labels")
    async def assoc_labels(from_type: str, to_type: str) -> JSONResponse:
        # the association types defined from one object type to another (v4 schema API)
        f, t = store.type_of(from_type), store.type_of(to_type)
        return JSONResponse({"results": [{"category": "USER_DEFINED" if store.kinds[f].custom or store.kinds[t].custom
                                          else "HUBSPOT_DEFINED", "typeId": tid, "label": label}
                                         for tid, label in store.assoc_types.get((f, t), [])]})

    _v3(app, sb)


def _v3(app: FastAPI, sb: HubSpotCore) -> None:
    """Associations v3: batch read and create with the pair's default type (``{id, type}`` shapes)."""
    store = sb.store

    @app.post("/crm/v3/associations/{from_type}/{to_type}/batch/read")
    async def v3_batch_read(from_type: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.type_of(from_type), store.type_of(to_type)
        started = iso_ms(int(time.time() * 1000))
        base = f"{store.kinds[f].singular}_to_{store.kinds[t].singular}"
        results, errors = [], []
        for item in batch_inputs(await read_json(request)):
            oid = str(item.get("id"))
            found = store.associated(f, int(oid), t) if oid.isdigit() else {}
            if not found:
                errors.append(ApiError(404, "OBJECT_NOT_FOUND", f"No {t} is associated with {store.kinds[f].singular} "
                                       f"{oid}.").batch_error({"fromObjectId": [oid]}))
                continue
            results.append({"from": {"id": oid}, "to": [{"id": str(k), "type": base} for k in sorted(found)]})
        return batch_response(results, errors, started, 200)

    @app.post("/crm/v3/associations/{from_type}/{to_type}/batch/create")
    async def v3_batch_create(from_type: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.type_of(from_type), store.type_of(to_type)
        started = iso_ms(int(time.time() * 1000))
        results, errors = [], []
        for item in batch_inputs(await read_json(request)):
            fid, tid = str((item.get("from") or {}).get("id")), str((item.get("to") or {}).get("id"))
            try:
                store.associate(f, int(fid) if fid.isdigit() else -1, t, int(tid) if tid.isdigit() else -1)
            except ApiError as e:
                errors.append(e.batch_error({"fromObjectId": [fid], "toObjectId": [tid]}))
                continue
            results.append({"from": {"id": fid}, "to": [{"id": tid, "type": str(item.get("type") or "")}]})
        return batch_response(results, errors, started, 201)
