"""The Salesforce sandbox's gate: one HTTP middleware in front of the REST API that checks the
session, counts API calls against the daily limit, injects faults and stamps ``Sforce-Limit-Info``
and the org clock's ``Date`` on answers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from email.utils import format_datetime
from typing import Any

from fastapi import Request, Response

from accord.sandbox import faults
from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.routes.common import errors_response
from accord.sandbox.salesforce.store import SfError

Middleware = Callable[[Request, Any], Awaitable[Response]]
_VERSION = re.compile(r"^v\d{2}\.\d$")


def _kind(path: str) -> str:
    parts = path.split("/")[4:]  # after /services/data/vXX.X/
    if not parts or not parts[0]:
        return "resources"
    if parts[0] == "sobjects" and len(parts) >= 3 and parts[2] in ("describe", "updated", "deleted"):
        return parts[2]
    return {"queryAll": "query"}.get(parts[0], parts[0])


def _limited(sb: SalesforceCore, status: int, code: str, message: str) -> Response:
    resp: Response = errors_response(status, SfError(code, message))
    resp.headers["Sforce-Limit-Info"] = sb.limit_info()
    return resp


async def _admit(sb: SalesforceCore, request: Request, path: str) -> Response | None:
    """Account for one API call; the answer that ends it early, or None to serve it."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    state = sb.oauth.check(token) if token else "unknown"
    if scheme.lower() not in ("bearer", "oauth") or state in ("unknown", "expired") or (
        state == "foreign" and sb.settings.token is not None and token != sb.settings.token
    ):
        return errors_response(401, SfError("INVALID_SESSION_ID", "Session expired or invalid"))
    if sb.api_used >= sb.settings.daily_limit:
        return _limited(sb, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    sb.api_used += 1
    sb.stats.calls += 1
    kind = _kind(path)
    sb.stats.by_kind[kind] = sb.stats.by_kind.get(kind, 0) + 1
    fault = request.state.fault = sb.draw_fault(kind)
    if fault:
        sb.stats.faults[fault] = sb.stats.faults.get(fault, 0) + 1
    if fault == "429":
        resp = _limited(sb, 429, "REQUEST_LIMIT_EXCEEDED", "Too many requests (a gateway's limit, injected)")
        if sb.faults.retry_after is not None:
            resp.headers["Retry-After"] = faults.retry_after(sb.faults.retry_after, sb.faults.retry_after_date)
        return resp
    if fault == "500":
        return _limited(sb, 500, "UNKNOWN_EXCEPTION", "An unexpected error occurred (injected by the sandbox)")
    if fault == "timeout":
        await asyncio.sleep(sb.faults.hang_seconds)
    elif fault == "rate_limit":
        return _limited(sb, 403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
    elif fault == "error":
        return _limited(sb, 500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId "
                        "if you contact support: 1712345678-90123 (-1234567890)")
    if not _VERSION.match(path.split("/")[3]):
        return errors_response(404, SfError("NOT_FOUND", "The requested resource does not exist"))
    if sb.settings.latency:
        await asyncio.sleep(sb.settings.latency)
    return None


def gate(sb: SalesforceCore) -> Middleware:
    """The ``http`` middleware guarding ``/services/data/v…`` (admin routes pass untouched)."""

    async def api(request: Request, call_next: Any) -> Response:
        path = request.scope["path"]
        if len(path) > 1 and path.endswith("/"):
            # simple-salesforce asks for both ".../query/" and ".../describe"; serve either
            request.scope["path"] = path = path.rstrip("/")
        is_api = path.startswith("/services/data/v")
        if is_api:
            early = await _admit(sb, request, path)
            if early is not None:
                return early
        response: Response = await call_next(request)
        if is_api:
            response = await faults.after_applied(getattr(request.state, "fault", None), response, _limited(
                sb, 500, "UNKNOWN_EXCEPTION", "An unexpected error occurred after the request was carried out "
                "(injected by the sandbox)"))
            response.headers["Sforce-Limit-Info"] = sb.limit_info()
        if path.startswith("/services/"):
            response.headers["Date"] = format_datetime(sb.org.now(), usegmt=True)
        return response

    return api
