"""Snov.io campaign email events for event sync (accord.runner.events).

Read from each campaign's recipients-activity report (``GET /v2/campaigns/{id}/recipients-activity``):
the one Snov.io read that carries every email event type — sent, open, click, reply, bounce
(and unsubscribe) — with a date filter, which a cursor needs. Its ``dateFrom``/``dateTo`` are
whole UTC days at most 31 days apart, so a read walks 31-day windows from the cursor's day
(on the first pass: from the campaign's creation) to today. The report gives no event id:
one is derived from the campaign, type, recipient, time and subject, so the same event read
again has the same id (two events of one type, recipient and subject in the same second are
one). Campaigns come from ``GET /v1/get-user-campaigns``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.connectors.snovio import SnovioConnector
from accord.engine.events import AppEvent, EventPage

KINDS = {"sent": "sent", "open": "opened", "click": "clicked", "reply": "replied", "bounce": "bounced",
         "unsubscribe": "unsubscribed"}
WINDOW_DAYS = 30  # dateFrom..dateTo inclusive: 31 days, Snov.io's maximum
PAGE = 1000  # the report's largest page


def _at(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00").replace(" ", "T")).replace(tzinfo=UTC)
    except ValueError:
        return None


def _event(campaign: dict[str, Any], row: dict[str, Any]) -> AppEvent | None:
    kind, at = KINDS.get(str(row.get("event_type", ""))), _at(str(row.get("event_time", "")))
    if kind is None or at is None:
        return None  # a type event sync does not carry (LinkedIn steps, say)
    email = str(row.get("recipient_email") or "").strip() or None
    subject = str(row.get("email_subject") or "")
    eid = hashlib.sha256("\x00".join((str(campaign.get("id")), kind, (email or "").lower(), at.isoformat(),
                                      subject)).encode()).hexdigest()[:32]
    name = str(campaign.get("campaign") or campaign.get("name") or campaign.get("id"))
    return AppEvent(eid, kind, at, email, None, email is not None, subject, f"Campaign: {name}",
                    str(row.get("recipient_name") or ""))


async def campaigns(conn: SnovioConnector) -> list[dict[str, Any]]:
    body, _ = await conn._ok("GET", "/v1/get-user-campaigns", "get-user-campaigns")
    return [c for c in body if isinstance(c, dict)] if isinstance(body, list) else []


async def events_since(conn: SnovioConnector, since: datetime | None,
                       today: date | None = None) -> AsyncIterator[EventPage]:
    """Pages of the account's campaign email events at or after ``since`` (all when None)."""
    last = today or datetime.now(UTC).date()
    for c in await campaigns(conn):
        created = datetime.fromtimestamp(int(c.get("created_at") or 0), UTC).date() if c.get("created_at") else None
        start = since.date() if since is not None else (created or last - timedelta(days=365))
        while start <= last:
            end = min(start + timedelta(days=WINDOW_DAYS), last)
            offset = 0
            while True:
                body, _ = await conn._ok("GET", f"/v2/campaigns/{c['id']}/recipients-activity",
                                         "recipients-activity", params={"dateFrom": start.isoformat(),
                                                                        "dateTo": end.isoformat(),
                                                                        "offset": offset, "limit": PAGE})
                rows = [r for r in (body or {}).get("data") or [] if isinstance(r, dict)]
                page = [e for e in (_event(c, r) for r in rows) if e is not None]
                page = [e for e in page if since is None or e.at >= since]
                if page:
                    yield EventPage(page, max(e.at for e in page))
                offset += len(rows)
                if not rows or not ((body or {}).get("pagination") or {}).get("has_more"):
                    break
            start = end + timedelta(days=1)
