"""Event sync, app → HubSpot (``events: true`` on a sync): after a pass's records, the other
app's email events and activities since the sync's event cursor become timeline events on
the matching HubSpot contacts (docs/events.md; the rules are accord.engine.events').

One way only: nothing is written to the app. A contact is found by the sync's link of the
event's record first (Salesforce names it), else by HubSpot search on the event's email; an
event whose contact is not in HubSpot is dropped and counted, never a reason to create one.
Every timeline event has an id derived from the app's event, so a re-read, a retry or a second
pass never writes it twice. The cursor (the newest event's time) moves only when every event
read was settled; a pass re-reads ``LOOKBACK`` before it for events the app reports late.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from accord.connectors.dry import DryConnector
from accord.engine.events import AppEvent, EventPage, emails_to_look_up, norm_email, plan_events
from accord.index.activities import activity_sync
from accord.index.event_cursors import event_cursor, set_event_cursor
from accord.model import ConnectorError, Side
from accord.runner.context import RunContext

if TYPE_CHECKING:  # the vendor modules load when a sync has events, not with every runner (CLI start-up)
    from accord.connectors.hubspot import HubSpotConnector
    from accord.connectors.hubspot_timeline import Timeline

log = logging.getLogger("accord.events")

LOOKBACK = timedelta(minutes=10)


def enabled(ctx: RunContext) -> bool:
    return bool(getattr(ctx.cfg, "events", False))


def _sides(ctx: RunContext) -> tuple[Side, Side]:
    """(the app's side, HubSpot's side); config validation made sure there is one."""
    left_source = ctx.conn[Side.LEFT].vendor != "hubspot"
    return (Side.LEFT, Side.RIGHT) if left_source else (Side.RIGHT, Side.LEFT)


def read_events(ctx: RunContext, side: Side, since: datetime | None) -> AsyncIterator[EventPage]:
    from accord.connectors.salesforce import SalesforceConnector
    from accord.connectors.snovio import SnovioConnector

    conn = ctx.conn[side]
    if isinstance(conn, SnovioConnector):
        from accord.connectors.snovio_events import events_since as snovio_events
        return snovio_events(conn, since)
    if isinstance(conn, SalesforceConnector):
        from accord.connectors.salesforce import routed_create_as
        from accord.connectors.salesforce_events import events_since as salesforce_events
        obj = ctx.obj[side]
        # a Contacts-and-Leads sync takes the activities of both
        kind = "Contact+Lead" if routed_create_as(obj) else "Lead" if obj.casefold() == "lead" else "Contact"
        return salesforce_events(conn, kind, since)
    raise ConnectorError(f"{conn.name}: {conn.vendor} has no events to sync to HubSpot")


async def after_pass(ctx: RunContext) -> None:
    """The event sync that follows a pass of a sync with ``events: true``. Its failure (HubSpot
    refusing the template, the app unreachable) does not fail the pass whose records synced: it
    is logged and counted (``events.errors``), and the next pass reads from the same cursor."""
    if not enabled(ctx) or any(isinstance(c, DryConnector) for c in ctx.conn.values()):
        return  # `accord plan` writes nothing, events included
    try:
        await sync_events(ctx)
    except ConnectorError as e:
        ctx.counters.events["errors"] = ctx.counters.events.get("errors", 0) + 1
        log.warning("sync %s: event sync stopped: %s", ctx.cfg.name, e)


async def sync_events(ctx: RunContext) -> dict[str, int]:
    """Carry the app's new events to HubSpot; the counts also land in ``ctx.counters.events``."""
    from accord.connectors.hubspot import HubSpotConnector
    from accord.connectors.hubspot_timeline import Timeline

    app_side, hub_side = _sides(ctx)
    hub = ctx.conn[hub_side]
    if not isinstance(hub, HubSpotConnector):
        raise ConnectorError(f"{hub.name}: event sync writes to a HubSpot app")
    counts = ctx.counters.events
    for k in ("read", "written", "already", "not_a_contact", "no_contact_in_hubspot", "from_hubspot", "failed"):
        counts.setdefault(k, 0)
    name = ctx.cfg.name
    cursor = event_cursor(ctx.store, name)
    since = datetime.fromisoformat(cursor) - LOOKBACK if cursor else None
    newest = datetime.fromisoformat(cursor) if cursor else None
    timeline = Timeline.of(hub)
    settled = True
    async for page in read_events(ctx, app_side, since):
        counts["read"] += len(page.events)
        if page.events:
            settled = await _carry(ctx, timeline, hub, app_side, hub_side, page.events) and settled
        if page.seen is not None and (newest is None or page.seen > newest):
            newest = page.seen
    if settled and newest is not None:
        # fenced like the pass's pages: a pass that lost the sync's lease (a Temporal attempt
        # given up on) moves no cursor under the one that took over
        set_event_cursor(ctx.store, name, newest.astimezone(UTC).isoformat(),
                         fence=ctx.fence)
    elif not settled:
        log.warning("sync %s: %d events could not be written to HubSpot; they are tried again next pass",
                    name, counts["failed"])
    return dict(counts)


async def _carry(ctx: RunContext, timeline: Timeline, hub: HubSpotConnector, app_side: Side, hub_side: Side,
                 page: list[AppEvent]) -> bool:
    """One page of events onto HubSpot contacts; False if some could not be written."""
    counts = ctx.counters.events
    copies = _copied_from_hubspot(ctx, app_side, page)
    if copies:
        counts["from_hubspot"] += len(copies)
        page = [e for e in page if e.id not in copies]
    records = sorted({e.record_id for e in page if e.record_id})
    links = ctx.store.links_by_record(ctx.cfg.name, app_side, records) if records else {}
    by_record = {rid: str(link.id_of(hub_side)) for rid, link in links.items()
                 if link.id_of(hub_side) and not link.deleted(hub_side)}
    wanted = emails_to_look_up(page, by_record)
    found = await hub.find("contacts", "email", wanted, ["email"]) if wanted else []
    by_email = {norm_email(str(r.properties.get("email") or "")): r.id for r in found}
    plan = plan_events(page, by_record, by_email)
    for reason, n in plan.dropped.items():
        counts[reason] += n
    if not plan.writes:
        return True
    ok = True
    for w in await timeline.write(ctx.conn[app_side].vendor, plan.writes):
        if w.outcome == "no_contact":
            counts["no_contact_in_hubspot"] += 1
        elif w.outcome == "failed":
            counts["failed"] += 1
            ok = False
            log.warning("sync %s: event %s not written to HubSpot: %s", ctx.cfg.name, w.event.id, w.message)
        else:
            counts[w.outcome] += 1
    return ok


def _copied_from_hubspot(ctx: RunContext, app_side: Side, page: list[AppEvent]) -> set[str]:
    """The events that are Tasks/Events this sync's activity copy created from HubSpot calls,
    emails or meetings (``activities:``): HubSpot has them already, as the activity itself; as
    timeline events they would show twice on the contact."""
    if not ctx.cfg.activities:
        return set()
    ids = [e.id for e in page]
    return {i for kind in ctx.cfg.activities
            for i in ctx.store.links_by_record(activity_sync(ctx.cfg.name, kind), app_side, ids)}
