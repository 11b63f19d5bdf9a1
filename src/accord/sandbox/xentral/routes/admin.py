"""``/_sandbox/``: inspect the sandbox (not part of xentral's API, so no auth, limits or faults)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from accord.sandbox.xentral.core import XentralCore


def register(app: FastAPI, sb: XentralCore) -> None:
    @app.get("/_sandbox/counters")
    async def counters() -> JSONResponse:
        return JSONResponse(dict(sb.counters))
