"""The activities: each runs part of a pass with the embedded mode's SyncRunner, in a worker.

Every activity holds its sync's :class:`~accord.index.locks.SyncLease` while it works (so an
attempt Temporal gave up on can never overlap its retry) and gives its runner
:class:`~accord.index.locks.PairLocks`. A background task heartbeats every third of the
heartbeat timeout with the latest checkpoint, so liveness does not depend on page times; a
killed worker's activity is retried on another worker after the last page committed in the
index (each scan page's cursor and counters are saved with the page: SyncRunner.track_pages).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from accord.config import Config, ConfigError
from accord.connectors.base import Connector
from accord.distributed import require_postgres
from accord.distributed.limits import share_limits
from accord.distributed.types import (
    BeginPass,
    FailedPass,
    PassPlan,
    PassSummary,
    RecordsJob,
    ScanJob,
    ScanProgress,
)
from accord.engine.mapping import SyncSpec
from accord.index import Store
from accord.index.leases import SyncLease
from accord.index.locks import PairLocks
from accord.index.sync_state import sync_enabled
from accord.model import AuthError, ContainerMissing, Counters, DeletesHeld, ResyncRequired, Side, error_text
from accord.runner import PassResult, ScanState, SyncRunner
from accord.runner.manual import ActivityId
from accord.session import Session

log = logging.getLogger("accord.distributed")


# Pages a connector may read ahead of what a scan step handles (beyond the one page the scan
# itself fetches while it handles the last): none, so a failover re-reads at most two pages.
# ACCORD_STEP_READ_AHEAD overrides it, for bench/scale.py to measure what the choice costs.
STEP_READ_AHEAD = int(os.environ.get("ACCORD_STEP_READ_AHEAD", "0"))
PENDING_EVERY = 0.5  # seconds between two looks of a scan step at the webhook records waiting in the index


class _Beat:
    """The runner's Progress inside an activity: remembers what to heartbeat."""

    def __init__(self) -> None:
        self.details: Any = None
        self.records = 0

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        self.records += n


class WorkerContext:
    """What one worker process shares between its activities: config, index, connectors, specs.

    The config is accord.yaml plus the apps and syncs made through the service's API (stored
    in the index; credentials opened with ``ACCORD_SECRET_KEY`` or the key file beside the
    config, as ``accord run`` does), re-read at the start of every pass.
    """

    def __init__(self, cfg: Config) -> None:
        require_postgres(cfg)
        self.file_cfg = cfg
        # A scan step ends every few seconds, or its worker dies, and drops what its scan read
        # ahead (the next step, maybe on another worker, reads on after the last page committed):
        # pages read ahead would be pages read twice.
        self.session = Session(cfg, read_ahead_cap=STEP_READ_AHEAD)
        self.specs: dict[str, SyncSpec] = {}
        self.vault = self._vault(cfg)
        self.cfg = cfg
        self.refresh()

    @staticmethod
    def _vault(cfg: Config) -> Any:
        from accord.vault import ENV, Vault, load_key

        key_file = Path(cfg.source).resolve().parent / "accord.key"
        if not os.environ.get(ENV) and not key_file.exists():
            return None  # no key: credentials stored through the API cannot be opened (logged when met)
        return Vault(load_key(key_file))

    def refresh(self) -> None:
        """Take up apps and syncs added, changed or removed through the service since the last look."""
        from accord.service.managed import Registry

        cfg = Registry(self.file_cfg, self.store, self.vault).current()
        changed = {a for a in self.cfg.apps if a not in cfg.apps or self.cfg.apps[a] != cfg.apps[a]}
        for a in changed:
            self.session.connectors.pop(a, None)  # its HTTP client closes with the session's others
        if cfg != self.cfg:
            self.specs.clear()
        self.cfg = self.session.cfg = cfg
        for app in cfg.apps:
            if app not in self.session.connectors:
                share_limits(self.store.engine, app, cfg.apps[app], self.session.connector(app))

    @property
    def store(self) -> Store:
        return self.session.store

    def connector(self, app: str) -> Connector:
        return self.session.connector(app)

    async def aclose(self) -> None:
        await self.session.aclose()


def _summary(res: PassResult) -> PassSummary:
    return PassSummary(res.sync, res.kind, res.run_id, res.counters.as_dict(), list(res.broken),
                       activities=res.activities)


def _app_error(e: BaseException) -> ApplicationError:
    """Errors no retry can fix (config, credentials) fail the activity at once."""
    return ApplicationError(str(e), type=type(e).__name__, non_retryable=True)


def _record_begin_failure(store: Store, job: BeginPass, state: Any, run_id: int | None, e: Exception) -> None:
    """A pass that failed before it began (schemas unreadable, an app unreachable, credentials
    refused) is a failed run in the history, with the error's type and hint, as in the embedded
    mode: once per pass (its first attempt), not once per retry. A run this attempt opened is closed."""
    cause = e.__cause__ if isinstance(e, ApplicationError) and isinstance(e.__cause__, Exception) else e
    hint = str(getattr(cause, "hint", "") or "")
    text = error_text(cause)
    if hint and "(hint:" not in text:
        text += f" (hint: {hint})"
    try:
        if run_id is not None:
            store.finish_run(run_id, "failed", Counters().as_dict(), text)
        elif activity.info().attempt == 1:
            kind = "initial" if state is None or not state.initial_done else "full" if job.full else "incremental"
            store.finish_run(store.begin_run(job.sync, kind), "failed", Counters().as_dict(), text)
    except Exception:  # the index is unavailable too: the worker's log has the error
        log.warning("sync %s: could not record the failed pass", job.sync, exc_info=True)


class SyncActivities:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._pending_checked: dict[str, float] = {}  # sync → when a scan step last looked at its pending records

    def all(self) -> list[Callable[..., Any]]:
        return [self.begin_pass, self.scan_step, self.finish_scan, self.incremental, self.sync_records,
                self.sync_activity, self.resync_deleted, self.fail_pass]

    @contextlib.asynccontextmanager
    async def _runner(self, sync: str, *, fresh_spec: bool = False,
                      details: Any = None) -> AsyncIterator[tuple[SyncRunner, _Beat]]:
        """A runner for ``sync`` holding the sync's lease, with pair locks; heartbeats ``details`` meanwhile."""
        if sync not in {s.name for s in self.ctx.cfg.syncs}:
            self.ctx.refresh()  # made through the service's API since this worker last looked
        if sync not in {s.name for s in self.ctx.cfg.syncs}:
            raise ApplicationError(f"no sync named {sync!r} in {self.ctx.cfg.source}", type="ConfigError",
                                   non_retryable=True)
        beat = _Beat()
        beat.details = details
        info = activity.info()
        period = (info.heartbeat_timeout or timedelta(seconds=30)).total_seconds() / 3

        async def heartbeat() -> None:
            while True:
                activity.heartbeat(beat.details)
                await asyncio.sleep(period)

        ticker = asyncio.ensure_future(heartbeat())
        lease = SyncLease(self.ctx.store.engine, sync)
        locks = PairLocks(self.ctx.store.engine, sync)
        try:
            await lease.acquire()
            # pages whose last save never ran (a process killed mid-page): their rows before
            # anything reads them (accord.index.links.LinkStore.replay_intents)
            self.ctx.store.replay_intents(sync, lease.fence)
            runner = self.ctx.session.runner(sync, progress=beat)
            runner.locks = locks
            runner.lease = lease  # its passes run under this activity's lease, and its saves are fenced by it
            try:
                if fresh_spec or sync not in self.ctx.specs:
                    self.ctx.specs[sync] = await runner.prepare()
                runner.spec = self.ctx.specs[sync]
                yield runner, beat
            except (ConfigError, AuthError, ContainerMissing, DeletesHeld) as e:
                raise _app_error(e) from e
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            locks.close()
            lease.close()

    # -- scan passes -------------------------------------------------------------------------
    @activity.defn(name="begin_pass")
    async def begin_pass(self, job: BeginPass) -> PassPlan:
        """A scan (initial, full, or after a config change) or an incremental pass? Starts a scan's run."""
        self.ctx.refresh()
        store = self.ctx.store
        state = store.sync_state(job.sync)
        configured = next((s.enabled for s in self.ctx.cfg.syncs if s.name == job.sync), True)
        if not sync_enabled(configured, state):
            return PassPlan("disabled")
        run_id: int | None = None
        try:
            async with self._runner(job.sync, fresh_spec=True) as (runner, _):
                cfg = runner.cfg
                state = runner.register()
                if state.initial_done and not job.full:
                    return PassPlan("incremental")
                kind = "full" if state.initial_done else "initial"
                await runner.open_pass()  # a list, group or table gone stops the pass before it starts
                run_id = runner.pass_id = store.begin_run(cfg.name, kind)
                scan = await runner.begin_scan()
                return PassPlan("scan", ScanProgress(runner.pass_id, kind, scan.as_dict(), Counters().as_dict()))
        except Exception as e:
            _record_begin_failure(store, job, state, run_id, e)
            raise

    @activity.defn(name="scan_step")
    async def scan_step(self, job: ScanJob) -> ScanProgress:
        """Pages of the scan's current phase, for about ``step_seconds``.

        Each page's cursor and counters are committed with the page (SyncRunner.track_pages): a
        step resumed on any worker, at any attempt, starts after the last page committed —
        Temporal throttles heartbeats, so the last heartbeat may be many pages behind."""
        info = activity.info()
        progress = job.scan
        resumed = progress.failed or info.attempt > 1
        if info.heartbeat_details and info.heartbeat_details[0]:
            progress = ScanProgress(**info.heartbeat_details[0])  # how far the previous attempt got
        async with self._runner(job.sync, details=asdict(progress)) as (runner, beat):
            state = ScanState.from_dict(progress.state)
            await runner.resume_scan(state)  # from the page committed last, as the index has it
            if resumed:
                log.info("sync %s: resuming the %s pass in phase %s after cursor %s (attempt %d)",
                         job.sync, progress.kind, state.phase, state.cursor, info.attempt)
            # one committed page is one page read: a failover re-reads at most the page in progress
            runner.merge_pages_up_to = 0
            runner.counters = Counters()  # the run's counters are its committed pages' (Store.run_counters)
            runner.track_pages()
            if resumed:
                # the attempt before may have died between sending creates and saving their ids
                await runner.recover_in_flight(state)

            def checkpoint(st: ScanState) -> None:
                beat.details = asdict(ScanProgress(progress.run_id, progress.kind, st.as_dict(),
                                                   runner.counters.as_dict(), resumed))
                activity.heartbeat(beat.details)

            deadline = time.monotonic() + job.step_seconds
            # webhook records the service left in the index are synced between the pages, as
            # `accord run` does: the workflow's own queue waits for the whole scan
            runner.ctx.scanning = True
            runner.ctx.on_page = functools.partial(self._drain_pending, runner, job.sync)
            try:
                # a step also ends at the next page when the worker is shutting down (SIGTERM)
                await runner.scan_steps(state, stop=lambda: time.monotonic() >= deadline or activity.is_worker_shutdown(),
                                        checkpoint=checkpoint, single_phase=True)
            finally:
                runner.ctx.scanning, runner.ctx.on_page = False, None
            return ScanProgress(progress.run_id, progress.kind, state.as_dict(),
                                self.ctx.store.run_counters(progress.run_id))

    async def _drain_pending(self, runner: SyncRunner, sync: str) -> None:
        """Between two pages of a scan step: sync the webhook records waiting in the index (the
        service puts them there too when it signals the workflow), at most every PENDING_EVERY s."""
        now = time.monotonic()
        if now - self._pending_checked.get(sync, 0.0) < PENDING_EVERY:
            return
        self._pending_checked[sync] = now
        await runner.sync_pending_between_pages()

    @activity.defn(name="finish_scan")
    async def finish_scan(self, job: ScanJob) -> PassSummary:
        """Drop vanished records, store the cursors taken at the start, sync associations, close the run."""
        async with self._runner(job.sync) as (runner, _):
            state = ScanState.from_dict(job.scan.state)
            await runner.resume_scan(state)
            # counted page by page like the steps': the run's counters sum every attempt's
            ledger = runner.track_pages()
            runner.finish_scan(state)
            try:
                await runner.settle_deletes()
            except DeletesHeld as e:
                # the scan is over; its deletes wait for a confirmation (the run says why). As in
                # the embedded pass, its associations and activities are synced all the same,
                # and its event sync waits for a pass that ends well.
                await runner.associate_all()
                acts = await runner.sync_activities(full=True)
                counters = self.ctx.store.close_run(job.scan.run_id, "failed", ledger, f"DeletesHeld: {e}")
                return PassSummary(job.sync, job.scan.kind, job.scan.run_id, counters, activities=acts)
            await runner.associate_all()
            # what the embedded pass ends with, in its order: HubSpot activities to Salesforce,
            # then the app's events to HubSpot's timeline (each only if the sync has them). Both
            # run under this activity's lease; a retry of this step redoes them without writing
            # twice (activity creates are looked up first, timeline events have derived ids).
            acts = await runner.sync_activities(full=True)
            await runner.sync_events()  # its counts are the run's (ctx.counters.events), saved by close_run
            counters = self.ctx.store.close_run(job.scan.run_id, "ok", ledger)
            return PassSummary(job.sync, job.scan.kind, job.scan.run_id, counters,
                               [b.path for b in runner.spec.broken] if runner.spec else [], activities=acts)

    @activity.defn(name="fail_pass")
    async def fail_pass(self, job: FailedPass) -> PassSummary:
        # what the pass's committed pages counted (the workflow's copy may lag a dead step's pages)
        counters = self.ctx.store.close_run(job.run_id, "failed", None, job.error)
        return PassSummary("", "failed", job.run_id, counters)

    # -- incremental passes and record batches ---------------------------------------------------
    @activity.defn(name="incremental")
    async def incremental(self, sync: str) -> PassSummary:
        async with self._runner(sync) as (runner, _):
            try:
                return _summary(await runner.incremental())
            except ResyncRequired as e:
                log.warning("sync %s: %s; a full pass follows", sync, e)
                return PassSummary(sync, "incremental", resync=True)

    @activity.defn(name="sync_records")
    async def sync_records(self, job: RecordsJob) -> PassSummary:
        async with self._runner(job.sync) as (runner, _):
            res = _summary(await runner.sync_records(Side(job.side), job.ids, resend=job.resend))
            self.ctx.store.drop_pending(job.sync, Side(job.side), job.ids)  # synced: no scan step need look again
            return res

    @activity.defn(name="sync_activity")
    async def sync_activity(self, job: RecordsJob) -> PassSummary:
        """A person's "sync this activity now": one HubSpot activity (type ``job.side``) of the sync."""
        async with self._runner(job.sync) as (runner, _):
            return _summary(await runner.sync_activity(ActivityId(job.side, job.ids[0])))

    @activity.defn(name="resync_deleted")
    async def resync_deleted(self, job: RecordsJob) -> PassSummary:
        async with self._runner(job.sync) as (runner, _):
            return _summary(await runner.resync_deleted(Side(job.side)))
