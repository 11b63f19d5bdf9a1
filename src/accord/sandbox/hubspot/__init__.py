"""HubSpot CRM v3 sandbox: an in-memory portal speaking HubSpot's REST API over HTTP.

    sandbox = HubSpotSandbox(SandboxSettings(records=100, seed=1))
    with ServerThread(sandbox.app) as srv:   # accord.sandbox.server
        ...  # point hubspot-api-client or the connector at srv.url

``serve()`` runs it in the foreground for ``accord sandbox hubspot``.
"""

from __future__ import annotations

from accord.sandbox.hubspot.app import Faults, HubSpotSandbox, SandboxSettings, build_app
from accord.sandbox.hubspot.store import ApiError, Source, Store
from accord.sandbox.hubspot.webhooks import WebhookConfig, sign_v3

__all__ = ["ApiError", "Faults", "HubSpotSandbox", "SandboxSettings", "Source", "Store", "WebhookConfig",
           "build_app", "serve", "sign_v3"]


def serve(host: str = "127.0.0.1", port: int = 8101, records: int = 100, seed: int = 0,
          token: str | None = None, **settings: object) -> None:
    """Run a seeded sandbox with uvicorn until interrupted (blocking)."""
    import uvicorn

    sandbox = HubSpotSandbox(SandboxSettings(records=records, seed=seed, token=token), **settings)
    try:
        uvicorn.run(sandbox.app, host=host, port=port, log_level="warning")
    finally:
        sandbox.close()
