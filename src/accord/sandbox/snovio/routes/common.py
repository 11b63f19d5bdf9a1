"""Parameter parsing, the access-token check and error answers shared by the Snov.io sandbox's routes."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from accord.sandbox.snovio.store import ApiError, Store


def error_response(e: ApiError) -> JSONResponse:
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


async def authed(store: Store, request: Request) -> dict[str, Any] | JSONResponse:
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


def flag(v: Any) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "on")


def int_param(v: Any, name: str, default: int) -> int:
    if v in (None, ""):
        return default
    try:
        return int(str(v))
    except ValueError:
        raise ApiError(400, {name: f"'{v}' is not an integer"}) from None
