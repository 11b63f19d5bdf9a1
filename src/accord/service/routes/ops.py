"""Open routes for operators: ``/healthz`` for probes and ``/metrics`` for Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from accord.service.web import service_of


def ops_router() -> APIRouter:
    r = APIRouter(tags=["ops"])

    @r.get("/healthz")
    def healthz(request: Request) -> dict[str, Any]:
        # the lifespan sets the service: none yet means the app has not started
        svc = getattr(request.app.state, "service", None)
        return {"ok": svc is not None and not svc.stopping}

    @r.get("/metrics")
    def metrics(request: Request) -> Response:
        return Response(service_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return r
