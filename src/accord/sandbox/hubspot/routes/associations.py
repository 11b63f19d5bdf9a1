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
from accord.sandbox.hubspot.schema import ASSOC_TYPES, OBJECT_TYPE_IDS, SINGULAR
from accord.sandbox.hubspot.store import ApiError, iso_ms, not_found


def _assoc_types(from_t: str, to_t: str, type_ids: set[int]) -> list[dict[str, Any]]:
    labels = dict(ASSOC_TYPES.get((from_t, to_t), []))
    return [{"category": "HUBSPOT_DEFINED", "typeId": tid, "label": labels.get(tid)} for tid in sorted(type_ids)]


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.get("/crm/v4/objects/{from_type}/{object_id}/associations/{to_type}")
    async def assoc_list(from_type: str, object_id: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.object_type(from_type), store.object_type(to_type)
        limit = min(int_param(request.query_params.get("limit"), "limit", 500), 500)
        after = int_param(request.query_params.get("after"), "after", 0)
        if not object_id.isdigit():
            raise not_found(object_id)
        found = sorted(store.associated(f, int(object_id), t).items())
        chunk = [(k, v) for k, v in found if k >= after][:limit + 1]
        body: dict[str, Any] = {"results": [{"toObjectId": str(k), "associationTypes": _assoc_types(f, t, v)}
                                            for k, v in chunk[:limit]]}
        if len(chunk) > limit:
            body["paging"] = {"next": {"after": str(chunk[limit][0]),
                                       "link": str(request.url.include_query_params(after=str(chunk[limit][0])))}}
        return JSONResponse(body)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/read")
    async def assoc_batch_read(from_type: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.object_type(from_type), store.object_type(to_type)
        started = iso_ms(int(time.time() * 1000))
        results, errors = [], []
        for item in batch_inputs(await read_json(request)):
            oid = str(item.get("id"))
            found = store.associated(f, int(oid), t) if oid.isdigit() else {}
            if not found:
                errors.append(ApiError(404, "OBJECT_NOT_FOUND", f"No {t} is associated with {SINGULAR[f]} {oid}.",
                                       sub_category="crm.associations.NO_ASSOCIATIONS_FOUND")
                              .batch_error({"fromObjectId": [oid]}))
                continue
            results.append({"from": {"id": oid}, "to": [{"toObjectId": str(k), "associationTypes": _assoc_types(f, t, v)}
                                                        for k, v in sorted(found.items())]})
        return batch_response(results, errors, started, 200)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/create")
    async def assoc_batch_create(from_type: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.object_type(from_type), store.object_type(to_type)
        started = iso_ms(int(time.time() * 1000))
        results, errors = [], []
        for item in batch_inputs(await read_json(request)):
            fid, tid = str((item.get("from") or {}).get("id")), str((item.get("to") or {}).get("id"))
            types = [int(x.get("associationTypeId", 0)) for x in item.get("types") or []]
            valid = {x[0] for x in ASSOC_TYPES.get((f, t), [])}
            try:
                if not types or any(x not in valid for x in types):
                    raise ApiError(400, "VALIDATION_ERROR", f"Invalid association type ids {types} for {f} to {t}")
                for x in types:
                    store.associate(f, int(fid) if fid.isdigit() else -1, t, int(tid) if tid.isdigit() else -1, x)
            except ApiError as e:
                errors.append(e.batch_error({"fromObjectId": [fid], "toObjectId": [tid]}))
                continue
            results.append({"fromObjectTypeId": OBJECT_TYPE_IDS[f], "fromObjectId": fid,
                            "toObjectTypeId": OBJECT_TYPE_IDS[t], "toObjectId": tid,
                            "labels": [lab for x, lab in ASSOC_TYPES[(f, t)] if x in types and lab]})
        return batch_response(results, errors, started, 201)


    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/archive")
    async def assoc_batch_archive(from_type: str, to_type: str, request: Request) -> Response:
        """Every association type between each pair goes; pairs not associated are ignored (204)."""
        f, t = store.object_type(from_type), store.object_type(to_type)
        for item in batch_inputs(await read_json(request)):
            fid = str((item.get("from") or {}).get("id"))
            for to in item.get("to") or []:
                tid = str((to or {}).get("id"))
                if fid.isdigit() and tid.isdigit():
                    store.dissociate(f, int(fid), t, int(tid))
        return Response(status_code=204)
