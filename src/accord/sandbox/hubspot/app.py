"""The HubSpot CRM v3 sandbox: FastAPI routes, auth, rate limits, faults, admin routes.

Routes follow HubSpot's public OpenAPI specs (``/work/shared/vendor-specs/hubspot``) for paths,
status codes and JSON shapes, so the official ``hubspot-api-client`` works unchanged.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot import seed as seeding
from accord.sandbox.hubspot.schema import ALIASES, ASSOC_TYPES, DEFAULT_PROPS, OBJECT_TYPE_IDS, SINGULAR
from accord.sandbox.hubspot.store import ApiError, Obj, Source, Store, iso_ms, not_found
from accord.sandbox.hubspot.webhooks import WebhookConfig, WebhookDispatcher

MAX_BATCH = 100
BATCH_WRITES = frozenset({"batch_create", "batch_update", "batch_upsert", "batch_archive"})


@dataclass
class SandboxSettings:
    token: str | None = None  # None: any non-empty bearer token is accepted
    portal_id: int = 12345678
    app_id: int = 1000001  # the private app whose token writes and whose webhooks fire
    app_ids: dict[str, int] = field(default_factory=dict)  # other tokens → other apps (sourceId)
    user_id: int = 9876543  # the CRM user behind "user edits" (sourceId userId:N)
    rate_limit: int = 190  # requests per rolling window (Professional private app)
    rate_window: float = 10.0
    daily_limit: int = 650_000
    search_rate: int = 5  # search requests per second, a separate bucket
    search_cap: int = 10_000  # results one search query can page through
    search_lag: float = 0.0  # seconds before a write is visible to search
    atomic_batch_errors: bool = False  # reject a whole batch for one bad input (as HubSpot does for some)
    records: int = 0
    seed: int = 0
    webhook_url: str | None = None
    webhook_secret: str = "sandbox-app-secret"
    webhook_backoff: float = 1.0


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    hang_seconds: float = 30.0  # a "timeout" hangs this long, then fails without applying the request
    drop_webhooks: float = 0.0
    retry_after: float | None = None  # Retry-After sent with injected 429s (None: omitted)
    # the connection drops mid-response; ``reset_applied`` of them after the request was carried out
    rate_reset: float = 0.0
    reset_applied: float = 0.5
    # a batch write carries out the first half of its inputs, then fails with a 500
    rate_half_batch: float = 0.0
    seed: int = 0


def endpoint_kind(method: str, path: str) -> str:
    """The kind of API call, for counters (benchmarks count calls per kind)."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["crm", "v3", "objects"]:
        if len(parts) == 6 and parts[4] == "batch":
            return f"batch_{parts[5]}"
        if len(parts) == 5 and parts[4] == "search":
            return "search"
        if len(parts) == 4:
            return {"GET": "list", "POST": "create"}.get(method, "other")
        return {"GET": "get", "PATCH": "update", "DELETE": "delete"}.get(method, "other")
    if parts[:2] == ["crm", "v4"]:
        return "associations"
    if parts[:2] == ["crm", "v3"] and len(parts) > 2:
        return parts[2]  # properties | pipelines | lists
    return "other"


class _Window:
    """Rolling-window hit counts per key (HubSpot counts requests over the last N seconds)."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int, window: float) -> tuple[bool, int, float]:
        now = time.monotonic()
        q = self.hits.setdefault(key, deque())
        while q and q[0] <= now - window:
            q.popleft()
        if len(q) >= limit:
            return False, 0, q[0] + window - now
        q.append(now)
        return True, limit - len(q), 0.0


class HubSpotSandbox:
    """One emulated HubSpot portal: ``.app`` to serve, methods to seed, edit and inspect."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings()
        for k, v in overrides.items():
            setattr(self.settings, k, v)
        s = self.settings
        self.store = Store()
        self.store.search_lag = s.search_lag
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self.webhooks = WebhookDispatcher(
            WebhookConfig(url=s.webhook_url, secret=s.webhook_secret, app_id=s.app_id, backoff=s.webhook_backoff),
            s.portal_id, seed=s.seed)
        self.store.on_events = self.webhooks.enqueue
        self._lock = threading.Lock()
        self._rng = random.Random(s.seed)
        self._window = _Window()
        self._daily: Counter[str] = Counter()
        if s.records:
            self.seed(s.records, s.seed)
        self.app = build_app(self)

    # -- identities ------------------------------------------------------------------------
    def app_id_for(self, token: str) -> int:
        return self.settings.app_ids.get(token, self.settings.app_id)

    def integration_source(self, token: str) -> Source:
        return Source("INTEGRATION", str(self.app_id_for(token)))

    @property
    def user_source(self) -> Source:
        return Source("CRM_UI", f"userId:{self.settings.user_id}")

    # -- state -------------------------------------------------------------------------------
    def seed(self, records: int, seed: int = 0) -> dict[str, list[int]]:
        return seeding.seed(self.store, records, seed)

    def reset(self) -> None:
        self.store.reset()
        self.webhooks.clear()
        self.counters.clear()
        self._window = _Window()
        self._daily.clear()

    def records(self, object: str, *, archived: bool = False) -> list[dict[str, Any]]:
        t = Store.object_type(object)
        with self.store.lock:
            objs = [o for o in self.store.objs[t].values() if (o.archived_at is not None) == archived]
            return [o.wire(o.props) for o in objs]

    def get(self, object: str, id: str | int) -> dict[str, Any] | None:
        t = Store.object_type(object)
        with self.store.lock:
            o = self.store.objs[t].get(int(id))
            return o.wire(o.props) if o else None

    # -- user edits (changeSource CRM_UI) ------------------------------------------------------
    def user_create(self, object: str, properties: dict[str, Any]) -> dict[str, Any]:
        o = self.store.create(Store.object_type(object), properties, self.user_source)
        return o.wire(o.props)

    def user_update(self, object: str, id: str | int, properties: dict[str, Any]) -> dict[str, Any]:
        o = self.store.update(Store.object_type(object), int(id), properties, self.user_source)
        return o.wire(o.props)

    def user_delete(self, object: str, id: str | int) -> bool:
        return self.store.archive(Store.object_type(object), int(id), self.user_source)

    def touch(self, object: str, ids: list[int] | list[str], at_ms: int) -> None:
        """Give many records one modification instant, as HubSpot's month-end batch jobs do."""
        self.store.touch(Store.object_type(object), [int(i) for i in ids], at_ms)

    def associate(self, from_object: str, from_id: str | int, to_object: str, to_id: str | int) -> None:
        self.store.associate(Store.object_type(from_object), int(from_id), Store.object_type(to_object), int(to_id))

    def create_list(self, name: str, object: str = "contacts") -> str:
        return str(self.store.create_list(name, OBJECT_TYPE_IDS[Store.object_type(object)]).id)

    def list_members(self, name: str, object: str = "contacts", *, add: list[str] | None = None,
                     remove: list[str] | None = None) -> list[str]:
        lst = self.store.list_by_name(OBJECT_TYPE_IDS[Store.object_type(object)], name)
        self.store.change_members(str(lst.id), [str(i) for i in add or []], [str(i) for i in remove or []])
        return [str(i) for i in sorted(lst.members)]

    # -- knobs -----------------------------------------------------------------------------------
    def set_faults(self, **kw: Any) -> Faults:
        for k, v in kw.items():
            if not hasattr(self.faults, k):
                raise ValueError(f"unknown fault {k}")
            setattr(self.faults, k, v)
        self.webhooks.config.drop_rate = self.faults.drop_webhooks
        self._rng = random.Random(self.faults.seed)
        return self.faults

    def clear_faults(self) -> None:
        self.faults = Faults()
        self.webhooks.config.drop_rate = 0.0

    def configure_webhooks(self, url: str | None, secret: str | None = None, **kw: Any) -> WebhookConfig:
        cfg = self.webhooks.config
        cfg.url = url
        if secret is not None:
            cfg.secret = secret
        for k, v in kw.items():
            setattr(cfg, k, set(v) if k == "properties" and v is not None else v)
        return cfg

    def set_search_lag(self, seconds: float) -> None:
        self.settings.search_lag = self.store.search_lag = seconds

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        return self.webhooks.flush(timeout)

    def close(self) -> None:
        self.webhooks.stop()

    # -- gatekeeping (used by the middleware) ----------------------------------------------------
    def draw_fault(self, kind: str = "") -> str | None:
        f = self.faults
        half = f.rate_half_batch if kind in BATCH_WRITES else 0.0
        with self._lock:
            r = self._rng.random()
            for name, rate in (("429", f.rate_429), ("500", f.rate_500), ("timeout", f.rate_timeout),
                               ("reset", f.rate_reset), ("half_batch", half)):
                if r < rate:
                    if name == "reset" and self._rng.random() < f.reset_applied:
                        return "reset_applied"
                    return name
                r -= rate
        return None

    def rate_headers(self, token: str, remaining: int) -> dict[str, str]:
        s = self.settings
        return {"X-HubSpot-RateLimit-Max": str(s.rate_limit), "X-HubSpot-RateLimit-Remaining": str(remaining),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(s.rate_window * 1000)),
                "X-HubSpot-RateLimit-Daily": str(s.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, s.daily_limit - self._daily[token]))}


def _rate_error(policy: str, message: str, group: str, retry_after: float | None,
                headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"status": "error", "message": message, "errorType": "RATE_LIMIT", "category": "RATE_LIMITS",
            "correlationId": ApiError(429, "", "").body()["correlationId"], "policyName": policy, "groupName": group}
    hdrs = dict(headers or {})
    if retry_after is not None:
        hdrs["Retry-After"] = str(max(0, math.ceil(retry_after)))
    return JSONResponse(body, status_code=429, headers=hdrs)


def _error(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError as e:
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid input JSON on line {e.lineno}, column {e.colno}: "
                       f"{e.msg}") from None


def _props_param(request: Request) -> list[str] | None:
    vals = [p for v in request.query_params.getlist("properties") for p in v.split(",") if p]
    return vals or None


def _bool(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _int(value: Any, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid value {value!r} for {name}") from None


def _inputs(body: Any) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON: the request needs an 'inputs' array")
    if len(inputs) > MAX_BATCH:
        raise ApiError(400, "VALIDATION_ERROR", f"Batch input is limited to {MAX_BATCH} inputs; got {len(inputs)}",
                       errors=[{"message": f"size must be between 1 and {MAX_BATCH}", "in": "inputs"}])
    return [i if isinstance(i, dict) else {"id": i} for i in inputs]


class _Reset(Response):
    """A connection that drops mid-response: the headers promise a body that never comes."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
        # returning with the body unfinished makes the server close the connection


def _half_batch(request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """With the half-batch fault: only the first half of the inputs is carried out."""
    if getattr(request.state, "half_batch", False):
        return items[:len(items) // 2], True
    return items, False


def _half_failed() -> ApiError:
    return ApiError(500, "INTERNAL_ERROR", "internal error part-way through the batch (injected by the sandbox)")


def _batch(results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str, ok_status: int) -> JSONResponse:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso_ms(
        int(time.time() * 1000))}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return JSONResponse(body, status_code=207 if errors else ok_status)


def build_app(sb: HubSpotSandbox) -> FastAPI:
    app = FastAPI(title="HubSpot sandbox (Accord)", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")
    store = sb.store

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc)

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith("/crm/"):
            passed: Response = await call_next(request)  # admin routes: no auth, limits or faults
            return passed
        kind = endpoint_kind(request.method, path)
        s = sb.settings
        with sb._lock:
            sb.counters[kind] += 1
            sb.counters["total"] += 1
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token or (s.token is not None and token != s.token):
            return _error(ApiError(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API "
                                   "supports OAuth 2.0 authentication and you can find more details at "
                                   "https://developers.hubspot.com/docs/methods/auth/oauth-overview"))
        fault = sb.draw_fault(kind)
        if fault is not None:
            with sb._lock:
                sb.counters[f"fault_{fault}"] += 1
        if fault == "reset":
            return _Reset()
        if fault == "half_batch":
            request.state.half_batch = True
        if fault == "timeout":
            await asyncio.sleep(sb.faults.hang_seconds)
            return _error(ApiError(504, "GATEWAY_TIMEOUT", "The request timed out and was not processed."))
        if fault == "500":
            return _error(ApiError(500, "INTERNAL_ERROR", "internal error (injected by the sandbox)"))
        if fault == "429":
            return _rate_error("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                               f"publicapi:private-app-api-calls-ten-secondly:{sb.app_id_for(token)}",
                               sb.faults.retry_after)
        with sb._lock:
            limited: JSONResponse | None = None
            headers: dict[str, str] = {}
            if kind == "search":
                # search has its own per-second bucket and sends no rate-limit headers
                ok, _, wait = sb._window.hit(f"search:{s.portal_id}", s.search_rate, 1.0)
                if not ok:
                    limited = _rate_error("SECONDLY", "You have reached your secondly limit.", "publicapi:crm-search",
                                          wait)
            elif sb._daily[token] >= s.daily_limit:
                limited = _rate_error("DAILY", "You have reached your daily limit.",
                                      f"publicapi:private-app-api-calls-daily:{s.portal_id}", 3600,
                                      sb.rate_headers(token, 0))
            else:
                ok, remaining, wait = sb._window.hit(f"app:{sb.app_id_for(token)}", s.rate_limit, s.rate_window)
                if ok:
                    sb._daily[token] += 1
                    headers = sb.rate_headers(token, remaining)
                else:
                    limited = _rate_error("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                                          f"publicapi:private-app-api-calls-ten-secondly:{sb.app_id_for(token)}",
                                          wait, sb.rate_headers(token, 0))
            if limited is not None:
                sb.counters["rate_limited"] += 1  # real (not injected) 429s: what benchmarks must keep at 0
                return limited
        request.state.source = sb.integration_source(token)
        response: Response = await call_next(request)
        if fault == "reset_applied":
            async for _ in response.body_iterator:  # type: ignore[attr-defined]
                pass  # carried out; the answer is lost with the connection
            return _Reset()
        response.headers.update(headers)
        return response

    # -- objects ---------------------------------------------------------------------------------
    def out_props(t: str, requested: list[str] | None) -> list[str]:
        return requested or DEFAULT_PROPS[t]

    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(object_type: str, request: Request) -> JSONResponse:
        t = store.object_type(object_type)
        q = request.query_params
        limit = _int(q.get("limit"), "limit", 10)
        if not 1 <= limit <= 100:
            raise ApiError(400, "VALIDATION_ERROR", "limit must be between 1 and 100")
        after = _int(q.get("after"), "after", 0)
        objs, nxt = store.page(t, after, limit, _bool(request, "archived"))
        props = out_props(t, _props_param(request))
        assoc = _assoc_param(request)
        body: dict[str, Any] = {"results": [_with_associations(t, o, o.wire(props), assoc) for o in objs]}
        sb.counters["results_list"] += len(objs)  # records served, for benchmarks' page-fill figures
        if nxt is not None:
            # an absolute link built from the request's own host: some clients follow it verbatim
            link = str(request.url.include_query_params(after=str(nxt)))
            body["paging"] = {"next": {"after": str(nxt), "link": link}}
        return JSONResponse(body)

    @app.post("/crm/v3/objects/{object_type}")
    async def create_object(object_type: str, request: Request) -> JSONResponse:
        t = store.object_type(object_type)
        body = await _json(request)
        o = store.create(t, body.get("properties") or {}, request.state.source)
        _create_associations(t, o.id, body.get("associations") or [])
        return JSONResponse(o.wire(o.props), status_code=201)

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def get_object(object_type: str, object_id: str, request: Request) -> JSONResponse:
        t = store.object_type(object_type)
        o = store.get(t, object_id, archived=_bool(request, "archived"), id_property=request.query_params.get("idProperty"))
        return JSONResponse(_with_associations(t, o, o.wire(out_props(t, _props_param(request))), _assoc_param(request)))

    def _assoc_param(request: Request) -> list[str]:
        # "If any of the specified associations do not exist, they will be ignored" (the spec)
        names = [p for v in request.query_params.getlist("associations") for p in v.split(",") if p]
        return [ALIASES.get(n, n) for n in names if ALIASES.get(n, n) in OBJECT_TYPE_IDS]

    def _with_associations(t: str, o: Obj, wire: dict[str, Any], to_types: list[str]) -> dict[str, Any]:
        """v3's ``associations`` map: per associated type, one ``{id, type}`` per association type,
        the unlabeled one named ``…_unlabeled`` where the pair also has a labelled (primary) type;
        types without associations are left out."""
        out: dict[str, Any] = {}
        for to in to_types:
            found = store.associated(t, o.id, to)
            if not found:
                continue
            types = ASSOC_TYPES.get((t, to), [])
            labelled = any(label for _, label in types)
            base = f"{SINGULAR[t]}_to_{SINGULAR[to]}"
            results = []
            for to_id, type_ids in sorted(found.items()):
                for tid in sorted(type_ids):
                    label = dict(types).get(tid)
                    results.append({"id": str(to_id), "type": base if label or not labelled else f"{base}_unlabeled"})
            out[to] = {"results": results}
        if out:
            wire["associations"] = out
        return wire

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update_object(object_type: str, object_id: str, request: Request) -> JSONResponse:
        t = store.object_type(object_type)
        body = await _json(request)
        o = store.get(t, object_id, id_property=request.query_params.get("idProperty"))
        o = store.update(t, o.id, body.get("properties") or {}, request.state.source)
        return JSONResponse(o.wire(o.props))

    @app.delete("/crm/v3/objects/{object_type}/{object_id}")
    async def delete_object(object_type: str, object_id: str, request: Request) -> Response:
        t = store.object_type(object_type)
        if object_id.isdigit():
            store.archive(t, int(object_id), request.state.source)
        return Response(status_code=204)

    def _create_associations(t: str, obj_id: int, assocs: list[dict[str, Any]]) -> None:
        for a in assocs:
            to_id = int(str((a.get("to") or {}).get("id", "0")))
            for spec in a.get("types") or []:
                tid = int(spec.get("associationTypeId", 0))
                targets = [to for (fr, to), types in ASSOC_TYPES.items() if fr == t and any(x[0] == tid for x in types)]
                if not targets:
                    raise ApiError(400, "VALIDATION_ERROR", f"Unknown association type {tid} for {t}")
                store.associate(t, obj_id, targets[0], to_id, tid)

    # -- batch ------------------------------------------------------------------------------------
    def _fail(e: ApiError, ctx: dict[str, list[str]], atomic: bool) -> dict[str, Any]:
        if atomic and sb.settings.atomic_batch_errors:
            raise e
        return e.batch_error(ctx)

    def _precheck(t: str, items: list[dict[str, Any]]) -> None:
        # atomic mode: the whole batch fails before anything is written
        if sb.settings.atomic_batch_errors:
            for item in items:
                store.validate(t, item.get("properties") or {})

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

    @app.post("/crm/v3/objects/{object_type}/batch/read")
    async def batch_read(object_type: str, request: Request) -> JSONResponse:
        t, started = store.object_type(object_type), iso_ms(int(time.time() * 1000))
        body = await _json(request)
        items = _inputs(body)
        props = out_props(t, list(body.get("properties") or []) or None)
        id_prop = body.get("idProperty")
        results, missing = [], []
        for item in items:
            try:
                o = store.get(t, str(item.get("id")), archived=_bool(request, "archived"), id_property=id_prop)
                results.append(o.wire(props))
            except ApiError:
                missing.append(str(item.get("id")))
        errors = [ApiError(404, "OBJECT_NOT_FOUND", f"Could not get some {SINGULAR[t].upper()} objects, they may be "
                           "deleted or not exist. Check that ids are valid.").batch_error({"ids": missing})] if missing else []
        return _batch(results, errors, started, 200)

    @app.post("/crm/v3/objects/{object_type}/batch/create")
    async def batch_create(object_type: str, request: Request) -> JSONResponse:
        t, started = store.object_type(object_type), iso_ms(int(time.time() * 1000))
        items = _inputs(await _json(request))
        _precheck(t, items)
        items, halved = _half_batch(request, items)
        results, errors, first = [], [], None
        for item in items:
            try:
                o = store.create(t, item.get("properties") or {}, request.state.source)
                _create_associations(t, o.id, item.get("associations") or [])
                results.append(_wire(o, item))
            except ApiError as e:
                first = first or e
                errors.append(_fail(e, _trace(item), True))
        if halved:
            raise _half_failed()
        _single(items, first)
        return _batch(results, errors, started, 201)

    @app.post("/crm/v3/objects/{object_type}/batch/update")
    async def batch_update(object_type: str, request: Request) -> JSONResponse:
        t, started = store.object_type(object_type), iso_ms(int(time.time() * 1000))
        items = _inputs(await _json(request))
        ids = [str(i.get("id")) for i in items]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ApiError(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")
        items, halved = _half_batch(request, items)
        results, errors, first = [], [], None
        for item in items:
            try:
                o = store.get(t, str(item.get("id")), id_property=item.get("idProperty"))
                o = store.update(t, o.id, item.get("properties") or {}, request.state.source)
                results.append(_wire(o, item))
            except ApiError as e:
                first = first or e
                errors.append(_fail(e, {"ids": [str(item.get("id"))], **_trace(item)}, e.status != 404))
        if halved:
            raise _half_failed()
        _single(items, first)
        return _batch(results, errors, started, 200)

    @app.post("/crm/v3/objects/{object_type}/batch/upsert")
    async def batch_upsert(object_type: str, request: Request) -> JSONResponse:
        t, started = store.object_type(object_type), iso_ms(int(time.time() * 1000))
        items = _inputs(await _json(request))
        keys = [str(i.get("id", "")).strip().lower() for i in items]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ApiError(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")
        items, halved = _half_batch(request, items)
        results, errors, first = [], [], None
        for item in items:
            id_prop = item.get("idProperty") or "hs_object_id"
            try:
                props = dict(item.get("properties") or {})
                try:
                    o = store.get(t, str(item.get("id")), id_property=id_prop)
                    o = store.update(t, o.id, props, request.state.source)
                    results.append(_wire(o, item, new=False))
                except ApiError as e:
                    if e.status != 404 or id_prop == "hs_object_id":
                        raise
                    props[id_prop] = item.get("id")
                    o = store.create(t, props, request.state.source)
                    results.append(_wire(o, item, new=True))
            except ApiError as e:
                first = first or e
                errors.append(_fail(e, {"ids": [str(item.get("id"))], **_trace(item)}, True))
        if halved:
            raise _half_failed()
        _single(items, first)
        return _batch(results, errors, started, 200)

    @app.post("/crm/v3/objects/{object_type}/batch/archive")
    async def batch_archive(object_type: str, request: Request) -> Response:
        t = store.object_type(object_type)
        items, halved = _half_batch(request, _inputs(await _json(request)))
        for item in items:
            if str(item.get("id")).isdigit():
                store.archive(t, int(item["id"]), request.state.source)  # unknown ids are ignored, as HubSpot does
        if halved:
            raise _half_failed()
        return Response(status_code=204)

    @app.post("/crm/v3/objects/{object_type}/search")
    async def search(object_type: str, request: Request) -> JSONResponse:
        t = store.object_type(object_type)
        body = await _json(request)
        found = store.search(t, body, sb.settings.search_cap)
        sb.counters["results_search"] += len(found["results"])
        return JSONResponse(found)

    # -- custom object schemas (this portal has none) ----------------------------------------------
    @app.get("/crm/v3/schemas")
    async def schemas() -> JSONResponse:
        return JSONResponse({"results": []})  # CollectionResponseObjectSchemaNoPaging

    # -- properties, pipelines ------------------------------------------------------------------
    @app.get("/crm/v3/properties/{object_type}")
    async def properties(object_type: str) -> JSONResponse:
        t = store.object_type(object_type)
        ts = iso_ms(store.started)
        return JSONResponse({"results": [p.to_json(ts) for p in store.props[t].values()]})

    @app.get("/crm/v3/properties/{object_type}/{name}")
    async def property_one(object_type: str, name: str) -> JSONResponse:
        t = store.object_type(object_type)
        pd = store.props[t].get(name)
        if pd is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property with name {name}")
        return JSONResponse(pd.to_json(iso_ms(store.started)))

    @app.post("/crm/v3/properties/{object_type}")
    async def property_create(object_type: str, request: Request) -> JSONResponse:
        t = store.object_type(object_type)
        pd = store.add_property(t, await _json(request))
        return JSONResponse(pd.to_json(iso_ms(int(time.time() * 1000))), status_code=201)

    @app.get("/crm/v3/pipelines/{object_type}")
    async def pipelines(object_type: str) -> JSONResponse:
        t = store.object_type(object_type)
        return JSONResponse({"results": store.pipelines if t == "deals" else []})

    @app.get("/crm/v3/pipelines/{object_type}/{pipeline_id}")
    async def pipeline_one(object_type: str, pipeline_id: str) -> JSONResponse:
        for p in store.pipelines if store.object_type(object_type) == "deals" else []:
            if p["id"] == pipeline_id:
                return JSONResponse(p)
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id}")

    # -- associations v4 -------------------------------------------------------------------------
    # ids are strings here as in HubSpot's v4 spec (clients should accept numbers too)
    def _assoc_types(from_t: str, to_t: str, type_ids: set[int]) -> list[dict[str, Any]]:
        labels = dict(ASSOC_TYPES.get((from_t, to_t), []))
        return [{"category": "HUBSPOT_DEFINED", "typeId": tid, "label": labels.get(tid)} for tid in sorted(type_ids)]

    @app.get("/crm/v4/objects/{from_type}/{object_id}/associations/{to_type}")
    async def assoc_list(from_type: str, object_id: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.object_type(from_type), store.object_type(to_type)
        limit = min(_int(request.query_params.get("limit"), "limit", 500), 500)
        after = _int(request.query_params.get("after"), "after", 0)
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
        for item in _inputs(await _json(request)):
            oid = str(item.get("id"))
            found = store.associated(f, int(oid), t) if oid.isdigit() else {}
            if not found:
                errors.append(ApiError(404, "OBJECT_NOT_FOUND", f"No {t} is associated with {SINGULAR[f]} {oid}.",
                                       sub_category="crm.associations.NO_ASSOCIATIONS_FOUND")
                              .batch_error({"fromObjectId": [oid]}))
                continue
            results.append({"from": {"id": oid}, "to": [{"toObjectId": str(k), "associationTypes": _assoc_types(f, t, v)}
                                                        for k, v in sorted(found.items())]})
        return _batch(results, errors, started, 200)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/create")
    async def assoc_batch_create(from_type: str, to_type: str, request: Request) -> JSONResponse:
        f, t = store.object_type(from_type), store.object_type(to_type)
        started = iso_ms(int(time.time() * 1000))
        results, errors = [], []
        for item in _inputs(await _json(request)):
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
        return _batch(results, errors, started, 201)

    # -- lists v3 -------------------------------------------------------------------------------------
    @app.post("/crm/v3/lists")
    async def list_create(request: Request) -> JSONResponse:
        body = await _json(request)
        if not body.get("name") or body.get("objectTypeId") not in OBJECT_TYPE_IDS.values():
            raise ApiError(400, "VALIDATION_ERROR", "name and a valid objectTypeId are required")
        lst = store.create_list(str(body["name"]), str(body["objectTypeId"]), str(body.get("processingType", "MANUAL")))
        return JSONResponse({"list": lst.wire()})

    @app.get("/crm/v3/lists/object-type-id/{object_type_id}/name/{list_name}")
    async def list_by_name(object_type_id: str, list_name: str) -> JSONResponse:
        return JSONResponse({"list": store.list_by_name(object_type_id, list_name).wire()})

    @app.get("/crm/v3/lists/{list_id}")
    async def list_get(list_id: str) -> JSONResponse:
        return JSONResponse({"list": store.list_by_id(list_id).wire()})

    @app.get("/crm/v3/lists/{list_id}/memberships")
    async def list_memberships(list_id: str, request: Request) -> JSONResponse:
        lst = store.list_by_id(list_id)
        limit = _int(request.query_params.get("limit"), "limit", 100)
        if not 1 <= limit <= 250:
            raise ApiError(400, "VALIDATION_ERROR", "limit must be between 1 and 250")
        after = _int(request.query_params.get("after"), "after", 0)
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
        return JSONResponse(store.change_members(list_id, add=[str(i) for i in await _json(request)]))

    @app.put("/crm/v3/lists/{list_id}/memberships/remove")
    async def list_remove(list_id: str, request: Request) -> JSONResponse:
        return JSONResponse(store.change_members(list_id, remove=[str(i) for i in await _json(request)]))

    _admin_routes(app, sb)
    return app


def _admin_routes(app: FastAPI, sb: HubSpotSandbox) -> None:
    """``/_sandbox/``: seed, reset, user edits, lists, faults, counters, webhooks, settings."""
    store = sb.store

    @app.get("/_sandbox/")
    async def summary() -> dict[str, Any]:
        with store.lock:
            counts = {t: sum(1 for o in objs.values() if o.archived_at is None) for t, objs in store.objs.items()}
        return {"vendor": "hubspot", "portalId": sb.settings.portal_id, "records": counts}

    @app.post("/_sandbox/seed")
    async def seed(request: Request) -> dict[str, Any]:
        body = await _json(request)
        ids = sb.seed(int(body.get("records", 100)), int(body.get("seed", sb.settings.seed)))
        return {k: len(v) for k, v in ids.items()}

    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, Any]:
        sb.reset()
        return {"ok": True}

    @app.get("/_sandbox/objects/{object_type}")
    async def dump(object_type: str, request: Request) -> list[dict[str, Any]]:
        return sb.records(object_type, archived=_bool(request, "archived"))

    @app.post("/_sandbox/objects/{object_type}")
    async def user_create(object_type: str, request: Request) -> JSONResponse:
        return JSONResponse(sb.user_create(object_type, (await _json(request)).get("properties") or {}), status_code=201)

    @app.patch("/_sandbox/objects/{object_type}/{object_id}")
    async def user_update(object_type: str, object_id: str, request: Request) -> dict[str, Any]:
        return sb.user_update(object_type, object_id, (await _json(request)).get("properties") or {})

    @app.delete("/_sandbox/objects/{object_type}/{object_id}")
    async def user_delete(object_type: str, object_id: str) -> dict[str, Any]:
        return {"archived": sb.user_delete(object_type, object_id)}

    @app.post("/_sandbox/touch")
    async def touch(request: Request) -> dict[str, Any]:
        body = await _json(request)
        sb.touch(body["object"], body["ids"], int(body["at"]))
        return {"ok": True}

    @app.post("/_sandbox/associations")
    async def associate(request: Request) -> dict[str, Any]:
        b = await _json(request)
        sb.associate(b["from"], b["fromId"], b["to"], b["toId"])
        return {"ok": True}

    @app.post("/_sandbox/lists")
    async def create_list(request: Request) -> dict[str, Any]:
        b = await _json(request)
        return {"listId": sb.create_list(b["name"], b.get("object", "contacts"))}

    @app.put("/_sandbox/lists/{name}/members")
    async def members(name: str, request: Request) -> dict[str, Any]:
        b = await _json(request)
        return {"members": sb.list_members(name, b.get("object", "contacts"), add=b.get("add"), remove=b.get("remove"))}

    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(sb.faults)

    @app.put("/_sandbox/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            return asdict(sb.set_faults(**{str(k): v for k, v in (await _json(request)).items()}))
        except ValueError as e:
            raise ApiError(400, "VALIDATION_ERROR", str(e)) from None

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> dict[str, Any]:
        sb.clear_faults()
        return asdict(sb.faults)

    @app.get("/_sandbox/counters")
    async def counters() -> dict[str, int]:
        return dict(sb.counters)

    @app.delete("/_sandbox/counters")
    async def clear_counters() -> dict[str, int]:
        sb.counters.clear()
        return {}

    @app.get("/_sandbox/webhooks")
    async def webhooks() -> dict[str, Any]:
        cfg, st = sb.webhooks.config, sb.webhooks.stats
        return {"url": cfg.url, "appId": cfg.app_id, "maxAttempts": cfg.max_attempts, "backoff": cfg.backoff,
                "properties": sorted(cfg.properties) if cfg.properties is not None else None,
                "delivered": st.delivered, "dropped": st.dropped, "failedAttempts": st.failed_attempts,
                "givenUp": st.given_up, "idle": sb.webhooks.idle()}

    @app.put("/_sandbox/webhooks")
    async def set_webhooks(request: Request) -> dict[str, Any]:
        b: dict[str, Any] = dict(await _json(request))
        names = {"maxAttempts": "max_attempts", "appId": "app_id", "batchSize": "batch_size"}
        kw = {names.get(k, k): v for k, v in b.items() if k not in ("url", "secret")}
        sb.configure_webhooks(b.get("url"), b.get("secret"), **kw)
        return await webhooks()

    @app.post("/_sandbox/webhooks/flush")
    async def flush(request: Request) -> dict[str, Any]:
        timeout = float((await _json(request)).get("timeout", 10))
        # blocking wait off the event loop: the receiver may be served by this same loop
        return {"flushed": await asyncio.to_thread(sb.flush_webhooks, timeout)}

    @app.get("/_sandbox/settings")
    async def get_settings() -> dict[str, Any]:
        return asdict(sb.settings)

    @app.put("/_sandbox/settings")
    async def put_settings(request: Request) -> dict[str, Any]:
        for k, v in (await _json(request)).items():
            if not hasattr(sb.settings, k):
                raise ApiError(400, "VALIDATION_ERROR", f"unknown setting {k}")
            setattr(sb.settings, k, v)
        sb.store.search_lag = sb.settings.search_lag
        return asdict(sb.settings)
