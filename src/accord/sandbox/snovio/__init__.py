"""Snov.io API sandbox: an in-memory account speaking Snov.io's REST API over HTTP.

    sandbox = SnovioSandbox(SandboxSettings(records=100, seed=1))
    with ServerThread(sandbox.app) as srv:   # accord.sandbox.server
        ...  # point the connector (base_url=srv.url) or any HTTP client at it

``serve()`` runs it in the foreground for ``accord sandbox snovio``.
"""

from __future__ import annotations

from accord.sandbox.snovio.app import Faults, SandboxSettings, SnovioSandbox, build_app, serve
from accord.sandbox.snovio.store import ApiError, ProspectInput, Store

__all__ = ["ApiError", "Faults", "ProspectInput", "SandboxSettings", "SnovioSandbox", "Store", "build_app", "serve"]
