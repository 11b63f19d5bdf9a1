"""CRM objects v3, one record at a time: ``/crm/v3/objects/{object_type}[/{object_id}]``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import flag, int_param, props_param, read_json
from accord.sandbox.hubspot.store import ApiError, Obj, Store


def out_props(store: Store, t: str, requested: list[str] | None) -> list[str] | tuple[str, ...]:
    return requested or store.kinds[t].default_props


def assoc_param(store: Store, request: Request) -> list[str]:
    # "If any of the specified associations do not exist, they will be ignored" (the spec)
    names = [p for v in request.query_params.getlist("associations") for p in v.split(",") if p]
    return [store.aliases.get(n, n) for n in names if store.aliases.get(n, n) in store.kinds]


def with_associations(store: Store, t: str, o: Obj, wire: dict[str, Any], to_types: list[str]) -> dict[str, Any]:
    """v3's ``associations`` map: per associated type, one ``{id, type}`` per association type,
    the unlabeled one named ``…_unlabeled`` where the pair also has a labelled (primary) type;
    types without associations are left out."""
    out: dict[str, Any] = {}
    for to in to_types:
        found = store.associated(t, o.id, to)
        if not found:
            continue
        types = store.assoc_types.get((t, to), [])
        labelled = any(label for _, label in types)
        base = f"{store.kinds[t].singular}_to_{store.kinds[to].singular}"
        results = []
        for to_id, type_ids in sorted(found.items()):
            for tid in sorted(type_ids):
                label = dict(types).get(tid)
                results.append({"id": str(to_id), "type": base if label or not labelled else f"{base}_unlabeled"})
        out[to] = {"results": results}
    if out:
        wire["associations"] = out
    return wire


def create_associations(store: Store, t: str, obj_id: int, assocs: list[dict[str, Any]]) -> None:
    for a in assocs:
        to_id = int(str((a.get("to") or {}).get("id", "0")))
        for spec in a.get("types") or []:
            tid = int(spec.get("associationTypeId", 0))
            targets = [to for (fr, to), types in store.assoc_types.items()
                       if fr == t and any(x[0] == tid for x in types)]
            if not targets:
                raise ApiError(400, "VALIDATION_ERROR", f"Unknown association type {tid} for {t}")
            store.associate(t, obj_id, targets[0], to_id, tid)


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(object_type: str, request: Request) -> JSONResponse:
        t = store.type_of(object_type)
        q = request.query_params
        limit = int_param(q.get("limit"), "limit", 10)
        if not 1 <= limit <= 100:
            raise ApiError(400, "VALIDATION_ERROR", "limit must be between 1 and 100")
        after = int_param(q.get("after"), "after", 0)
        objs, nxt = store.page(t, after, limit, flag(request, "archived"))
        props = out_props(store, t, props_param(request))
        assoc = assoc_param(store, request)
        body: dict[str, Any] = {"results": [with_associations(store, t, o, o.wire(props), assoc) for o in objs]}
        sb.counters["results_list"] += len(objs)  # records served, for benchmarks' page-fill figures
        if nxt is not None:
            # an absolute link built from the request's own host: some clients follow it verbatim
            link = str(request.url.include_query_params(after=str(nxt)))
            body["paging"] = {"next": {"after": str(nxt), "link": link}}
        return JSONResponse(body)

    @app.post("/crm/v3/objects/{object_type}")
    async def create_object(object_type: str, request: Request) -> JSONResponse:
        t = store.type_of(object_type)
        body = await read_json(request)
        o = store.create(t, body.get("properties") or {}, request.state.source)
        create_associations(store, t, o.id, body.get("associations") or [])
        return JSONResponse(o.wire(o.props), status_code=201)

    @app.post("/crm/v3/objects/{object_type}/gdpr-delete")
    async def gdpr_delete(object_type: str, request: Request) -> Response:
        t = store.type_of(object_type)
        body = await read_json(request)
        if not body.get("objectId"):
            raise ApiError(400, "VALIDATION_ERROR", "objectId is required")
        store.gdpr_delete(t, str(body["objectId"]), request.state.source, id_property=body.get("idProperty"))
        return Response(status_code=204)

    @app.post("/crm/v3/objects/{object_type}/merge")
    async def merge_objects(object_type: str, request: Request) -> JSONResponse:
        t = store.type_of(object_type)
        body = await read_json(request)
        primary, other = body.get("primaryObjectId"), body.get("objectIdToMerge")
        if not primary or not other:
            raise ApiError(400, "VALIDATION_ERROR", "primaryObjectId and objectIdToMerge are required")
        o = store.merge(t, str(primary), str(other), request.state.source)
        return JSONResponse(o.wire(o.props))

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def get_object(object_type: str, object_id: str, request: Request) -> JSONResponse:
        t = store.type_of(object_type)
        o = store.get(t, object_id, archived=flag(request, "archived"), id_property=request.query_params.get("idProperty"))
        wire = o.wire(out_props(store, t, props_param(request)))
        return JSONResponse(with_associations(store, t, o, wire, assoc_param(store, request)))

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update_object(object_type: str, object_id: str, request: Request) -> JSONResponse:
        t = store.type_of(object_type)
        body = await read_json(request)
        o = store.get(t, object_id, id_property=request.query_params.get("idProperty"))
        o = store.update(t, o.id, body.get("properties") or {}, request.state.source)
        return JSONResponse(o.wire(o.props))

    @app.delete("/crm/v3/objects/{object_type}/{object_id}")
    async def delete_object(object_type: str, object_id: str, request: Request) -> Response:
        t = store.type_of(object_type)
        if object_id.isdigit():
            store.archive(t, int(object_id), request.state.source)
        return Response(status_code=204)

