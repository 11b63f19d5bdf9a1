"""Request parsing and response helpers shared by the HubSpot sandbox's route modules."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from accord.sandbox.faults import ResetResponse as ResetResponse  # its old home
from accord.sandbox.hubspot.store import ApiError, iso_ms

MAX_BATCH = 100


def rate_error(policy: str, message: str, group: str, retry_after: float | None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"status": "error", "message": message, "errorType": "RATE_LIMIT", "category": "RATE_LIMITS",
            "correlationId": ApiError(429, "", "").body()["correlationId"], "policyName": policy, "groupName": group}
    hdrs = dict(headers or {})
    if retry_after is not None:
        hdrs["Retry-After"] = str(max(0, math.ceil(retry_after)))
    return JSONResponse(body, status_code=429, headers=hdrs)


def error_response(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError as e:
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid input JSON on line {e.lineno}, column {e.colno}: "
                       f"{e.msg}") from None


def props_param(request: Request) -> list[str] | None:
    vals = [p for v in request.query_params.getlist("properties") for p in v.split(",") if p]
    return vals or None


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def int_param(value: Any, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid value {value!r} for {name}") from None


def batch_inputs(body: Any) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON: the request needs an 'inputs' array")
    if len(inputs) > MAX_BATCH:
        raise ApiError(400, "VALIDATION_ERROR", f"Batch input is limited to {MAX_BATCH} inputs; got {len(inputs)}",
                       errors=[{"message": f"size must be between 1 and {MAX_BATCH}", "in": "inputs"}])
    return [i if isinstance(i, dict) else {"id": i} for i in inputs]


def half_batch(request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """With the half-batch fault: only the first half of the inputs is carried out."""
    if getattr(request.state, "half_batch", False):
        return items[:len(items) // 2], True
    return items, False


def half_failed() -> ApiError:
    return ApiError(500, "INTERNAL_ERROR", "internal error part-way through the batch (injected by the sandbox)")


def batch_response(results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str,
                   ok_status: int) -> JSONResponse:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso_ms(
        int(time.time() * 1000))}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return JSONResponse(body, status_code=207 if errors else ok_status)
