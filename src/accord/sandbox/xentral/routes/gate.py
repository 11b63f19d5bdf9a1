"""The xentral sandbox's gate: one HTTP middleware in front of ``/api/`` that counts calls, checks the
bearer token, injects faults and latency and enforces the rolling limit (100 requests a minute)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response

from accord.sandbox import faults
from accord.sandbox.xentral.core import XentralCore
from accord.sandbox.xentral.routes.common import API, error_response, rate_limited
from accord.sandbox.xentral.store import (
    CODE_API_ACCOUNT_INVALID,
    CODE_UNAUTHORIZED,
    CODE_UNEXPECTED_ERROR,
    ApiError,
)

Middleware = Callable[[Request, Any], Awaitable[Response]]


def endpoint_kind(method: str, path: str) -> str:
    parts = path.removeprefix(API).strip("/").split("/")
    resource = parts[0] if parts and parts[0] else "root"
    if len(parts) >= 2 and not parts[1].isdigit():
        resource = f"{resource}_{parts[1]}"  # wiedervorlagen_boards, wiedervorlagen_stages
        return f"{resource}_{'list' if method == 'GET' else method.lower()}"
    if len(parts) == 1:
        return f"{resource}_{'list' if method == 'GET' else 'create'}"
    return f"{resource}_{ {'GET': 'get', 'PUT': 'update', 'DELETE': 'delete'}.get(method, 'other')}"


def _admit(sb: XentralCore, request: Request, fault: str | None) -> tuple[ApiError | None, int]:
    """Why the call is refused before it is served (auth, an injected fault, the rate limit), if it
    is, and the requests left in the window."""
    s = sb.settings
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not token:
        return ApiError(401, CODE_UNAUTHORIZED, "Unauthorized. You need to login."), 0
    if s.token is not None and token != s.token:
        return ApiError(401, CODE_API_ACCOUNT_INVALID, "API account is invalid or inactive."), 0
    if fault is not None:
        sb.counters[f"fault_{fault}"] += 1
    if fault == "500":
        return ApiError(500, CODE_UNEXPECTED_ERROR, "Unexpected error"), 0
    if fault == "429":
        refused = rate_limited(sb.faults.retry_after, s.rate_limit, s.rate_window)
        if sb.faults.retry_after is not None:
            refused.headers["Retry-After"] = faults.retry_after(sb.faults.retry_after, sb.faults.retry_after_date)
        return refused, 0
    with sb.lock:
        ok, remaining, wait = sb.window.hit(s.rate_limit, s.rate_window)
    if not ok:
        sb.counters["rate_limited"] += 1  # real (not injected) 429s
        return rate_limited(wait, s.rate_limit, wait), 0
    return None, remaining


def gate(sb: XentralCore) -> Middleware:
    """The ``http`` middleware guarding the API (admin and docs routes pass untouched)."""

    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith("/api/"):
            passed: Response = await call_next(request)  # admin/docs routes: no auth, limits or faults
            return passed
        kind = endpoint_kind(request.method, path)
        with sb.lock:
            sb.counters[kind] += 1
            sb.counters["total"] += 1
        fault = sb.draw_fault(kind)
        refused, remaining = _admit(sb, request, fault)
        if refused is not None:
            return error_response(refused, request)
        sb.in_flight += 1
        try:
            if sb.faults.latency:
                await asyncio.sleep(sb.faults.latency)
            response: Response = await call_next(request)
        finally:
            sb.in_flight -= 1
        response = await faults.after_applied(fault, response, error_response(
            ApiError(500, CODE_UNEXPECTED_ERROR, "Unexpected error after the request was carried out"), request))
        response.headers["X-RateLimit-Limit"] = str(sb.settings.rate_limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        return response

    return gate
