"""Pipelines: ``/crm/v3/pipelines/{object_type}[/{pipeline_id}]`` (deals and tickets have them)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.store import ApiError


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.get("/crm/v3/pipelines/{object_type}")
    async def pipelines(object_type: str) -> JSONResponse:
        t = store.type_of(object_type)
        return JSONResponse({"results": store.pipeline_sets.get(t, [])})

    @app.get("/crm/v3/pipelines/{object_type}/{pipeline_id}")
    async def pipeline_one(object_type: str, pipeline_id: str) -> JSONResponse:
        for p in store.pipeline_sets.get(store.type_of(object_type), []):
            if p["id"] == pipeline_id:
                return JSONResponse(p)
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id}")

