"""The Snov.io API sandbox: the ASGI app, assembled from the gate (the 60-a-minute limit, faults)
and one set of routes per resource (OAuth client-credentials tokens, lists, prospects, ``/_sandbox/``).

Public endpoints emulated (paths and parameters as snov.io/api documents them):
``POST /v1/oauth/access_token``, ``GET /v1/get-user-lists``, ``POST /v1/lists``,
``POST /v1/prospect-list``, ``POST /v1/add-prospect-to-list``, ``POST /v1/get-prospect-by-id``,
``POST /v1/get-prospects-by-email``, ``GET /v1/prospect-custom-fields``; campaigns:
``GET /v1/get-user-campaigns``, ``/v1/emails-sent``, ``/v1/get-emails-opened``,
``/v1/get-emails-clicked``, ``/v1/get-emails-replies`` and ``GET /v2/campaigns/{id}/recipients-activity``
(:mod:`.campaigns`). Snov.io publishes no
way to change a prospect's email or to take it out of a list, so two endpoints are designed
after its conventions (``POST``, form or JSON parameters, ``{"success": …}`` answers):
``POST /v1/update-prospect`` and ``POST /v1/delete-prospect-from-list``. Assumptions are
listed in docs/connectors/snovio.md.

Parameters are read from the query string, a form body (``phones[]=…``,
``customFields[name]=…``) or a JSON body, and the access token from the ``Authorization:
Bearer`` header or an ``access_token`` parameter, as Snov.io's own examples send them
(:mod:`.routes.common`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.snovio.core import Faults, SandboxSettings, SnovioCore
from accord.sandbox.snovio.routes import admin, auth, campaigns, lists, prospects
from accord.sandbox.snovio.routes.common import error_response
from accord.sandbox.snovio.routes.gate import gate
from accord.sandbox.snovio.store import ApiError

__all__ = ["Faults", "SandboxSettings", "SnovioSandbox", "build_app", "serve"]

# Starlette matches routes in registration order: this is the order they always had.
ROUTES = (auth.register, lists.register, prospects.register, campaigns.register, admin.register)


class SnovioSandbox(SnovioCore):
    """One emulated Snov.io account: ``.app`` to serve, methods to seed, edit and inspect as a user would."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        super().__init__(settings, **overrides)
        self.app = build_app(self)


def build_app(sb: SnovioCore) -> FastAPI:
    app = FastAPI(title="Snov.io sandbox (Accord)", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    app.middleware("http")(gate(sb))
    for register in ROUTES:
        register(app, sb)
    return app


def serve(host: str = "127.0.0.1", port: int = 8103, records: int = 100, seed: int = 0,
          token: str | None = None, token_ttl: float | None = None) -> None:
    """Run a seeded sandbox with uvicorn until interrupted (blocking); ``token`` is the only client secret
    accepted; access tokens live ``token_ttl`` seconds (default: Snov.io's hour)."""
    import uvicorn

    settings = SandboxSettings(records=records, seed=seed, client_secret=token)
    if token_ttl is not None:
        settings.token_ttl = token_ttl
    sandbox = SnovioSandbox(settings)
    uvicorn.run(sandbox.app, host=host, port=port, log_level="warning")
