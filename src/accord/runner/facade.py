"""SyncRunner: the entry points of a sync's passes, over the phase modules.

It owns the sync's :class:`RunContext` and hands it to the phases (scan, incremental,
apply); its attributes ``cfg``, ``store``, ``spec``, ``counters``, ``pass_id``, ``locks``
and ``associations`` are the context's, so callers that set them (the distributed
activities, the service) set them for the phases too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from accord import catalog
from accord.associations import AssociationTarget
from accord.config import ConfigError, SyncConfig, config_hash, sync_sides
from accord.connectors.base import Connector, account_or_none
from accord.engine.mapping import BrokenMapping, SyncSpec, compile_sync
from accord.index.holds import NotConfirmable
from accord.index.leases import LeaseLost, SyncLease
from accord.index.runs import PageLedger
from accord.index.store import Link, Store, SyncState
from accord.model import ContainerMissing, Counters, ResyncRequired, Side, error_text
from accord.runner.activities import sides as activity_sides
from accord.runner.activities import sync_activities
from accord.runner.activities import sync_ids as sync_activity_ids
from accord.runner.apply import associate, owe_associations, rewind_cursors
from accord.runner.collector import fewer_collections
from accord.runner.context import NoProgress, PageLocks, Progress, RunContext
from accord.runner.deletes import container_gone, open_pass, settle_deletes
from accord.runner.events import after_pass as events_after_pass
from accord.runner.incremental import (
    ManualSyncRefused,
    incremental_pass,
    list_member_ids,
    locate_record,
    resync_deleted,
    sync_between_pages,
    sync_records,
)
from accord.runner.index_guard import index_issue
from accord.runner.manual import ActivityId, find_activity, named_activity, typed
from accord.runner.pairing import load_members
from accord.runner.scan import (
    ScanState,
    begin_scan,
    finish_scan,
    recover_in_flight,
    resume_at_mark,
    scan_steps,
)
from accord.runner.stages import StageCopy, resolve_stages

log = logging.getLogger("accord.runner")

STOPPED = "stopped; the next pass resumes from the last saved page"

L, R = Side.LEFT, Side.RIGHT


@dataclass
class PassResult:
    sync: str
    kind: str
    counters: Counters
    run_id: int | None = None
    broken: list[str] = field(default_factory=list)
    confirmed: dict[str, Any] | None = None  # the hold this pass confirmed (run(confirm_deletes=True))
    # per activity type, what the pass did with HubSpot activities (accord.runner.activities);
    # None: the sync copies none
    activities: dict[str, dict[str, int]] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"sync": self.sync, "kind": self.kind, "run_id": self.run_id, "broken_mappings": self.broken,
               **self.counters.as_dict()}
        if self.confirmed is not None:
            out["confirmed_deletes"] = self.confirmed
        if self.activities is not None:
            out["activities"] = self.activities
        return out


# passes that read both apps from their change cursors or in full: they check the containers
# (lists, groups, tables) first; a batch of webhook records or a resync does not
_OPENED = frozenset({"initial", "full", "incremental"})


class SyncRunner:
    scan_chunk = 1000  # index rows per batch of phase 3
    merge_pages_up_to = 500  # records: left pages already read are indexed and synced together
    # records: the most phase 1 gathers into one write group (scan.write_group), which bounds
    # its memory (a group holds ~5 KB of Python objects per record: ~310 MB of peak RSS at
    # 25,000, ~520 MB at 50,000, too much for a small container); with Salesforce's Bulk API
    # on, a group is one ingest job of this many
    write_group_max = 25_000

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
        lease_wait: float | None = None,
        activity_targets: Sequence[AssociationTarget] | None = None,
    ) -> None:
        self.ctx = RunContext(cfg, store, {L: left, R: right}, {L: cfg.left.connector_object(), R: cfg.right.connector_object()},
                              progress or NoProgress(), path, list(associations), locks)
        # the syncs of companies ↔ Account and deals ↔ Opportunity an activity's WhatId is
        # looked up through (default: the associated syncs)
        self.activity_targets = list(associations if activity_targets is None else activity_targets)
        self.activity_counts: dict[str, dict[str, int]] | None = None  # the last pass's (activities)
        # How long a pass waits for the sync's lease while another process runs one (None: as
        # long as it takes; 0: not at all, SyncBusy at once, as the service's scheduled jobs do)
        self.lease_wait = lease_wait
        self.stage_copy: StageCopy | None = None  # stages `stages: auto` added (or would add) at prepare()
        # the accounts the apps' credentials sign in to, by side, read at prepare() (index_guard)
        self.accounts: dict[str, str | None] = {}
        self.confirmed: dict[str, Any] | None = None  # what the last run(confirm_deletes=True) confirmed
        # the mappings the last prepare() skipped (spec.broken): kept while the spec is dropped
        # for a schema refresh, so the dashboard does not lose them between two passes
        self.broken: tuple[BrokenMapping, ...] = ()

    # -- the context's attributes, read and set by callers ------------------------------
    @property
    def cfg(self) -> SyncConfig:
        return self.ctx.cfg

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def spec(self) -> SyncSpec | None:
        return self.ctx.spec

    @spec.setter
    def spec(self, spec: SyncSpec | None) -> None:
        self.ctx.spec = spec

    @property
    def counters(self) -> Counters:
        return self.ctx.counters

    @counters.setter
    def counters(self, counters: Counters) -> None:
        self.ctx.counters = counters

    @property
    def pass_id(self) -> int:
        return self.ctx.pass_id

    @pass_id.setter
    def pass_id(self, pass_id: int) -> None:
        self.ctx.pass_id = pass_id

    @property
    def locks(self) -> PageLocks | None:
        return self.ctx.locks

    @locks.setter
    def locks(self, locks: PageLocks | None) -> None:
        self.ctx.locks = locks

    @property
    def lease(self) -> SyncLease | None:
        return self.ctx.lease

    @lease.setter
    def lease(self, lease: SyncLease | None) -> None:
        """A lease the caller holds (a Temporal activity holds it across several calls)."""
        self.ctx.lease = lease

    @property
    def associations(self) -> list[AssociationTarget]:
        return self.ctx.associations

    @associations.setter
    def associations(self, associations: list[AssociationTarget]) -> None:
        self.ctx.associations = associations

    # -- set-up ----------------------------------------------------------------------
    async def prepare(self, *, write: bool = True) -> SyncSpec:
        """Describe both objects, resolve stage maps and compile the sync; fatal issues → ConfigError.

        With ``stages: auto`` where one app can add stages (xentral), the other app's stages its
        pipeline lacks are added here, before the pass (``stage_copy`` says which); ``write=False``
        (``accord check``, the API's validation) writes nothing to any app and only reports them.
        """
        ctx, cfg = self.ctx, self.ctx.cfg
        conn, obj = ctx.conn, ctx.obj
        ls, rs = await conn[L].describe(obj[L]), await conn[R].describe(obj[R])
        self.accounts = {side.value: await account_or_none(conn[side]) for side in (L, R)}
        stage_map, self.stage_copy = None, None
        if cfg.stages is not None or catalog.kind_of(conn[L].vendor, obj[L]) == "deal":
            try:
                stage_map, self.stage_copy = await resolve_stages(ctx, write=write, lease_wait=self.lease_wait)
            except NotImplementedError:
                stage_map = None
        spec, issues = compile_sync(cfg, conn[L].vendor, conn[R].vendor, ls, rs, stage_map, ctx.path)
        if issues:
            raise ConfigError(cfg.name, issues)
        if self.stage_copy is not None and self.stage_copy.problem is not None:
            # like a broken mapping: reported with each pass, the rest of the sync goes on
            spec = replace(spec, broken=(*spec.broken, BrokenMapping(f"{ctx.path}.stages", self.stage_copy.describe())))
        for b in spec.broken:
            if b.default:  # said once by `accord check`; at every pass it was noise on stderr
                log.info("sync %s: default mapping %s is not used: %s", cfg.name, b.path, b.reason)
            else:
                log.warning("sync %s: mapping %s is broken and skipped: %s", cfg.name, b.path, b.reason)
        ctx.spec = spec
        self.broken = spec.broken
        ctx.keys_memo.clear()  # keys depend on the spec's match rules
        return spec

    # -- entry points -------------------------------------------------------------------
    # (a name called without ``self.`` is the phase modules' function of that name)
    async def run(self, *, full: bool = False, confirm_deletes: bool = False) -> PassResult:
        """One pass: the initial sync if it never finished (or the config changed), else incremental.

        ``confirm_deletes``: first confirm the deletes the sync holds (accord.runner.deletes),
        under the sync's lease, so the confirmation covers exactly what is held then."""
        if self.ctx.spec is None:
            try:
                await self.prepare()
            except ContainerMissing as e:
                container_gone(self.ctx, e)  # e.g. an SQL table dropped: its schema cannot be read
                raise
        cfg = self.ctx.cfg
        state = self.register()
        if not state.initial_done or full:
            return await self._tracked("initial" if not state.initial_done else "full", self._scan_then_associate,
                                       confirm=confirm_deletes)
        try:
            return await self._tracked("incremental", self._incremental_then_associate, confirm=confirm_deletes)
        except ResyncRequired as e:
            # The change feed lost track (e.g. a purged delete log): re-scan against the index.
            log.warning("sync %s: %s; running a full pass", cfg.name, e)
            return await self._tracked("full", self._scan_then_associate)

    def register(self) -> SyncState:
        """Register the sync in the index (a changed config restarts its initial sync) and
        bring bases an older index keyed by field name up to date; call after prepare()."""
        cfg = self.ctx.cfg
        if (issue := index_issue(self.ctx.store, cfg, self.ctx.path, self.accounts)) is not None:
            raise ConfigError(cfg.name, [issue])  # renamed, sides changed, another account
        state = self.ctx.store.ensure_sync(cfg.name, config_hash(cfg), True, sync_sides(cfg))
        if any(self.accounts.values()):
            self.ctx.store.record_accounts(cfg.name, self.accounts)
        if not state.bases_keyed:
            # An index from before bases were keyed by mapping, under an unchanged config: its
            # field-name bases belong to today's mappings and are re-keyed once, so an upgrade
            # keeps every pair's three-way merge (a clear or an edit since the last pass still
            # counts as one).
            spec = self.ctx.require_spec()
            n = self.ctx.store.rekey_bases(cfg.name, {s: dict(spec.based(s)) for s in (Side.LEFT, Side.RIGHT)})
            self.ctx.store.set_bases_keyed(cfg.name)
            log.info("sync %s: %d pairs' bases re-keyed by mapping", cfg.name, n)
        return state

    async def incremental(self) -> PassResult:
        """One incremental pass of an initialised sync (:class:`ResyncRequired` propagates)."""
        if self.ctx.spec is None:
            await self.prepare()
        return await self._tracked("incremental", self._incremental_then_associate)

    async def associate_all(self) -> None:
        """Associations of every linked pair (what a scan pass ends with)."""
        await associate(self.ctx, None)

    async def sync_activities(self, *, full: bool = True) -> dict[str, dict[str, int]] | None:
        """The sync's HubSpot activities to Salesforce (what a pass ends with, after the
        associations; accord.distributed's scan calls it in its last step)."""
        await self._activities(full=full)
        return self.activity_counts

    async def sync_events(self) -> None:
        """The event sync an opened pass ends with, if the sync has ``events: true``
        (accord.runner.events; accord.distributed's scan calls it in its last step)."""
        await events_after_pass(self.ctx)

    async def sync_records(self, side: Side, ids: Sequence[str], *, resend: bool = False,
                           kind: str = "records") -> PassResult:
        """Sync specific records now (webhook events; "resync this record" with ``resend``: a
        person asked, so a create whose outcome was unknown may be sent again), in batches of 100."""
        if self.ctx.spec is None:
            await self.prepare()

        async def body() -> None:
            many = kind != "records"
            if many:  # a whole list: its progress is shown like a pass's
                self.ctx.progress.phase(f"{self.ctx.cfg.name}: {kind} of {len(ids)} records", len(ids))
            for i in range(0, len(ids), 100):
                await sync_records(self.ctx, side, ids[i:i + 100], resend=resend)
                if many:
                    self.ctx.progress.advance(len(ids[i:i + 100]))

        return await self._tracked(kind, body)

    async def sync_between_pages(self, side: Side, ids: Sequence[str]) -> None:
        """Sync webhook records inside the running pass, from its ``on_page`` hook (it holds the
        lease; the records count in its run)."""
        await sync_between_pages(self.ctx, side, ids)

    async def sync_pending_between_pages(self, fatal: tuple[type[BaseException], ...] = ()) -> None:
        """Between two pages of the running pass: sync the webhook records waiting in the index
        (``pending_records``: another process received them) and forget those synced. A batch
        that fails is logged and stays pending (the change feed has the change too); LeaseLost
        and ``fatal`` end the pass."""
        store, name = self.ctx.store, self.cfg.name
        ends: tuple[type[BaseException], ...] = (LeaseLost, *fatal)
        try:
            waiting = store.pending(name)
        except Exception:  # the index is briefly unavailable: the next page looks again
            log.warning("sync %s: could not read the pending webhook records", name, exc_info=True)
            return
        for side, ids in waiting.items():
            for i in range(0, len(ids), 100):
                chunk = ids[i:i + 100]
                try:
                    await self.sync_between_pages(side, chunk)
                except ends:
                    raise
                except Exception:
                    log.warning("sync %s: %d webhook records not synced during the pass", name, len(chunk),
                                exc_info=True)
                    continue
                store.drop_pending(name, side, chunk)

    async def locate(self, record_id: str, side: Side | None = None) -> Side:
        """The app a record id belongs to (indexed or not); ManualSyncRefused if none or both."""
        if self.ctx.spec is None:
            await self.prepare()
        return await locate_record(self.ctx, record_id, side)

    async def list_members(self, list_name: str | None = None, side: Side | None = None) -> tuple[Side, str, list[str]]:
        """(side, list, member ids) of a list to sync by hand (default: the sync's inclusion list)."""
        if self.ctx.spec is None:
            await self.prepare()
        return await list_member_ids(self.ctx, list_name, side)

    async def resolve(self, record_id: str, side: Side | None = None) -> Side | ActivityId:
        """What a person's "sync this id now" names: a record of the sync (its app, as locate()
        finds it) or, in a sync with ``activities:``, one of its HubSpot activities: ``calls:123``
        outright, or a plain id no record of the sync has (accord.runner.manual).
        ManualSyncRefused if it names nothing of the sync."""
        if self.ctx.spec is None:
            await self.prepare()
        ctx = self.ctx
        kind_id = typed(ctx, record_id)
        if kind_id is not None:
            return await named_activity(ctx, *kind_id, side)
        try:
            return await self.locate(record_id, side)
        except ManualSyncRefused as e:
            if e.reason != "not_found" or not ctx.cfg.activities:
                raise
            found = await find_activity(ctx, record_id, ctx.cfg.activities, side)
            if found is None:
                raise ManualSyncRefused("not_found", f"{e}, nor a HubSpot activity of the sync "
                                                     f"({', '.join(ctx.cfg.activities)})") from e
            return found

    async def sync_record(self, record_id: str, side: Side | None = None) -> PassResult:
        """A person's "sync this record now", for a record indexed or not (created after the last
        pass), or for one of the sync's HubSpot activities (resolve())."""
        found = await self.resolve(record_id, side)
        if isinstance(found, ActivityId):
            return await self.sync_activity(found)
        return await self.sync_records(found, [record_id], resend=True)

    async def sync_activity(self, activity: ActivityId) -> PassResult:
        """Sync one HubSpot activity of the sync now (a failing one too, whatever its attempts), as
        a ``records`` run under the sync's lease; its counts are the result's ``activities``."""
        if self.ctx.spec is None:
            await self.prepare()

        async def body() -> None:
            counts = await sync_activity_ids(self.ctx, self.activity_targets, activity.kind, [activity.id])
            self.activity_counts = {activity.kind: counts}

        return await self._tracked("records", body)

    async def sync_list(self, list_name: str | None = None, side: Side | None = None) -> tuple[str, int, PassResult]:
        """Sync every member of a list now (default: the sync's inclusion list): (list, members, result)."""
        s, name, ids = await self.list_members(list_name, side)
        return name, len(ids), await self.sync_records(s, ids, resend=True, kind="list")

    async def deleted_preview(self, deleted_in: Side) -> list[Link]:
        out: list[Link] = []
        for chunk in self.ctx.store.deleted_links(self.ctx.cfg.name, deleted_in):
            out.extend(chunk)
        return out

    async def resync_deleted(self, deleted_in: Side) -> PassResult:
        """Recreate, in ``deleted_in``, the records deleted there from their twins in the other app."""
        if self.ctx.spec is None:
            await self.prepare()
        return await self._tracked("resync", lambda: resync_deleted(self.ctx, deleted_in))

    async def _scan_then_associate(self) -> None:
        self.ctx.scanning = True  # records synced between its pages are marked as this pass's
        try:
            state = await self.begin_scan()
            await self.scan_steps(state)
        finally:
            self.ctx.scanning = False
        before = {s: self.ctx.store.cursor(self.ctx.cfg.name, s) for s in (Side.LEFT, Side.RIGHT)}
        self.finish_scan(state)
        try:
            await associate(self.ctx, None)
        except BaseException:
            if self.ctx.associations:
                rewind_cursors(self.ctx, before)
            raise
        await self._activities(full=True)

    async def _activities(self, *, full: bool) -> None:
        """After the contacts: the sync's HubSpot activities to Salesforce (accord.runner.activities);
        a scan pass reads every activity again (pairs already made are updated, never made twice)."""
        ctx = self.ctx
        if not ctx.cfg.activities or not ctx.require_spec().writes_to(activity_sides(ctx)[1]):
            return  # e.g. a manual copy from Salesforce to HubSpot (Session.directed_pass)
        self.activity_counts = await sync_activities(ctx, self.activity_targets, full=full)

    async def _incremental_then_associate(self) -> None:
        ctx = self.ctx
        touched: set[str] = set()
        ctx.touched, ctx.failed_now = touched, set()
        try:
            await incremental_pass(ctx)
            await associate(ctx, touched)
        except BaseException:
            if ctx.associations:
                owe_associations(ctx, touched)
            raise
        finally:
            ctx.touched = ctx.failed_now = None
        await self._activities(full=False)

    async def _tracked(self, kind: str, body: Callable[[], Any], *, confirm: bool = False) -> PassResult:
        with fewer_collections():  # see accord.runner.collector
            return await self._tracked_pass(kind, body, confirm=confirm)

    async def _tracked_pass(self, kind: str, body: Callable[[], Any], *, confirm: bool) -> PassResult:
        """One pass under the sync's lease (taken here unless the caller holds it), in the run history.

        Deletes the pass finds are carried out at its end, or held (accord.runner.deletes)."""
        ctx = self.ctx
        own = None
        if ctx.lease is None or not ctx.lease.held:
            own = SyncLease(ctx.store.engine, ctx.cfg.name)
            await own.acquire(timeout=self.lease_wait)  # SyncBusy: another process runs a pass
            ctx.lease = own
        confirmed = None
        self.activity_counts = None
        try:
            # pages whose last save never ran (a process killed mid-page): their rows first
            ctx.store.replay_intents(ctx.cfg.name, ctx.fence)
            ctx.counters = Counters()
            run_id = ctx.store.begin_run(ctx.cfg.name, kind)
            ctx.pass_id = run_id
            try:
                confirmed = self.confirmed = self._confirm() if confirm else None
                if kind in _OPENED:
                    await open_pass(ctx)
                await body()
                await settle_deletes(ctx, quiet=kind not in _OPENED)
                if kind in _OPENED:  # event sync (``events: true``) follows the record pass
                    await events_after_pass(ctx)
            except (asyncio.CancelledError, KeyboardInterrupt):
                # Ctrl-C, a shutdown, a cancelled activity: not a failure. Every page was saved
                # with its cursor, so the next pass resumes from the last saved one.
                ctx.store.finish_run(run_id, "stopped", ctx.counters.as_dict(), STOPPED)
                raise
            except BaseException as e:
                if isinstance(e, ContainerMissing):
                    container_gone(ctx, e)
                ctx.store.finish_run(run_id, "failed", ctx.counters.as_dict(), error_text(e))
                raise
            ctx.store.finish_run(run_id, "ok", ctx.counters.as_dict())
        finally:
            if own is not None:
                own.release()
                ctx.lease = None
        return PassResult(ctx.cfg.name, kind, ctx.counters, run_id, [b.path for b in ctx.require_spec().broken],
                          confirmed, self.activity_counts)

    def _confirm(self) -> dict[str, Any] | None:
        """Confirm the held deletes (the caller holds the lease); None when nothing is held."""
        try:
            return self.ctx.store.confirm_deletes(self.ctx.cfg.name)
        except NotConfirmable as e:
            if self.ctx.store.deletes_hold(self.ctx.cfg.name) is not None:
                log.warning("sync %s: %s", self.ctx.cfg.name, e)
            return None

    # -- scan pass (initial / full), step by step (accord.distributed) ---------------------
    # each method calls the function of the same name in accord.runner.scan
    async def begin_scan(self) -> ScanState:
        """Start the scan pass ``self.pass_id``: take both change cursors and look at the right app."""
        return await begin_scan(self.ctx)

    async def resume_scan(self, state: ScanState) -> bool:
        """Take up a scan pass another runner (another process) began: its pass id, the inclusion list,
        and where it stands: after the page it committed last, if the index has a later one than
        ``state`` (moved in place; True if it moved)."""
        self.ctx.pass_id = state.pass_id
        await load_members(self.ctx)
        return resume_at_mark(self.ctx, state)

    def track_pages(self) -> PageLedger:
        """Keep this pass's counters, and its scan cursor, in the index page by page, in each
        page's transaction (a pass run in steps that may die: accord.index.runs.PageLedger).

        Counters from here on are counted from ``counters`` as they are now."""
        ctx = self.ctx
        ctx.ledger = PageLedger(ctx.cfg.name, ctx.pass_id, lambda: ctx.counters.as_dict())
        return ctx.ledger

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
        with fewer_collections():  # also when a distributed step runs it outside a tracked pass
            await scan_steps(self.ctx, state, stop or (lambda: False), checkpoint or (lambda s: None),
                             single_phase=single_phase, merge_up_to=self.merge_pages_up_to, chunk=self.scan_chunk,
                             group_max=self.write_group_max)
        return state

    def finish_scan(self, state: ScanState) -> None:
        """After the last phase: drop rows of vanished records, store the cursors, mark the sync initialised."""
        finish_scan(self.ctx, state)

    async def open_pass(self) -> None:
        """Before a scan a caller runs step by step (accord.distributed): the containers are there."""
        try:
            await open_pass(self.ctx)
        except ContainerMissing as e:
            container_gone(self.ctx, e)
            raise

    async def settle_deletes(self) -> None:
        """After such a scan: carry out the deletes it found, or hold them (DeletesHeld)."""
        await settle_deletes(self.ctx)

    async def recover_in_flight(self, state: ScanState) -> None:
        """Before resuming a scan a crashed worker left: settle the creates it may have sent."""
        await recover_in_flight(self.ctx, state)
