"""sObject Collections: ``/services/data/{v}/composite/sobjects`` (create, update, delete up to
200 records, ``allOrNone`` optional) and ``…/composite/sobjects/{t}`` (read by ids)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request

from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.routes.common import MAX_COLLECTION, allow_save, field_name, read_json
from accord.sandbox.salesforce.schema import normalize_id
from accord.sandbox.salesforce.store import RecordError, RequestError, SfError


def _failed(item: Any, e: RecordError) -> dict[str, Any]:
    res: dict[str, Any] = {"success": False, "errors": [x.collection() for x in e.errors]}
    if isinstance(item, str):
        res = {"id": item, **res}
    elif isinstance(item, dict) and item.get("Id"):
        res = {"id": item["Id"], **res}
    return res


def _collection(sb: SalesforceCore, items: list[Any], all_or_none: bool,
                op: Callable[[Any], str]) -> list[dict[str, Any]]:
    if len(items) > MAX_COLLECTION:
        raise RequestError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 "
                           "records into this call")
    results: list[dict[str, Any]] = []
    failed = False
    with sb.org.all_or_none() as journal:
        for item in items:
            try:
                id = op(item)
                results.append({"id": id, "success": True, "errors": []})
            except RecordError as e:
                failed = True
                results.append(_failed(item, e))
        if all_or_none and failed:
            sb.org.rollback(journal)
            rolled = SfError("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records "
                             "were valid and the request was using AllOrNone header")
            for r in results:
                if r["success"]:
                    r.update(success=False, id=None, errors=[rolled.collection()])
    return results


def _records(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise RequestError(400, "JSON_PARSER_ERROR", "Expected an object with a records array")
    records = body["records"]
    for r in records:
        if not isinstance(r, dict) or not isinstance(r.get("attributes"), dict) or "type" not in r["attributes"]:
            raise RequestError(400, "INVALID_TYPE", "Must specify a type in the attributes of each record")
    return records, bool(body.get("allOrNone", False))


def register(app: FastAPI, sb: SalesforceCore) -> None:
    @app.post("/services/data/{v}/composite/sobjects")
    async def collection_create(v: str, request: Request) -> list[dict[str, Any]]:
        records, aon = _records(await read_json(request))
        allow = allow_save(request)
        return _collection(sb, records, aon, lambda r: sb.org.create(r["attributes"]["type"], r, allow_save=allow))

    @app.patch("/services/data/{v}/composite/sobjects")
    async def collection_update(v: str, request: Request) -> list[dict[str, Any]]:
        records, aon = _records(await read_json(request))
        allow = allow_save(request)

        def op(r: dict[str, Any]) -> str:
            if not r.get("Id"):
                raise RecordError(SfError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]))
            return sb.org.update(r["attributes"]["type"], str(r["Id"]), r, allow_save=allow)

        return _collection(sb, records, aon, op)

    @app.delete("/services/data/{v}/composite/sobjects")
    async def collection_delete(v: str, ids: str = "", allOrNone: str = "false") -> list[dict[str, Any]]:
        id_list = [i.strip() for i in ids.split(",") if i.strip()]
        if not id_list:
            raise RequestError(400, "MISSING_ARGUMENT", "ids is required")
        return _collection(sb, id_list, allOrNone.lower() == "true", lambda i: sb.org.delete(None, i))

    @app.get("/services/data/{v}/composite/sobjects/{t}")
    async def collection_read(v: str, t: str, ids: str = "", fields: str = "Id") -> list[Any]:
        obj = sb.org.obj(t)
        names = [field_name(obj, f) for f in fields.split(",")]
        out: list[Any] = []
        with sb.org.lock:
            for i in ids.split(","):
                row = sb.org.rows[obj.name].get(normalize_id(i.strip()) or "")
                ok = row is not None and not row["IsDeleted"]
                out.append(sb.org.render(obj, sb.org.view(obj, row), names, v) if row and ok else None)
        return out
