"""CRM objects v3 in batches: ``/crm/v3/objects/{object_type}/batch/{read,create,update,upsert,archive}``.

A batch answers 200/201 when every input succeeded, 207 with ``errors`` when some failed, and the
plain error when its only input failed; the half-batch fault carries out half the inputs, then 500s.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import (
    batch_inputs,
    batch_response,
    flag,
    half_batch,
    half_failed,
    read_json,
)
from accord.sandbox.hubspot.routes.objects import create_associations, out_props
from accord.sandbox.hubspot.store import ApiError, Obj, iso_ms


def _fail(sb: HubSpotCore, e: ApiError, ctx: dict[str, list[str]], atomic: bool) -> dict[str, Any]:
    if atomic and sb.settings.atomic_batch_errors:
        raise e
    return e.batch_error(ctx)


def _precheck(sb: HubSpotCore, t: str, items: list[dict[str, Any]]) -> None:
    # atomic mode: the whole batch fails before anything is written
    if sb.settings.atomic_batch_errors:
        for item in items:
            sb.store.validate(t, item.get("properties") or {})


def _trace(item: dict[str, Any]) -> dict[str, list[str]]:
    tid = item.get("objectWriteTraceId")
    return {"objectWriteTraceId": [str(tid)]} if tid is not None else {}


def _wire(o: Obj, item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out = o.wire(o.props)
    if item.get("objectWriteTraceId") is not None:
        out["objectWriteTraceId"] = str(item["objectWriteTraceId"])
    out.update(extra)
    return out


def _single(items: list[dict[str, Any]], first: ApiError | None) -> None:
    # A one-input batch that failed is answered with the plain error, not a 207.
    if len(items) == 1 and first is not None:
        raise first


def _now() -> str:
    return iso_ms(int(time.time() * 1000))


def _answered(sb: HubSpotCore, results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str,
              ok_status: int) -> JSONResponse:
    """A batch write's answer; with ``shuffle_batch_results``, its results in random order and
    without the trace ids of the inputs (results and errors alike)."""
    if sb.settings.shuffle_batch_results:
        for r in results:
            r.pop("objectWriteTraceId", None)
        for e in errors:
            (e.get("context") or {}).pop("objectWriteTraceId", None)
        with sb.lock:
            sb.shuffler.shuffle(results)
    return batch_response(results, errors, started, ok_status)


def register(app: FastAPI, sb: HubSpotCore) -> None:
    _read_and_create(app, sb)
    _update_upsert_archive(app, sb)


def _read_and_create(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.post("/crm/v3/objects/{object_type}/batch/read")
    async def batch_read(object_type: str, request: Request) -> JSONResponse:
        t, started = store.type_of(object_type), _now()
        body = await read_json(request)
        items = batch_inputs(body)
        props = out_props(store, t, list(body.get("properties") or []) or None)
        id_prop = body.get("idProperty")
        results, missing = [], []
        for item in items:
            try:
                o = store.get(t, str(item.get("id")), archived=flag(request, "archived"), id_property=id_prop)
                results.append(o.wire(props))
            except ApiError:
                missing.append(str(item.get("id")))
        errors = [ApiError(404, "OBJECT_NOT_FOUND", f"Could not get some {store.kinds[t].singular.upper()} objects, they may be "
                           "deleted or not exist. Check that ids are valid.").batch_error({"ids": missing})] if missing else []
        return batch_response(results, errors, started, 200)

    @app.post("/crm/v3/objects/{object_type}/batch/create")
    async def batch_create(object_type: str, request: Request) -> JSONResponse:
        t, started = store.type_of(object_type), _now()
        items = batch_inputs(await read_json(request))
        _precheck(sb, t, items)
        items, halved = half_batch(request, items)
        results, errors, first = [], [], None
        for item in items:
            try:
                o = store.create(t, item.get("properties") or {}, request.state.source)
                create_associations(store, t, o.id, item.get("associations") or [])
                results.append(_wire(o, item))
            except ApiError as e:
                first = first or e
                errors.append(_fail(sb, e, _trace(item), True))
        if halved:
            raise half_failed()
        _single(items, first)
        return _answered(sb, results, errors, started, 201)


def _reject_duplicates(keys: list[str]) -> None:
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ApiError(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")


def _upsert_one(sb: HubSpotCore, t: str, item: dict[str, Any], request: Request) -> dict[str, Any]:
    """Update the record ``item`` names, or create it when an ``idProperty`` other than the id finds none."""
    store = sb.store
    id_prop = item.get("idProperty") or "hs_object_id"
    props = dict(item.get("properties") or {})
    try:
        o = store.get(t, str(item.get("id")), id_property=id_prop)
        o = store.update(t, o.id, props, request.state.source)
        return _wire(o, item, new=False)
    except ApiError as e:
        if e.status != 404 or id_prop == "hs_object_id":
            raise
        props[id_prop] = item.get("id")
        o = store.create(t, props, request.state.source)
        return _wire(o, item, new=True)


def _update_upsert_archive(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.post("/crm/v3/objects/{object_type}/batch/update")
    async def batch_update(object_type: str, request: Request) -> JSONResponse:
        t, started = store.type_of(object_type), _now()
        items = batch_inputs(await read_json(request))
        _reject_duplicates([str(i.get("id")) for i in items])
        items, halved = half_batch(request, items)
        results, errors, first = [], [], None
        for item in items:
            try:
                o = store.get(t, str(item.get("id")), id_property=item.get("idProperty"))
                o = store.update(t, o.id, item.get("properties") or {}, request.state.source)
                results.append(_wire(o, item))
            except ApiError as e:
                first = first or e
                errors.append(_fail(sb, e, {"ids": [str(item.get("id"))], **_trace(item)}, e.status != 404))
        if halved:
            raise half_failed()
        _single(items, first)
        return _answered(sb, results, errors, started, 200)

    @app.post("/crm/v3/objects/{object_type}/batch/upsert")
    async def batch_upsert(object_type: str, request: Request) -> JSONResponse:
        t, started = store.type_of(object_type), _now()
        items = batch_inputs(await read_json(request))
        _reject_duplicates([str(i.get("id", "")).strip().lower() for i in items])
        items, halved = half_batch(request, items)
        results, errors, first = [], [], None
        for item in items:
            try:
                results.append(_upsert_one(sb, t, item, request))
            except ApiError as e:
                first = first or e
                errors.append(_fail(sb, e, {"ids": [str(item.get("id"))], **_trace(item)}, True))
        if halved:
            raise half_failed()
        _single(items, first)
        return _answered(sb, results, errors, started, 200)

    @app.post("/crm/v3/objects/{object_type}/batch/archive")
    async def batch_archive(object_type: str, request: Request) -> Response:
        t = store.type_of(object_type)
        items, halved = half_batch(request, batch_inputs(await read_json(request)))
        for item in items:
            if str(item.get("id")).isdigit():
                store.archive(t, int(item["id"]), request.state.source)  # unknown ids are ignored, as HubSpot does
        if halved:
            raise half_failed()
        return Response(status_code=204)
