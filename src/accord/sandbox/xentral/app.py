"""The xentral sandbox: the ASGI app of the legacy REST API v1, assembled from the gate (auth,
rate limit, faults) and one set of routes per resource.

Paths and shapes follow xentral's REST API v1 as OpenXE (xentral's open-source fork)
implements it — ``/api/v1/adressen``, ``/api/v1/gruppen``, ``/api/v1/wiedervorlagen`` — with
the conventions of the current xentral API where the legacy one is silent (bearer token,
100 requests per minute with ``X-RateLimit-*`` and ``Retry-After``). Endpoints xentral
does not document (group membership on addresses, free-field labels, resubmission boards
and stages) are designed in the same style; docs/connectors/xentral.md lists each
assumption.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.sandbox.xentral.core import Faults, SandboxSettings, XentralCore
from accord.sandbox.xentral.routes import addresses, admin, groups, resubmissions
from accord.sandbox.xentral.routes.common import error_response
from accord.sandbox.xentral.routes.gate import gate
from accord.sandbox.xentral.store import (
    CODE_MALFORMED_REQUEST_BODY,
    CODE_METHOD_NOT_ALLOWED,
    CODE_ROUTE_NOT_FOUND,
    CODE_UNEXPECTED_ERROR,
    ApiError,
)

__all__ = ["Faults", "SandboxSettings", "XentralSandbox", "build_app"]

# Starlette matches routes in registration order: this is the order they always had
# (/wiedervorlagen/boards and /stages ahead of /wiedervorlagen/{rid}).
ROUTES = (addresses.register, groups.register, resubmissions.register, admin.register)


class XentralSandbox(XentralCore):
    """One emulated xentral instance: ``.app`` to serve, methods to seed, edit and inspect."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        super().__init__(settings, **overrides)
        self.app = build_app(self)


def _error_handlers(app: FastAPI) -> None:
    """Every error in xentral's JSON error shape, FastAPI's own 404/405/422 included."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return error_response(ApiError(405, CODE_METHOD_NOT_ALLOWED, "Method not allowed"), request)
        if exc.status_code == 404:
            return error_response(ApiError(404, CODE_ROUTE_NOT_FOUND, "Route not found"), request)
        return error_response(ApiError(exc.status_code, CODE_UNEXPECTED_ERROR, str(exc.detail)), request)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(ApiError(400, CODE_MALFORMED_REQUEST_BODY, "Request could not be decoded."), request)


def build_app(sb: XentralCore) -> FastAPI:
    app = FastAPI(title="xentral sandbox (Accord)", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")
    _error_handlers(app)
    app.middleware("http")(gate(sb))
    for register in ROUTES:
        register(app, sb)
    return app
