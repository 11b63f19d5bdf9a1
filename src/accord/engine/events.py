"""Event sync, app → HubSpot timeline: which app events become which timeline events (pure).

The four rules of the seed (docs/events.md): event sync is one-way to HubSpot; only events of
contact records sync; an event syncs even when its contact does not (filtered out of the
record sync, say); and only onto contacts already in HubSpot — an event never creates one.
The runner (accord.runner.events) reads the events and HubSpot's contacts, this module decides.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

NOT_A_CONTACT = "not_a_contact"  # e.g. a Salesforce task on an account, or a LinkedIn step without email
NO_CONTACT_IN_HUBSPOT = "no_contact_in_hubspot"  # dropped: events never create contacts
REASONS = {NOT_A_CONTACT: "not a contact's event", NO_CONTACT_IN_HUBSPOT: "no contact in HubSpot"}

# what a timeline shows for each kind (Snov.io's event types, Salesforce's activities)
LABELS = {"sent": "Email sent", "opened": "Email opened", "clicked": "Email link clicked",
          "replied": "Email replied", "bounced": "Email bounced", "unsubscribed": "Unsubscribed",
          "email": "Email", "call": "Call", "meeting": "Meeting"}


@dataclass(frozen=True, slots=True)
class AppEvent:
    """One activity read from the app. ``id`` is the app's own (or a stable derived) id:
    the same event read twice has the same id, which makes its timeline event idempotent."""

    id: str
    kind: str  # a key of LABELS
    at: datetime  # when it happened, UTC
    email: str | None  # the contact's email address
    record_id: str | None = None  # the app's contact record it belongs to, when the app says
    contact: bool = True  # False: the event belongs to no contact record
    subject: str = ""
    source: str = ""  # the campaign, or the kind of record (Task, Event)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of app events, and the time of the newest row the page read (events the sync
    does not carry included): the event cursor may move past those too."""

    events: list[AppEvent]
    seen: datetime | None


@dataclass
class EventPlan:
    writes: list[tuple[AppEvent, str]] = field(default_factory=list)  # (event, HubSpot contact id)
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> events


def norm_email(email: str | None) -> str:
    return (email or "").strip().lower()


def timeline_id(vendor: str, event_id: str) -> str:
    """The HubSpot timeline event id of an app event: stable, so a retry or a second pass that
    sends it again is refused as a duplicate instead of writing it twice."""
    return f"accord-{vendor}-" + hashlib.sha256(f"{vendor}\x00{event_id}".encode()).hexdigest()[:32]


def emails_to_look_up(events: Iterable[AppEvent], by_record: Mapping[str, str]) -> list[str]:
    """Emails of contact events whose record is not linked to a HubSpot contact already."""
    out: dict[str, None] = {}
    for e in events:
        if e.contact and not (e.record_id and e.record_id in by_record) and norm_email(e.email):
            out[norm_email(e.email)] = None
    return list(out)


def plan_events(events: Iterable[AppEvent], by_record: Mapping[str, str], by_email: Mapping[str, str]) -> EventPlan:
    """Each event onto its HubSpot contact: the one the sync links its record to, else the one
    with its email (``by_email``: lower-cased email → contact id, as HubSpot found them)."""
    plan = EventPlan()
    for e in events:
        if not e.contact or not (e.record_id or norm_email(e.email)):
            plan.dropped[NOT_A_CONTACT] += 1
            continue
        target = by_record.get(e.record_id or "") or by_email.get(norm_email(e.email))
        if target is None:
            plan.dropped[NO_CONTACT_IN_HUBSPOT] += 1
        else:
            plan.writes.append((e, target))
    return plan


def tokens(e: AppEvent, app_label: str) -> dict[str, str]:
    """The timeline event's tokens (the template's: see accord.connectors.hubspot_timeline)."""
    return {"kind": LABELS.get(e.kind, e.kind), "subject": e.subject[:1000], "source": e.source[:500],
            "app": app_label, "detail": e.detail[:2000]}
