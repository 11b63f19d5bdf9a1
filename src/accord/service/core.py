"""The long-running service: scheduler, webhook queue, progress and metrics over one Session.

Rules (docs/service.md):
- every enabled sync runs an incremental pass every ``min(poll)`` of its two apps, and a
  full reconciliation every ``reconcile`` seconds (default one day);
- all jobs of one sync are serialised by a per-sync lock; a *scheduled* job that finds the
  previous one still running is skipped and logged (a job never overlaps itself);
- webhook record ids are queued per sync and side and synced by a per-sync worker within
  about ``webhook_delay`` seconds (events arriving together are batched);
- on shutdown no new job starts and a running pass stops after its current page/batch
  (the runner commits each page with its cursor, so the next pass resumes from there).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from accord import redact
from accord.config import Config, ConfigError, SyncConfig, config_hash, sync_sides
from accord.index.leases import LeaseLost, SyncBusy
from accord.index.sync_state import sync_enabled
from accord.model import AuthError, ConnectorError, ContainerMissing, DeletesHeld, Side, error_text
from accord.ordering import runs_after
from accord.runner import PassResult, SyncRunner
from accord.runner.manual import ActivityId
from accord.service.managed import Registry, secrets_of
from accord.service.metrics import Metrics
from accord.service.notify import Notifier
from accord.session import Session
from accord.vault import Vault

log = logging.getLogger("accord.service")

DAY = 86400.0


class StopRequested(Exception):
    """Raised between batches when the service is shutting down."""


class PassNotRequested(RuntimeError):
    """A pass asked for by hand could not be handed on (distributed mode: Temporal unreachable)."""


@dataclass
class ProgressState:
    """What the dashboard and ``/api/syncs/{name}/progress`` show for one sync."""

    running: bool = False
    kind: str | None = None
    phase: str | None = None
    done: int = 0
    phase_done: int = 0
    started: float | None = None
    phases: list[str] = field(default_factory=list)
    failed: bool = False  # the last pass stopped (an error, a hold): ``kind`` is then the run's, as recorded

    def as_dict(self) -> dict[str, Any]:
        elapsed = round(time.time() - self.started, 1) if self.running and self.started else None
        return {"running": self.running, "kind": self.kind, "phase": self.phase, "records": self.done,
                "phase_records": self.phase_done, "elapsed_seconds": elapsed, "phases": list(self.phases),
                "failed": self.failed}


class Tracker:
    """The runner's Progress: records phases and counts; stops a pass between batches on shutdown."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.state = ProgressState()
        self.cancelled = False  # set when the sync is edited or deleted: stop after this batch

    def phase(self, name: str, total: int | None = None) -> None:
        self._check()
        self.state.phase, self.state.phase_done = name, 0
        self.state.phases.append(name)

    def advance(self, n: int = 1) -> None:
        self.state.done += n
        self.state.phase_done += n
        self._check()

    def _check(self) -> None:
        if self.service.stopping:
            raise StopRequested("the service is shutting down")
        if self.cancelled:
            raise StopRequested("the sync was changed or deleted")


@dataclass
class SyncSlot:
    cfg: SyncConfig
    runner: SyncRunner
    tracker: Tracker
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queue: dict[Side, set[str]] = field(default_factory=lambda: {Side.LEFT: set(), Side.RIGHT: set()})
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    skipped: int = 0
    next_incremental: float = 0.0
    next_full: float = 0.0
    worker: asyncio.Task[Any] | None = None
    prepared_at: float = field(default_factory=time.monotonic)
    problem: dict[str, str] | None = None  # why the last job failed, while it stays so (problem_of)
    draining: bool = False  # a pass runs that syncs webhook records between its pages
    pending_checked: float = 0.0  # when that pass last looked for records pending in the index
    first_done: bool = False  # its first scheduled pass here has run, or was skipped (_first_waits)


READY_TIMEOUT = 3.0  # seconds a readiness check may take before it counts as failed


async def timed_check(probe: Awaitable[Any]) -> str:
    """``"ok"``, or why the probe failed or took longer than READY_TIMEOUT (scrubbed of secrets)."""
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT)
    except TimeoutError:
        return f"no answer within {READY_TIMEOUT:g} s"
    except Exception as e:  # any failure is "not ready": the probe reports it, it does not raise
        return redact.scrub(error_text(e))
    return "ok"


AUTH_HINT = "Check the app's credentials (Apps page › Test connection) and replace the one it refuses."


def problem_of(e: Exception) -> dict[str, str] | None:
    """What the dashboard shows of a failed job: an app that could not be used, by category
    (``auth``: the credentials were refused, renewing them included) and, for ``auth``, which
    credential to replace. None for other failures (the run history has them)."""
    if not isinstance(e, ConnectorError):
        return None
    out = {"category": e.kind, "message": redact.scrub(str(e)), "hint": "", "app": "", "at": f"{time.time():.3f}"}
    if isinstance(e, AuthError):
        out["app"] = e.app
        out["hint"] = redact.scrub(e.hint) or AUTH_HINT
    elif isinstance(e, ContainerMissing):  # a sync that never ran: no hold shows it, this does
        out["app"] = e.app
        out["hint"] = redact.scrub(e.hint)
    return out


class Service:
    def __init__(self, cfg: Config, session: Session | None = None, *, reconcile: float = DAY,
                 webhook_delay: float = 0.2, tick: float = 0.5, schedule: bool = True,
                 vault: Vault | None = None, schema_refresh: float = 3600.0) -> None:
        self.session = session or Session(cfg)
        self.store = self.session.store
        # accord.yaml plus the apps and syncs created through the API (stored in the index)
        self.registry = Registry(cfg, self.store, vault)
        self.cfg = self.session.cfg = self.registry.current()
        redact.register(v for a in self.cfg.apps.values() for v in secrets_of(a))
        self.reconcile = reconcile
        self.schema_refresh = schema_refresh
        self.webhook_delay = webhook_delay
        self.tick = tick
        self.schedule = schedule
        self.stopping = False
        self.metrics = Metrics(lambda: self.session.connectors, self._record_counts)
        self.notifier = Notifier(self.cfg.notifications, self.store)
        self.slots: dict[str, SyncSlot] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self.started = False
        for s in self.cfg.syncs:
            self._add_slot(s)

    def _add_slot(self, s: SyncConfig) -> SyncSlot:
        tracker = Tracker(self)
        # lease_wait=0: a pass another process is running (a second `accord run` or an
        # `accord sync` on the same index) is skipped here, never run beside it
        slot = self.slots[s.name] = SyncSlot(s, self.session.runner(s.name, progress=tracker, lease_wait=0), tracker)
        self.store.ensure_sync(s.name, config_hash(s), True, sync_sides(s))  # its configuration's off: sync_enabled
        self.notifier.watch(s.name)
        if self.started:
            self._start_slot(slot, time.monotonic())
        return slot

    def _start_slot(self, slot: SyncSlot, now: float) -> None:
        slot.next_incremental = now  # the first pass (initial if never done) starts right away
        slot.next_full = now + self.reconcile
        slot.worker = asyncio.create_task(self._webhook_worker(slot), name=f"webhooks-{slot.cfg.name}")
        self._tasks.append(slot.worker)

    # -- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        now = time.monotonic()
        self.started = True
        for slot in self.slots.values():
            self._start_slot(slot, now)
        if self.schedule:
            self._tasks.append(asyncio.create_task(self._scheduler(), name="scheduler"))

    async def stop(self, grace: float = 30.0) -> None:
        """No new jobs; running passes stop after their current batch (or after ``grace`` seconds)."""
        self.stopping = True
        for slot in self.slots.values():
            slot.wake.set()
        busy = [s.lock for s in self.slots.values() if s.lock.locked()]
        deadline = time.monotonic() + grace
        while any(lk.locked() for lk in busy) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        with contextlib.suppress(TimeoutError):  # messages on their way (a few seconds at most)
            await asyncio.wait_for(self.notifier.drain(), 10)
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.session.aclose()

    # -- configuration changes (syncs and apps made through the API) ---------------------
    async def reload(self, cfg: Config, restart: set[str] | frozenset[str] = frozenset(), *,
                     forget: bool = True) -> None:
        """Switch to ``cfg``: add new syncs, rebuild changed ones, drop removed ones.

        A changed sync (or one named in ``restart``) stops after its current batch, gets a
        new runner and starts its initial sync again; a removed one loses its index rows
        (unless ``forget=False``: a sync taken out of accord.yaml keeps them, as after a restart).
        """
        old = self.cfg
        redact.register(v for a in cfg.apps.values() for v in secrets_of(a))
        self.notifier.configure(cfg.notifications)
        changed_apps = {a for a in old.apps if a not in cfg.apps or old.apps[a] != cfg.apps[a]}
        self.cfg = self.session.cfg = cfg
        stale = [self.session.connectors.pop(a) for a in changed_apps if a in self.session.connectors]
        wanted = {s.name: s for s in cfg.syncs}
        for name in [n for n in self.slots if n not in wanted]:
            await self._drop_slot(name)
            if forget:
                self.store.delete_sync(name)
        for name, s in wanted.items():
            slot = self.slots.get(name)
            if slot is None:
                self._add_slot(s)
            elif slot.cfg != s or name in restart or {s.left.app, s.right.app} & changed_apps:
                await self._drop_slot(name)
                if name in restart:
                    self.store.set_initial_done(name, False)
                self._add_slot(s)
        for conn in stale:
            with contextlib.suppress(Exception):
                await conn.aclose()

    async def _drop_slot(self, name: str) -> None:
        slot = self.slots[name]
        slot.tracker.cancelled = True
        async with slot.lock:  # a running pass stops after its current batch
            del self.slots[name]
        if slot.worker is not None:
            slot.worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await slot.worker

    # -- state ----------------------------------------------------------------------------
    def slot(self, name: str) -> SyncSlot:
        return self.slots[name]

    def progress(self, name: str) -> ProgressState:
        """The sync's running pass (or its last one), as ``/api/syncs/NAME/progress`` shows it."""
        return self.slots[name].tracker.state

    async def readiness(self) -> dict[str, str]:
        """What ``/readyz`` checks, each ``"ok"`` or why not: the index answers a query (in a
        thread, within READY_TIMEOUT, so a hung database cannot stall the event loop)."""
        def ping() -> None:
            with self.store.engine.connect() as c:
                c.exec_driver_sql("SELECT 1")

        return {"index": await timed_check(asyncio.to_thread(ping))}

    def busy(self, name: str) -> bool:
        """A job of the sync is running: "sync now" is refused (409) meanwhile."""
        return self.slots[name].lock.locked()

    def problem(self, name: str) -> dict[str, str] | None:
        """Why the sync's last job failed, while it stays so (:func:`problem_of`)."""
        return self.slots[name].problem

    async def request_pass(self, name: str, *, full: bool = False) -> None:
        """"Sync now": start a pass in the background (PassNotRequested if it cannot be handed on)."""
        self._spawn(self.run_pass(name, full=full))

    def enabled(self, name: str) -> bool:
        return sync_enabled(self.slots[name].cfg.enabled, self.store.sync_state(name))

    def interval(self, s: SyncConfig) -> float:
        if s.poll is not None:
            return s.poll
        return min(self.cfg.apps[s.left.app].poll, self.cfg.apps[s.right.app].poll)

    def _record_counts(self) -> Iterator[tuple[str, dict[str, int]]]:
        """Index records by status for each running sync (the ``accord_records`` gauge)."""
        return ((name, self.store.counts(name)) for name in list(self.slots))

    def queue_depth(self) -> int:
        return sum(len(ids) for slot in self.slots.values() for ids in slot.queue.values())

    # -- jobs -----------------------------------------------------------------------------
    async def _scheduler(self) -> None:
        while not self.stopping:
            now = time.monotonic()
            for name in self._pending_syncs():
                self._spawn(self.sync_pending(name))
            waits = self._first_waits()
            for name, slot in list(self.slots.items()):
                if now >= slot.next_full:
                    slot.next_full = now + self.reconcile
                    slot.next_incremental = now + self.interval(slot.cfg)
                    self._spawn(self.scheduled(name, full=True))
                elif now >= slot.next_incremental and name not in waits:
                    slot.next_incremental = now + self.interval(slot.cfg)
                    self._spawn(self.scheduled(name, full=False))
            await asyncio.sleep(self.tick)

    def _first_waits(self) -> set[str]:
        """The syncs whose first pass waits for the first passes of the syncs they run after
        (accord.ordering.runs_after: their ``associations:``, and a contacts sync's activities'
        deals and companies, outside a cycle): the passes run side by side,
        so a line items sync starting with its deals and products would find none of them
        paired, and its new line items would wait a whole interval for the next pass. A parent
        disabled, busy or failing counts as done once its first pass was tried."""
        if all(slot.first_done for slot in self.slots.values()):
            return set()
        after = runs_after([slot.cfg for slot in self.slots.values()])
        return {name for name, slot in self.slots.items()
                if not slot.first_done and any(not self.slots[p].first_done for p in after[name])}

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: asyncio.Task[Any]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not task.cancelled():
            task.exception()  # already logged by _locked; retrieving it keeps asyncio quiet

    async def scheduled(self, name: str, *, full: bool = False) -> PassResult | None:
        """A scheduled pass: skipped (and logged) if disabled or if the sync is busy."""
        kind = "full" if full else "incremental"
        slot = self.slots[name]
        try:
            if not self.enabled(name):
                log.debug("sync %s is disabled: %s pass not run", name, kind)
                return None
            if slot.lock.locked():
                slot.skipped += 1
                self.metrics.skipped.labels(name, kind).inc()
                log.warning("sync %s: %s pass skipped, the previous job is still running", name, kind)
                return None
            return await self.run_pass(name, full=full)
        finally:
            slot.first_done = True  # the syncs that run after it start theirs (_first_waits)

    async def run_pass(self, name: str, *, full: bool = False) -> PassResult | None:
        slot = self.slots[name]
        if full or time.monotonic() - slot.prepared_at > self.schema_refresh:
            # re-read both schemas: a field deleted in an app breaks only its own mapping
            slot.runner.spec = None
            slot.prepared_at = time.monotonic()
        async def job() -> PassResult:
            # webhook records are synced between the pass's pages rather than after it
            slot.runner.ctx.on_page = functools.partial(self._between_pages, slot)
            slot.draining = True
            try:
                return await slot.runner.run(full=full)
            finally:
                slot.draining = False
                slot.runner.ctx.on_page = None

        return await self._locked(slot, "full" if full else "pass", job)

    async def _between_pages(self, slot: SyncSlot) -> None:
        """Between two pages of a running pass (which holds the sync's lease): sync the webhook
        records that arrived meanwhile, this process's and (every second at most) those other
        processes left pending in the index, instead of keeping them until the pass ends."""
        for side in (Side.LEFT, Side.RIGHT):
            ids = sorted(slot.queue[side])
            slot.queue[side].clear()
            self.metrics.queue_depth.set(self.queue_depth())
            for i in range(0, len(ids), 100):
                await self._sync_in_pass(slot, side, ids[i:i + 100])
        now = time.monotonic()
        if now - slot.pending_checked < 1.0:
            return
        slot.pending_checked = now
        await slot.runner.sync_pending_between_pages(fatal=(StopRequested,))

    async def _sync_in_pass(self, slot: SyncSlot, side: Side, ids: list[str]) -> bool:
        """One batch of webhook records inside the pass; a failure is logged and leaves the pass
        running (the next pass reads the change from the app's change feed)."""
        try:
            await slot.runner.sync_between_pages(side, ids)
            return True
        except (StopRequested, LeaseLost):
            raise
        except Exception:
            log.warning("sync %s: %d webhook records not synced during the pass", slot.cfg.name, len(ids),
                        exc_info=True)
            return False

    async def directed_pass(self, name: str, direction: str) -> PassResult | None:
        """A manual one-way copy of existing records (the sync keeps its own direction)."""
        slot = self.slots[name]
        return await self._locked(slot, "manual", lambda: self.session.directed_pass(name, direction, slot.tracker))

    async def sync_records(self, name: str, side: Side, ids: list[str], *, resend: bool = False,
                           kind: str = "records") -> PassResult | None:
        """Sync records a webhook named (or, ``resend``, a person asked to resync); if another
        process holds the sync's lease, they wait in the index (pending records) for the next
        pass of whichever process gets it."""
        slot = self.slots[name]
        try:
            return await self._locked(slot, kind, lambda: slot.runner.sync_records(side, ids, resend=resend, kind=kind),
                                      busy="raise")
        except SyncBusy as e:
            self.store.add_pending(name, side, ids)
            log.info("sync %s: %d webhook records kept for later: %s", name, len(ids), e)
            return None

    async def sync_record(self, name: str, record_id: str, side: Side | None = None) -> PassResult | None:
        """A person's "sync this record now": the record's app is found first (the index, else
        the app that has it: a record created after the last pass; or one of the sync's HubSpot
        activities: SyncRunner.resolve), read-only and outside the sync's lock; ManualSyncRefused
        when neither app (or both) has it."""
        found = await (await self.scout(name)).resolve(record_id, side)
        if isinstance(found, ActivityId):  # one of the sync's HubSpot activities (``calls:123``)
            return await self.sync_activity(name, found)
        return await self.sync_records(name, found, [record_id], resend=True)

    async def sync_activity(self, name: str, activity: ActivityId) -> PassResult | None:
        """A person's "sync this activity now" (a failing one too, whatever its attempts); None
        when another process holds the sync's lease (nothing to keep for later: ask again)."""
        slot = self.slots[name]
        return await self._locked(slot, "records", lambda: slot.runner.sync_activity(activity))

    async def sync_list(self, name: str, list_name: str | None = None,
                        side: Side | None = None) -> tuple[str, int, PassResult | None]:
        """Sync every member of a list now (default: the sync's inclusion list): (list, members, result)."""
        found, listed, ids = await (await self.scout(name)).list_members(list_name, side)
        return listed, len(ids), await self.sync_records(name, found, ids, resend=True, kind="list")

    async def scout(self, name: str) -> SyncRunner:
        """A runner of its own for reads beside the sync's passes (its schemas read without writing)."""
        runner = self.session.runner(name)
        await runner.prepare(write=False)
        return runner

    def _pending_syncs(self) -> list[str]:
        """Syncs with records a webhook left in the index, that this process could sync now."""
        try:
            waiting = self.store.pending_syncs()
        except Exception:  # the index is briefly unavailable: the next tick looks again
            log.warning("could not read the pending webhook records", exc_info=True)
            return []
        return [n for n in waiting if n in self.slots and not self.slots[n].lock.locked() and self.enabled(n)]

    async def sync_pending(self, name: str) -> None:
        """Sync the records webhooks left while another process held the lease, then forget them."""
        slot = self.slots[name]
        for side, ids in self.store.pending(name).items():
            for i in range(0, len(ids), 100):
                chunk = ids[i:i + 100]
                try:
                    done = await self._locked(slot, "records", functools.partial(slot.runner.sync_records, side, chunk))
                except Exception:
                    return  # logged by _locked; the records stay pending for the next tick
                if done is None:
                    return  # busy, or stopping: they stay pending
                self.store.drop_pending(name, side, chunk)

    def confirm_deletes(self, name: str, hold_id: int | None = None) -> dict[str, Any]:
        """Confirm the deletes the sync holds (``hold_id``: only if it is still that hold, else
        HoldChanged; NotConfirmable when there is nothing to confirm), then start a pass that
        carries them out (or creates the vanished container again)."""
        hold = self.store.confirm_deletes(name, hold_id)
        what = {"container": hold.get("container"), "unmatched": "the start of a sync with no match key"}
        log.warning("sync %s: confirmed by an admin: %s", name,
                    what.get(str(hold.get("kind"))) or f"{hold.get('confirmed')} held deletes")
        slot = self.slots[name]
        started = not slot.lock.locked() and not self.stopping
        if started:
            self._spawn(self.run_pass(name))
        return {**hold, "started": started}

    async def resync_deleted(self, name: str, side: Side) -> PassResult | None:
        slot = self.slots[name]
        return await self._locked(slot, "resync", lambda: slot.runner.resync_deleted(side))

    async def _locked(self, slot: SyncSlot, kind: str, job: Callable[[], Awaitable[PassResult]],
                      busy: str = "skip") -> PassResult | None:
        """Run one job of the sync, serialised with its other jobs here and, through the sync's
        lease, with other processes on the index: a job that finds the lease taken is skipped
        (logged, counted) or, with ``busy="raise"``, raises SyncBusy."""
        name = slot.cfg.name
        async with slot.lock:
            if self.stopping:
                return None
            st = slot.tracker.state = ProgressState(running=True, kind=kind, started=time.time())
            t0 = time.monotonic()
            last = self.store.runs(name, limit=1)
            state = self.store.sync_state(name)
            was_initial = not (state and state.initial_done)  # a finished initial sync is told (notify)
            try:
                result = await job()
                slot.problem = None  # a credential replaced meanwhile: the sync goes on by itself
            except StopRequested:
                log.info("sync %s: %s pass stopped after its current batch (shutdown)", name, kind)
                return None
            except SyncBusy as e:
                if busy == "raise":
                    raise
                slot.skipped += 1
                self.metrics.skipped.labels(name, kind).inc()
                log.warning("sync %s: %s pass skipped: %s", name, kind, e)
                return None
            except Exception as e:
                slot.problem = problem_of(e)
                self.metrics.pass_errors.labels(name).inc()
                if isinstance(e, DeletesHeld | ContainerMissing | ConfigError):  # expected: the sync waits for an admin
                    log.warning("sync %s: %s pass stopped: %s", name, kind, e)
                else:
                    log.exception("sync %s: %s pass failed", name, kind)
                if (ran := self.store.runs(name, limit=1)) == last:
                    # it failed before the runner recorded a run (e.g. the app refused the
                    # credentials while reading its schema): the run history must still say so
                    run_id = self.store.begin_run(name, kind)
                    self.store.finish_run(run_id, "failed", {}, redact.scrub(error_text(e)))
                elif ran:  # "last: initial, stopped" rather than the "pass" that was asked for
                    st.kind = str(ran[0]["kind"])
                st.failed = True
                self.notifier.after_pass(slot.cfg, was_initial, None, e)
                raise
            finally:
                st.running = False
                self.metrics.pass_seconds.labels(name, kind).observe(time.monotonic() - t0)
            st.kind = result.kind
            self.metrics.observe(result)
            self.notifier.after_pass(slot.cfg, was_initial, result, None)
            return result

    # -- webhooks -------------------------------------------------------------------------
    def enqueue(self, app: str, changed: dict[str, set[str]]) -> int:
        """Queue record ids of ``app`` (object → ids) for every enabled sync reading that object."""
        n = 0
        for name, slot in list(self.slots.items()):
            s = slot.cfg
            for side, ref in ((Side.LEFT, s.left), (Side.RIGHT, s.right)):
                ids = changed.get(ref.object) if ref.app == app else None
                if ids and self.enabled(name):
                    slot.queue[side].update(ids)
                    slot.wake.set()
                    n += len(ids)
        self.metrics.queue_depth.set(self.queue_depth())
        return n

    async def _webhook_worker(self, slot: SyncSlot) -> None:
        while not self.stopping:
            await slot.wake.wait()
            slot.wake.clear()
            if self.stopping:
                return
            await asyncio.sleep(self.webhook_delay)  # let a burst of events arrive: one batch
            while slot.draining and any(slot.queue.values()) and not self.stopping:
                await asyncio.sleep(0.05)  # the running pass syncs them between its pages
            for side in (Side.LEFT, Side.RIGHT):
                ids = sorted(slot.queue[side])
                slot.queue[side].clear()
                self.metrics.queue_depth.set(self.queue_depth())
                for i in range(0, len(ids), 100):
                    # a failure is logged by _locked; the next full pass recovers the change
                    with contextlib.suppress(Exception):
                        await self.sync_records(slot.cfg.name, side, ids[i:i + 100])
