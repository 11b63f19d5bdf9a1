"""Incremental sync: each app's change feed from its cursor, records that rejoined the
inclusion list, retries of failing records, and records synced on demand (webhooks,
"resync this record", "resync deleted")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_

from accord.associations import waits_for_association
from accord.engine.mapping import SyncSpec
from accord.engine.values import canon
from accord.index.schema import links as links_t
from accord.index.store import Link, PageWrite
from accord.model import (
    AuthError,
    ConnectorError,
    ContainerMissing,
    ErrorCategory,
    ExcludedReason,
    Record,
    Side,
    Status,
    UnreachableError,
)
from accord.runner.apply import apply
from accord.runner.context import RunContext, snapshot, tombstone
from accord.runner.pairing import (
    adopt_duplicates,
    find_twins,
    follow_moves,
    follow_twin_moves,
    load_members,
    pair,
    pair_locks,
    plan,
    restart_restored,
)

L, R = Side.LEFT, Side.RIGHT


async def incremental_pass(ctx: RunContext) -> None:
    spec = ctx.require_spec()
    name = ctx.cfg.name
    await load_members(ctx)
    for side in (L, R):
        cursor = ctx.store.cursor(name, side) or await ctx.conn[side].change_cursor(ctx.obj[side])
        ctx.progress.phase(f"{name}: changes in {ctx.obj[side]}")
        async for page in ctx.conn[side].changes(ctx.obj[side], cursor, spec.fields(side)):
            ctx.counters.read[side.value] += len(page.records)
            await process_changed(ctx, side, page.records, page.cursor)
            ctx.progress.advance(len(page.records))
            # after the page, before the next is fetched: a page read before webhook records
            # were synced would carry older values of them
            await ctx.between_pages()
    await _rejoined(ctx)
    await _retry_failing(ctx)


async def _rejoined(ctx: RunContext) -> None:
    """Records that joined the inclusion list since they were excluded start syncing again."""
    spec = ctx.require_spec()
    if spec.inclusion_side is None or not ctx.members:
        return
    side = spec.inclusion_side
    # excluded rows only: the (sync, status, id) index finds them without reading every row
    for chunk in ctx.store.iter_links(ctx.cfg.name, links_t.c.status == Status.EXCLUDED.value,
                                      links_t.c.reason == ExcludedReason.NOT_IN_LIST.value):
        ids = [lk.id_of(side) for lk in chunk if lk.id_of(side) in ctx.members]
        if ids:
            recs = await ctx.conn[side].read(ctx.obj[side], [i for i in ids if i], spec.fields(side))
            await process_changed(ctx, side, recs, force=True)


def retry_conditions(max_attempts: int = 10) -> list[Any]:
    """The rows each incremental pass plans again, one paging query each: failed writes (retried a
    bounded number of times, as HubSpot–Salesforce retries 10 times), then creates waiting for
    their parent to be paired (accord.parents). As one OR, SQLite walks every row of the sync
    instead of the (sync, status, id) index (tests/engine/test_index_query_plans.py)."""
    return [
        and_(links_t.c.status == Status.FAILING.value,
             links_t.c.category.not_in([ErrorCategory.DELETED.value, ErrorCategory.OUTCOME_UNKNOWN.value]),
             links_t.c.attempts < max_attempts),
        and_(links_t.c.status == Status.QUEUED.value,
             links_t.c.reason == ExcludedReason.WAITING_FOR_ASSOCIATION.value,
             or_(links_t.c.left_id.is_(None), links_t.c.right_id.is_(None))),
    ]


async def _retry_failing(ctx: RunContext, limit: int = 500, max_attempts: int = 10) -> None:
    """Plan the rows of :func:`retry_conditions` again, at most ``limit`` a pass."""
    done = 0
    for cond in retry_conditions(max_attempts):
        for chunk in ctx.store.iter_links(ctx.cfg.name, cond, chunk=100):
            if ctx.failed_now:
                chunk = [lk for lk in chunk if lk.id not in ctx.failed_now]
            for side in (L, R):
                # a pair is read once, from its left record if it has one (a waiting create has one side only)
                ids = [lk.id_of(side) for lk in chunk if lk.id_of(side) and (side is L or not lk.left_id)]
                if ids:
                    recs = await ctx.conn[side].read(ctx.obj[side], [i for i in ids if i],
                                                     ctx.require_spec().fields(side))
                    await process_changed(ctx, side, recs, force=True)
            done += len(chunk)
            if done >= limit:
                return


async def process_changed(ctx: RunContext, side: Side, records: Sequence[Record], cursor: str | None = None,
                          *, force: bool = False) -> None:
    """Sync records of ``side`` that changed: pair them, read the other side, plan, write."""
    async with pair_locks(ctx, side, records):
        await _process_changed_records(ctx, side, records, cursor, force=force)


async def _process_changed_records(ctx: RunContext, side: Side, records: Sequence[Record], cursor: str | None,
                                   *, force: bool) -> None:
    spec = ctx.require_spec()
    other = side.other
    records = await follow_moves(ctx, side, records)  # converted Leads: their pairs follow to the Contact
    w = PageWrite()
    todo: list[tuple[Record, Link]] = []
    for rec, link, dup_of in pair(ctx, side, records, w):
        if dup_of is not None:
            continue
        if ctx.failed_now and link.id in ctx.failed_now and _unchanged(spec, rec, side, link):
            continue  # its write failed in this pass and nothing new came: the next pass retries it
        if (not force and link.linked and not rec.archived and (link.status == Status.SYNCING or waits_for_association(link))
                and link.in_flight is None and _unchanged(spec, rec, side, link)):
            # Echo of the engine's own write, or a change to unmapped fields only.
            ctx.counters.unchanged += 1
            if ctx.touched is not None and ctx.associations:
                ctx.touched.add(link.id)  # a lookup (AccountId) is no mapped field: its associations may have moved
            continue
        todo.append((rec, link))
    await restart_restored(ctx, side, todo)  # deleted in both apps, then restored in this one
    # Current values of the other side: linked records are read in one batch.
    other_ids = [lk.id_of(other) for _, lk in todo if lk.id_of(other) and not lk.deleted(other)]
    current = {r.id: r for r in await ctx.conn[other].read(ctx.obj[other], [i for i in other_ids if i],
                                                           spec.fields(other))} if other_ids else {}
    # a twin converted or merged since: the pair moves with it first
    current, ended = await follow_twin_moves(ctx, other, current, [lk for _, lk in todo], [i for i in other_ids if i])
    todo = [(rec, lk) for rec, lk in todo if lk.id not in ended]
    # New records: look for an existing twin on the other side before creating one.
    unmatched = [(rec, lk) for rec, lk in todo if lk.id_of(other) is None and not rec.archived]
    found = await find_twins(ctx, side, unmatched, w) if unmatched and spec.match else {}
    current.update(found)
    items = []
    for rec, link in todo:
        oid = link.id_of(other)
        orec: Record | None = None
        if oid is not None:
            orec = current.get(oid) or tombstone(oid)
        recs = {side: rec, other: orec}
        items.append(plan(ctx, link, recs))
    await apply(ctx, items, w, (side, cursor) if cursor else None)


def _unchanged(spec: SyncSpec, rec: Record, side: Side, link: Link) -> bool:
    base = link.base(side) or {}
    props = rec.properties
    return all(canon(props.get(f)) == canon(base.get(k)) for f, k in spec.based(side))


# -- on demand --------------------------------------------------------------------------
class ManualSyncRefused(ValueError):
    """A record or list a person asked to sync cannot be: ``reason`` is ``not_found`` (in
    neither app), ``ambiguous`` (the id exists in both: name the side) or ``no_list`` (the
    sync has no inclusion list and none was named, or the app keeps no lists)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def locate_record(ctx: RunContext, record_id: str, side: Side | None) -> Side:
    """The app ``record_id`` belongs to: ``side`` if given, else the index's side, else the one
    app that has a live record with that id (a record created after the last pass)."""
    name = ctx.cfg.name
    candidates = [side] if side is not None else [L, R]
    indexed = [s for s in candidates if ctx.store.links_by_record(name, s, [record_id])]
    if len(indexed) == 1:
        return indexed[0]
    live = [s for s in candidates if await _exists(ctx, s, record_id)]
    if len(live) == 1:
        return live[0]
    apps = {s: f"{ctx.cfg.left.app if s is L else ctx.cfg.right.app} ({ctx.obj[s]})" for s in (L, R)}
    if not live and not indexed:
        where = apps[side] if side is not None else f"{apps[L]} or {apps[R]}"
        raise ManualSyncRefused("not_found", f"no record {record_id!r} in {where}")
    raise ManualSyncRefused("ambiguous", f"{apps[L]} and {apps[R]} both have a record {record_id!r}; "
                                         "say which app it belongs to (side left or right)")


async def _exists(ctx: RunContext, side: Side, record_id: str) -> bool:
    """Whether ``side``'s app has a live record ``record_id`` (an id of the wrong shape for that
    app, which some apps answer with an error, is no record of it)."""
    try:
        recs = await ctx.conn[side].read(ctx.obj[side], [record_id], ctx.require_spec().fields(side))
    except (AuthError, UnreachableError):
        raise
    except ConnectorError:
        return False
    return any(r.id == record_id and not r.archived for r in recs)


async def list_member_ids(ctx: RunContext, list_name: str | None, side: Side | None) -> tuple[Side, str, list[str]]:
    """(side, list, member ids) of the list a person asked to sync: ``list_name`` (default: the
    sync's inclusion list) in ``side``'s app (default: the inclusion list's side, else the one
    app of the two that keeps lists)."""
    inc = ctx.cfg.inclusion
    if list_name is None:
        if inc is None:
            raise ManualSyncRefused("no_list", f"sync {ctx.cfg.name!r} has no inclusion list; name the list to sync")
        list_name, side = inc.list, side or Side(inc.side)
    if side is None and inc is not None and inc.list == list_name:
        side = Side(inc.side)
    tried: list[str] = []
    for s in [side] if side is not None else [L, R]:
        try:
            members = await ctx.conn[s].list_members(ctx.obj[s], list_name)
        except NotImplementedError as e:
            tried.append(str(e))
            continue
        except ContainerMissing as e:
            app = ctx.cfg.left.app if s is L else ctx.cfg.right.app
            raise ManualSyncRefused("not_found", f"{app} has no list {list_name!r} of {ctx.obj[s]}: {e}") from e
        return s, list_name, sorted(members)
    raise ManualSyncRefused("no_list", f"cannot read the list {list_name!r}: {'; '.join(tried)}")


async def sync_records(ctx: RunContext, side: Side, ids: Sequence[str], *, resend: bool = False) -> None:
    """Sync specific records now (webhook events, "resync this record"; ``resend``: a person
    asked, so a create whose outcome was unknown may be sent again)."""
    ctx.resend_unknown = set(ids) if resend else set()
    try:
        await load_members(ctx)
        recs = await ctx.conn[side].read(ctx.obj[side], list(ids), ctx.require_spec().fields(side))
        found = {r.id for r in recs}
        recs += [tombstone(i) for i in ids if i not in found]
        await process_changed(ctx, side, recs)
    finally:
        ctx.resend_unknown = set()


async def sync_between_pages(ctx: RunContext, side: Side, ids: Sequence[str]) -> None:
    """Webhook records synced between two pages of a running pass, under its lease.

    Like :func:`sync_records`, but the pass's state stays as it is (its inclusion list is not
    reloaded). In a scan pass the pairs are then marked as this pass's, as its phase 1 would
    have marked them: the left record's snapshot read now, both records seen, and a pair that
    synced handled, so the later phases neither replan it from an older snapshot nor take it
    for deleted in both apps when both scans had passed its records already."""
    spec = ctx.require_spec()
    recs = await ctx.conn[side].read(ctx.obj[side], list(ids), spec.fields(side))
    found = {r.id for r in recs}
    await process_changed(ctx, side, [*recs, *(tombstone(i) for i in ids if i not in found)])
    if not ctx.scanning:
        return
    p = ctx.pass_id
    links = list(ctx.store.links_by_record(ctx.cfg.name, side, list(ids)).values())
    lefts = {r.id: r for r in recs} if side is L else {}
    want = [str(lk.left_id) for lk in links if lk.left_id and not lk.left_deleted and lk.left_id not in lefts]
    if want:
        lefts.update({r.id: r for r in await ctx.conn[L].read(ctx.obj[L], want, spec.fields(L))})
    w = PageWrite()
    for link in links:
        left = lefts.get(str(link.left_id)) if link.left_id else None
        if left is not None and not left.archived:
            link.snapshot, link.left_seen = snapshot(left), p
            if link.status == Status.SYNCING and link.in_flight is None and link.pending is None:
                link.handled = p
        if link.right_id and not link.right_deleted:
            link.right_seen = p
        w.touch(link)
    ctx.save(w)


async def resync_deleted(ctx: RunContext, deleted_in: Side) -> None:
    """Recreate, in ``deleted_in``, the records deleted there from their twins in the other app."""
    spec = ctx.require_spec()
    other = deleted_in.other
    for chunk in ctx.store.deleted_links(ctx.cfg.name, deleted_in):
        ids = [str(lk.id_of(other)) for lk in chunk]
        recs = {r.id: r for r in await ctx.conn[other].read(ctx.obj[other], ids, spec.fields(other))}
        w = PageWrite()
        wanting: list[tuple[Record, Link]] = []
        for link in chunk:
            rec = recs.get(str(link.id_of(other)))
            if rec is None or rec.archived:
                continue
            link.set_id(deleted_in, None)
            link.set_deleted(deleted_in, False)
            link.left_base = link.right_base = link.in_flight = None
            wanting.append((rec, link))
        # the deleted record's duplicate, still there, takes its place rather than a third copy
        adopted = await adopt_duplicates(ctx, deleted_in, wanting, w)
        items = [plan(ctx, link, {other: rec, deleted_in: adopted.get(link.id)}) for rec, link in wanting]
        await apply(ctx, items, w)
