"""Request parsing and answers shared by the xentral sandbox's route modules."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from accord.sandbox.xentral.store import CODE_MALFORMED_REQUEST_BODY, CODE_ROUTE_NOT_FOUND, ApiError

API = "/api/v1"


def error_response(e: ApiError, request: Request) -> JSONResponse:
    headers = dict(e.headers)
    if e.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="Xentral-API"')
    base = str(request.base_url).rstrip("/") + "/api"
    return JSONResponse(e.body(base), status_code=e.status, headers=headers)


def rate_limited(retry_after: float | None, limit: int, reset: float) -> ApiError:
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset": str(max(0, math.ceil(reset)))}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
    return ApiError(429, 429, "Too Many Requests", headers=headers)


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        raise ApiError(400, CODE_MALFORMED_REQUEST_BODY, "JSON could not be decoded.") from None
    if not isinstance(body, dict):
        raise ApiError(400, CODE_MALFORMED_REQUEST_BODY, "JSON could not be decoded.")
    return body


def path_id(raw: str) -> int:
    if not raw.isdigit():
        raise ApiError(404, CODE_ROUTE_NOT_FOUND, "Route not found")
    return int(raw)


def ok(data: Any, status: int = 200, success: bool | None = None) -> JSONResponse:
    body: dict[str, Any] = {} if success is None else {"success": success}
    body["data"] = data
    return JSONResponse(body, status_code=status)
