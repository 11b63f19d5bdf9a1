"""xentral sandbox: an in-memory xentral instance speaking its REST API v1 over HTTP.

    sandbox = XentralSandbox(SandboxSettings(records=100, seed=1))
    with ServerThread(sandbox.app) as srv:   # accord.sandbox.server
        ...  # point the xentral connector at srv.url (paths under /api/v1)

``serve()`` runs it in the foreground for ``accord sandbox xentral``.
"""

from __future__ import annotations

from accord.sandbox.xentral.app import Faults, SandboxSettings, XentralSandbox, build_app
from accord.sandbox.xentral.seed import install
from accord.sandbox.xentral.store import ApiError, Store

__all__ = ["ApiError", "Faults", "SandboxSettings", "Store", "XentralSandbox", "build_app", "install", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8103, records: int = 100, seed: int = 0,
          token: str | None = None, **settings: object) -> None:
    """Run a seeded sandbox with uvicorn until interrupted (blocking)."""
    import uvicorn

    sandbox = XentralSandbox(SandboxSettings(records=records, seed=seed, token=token), **settings)
    if not records:
        install(sandbox.store)  # the HubSpot module's set-up, without data
    uvicorn.run(sandbox.app, host=host, port=port, log_level="warning")
