"""Drip campaigns of the emulated Snov.io account and their recipients' email events.

One event list per campaign serves every read Snov.io offers on it, in its shapes:
``GET /v1/get-user-campaigns``; the v1 statistics ``/v1/emails-sent``, ``/v1/get-emails-opened``,
``/v1/get-emails-clicked``, ``/v1/get-emails-replies`` (newest 10,000 unless ``offset``; dates
as PHP ``DateTime`` objects); and ``GET /v2/campaigns/{id}/recipients-activity`` (every event
type — sent, open, click, reply, bounce, unsubscribe — between ``dateFrom`` and ``dateTo``, at
most 31 days apart, paged by ``offset``/``limit``). Plain Python under the account's lock.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.sandbox.snovio.store import ApiError, Store, php_date

EVENT_TYPES = ("sent", "open", "click", "reply", "bounce", "unsubscribe")
V1_KINDS = {"sent": "sent", "opened": "open", "clicked": "click", "replies": "reply"}
V1_PAGE = 10_000  # the v1 statistics answer at most this many events a request
MAX_DAYS = 31  # recipients-activity: dateFrom and dateTo at most this far apart
MAX_LIMIT = 1000


def _hex(*parts: object) -> str:
    return hashlib.md5("\x00".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Event:
    id: str
    type: str  # one of EVENT_TYPES
    at: datetime
    email: str
    name: str
    subject: str
    body: str = ""
    prospect_id: str | None = None


@dataclass
class Campaign:
    id: int
    name: str
    list_id: int | None
    created: datetime
    status: str = "Active"
    sender: str = "outreach@sender.example"
    events: list[Event] = field(default_factory=list)


class Campaigns:
    """The account's campaigns; ``store`` is the account (its lock, clock and prospects)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reset()

    def reset(self) -> None:
        with self.store.lock:
            self.campaigns: dict[int, Campaign] = {}
            self._next = 2_371_400

    # -- a user in the app ---------------------------------------------------------------------
    def create(self, name: str, list_id: int | None = None, created: datetime | None = None) -> Campaign:
        if not name.strip():
            raise ApiError(400, {"name": "A campaign needs a name"})
        with self.store.lock:
            c = Campaign(self._next, name.strip(), list_id, (created or self.store.clock()).replace(microsecond=0))
            self._next += 1
            self.campaigns[c.id] = c
            return c

    def get(self, campaign_id: Any) -> Campaign:
        try:
            c = self.campaigns.get(int(str(campaign_id)))
        except ValueError:
            c = None
        if c is None:
            raise ApiError(404, {"campaignId": f"Campaign {campaign_id} not found"})
        return c

    def add_event(self, campaign_id: Any, type_: str, email: str, *, at: datetime | None = None,
                  subject: str = "", name: str = "", body: str = "") -> Event:
        """Record one event as the campaign's mailbox sees it (``at`` defaults to now)."""
        if type_ not in EVENT_TYPES:
            raise ApiError(400, {"type": f"one of {', '.join(EVENT_TYPES)}"})
        with self.store.lock:
            c = self.get(campaign_id)
            when = (at or self.store.clock()).astimezone(UTC).replace(microsecond=0)
            pid = next((p.id for p in self.store.prospects.values()
                        if email.lower() in (e.lower() for e in p.emails)), None)
            if not name and pid is not None:
                v = self.store.prospects[pid].values
                name = " ".join(x for x in (v.get("firstName"), v.get("lastName")) if x)
            e = Event(_hex(c.id, type_, email, when.isoformat(), len(c.events)), type_, when, email, name,
                      subject or f"{c.name}: step 1", body, pid)
            c.events.append(e)
            c.events.sort(key=lambda x: x.at)
            return e

    # -- the API's shapes ------------------------------------------------------------------------
    def user_campaigns(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [{"id": c.id, "campaign": c.name, "list_id": c.list_id, "status": c.status,
                     "created_at": int(c.created.timestamp()), "updated_at": int(c.created.timestamp()),
                     "started_at": int(c.created.timestamp()), "hash": _hex("campaign", c.id)}
                    for c in self.campaigns.values()]

    def v1(self, what: str, campaign_id: Any, offset: int) -> list[dict[str, Any]]:
        """One of the v1 statistics (``what`` a key of V1_KINDS): the newest 10,000 events after
        skipping ``offset`` of the newest (Snov.io's documented paging), newest first."""
        if offset < 0:
            raise ApiError(400, {"offset": "The offset must be 0 or more"})
        kind = V1_KINDS[what]
        with self.store.lock:
            c = self.get(campaign_id)
            events = [e for e in reversed(c.events) if e.type == kind][offset:offset + V1_PAGE]
            if kind == "sent":
                return [{"sentDate": php_date(e.at), "userName": e.name, "userEmail": e.email, "campaign": c.name,
                         "hash": _hex("hash", e.id), "id": e.id} for e in events]
            return [self._v1_visit(c, e) for e in events]

    def _v1_visit(self, c: Campaign, e: Event) -> dict[str, Any]:
        first, _, last = e.name.partition(" ")
        return {"visitedAt": php_date(e.at), "campaignId": c.id, "campaign": c.name,
                "prospectId": e.prospect_id, "prospectFirstName": first or None, "prospectLastName": last or None,
                "prospectName": e.name, "sourcePage": None, "source": "copy", "locality": None, "industry": None,
                "country": None, "prospectEmail": e.email, "hash": _hex("hash", e.id), "emailSubject": e.subject,
                "emailBody": e.body, "skills": "", "links": None, "customFields": None, "id": e.id}

    def recipients_activity(self, campaign_id: Any, date_from: str, date_to: str, offset: int,
                            limit: int) -> dict[str, Any]:
        start, end = _day(date_from, "dateFrom"), _day(date_to, "dateTo")
        if end < start:
            raise ApiError(400, {"dateTo": "dateTo must not be before dateFrom"})
        if (end - start).days > MAX_DAYS:
            raise ApiError(400, {"dateTo": f"The interval between dateFrom and dateTo must not exceed {MAX_DAYS} days"})
        if offset < 0 or not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, {"limit": f"limit must be between 1 and {MAX_LIMIT}, offset 0 or more"})
        lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
        hi = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
        with self.store.lock:
            c = self.get(campaign_id)
            hits = [e for e in c.events if lo <= e.at < hi]
            page = hits[offset:offset + limit]
            lookup = {p.id: p for p in self.store.prospects.values()}
            data = []
            for e in page:
                v = lookup[e.prospect_id].values if e.prospect_id in lookup else {}
                data.append({"event_time": e.at.strftime("%Y-%m-%d %H:%M:%S"), "event_type": e.type,
                             "sender_email": c.sender, "email_subject": e.subject, "recipient_email": e.email,
                             "recipient_name": e.name, "phone": None, "industry": v.get("industry"),
                             "country": v.get("country"), "location": v.get("locality"),
                             "company": v.get("companyName"), "job_position": v.get("position"), "hq_phone": None,
                             "website": v.get("companySite")})
            return {"data": data, "pagination": {"total": len(hits), "offset": offset, "limit": limit,
                                                 "has_more": offset + len(page) < len(hits)}}

    # -- seed --------------------------------------------------------------------------------------
    def seed(self, seed: int = 0, clock: Callable[[], datetime] | None = None) -> dict[str, int]:
        """Two campaigns over the seeded lists, with sent/open/click/reply/bounce events of about
        a third of each list's prospects over the past 60 days (same ``seed`` → same events)."""
        rng = random.Random(seed + 7)
        now = (clock or self.store.clock)()
        made: dict[str, int] = {}
        with self.store.lock:
            for lst in list(self.store.lists.values())[:2]:
                c = self.create(f"{lst.name} outreach", lst.id, now - timedelta(days=60))
                for pid in list(lst.members)[::3]:
                    p = self.store.prospects.get(pid)
                    if p is None or not p.emails:
                        continue
                    at = now - timedelta(days=rng.randint(1, 59), seconds=rng.randint(0, 86_399))
                    self.add_event(c.id, "sent", p.emails[0], at=at)
                    if rng.random() < 0.08:
                        self.add_event(c.id, "bounce", p.emails[0], at=at + timedelta(minutes=1))
                        continue
                    for kind, share, minutes in (("open", 0.6, 90), ("click", 0.25, 120), ("reply", 0.1, 600)):
                        if rng.random() < share:
                            at = at + timedelta(minutes=rng.randint(1, minutes))
                            self.add_event(c.id, kind, p.emails[0], at=min(at, now))
                made[c.name] = len(c.events)
        return made


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise ApiError(400, {name: f"{name} is required, in the format Y-m-d"}) from None
