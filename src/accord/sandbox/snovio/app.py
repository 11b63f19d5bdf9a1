"""The Snov.io API sandbox: FastAPI routes, OAuth client-credentials tokens, the 60-a-minute limit,
faults and ``/_sandbox/`` admin routes.

Public endpoints emulated (paths and parameters as snov.io/api documents them):
``POST /v1/oauth/access_token``, ``GET /v1/get-user-lists``, ``POST /v1/lists``,
``POST /v1/prospect-list``, ``POST /v1/add-prospect-to-list``, ``POST /v1/get-prospect-by-id``,
``POST /v1/get-prospects-by-email``, ``GET /v1/prospect-custom-fields``. Snov.io publishes no
way to change a prospect's email or to take it out of a list, so two endpoints are designed
after its conventions (``POST``, form or JSON parameters, ``{"success": …}`` answers):
``POST /v1/update-prospect`` and ``POST /v1/delete-prospect-from-list``. Assumptions are
listed in docs/connectors/snovio.md.

Parameters are read from the query string, a form body (``phones[]=…``,
``customFields[name]=…``) or a JSON body, and the access token from the ``Authorization:
Bearer`` header or an ``access_token`` parameter, as Snov.io's own examples send them.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox.snovio import seed as seeding
from accord.sandbox.snovio.store import ApiError, ProspectInput, Store

API_PREFIX = "/v1/"


@dataclass
class SandboxSettings:
    client_id: str | None = None  # None: any non-empty client id is accepted
    client_secret: str | None = None  # None: any non-empty secret is accepted
    token_ttl: float = 3600.0  # seconds an access token lives (Snov.io: one hour)
    rate_limit: int = 60  # requests per rolling window, for the whole account
    rate_window: float = 60.0
    max_per_page: int = 100
    records: int = 0
    seed: int = 0


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    retry_after: float | None = 1.0  # Retry-After sent with injected 429s (None: omitted)
    seed: int = 0


class _Window:
    """Rolling-window hit log: at most ``limit`` requests in any ``window`` seconds."""

    def __init__(self) -> None:
        self.hits: deque[float] = deque()

    def hit(self, limit: int, window: float) -> tuple[bool, float]:
        now = time.monotonic()
        while self.hits and self.hits[0] <= now - window:
            self.hits.popleft()
        if len(self.hits) >= limit:
            return False, self.hits[0] + window - now
        self.hits.append(now)
        return True, 0.0


class SnovioSandbox:
    """One emulated Snov.io account: ``.app`` to serve, methods to seed, edit and inspect as a user would."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings()
        for k, v in overrides.items():
            if not hasattr(self.settings, k):
                raise TypeError(f"unknown setting {k}")
            setattr(self.settings, k, v)
        self.store = Store()
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._rng = random.Random(self.settings.seed)
        self._window = _Window()
        if self.settings.records:
            self.seed(self.settings.records, self.settings.seed)
        self.app = build_app(self)

    # -- state --------------------------------------------------------------------------------
    def seed(self, records: int, seed: int = 0) -> dict[str, Any]:
        return seeding.seed(self.store, records, seed)

    def reset(self) -> None:
        self.store.reset()
        self.counters.clear()
        self._window = _Window()

    # -- a user in the Snov.io app ---------------------------------------------------------------
    def create_list(self, name: str) -> int:
        return self.store.create_list(name).id

    def list_id(self, name: str) -> int:
        lst = self.store.list_by_name(name)
        if lst is None:
            raise KeyError(name)
        return lst.id

    def delete_list(self, list_id: int) -> bool:
        return self.store.delete_list(list_id)

    def add_field(self, name: str, type_: str = "string") -> None:
        self.store.add_field(name, type_)

    def delete_field(self, name: str) -> bool:
        return self.store.delete_field(name)

    def user_add(self, list_id: int, *, emails: list[str], phones: list[str] | None = None,
                 custom: dict[str, str] | None = None, **values: str) -> str:
        """Create a prospect in a list (the first email is the primary one)."""
        inp = ProspectInput(email=emails[0], values=dict(values), phones=phones, custom=dict(custom or {}))
        with self.store.lock:
            p, _, _ = self.store.add_prospect(list_id, inp, update_contact=True, source="user")
            for e in emails[1:]:
                if e.lower() not in (x.lower() for x in p.emails):
                    p.emails.append(e)
            return p.id

    def user_update(self, pid: str, *, phones: list[str] | None = None, custom: dict[str, str] | None = None,
                    emails: list[str] | None = None, **values: str) -> None:
        with self.store.lock:
            p, _ = self.store.update_prospect(pid, ProspectInput(values=dict(values), phones=phones,
                                                                 custom=dict(custom or {})))
            if emails is not None:
                p.emails = list(emails)
                p.updated = self.store.clock()

    def user_delete(self, pid: str) -> bool:
        return self.store.delete_prospect(pid)

    def remove_from_list(self, pid: str, list_id: int) -> bool:
        return self.store.remove_from_list(pid, list_id)

    def prospects(self, list_id: int | None = None) -> list[dict[str, Any]]:
        with self.store.lock:
            if list_id is None:
                return [self.store.prospect_json(p) for p in self.store.prospects.values()]
            lst = self.store.live_list(list_id)
            return [self.store.prospect_json(self.store.prospects[i]) for i in lst.members]

    def by_email(self, list_id: int | None = None) -> dict[str, dict[str, Any]]:
        """Prospects keyed by their primary email (lower-cased)."""
        return {p["emails"][0]["email"].lower(): p for p in self.prospects(list_id)}

    def expire_tokens(self) -> int:
        return self.store.expire_tokens()

    # -- knobs ------------------------------------------------------------------------------------
    def set_faults(self, **kw: Any) -> Faults:
        for k, v in kw.items():
            if not hasattr(self.faults, k):
                raise ValueError(f"unknown fault {k}")
            setattr(self.faults, k, v)
        self._rng = random.Random(self.faults.seed)
        return self.faults

    def clear_faults(self) -> None:
        self.faults = Faults()

    def draw_fault(self) -> str | None:
        f = self.faults
        with self._lock:
            r = self._rng.random()
        if r < f.rate_429:
            return "429"
        if r < f.rate_429 + f.rate_500:
            return "500"
        return None

    def credentials_ok(self, client_id: str, secret: str) -> bool:
        s = self.settings
        return bool(client_id and secret) and s.client_id in (None, client_id) and s.client_secret in (None, secret)


def _error(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body, status_code=e.status, headers=e.headers)


def _unauthorized(hint: str) -> JSONResponse:
    # Snov.io's OAuth server (league/oauth2-server style) answers 401 with an OAuth error body
    return JSONResponse({"error": "access_denied", "error_description": "The resource owner or authorization server "
                         "denied the request.", "hint": hint, "message": "The resource owner or authorization server "
                         "denied the request."}, status_code=401)


async def params_of(request: Request) -> dict[str, Any]:
    """Query string and body (JSON, urlencoded or multipart form) as one dict; repeated keys become lists."""
    out: dict[str, Any] = {}
    for k in request.query_params:
        vals = request.query_params.getlist(k)
        out[k] = vals if len(vals) > 1 or k.endswith("[]") else vals[0]
    ctype = request.headers.get("content-type", "")
    if "application/json" in ctype:
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as e:
                raise ApiError(400, f"Invalid JSON: {e.msg}") from None
            if not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object")
            out.update(body)
    elif "form" in ctype:
        form = await request.form()
        for k in form:
            vals = [v for v in form.getlist(k) if isinstance(v, str)]
            out[k] = vals if len(vals) > 1 or k.endswith("[]") else (vals[0] if vals else "")
    return out


def _flag(v: Any) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "on")


def _int(v: Any, name: str, default: int) -> int:
    if v in (None, ""):
        return default
    try:
        return int(str(v))
    except ValueError:
        raise ApiError(400, {name: f"'{v}' is not an integer"}) from None


def build_app(sb: SnovioSandbox) -> FastAPI:
    app = FastAPI(title="Snov.io sandbox (Accord)", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")
    store = sb.store

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc)

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith(API_PREFIX):
            passed: Response = await call_next(request)  # admin routes: no limits or faults
            return passed
        kind = path[len(API_PREFIX):].strip("/") or "other"
        with sb._lock:
            sb.counters[kind] += 1
            sb.counters["total"] += 1
        fault = sb.draw_fault()
        if fault is not None:
            with sb._lock:
                sb.counters[f"fault_{fault}"] += 1
        if fault == "500":
            return JSONResponse({"success": False, "errors": "Internal server error (injected by the sandbox)"},
                                status_code=500)
        if fault == "429":
            ra = sb.faults.retry_after
            return JSONResponse({"success": False, "errors": "Too many requests"}, status_code=429,
                                headers={"Retry-After": str(math.ceil(ra))} if ra is not None else {})
        s = sb.settings
        with sb._lock:
            ok, wait = sb._window.hit(s.rate_limit, s.rate_window)
            if not ok:
                sb.counters["rate_limited"] += 1  # real (not injected) 429s: what a connector must avoid
        if not ok:
            return JSONResponse({"success": False, "errors": f"Too many requests: the limit is {s.rate_limit} "
                                 f"requests per {s.rate_window:g} seconds"}, status_code=429,
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})
        response: Response = await call_next(request)
        return response

    async def authed(request: Request) -> dict[str, Any] | JSONResponse:
        """The request's parameters if its access token is valid, else the 401 answer."""
        params = await params_of(request)
        auth = request.headers.get("authorization", "")
        in_params = str(params.pop("access_token", "") or "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else in_params
        state = store.token_state(token) if token else "missing"
        if state == "ok":
            return params
        return _unauthorized({"missing": "Missing \"Authorization\" header", "unknown": "Access token could not be "
                              "verified", "expired": "Access token has expired"}[state])

    # -- auth -------------------------------------------------------------------------------------
    @app.post("/v1/oauth/access_token")
    async def access_token(request: Request) -> JSONResponse:
        p = await params_of(request)
        if p.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "The authorization grant "
                                 "type is not supported by the authorization server.", "message": "The authorization "
                                 "grant type is not supported by the authorization server."}, status_code=400)
        cid, secret = str(p.get("client_id") or ""), str(p.get("client_secret") or "")
        if not sb.credentials_ok(cid, secret):
            return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed",
                                 "message": "Client authentication failed"}, status_code=401)
        ttl = sb.settings.token_ttl
        return JSONResponse({"access_token": store.issue_token(cid, ttl), "token_type": "Bearer",
                             "expires_in": int(ttl)})

    # -- lists ------------------------------------------------------------------------------------
    @app.get("/v1/get-user-lists")
    async def user_lists(request: Request) -> JSONResponse:
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        with store.lock:
            return JSONResponse([store.list_json(x) for x in store.lists.values()])

    @app.post("/v1/lists")
    async def create_list(request: Request) -> JSONResponse:
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        lst = store.create_list(str(p.get("name") or ""))
        return JSONResponse({"success": True, "data": {"id": lst.id}})

    @app.post("/v1/prospect-list")
    async def prospect_list(request: Request) -> JSONResponse:
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        page = _int(p.get("page"), "page", 1)
        per_page = _int(p.get("perPage"), "perPage", sb.settings.max_per_page)
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

    # -- prospects ----------------------------------------------------------------------------------
    @app.post("/v1/add-prospect-to-list")
    async def add_prospect(request: Request) -> JSONResponse:
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        if p.get("listId") in (None, ""):
            raise ApiError(400, {"listId": "The listId is required"})
        prospect, added, updated = store.add_prospect(p["listId"], ProspectInput.parse(p),
                                                      update_contact=_flag(p.get("updateContact", False)))
        return JSONResponse({"success": True, "id": prospect.id, "added": added, "updated": updated})

    @app.post("/v1/get-prospect-by-id")
    async def prospect_by_id(request: Request) -> JSONResponse:
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        with store.lock:
            prospect = store.get(str(p.get("id") or ""))
            return JSONResponse({"success": True, "data": store.prospect_json(prospect)})

    @app.post("/v1/get-prospects-by-email")
    async def prospects_by_email(request: Request) -> JSONResponse:
        p = await authed(request)
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
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        with store.lock:
            return JSONResponse([store.field_json(f) for f in store.fields.values()])

    # -- designed after Snov.io's conventions (not in its public API) --------------------------
    @app.post("/v1/update-prospect")
    async def update_prospect(request: Request) -> JSONResponse:
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        prospect, changed = store.update_prospect(str(p.get("id") or ""), ProspectInput.parse(p))
        return JSONResponse({"success": True, "id": prospect.id, "updated": changed})

    @app.post("/v1/delete-prospect-from-list")
    async def delete_from_list(request: Request) -> JSONResponse:
        p = await authed(request)
        if isinstance(p, JSONResponse):
            return p
        if p.get("listId") in (None, ""):
            raise ApiError(400, {"listId": "The listId is required"})
        removed = store.remove_from_list(str(p.get("id") or ""), p["listId"])
        return JSONResponse({"success": True, "deleted": removed})

    _admin_routes(app, sb)
    return app


def _admin_routes(app: FastAPI, sb: SnovioSandbox) -> None:
    """``/_sandbox/``: seed, reset, lists, prospects and custom fields as a user edits them, faults, counters."""
    store = sb.store

    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            data = json.loads(raw or b"{}")
        except json.JSONDecodeError as e:
            raise ApiError(400, f"Invalid JSON: {e.msg}") from None
        return data if isinstance(data, dict) else {}

    @app.get("/_sandbox/")
    async def summary() -> dict[str, Any]:
        with store.lock:
            return {"vendor": "snovio", "prospects": len(store.prospects),
                    "lists": {x.name: len(x.members) for x in store.lists.values() if x.deleted is None},
                    "customFields": [f.name for f in store.fields.values()]}

    @app.post("/_sandbox/seed")
    async def seed(request: Request) -> dict[str, Any]:
        b = await body(request)
        return sb.seed(int(b.get("records", 100)), int(b.get("seed", sb.settings.seed)))

    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, Any]:
        sb.reset()
        return {"ok": True}

    @app.post("/_sandbox/lists")
    async def create_list(request: Request) -> dict[str, Any]:
        return {"id": sb.create_list(str((await body(request)).get("name", "")))}

    @app.delete("/_sandbox/lists/{list_id}")
    async def delete_list(list_id: int) -> dict[str, Any]:
        return {"deleted": sb.delete_list(list_id)}

    @app.get("/_sandbox/prospects")
    async def prospects(request: Request) -> list[dict[str, Any]]:
        lid = request.query_params.get("listId")
        return sb.prospects(int(lid) if lid else None)

    @app.post("/_sandbox/prospects")
    async def user_add(request: Request) -> JSONResponse:
        b = await body(request)
        pid = sb.user_add(int(b.pop("listId")), emails=list(b.pop("emails")), phones=b.pop("phones", None),
                          custom=b.pop("customFields", None), **{k: str(v) for k, v in b.items()})
        return JSONResponse({"id": pid}, status_code=201)

    @app.patch("/_sandbox/prospects/{pid}")
    async def user_update(pid: str, request: Request) -> dict[str, Any]:
        b = await body(request)
        sb.user_update(pid, phones=b.pop("phones", None), custom=b.pop("customFields", None),
                       emails=b.pop("emails", None), **{k: str(v) for k, v in b.items()})
        with store.lock:
            return store.prospect_json(store.get(pid))

    @app.delete("/_sandbox/prospects/{pid}")
    async def user_delete(pid: str) -> dict[str, Any]:
        return {"deleted": sb.user_delete(pid)}

    @app.post("/_sandbox/custom-fields")
    async def add_field(request: Request) -> dict[str, Any]:
        b = await body(request)
        sb.add_field(str(b.get("name", "")), str(b.get("type", "string")))
        return {"ok": True}

    @app.delete("/_sandbox/custom-fields/{name}")
    async def delete_field(name: str) -> dict[str, Any]:
        return {"deleted": sb.delete_field(name)}

    @app.post("/_sandbox/tokens/expire")
    async def expire() -> dict[str, Any]:
        return {"expired": sb.expire_tokens()}

    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(sb.faults)

    @app.put("/_sandbox/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            return asdict(sb.set_faults(**{str(k): v for k, v in (await body(request)).items()}))
        except ValueError as e:
            raise ApiError(400, str(e)) from None

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

    @app.get("/_sandbox/settings")
    async def get_settings() -> dict[str, Any]:
        return asdict(sb.settings)

    @app.put("/_sandbox/settings")
    async def put_settings(request: Request) -> dict[str, Any]:
        for k, v in (await body(request)).items():
            if not hasattr(sb.settings, k):
                raise ApiError(400, f"unknown setting {k}")
            setattr(sb.settings, k, v)
        return asdict(sb.settings)


def serve(host: str = "127.0.0.1", port: int = 8103, records: int = 100, seed: int = 0,
          token: str | None = None) -> None:
    """Run a seeded sandbox with uvicorn until interrupted (blocking); ``token`` is the only client secret accepted."""
    import uvicorn

    sandbox = SnovioSandbox(SandboxSettings(records=records, seed=seed, client_secret=token))
    uvicorn.run(sandbox.app, host=host, port=port, log_level="warning")


__all__ = ["Faults", "SandboxSettings", "SnovioSandbox", "build_app", "serve"]
