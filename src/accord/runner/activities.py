"""HubSpot activities → Salesforce Tasks and Events, after a contacts pass (README, "Activities").

A HubSpot contacts ↔ Salesforce Contact/Lead sync with ``activities: [calls, ...]`` runs this
after each pass of its contacts, per enabled type:

1. read the type's HubSpot records: all of them on the type's first pass (and on a full
   pass), else those changed since its cursor (``"<sync>/<type>"`` in the cursors table,
   taken before the read so nothing changed meanwhile is missed); then, by id, the ones whose
   create's answer was lost, the failing ones and those still waiting for their contact, and
   those without a contact that have one now (:func:`_contact_since`);
2. read each activity's associated contacts, companies and deals, and translate them through
   the index: contacts through this sync's links (whatever Salesforce object a pair points
   at, Contact or Lead), companies and deals through the syncs pairing them with Account and
   Opportunity (``targets``);
3. plan each one (:func:`accord.engine.activities.plan_activity`) and write: creates are
   recorded in the index (``pending``) before they are sent, so a retry after a lost answer
   looks the Task up instead of creating a second one; a rejected write makes the activity
   ``failing`` with the error's category, and the others go on.

Activity pairs are links of the derived sync ``"<sync>/<type>"`` (accord.index.activities).
Deletes are not copied: an activity deleted in HubSpot leaves its Salesforce Task in place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_

from accord.associations import AssociationTarget, twins_of_associated
from accord.connectors.base import Connector
from accord.engine import activities as act
from accord.index.activities import activity_sync
from accord.index.links import Link, PageWrite
from accord.index.schema import links as links_t
from accord.model import ErrorCategory, Record, Side, Status, WriteError, WriteOutcomeUnknown, WriteResult
from accord.runner.context import RunContext

log = logging.getLogger("accord.runner.activities")

PAGE = 100  # activities planned and written together (HubSpot's association batch size)
MAX_ATTEMPTS = 10  # failed writes retried by later passes (HubSpot–Salesforce retries 10 times)


@dataclass
class ActivityCounts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    waiting: int = 0
    excluded: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Kind:
    """One activity type's pass: where its pairs live and what it counted."""

    kind: str
    name: str  # the derived sync name
    target: str  # Task or Event
    counts: ActivityCounts = field(default_factory=ActivityCounts)
    handled: set[str] = field(default_factory=set)  # HubSpot ids planned in this pass


def sides(ctx: RunContext) -> tuple[Side, Side]:
    """(HubSpot contacts' side, Salesforce's side) of the sync."""
    h = Side.LEFT if ctx.conn[Side.LEFT].vendor == "hubspot" and ctx.obj[Side.LEFT] == "contacts" else Side.RIGHT
    return h, h.other


async def sync_activities(ctx: RunContext, targets: Sequence[AssociationTarget], *,
                          full: bool) -> dict[str, dict[str, int]]:
    """Sync the enabled activity types of the sync; returns the counts per type."""
    out: dict[str, dict[str, int]] = {}
    for kind in ctx.cfg.activities:
        k = _Kind(kind, activity_sync(ctx.cfg.name, kind), act.target_object(kind))
        await _one_kind(ctx, k, targets, full=full)
        out[kind] = ctx.counters.activities[kind] = k.counts.as_dict()
    return out


async def sync_ids(ctx: RunContext, targets: Sequence[AssociationTarget], kind: str,
                   ids: Sequence[str]) -> dict[str, int]:
    """Sync these HubSpot activities of one type now, whatever their status and attempts (a
    person's resync, accord.runner.facade): read by id and planned and written as a pass would;
    one deleted in HubSpot is no longer waited for or retried. Returns the type's counts."""
    h, _ = sides(ctx)
    k = _Kind(kind, activity_sync(ctx.cfg.name, kind), act.target_object(kind))
    found = await ctx.conn[h].read(kind, list(ids), list(act.SOURCE_FIELDS[kind]))  # type: ignore[index]
    await _page(ctx, k, found, targets)
    live = {r.id for r in found if not r.archived}
    _gone(ctx, k, [lk for i, lk in ctx.store.links_by_record(k.name, h, list(ids)).items() if i not in live])
    return k.counts.as_dict()


async def _one_kind(ctx: RunContext, k: _Kind, targets: Sequence[AssociationTarget], *, full: bool) -> None:
    h, _ = sides(ctx)
    hs = ctx.conn[h]
    fields = list(act.SOURCE_FIELDS[k.kind])  # type: ignore[index]
    cursor = ctx.store.cursor(k.name, h)
    ctx.progress.phase(f"{ctx.cfg.name}: {k.kind}")
    if cursor is None or full:
        start = await hs.change_cursor(k.kind)  # before the read: changes made meanwhile are read next time
        async for page in hs.scan(k.kind, fields):
            await _page(ctx, k, page.records, targets)
            await ctx.between_pages()
        _save(ctx, k, PageWrite(), (h, start))
    else:
        async for page in hs.changes(k.kind, cursor, fields):
            await _page(ctx, k, page.records, targets, cursor=page.cursor)
            await ctx.between_pages()
    # the ones the read above did not bring, each kind by a query of its own (retry_conditions):
    # creates whose answer was lost, failing ones, ones waiting for their contact
    for chunk in ctx.store.iter_flights(k.name, chunk=PAGE):
        await _reread(ctx, k, chunk, targets)
    for cond in retry_conditions():
        for chunk in ctx.store.iter_links(k.name, cond, chunk=PAGE):
            await _reread(ctx, k, chunk, targets)
    for chunk in ctx.store.iter_links(k.name, without_contact(), chunk=PAGE):
        await _contact_since(ctx, k, chunk, targets, full=cursor is None or full)


async def _reread(ctx: RunContext, k: _Kind, chunk: Sequence[Link], targets: Sequence[AssociationTarget]) -> None:
    """Read a chunk of pairs' activities again and plan them (those this pass planned already are skipped)."""
    h, _ = sides(ctx)
    ids = [str(lk.id_of(h)) for lk in chunk if lk.id_of(h) is not None and str(lk.id_of(h)) not in k.handled]
    if not ids:
        return
    found = await ctx.conn[h].read(k.kind, ids, list(act.SOURCE_FIELDS[k.kind]))  # type: ignore[index]
    await _page(ctx, k, found, targets)
    _gone(ctx, k, [lk for lk in chunk if str(lk.id_of(h)) in set(ids) - {r.id for r in found if not r.archived}])


async def _contact_since(ctx: RunContext, k: _Kind, chunk: Sequence[Link], targets: Sequence[AssociationTarget],
                         *, full: bool) -> None:
    """Activities read without a contact (``excluded/no_contact``) that have one now.

    Associating an activity with a contact does not change its ``hs_lastmodifieddate``, in
    HubSpot as in its sandbox: airbytehq/airbyte#27199 and #44554 report engagements associated
    after an incremental read that the search on that property never returned again, unless
    they were edited. So the change feed never brings such an activity back; each pass reads
    their contact associations instead (one call per PAGE, the rows paged through the (sync,
    status, id) index), and reads and plans those that have a contact now. A scan pass read
    every live activity already: one it did not bring was deleted, and is no longer looked at."""
    h, _ = sides(ctx)
    rows = [lk for lk in chunk if lk.id_of(h) is not None and str(lk.id_of(h)) not in k.handled]
    if full:
        _gone(ctx, k, rows)
        return
    if not rows:
        return
    assoc = await ctx.conn[h].associated(k.kind, [str(lk.id_of(h)) for lk in rows], ctx.obj[h])
    now = [lk for lk in rows if (a := assoc.get(str(lk.id_of(h)))) is not None and a.ids]
    if now:
        await _reread(ctx, k, now, targets)


def _gone(ctx: RunContext, k: _Kind, links: Sequence[Link]) -> None:
    """Activities deleted in HubSpot before they reached Salesforce: no longer waited for or retried
    (one already written keeps its Task: deletes are not copied)."""
    _, s = sides(ctx)
    w = PageWrite()
    for lk in links:
        if lk.id_of(s) is None:
            lk.set_status(Status.EXCLUDED, "deleted", message=f"the {act.label(k.kind)} was deleted in HubSpot")
            lk.pending, lk.in_flight = None, None
            w.touch(lk)
    if w.dirty:
        _save(ctx, k, w)


def retry_conditions(max_attempts: int = MAX_ATTEMPTS) -> list[Any]:
    """The activity rows each pass reads again besides those in flight (ActivityLinks.iter_flights),
    one paging query each, both served by the (sync, status, id) index: failing ones at most
    ``max_attempts`` times (as records are; then with their next change or a full pass), and
    the ones waiting for their contact. As one OR, SQLite walked every activity row of the sync
    each pass (tests/engine/test_index_query_plans.py)."""
    return [
        and_(links_t.c.status == Status.FAILING.value, links_t.c.attempts < max_attempts,
             links_t.c.category != ErrorCategory.DELETED.value),
        links_t.c.status == Status.QUEUED.value,
    ]


def without_contact() -> Any:
    """The activities read without any contact (:func:`_contact_since`), through the (sync, status, id) index."""
    return and_(links_t.c.status == Status.EXCLUDED.value, links_t.c.reason == act.NO_CONTACT)


def _save(ctx: RunContext, k: _Kind, w: PageWrite, cursor: tuple[Side, str] | None = None) -> None:
    """One page's activity rows (and the type's cursor), fenced by the sync's lease. The pass's
    counters (its run in the run history) hold the type's counts as saved so far."""
    ctx.counters.activities[k.kind] = k.counts.as_dict()
    ctx.store.save(k.name, w, cursor, fence=ctx.fence)


@dataclass
class _Item:
    rec: Record
    link: Link
    plan: act.ActivityPlan


async def _page(ctx: RunContext, k: _Kind, records: Sequence[Record], targets: Sequence[AssociationTarget],
                cursor: str | None = None) -> None:
    h, s = sides(ctx)
    recs = [r for r in records if not r.archived and r.id not in k.handled]
    page_cursor = (h, cursor) if cursor is not None else None
    if not recs:
        if page_cursor is not None:
            _save(ctx, k, PageWrite(), page_cursor)
        return
    k.handled.update(r.id for r in recs)
    k.counts.read += len(recs)
    ids = [r.id for r in recs]
    known = ctx.store.links_by_record(k.name, h, ids)
    resolved = await _resolve(ctx, k.kind, ids, targets)
    w = PageWrite()
    creates: list[_Item] = []
    updates: list[_Item] = []
    for rec in recs:
        link = known.get(rec.id)
        if link is None:
            link = Link(k.name)
            link.set_id(h, rec.id)
            w.add(link)
        link.label = act.activity_label(k.kind, rec.properties)
        if link.pending == s.value and link.id_of(s) is None:
            # a create sent by an earlier pass whose answer never came: look for it first
            # (Salesforce's queries see a record as soon as it is saved)
            found = await _find_sent(ctx, k, link)
            if found is not None:
                link.set_id(s, found)
            link.pending, link.in_flight = None, None
        written = link.id_of(s) is not None
        plan = act.plan_activity(k.kind, rec.properties, resolved[rec.id], link.right_base if s is Side.RIGHT
                                 else link.left_base, written)
        item = _Item(rec, link, plan)
        if plan.action == "create":
            creates.append(item)
        elif plan.action == "update":
            updates.append(item)
        else:
            _settle_quiet(ctx, k, item)
        w.touch(link)
    if creates:  # the intent first: a pass that dies after sending finds the Task again
        for it in creates:
            it.link.pending = s.value
            it.link.in_flight = {"sent": it.plan.payload}
        _save(ctx, k, w)
        w = PageWrite()
        results = await _create(ctx, k, [it.plan.payload for it in creates])
        for it, res in zip(creates, results, strict=True):
            if res is not None:  # answered: the intent is settled (unanswered: kept for the look-up)
                it.link.pending = None
                it.link.in_flight = None
            if res is not None and res.ok and res.id:
                it.link.set_id(s, res.id)
                k.counts.created += 1
            _settle_write(ctx, k, it, res)
            w.touch(it.link)
    if updates:
        results_u = await ctx.conn[s].update(k.target, [(str(it.link.id_of(s)), it.plan.values) for it in updates])
        for it, r in zip(updates, results_u, strict=True):
            if r.ok:
                k.counts.updated += 1
            _settle_write(ctx, k, it, r)
            w.touch(it.link)
    _save(ctx, k, w, page_cursor)


def _settle_quiet(ctx: RunContext, k: _Kind, it: _Item) -> None:
    """An activity that needs no write: in step, waiting for its contact, or without one."""
    link, plan = it.link, it.plan
    _, s = sides(ctx)
    if plan.action == "wait":
        k.counts.waiting += 1
        link.set_status(Status.QUEUED, plan.reason, message=plan.message)
    elif plan.action == "exclude":
        k.counts.excluded += 1
        link.set_status(Status.EXCLUDED, plan.reason, message=plan.message)
    else:
        k.counts.unchanged += 1
        if link.status != Status.SYNCING:
            link.set_status(Status.SYNCING)
        _set_bases(link, s, plan.payload)
        link.attempts = 0


def _settle_write(ctx: RunContext, k: _Kind, it: _Item, res: WriteResult | None) -> None:
    link = it.link
    _, s = sides(ctx)
    if res is not None and res.ok:
        link.set_status(Status.SYNCING)
        link.attempts = 0
        _set_bases(link, s, it.plan.payload)
        return
    k.counts.failed += 1
    link.attempts += 1
    err = res.error if res is not None else None
    if err is None:
        err = WriteError(ErrorCategory.OUTCOME_UNKNOWN, f"the answer of Salesforce to this {k.target} was lost",
                         hint="The next pass looks the record up before sending it again.")
    link.set_status(Status.FAILING, category=err.category.value, message=err.message, hint=err.hint or None)


def _set_bases(link: Link, s: Side, payload: dict[str, Any]) -> None:
    """The values written to Salesforce are the pair's base (an unchanged activity writes nothing);
    the HubSpot side's base only marks the pair linked."""
    if s is Side.RIGHT:
        link.right_base, link.left_base = dict(payload), link.left_base or {}
    else:
        link.left_base, link.right_base = dict(payload), link.right_base or {}


async def _create(ctx: RunContext, k: _Kind, payloads: list[dict[str, Any]]) -> list[WriteResult | None]:
    """Create the Tasks/Events; ``None`` for a create whose answer was lost (looked up by the next pass)."""
    _, s = sides(ctx)
    try:
        return list(await ctx.conn[s].create(k.target, payloads))
    except WriteOutcomeUnknown as e:
        log.warning("sync %s: %s; the next pass looks these %ss up before sending them again",
                    ctx.cfg.name, e, k.target)
        known: list[WriteResult | None] = [None] * len(payloads)
        if e.results is not None and len(e.results) == len(payloads):
            known = list(e.results)
        return known


async def _find_sent(ctx: RunContext, k: _Kind, link: Link) -> str | None:
    """The Salesforce record an unanswered create made, if it made one: a Task/Event of the same
    contact with the fields sent, which no other activity is paired with."""
    _, s = sides(ctx)
    sent = (link.in_flight or {}).get("sent") or {}
    who = sent.get("WhoId")
    if not who:
        return None
    compare = [f for f in ("Subject", "ActivityDate", "StartDateTime", "TaskSubtype") if f in sent]
    found = await ctx.conn[s].find(k.target, "WhoId", [who], compare)
    taken = ctx.store.links_by_record(k.name, s, [r.id for r in found])
    for r in found:
        if r.id not in taken and all(_same(r.properties.get(f), sent[f]) for f in compare):
            return r.id
    return None


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, str) and isinstance(b, str) and a[:19] == b[:19] and len(a) > 18)


async def _resolve(ctx: RunContext, kind: str, ids: list[str],
                   targets: Sequence[AssociationTarget]) -> dict[str, act.Resolved]:
    """Each activity's contacts, their Salesforce twins, and its ``WhatId``, from the index."""
    h, s = sides(ctx)
    hs: Connector = ctx.conn[h]
    contacts = await hs.associated(kind, ids, ctx.obj[h])
    wanted = sorted({c for a in contacts.values() for c in a.ids})
    pairs = ctx.store.links_by_record(ctx.cfg.name, h, wanted)
    paired = {c: str(lk.id_of(s)) for c, lk in pairs.items()
              if lk.linked and lk.id_of(s) and not lk.deleted(h) and not lk.deleted(s)}
    whats: dict[str, dict[str, list[str]]] = {i: {"opportunity": [], "account": []} for i in ids}
    for t in targets:
        kind_of = t.objects[s].casefold()
        if kind_of not in ("opportunity", "account"):
            continue
        found, twins = await twins_of_associated(ctx.store, hs, kind, ids, t, h)
        for i in ids:
            assoc = found.get(i)
            whats[i][kind_of] += [twins[x] for x in sorted(assoc.ids if assoc else [], key=act.id_order) if x in twins]
    out: dict[str, act.Resolved] = {}
    for i in ids:
        a = contacts.get(i)
        mine = list(a.ids) if a else []
        out[i] = act.Resolved(mine, {c: paired[c] for c in mine if c in paired},
                              act.pick_what(whats[i]["opportunity"], whats[i]["account"]))
    return out
