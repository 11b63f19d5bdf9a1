"""The xentral sandbox: FastAPI routes of the legacy REST API v1, auth, rate limit, faults.

Paths and shapes follow xentral's REST API v1 as OpenXE (xentral's open-source fork)
implements it — ``/api/v1/adressen``, ``/api/v1/gruppen``, ``/api/v1/wiedervorlagen`` — with
the conventions of the current xentral API where the legacy one is silent (bearer token,
100 requests per minute with ``X-RateLimit-*`` and ``Retry-After``). Endpoints xentral
does not document (group membership on addresses, free-field labels, resubmission boards
and stages) are designed in the same style; docs/connectors/xentral.md lists each
assumption.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.sandbox.xentral.query import Resource, Row, run_list
from accord.sandbox.xentral.store import (
    CODE_API_ACCOUNT_INVALID,
    CODE_MALFORMED_REQUEST_BODY,
    CODE_METHOD_NOT_ALLOWED,
    CODE_ROUTE_NOT_FOUND,
    CODE_UNAUTHORIZED,
    CODE_UNEXPECTED_ERROR,
    FREE_FIELDS,
    ApiError,
    Store,
    not_found,
    validation,
)

API = "/api/v1"


@dataclass
class SandboxSettings:
    token: str | None = None  # None: any non-empty bearer token is accepted
    rate_limit: int = 100  # requests per rolling window (xentral: 100 per minute)
    rate_window: float = 60.0
    timezone: str = "Europe/Berlin"  # the instance's clock: logdatei is local time
    records: int = 0
    seed: int = 0


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    latency: float = 0.0  # seconds added to every API request (a slow instance)
    retry_after: float | None = 1.0
    seed: int = 0


def endpoint_kind(method: str, path: str) -> str:
    parts = path.removeprefix(API).strip("/").split("/")
    resource = parts[0] if parts and parts[0] else "root"
    if len(parts) >= 2 and not parts[1].isdigit():
        resource = f"{resource}_{parts[1]}"  # wiedervorlagen_boards, wiedervorlagen_stages
        return f"{resource}_{'list' if method == 'GET' else method.lower()}"
    if len(parts) == 1:
        return f"{resource}_{'list' if method == 'GET' else 'create'}"
    return f"{resource}_{ {'GET': 'get', 'PUT': 'update', 'DELETE': 'delete'}.get(method, 'other')}"


class _Window:
    """Rolling-window hit counts (what current xentral enforces per API account)."""

    def __init__(self) -> None:
        self.hits: deque[float] = deque()

    def hit(self, limit: int, window: float) -> tuple[bool, int, float]:
        now = time.monotonic()
        while self.hits and self.hits[0] <= now - window:
            self.hits.popleft()
        if len(self.hits) >= limit:
            return False, 0, self.hits[0] + window - now
        self.hits.append(now)
        return True, limit - len(self.hits), 0.0


def _has_group(row: Row, value: str) -> bool:
    return any(g["id"] == value or g["kennziffer"].casefold() == value.casefold() for g in row.get("gruppen", []))


_ADDRESS_FILTERS: dict[str, tuple[str, str]] = {
    "rolle": ("rolle", "contains"), "projekt": ("projekt", "="), "typ": ("typ", "like"), "land": ("land", "like"),
    "sprache": ("sprache", "like"), "waehrung": ("waehrung", "like"),
}
for _col in ("name", "kundennummer", "email"):
    _ADDRESS_FILTERS |= {_col: (_col, "contains"), f"{_col}_equals": (_col, "like"),
                         f"{_col}_startswith": (_col, "startswith"), f"{_col}_endswith": (_col, "endswith")}
for _f in FREE_FIELDS:
    _ADDRESS_FILTERS |= {_f: (_f, "contains"), f"{_f}_equals": (_f, "like")}

ADDRESSES = Resource(
    filters=_ADDRESS_FILTERS,
    # registered in OpenXE: name, kundennummer; id and logdatei are the sandbox's (assumed) additions
    sortable=frozenset({"name", "kundennummer", "id", "logdatei"}),
    numeric=frozenset({"id", "projekt", "lead", "marketingsperre"}),
    extra={"gruppe": _has_group},  # assumed: members of one group, by id or kennziffer
)
GROUPS = Resource(
    filters={"name": ("name", "contains"), "name_exakt": ("name", "like"), "kennziffer": ("kennziffer", "contains"),
             "kennziffer_exakt": ("kennziffer", "like"), "art": ("art", "like"), "projekt": ("projekt", "="),
             "kategorie": ("kategorie", "="), "aktiv": ("aktiv", "=")},
    sortable=frozenset({"name", "art", "kennziffer", "projekt", "kategorie", "aktiv", "id"}),
    numeric=frozenset({"id", "projekt", "kategorie", "aktiv"}),
)
RESUBMISSIONS = Resource(
    filters={"adresse": ("adresse", "="), "bearbeiter": ("bearbeiter", "="),
             "adresse_mitarbeiter": ("adresse_mitarbeiter", "="), "projekt": ("projekt", "="),
             "stages": ("stages", "="), "id_ext": ("id_ext", "=")},
    sortable=frozenset({"datum_angelegt", "zeit_angelegt", "datum_erinnerung", "zeit_erinnerung", "datum_abschluss",
                        "bezeichnung", "stages", "prio", "id"}),
    numeric=frozenset({"id", "adresse", "bearbeiter", "adresse_mitarbeiter", "projekt", "stages", "betrag", "chance",
                       "prio"}),
)
BOARDS = Resource(filters={"name": ("name", "like"), "active": ("active", "=")}, sortable=frozenset({"id", "name"}))
STAGES = Resource(filters={"view": ("view", "="), "name": ("name", "like")},
                  sortable=frozenset({"id", "sort", "name", "view"}), numeric=frozenset({"id", "view", "sort"}))
FREE_FIELD_LABELS = Resource(filters={"bezeichnung": ("bezeichnung", "like")}, sortable=frozenset({"id"}))


class XentralSandbox:
    """One emulated xentral instance: ``.app`` to serve, methods to seed, edit and inspect."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings()
        for k, v in overrides.items():
            setattr(self.settings, k, v)
        self.store = Store(timezone=self.settings.timezone)
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._rng = random.Random(0)
        self._window = _Window()
        self.in_flight = 0  # API requests being answered right now
        if self.settings.records:
            self.seed(self.settings.records, self.settings.seed)
        self.app = build_app(self)

    # -- state ------------------------------------------------------------------------------------
    def seed(self, records: int, seed: int = 0) -> dict[str, Any]:
        from accord.sandbox.xentral.seed import seed as seeding

        return seeding(self.store, records, seed)

    def reset(self) -> None:
        self.store.reset()
        self.counters.clear()
        self.faults = Faults()
        self._window = _Window()

    def set_faults(self, **kw: Any) -> Faults:
        for k, v in kw.items():
            if not hasattr(self.faults, k):
                raise ValueError(f"unknown fault {k}")
            setattr(self.faults, k, v)
        self._rng = random.Random(self.faults.seed)
        return self.faults

    # -- what a person does in xentral's UI (no API call, no rate limit) ----------------------------
    def create_group(self, name: str, kennziffer: str | None = None) -> str:
        kz = kennziffer or "".join(ch for ch in name.lower() if ch.isalnum() or ch in "-_") or "gruppe"
        return str(self.store.create_group({"name": name, "kennziffer": kz}).id)

    def group_id(self, name: str) -> str:
        g = self.store.group_by_name(name)
        if g is None:
            raise KeyError(name)
        return str(g.id)

    def label_free_field(self, column: str, label: str) -> None:
        with self.store.lock:
            if column not in self.store.free_field_labels:
                raise KeyError(column)
            self.store.free_field_labels[column] = label

    def user_create_address(self, props: dict[str, Any], groups: list[str] = ()) -> str:  # type: ignore[assignment]
        body = dict(props)
        body.setdefault("name", " ".join(str(props.get(k) or "") for k in ("vorname", "nachname")).strip()
                        or str(props.get("email") or "Unbenannt"))
        body["gruppen"] = [{"id": self.group_id(g)} for g in groups]
        return str(self.store.create_address(body).id)

    def user_update_address(self, aid: str | int, props: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            return self.store.address_wire(self.store.update_address(int(aid), props))

    def user_delete_address(self, aid: str | int) -> None:
        self.store.delete_address(int(aid))

    def add_to_group(self, aid: str | int, group: str) -> None:
        self.store.set_membership(int(aid), int(self.group_id(group)), True)

    def remove_from_group(self, aid: str | int, group: str) -> None:
        self.store.set_membership(int(aid), int(self.group_id(group)), False)

    def address(self, aid: str | int) -> dict[str, Any] | None:
        with self.store.lock:
            a = self.store.addresses.get(int(aid))
            return self.store.address_wire(a) if a else None

    def addresses(self, *, deleted: bool = False) -> list[dict[str, Any]]:
        with self.store.lock:
            return [self.store.address_wire(a) for a in self.store.addresses.values() if a.deleted == deleted]

    def members(self, group: str) -> list[str]:
        gid = int(self.group_id(group))
        with self.store.lock:
            return [str(a.id) for a in self.store.addresses.values() if gid in a.groups and not a.deleted]

    def create_board(self, name: str, stages: list[str]) -> tuple[str, list[str]]:
        b = self.store.create_board(name)
        ids = [str(self.store.create_stage({"name": s, "view": b.id, "sort": i + 1}).id) for i, s in enumerate(stages)]
        return str(b.id), ids

    def stage_id(self, board: str, label: str) -> str:
        with self.store.lock:
            b = next(b for b in self.store.boards.values() if b.name == board)
            return str(next(s.id for s in self.store.stages.values() if s.view == b.id and s.name == label))

    def user_create_resubmission(self, props: dict[str, Any]) -> str:
        body = {"datum_erinnerung": self.store.local_now().date().isoformat(), "zeit_erinnerung": "09:00:00", **props}
        return str(self.store.create_resubmission(body).id)

    def user_update_resubmission(self, rid: str | int, props: dict[str, Any]) -> dict[str, Any]:
        return self.store.update_resubmission(int(rid), props).wire()

    def user_delete_resubmission(self, rid: str | int) -> None:
        self.store.delete_resubmission(int(rid))

    def resubmission(self, rid: str | int) -> dict[str, Any] | None:
        with self.store.lock:
            r = self.store.resubmissions.get(int(rid))
            return r.wire() if r else None

    def resubmissions(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [r.wire() for r in self.store.resubmissions.values()]

    # -- gatekeeping ------------------------------------------------------------------------------
    def draw_fault(self) -> str | None:
        with self._lock:
            r = self._rng.random()
        for name, rate in (("429", self.faults.rate_429), ("500", self.faults.rate_500)):
            if r < rate:
                return name
            r -= rate
        return None


def _error(e: ApiError, request: Request) -> JSONResponse:
    headers = dict(e.headers)
    if e.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="Xentral-API"')
    base = str(request.base_url).rstrip("/") + "/api"
    return JSONResponse(e.body(base), status_code=e.status, headers=headers)


def _rate_limited(retry_after: float | None, limit: int, reset: float) -> ApiError:
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset": str(max(0, math.ceil(reset)))}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
    return ApiError(429, 429, "Too Many Requests", headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        raise ApiError(400, CODE_MALFORMED_REQUEST_BODY, "JSON could not be decoded.") from None
    if not isinstance(body, dict):
        raise ApiError(400, CODE_MALFORMED_REQUEST_BODY, "JSON could not be decoded.")
    return body


def _id(raw: str) -> int:
    if not raw.isdigit():
        raise ApiError(404, CODE_ROUTE_NOT_FOUND, "Route not found")
    return int(raw)


def build_app(sb: XentralSandbox) -> FastAPI:
    app = FastAPI(title="xentral sandbox (Accord)", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")
    store = sb.store

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return _error(ApiError(405, CODE_METHOD_NOT_ALLOWED, "Method not allowed"), request)
        if exc.status_code == 404:
            return _error(ApiError(404, CODE_ROUTE_NOT_FOUND, "Route not found"), request)
        return _error(ApiError(exc.status_code, CODE_UNEXPECTED_ERROR, str(exc.detail)), request)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(ApiError(400, CODE_MALFORMED_REQUEST_BODY, "Request could not be decoded."), request)

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith("/api/"):
            passed: Response = await call_next(request)  # admin/docs routes: no auth, limits or faults
            return passed
        s = sb.settings
        with sb._lock:
            sb.counters[endpoint_kind(request.method, path)] += 1
            sb.counters["total"] += 1
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            return _error(ApiError(401, CODE_UNAUTHORIZED, "Unauthorized. You need to login."), request)
        if s.token is not None and token != s.token:
            return _error(ApiError(401, CODE_API_ACCOUNT_INVALID, "API account is invalid or inactive."), request)
        fault = sb.draw_fault()
        if fault == "500":
            sb.counters["fault_500"] += 1
            return _error(ApiError(500, CODE_UNEXPECTED_ERROR, "Unexpected error"), request)
        if fault == "429":
            sb.counters["fault_429"] += 1
            return _error(_rate_limited(sb.faults.retry_after, s.rate_limit, s.rate_window), request)
        with sb._lock:
            ok, remaining, wait = sb._window.hit(s.rate_limit, s.rate_window)
        if not ok:
            sb.counters["rate_limited"] += 1  # real (not injected) 429s
            return _error(_rate_limited(wait, s.rate_limit, wait), request)
        sb.in_flight += 1
        try:
            if sb.faults.latency:
                await asyncio.sleep(sb.faults.latency)
            response: Response = await call_next(request)
        finally:
            sb.in_flight -= 1
        response.headers["X-RateLimit-Limit"] = str(s.rate_limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        return response

    def ok(data: Any, status: int = 200, success: bool | None = None) -> JSONResponse:
        body: dict[str, Any] = {} if success is None else {"success": success}
        body["data"] = data
        return JSONResponse(body, status_code=status)

    # -- addresses ----------------------------------------------------------------------------------
    @app.get(f"{API}/adressen")
    async def list_addresses(request: Request) -> JSONResponse:
        with store.lock:
            rows = [store.address_wire(a) for a in store.addresses.values() if not a.deleted]
        return JSONResponse(run_list(rows, request.query_params, ADDRESSES))

    @app.get(f"{API}/adressen/{{aid}}")
    async def get_address(aid: str) -> JSONResponse:
        with store.lock:
            return ok(store.address_wire(store.live_address(_id(aid))))

    @app.post(f"{API}/adressen")
    async def create_address(request: Request) -> JSONResponse:
        body = await _body(request)
        with store.lock:
            # OpenXE's AddressController answers a create with 200 and the new address
            return ok(store.address_wire(store.create_address(body)))

    @app.put(f"{API}/adressen/{{aid}}")
    async def update_address(aid: str, request: Request) -> JSONResponse:
        body = await _body(request)
        with store.lock:
            return ok(store.address_wire(store.update_address(_id(aid), body)))

    @app.get(f"{API}/adressfreifelder")
    async def list_free_fields(request: Request) -> JSONResponse:
        with store.lock:
            rows = [{"id": str(i), "spalte": col, "bezeichnung": store.free_field_labels[col]}
                    for i, col in enumerate(FREE_FIELDS, start=1)]
        return JSONResponse(run_list(rows, request.query_params, FREE_FIELD_LABELS))

    @app.put(f"{API}/adressfreifelder/{{fid}}")
    async def label_free_field(fid: str, request: Request) -> JSONResponse:
        n = _id(fid)
        if not 1 <= n <= len(FREE_FIELDS):
            raise not_found()
        body = await _body(request)
        if not isinstance(body.get("bezeichnung"), str):
            raise validation({"bezeichnung": ["Das Feld ist erforderlich."]})
        col = FREE_FIELDS[n - 1]
        with store.lock:
            store.free_field_labels[col] = body["bezeichnung"]
        return ok({"id": str(n), "spalte": col, "bezeichnung": body["bezeichnung"]}, success=True)

    # -- groups ----------------------------------------------------------------------------------------
    @app.get(f"{API}/gruppen")
    async def list_groups(request: Request) -> JSONResponse:
        with store.lock:
            rows = [g.wire() for g in store.groups.values()]
        return JSONResponse(run_list(rows, request.query_params, GROUPS))

    @app.get(f"{API}/gruppen/{{gid}}")
    async def get_group(gid: str) -> JSONResponse:
        with store.lock:
            g = store.groups.get(_id(gid))
            if g is None:
                raise not_found()
            return ok(g.wire())

    @app.post(f"{API}/gruppen")
    async def create_group(request: Request) -> JSONResponse:
        body = await _body(request)
        return ok(store.create_group(body).wire(), status=201, success=True)

    # -- resubmissions, boards, stages -------------------------------------------------------------------
    @app.get(f"{API}/wiedervorlagen")
    async def list_resubmissions(request: Request) -> JSONResponse:
        with store.lock:
            rows = [r.wire() for r in store.resubmissions.values()]
        return JSONResponse(run_list(rows, request.query_params, RESUBMISSIONS))

    @app.get(f"{API}/wiedervorlagen/boards")
    async def list_boards(request: Request) -> JSONResponse:
        with store.lock:
            rows = [b.wire() for b in store.boards.values()]
        return JSONResponse(run_list(rows, request.query_params, BOARDS))

    @app.get(f"{API}/wiedervorlagen/stages")
    async def list_stages(request: Request) -> JSONResponse:
        with store.lock:
            rows = [s.wire() for s in store.stages.values()]
        return JSONResponse(run_list(rows, request.query_params, STAGES))

    @app.post(f"{API}/wiedervorlagen/stages")
    async def create_stage(request: Request) -> JSONResponse:
        body = await _body(request)
        return ok(store.create_stage(body).wire(), status=201, success=True)

    @app.get(f"{API}/wiedervorlagen/{{rid}}")
    async def get_resubmission(rid: str) -> JSONResponse:
        with store.lock:
            r = store.resubmissions.get(_id(rid))
            if r is None:
                raise not_found()
            return ok(r.wire())

    @app.post(f"{API}/wiedervorlagen")
    async def create_resubmission(request: Request) -> JSONResponse:
        body = await _body(request)
        return ok(store.create_resubmission(body).wire(), status=201, success=True)

    @app.put(f"{API}/wiedervorlagen/{{rid}}")
    async def update_resubmission(rid: str, request: Request) -> JSONResponse:
        body = await _body(request)
        return ok(store.update_resubmission(_id(rid), body).wire(), success=True)

    # -- admin (not part of xentral's API): inspect the sandbox ------------------------------------------
    @app.get("/_sandbox/counters")
    async def counters() -> JSONResponse:
        return JSONResponse(dict(sb.counters))

    return app
