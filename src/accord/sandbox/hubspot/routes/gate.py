"""The HubSpot sandbox's gate: one HTTP middleware in front of every ``/crm/`` route that counts
calls, checks the bearer token, injects faults and enforces HubSpot's rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from accord.sandbox import faults
from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import ResetResponse, error_response, rate_error
from accord.sandbox.hubspot.store import ApiError

Middleware = Callable[[Request, Any], Awaitable[Response]]
# HubSpot's API (the schemas and timeline APIs also answer at the paths the official client uses)
API_PREFIXES = ("/crm/", "/crm-object-schemas/", "/integrators/")


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
    if parts[0] == "crm-object-schemas":
        return "schemas"
    if parts[0] == "integrators":
        return "timeline"
    if parts[:2] == ["crm", "v3"] and len(parts) > 2:
        return parts[2]  # properties | pipelines | lists
    return "other"


def _ten_secondly(sb: HubSpotCore, token: str, wait: float | None,
                  headers: dict[str, str] | None = None) -> JSONResponse:
    return rate_error("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                      f"publicapi:private-app-api-calls-ten-secondly:{sb.app_id_for(token)}", wait, headers)


async def _injected(sb: HubSpotCore, fault: str | None, token: str, request: Request) -> Response | None:
    """The answer an injected fault gives instead of the route's, if it gives one."""
    if fault == "reset":
        return ResetResponse()
    if fault == "half_batch":
        request.state.half_batch = True
    if fault == "timeout":
        await asyncio.sleep(sb.faults.hang_seconds)
        return error_response(ApiError(504, "GATEWAY_TIMEOUT", "The request timed out and was not processed."))
    if fault == "500":
        return error_response(ApiError(500, "INTERNAL_ERROR", "internal error (injected by the sandbox)"))
    if fault == "429":
        limited = _ten_secondly(sb, token, sb.faults.retry_after)
        if sb.faults.retry_after is not None:
            limited.headers["Retry-After"] = faults.retry_after(sb.faults.retry_after, sb.faults.retry_after_date)
        return limited
    return None


_NO_AUTH = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")


def _refused(sb: HubSpotCore, token: str) -> JSONResponse | None:
    """The 401 for a missing, unknown or expired token (None: it may call)."""
    state = sb.oauth.check(token) if token else "unknown"
    if state == "expired":
        ago = max(1, round(sb.oauth.expired_for(token)))
        return error_response(ApiError(401, "EXPIRED_AUTHENTICATION",
                                       f"The OAuth token used to make this call expired {ago} second(s) ago."))
    if state == "unknown" or (state == "foreign" and sb.settings.token is not None and token != sb.settings.token):
        return error_response(ApiError(401, "INVALID_AUTHENTICATION", _NO_AUTH))
    return None


def _secondly(sb: HubSpotCore, token: str) -> tuple[JSONResponse | None, int | None]:
    """An OAuth token's per-second limit (under sb.lock): its 429, or the calls left this second."""
    if not sb.is_oauth(token):
        return None, None
    ok, left, wait = sb.window.hit(f"secondly:{sb.app_id_for(token)}", sb.secondly(), 1.0)
    if ok:
        return None, left
    return rate_error("SECONDLY", "You have reached your secondly limit.",
                      f"publicapi:oauth-app-api-calls-secondly:{sb.app_id_for(token)}", wait,
                      sb.rate_headers(token, 0, 0)), 0


def _limit(sb: HubSpotCore, kind: str, token: str) -> tuple[JSONResponse | None, dict[str, str]]:
    """The 429 for a spent limit (None when within limits) and the rate-limit headers to send."""
    s = sb.settings
    with sb.lock:
        limited: JSONResponse | None = None
        headers: dict[str, str] = {}
        if kind == "search":
            # search has its own per-second bucket and sends no rate-limit headers
            ok, _, wait = sb.window.hit(f"search:{s.portal_id}", s.search_rate, 1.0)
            if not ok:
                limited = rate_error("SECONDLY", "You have reached your secondly limit.", "publicapi:crm-search",
                                     wait)
        elif sb.daily[token] >= s.daily_limit:
            limited = rate_error("DAILY", "You have reached your daily limit.",
                                 f"publicapi:private-app-api-calls-daily:{s.portal_id}", 3600,
                                 sb.rate_headers(token, 0))
        else:
            limited, secondly = _secondly(sb, token)
            if limited is None:
                ok, remaining, wait = sb.window.hit(f"app:{sb.app_id_for(token)}", s.rate_limit, s.rate_window)
                if ok:
                    sb.daily[token] += 1
                    headers = sb.rate_headers(token, remaining, secondly)
                else:
                    limited = _ten_secondly(sb, token, wait, sb.rate_headers(token, 0, secondly))
        if limited is not None:
            sb.counters["rate_limited"] += 1  # real (not injected) 429s: what benchmarks must keep at 0
    return limited, headers


def gate(sb: HubSpotCore) -> Middleware:
    """The ``http`` middleware guarding the portal's API (admin routes pass untouched)."""

    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith(API_PREFIXES):
            passed: Response = await call_next(request)  # admin routes: no auth, limits or faults
            return passed
        kind = endpoint_kind(request.method, path)
        with sb.lock:
            sb.counters[kind] += 1
            sb.counters["total"] += 1
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        # event templates belong to the developer account: its API key (hapikey) calls them
        dev_key = request.query_params.get("hapikey", "") if "/event-templates" in path else ""
        refused = _refused(sb, token) if not (dev_key and not token) else None
        token = token or dev_key
        if refused is not None:
            return refused
        fault = sb.draw_fault(kind)
        if fault is not None:
            with sb.lock:
                sb.counters[f"fault_{fault}"] += 1
        injected = await _injected(sb, fault, token, request)
        if injected is not None:
            return injected
        limited, headers = _limit(sb, kind, token)
        if limited is not None:
            return limited
        request.state.source = sb.integration_source(token)
        response: Response = await call_next(request)
        if fault in faults.APPLIED:  # carried out; the answer is lost
            return await faults.after_applied(fault, response, error_response(ApiError(
                500, "INTERNAL_ERROR", "internal error after the request was carried out (injected by the sandbox)")))
        response.headers.update(headers)
        return response

    return gate
