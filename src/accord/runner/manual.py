"""What a person's "sync this id now" names, when the sync copies HubSpot activities
(``activities:``; accord.runner.activities): a record of the sync, or one of its activities.

``TYPE:ID`` (``calls:123``, a type the sync copies) names an activity outright. A plain id
is a record of the sync first, as before (accord.runner.incremental.locate_record); one that
no record of the sync has is looked up among the sync's activity rows (by its HubSpot id or
its Salesforce Task/Event id), then in HubSpot, among the activity types the sync copies (an
activity made after the last pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accord.engine import activities as act
from accord.index.activities import activity_sync
from accord.model import AuthError, ConnectorError, Side, UnreachableError
from accord.runner.activities import sides
from accord.runner.context import RunContext
from accord.runner.incremental import ManualSyncRefused


@dataclass(frozen=True)
class ActivityId:
    """One HubSpot activity of a sync: its type (``calls`` …) and HubSpot id."""

    kind: str
    id: str


def typed(ctx: RunContext, record_id: str) -> tuple[str, str] | None:
    """(type, id) of ``calls:123`` in a sync that copies activities; None for any other id."""
    kind, colon, rid = record_id.partition(":")
    if not ctx.cfg.activities or not colon or kind not in act.KINDS or not rid:
        return None
    return kind, rid


async def named_activity(ctx: RunContext, kind: str, rid: str, side: Side | None) -> ActivityId:
    """The activity ``kind:rid`` names; ManualSyncRefused (``not_found``) if the sync copies no
    such type or neither the index nor HubSpot has it."""
    kinds = list(ctx.cfg.activities)
    if kind not in kinds:
        raise ManualSyncRefused("not_found", f"{kind}:{rid}: sync {ctx.cfg.name!r} copies no {kind} from HubSpot "
                                             f"(activities: {', '.join(kinds)})")
    found = await find_activity(ctx, rid, [kind], side)
    if found is None:
        h, _ = sides(ctx)
        app = ctx.cfg.left.app if h is Side.LEFT else ctx.cfg.right.app
        raise ManualSyncRefused("not_found", f"no {act.label(kind)} {rid!r} in {app} ({kind})")
    return found


async def find_activity(ctx: RunContext, rid: str, kinds: Sequence[str], side: Side | None) -> ActivityId | None:
    """The activity of one of ``kinds`` with id ``rid``: an activity row of the sync with that
    HubSpot or Salesforce id (on ``side`` only, if given), else a HubSpot activity not synced yet."""
    h, s = sides(ctx)
    for kind in kinds:
        rows = activity_sync(ctx.cfg.name, kind)
        for on in (h, s) if side is None else (side,):
            link = ctx.store.links_by_record(rows, on, [rid]).get(rid)
            if link is not None and link.id_of(h) is not None:
                return ActivityId(kind, str(link.id_of(h)))
    if side not in (None, h):
        return None
    for kind in kinds:  # HubSpot's activity ids are unique across the types: the first that has it
        if await _in_hubspot(ctx, kind, rid):
            return ActivityId(kind, rid)
    return None


async def _in_hubspot(ctx: RunContext, kind: str, rid: str) -> bool:
    h, _ = sides(ctx)
    try:
        recs = await ctx.conn[h].read(kind, [rid], list(act.SOURCE_FIELDS[kind]))  # type: ignore[index]
    except (AuthError, UnreachableError):
        raise
    except ConnectorError:  # an id of another shape (a Salesforce id, say) is no activity of HubSpot's
        return False
    return any(r.id == rid and not r.archived for r in recs)
