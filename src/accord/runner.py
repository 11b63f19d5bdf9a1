"""The runner: carries out initial, full and incremental passes of one sync.

It streams records page by page from the connectors, keeps the sync index in step, asks
the pure planner what to do with each pair and performs the writes in batches. Memory
stays bounded by the page size whatever the number of records: state lives in the index.

Initial and full passes (SPEC §2, "three phases"):
  1. index left: every left record's id, match keys and a snapshot go into the index;
  2. scan right and sync: each right record is paired by id or match key with an indexed
     left record (whose snapshot stands for its current values) and planned;
  3. sync the left records phase 2 did not reach (creates on the right, deletes).
Incremental passes read each side's change feed from its cursor.

Creates are idempotent: the intent (pending side + the record's match keys registered
on the target side) is committed before the create is sent, so a pass interrupted
between the create and the index write finds the created record by key and links it
instead of creating a second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import and_, or_

from accord import catalog
from accord.associations import AssociationTarget, sync_associations
from accord.config import ConfigError, ConfigIssue, SyncConfig, config_hash
from accord.connectors.base import Connector
from accord.engine.mapping import SyncSpec, compile_sync
from accord.engine.matching import match_keys
from accord.engine.planner import PairInput, PairPlan, plan_pair
from accord.engine.stages import resolve_stage_map
from accord.engine.values import canon
from accord.index.schema import links as links_t
from accord.index.store import Link, PageWrite, Store, SyncState
from accord.model import (
    ConnectorError,
    Counters,
    ErrorCategory,
    ExcludedReason,
    Page,
    Record,
    ResyncRequired,
    Side,
    Status,
    WriteOutcomeUnknown,
    WriteResult,
)

log = logging.getLogger("accord.runner")

L, R = Side.LEFT, Side.RIGHT


class Progress(Protocol):
    def phase(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class PageLocks(Protocol):
    """Locks on the record pairs of a page, shared by processes on one index (accord.index.locks)."""

    async def acquire(self, keys: Iterable[str]) -> None: ...
    def release(self) -> None: ...


class _NoProgress:
    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class PassResult:
    sync: str
    kind: str
    counters: Counters
    run_id: int | None = None
    broken: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sync": self.sync, "kind": self.kind, "run_id": self.run_id, "broken_mappings": self.broken,
                **self.counters.as_dict()}


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


@dataclass
class _Item:
    link: Link
    plan: PairPlan
    records: dict[Side, Record | None]
    stored: dict[Side, Record | None] = field(default_factory=dict)  # records as the apps stored our writes
    intent_keys: list[str] = field(default_factory=list)


def _snapshot(rec: Record) -> dict[str, Any]:
    return {"p": dict(rec.properties), "u": rec.updated_at, "c": rec.created_at}


def _from_snapshot(link: Link) -> Record | None:
    if link.left_id is None or link.snapshot is None:
        return None
    s = link.snapshot
    return Record(link.left_id, s["p"], s.get("u"), s.get("c"))


def _tombstone(rid: str) -> Record:
    return Record(rid, {}, archived=True)


def _in_flight(plan: PairPlan) -> dict[str, Any] | None:
    """What the index must remember about a plan's writes until they are confirmed."""
    if plan.left_base is None or plan.right_base is None:
        return None
    wrote = {s.value: dict(plan.update[s]) for s in (L, R) if plan.update[s]}
    if plan.create is not None:
        wrote[plan.create.value] = dict(plan.create_props)
    return {"left": plan.left_base, "right": plan.right_base, "wrote": wrote}


def _settle_in_flight(spec: SyncSpec, link: Link, landed: Callable[[Side, str, Any], bool]) -> None:
    """Writes sent but not confirmed (the pass died, or the batch failed after sending), or
    confirmed for some sides only (per-record failures).

    Per mapping: if each value written to a side landed there, both sides take the bases
    planned with the writes; otherwise the old bases stand (the write is redone, or the
    user's edit since then is settled as a conflict). Without this, a field the engine had
    synced and a user then edited looked changed on both sides, and the conflict rule could
    throw the user's edit away.
    """
    flight = link.in_flight or {}
    wrote = {s: (flight.get("wrote") or {}).get(s.value) or {} for s in (L, R)}
    planned = {s: flight.get(s.value) or {} for s in (L, R)}
    bases = {L: link.left_base, R: link.right_base}
    for m in spec.mappings:
        if all(landed(s, m.field(s), wrote[s][m.field(s)]) for s in (L, R) if m.field(s) in wrote[s]):
            k = m.base_key  # writes are by field, bases by mapping
            for s in (L, R):
                if k in planned[s]:
                    bases[s] = {**(bases[s] or {}), k: planned[s][k]}
    link.left_base, link.right_base, link.in_flight = bases[L], bases[R], None


def _landed_unless(failed: set[Side]) -> Callable[[Side, str, Any], bool]:
    return lambda side, field, value: side not in failed


def _batches(items: Sequence[str], n: int) -> list[list[str]]:
    return [list(items[i:i + n]) for i in range(0, len(items), n)]


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


class SyncRunner:
    scan_chunk = 1000  # index rows per batch of phase 3
    merge_pages_up_to = 500  # records: left pages already read are indexed and synced together

    def __init__(
        self,
        cfg: SyncConfig,
        store: Store,
        left: Connector,
        right: Connector,
        *,
        progress: Progress | None = None,
        path: str = "",
        associations: Sequence[AssociationTarget] = (),
        locks: PageLocks | None = None,
    ) -> None:
        self.cfg = cfg
        self.associations = list(associations)
        # links planned in an incremental pass, for its association sync; None otherwise (a scan
        # pass associates every linked pair, and collecting its ids would grow with the index)
        self._touched: set[str] | None = None
        self.store = store
        self.conn = {L: left, R: right}
        self.obj = {L: cfg.left.object, R: cfg.right.object}
        self.progress = progress or _NoProgress()
        self.path = path
        self.spec: SyncSpec | None = None
        self.members: frozenset[str] | None = None
        self.counters = Counters()
        self.pass_id = 0
        self.locks = locks  # several processes on one index (distributed mode): lock each page's pairs
        self._keys_memo: dict[int, tuple[Record, Side, list[str]]] = {}

    # -- set-up ----------------------------------------------------------------------
    async def prepare(self) -> SyncSpec:
        """Describe both objects, resolve stage maps and compile the sync; fatal issues → ConfigError."""
        ls = await self.conn[L].describe(self.obj[L])
        rs = await self.conn[R].describe(self.obj[R])
        stage_map = None
        if self.cfg.stages is not None or catalog.kind_of(self.conn[L].vendor, self.obj[L]) == "deal":
            try:
                lp = await self.conn[L].pipelines(self.obj[L])
                rp = await self.conn[R].pipelines(self.obj[R])
                stage_map = resolve_stage_map(self.cfg.stages or "auto", lp, rp)
            except NotImplementedError:
                stage_map = None
        spec, issues = compile_sync(self.cfg, self.conn[L].vendor, self.conn[R].vendor, ls, rs, stage_map, self.path)
        if issues:
            raise ConfigError(self.cfg.name, issues)
        for b in spec.broken:
            log.warning("sync %s: mapping %s is broken and skipped: %s", self.cfg.name, b.path, b.reason)
        self.spec = spec
        self._keys_memo.clear()  # keys depend on the spec's match rules
        return spec

    def _spec(self) -> SyncSpec:
        assert self.spec is not None, "call prepare() first"
        return self.spec

    async def _load_members(self) -> None:
        spec = self._spec()
        if spec.inclusion_side is None or self.cfg.inclusion is None:
            self.members = None
            return
        side = spec.inclusion_side
        try:
            self.members = await self.conn[side].list_members(self.obj[side], self.cfg.inclusion.list)
        except NotImplementedError as e:
            raise ConfigError(self.cfg.name, [ConfigIssue(f"{self.path}.inclusion", str(e))]) from e

    def _in_list(self, recs: dict[Side, Record | None]) -> bool | None:
        spec = self._spec()
        if spec.inclusion_side is None or self.members is None:
            return None
        rec = recs.get(spec.inclusion_side)
        return None if rec is None else rec.id in self.members

    # -- entry points -------------------------------------------------------------------
    async def run(self, *, full: bool = False) -> PassResult:
        """One pass: the initial sync if it never finished (or the config changed), else incremental."""
        if self.spec is None:
            await self.prepare()
        state = self.register()
        if not state.initial_done or full:
            return await self._tracked("initial" if not state.initial_done else "full", self._scan_then_associate)
        try:
            return await self._tracked("incremental", self._incremental_then_associate)
        except ResyncRequired as e:
            # The change feed lost track (e.g. a purged delete log): re-scan against the index.
            log.warning("sync %s: %s; running a full pass", self.cfg.name, e)
            return await self._tracked("full", self._scan_then_associate)

    def register(self) -> SyncState:
        """Register the sync in the index (a changed config restarts its initial sync) and
        bring bases an older index keyed by field name up to date; call after prepare()."""
        state = self.store.ensure_sync(self.cfg.name, config_hash(self.cfg), self.cfg.enabled)
        if not state.bases_keyed:
            self._rekey_bases()
        return state

    def _rekey_bases(self) -> None:
        """An index from before bases were keyed by mapping, under an unchanged config: its
        field-name bases belong to today's mappings and are re-keyed once, so an upgrade
        keeps every pair's three-way merge (a clear or an edit since the last pass still
        counts as one)."""
        spec = self._spec()
        n = self.store.rekey_bases(self.cfg.name, {s: dict(spec.based(s)) for s in (L, R)})
        self.store.set_bases_keyed(self.cfg.name)
        log.info("sync %s: %d pairs' bases re-keyed by mapping", self.cfg.name, n)

    async def incremental(self) -> PassResult:
        """One incremental pass of an initialised sync (:class:`ResyncRequired` propagates)."""
        if self.spec is None:
            await self.prepare()
        return await self._tracked("incremental", self._incremental_then_associate)

    async def associate_all(self) -> None:
        """Associations of every linked pair (what a scan pass ends with)."""
        await self._associate(None)

    async def _scan_then_associate(self) -> None:
        await self._scan_pass()
        await self._associate(None)

    async def _incremental_then_associate(self) -> None:
        self._touched = set()
        try:
            await self._incremental_pass()
            touched = self._touched
        finally:
            self._touched = None
        await self._associate(touched)

    async def _associate(self, only: set[str] | None) -> None:
        """Associations of the pairs of this pass (``None``: every linked pair, after a scan)."""
        spec = self._spec()
        writable = {L: spec.writes_to(L), R: spec.writes_to(R)}
        for target in self.associations:
            chunks = (self.store.iter_links(self.cfg.name, links_t.c.left_id.is_not(None), links_t.c.right_id.is_not(None))
                      if only is None else
                      (list(self.store.links_by_id(ids).values()) for ids in _batches(sorted(only), 500)))
            for chunk in chunks:
                res = await sync_associations(self.store, self.cfg.name, chunk, self.conn, self.obj, target,
                                              spec.winner, writable)
                for k, v in res.written.items():
                    self.counters.associated[k] += v

    async def sync_records(self, side: Side, ids: Sequence[str]) -> PassResult:
        """Sync specific records now (webhook events, "resync this record")."""
        if self.spec is None:
            await self.prepare()

        async def body() -> None:
            await self._load_members()
            recs = await self.conn[side].read(self.obj[side], list(ids), self._spec().fields(side))
            found = {r.id for r in recs}
            recs += [_tombstone(i) for i in ids if i not in found]
            await self._process_changed(side, recs)

        return await self._tracked("records", body)

    async def _tracked(self, kind: str, body: Callable[[], Any]) -> PassResult:
        self.counters = Counters()
        run_id = self.store.begin_run(self.cfg.name, kind)
        self.pass_id = run_id
        try:
            await body()
        except BaseException as e:
            self.store.finish_run(run_id, "failed", self.counters.as_dict(), f"{type(e).__name__}: {e}")
            raise
        self.store.finish_run(run_id, "ok", self.counters.as_dict())
        return PassResult(self.cfg.name, kind, self.counters, run_id, [b.path for b in self._spec().broken])

    # -- scan pass (initial / full) -----------------------------------------------------
    # A scan pass is begin → phases → finish. Embedded, one call runs them all; distributed
    # (accord.distributed), each step is an activity that may run on another worker and
    # resumes from the ScanState the previous step (or its last heartbeat) left behind.
    async def _scan_pass(self) -> None:
        state = await self.begin_scan()
        await self.scan_steps(state)
        self.finish_scan(state)

    async def begin_scan(self) -> ScanState:
        """Start the scan pass ``self.pass_id``: take both change cursors and look at the right app."""
        await self._load_members()
        # Cursors are taken *before* reading, so edits made during the pass are seen next time.
        start = {s.value: await self.conn[s].change_cursor(self.obj[s]) for s in (L, R)}
        # An empty right app (the usual first sync into a new account) has no record to pair
        # with: each left page is then synced as soon as it is indexed (phase 3 page by page),
        # so writes to the right overlap reads from the left instead of waiting for them all.
        right_empty = await self._scan_is_empty(R)
        return ScanState(self.pass_id, start, right_empty)

    async def resume_scan(self, state: ScanState) -> None:
        """Take up a scan pass another runner (another process) began: its pass id, the inclusion list."""
        self.pass_id = state.pass_id
        await self._load_members()

    async def scan_steps(self, state: ScanState, *, stop: Callable[[], bool] | None = None,
                         checkpoint: Callable[[ScanState], None] | None = None,
                         single_phase: bool = False) -> ScanState:
        """Run the scan's phases from ``state`` until done, or until ``stop()`` says so between pages
        (or, with ``single_phase``, when the phase ``state`` is in ends).

        ``state`` is updated in place after every page (its phase and the cursor to resume
        after that page) and handed to ``checkpoint``. Re-running pages of the current phase
        is harmless: phase 1 is idempotent, phase 2 skips records this pass has handled, and
        phase 3 only selects rows it has not handled yet. Going back to an earlier phase is
        not (phase 2 would see records phase 3 created): a resumed step must stay in its phase.
        """
        self.pass_id = state.pass_id
        stop = stop or (lambda: False)
        done = checkpoint or (lambda s: None)
        # each phase returns True if ``stop()`` asked to stop (a step ending a phase does not start the next)
        if state.phase == "left" and (await self._phase_left(state, stop, done) or single_phase):
            return state
        if state.phase == "right" and (await self._phase_right(state, stop, done) or single_phase):
            return state
        if state.phase == "rest":
            await self._phase_rest(state, stop, done)
        return state

    def finish_scan(self, state: ScanState) -> None:
        """After the last phase: drop rows of vanished records, store the cursors, mark the sync initialised."""
        self.pass_id = state.pass_id
        self._sweep_vanished()
        for s in (L, R):
            self.store.set_cursor(self.cfg.name, s, state.start[s.value])
        self.store.set_initial_done(self.cfg.name)

    def _scan(self, side: Side, after: str | None) -> AsyncIterator[Page]:
        fields = self._spec().fields(side)
        return self.conn[side].scan(self.obj[side], fields) if after is None else \
            self.conn[side].scan_from(self.obj[side], fields, after)

    async def _phase_left(self, state: ScanState, stop: Callable[[], bool], done: Callable[[ScanState], None]) -> bool:
        name, p = self.cfg.name, self.pass_id
        self.progress.phase(f"{name}: indexing {self.obj[L]}")
        stopping = False
        async for page in _read_ahead(self._scan(L, state.cursor), self.merge_pages_up_to):
            if stopping:
                return True  # stop *before* a page, so the last page never leaves a step unfinished
            if state.right_empty and self.locks is None:
                # One process owns the index: the page's new rows go in with the create
                # intents of phase 3 in one transaction, without being read back.
                w = self._index_left(page.records, save=False)
                await self._sync_left_rest_page([lk for lk in (*w.new.values(), *w.dirty.values())
                                                 if lk.left_seen == p and lk.handled != p], w)
            else:
                async with self._pair_locks(L, page.records):
                    self._index_left(page.records)
                if state.right_empty:
                    found = self.store.links_by_record(name, L, [r.id for r in page.records]).values()
                    await self._sync_left_rest([lk for lk in found if lk.left_seen == p and lk.handled != p])
            self.counters.read["left"] += len(page.records)
            self.progress.advance(len(page.records))
            state.cursor = page.cursor  # None (no resumable cursor): a resumed step starts the phase over
            done(state)
            stopping = stop()
        state.phase, state.cursor = ("rest" if state.right_empty else "right"), None
        done(state)
        return stopping

    async def _phase_right(self, state: ScanState, stop: Callable[[], bool], done: Callable[[ScanState], None]) -> bool:
        self.progress.phase(f"{self.cfg.name}: syncing {self.obj[R]}")
        stopping = False
        async for page in self._scan(R, state.cursor):
            if stopping:
                return True
            self.counters.read["right"] += len(page.records)
            await self._sync_right_page(page.records)
            self.progress.advance(len(page.records))
            state.cursor = page.cursor
            done(state)
            stopping = stop()
        state.phase, state.cursor = "rest", None
        done(state)
        return stopping

    async def _phase_rest(self, state: ScanState, stop: Callable[[], bool], done: Callable[[ScanState], None]) -> None:
        p = self.pass_id
        self.progress.phase(f"{self.cfg.name}: syncing remaining {self.obj[L]}")
        rest = and_(links_t.c.left_seen == p, or_(links_t.c.handled.is_(None), links_t.c.handled != p))
        after = () if state.cursor is None else (links_t.c.id > state.cursor,)
        stopping = False
        for chunk in self.store.iter_links(self.cfg.name, rest, *after, chunk=self.scan_chunk):
            if stopping:
                return
            await self._sync_left_rest(chunk)
            self.progress.advance(len(chunk))
            state.cursor = chunk[-1].id
            done(state)
            stopping = stop()
        state.phase, state.cursor = "done", None
        done(state)

    async def recover_in_flight(self, state: ScanState) -> None:
        """Before resuming a scan a crashed worker left: settle the creates it may have sent.

        Their intents (``pending``) were committed before the create; the record may or may
        not exist in the target app now. Each source record is read again and synced as a
        change, which looks the target app up by match key first (linking a create that did
        happen) and creates the record only if it is not there. Pairs with other writes in
        flight (updates, archives) are synced as a change of their left record, which reads
        both sides and settles what landed.
        """
        self.pass_id = state.pass_id
        await self._load_members()
        cond = and_(or_(links_t.c.pending.is_not(None), links_t.c.in_flight.is_not(None)),
                    links_t.c.handled == state.pass_id)
        for chunk in self.store.iter_links(self.cfg.name, cond, chunk=100):
            for src in (L, R):
                ids = [str(lk.id_of(src)) for lk in chunk if lk.id_of(src) and (
                    lk.pending == src.other.value or (lk.pending is None and (src is L or lk.left_id is None)))]
                if ids:
                    recs = await self.conn[src].read(self.obj[src], ids, self._spec().fields(src))
                    await self._process_changed(src, [r for r in recs if not r.archived], force=True)

    async def _scan_is_empty(self, side: Side) -> bool:
        """True if a scan of ``side`` returns no record at all (one call for an empty app)."""
        scan = self.conn[side].scan(self.obj[side], self._spec().fields(side))
        try:
            async for page in scan:
                if page.records:
                    return False
            return True
        finally:
            close = getattr(scan, "aclose", None)
            if close is not None:
                await close()

    async def _sync_left_rest(self, chunk: Sequence[Link]) -> None:
        """Phase 3 for indexed left rows phase 2 did not reach: create on the right, or find deleted."""
        if self.locks is None:
            return await self._sync_left_rest_page(chunk)
        async with self._pair_locks(None, links=chunk):
            # the rows as they are now that they are locked (another process may have synced some)
            fresh = self.store.links_by_id([lk.id for lk in chunk])
            p = self.pass_id
            await self._sync_left_rest_page([f for lk in chunk if (f := fresh.get(lk.id)) is not None
                                             and f.left_seen == p and f.handled != p])

    async def _sync_left_rest_page(self, chunk: Sequence[Link], w: PageWrite | None = None) -> None:
        """Plan and sync ``chunk``; ``w`` holds index changes not saved yet (saved with the plans)."""
        p = self.pass_id
        w = w or PageWrite()
        todo = []
        for link in chunk:
            link.handled = p
            w.touch(link)
            if link.reason == ExcludedReason.DUPLICATE and link.right_id is None:
                continue
            if link.right_id and link.right_deleted:
                continue  # a delete found earlier: stays marked until resynced
            todo.append(link)
        # Not returned by phase 2's scan: the right record is gone, unless a read by id finds it.
        alive = await self._still_there(R, [str(lk.right_id) for lk in todo if lk.right_id])
        items = []
        for link in todo:
            right = (alive.get(link.right_id) or _tombstone(link.right_id)) if link.right_id else None
            if right is not None and not right.archived:
                link.right_seen = p
            items.append(self._plan(link, {L: _from_snapshot(link), R: right}))
        await self._apply(items, w)

    def _sweep_vanished(self) -> None:
        """Rows whose record no scan of this pass returned: gone from the app."""
        p = self.pass_id
        gone = or_(
            and_(links_t.c.left_id.is_not(None), or_(links_t.c.left_seen.is_(None), links_t.c.left_seen != p),
                 links_t.c.right_id.is_(None), links_t.c.pending.is_(None)),
            and_(links_t.c.right_id.is_not(None), or_(links_t.c.right_seen.is_(None), links_t.c.right_seen != p),
                 links_t.c.left_id.is_(None), links_t.c.pending.is_(None)),
        )
        for chunk in self.store.iter_links(self.cfg.name, gone):
            self.store.save(self.cfg.name, PageWrite(drop_links=[link.id for link in chunk]))
        # A pair neither of whose records a scan returned is deleted in both apps (no phase
        # reaches it: phase 2 plans what the right scan returns, phase 3 what the left did).
        both_gone = and_(
            links_t.c.left_id.is_not(None), links_t.c.right_id.is_not(None),
            or_(links_t.c.left_seen.is_(None), links_t.c.left_seen != p),
            or_(links_t.c.right_seen.is_(None), links_t.c.right_seen != p),
            or_(links_t.c.left_deleted.is_(False), links_t.c.right_deleted.is_(False)))
        for chunk in self.store.iter_links(self.cfg.name, both_gone):
            w = PageWrite()
            for link in chunk:
                link.left_deleted = link.right_deleted = True
                link.set_status(Status.EXCLUDED, ExcludedReason.DELETED.value, message="deleted in both apps")
                w.touch(link)
            self.store.save(self.cfg.name, w)

    @contextlib.asynccontextmanager
    async def _pair_locks(self, side: Side | None, records: Sequence[Record] = (),
                          links: Sequence[Link] = ()) -> AsyncIterator[None]:
        """Hold the locks of one page's pairs (only with ``locks``): its records' ids and match keys,
        then the ids of their twins as the index has them once those are held."""
        if self.locks is None:
            yield
            return
        keys: set[str] = set()
        if side is not None:
            keys |= {f"{side.value}:{r.id}" for r in records}
            keys |= {f"key:{k}" for r in records if not r.archived for k in self._keys(r, side)}
        for lk in links:
            keys |= {f"{s.value}:{i}" for s in (L, R) if (i := lk.id_of(s)) is not None}
            if (snap := _from_snapshot(lk)) is not None:
                keys |= {f"key:{k}" for k in self._keys(snap, L)}
        try:
            while True:
                await self.locks.acquire(keys)
                rows = (self.store.links_by_record(self.cfg.name, side, [r.id for r in records]).values()
                        if side is not None else self.store.links_by_id([lk.id for lk in links]).values())
                more = {f"{s.value}:{i}" for lk in rows for s in (L, R) if (i := lk.id_of(s)) is not None} - keys
                if not more:
                    break
                keys |= more
            yield
        finally:
            self.locks.release()

    def _keys(self, rec: Record, side: Side) -> list[str]:
        # A record's keys are asked for up to four times while one page is indexed, planned and
        # its intents saved: remembered for the record object (Records are frozen).
        hit = self._keys_memo.get(id(rec))
        if hit is not None and hit[0] is rec and hit[1] is side:
            return hit[2]
        keys = match_keys(rec.properties, self._spec().match, side.value)
        if len(self._keys_memo) >= 4096:
            self._keys_memo.clear()
        self._keys_memo[id(rec)] = (rec, side, keys)
        return keys

    def _label(self, rec: Record, side: Side) -> str | None:
        spec = self._spec()
        fields = [k.field(side.value) for k in spec.match] + [m.field(side) for m in spec.mappings[:1]]
        for f in fields:
            v = canon(rec.properties.get(f))
            if v is not None:
                return str(v)[:320]
        return None

    def _index_left(self, records: Sequence[Record], *, save: bool = True) -> PageWrite:
        """Phase 1: ids, match keys and snapshots of one page of left records (saved unless not ``save``)."""
        name, p = self.cfg.name, self.pass_id
        existing = self.store.links_by_record(name, L, [r.id for r in records])
        keys = {r.id: self._keys(r, L) for r in records if r.id not in existing}
        owners = self.store.key_owners(name, L, [k for ks in keys.values() for k in ks])
        owner_links = self.store.links_by_id(list(set(owners.values())))
        w = PageWrite()
        local: dict[str, Link] = {}
        for rec in records:
            link = existing.get(rec.id)
            if link is None:
                ks = keys[rec.id]
                owner = next((local[k] for k in ks if k in local), None) or next(
                    (owner_links[owners[k]] for k in ks if k in owners and owners[k] in owner_links), None)
                if owner is not None and owner.left_id is None and owner.pending == L.value:
                    link = owner  # the create we started last time did happen: adopt it
                    link.left_id, link.pending = rec.id, None
                    w.touch(link)
                elif owner is not None:
                    link = Link(name, left_id=rec.id, label=self._label(rec, L))
                    link.set_status(Status.EXCLUDED, ExcludedReason.DUPLICATE, message=f"same match key as {owner.left_id or owner.right_id}")
                    w.add(link)
                else:
                    link = Link(name, left_id=rec.id, status=Status.QUEUED, label=self._label(rec, L))
                    w.add(link)
                    for k in ks:
                        local[k] = link
                        w.add_keys.append((L.value, k, link.id))
            else:
                w.touch(link)
            link.snapshot = _snapshot(rec)
            link.left_seen = p
            if link.left_deleted and not rec.archived:
                link.left_deleted = False
        if save:
            self.store.save(name, w)
        return w

    async def _sync_right_page(self, records: Sequence[Record]) -> None:
        """Phase 2: pair each right record with the index and sync the pair."""
        async with self._pair_locks(R, records):
            await self._sync_right_records(records)

    async def _sync_right_records(self, records: Sequence[Record]) -> None:
        p = self.pass_id
        w = PageWrite()
        paired = []
        for rec, link, dup_of in self._pair(R, records, w):
            if (link.right_id == rec.id and link.right_seen == p and link.handled == p and link.id not in w.new
                    and link.pending is None and link.in_flight is None):
                continue  # done earlier in this pass (a resumed step re-reads its last pages)
            link.right_seen, link.handled = p, p
            if dup_of is None:
                paired.append((rec, link))
        unseen = [str(link.left_id) for _, link in paired if link.left_id is not None and link.left_seen != p]
        alive = await self._still_there(L, unseen)
        items = []
        for rec, link in paired:
            if link.left_id is None:
                left = None
            elif link.left_seen == p:
                left = _from_snapshot(link)
            elif (there := alive.get(link.left_id)) is not None:
                left, link.left_seen = there, p
            else:
                left = _tombstone(link.left_id)  # not returned by this pass's left scan, nor by id: deleted
            items.append(self._plan(link, {L: left, R: rec}))
        await self._apply(items, w)

    async def _still_there(self, side: Side, ids: Sequence[str]) -> dict[str, Record]:
        """Of records a full scan did not return, those a read by id still finds.

        A scan can miss a record without it being deleted (HubSpot's search lags behind
        records created seconds ago; an app may page inconsistently while records change),
        so a pair is only treated as deleted once its record is not there by id either.
        """
        if not ids:
            return {}
        recs = await self.conn[side].read(self.obj[side], ids, self._spec().fields(side))  # it batches by itself
        return {rec.id: rec for rec in recs if not rec.archived}

    def _pair(self, side: Side, records: Sequence[Record], w: PageWrite) -> list[tuple[Record, Link, str | None]]:
        """Find or create the index row of each record: by id, by a pending create, or by match key.

        Returns (record, row, duplicate-of) triples; duplicates get their own excluded row.
        """
        name = self.cfg.name
        other = side.other
        existing = self.store.links_by_record(name, side, [r.id for r in records])
        keys = {r.id: self._keys(r, side) for r in records if r.id not in existing and not r.archived}
        wanted = [k for ks in keys.values() for k in ks]
        own = self.store.key_owners(name, side, wanted)
        theirs = self.store.key_owners(name, other, wanted)
        rows = self.store.links_by_id(list(set(own.values()) | set(theirs.values())))
        local: dict[str, Link] = {}
        claimed: set[str] = set()  # rows paired with a record of this page already
        out: list[tuple[Record, Link, str | None]] = []
        for rec in records:
            link = existing.get(rec.id)
            if link is not None:
                w.touch(link)
                if link.reason == ExcludedReason.DUPLICATE and link.id_of(other) is None and not rec.archived:
                    # A duplicate read again (a change, a look-back window): it stays excluded
                    # and is never created in the other app.
                    self.counters.exclude(ExcludedReason.DUPLICATE)
                    out.append((rec, link, link.message or "duplicate"))
                    continue
                out.append((rec, link, None))
                continue
            if rec.archived:
                continue  # a delete of a record the index never saw: nothing to do
            ks = keys[rec.id]
            owner = next((local[k] for k in ks if k in local), None) or next(
                (rows[own[k]] for k in ks if k in own and own[k] in rows), None)
            if owner is not None and owner.id_of(side) is None and owner.pending == side.value:
                owner.set_id(side, rec.id)
                owner.pending = None
                w.touch(owner)
                out.append((rec, owner, None))
                continue
            if owner is not None and owner.id_of(side) not in (None, rec.id):
                dup = Link(name, label=self._label(rec, side))
                dup.set_id(side, rec.id)
                dup.set_status(Status.EXCLUDED, ExcludedReason.DUPLICATE,
                               message=f"same match key as {owner.id_of(side)}, which syncs instead")
                w.add(dup)
                self.counters.exclude(ExcludedReason.DUPLICATE)
                out.append((rec, dup, owner.id_of(side)))
                continue
            match = next((rows[theirs[k]] for k in ks if k in theirs and theirs[k] in rows
                          and rows[theirs[k]].id_of(side) is None
                          and rows[theirs[k]].reason != ExcludedReason.DUPLICATE
                          and theirs[k] not in claimed), None)
            if match is not None:
                link = match
                claimed.add(link.id)
                link.set_id(side, rec.id)
                w.touch(link)
                self.counters.linked += 1
            else:
                link = Link(name, label=self._label(rec, side))
                link.set_id(side, rec.id)
                w.add(link)
            for k in ks:
                if k not in own:
                    local[k] = link
                    w.add_keys.append((side.value, k, link.id))
            out.append((rec, link, None))
        return out

    def _plan(self, link: Link, recs: dict[Side, Record | None]) -> _Item:
        spec = self._spec()
        if link.in_flight is not None and link.left_id is not None and link.right_id is not None:
            # Did the unconfirmed writes land? A value written that the app still holds did.
            _settle_in_flight(spec, link, lambda s, f, v: (rec := recs.get(s)) is not None and not rec.archived
                              and canon(rec.properties.get(f)) == canon(v))
        has_key = True
        if spec.require_match_key and not link.linked:
            src = recs[L] if recs[L] is not None else recs[R]
            side = L if recs[L] is not None else R
            has_key = src is None or src.archived or bool(self._keys(src, side))
        plan = plan_pair(spec, PairInput(
            left=recs[L], right=recs[R], left_base=link.left_base, right_base=link.right_base,
            linked=link.linked, in_list=self._in_list(recs), has_key=has_key))
        return _Item(link, plan, recs)

    # -- incremental pass ---------------------------------------------------------------
    async def _incremental_pass(self) -> None:
        spec = self._spec()
        name = self.cfg.name
        await self._load_members()
        for side in (L, R):
            cursor = self.store.cursor(name, side) or await self.conn[side].change_cursor(self.obj[side])
            self.progress.phase(f"{name}: changes in {self.obj[side]}")
            async for page in self.conn[side].changes(self.obj[side], cursor, spec.fields(side)):
                self.counters.read[side.value] += len(page.records)
                await self._process_changed(side, page.records, page.cursor)
                self.progress.advance(len(page.records))
        await self._rejoined()
        await self._retry_failing()

    async def _rejoined(self) -> None:
        """Records that joined the inclusion list since they were excluded start syncing again."""
        spec = self._spec()
        if spec.inclusion_side is None or not self.members:
            return
        side = spec.inclusion_side
        for chunk in self.store.iter_links(self.cfg.name, links_t.c.reason == ExcludedReason.NOT_IN_LIST.value):
            ids = [lk.id_of(side) for lk in chunk if lk.id_of(side) in self.members]
            if ids:
                recs = await self.conn[side].read(self.obj[side], [i for i in ids if i], spec.fields(side))
                await self._process_changed(side, recs, force=True)

    async def _retry_failing(self, limit: int = 500, max_attempts: int = 10) -> None:
        """Failed writes are retried a bounded number of times (HubSpot–Salesforce retries 10 times)."""
        cond = and_(links_t.c.status == Status.FAILING.value, links_t.c.category != ErrorCategory.DELETED.value,
                    links_t.c.attempts < max_attempts)
        done = 0
        for chunk in self.store.iter_links(self.cfg.name, cond, chunk=100):
            for side in (L, R):
                ids = [lk.id_of(side) for lk in chunk if lk.id_of(side)]
                if ids:
                    recs = await self.conn[side].read(self.obj[side], [i for i in ids if i], self._spec().fields(side))
                    await self._process_changed(side, recs, force=True)
                    break
            done += len(chunk)
            if done >= limit:
                return

    async def _process_changed(self, side: Side, records: Sequence[Record], cursor: str | None = None,
                               *, force: bool = False) -> None:
        """Sync records of ``side`` that changed: pair them, read the other side, plan, write."""
        async with self._pair_locks(side, records):
            await self._process_changed_records(side, records, cursor, force=force)

    async def _process_changed_records(self, side: Side, records: Sequence[Record], cursor: str | None = None,
                                       *, force: bool = False) -> None:
        spec = self._spec()
        other = side.other
        w = PageWrite()
        paired = self._pair(side, records, w)
        todo: list[tuple[Record, Link]] = []
        for rec, link, dup_of in paired:
            if dup_of is not None:
                continue
            if (not force and link.linked and not rec.archived and link.status == Status.SYNCING
                    and link.in_flight is None and self._unchanged(rec, side, link)):
                # Echo of the engine's own write, or a change to unmapped fields only.
                self.counters.unchanged += 1
                continue
            todo.append((rec, link))
        # Current values of the other side: linked records are read in one batch.
        other_ids = [lk.id_of(other) for _, lk in todo if lk.id_of(other) and not lk.deleted(other)]
        current = {r.id: r for r in await self.conn[other].read(self.obj[other], [i for i in other_ids if i],
                                                                 spec.fields(other))} if other_ids else {}
        # New records: look for an existing twin on the other side before creating one.
        unmatched = [(rec, lk) for rec, lk in todo if lk.id_of(other) is None and not rec.archived]
        found = await self._find_twins(side, unmatched, w) if unmatched and spec.match else {}
        current.update(found)
        items = []
        for rec, link in todo:
            oid = link.id_of(other)
            orec: Record | None = None
            if oid is not None:
                orec = current.get(oid) or _tombstone(oid)
            recs = {side: rec, other: orec}
            items.append(self._plan(link, recs))
        await self._apply(items, w, (side, cursor) if cursor else None)

    def _unchanged(self, rec: Record, side: Side, link: Link) -> bool:
        base = link.base(side) or {}
        props = rec.properties
        return all(canon(props.get(f)) == canon(base.get(k)) for f, k in self._spec().based(side))

    async def _find_twins(self, side: Side, unmatched: list[tuple[Record, Link]], w: PageWrite) -> dict[str, Record]:
        """Incremental creates: a record the other app has but the index has not seen yet is linked, not duplicated."""
        spec = self._spec()
        other = side.other
        key = spec.match[0]
        values = [canon(rec.properties.get(key.field(side.value))) for rec, _ in unmatched]
        values = [v for v in values if v is not None]
        if not values:
            return {}
        found = await self.conn[other].find(self.obj[other], key.field(other.value), values, spec.fields(other))
        known = self.store.links_by_record(self.cfg.name, other, [r.id for r in found])
        by_key: dict[str, Record] = {}
        for r in found:
            if r.id in known:
                continue
            for k in self._keys(r, other):
                by_key.setdefault(k, r)
        out: dict[str, Record] = {}
        for rec, link in unmatched:
            twin = next((by_key[k] for k in self._keys(rec, side) if k in by_key), None)
            if twin is not None and twin.id not in out:
                link.set_id(other, twin.id)
                link.pending = None
                w.touch(link)
                out[twin.id] = twin
                self.counters.linked += 1
        return out

    # -- carrying out plans ---------------------------------------------------------------
    async def _apply(self, items: list[_Item], w: PageWrite, cursor: tuple[Side, str] | None = None) -> None:
        creates: dict[Side, list[_Item]] = {L: [], R: []}
        updates: dict[Side, list[_Item]] = {L: [], R: []}
        archives: dict[Side, list[_Item]] = {L: [], R: []}
        writing: list[_Item] = []
        if self._touched is not None:
            self._touched.update(it.link.id for it in items)
        for it in items:
            link, plan = it.link, it.plan
            if not plan.writes:
                link.snapshot = None  # only needed until the pair is planned: keeps index rows small
            if not plan.writes or link.id in w.new:
                w.touch(link)
            if plan.deleted is not None:
                link.set_deleted(plan.deleted, True)
            self.counters.conflicts += plan.conflicts
            if plan.status == Status.EXCLUDED and plan.reason:
                self.counters.exclude(plan.reason)
            if not plan.writes:
                link.set_status(plan.status, plan.reason, plan.category, plan.message, plan.hint)
                if plan.status == Status.SYNCING and plan.left_base is not None:
                    link.left_base, link.right_base = plan.left_base, plan.right_base
                    self.counters.unchanged += 1
                continue
            writing.append(it)
            if plan.create:
                creates[plan.create].append(it)
            for s in (L, R):
                if plan.update[s]:
                    updates[s].append(it)
            if plan.archive:
                archives[plan.archive].append(it)
        if writing:
            # Everything decided so far is saved with the create intents and the bases the
            # writes will set, before anything is sent: if the pass dies between a write and
            # the final save, the next plan of the pair settles what landed (_settle_in_flight).
            if creates[L] or creates[R]:
                self._record_intents(creates, w)
            for it in writing:
                it.link.in_flight = _in_flight(it.plan)
                if it.link.id not in w.new:
                    w.pending[it.link.id] = it.link
            self.store.save(self.cfg.name, w)
            w = PageWrite()
        failed: dict[str, set[Side]] = {}
        for s in (L, R):
            if creates[s]:
                results = await self._batched(s, "create", [it.plan.create_props for it in creates[s]])
                for it, res in zip(creates[s], results, strict=True):
                    self._after_create(it, s, res, w, failed)
            if updates[s]:
                results = await self._batched(s, "update", [(str(it.link.id_of(s)), it.plan.update[s]) for it in updates[s]])
                for it, res in zip(updates[s], results, strict=True):
                    self._after_write(it, s, res, failed)
            if archives[s]:
                results = await self._batched(s, "archive", [str(it.link.id_of(s)) for it in archives[s]])
                for it, res in zip(archives[s], results, strict=True):
                    if res.ok:
                        it.link.set_deleted(s, True)
                        self.counters.archived[s.value] += 1
                    else:
                        self._fail(it, s, res, failed)
        for it in writing:
            link, plan = it.link, it.plan
            # kept through the save before the writes: a scan step resumed after a crash
            # replans the pair from it (and settles what landed)
            link.snapshot = None
            w.touch(link)
            if link.id in failed:
                # Per mapping, writes to the sides that succeeded are synced (both bases move)
                # and the others not: a base moved on one side only would turn a later edit
                # of the field there into a conflict.
                link.attempts += 1
                _settle_in_flight(self._spec(), link, _landed_unless(failed[link.id]))
                continue
            link.set_status(plan.status, plan.reason, plan.category, plan.message, plan.hint)
            link.attempts = 0
            link.in_flight = None
            if plan.status == Status.SYNCING:
                for s in (L, R):
                    self._set_base(it, s)
        self.store.save(self.cfg.name, w, cursor)

    def _set_base(self, it: _Item, side: Side) -> None:
        link, base = it.link, it.plan.base(side)
        written = it.stored.get(side)
        if base is not None and written is not None:
            # The app may normalise what we wrote (case, formats): its stored value is the base.
            stored = written.properties
            base = {**base, **{k: canon(stored[f]) for f, k in self._spec().based(side) if f in stored}}
        if side is L:
            link.left_base = base
        else:
            link.right_base = base

    def _record_intents(self, creates: dict[Side, list[_Item]], w: PageWrite) -> None:
        """Commit "about to create on side S" with the record's keys, before sending the create."""
        name = self.cfg.name
        for s, items in creates.items():
            if not items:
                continue
            src_side = s.other
            wanted = {it.link.id: self._keys(rec, src_side) for it in items if (rec := it.records[src_side]) is not None}
            owned = self.store.key_owners(name, s, [k for ks in wanted.values() for k in ks])
            taken = set(owned) | {k for side_, k, _ in w.add_keys if side_ == s.value}
            for it in items:
                it.link.pending = s.value
                for k in wanted.get(it.link.id, []):
                    if k not in taken:
                        w.add_keys.append((s.value, k, it.link.id))
                        it.intent_keys.append(k)
                        taken.add(k)
                if it.link.id not in w.new:
                    w.pending[it.link.id] = it.link

    async def _batched(self, side: Side, op: str, payload: list[Any]) -> list[WriteResult]:
        conn = self.conn[side]
        out: list[WriteResult] = []
        for i in range(0, len(payload), conn.batch_size):
            chunk = payload[i:i + conn.batch_size]
            res = await (self._create(side, chunk) if op == "create" else getattr(conn, op)(self.obj[side], chunk))
            if len(res) != len(chunk):
                raise ConnectorError(f"{conn.name}: {op} returned {len(res)} results for {len(chunk)} records")
            out.extend(res)
        return out

    async def _create(self, side: Side, chunk: list[dict[str, Any]], tries: int = 5) -> list[WriteResult]:
        """Create records; when the app's answer was lost (WriteOutcomeUnknown) the records
        are looked up by match key and only the ones not there are sent again, so a create
        is carried out once. (Records without a match key cannot be checked: sent again.)"""
        results: list[WriteResult | None] = [None] * len(chunk)
        todo = list(range(len(chunk)))
        for attempt in range(tries):
            try:
                res = await self.conn[side].create(self.obj[side], [chunk[i] for i in todo])
            except WriteOutcomeUnknown as e:
                if attempt == tries - 1:
                    raise
                log.warning("sync %s: %s; looking the records up before sending them again", self.cfg.name, e)
                there = await self._created(side, [chunk[i] for i in todo])
                for i, rec in zip(todo, there, strict=True):
                    if rec is not None:
                        results[i] = WriteResult.success(rec.id, rec)
                todo = [i for i in todo if results[i] is None]
                if not todo:
                    break
                continue
            if len(res) != len(todo):
                break  # reported by _batched
            for i, r in zip(todo, res, strict=True):
                results[i] = r
            break
        return [r for r in results if r is not None]

    async def _created(self, side: Side, items: list[dict[str, Any]]) -> list[Record | None]:
        """The record each create would have made, if the app has one with its match key that
        the index does not know yet."""
        spec = self._spec()
        found: dict[str, list[Record]] = {}
        for key in spec.match:
            f = key.field(side.value)
            values = list(dict.fromkeys(v for p in items if (v := canon(p.get(f))) is not None))
            if values:
                for r in await self.conn[side].find(self.obj[side], f, values, spec.fields(side)):
                    for k in self._keys(r, side):
                        found.setdefault(k, []).append(r)
        known = self.store.links_by_record(self.cfg.name, side, [r.id for rs in found.values() for r in rs])
        used: set[str] = set()
        out: list[Record | None] = []
        for props in items:
            rec = next((r for k in self._keys(Record("", props), side) for r in found.get(k, [])
                        if r.id not in known and r.id not in used), None)
            if rec is not None:
                used.add(rec.id)
            out.append(rec)
        return out

    def _after_create(self, it: _Item, s: Side, res: WriteResult, w: PageWrite, failed: dict[str, set[Side]]) -> None:
        link = it.link
        link.pending = None
        if res.ok and res.id:
            link.set_id(s, res.id)
            it.stored[s] = res.record
            self.counters.created[s.value] += 1
        else:
            # The intent's keys must not block a later create or match.
            w.drop_keys.extend((s.value, k) for k in it.intent_keys)
            self._fail(it, s, res, failed)

    def _after_write(self, it: _Item, s: Side, res: WriteResult, failed: dict[str, set[Side]]) -> None:
        if res.ok:
            it.stored[s] = res.record
            self.counters.updated[s.value] += 1
        else:
            self._fail(it, s, res, failed)

    def _fail(self, it: _Item, s: Side, res: WriteResult, failed: dict[str, set[Side]]) -> None:
        err = res.error
        self.counters.failed[s.value] += 1
        failed.setdefault(it.link.id, set()).add(s)
        it.link.set_status(
            Status.FAILING,
            category=(err.category.value if err else ErrorCategory.UNKNOWN.value),
            message=(err.message if err else "the app rejected the write"),
            hint=(err.hint if err else None) or None,
        )

    # -- resync deleted -------------------------------------------------------------------
    async def deleted_preview(self, deleted_in: Side) -> list[Link]:
        out: list[Link] = []
        for chunk in self.store.deleted_links(self.cfg.name, deleted_in):
            out.extend(chunk)
        return out

    async def resync_deleted(self, deleted_in: Side) -> PassResult:
        """Recreate, in ``deleted_in``, the records deleted there from their twins in the other app."""
        if self.spec is None:
            await self.prepare()
        spec = self._spec()
        other = deleted_in.other

        async def body() -> None:
            for chunk in self.store.deleted_links(self.cfg.name, deleted_in):
                ids = [str(lk.id_of(other)) for lk in chunk]
                recs = {r.id: r for r in await self.conn[other].read(self.obj[other], ids, spec.fields(other))}
                w = PageWrite()
                items = []
                for link in chunk:
                    rec = recs.get(str(link.id_of(other)))
                    if rec is None or rec.archived:
                        continue
                    link.set_id(deleted_in, None)
                    link.set_deleted(deleted_in, False)
                    link.left_base = link.right_base = link.in_flight = None
                    items.append(self._plan(link, {other: rec, deleted_in: None}))
                await self._apply(items, w)

        return await self._tracked("resync", body)
