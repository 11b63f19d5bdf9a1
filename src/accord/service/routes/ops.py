"""Open routes for operators: ``/healthz`` (alive) and ``/readyz`` (index and Temporal answer) for probes,
``/metrics`` for Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from accord.service.web import service_of


def ops_router() -> APIRouter:
    r = APIRouter(tags=["ops"])

    @r.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        # on the event loop, not in the thread pool: a flood of requests there cannot delay it
        # the lifespan sets the service: none yet means the app has not started
        svc = getattr(request.app.state, "service", None)
        return {"ok": svc is not None and not svc.stopping}

    @r.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        # readiness, unlike /healthz: the index answers (and Temporal, in distributed mode); 503 with
        # the failing check's reason otherwise, so a load balancer stops sending work meanwhile
        svc = getattr(request.app.state, "service", None)
        checks = {"service": "ok" if svc is not None and not svc.stopping else "not started or stopping"}
        if svc is not None:
            checks.update(await svc.readiness())
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503)

    @r.get("/metrics")
    def metrics(request: Request) -> Response:
        return Response(service_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return r
