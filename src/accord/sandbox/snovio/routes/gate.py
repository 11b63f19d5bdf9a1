"""The Snov.io sandbox's gate: one HTTP middleware in front of ``/v1/`` that counts calls, injects
faults and enforces the account's rolling limit (60 requests a minute)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox import faults
from accord.sandbox.snovio.core import SnovioCore

API_PREFIX = "/v1/"
API_PREFIXES = (API_PREFIX, "/v2/")  # v2: the campaigns' recipients-activity report
Middleware = Callable[[Request, Any], Awaitable[Response]]


def _server_error(message: str = "Internal server error (injected by the sandbox)") -> JSONResponse:
    return JSONResponse({"success": False, "errors": message}, status_code=500)


def _injected(sb: SnovioCore, fault: str | None) -> JSONResponse | None:
    """The answer of an injected fault that stops the call before it is carried out."""
    if fault is not None:
        with sb.lock:
            sb.counters[f"fault_{fault}"] += 1
    if fault == "500":
        return _server_error()
    if fault == "429":
        ra = sb.faults.retry_after
        return JSONResponse({"success": False, "errors": "Too many requests"}, status_code=429,
                            headers={"Retry-After": faults.retry_after(ra, sb.faults.retry_after_date)}
                            if ra is not None else {})
    return None


def gate(sb: SnovioCore) -> Middleware:
    """The ``http`` middleware guarding the API (admin routes pass untouched)."""

    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith(API_PREFIXES):
            passed: Response = await call_next(request)  # admin routes: no limits or faults
            return passed
        # v2 campaign paths carry the campaign id: counted by their last part
        kind = (path[len(API_PREFIX):].strip("/") if path.startswith(API_PREFIX)
                else "v2/" + path.rstrip("/").rsplit("/", 1)[-1]) or "other"
        with sb.lock:
            sb.counters[kind] += 1
            sb.counters["total"] += 1
        fault = sb.draw_fault(kind)
        injected = _injected(sb, fault)
        if injected is not None:
            return injected
        s = sb.settings
        with sb.lock:
            ok, wait = sb.window.hit(s.rate_limit, s.rate_window)
            if not ok:
                sb.counters["rate_limited"] += 1  # real (not injected) 429s: what a connector must avoid
        if not ok:
            return JSONResponse({"success": False, "errors": f"Too many requests: the limit is {s.rate_limit} "
                                 f"requests per {s.rate_window:g} seconds"}, status_code=429,
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})
        response: Response = await call_next(request)
        return await faults.after_applied(fault, response, _server_error(
            "Internal server error after the request was carried out (injected by the sandbox)"))

    return gate
