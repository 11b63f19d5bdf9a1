"""Campaigns (``sandbox/snovio/campaigns.py``): ``GET /v1/get-user-campaigns``, the v1 statistics
``/v1/emails-sent`` (also ``/v1/get-emails-sent``), ``/v1/get-emails-opened``,
``/v1/get-emails-clicked``, ``/v1/get-emails-replies``, ``GET /v2/campaigns/{id}/recipients-activity``;
and ``/_sandbox/campaigns`` to create campaigns and record their events in tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.snovio.core import SnovioCore
from accord.sandbox.snovio.routes.common import authed, int_param
from accord.sandbox.snovio.store import ApiError


def register(app: FastAPI, sb: SnovioCore) -> None:
    store, campaigns = sb.store, sb.campaigns

    @app.get("/v1/get-user-campaigns")
    async def user_campaigns(request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        return JSONResponse(campaigns.user_campaigns())

    def v1(what: str) -> Any:
        async def statistics(request: Request) -> JSONResponse:
            p = await authed(store, request)
            if isinstance(p, JSONResponse):
                return p
            if not p.get("campaignId"):
                raise ApiError(400, {"campaignId": "The campaignId is required"})
            return JSONResponse(campaigns.v1(what, p["campaignId"], int_param(p.get("offset"), "offset", 0)))
        return statistics

    for path, what in (("emails-sent", "sent"), ("get-emails-sent", "sent"), ("get-emails-opened", "opened"),
                       ("get-emails-clicked", "clicked"), ("get-emails-replies", "replies")):
        app.get(f"/v1/{path}")(v1(what))

    @app.get("/v2/campaigns/{campaign_id}/recipients-activity")
    async def recipients_activity(campaign_id: str, request: Request) -> JSONResponse:
        p = await authed(store, request)
        if isinstance(p, JSONResponse):
            return p
        return JSONResponse(campaigns.recipients_activity(
            campaign_id, str(p.get("dateFrom") or ""), str(p.get("dateTo") or ""),
            int_param(p.get("offset"), "offset", 0), int_param(p.get("limit"), "limit", 100)))

    # -- /_sandbox/: a user running campaigns -----------------------------------------------------
    @app.get("/_sandbox/campaigns")
    async def list_campaigns() -> list[dict[str, Any]]:
        return campaigns.user_campaigns()

    @app.post("/_sandbox/campaigns")
    async def create_campaign(request: Request) -> JSONResponse:
        """``{"name": …, "listId"?: …, "createdAt"?: ISO time}``."""
        b = await request.json()
        created = datetime.fromisoformat(str(b["createdAt"]).replace("Z", "+00:00")) if b.get("createdAt") else None
        c = campaigns.create(str(b.get("name", "")), b.get("listId"), created)
        return JSONResponse({"id": c.id}, status_code=201)

    @app.post("/_sandbox/campaigns/{campaign_id}/events")
    async def add_event(campaign_id: str, request: Request) -> JSONResponse:
        """Record an event: ``{"type": "open", "email": …, "at": ISO time?, "subject"?, "name"?}``."""
        b = await request.json()
        at = datetime.fromisoformat(str(b["at"]).replace("Z", "+00:00")) if b.get("at") else None
        e = campaigns.add_event(campaign_id, str(b.get("type", "")), str(b.get("email", "")), at=at,
                                subject=str(b.get("subject") or ""), name=str(b.get("name") or ""))
        return JSONResponse({"id": e.id, "event_time": e.at.strftime("%Y-%m-%d %H:%M:%S")}, status_code=201)
