"""The FastAPI application of ``accord run``: REST API, webhook receivers, dashboard, metrics.

Auth: every ``/api`` route and dashboard page needs the API token, as ``Authorization:
Bearer TOKEN`` or the ``accord_token`` cookie set by the dashboard's login form. Webhooks
are authenticated by the vendor's signature instead; ``/healthz`` is open; ``/metrics``
is open too (scrapers rarely send tokens; bind to a private interface or proxy it).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from accord import redact
from accord.config import Config
from accord.connectors.hubspot import HubSpotConnector, SeenEvents
from accord.exports import MEDIA_TYPES, render_export
from accord.index.store import Link
from accord.model import Side
from accord.service.core import Service

log = logging.getLogger("accord.service")

COOKIE = "accord_token"
CSRF_HEADER = "x-csrf-token"
MAX_BODY = 5 * 1024 * 1024  # webhook batches are at most 100 events; configs far smaller
STATUSES = ("syncing", "failing", "excluded", "queued")
PKG = Path(__file__).parent


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _presented(request: Request) -> tuple[str, bool]:
    """The token the request carries and whether it came from the dashboard's cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    return request.cookies.get(COOKIE, ""), True


def authorized(request: Request) -> bool:
    want: str = request.app.state.token
    got, _ = _presented(request)
    return bool(got) and hmac.compare_digest(got.encode(), want.encode())


def csrf_token(request: Request) -> str:
    """Per-token CSRF value the dashboard puts in its pages (htmx sends it as a header)."""
    return hmac.new(str(request.app.state.token).encode(), b"accord-csrf", "sha256").hexdigest()


async def csrf_ok(request: Request) -> bool:
    """Cookie-authenticated writes must carry the page's CSRF token (Bearer calls need not)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not _presented(request)[1]:
        return True
    got = request.headers.get(CSRF_HEADER, "")
    if not got and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                                        "multipart/form-data")):
        got = str((await request.form()).get("csrf_token", ""))
    return bool(got) and hmac.compare_digest(got.encode(), csrf_token(request).encode())


async def require_token(request: Request) -> None:
    if not authorized(request):
        raise HTTPException(401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"})
    if not await csrf_ok(request):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, read or declared."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, self.limit)
            return
        seen = 0
        refused = False

        async def counted() -> Any:
            # a body without Content-Length is counted as it arrives; past the limit the
            # client gets 413 at once and the app sees a disconnect
            nonlocal seen, refused
            msg = await receive()
            if msg["type"] == "http.request" and not refused:
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    refused = True
                    await _too_large(send, self.limit)
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: Any) -> None:
            if not refused:
                await send(msg)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not refused:
                raise


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def service_of(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


Svc = Annotated[Service, Depends(service_of)]


def link_json(lk: Link) -> dict[str, Any]:
    return {"id": lk.id, "left_id": lk.left_id, "right_id": lk.right_id, "label": lk.label, "status": lk.status,
            "reason": lk.reason, "category": lk.category, "message": lk.message, "hint": lk.hint,
            "left_deleted": lk.left_deleted, "right_deleted": lk.right_deleted, "attempts": lk.attempts,
            "updated_at": lk.updated_at}


def sync_json(svc: Service, name: str) -> dict[str, Any]:
    slot = svc.slot(name)
    s = slot.cfg
    state = svc.store.sync_state(name)
    runs = svc.store.runs(name, limit=1)
    return {
        "name": name,
        "source": "file" if svc.registry.in_file(name) else "api",  # every running sync is one or the other
        "left": {"app": s.left.app, "object": s.left.object, "vendor": svc.cfg.vendor(s.left.app)},
        "right": {"app": s.right.app, "object": s.right.object, "vendor": svc.cfg.vendor(s.right.app)},
        "direction": s.direction,
        "enabled": svc.enabled(name),
        "initial_done": bool(state and state.initial_done),
        "poll_seconds": svc.interval(s),
        "reconcile_seconds": svc.reconcile,
        "counts": {st: svc.store.counts(name).get(st, 0) for st in STATUSES},
        "last_run": runs[0] if runs else None,
        "running": slot.tracker.state.running,
        "skipped_jobs": slot.skipped,
    }


def known_sync(svc: Service, name: str) -> str:
    """``name`` if the service runs such a sync, else 404."""
    if name not in svc.slots:
        raise HTTPException(404, f"no sync named {name!r}")
    return name


class Toggle(BaseModel):
    enabled: bool


class SideBody(BaseModel):
    side: Literal["left", "right"]


def api_router() -> APIRouter:
    r = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["api"])

    @r.get("/syncs", summary="All syncs with counts, last run and state")
    def list_syncs(svc: Svc) -> list[dict[str, Any]]:
        return [sync_json(svc, n) for n in svc.slots]

    @r.get("/syncs/{name}", summary="One sync")
    def get_sync(name: str, svc: Svc) -> dict[str, Any]:
        return sync_json(svc, known_sync(svc, name))

    @r.post("/syncs/{name}/enable", summary="Turn a sync on")
    def enable(name: str, svc: Svc) -> dict[str, Any]:
        svc.store.set_enabled(known_sync(svc, name), True)
        return sync_json(svc, name)

    @r.post("/syncs/{name}/disable", summary="Turn a sync off without losing its index")
    def disable(name: str, svc: Svc) -> dict[str, Any]:
        svc.store.set_enabled(known_sync(svc, name), False)
        return sync_json(svc, name)

    @r.get("/syncs/{name}/status", summary="Counts per status and per excluded reason / error category")
    def status(name: str, svc: Svc) -> dict[str, Any]:
        known_sync(svc, name)
        return {"sync": name, "counts": {st: svc.store.counts(name).get(st, 0) for st in STATUSES},
                "reasons": svc.store.reason_counts(name)}

    @r.get("/syncs/{name}/records", summary="Records of one status with their errors and hints (paged)")
    def records(name: str, svc: Svc, status: Literal["syncing", "failing", "excluded", "queued"] = "failing",
                limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        known_sync(svc, name)
        items = svc.store.records(name, status, limit=limit, offset=offset)
        total = svc.store.counts(name).get(status, 0)
        nxt = offset + len(items) if offset + len(items) < total else None
        return {"sync": name, "status": status, "total": total, "offset": offset, "next_offset": nxt,
                "items": [link_json(lk) for lk in items]}

    @r.get("/syncs/{name}/export", summary="Export the records of one status (CSV, XLSX or JSON)")
    def export(name: str, svc: Svc, status: Literal["syncing", "failing", "excluded", "queued"] = "failing",
               format: Literal["csv", "xlsx", "json"] = "csv") -> Response:
        known_sync(svc, name)
        body = render_export(svc.store.records(name, status), format)
        return Response(body, media_type=MEDIA_TYPES[format], headers={
            "Content-Disposition": f'attachment; filename="{name}-{status}.{format}"'})

    @r.get("/syncs/{name}/runs", summary="Run history, newest first")
    def runs(name: str, svc: Svc, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
        return svc.store.runs(known_sync(svc, name), limit=limit)

    @r.get("/syncs/{name}/progress", summary="Progress of the running pass (or the last one)")
    def progress(name: str, svc: Svc) -> dict[str, Any]:
        return {"sync": known_sync(svc, name), **svc.slot(name).tracker.state.as_dict()}

    @r.post("/syncs/{name}/run", summary="Start a pass now (409 if one is running)", status_code=202)
    async def run_now(name: str, svc: Svc, full: bool = False,
                      direction: Literal["left-to-right", "right-to-left"] | None = None) -> dict[str, Any]:
        """``direction``: a manual copy of existing records one way, in the background
        (Snov.io's "manual sync"); later passes keep the sync's own direction."""
        slot = svc.slot(known_sync(svc, name))
        if slot.lock.locked():
            raise HTTPException(409, "a pass of this sync is running")
        if direction is not None:
            if slot.cfg.direction not in ("two-way", direction):
                raise HTTPException(422, f"a {slot.cfg.direction} sync cannot copy {direction}")
            svc._spawn(svc.directed_pass(name, direction))
            return {"sync": name, "started": f"manual {direction}"}
        svc._spawn(svc.run_pass(name, full=full))
        return {"sync": name, "started": "full" if full else "pass"}

    @r.get("/syncs/{name}/deleted", summary="Preview: records deleted in one app that resync would recreate")
    async def deleted_preview(name: str, svc: Svc, side: Literal["left", "right"],
                              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        links = await svc.slot(known_sync(svc, name)).runner.deleted_preview(Side(side))
        return {"sync": name, "deleted_in": side, "total": len(links), "items": [link_json(lk) for lk in links[:limit]]}

    @r.post("/syncs/{name}/resync-deleted", summary="Recreate the records deleted in one app (apply the preview)")
    async def resync_deleted(name: str, body: SideBody, svc: Svc) -> dict[str, Any]:
        res = await svc.resync_deleted(known_sync(svc, name), Side(body.side))
        if res is None:
            raise HTTPException(503, "the service is shutting down")
        return res.as_dict()

    @r.post("/syncs/{name}/records/{record_id}/resync", summary="Sync one record now (an id of either app)")
    async def resync_record(name: str, record_id: str, svc: Svc) -> dict[str, Any]:
        known_sync(svc, name)
        for side in (Side.LEFT, Side.RIGHT):
            if svc.store.links_by_record(name, side, [record_id]):
                res = await svc.sync_records(name, side, [record_id])
                if res is None:
                    raise HTTPException(503, "the service is shutting down")
                return res.as_dict()
        raise HTTPException(404, f"record {record_id!r} is not in the index of sync {name!r}")

    return r


def webhook_router() -> APIRouter:
    r = APIRouter(tags=["webhooks"])

    @r.post("/webhooks/{app}", summary="Vendor webhooks (HubSpot v3 signature)")
    async def webhook(app: str, request: Request, svc: Svc) -> dict[str, Any]:
        if app not in svc.cfg.apps:
            raise HTTPException(404, f"no app named {app!r}")
        conn = svc.session.connector(app)
        if not isinstance(conn, HubSpotConnector):
            raise HTTPException(404, f"app {app!r} ({svc.cfg.vendor(app)}) does not send webhooks")
        body = await request.body()
        if not conn.verify_webhook(request.method, str(request.url), body, dict(request.headers)):
            svc.metrics.webhooks.labels(app, "rejected").inc()
            log.warning("webhook for %s rejected: bad or stale signature", app)
            raise HTTPException(401, "bad or stale signature")
        try:
            events = json.loads(body)
            # HubSpot sends a list of event objects; eventIds are numbers (stored up to 200 characters)
            if not isinstance(events, list) or not all(
                    isinstance(ev, dict) and len(str(ev.get("eventId", ""))) <= 200 for ev in events):
                raise ValueError("not a list of events")
        except (ValueError, RecursionError) as e:  # RecursionError: nested deeper than the parser goes
            svc.metrics.webhooks.labels(app, "malformed").inc()
            raise HTTPException(400, "the body must be a JSON list of event objects") from e
        # eventIds are remembered in the index, so a replay is refused across restarts too
        event_ids = [str(ev["eventId"]) for ev in events if isinstance(ev, dict) and ev.get("eventId") is not None]
        fresh = svc.store.claim_events(app, event_ids)
        keep = [ev for ev in events
                if not (isinstance(ev, dict) and ev.get("eventId") is not None and str(ev["eventId"]) not in fresh)]
        out = conn.webhook_changes(keep, SeenEvents())  # SeenEvents drops repeats within this batch
        out.duplicates += len(events) - len(keep)
        changed: dict[str, set[str]] = {}
        for bucket in (out.changed, out.deleted):
            for obj, ids in bucket.items():
                changed.setdefault(obj, set()).update(ids)
        queued = svc.enqueue(app, changed)
        svc.metrics.webhooks.labels(app, "accepted").inc()
        m = svc.metrics.webhook_events
        m.labels(app, "duplicate").inc(out.duplicates)
        m.labels(app, "echo").inc(sum(len(v) for v in out.echoes.values()))
        m.labels(app, "ignored").inc(out.ignored)
        m.labels(app, "queued").inc(queued)
        return {"queued": queued, "duplicates": out.duplicates, "echoes": sum(len(v) for v in out.echoes.values())}

    return r


def create_app(cfg: Config, service: Service | None = None, *, token: str | None = None, start: bool = True,
               max_body: int = MAX_BODY, **service_kw: Any) -> FastAPI:
    """The service app; ``start=False`` leaves the scheduler and webhook workers off (tests)."""
    holder: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or Service(cfg, **service_kw)
        holder["svc"] = svc
        app.state.service = svc
        if start:
            await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = FastAPI(title="Accord", version="0.1.0", lifespan=lifespan,
                  description="Two-way record sync: syncs, record status, exports, resync, run history.")
    app.state.token = token or new_token()
    redact.register([app.state.token])

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, Any]:
        svc = holder.get("svc")
        return {"ok": svc is not None and not svc.stopping}

    @app.get("/metrics", tags=["ops"])
    def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(api_router())
    from accord.service.manage_api import manage_router

    app.include_router(manage_router())
    app.include_router(webhook_router())
    from accord.service.dashboard import dashboard_router

    app.include_router(dashboard_router())
    app.mount("/static", StaticFiles(directory=PKG / "static"), name="static")
    app.add_middleware(BodyLimit, limit=max_body)
    return app
