"""Initial and full passes: the three phases of a scan (SPEC §2).

  1. index left: every left record's id, match keys and a snapshot go into the index;
  2. scan right and sync: each right record is paired by id or match key with an indexed
     left record (whose snapshot stands for its current values) and planned;
  3. sync the left records phase 2 did not reach (creates on the right, deletes).

A scan pass is begin → phases → finish. Embedded, one call runs them all; distributed
(accord.distributed), each step is an activity that may run on another worker and resumes
from the :class:`ScanState` the previous step (or its last heartbeat) left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import and_, or_

from accord.index.schema import link_flights
from accord.index.schema import links as links_t
from accord.index.store import Link, PageWrite
from accord.model import ExcludedReason, Page, Record, Side, Status
from accord.runner.apply import apply
from accord.runner.context import Item, RunContext, from_snapshot, tombstone
from accord.runner.deletes import UNMATCHED_FLOOR, guard_unmatched_start, unmatched_start_possible
from accord.runner.incremental import process_changed
from accord.runner.pairing import (
    follow_moves,
    follow_twin_moves,
    index_left,
    load_members,
    pair,
    pair_locks,
    plan,
    restart_restored,
    still_there,
)

L, R = Side.LEFT, Side.RIGHT

Stop = Callable[[], bool]
Checkpoint = Callable[["ScanState"], None]


@dataclass
class ScanState:
    """Where a scan pass (initial or full) stands, as plain data.

    A distributed pass carries it between activities and in heartbeats, so a step that a
    worker did not finish is resumed by another: ``phase`` is ``left`` (index the left app),
    ``right`` (scan the right app and sync), ``rest`` (sync the left rows phase 2 did not
    reach) or ``done``; ``cursor`` is where to resume inside the phase (a scan page cursor,
    or the last link id of phase 3); ``start`` holds the change cursors taken before reading.
    """

    pass_id: int
    start: dict[str, str]
    right_empty: bool
    phase: str = "left"
    cursor: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"pass_id": self.pass_id, "start": dict(self.start), "right_empty": self.right_empty,
                "phase": self.phase, "cursor": self.cursor}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScanState:
        return cls(int(d["pass_id"]), dict(d["start"]), bool(d["right_empty"]), str(d["phase"]), d.get("cursor"))


# -- begin, steps, finish ---------------------------------------------------------------
async def begin_scan(ctx: RunContext) -> ScanState:
    """Start the scan pass ``ctx.pass_id``: take both change cursors and look at the right app."""
    await load_members(ctx)
    # Cursors are taken *before* reading, so edits made during the pass are seen next time.
    start = {s.value: await ctx.conn[s].change_cursor(ctx.obj[s]) for s in (L, R)}
    found: dict[Side, int] = {}
    if unmatched_start_possible(ctx):  # no match key, nothing indexed: are both apps holding records?
        found = await counts_up_to_floor(ctx)
        guard_unmatched_start(ctx, found)
    # An empty right app (the usual first sync into a new account) has no record to pair
    # with: each left page is then synced as soon as it is indexed (phase 3 page by page),
    # so writes to the right overlap reads from the left instead of waiting for them all.
    right_empty = (found[R] if found else await _scan_count(ctx, R, 1)) == 0
    return ScanState(ctx.pass_id, start, right_empty)


async def scan_steps(ctx: RunContext, state: ScanState, stop: Stop, done: Checkpoint, *, single_phase: bool,
                     merge_up_to: int, chunk: int, group_max: int = 0) -> None:
    """Run the scan's phases from ``state`` (see SyncRunner.scan_steps); ``merge_up_to`` is how
    many records of left pages already read go through phase 1 together, ``chunk`` how many
    index rows phase 3 takes at a time, ``group_max`` the most records a write group may hold
    (see :func:`write_group`)."""
    ctx.pass_id = state.pass_id
    group = write_group(ctx, merge_up_to, group_max)
    # each phase returns True if ``stop()`` asked to stop (a step ending a phase does not start the next)
    if state.phase == "left" and (await _phase_left(ctx, state, stop, done, merge_up_to, group) or single_phase):
        return
    if state.phase == "right" and (await _phase_right(ctx, state, stop, done) or single_phase):
        return
    if state.phase == "rest":
        await _phase_rest(ctx, state, stop, done, max(chunk, group.least if group else 0))


class Grouping(NamedTuple):
    """Phase 1's write groups (see :func:`write_group`), in records."""

    least: int  # a group is sent once it holds this many (or the source ended)
    step: int  # ... cut to a multiple of this (the target's batch)
    most: int  # ... and never more than this (memory)


def write_group(ctx: RunContext, merge_up_to: int, group_max: int) -> Grouping | None:
    """How phase 1 gathers left pages before it syncs them as one page, when it writes (into an
    empty right app); ``least`` is also the least index rows phase 3 takes at a time.

    The right connector's ``batch_size`` is the batch its writes are cheapest in (200 for an
    sObject Collection, an ingest job's worth with Salesforce's Bulk API on): left pages are
    regathered (:func:`_groups`) into groups of a whole number of such batches, at least
    ``merge_up_to`` records and at most ``group_max`` (memory stays flat whatever the number of
    records), so no write goes out as a part-full batch but the source's last. None
    (``merge_up_to`` 0, as a distributed step sets it: one committed page per page read, or
    ``group_max`` 0): no groups.
    """
    if merge_up_to <= 0 or group_max <= 0:
        return None
    batch = max(1, ctx.conn[R].batch_size)
    if batch > group_max:
        # a batch bigger than a group may hold (an ingest job): a group's worth of it
        return Grouping(group_max, group_max, group_max)
    most = batch * (group_max // batch)
    return Grouping(min(batch * max(1, merge_up_to // batch), most), batch, most)


def finish_scan(ctx: RunContext, state: ScanState) -> None:
    """After the last phase: drop rows of vanished records, store the cursors, mark the sync initialised."""
    ctx.pass_id = state.pass_id
    _sweep_vanished(ctx)
    for s in (L, R):
        ctx.store.set_cursor(ctx.cfg.name, s, state.start[s.value])
    ctx.store.set_initial_done(ctx.cfg.name)


async def recover_in_flight(ctx: RunContext, state: ScanState) -> None:
    """Before resuming a scan a crashed worker left: settle the creates it may have sent.

    Their intents (``pending``) were committed before the create; the record may or may
    not exist in the target app now. Each source record is read again and synced as a
    change, which looks the target app up by match key first (linking a create that did
    happen) and creates the record only if it is not there. Pairs with other writes in
    flight (updates, archives) are synced as a change of their left record, which reads
    both sides and settles what landed.
    """
    ctx.pass_id = state.pass_id
    await load_members(ctx)
    # iter_links joins link_flights: links with an intent there have writes in flight
    cond = and_(or_(links_t.c.pending.is_not(None), link_flights.c.in_flight.is_not(None)),
                links_t.c.handled == state.pass_id)
    for chunk in ctx.store.iter_links(ctx.cfg.name, cond, chunk=100):
        for src in (L, R):
            ids = [str(lk.id_of(src)) for lk in chunk if lk.id_of(src) and (
                lk.pending == src.other.value or (lk.pending is None and (src is L or lk.left_id is None)))]
            if ids:
                recs = await ctx.conn[src].read(ctx.obj[src], ids, ctx.require_spec().fields(src))
                await process_changed(ctx, src, [r for r in recs if not r.archived], force=True)


# -- where a step resumes: the page committed last (accord.index.runs.PageLedger) ----------
PHASES = ("left", "right", "rest", "done")


def resume_at_mark(ctx: RunContext, state: ScanState) -> bool:
    """Move ``state`` to just after the page the pass committed last, as the index has it.

    A step's checkpoint (a Temporal heartbeat, a step's result) may lag behind what its
    worker committed before it died; the index cannot. Never moves back to an earlier phase
    (see SyncRunner.scan_steps). True if ``state`` moved.
    """
    mark = ctx.store.run_mark(state.pass_id)
    if mark is None or mark[0] not in PHASES or PHASES.index(mark[0]) < PHASES.index(state.phase):
        return False
    moved = (state.phase, state.cursor) != mark
    state.phase, state.cursor = mark
    return moved


def _arm(ctx: RunContext, phase: str, cursor: str | None) -> None:
    """The page about to be handled: its last save records that the step may resume after ``cursor``."""
    if ctx.ledger is not None:
        ctx.ledger.arm(phase, cursor)


def _end_page(ctx: RunContext) -> None:
    """A page none of whose saves ended it (nothing to write): record its cursor on its own."""
    if ctx.ledger is not None and ctx.ledger.armed:
        ctx.save(PageWrite(), page_end=True)


def _next_phase(ctx: RunContext, state: ScanState, phase: str) -> None:
    state.phase, state.cursor = phase, None
    _arm(ctx, phase, None)
    _end_page(ctx)


# -- reading the apps -------------------------------------------------------------------
def _scan(ctx: RunContext, side: Side, after: str | None) -> AsyncIterator[Page]:
    fields = ctx.require_spec().fields(side)
    return ctx.conn[side].scan(ctx.obj[side], fields) if after is None else \
        ctx.conn[side].scan_from(ctx.obj[side], fields, after)


async def counts_up_to_floor(ctx: RunContext) -> dict[Side, int]:
    """Each app's records, counted up to the floor from which an unmatched start waits."""
    return {s: await _scan_count(ctx, s, UNMATCHED_FLOOR) for s in (L, R)}


async def _scan_count(ctx: RunContext, side: Side, upto: int) -> int:
    """How many records a scan of ``side`` returns, counted up to ``upto`` (one call for an
    empty app, and mostly for ``upto`` within a page)."""
    scan = ctx.conn[side].scan(ctx.obj[side], ctx.require_spec().fields(side))
    n = 0
    try:
        async for page in scan:
            n += len(page.records)
            if n >= upto:
                return n
        return n
    finally:
        close = getattr(scan, "aclose", None)
        if close is not None:
            await close()


async def _read_ahead(pages: AsyncIterator[Page], merge_up_to: int = 0) -> AsyncIterator[Page]:
    """Yield ``pages``, fetching the next page while the caller works on the current one.

    Pages that have already arrived when the caller asks are handed over as one, up to
    ``merge_up_to`` records: when reading runs ahead of the caller, the index and the
    target get fewer, bigger batches (fewer transactions and calls per record).
    """
    it = aiter(pages)

    async def fetch() -> Page | None:
        return await anext(it, None)

    nxt: asyncio.Task[Page | None] = asyncio.ensure_future(fetch())
    try:
        while (page := await nxt) is not None:
            nxt = asyncio.ensure_future(fetch())
            while len(page.records) < merge_up_to:
                await asyncio.sleep(0)  # lets the fetch take a page that is already there
                if not nxt.done() or (more := nxt.result()) is None:
                    break
                page = Page(page.records + more.records, more.cursor)
                nxt = asyncio.ensure_future(fetch())
            yield page
    finally:
        if not nxt.done():
            nxt.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await nxt
        close = getattr(it, "aclose", None)
        if close is not None:
            await close()


async def _groups(pages: AsyncIterator[Page], g: Grouping, after: str | None,
                  tick: Callable[[int], None] = lambda n: None) -> AsyncIterator[Page]:
    """``pages`` regathered into write groups: once ``g.least`` records are there (waiting for
    pages as needed), as many of them as make a multiple of ``g.step``, up to ``g.most``, go out
    as one page (the source's last group holds what is left). A page that does not fit is split
    across two groups.

    A group's cursor is the cursor of its last page held in full (``after`` while there is
    none): a step resumed after a group reads a page split by it again, and phase 1 passes over
    the records of it this pass has handled already (it is idempotent). A group of an ingest
    job's size can take minutes to read: ``tick`` is
    called with each page's size as it is read: the progress shown counts records read while a
    group gathers, and the service's progress tracker raises ``StopRequested`` from it on a
    shutdown, as between pages (what was gathered and not written is read again by the next pass).
    """
    buf: list[Record] = []
    ends: list[tuple[int, str | None]] = []  # per page in buf: where its records end in buf, its cursor
    cursor = after
    async for page in pages:
        tick(len(page.records))
        buf += page.records
        ends.append((len(buf), page.cursor))
        while len(buf) >= g.least:
            cut = min(g.most, len(buf) - len(buf) % g.step)
            group, buf = buf[:cut], buf[cut:]
            done = [c for n, c in ends if n <= cut]
            if done:
                cursor = done[-1]
            ends = [(n - cut, c) for n, c in ends if n > cut]
            yield Page(group, cursor)
    if buf:
        yield Page(buf, ends[-1][1])


# -- phase 1: index left ----------------------------------------------------------------
async def _phase_left(ctx: RunContext, state: ScanState, stop: Stop, done: Checkpoint, merge_up_to: int,
                      group: Grouping | None) -> bool:
    name, p = ctx.cfg.name, ctx.pass_id
    ctx.progress.phase(f"{name}: indexing {ctx.obj[L]}")
    stopping = False
    # Into an empty right app this phase writes: its pages are gathered into whole write batches
    # of the target (write_group); each group is then one page (one commit, one resume point).
    scan = _read_ahead(_scan(ctx, L, state.cursor), 0 if state.right_empty and group else merge_up_to)
    grouped = bool(state.right_empty and group)
    pages = _groups(scan, group, state.cursor, ctx.progress.advance) if group and grouped else scan
    it = aiter(pages)
    while True:
        if stopping:
            return True  # stop *before* a page, so the last page never leaves a step unfinished
        try:
            page = await anext(it)  # (after the stop check: a group is not gathered only to be dropped)
        except StopAsyncIteration:
            break
        await ctx.between_pages()
        ctx.counters.read["left"] += len(page.records)  # counted in the page's own transaction
        _arm(ctx, "left", page.cursor)
        if state.right_empty and ctx.locks is None:
            # One process owns the index: the page's new rows go in with the create
            # intents of phase 3 in one transaction, without being read back.
            w = index_left(ctx, page.records, save=False)
            # the page's records as read: what their snapshots would give back (an archived one's
            # snapshot does not say so: that one is rebuilt from it), with their match keys known
            read = {r.id: r for r in page.records if not r.archived}
            await _sync_left_rest_page(ctx, [lk for lk in (*w.new.values(), *w.dirty.values())
                                             if lk.left_seen == p and lk.handled != p], w, read)
        else:
            async with pair_locks(ctx, L, page.records):
                ctx.save(index_left(ctx, page.records, save=False), page_end=not state.right_empty)
            if state.right_empty:
                found = ctx.store.links_by_record(name, L, [r.id for r in page.records]).values()
                await _sync_left_rest(ctx, [lk for lk in found if lk.left_seen == p and lk.handled != p])
        _end_page(ctx)
        if not grouped:  # (a group's records were counted as they were read)
            ctx.progress.advance(len(page.records))
        state.cursor = page.cursor  # None (no resumable cursor): a resumed step starts the phase over
        done(state)
        stopping = stop()
    _next_phase(ctx, state, "rest" if state.right_empty else "right")
    done(state)
    return stopping


# -- phase 2: scan right and sync -------------------------------------------------------
async def _phase_right(ctx: RunContext, state: ScanState, stop: Stop, done: Checkpoint) -> bool:
    ctx.progress.phase(f"{ctx.cfg.name}: syncing {ctx.obj[R]}")
    stopping = False
    async for page in _scan(ctx, R, state.cursor):
        if stopping:
            return True
        await ctx.between_pages()
        ctx.counters.read["right"] += len(page.records)
        _arm(ctx, "right", page.cursor)
        async with pair_locks(ctx, R, page.records):
            await _sync_right_records(ctx, page.records)
        _end_page(ctx)
        ctx.progress.advance(len(page.records))
        state.cursor = page.cursor
        done(state)
        stopping = stop()
    _next_phase(ctx, state, "rest")
    done(state)
    return stopping


async def _sync_right_records(ctx: RunContext, records: Sequence[Record]) -> None:
    """Pair each right record of a page with the index and sync the pairs."""
    p = ctx.pass_id
    records = await follow_moves(ctx, R, records)  # converted Leads (a routed scan's first pages)
    w = PageWrite()
    paired = []
    for rec, link, dup_of in pair(ctx, R, records, w):
        if (link.right_id == rec.id and link.right_seen == p and link.handled == p and link.id not in w.new
                and link.pending is None and link.in_flight is None):
            continue  # done earlier in this pass (a resumed step re-reads its last pages)
        link.right_seen, link.handled = p, p
        if dup_of is None:
            paired.append((rec, link))
    await restart_restored(ctx, R, paired)  # deleted in both apps, then restored on the right
    unseen = [str(link.left_id) for _, link in paired if link.left_id is not None and link.left_seen != p]
    alive = await still_there(ctx, L, unseen)
    alive, ended = await follow_twin_moves(ctx, L, alive, [lk for _, lk in paired], unseen)  # merged away since
    paired = [(rec, lk) for rec, lk in paired if lk.id not in ended]
    items: list[Item] = []
    for rec, link in paired:
        if link.left_id is None:
            left = None
        elif link.left_seen == p:
            left = from_snapshot(link)
        elif (there := alive.get(link.left_id)) is not None:
            left, link.left_seen = there, p
        else:
            left = tombstone(link.left_id)  # not returned by this pass's left scan, nor by id: deleted
        items.append(plan(ctx, link, {L: left, R: rec}))
    await apply(ctx, items, w)


# -- phase 3: the left records phase 2 did not reach ------------------------------------
async def _phase_rest(ctx: RunContext, state: ScanState, stop: Stop, done: Checkpoint, chunk_size: int) -> None:
    p = ctx.pass_id
    ctx.progress.phase(f"{ctx.cfg.name}: syncing remaining {ctx.obj[L]}")
    rest = and_(links_t.c.left_seen == p, or_(links_t.c.handled.is_(None), links_t.c.handled != p))
    after = () if state.cursor is None else (links_t.c.id > state.cursor,)
    stopping = False
    for chunk in ctx.store.iter_links(ctx.cfg.name, rest, *after, chunk=chunk_size):
        if stopping:
            return
        _arm(ctx, "rest", chunk[-1].id)
        await _sync_left_rest(ctx, chunk)
        _end_page(ctx)
        await ctx.between_pages()  # after the chunk: its rows were read before, they must not go stale
        ctx.progress.advance(len(chunk))
        state.cursor = chunk[-1].id
        done(state)
        stopping = stop()
    _next_phase(ctx, state, "done")
    done(state)


async def _sync_left_rest(ctx: RunContext, chunk: Sequence[Link]) -> None:
    """Phase 3 for indexed left rows phase 2 did not reach: create on the right, or find deleted."""
    if ctx.locks is None:
        return await _sync_left_rest_page(ctx, chunk)
    async with pair_locks(ctx, None, links=chunk):
        # the rows as they are now that they are locked (another process may have synced some)
        fresh = ctx.store.links_by_id([lk.id for lk in chunk])
        p = ctx.pass_id
        await _sync_left_rest_page(ctx, [f for lk in chunk if (f := fresh.get(lk.id)) is not None
                                         and f.left_seen == p and f.handled != p])


async def _sync_left_rest_page(ctx: RunContext, chunk: Sequence[Link], w: PageWrite | None = None,
                               read: Mapping[str, Record] | None = None) -> None:
    """Plan and sync ``chunk``; ``w`` holds index changes not saved yet (saved with the plans);
    ``read``: left records of this page by id, planned as read instead of from their snapshots."""
    p = ctx.pass_id
    w = w or PageWrite()
    # deleted in both apps, then restored on the left (this pass's scan returned it)
    await restart_restored(ctx, L, [(rec, lk) for lk in chunk if lk.right_deleted and (rec := from_snapshot(lk))])
    todo = []
    for link in chunk:
        link.handled = p
        w.touch(link)
        if link.reason == ExcludedReason.DUPLICATE and link.right_id is None:
            continue
        if link.right_id and link.right_deleted and link.status != Status.SYNCING:
            continue  # a delete found earlier: stays marked until resynced (a syncing row's archive died)
        todo.append(link)
    # Not returned by phase 2's scan: the right record is gone, unless a read by id finds it.
    alive = await still_there(ctx, R, [str(lk.right_id) for lk in todo if lk.right_id])
    alive, ended = await follow_twin_moves(ctx, R, alive, todo, [str(lk.right_id) for lk in todo if lk.right_id])  # converted or merged since the scan's pages
    todo = [lk for lk in todo if lk.id not in ended]
    items: list[Item] = []
    for link in todo:
        right = (alive.get(link.right_id) or tombstone(link.right_id)) if link.right_id else None
        if right is not None and not right.archived:
            link.right_seen = p
        left = read.get(link.left_id) if read is not None and link.left_id is not None else None
        items.append(plan(ctx, link, {L: left if left is not None and link.snapshot is not None else from_snapshot(link),
                                      R: right}))
    await apply(ctx, items, w)


# -- after the phases -------------------------------------------------------------------
def _sweep_vanished(ctx: RunContext) -> None:
    """Rows whose record no scan of this pass returned: gone from the app."""
    p = ctx.pass_id
    gone = or_(
        and_(links_t.c.left_id.is_not(None), or_(links_t.c.left_seen.is_(None), links_t.c.left_seen != p),
             links_t.c.right_id.is_(None), links_t.c.pending.is_(None)),
        and_(links_t.c.right_id.is_not(None), or_(links_t.c.right_seen.is_(None), links_t.c.right_seen != p),
             links_t.c.left_id.is_(None), links_t.c.pending.is_(None)),
    )
    for chunk in ctx.store.iter_links(ctx.cfg.name, gone):
        ctx.save(PageWrite(drop_links=[link.id for link in chunk]))
    # A pair neither of whose records a scan returned is deleted in both apps (no phase
    # reaches it: phase 2 plans what the right scan returns, phase 3 what the left did).
    both_gone = and_(
        links_t.c.left_id.is_not(None), links_t.c.right_id.is_not(None),
        or_(links_t.c.left_seen.is_(None), links_t.c.left_seen != p),
        or_(links_t.c.right_seen.is_(None), links_t.c.right_seen != p),
        or_(links_t.c.left_deleted.is_(False), links_t.c.right_deleted.is_(False)))
    for chunk in ctx.store.iter_links(ctx.cfg.name, both_gone):
        w = PageWrite()
        for link in chunk:
            link.left_deleted = link.right_deleted = True
            link.set_status(Status.EXCLUDED, ExcludedReason.DELETED.value, message="deleted in both apps")
            w.touch(link)
        ctx.save(w)
