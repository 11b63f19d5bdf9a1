"""``/_sandbox/``: seed, reset, user edits, lists, faults, counters, webhooks, settings.

Not part of HubSpot's API, so the gate lets these through without auth, limits or faults.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import flag, read_json
from accord.sandbox.hubspot.store import ApiError
from accord.sandbox.oauth import token_admin_routes


def register(app: FastAPI, sb: HubSpotCore) -> None:
    _records(app, sb)
    _knobs(app, sb)


def _records(app: FastAPI, sb: HubSpotCore) -> None:
    """The portal's data: summary, seed, reset, and records, associations and lists as a user edits them."""
    store = sb.store

    @app.get("/_sandbox/")
    async def summary() -> dict[str, Any]:
        with store.lock:
            counts = {t: sum(1 for o in objs.values() if o.archived_at is None) for t, objs in store.objs.items()}
        return {"vendor": "hubspot", "portalId": sb.settings.portal_id, "records": counts}

    @app.post("/_sandbox/seed")
    async def seed(request: Request) -> dict[str, Any]:
        body = await read_json(request)
        ids = sb.seed(int(body.get("records", 100)), int(body.get("seed", sb.settings.seed)))
        return {k: len(v) for k, v in ids.items()}

    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, Any]:
        sb.reset()
        return {"ok": True}

    @app.get("/_sandbox/objects/{object_type}")
    async def dump(object_type: str, request: Request) -> list[dict[str, Any]]:
        return sb.records(object_type, archived=flag(request, "archived"))

    @app.post("/_sandbox/objects/{object_type}")
    async def user_create(object_type: str, request: Request) -> JSONResponse:
        return JSONResponse(sb.user_create(object_type, (await read_json(request)).get("properties") or {}), status_code=201)

    @app.patch("/_sandbox/objects/{object_type}/{object_id}")
    async def user_update(object_type: str, object_id: str, request: Request) -> dict[str, Any]:
        return sb.user_update(object_type, object_id, (await read_json(request)).get("properties") or {})

    @app.post("/_sandbox/objects/{object_type}/{object_id}/merge")
    async def user_merge(object_type: str, object_id: str, request: Request) -> dict[str, Any]:
        """Merge ``{"merge": id}`` into this record as a user does in the UI (this one is the primary)."""
        return sb.user_merge(object_type, object_id, str((await read_json(request)).get("merge", "")))

    @app.post("/_sandbox/objects/{object_type}/{object_id}/restore")
    async def user_restore(object_type: str, object_id: str) -> dict[str, Any]:
        """Restore a deleted record from the recycle bin as a user does in the UI."""
        return sb.user_restore(object_type, object_id)

    @app.delete("/_sandbox/objects/{object_type}/{object_id}")
    async def user_delete(object_type: str, object_id: str) -> dict[str, Any]:
        return {"archived": sb.user_delete(object_type, object_id)}

    @app.post("/_sandbox/touch")
    async def touch(request: Request) -> dict[str, Any]:
        body = await read_json(request)
        sb.touch(body["object"], body["ids"], int(body["at"]))
        return {"ok": True}

    @app.post("/_sandbox/associations")
    async def associate(request: Request) -> dict[str, Any]:
        b = await read_json(request)
        sb.associate(b["from"], b["fromId"], b["to"], b["toId"])
        return {"ok": True}

    @app.get("/_sandbox/timeline/{object_type}/{object_id}")
    async def timeline_events(object_type: str, object_id: str) -> list[dict[str, Any]]:
        return sb.timeline_events(object_type, object_id)

    @app.post("/_sandbox/schemas")
    async def create_schema(request: Request) -> JSONResponse:
        return JSONResponse(sb.create_schema(await read_json(request)), status_code=201)

    @app.post("/_sandbox/lists")
    async def create_list(request: Request) -> dict[str, Any]:
        b = await read_json(request)
        return {"listId": sb.create_list(b["name"], b.get("object", "contacts"))}

    @app.put("/_sandbox/lists/{name}/members")
    async def members(name: str, request: Request) -> dict[str, Any]:
        b = await read_json(request)
        return {"members": sb.list_members(name, b.get("object", "contacts"), add=b.get("add"), remove=b.get("remove"))}


def _webhook_state(sb: HubSpotCore) -> dict[str, Any]:
    cfg, st = sb.webhooks.config, sb.webhooks.stats
    return {"url": cfg.url, "appId": cfg.app_id, "maxAttempts": cfg.max_attempts, "backoff": cfg.backoff,
            "properties": sorted(cfg.properties) if cfg.properties is not None else None,
            "delivered": st.delivered, "dropped": st.dropped, "failedAttempts": st.failed_attempts,
            "givenUp": st.given_up, "idle": sb.webhooks.idle(), "style": cfg.style}


def _knobs(app: FastAPI, sb: HubSpotCore) -> None:
    """The sandbox's knobs: faults, counters, webhook delivery and settings."""

    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(sb.faults)

    @app.put("/_sandbox/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            return asdict(sb.set_faults(**{str(k): v for k, v in (await read_json(request)).items()}))
        except ValueError as e:
            raise ApiError(400, "VALIDATION_ERROR", str(e)) from None

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> dict[str, Any]:
        sb.clear_faults()
        return asdict(sb.faults)

    @app.get("/_sandbox/counters")
    async def counters() -> dict[str, int]:
        return dict(sb.counters)

    @app.delete("/_sandbox/counters")
    async def clear_counters() -> dict[str, int]:
        sb.counters.clear()
        return {}

    @app.get("/_sandbox/webhooks")
    async def webhooks() -> dict[str, Any]:
        return _webhook_state(sb)

    @app.put("/_sandbox/webhooks")
    async def set_webhooks(request: Request) -> dict[str, Any]:
        b: dict[str, Any] = dict(await read_json(request))
        names = {"maxAttempts": "max_attempts", "appId": "app_id", "batchSize": "batch_size"}
        kw = {names.get(k, k): v for k, v in b.items() if k not in ("url", "secret")}
        sb.configure_webhooks(b.get("url"), b.get("secret"), **kw)
        return _webhook_state(sb)

    @app.post("/_sandbox/webhooks/flush")
    async def flush(request: Request) -> dict[str, Any]:
        timeout = float((await read_json(request)).get("timeout", 10))
        # blocking wait off the event loop: the receiver may be served by this same loop
        return {"flushed": await asyncio.to_thread(sb.flush_webhooks, timeout)}

    token_admin_routes(app, sb.oauth)

    @app.get("/_sandbox/settings")
    async def get_settings() -> dict[str, Any]:
        return asdict(sb.settings)

    @app.put("/_sandbox/settings")
    async def put_settings(request: Request) -> dict[str, Any]:
        for k, v in (await read_json(request)).items():
            if not hasattr(sb.settings, k):
                raise ApiError(400, "VALIDATION_ERROR", f"unknown setting {k}")
            setattr(sb.settings, k, v)
        sb.store.search_lag = sb.settings.search_lag
        sb.webhooks.config.style = sb.settings.webhook_style
        return asdict(sb.settings)
