"""The Salesforce REST API sandbox: FastAPI routes over :class:`~.store.Org`, plus the
``/_sandbox/`` admin routes and the :class:`SalesforceSandbox` handle used in-process."""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.schema import OBJECTS, normalize_id
from accord.sandbox.salesforce.store import (
    Org,
    RecordError,
    RequestError,
    SfError,
    Stats,
    ValidationRule,
    fmt_datetime,
)
from accord.sandbox.salesforce.tls import TlsFiles, make_certificates
from accord.sandbox.server import ServerThread

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")
_RELEASES = {"58.0": "Summer '23", "59.0": "Winter '24", "60.0": "Spring '24", "61.0": "Summer '24",
             "62.0": "Winter '25"}
_VERSION = re.compile(r"^v\d{2}\.\d$")
MAX_COLLECTION = 200


@dataclass
class Faults:
    """Injected failures, drawn per API call. ``queue`` forces the next calls' outcomes
    (``rate_limit``, ``error``, ``timeout``) for deterministic tests."""

    rate_limit: float = 0.0  # 403 REQUEST_LIMIT_EXCEEDED (concurrent-request limit)
    error: float = 0.0  # 500 UNKNOWN_EXCEPTION
    timeout: float = 0.0  # hang for hang_seconds, longer than the client's time-out
    hang_seconds: float = 30.0
    queue: list[str] = field(default_factory=list)


@dataclass
class SandboxSettings:
    records: int = 0
    seed: int = 42
    token: str | None = None  # None: any non-empty bearer token is accepted
    daily_limit: int = 100_000  # DailyApiRequests.Max
    page_size: int = 2000  # query page size when no batchSize is asked for
    deleted_window_days: int = 15  # getDeleted reaches back this far
    updated_window_days: int = 30  # getUpdated reaches back this far
    duplicate_rule: bool = False  # block duplicate Contact/Lead emails
    fault_seed: int = 0
    latency: float = 0.0  # seconds every API call waits before it is served: a remote org's round trip


class SalesforceSandbox:
    """An in-memory Salesforce org with its REST API as an ASGI app (``.app``)."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings(**overrides)
        self.org = Org()
        self.stats = Stats()
        self.faults = Faults()
        self.api_used = 0
        self._rng = random.Random(self.settings.fault_seed)
        self._locators: OrderedDict[str, tuple[list[dict[str, Any]], int]] = OrderedDict()
        self._lock = threading.Lock()
        self.set_duplicate_rule(self.settings.duplicate_rule)
        if self.settings.records:
            self.org.seed(self.settings.records, self.settings.seed)
        self.app = build_app(self)
        self.server: ServerThread | None = None
        self.tls: TlsFiles | None = None

    # -- direct handle for tests and the demo ------------------------------------------
    def seed(self, n: int, seed: int | None = None) -> dict[str, int]:
        return self.org.seed(n, self.settings.seed if seed is None else seed)

    def reset(self, records: int = 0, seed: int | None = None) -> None:
        self.org.reset()
        self._locators.clear()
        self.api_used = 0
        self.stats = Stats()
        if records:
            self.seed(records, seed)

    def create(self, type_: str, values: dict[str, Any], *, rules: bool = False) -> str:
        """Create a record as a user would (validation and duplicate rules off unless ``rules``)."""
        return self.org.create(type_, values, allow_save=not rules, rules=rules)

    def update(self, type_: str, id: str, values: dict[str, Any], *, rules: bool = False) -> None:
        self.org.update(type_, id, values, allow_save=not rules, rules=rules)

    def delete(self, type_: str, id: str) -> None:
        self.org.delete(type_, id)

    def touch(self, type_: str, id: str) -> None:
        self.org.touch(type_, id)

    def get(self, type_: str, id: str) -> dict[str, Any] | None:
        """The record as the API returns it (all fields, formulas evaluated), deleted ones included."""
        obj = self.org.obj(type_)
        with self.org.lock:
            row = self.org.rows[obj.name].get(normalize_id(id) or "")
            return self.org.render(obj, self.org.view(obj, row), obj.fields, "v62.0") if row else None

    def records(self, type_: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        obj = self.org.obj(type_)
        with self.org.lock:
            return [self.org.render(obj, self.org.view(obj, r), obj.fields, "v62.0")
                    for r in self.org.rows[obj.name].values() if include_deleted or not r["IsDeleted"]]

    def advance(self, seconds: float) -> datetime:
        return self.org.advance(seconds)

    def set_faults(self, **kw: Any) -> Faults:
        self.faults = Faults(**kw)
        return self.faults

    def add_validation_rule(self, object: str, condition: str, message: str, field: str | None = None,
                            name: str | None = None) -> ValidationRule:
        soql.parse(f"SELECT Id FROM {object} WHERE {condition}")  # fail early on a bad condition
        rule = ValidationRule(name or f"Rule_{len(self.org.validation_rules) + 1}", object, condition, message, field)
        self.org.validation_rules.append(rule)
        return rule

    def set_duplicate_rule(self, enabled: bool, objects: tuple[str, ...] = ("Contact", "Lead")) -> None:
        self.org.duplicate_objects = set(objects) if enabled else set()

    def set_limits(self, daily_limit: int | None = None, used: int | None = None) -> None:
        if daily_limit is not None:
            self.settings.daily_limit = daily_limit
        if used is not None:
            self.api_used = used

    def start(self, host: str = "127.0.0.1", port: int | None = None, tls: bool = True) -> ServerThread:
        """Serve on loopback in a background thread (TLS with a fresh CA by default)."""
        self.tls = make_certificates() if tls else None
        srv = ServerThread(self.app, host, port, ssl_certfile=self.tls.certfile if self.tls else None,
                           ssl_keyfile=self.tls.keyfile if self.tls else None)
        srv.server.config.date_header = False  # the sandbox sends its own Date, from its own clock
        srv.server.config.timeout_graceful_shutdown = 1  # don't wait out requests hung by fault injection
        self.server = srv.start()
        return srv

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    @property
    def url(self) -> str:
        assert self.server is not None, "call start() first"
        return self.server.url

    # -- API plumbing ----------------------------------------------------------------
    def limit_info(self) -> str:
        return f"api-usage={self.api_used}/{self.settings.daily_limit}"

    def page(self, version: str, endpoint: str, records: list[dict[str, Any]], start: int, batch: int,
             locator: str | None = None) -> dict[str, Any]:
        end = start + batch
        out: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
        if end < len(records):
            with self._lock:
                if locator is None:
                    locator = "01g" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(15))
                self._locators[locator] = (records, batch)
                self._locators.move_to_end(locator)
                while len(self._locators) > 100:  # like an org's cap on open query cursors
                    self._locators.popitem(last=False)
            out["nextRecordsUrl"] = f"/services/data/{version}/{endpoint}/{locator}-{end}"
        out["records"] = records[start:end]
        return out

    def more(self, version: str, endpoint: str, token: str) -> dict[str, Any]:
        loc, _, offset = token.rpartition("-")
        with self._lock:
            entry = self._locators.get(loc)
        if entry is None or not offset.isdigit():
            raise RequestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, batch = entry
        return self.page(version, endpoint, records, int(offset), batch, loc)


def _errors(status: int, *errors: SfError) -> JSONResponse:
    return JSONResponse([e.rest() for e in errors], status_code=status)


def _allow_save(request: Request) -> bool:
    header = request.headers.get("sforce-duplicate-rule-header", "")
    return bool(re.search(r"allowSave\s*=\s*true", header, re.IGNORECASE))


def _batch_size(request: Request, default: int) -> int:
    m = re.search(r"batchSize\s*=\s*(\d+)", request.headers.get("sforce-query-options", ""))
    return max(200, min(2000, int(m.group(1)))) if m else default  # Salesforce clamps to 200..2000


def _kind(path: str) -> str:
    parts = path.split("/")[4:]  # after /services/data/vXX.X/
    if not parts or not parts[0]:
        return "resources"
    if parts[0] == "sobjects" and len(parts) >= 3 and parts[2] in ("describe", "updated", "deleted"):
        return parts[2]
    return {"queryAll": "query"}.get(parts[0], parts[0])


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except json.JSONDecodeError as e:
        raise RequestError(400, "JSON_PARSER_ERROR", f"Unexpected character: {e.msg} at [line:{e.lineno}, "
                           f"column:{e.colno}]") from e


def _parse_window(sb: SalesforceSandbox, obj_name: str, start: str | None, end: str | None,
                  days: int) -> tuple[datetime, datetime]:
    if not start or not end:
        raise RequestError(400, "MISSING_ARGUMENT", "start and end are required")
    try:
        # the seconds of both bounds are ignored, as getUpdated/getDeleted do
        s = soql.parse_datetime(start.replace(" ", "+")).replace(second=0, microsecond=0)
        e = soql.parse_datetime(end.replace(" ", "+")).replace(second=0, microsecond=0)
    except ValueError as ex:
        raise RequestError(400, "INVALID_REPLICATION_DATE", f"invalid date: {ex}") from ex
    now = sb.org.now()
    if e - s < timedelta(minutes=1):
        # unconfirmed wording; Salesforce returns this code when the window is under a minute
        raise RequestError(400, "INVALID_REPLICATION_DATE", "startDate must be at least one minute greater than endDate")
    oldest = now.replace(second=0) - timedelta(days=days)
    purged = sb.org.purged_before.get(obj_name)
    if s < oldest or (purged is not None and s < purged):
        # unconfirmed wording; the code is the documented one for a start past the delete log
        raise RequestError(400, "INVALID_REPLICATION_DATE", "startDate before org replication enabled date")
    return s, min(e, now)


def build_app(sb: SalesforceSandbox) -> FastAPI:
    app = FastAPI(title="Salesforce REST API sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json",
                  redirect_slashes=False)

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return _errors(exc.status, exc.error)

    @app.exception_handler(RecordError)
    async def _record_error(_: Request, exc: RecordError) -> JSONResponse:
        return _errors(400, *exc.errors)

    @app.exception_handler(soql.SoqlError)
    async def _soql_error(_: Request, exc: soql.SoqlError) -> JSONResponse:
        return _errors(400, SfError(exc.code, exc.message))

    @app.middleware("http")
    async def _api(request: Request, call_next: Any) -> Response:
        path = request.scope["path"]
        if len(path) > 1 and path.endswith("/"):
            # simple-salesforce asks for both ".../query/" and ".../describe"; serve either
            request.scope["path"] = path = path.rstrip("/")
        is_api = path.startswith("/services/data/v")
        if is_api:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            token = token.strip()
            if scheme.lower() not in ("bearer", "oauth") or not token or (
                sb.settings.token is not None and token != sb.settings.token
            ):
                return _errors(401, SfError("INVALID_SESSION_ID", "Session expired or invalid"))
            if sb.api_used >= sb.settings.daily_limit:
                resp: Response = _errors(403, SfError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
                resp.headers["Sforce-Limit-Info"] = sb.limit_info()
                return resp
            sb.api_used += 1
            sb.stats.calls += 1
            kind = _kind(path)
            sb.stats.by_kind[kind] = sb.stats.by_kind.get(kind, 0) + 1
            fault = _draw_fault(sb)
            if fault:
                sb.stats.faults[fault] = sb.stats.faults.get(fault, 0) + 1
            if fault == "timeout":
                await asyncio.sleep(sb.faults.hang_seconds)
            elif fault == "rate_limit":
                resp = _errors(403, SfError("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."))
                resp.headers["Sforce-Limit-Info"] = sb.limit_info()
                return resp
            elif fault == "error":
                resp = _errors(500, SfError("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include "
                                            "this ErrorId if you contact support: 1712345678-90123 (-1234567890)"))
                resp.headers["Sforce-Limit-Info"] = sb.limit_info()
                return resp
            if not _VERSION.match(path.split("/")[3]):
                return _errors(404, SfError("NOT_FOUND", "The requested resource does not exist"))
            if sb.settings.latency:
                await asyncio.sleep(sb.settings.latency)
        response: Response = await call_next(request)
        if is_api:
            response.headers["Sforce-Limit-Info"] = sb.limit_info()
        if path.startswith("/services/"):
            response.headers["Date"] = format_datetime(sb.org.now(), usegmt=True)
        return response

    # -- discovery ---------------------------------------------------------------------
    @app.get("/services/data")
    async def versions() -> list[dict[str, str]]:
        return [{"label": _RELEASES[v], "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS]

    @app.get("/services/data/{v}")
    async def resources(v: str) -> dict[str, str]:
        base = f"/services/data/{v}"
        return {k: f"{base}/{k}" for k in ("sobjects", "query", "queryAll", "limits", "composite")}

    @app.get("/services/data/{v}/limits")
    async def limits(v: str) -> dict[str, Any]:
        m = sb.settings.daily_limit
        return {
            "DailyApiRequests": {"Max": m, "Remaining": max(0, m - sb.api_used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
        }

    @app.get("/services/data/{v}/sobjects")
    async def global_describe(v: str) -> dict[str, Any]:
        return {"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION,
                "sobjects": [o.summary(v) for o in OBJECTS.values()]}

    @app.get("/services/data/{v}/sobjects/{t}/describe")
    async def describe(v: str, t: str) -> dict[str, Any]:
        return sb.org.obj(t).describe(v)

    @app.get("/services/data/{v}/sobjects/{t}")
    async def sobject_info(v: str, t: str) -> dict[str, Any]:
        return {"objectDescribe": sb.org.obj(t).summary(v), "recentItems": []}

    # -- replication -----------------------------------------------------------------------
    @app.get("/services/data/{v}/sobjects/{t}/updated")
    async def get_updated(v: str, t: str, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        obj = sb.org.obj(t)
        s, e = _parse_window(sb, obj.name, start, end, sb.settings.updated_window_days)
        return {"ids": sb.org.updated_ids(obj, s, e), "latestDateCovered": fmt_datetime(e)}

    @app.get("/services/data/{v}/sobjects/{t}/deleted")
    async def get_deleted(v: str, t: str, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        obj = sb.org.obj(t)
        s, e = _parse_window(sb, obj.name, start, end, sb.settings.deleted_window_days)
        earliest = sb.org.purged_before.get(obj.name) or sb.org.now().replace(second=0) - timedelta(
            days=sb.settings.deleted_window_days)
        return {
            "deletedRecords": [{"id": i, "deletedDate": fmt_datetime(d)} for i, d in sb.org.deleted(obj, s, e)],
            "earliestDateAvailable": fmt_datetime(earliest),
            "latestDateCovered": fmt_datetime(e),
        }

    # -- single records ------------------------------------------------------------------
    @app.post("/services/data/{v}/sobjects/{t}")
    async def create(v: str, t: str, request: Request) -> JSONResponse:
        body = await _json(request)
        if not isinstance(body, dict):
            raise RequestError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        id = sb.org.create(t, body, allow_save=_allow_save(request))
        return JSONResponse({"id": id, "success": True, "errors": []}, status_code=201)

    @app.get("/services/data/{v}/sobjects/{t}/{id}")
    async def read(v: str, t: str, id: str, fields: str | None = None) -> dict[str, Any]:
        obj = sb.org.obj(t)
        with sb.org.lock:
            row = sb.org.view(obj, sb.org.get(obj, id))
        names = [_field(obj, f) for f in fields.split(",")] if fields else list(obj.fields)
        return sb.org.render(obj, row, names, v)

    @app.patch("/services/data/{v}/sobjects/{t}/{id}")
    async def update(v: str, t: str, id: str, request: Request) -> Response:
        body = await _json(request)
        obj = sb.org.obj(t)
        sb.org.get(obj, id)  # 404 for an unknown or deleted id, as the single-record resource does
        sb.org.update(t, id, body or {}, allow_save=_allow_save(request))
        return Response(status_code=204)

    @app.delete("/services/data/{v}/sobjects/{t}/{id}")
    async def delete(v: str, t: str, id: str) -> Response:
        obj = sb.org.obj(t)
        sb.org.get(obj, id)
        sb.org.delete(obj.name, id)
        return Response(status_code=204)

    @app.get("/services/data/{v}/sobjects/{t}/{ext_field}/{value}")
    async def read_by_external_id(v: str, t: str, ext_field: str, value: str) -> Any:
        obj = sb.org.obj(t)
        f = _external_field(obj, ext_field)
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
        f = _external_field(obj, ext_field)
        body = dict(await _json(request) or {})
        if any(k.lower() == f.lower() for k in body) and f != "Id":
            raise RequestError(400, "INVALID_FIELD", f"The external ID field {f} can't be included in the "
                               "request body when it's in the URL")
        with sb.org.lock:
            hits = [r for r in sb.org.find_by(obj, f, value)] if f != "Id" else []
            if len(hits) > 1:
                urls = [f"/services/data/{v}/sobjects/{obj.name}/{r['Id']}" for r in hits]
                return JSONResponse(urls, status_code=300)
            if hits:
                id = sb.org.update(obj.name, hits[0]["Id"], body, allow_save=_allow_save(request))
                return JSONResponse({"id": id, "success": True, "errors": [], "created": False}, status_code=200)
            if f == "Id":
                raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
            id = sb.org.create(obj.name, {**body, f: value}, allow_save=_allow_save(request))
        return JSONResponse({"id": id, "success": True, "errors": [], "created": True}, status_code=201)

    # -- query -------------------------------------------------------------------------------
    def _query(v: str, endpoint: str, q: str | None, request: Request) -> dict[str, Any]:
        if not q:
            raise RequestError(400, "MALFORMED_QUERY", "A query string has to be specified")
        parsed = soql.parse(q)
        rows = sb.org.query(parsed, include_deleted=endpoint == "queryAll")
        if parsed.fields is None:
            return {"totalSize": len(rows), "done": True, "records": []}
        with sb.org.lock:
            records = [sb.org.render(parsed.sobject, r, parsed.fields, v) for r in rows]
        return sb.page(v, endpoint, records, 0, _batch_size(request, sb.settings.page_size))

    @app.get("/services/data/{v}/query")
    async def query(v: str, request: Request, q: str | None = None) -> dict[str, Any]:
        return _query(v, "query", q, request)

    @app.get("/services/data/{v}/queryAll")
    async def query_all(v: str, request: Request, q: str | None = None) -> dict[str, Any]:
        return _query(v, "queryAll", q, request)

    @app.get("/services/data/{v}/query/{token}")
    async def query_more(v: str, token: str) -> dict[str, Any]:
        return sb.more(v, "query", token)

    @app.get("/services/data/{v}/queryAll/{token}")
    async def query_all_more(v: str, token: str) -> dict[str, Any]:
        return sb.more(v, "queryAll", token)

    # -- sObject Collections ----------------------------------------------------------------
    def _collection(items: list[Any], all_or_none: bool, op: Any) -> list[dict[str, Any]]:
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
                    res: dict[str, Any] = {"success": False, "errors": [x.collection() for x in e.errors]}
                    if isinstance(item, str):
                        res = {"id": item, **res}
                    elif isinstance(item, dict) and item.get("Id"):
                        res = {"id": item["Id"], **res}
                    results.append(res)
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

    @app.post("/services/data/{v}/composite/sobjects")
    async def collection_create(v: str, request: Request) -> list[dict[str, Any]]:
        records, aon = _records(await _json(request))
        allow = _allow_save(request)
        return _collection(records, aon, lambda r: sb.org.create(r["attributes"]["type"], r, allow_save=allow))

    @app.patch("/services/data/{v}/composite/sobjects")
    async def collection_update(v: str, request: Request) -> list[dict[str, Any]]:
        records, aon = _records(await _json(request))
        allow = _allow_save(request)

        def op(r: dict[str, Any]) -> str:
            if not r.get("Id"):
                raise RecordError(SfError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]))
            return sb.org.update(r["attributes"]["type"], str(r["Id"]), r, allow_save=allow)

        return _collection(records, aon, op)

    @app.delete("/services/data/{v}/composite/sobjects")
    async def collection_delete(v: str, ids: str = "", allOrNone: str = "false") -> list[dict[str, Any]]:
        id_list = [i.strip() for i in ids.split(",") if i.strip()]
        if not id_list:
            raise RequestError(400, "MISSING_ARGUMENT", "ids is required")
        return _collection(id_list, allOrNone.lower() == "true", lambda i: sb.org.delete(None, i))

    @app.get("/services/data/{v}/composite/sobjects/{t}")
    async def collection_read(v: str, t: str, ids: str = "", fields: str = "Id") -> list[Any]:
        obj = sb.org.obj(t)
        names = [_field(obj, f) for f in fields.split(",")]
        out: list[Any] = []
        with sb.org.lock:
            for i in ids.split(","):
                row = sb.org.rows[obj.name].get(normalize_id(i.strip()) or "")
                ok = row is not None and not row["IsDeleted"]
                out.append(sb.org.render(obj, sb.org.view(obj, row), names, v) if row and ok else None)
        return out

    add_admin_routes(app, sb)
    return app


def _field(obj: Any, name: str) -> str:
    f = obj.field(name.strip())
    if f is None:
        raise RequestError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
    return str(f.name)


def _external_field(obj: Any, name: str) -> str:
    f = obj.field(name)
    if f is None or not (f.external_id or f.name == "Id"):
        raise RequestError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}")
    return str(f.name)


def _draw_fault(sb: SalesforceSandbox) -> str | None:
    f = sb.faults
    if f.queue:
        return f.queue.pop(0)
    x = sb._rng.random()
    for kind, rate in (("rate_limit", f.rate_limit), ("error", f.error), ("timeout", f.timeout)):
        if x < rate:
            return kind
        x -= rate
    return None


def add_admin_routes(app: FastAPI, sb: SalesforceSandbox) -> None:
    """``/_sandbox/``: state, users' edits, faults and rules. Not part of Salesforce's API,
    so no auth and no API-call accounting."""

    def wrap(fn: Any) -> Any:
        try:
            return fn()
        except RecordError as e:
            raise RequestError(400, e.errors[0].code, e.errors[0].message) from e

    @app.post("/_sandbox/reset")
    async def reset(body: dict[str, Any] | None = None) -> dict[str, Any]:
        body = body or {}
        sb.reset(int(body.get("records", 0)), body.get("seed"))
        return {"ok": True}

    @app.post("/_sandbox/seed")
    async def seed(body: dict[str, Any]) -> dict[str, int]:
        return sb.seed(int(body.get("records", 100)), body.get("seed"))

    @app.get("/_sandbox/records/{t}")
    async def list_records(t: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        return sb.records(t, include_deleted)

    @app.post("/_sandbox/records/{t}")
    async def user_create(t: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": wrap(lambda: sb.create(t, body))}

    @app.patch("/_sandbox/records/{t}/{id}")
    async def user_update(t: str, id: str, body: dict[str, Any]) -> dict[str, Any]:
        wrap(lambda: sb.update(t, id, body))
        return {"id": id}

    @app.delete("/_sandbox/records/{t}/{id}")
    async def user_delete(t: str, id: str) -> dict[str, Any]:
        wrap(lambda: sb.delete(t, id))
        return {"id": id}

    @app.post("/_sandbox/records/{t}/{id}/touch")
    async def touch(t: str, id: str) -> dict[str, Any]:
        wrap(lambda: sb.touch(t, id))
        return {"id": id}

    @app.post("/_sandbox/purge-deleted/{t}")
    async def purge(t: str) -> dict[str, Any]:
        sb.org.purge_deleted(t)
        return {"ok": True}

    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(sb.faults)

    @app.put("/_sandbox/faults")
    async def put_faults(body: dict[str, Any]) -> dict[str, Any]:
        return asdict(sb.set_faults(**body))

    @app.get("/_sandbox/validation-rules")
    async def get_rules() -> list[dict[str, Any]]:
        return [r.as_dict() for r in sb.org.validation_rules]

    @app.put("/_sandbox/validation-rules")
    async def put_rules(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sb.org.validation_rules = []
        for r in body:
            try:
                sb.add_validation_rule(r["object"], r["condition"], r["message"], r.get("field"), r.get("name"))
            except soql.SoqlError as e:
                raise RequestError(400, e.code, e.message) from e
        return [r.as_dict() for r in sb.org.validation_rules]

    @app.put("/_sandbox/duplicate-rule")
    async def put_duplicate_rule(body: dict[str, Any]) -> dict[str, Any]:
        objects = tuple(body.get("objects", ("Contact", "Lead")))
        sb.set_duplicate_rule(bool(body.get("enabled", True)), objects)
        return {"objects": sorted(sb.org.duplicate_objects)}

    @app.get("/_sandbox/stats")
    async def stats() -> dict[str, Any]:
        return {**sb.stats.as_dict(), "api_usage": sb.api_used, "daily_limit": sb.settings.daily_limit}

    @app.put("/_sandbox/limits")
    async def put_limits(body: dict[str, Any]) -> dict[str, Any]:
        sb.set_limits(body.get("daily_limit"), body.get("used"))
        return {"api_usage": sb.api_used, "daily_limit": sb.settings.daily_limit}

    @app.get("/_sandbox/clock")
    async def clock() -> dict[str, str]:
        return {"now": fmt_datetime(sb.org.now())}

    @app.post("/_sandbox/clock")
    async def advance(body: dict[str, Any]) -> dict[str, str]:
        return {"now": fmt_datetime(sb.advance(float(body.get("advance_seconds", 0))))}


def serve(host: str = "127.0.0.1", port: int = 8443, records: int = 1000, seed: int = 42,
          token: str | None = None, tls: bool = True, daily_limit: int = 100_000) -> None:
    """Run the sandbox in the foreground (``accord sandbox salesforce``)."""
    import uvicorn

    sb = SalesforceSandbox(SandboxSettings(records=records, seed=seed, token=token, daily_limit=daily_limit))
    files = make_certificates() if tls else None
    scheme = "https" if files else "http"
    print(f"Salesforce sandbox on {scheme}://{host}:{port}  ({records} records per object)", flush=True)
    if files:
        print(f"  CA certificate to trust: {files.cafile}", flush=True)
    uvicorn.run(sb.app, host=host, port=port, log_level="warning", date_header=False,
                ssl_certfile=files.certfile if files else None, ssl_keyfile=files.keyfile if files else None)

