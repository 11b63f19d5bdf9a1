"""The HubSpot CRM v3 sandbox: the ASGI app, assembled from the gate and one router per resource.

Routes follow HubSpot's public OpenAPI specs (``/work/shared/vendor-specs/hubspot``) for paths,
status codes and JSON shapes, so the official ``hubspot-api-client`` works unchanged.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import Faults, HubSpotCore, SandboxSettings
from accord.sandbox.hubspot.routes import (
    account,
    admin,
    associations,
    batch,
    legacy_properties,
    lists,
    oauth,
    objects,
    pipelines,
    properties,
    schemas,
    search,
    timeline,
)
from accord.sandbox.hubspot.routes.common import error_response
from accord.sandbox.hubspot.routes.gate import gate
from accord.sandbox.hubspot.store import ApiError

__all__ = ["Faults", "HubSpotSandbox", "SandboxSettings", "build_app"]

# Starlette matches routes in registration order: this is the order they always had (paths overlap,
# e.g. /crm/v3/objects/{object_type}/{object_id} and /crm/v3/objects/{object_type}/search).
ROUTES = (objects.register, batch.register, search.register, properties.register, pipelines.register,
          associations.register, lists.register, oauth.register, admin.register, schemas.register,
          timeline.register, legacy_properties.register, account.register)


class HubSpotSandbox(HubSpotCore):
    """One emulated HubSpot portal: ``.app`` to serve, methods to seed, edit and inspect."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        super().__init__(settings, **overrides)
        self.app = build_app(self)


def build_app(sb: HubSpotCore) -> FastAPI:
    app = FastAPI(title="HubSpot sandbox (Accord)", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    app.middleware("http")(gate(sb))
    for register in ROUTES:
        register(app, sb)
    return app
