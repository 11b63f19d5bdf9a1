"""``POST /webhooks/{app}``: change notifications pushed by an app, queued for its syncs.

The vendor's side (signature, body format, event meanings) is the connector's
:class:`~accord.connectors.base.WebhookReceiver`; an app whose connector has none
does not send webhooks (404).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from accord.connectors.base import WebhookChanges
from accord.service.web import Svc

log = logging.getLogger("accord.service")


def webhook_router() -> APIRouter:
    r = APIRouter(tags=["webhooks"])

    @r.post("/webhooks/{app}", summary="Vendor webhooks (HubSpot v3 signature)")
    async def webhook(app: str, request: Request, svc: Svc) -> dict[str, Any]:
        if app not in svc.cfg.apps:
            raise HTTPException(404, f"no app named {app!r}")
        receiver = svc.session.connector(app).webhooks
        if receiver is None:
            raise HTTPException(404, f"app {app!r} ({svc.cfg.vendor(app)}) does not send webhooks")
        body = await request.body()
        if not receiver.verify(request.method, str(request.url), body, dict(request.headers)):
            svc.metrics.webhooks.labels(app, "rejected").inc()
            log.warning("webhook for %s rejected: bad or stale signature", app)
            raise HTTPException(401, "bad or stale signature")
        try:
            events = receiver.parse(body)
        except ValueError as e:
            svc.metrics.webhooks.labels(app, "malformed").inc()
            raise HTTPException(400, "the body must be a JSON list of event objects") from e
        out = receiver.changes(events, lambda ids: svc.store.claim_events(app, ids))
        queued = svc.enqueue(app, _to_sync(out))
        echoes = sum(len(v) for v in out.echoes.values())
        svc.metrics.webhooks.labels(app, "accepted").inc()
        m = svc.metrics.webhook_events
        m.labels(app, "duplicate").inc(out.duplicates)
        m.labels(app, "echo").inc(echoes)
        m.labels(app, "ignored").inc(out.ignored)
        m.labels(app, "queued").inc(queued)
        return {"queued": queued, "duplicates": out.duplicates, "echoes": echoes}

    return r


def _to_sync(out: WebhookChanges) -> dict[str, set[str]]:
    """Changed and deleted ids together, per object: a pass over an id settles either."""
    changed: dict[str, set[str]] = {}
    for bucket in (out.changed, out.deleted):
        for obj, ids in bucket.items():
            changed.setdefault(obj, set()).update(ids)
    return changed
