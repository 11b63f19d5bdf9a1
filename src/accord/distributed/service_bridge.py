"""``accord run --temporal``: the service starts and signals the sync workflows instead of running passes.

Everything the service shows (status, records, run history, exports) comes from the shared
PostgreSQL index as before. What changes is who does the work: at start-up every sync's
workflow is started (or found running) with the schedule from the config; webhook record ids
become ``records`` signals, "sync now" a ``run_now`` signal, and "resync deleted" / "sync this
record" are workflow updates whose reply is the pass's result. No pass runs in this process.

Progress, "a pass is running" (409 to "sync now") and the sync's problem are read from the
index the workers write (the sync's lease, its runs), so they hold whichever worker runs the
pass. A workflow Temporal no longer has is started again by the next signal or update, and
Temporal unreachable at start is waited for in the background (docs/service.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, or_, select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from accord.config import Config, SyncConfig
from accord.distributed import TASK_QUEUE, require_postgres
from accord.distributed.client import connect, ensure_workflow, handle_of, params_for
from accord.index.leases import holder_of
from accord.index.schema import links
from accord.model import AuthError, ConnectorError, Counters, Side
from accord.ordering import run_order
from accord.runner import PassResult
from accord.runner.manual import ActivityId
from accord.service.core import (
    AUTH_HINT,
    READY_TIMEOUT,
    PassNotRequested,
    ProgressState,
    Service,
    SyncSlot,
    timed_check,
)

T = TypeVar("T")

log = logging.getLogger("accord.service")


def _result(d: dict[str, Any]) -> PassResult:
    counters = Counters(**{k: v for k, v in d.items() if k in Counters.__dataclass_fields__})
    return PassResult(str(d.get("sync")), str(d.get("kind")), counters, d.get("run_id"),
                      list(d.get("broken_mappings") or []), activities=d.get("activities"))


async def _signal_records(handle: WorkflowHandle[Any, Any], *, side: str, ids: list[str]) -> None:
    await handle.signal("records", args=[side, ids])


class NotConnected(RuntimeError):
    """Temporal has not been reached since the service started (it waits for it)."""


def _connector_kinds() -> dict[str, str]:
    """Error type name → category, for every ConnectorError (the run history keeps the type's name)."""
    out: dict[str, str] = {}
    todo: list[type[ConnectorError]] = [ConnectorError]
    while todo:
        cls = todo.pop()
        out[cls.__name__] = cls.kind
        todo.extend(cls.__subclasses__())
    return out


_APP = re.compile(r"app '([^']+)'")


def problem_of_run(run: dict[str, Any]) -> dict[str, str] | None:
    """The dashboard's "problem" of a sync whose last run failed because an app could not be used
    (``Type: message (hint: …)`` as the run history keeps it); None for other failures."""
    if run.get("status") != "failed" or not run.get("error"):
        return None
    error = str(run["error"])
    type_name, _, message = error.partition(": ")
    kind = _connector_kinds().get(type_name)
    if kind is None:
        return None
    hint = ""
    if message.endswith(")") and " (hint: " in message:
        message, _, hint = message[:-1].rpartition(" (hint: ")
    # credentials refused: error_text named the app ("app 'NAME': …"), whose Apps page row shows it
    app = m.group(1) if kind == "auth" and (m := _APP.search(message)) else ""
    if kind == "auth" and not hint:
        hint = AUTH_HINT
    at = _epoch(run.get("finished_at"))
    return {"category": kind, "message": f"{type_name}: {message}", "hint": hint, "app": app,
            "at": "" if at is None else f"{at:.3f}"}


def _epoch(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp() if iso else None
    except ValueError:
        return None


def _read(counters: Any) -> int:
    read = counters.get("read") if isinstance(counters, dict) else None
    return sum(int(v) for v in read.values()) if isinstance(read, dict) else 0


class TemporalService(Service):
    def __init__(self, cfg: Config, address: str, *, namespace: str = "default", task_queue: str = TASK_QUEUE,
                 workflow_options: dict[str, Any] | None = None, connect_retry: float = 5.0,
                 notify_interval: float = 5.0, **kw: Any) -> None:
        require_postgres(cfg)
        kw["schedule"] = False  # the workflows keep the schedule
        super().__init__(cfg, **kw)
        self.address, self.namespace, self.task_queue = address, namespace, task_queue
        self.workflow_options = dict(workflow_options or {})  # SyncParams overrides (tests: shorter timeouts)
        self.connect_retry = connect_retry
        self.notify_interval = notify_interval
        self.client: Client | None = None
        self.connected = asyncio.Event()  # set once the workflows are started (see start)

    def _handle(self, name: str) -> WorkflowHandle[Any, Any]:
        if self.client is None:
            raise NotConnected(f"Temporal at {self.address} has not been reached yet")
        return handle_of(self.client, name, self.task_queue)

    async def _ensure_one(self, s: SyncConfig) -> None:
        assert self.client is not None
        await ensure_workflow(self.client, params_for(self.cfg, s, reconcile=self.reconcile, **self.workflow_options),
                              task_queue=self.task_queue)

    async def _ensure(self) -> None:
        for s in run_order(self.cfg.syncs):  # parents first (accord.ordering), as ensure_workflows
            await self._ensure_one(s)

    async def _to_workflow(self, name: str, call: Callable[[WorkflowHandle[Any, Any]], Awaitable[T]]) -> T:
        """``call`` on the sync's workflow. A workflow Temporal no longer has (a dev server restarted
        without ``--db-filename``, a workflow terminated by hand) is started again first and logged:
        the request is carried out, never dropped."""
        try:
            return await call(self._handle(name))
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            log.warning("sync %s: Temporal has no running workflow for it (%s); starting it again", name, e.message)
        s = next((s for s in self.cfg.syncs if s.name == name), None)
        if s is None:
            raise KeyError(name)
        await self._ensure_one(s)
        return await call(self._handle(name))

    async def start(self) -> None:
        """Start serving at once; the workflows are started once Temporal answers. While it cannot
        be reached (a line in the log every ``connect_retry`` seconds) the dashboard and API show the
        index, "sync now" answers 503 and webhook ids wait in their queue."""
        await super().start()  # webhook batchers only (schedule=False): they signal, see _webhook_worker
        self._tasks.append(asyncio.create_task(self._connect(), name="temporal-connect"))
        self._tasks.append(asyncio.create_task(self._tell_runs(), name="run-notifications"))

    # -- notifications: the workers run the passes, the run history tells what they did ----------
    async def _tell_runs(self) -> None:
        """What the embedded service tells after each pass (accord.service.notify), decided here
        from the runs the workers record: every ``notify_interval`` seconds, each sync's runs
        finished since the last look. Runs finished before the service started tell nothing."""
        last = {s.name: max((int(r["id"]) for r in self._finished_runs(s.name, None)), default=0)
                for s in self.cfg.syncs}
        while not self.stopping:
            await asyncio.sleep(self.notify_interval)
            for s in list(self.cfg.syncs):
                try:
                    for run in self._finished_runs(s.name, last.get(s.name, 0)):
                        last[s.name] = int(run["id"])
                        self._tell_run(s, run)
                except Exception:  # the index is unavailable: the next look tells what this one missed
                    log.warning("sync %s: could not read the run history for notifications", s.name, exc_info=True)

    def _finished_runs(self, name: str, after: int | None) -> list[dict[str, Any]]:
        """The sync's runs after run ``after``, oldest first, up to the first still running (one pass
        runs at a time per sync, so none after it is finished); ``after=None``: all recent ones."""
        out: list[dict[str, Any]] = []
        for run in reversed(self.store.runs(name, limit=50)):
            if after is not None and int(run["id"]) <= after:
                continue
            if run.get("status") == "running":
                break
            out.append(run)
        return out

    def _tell_run(self, s: SyncConfig, run: dict[str, Any]) -> None:
        if run.get("status") == "ok":
            result = _result({**(run.get("counters") or {}), "sync": s.name, "kind": run["kind"], "run_id": run["id"]})
            self.notifier.after_pass(s, run["kind"] == "initial", result, None)
            return
        problem = problem_of_run(run)
        if problem is not None and problem["category"] == "auth":
            message = problem["message"].partition(": ")[2]
            self.notifier.after_pass(s, False, None, AuthError(message, app=problem["app"]))

    async def _connect(self) -> None:
        client = await connect(self.address, namespace=self.namespace, retry=self.connect_retry, say=log.warning)
        while True:
            try:
                self.client = client
                await self._ensure()
                break
            except RPCError as e:  # Temporal went away again between the connect and the starts
                log.warning("could not start the sync workflows on Temporal at %s (%s); trying again in %g s",
                            self.address, e.message, self.connect_retry)
                await asyncio.sleep(self.connect_retry)
        log.info("connected to Temporal at %s: the workflows of %d syncs run", self.address, len(self.cfg.syncs))
        self.connected.set()

    async def readiness(self) -> dict[str, str]:
        """The index, and Temporal's frontend answering a health check."""
        checks = await super().readiness()
        if self.client is None:
            checks["temporal"] = f"Temporal at {self.address} has not been reached yet"
        else:
            checks["temporal"] = await timed_check(self._temporal_health(self.client))
        return checks

    @staticmethod
    async def _temporal_health(client: Client) -> None:
        if not await client.service_client.check_health(timeout=timedelta(seconds=READY_TIMEOUT)):
            raise ConnectionError("Temporal answers but its workflow service is not serving")

    async def reload(self, cfg: Config, restart: set[str] | frozenset[str] = frozenset(), *,
                     forget: bool = True) -> None:
        removed = [n for n in self.slots if n not in {s.name for s in cfg.syncs}]
        await super().reload(cfg, restart, forget=forget)
        if not self.connected.is_set():
            return  # _connect starts the workflows of the syncs there are then
        for name in removed:
            with contextlib.suppress(Exception):
                await self._handle(name).terminate("the sync was removed")
        await self._ensure()
        for name in restart:
            await self._to_workflow(name, lambda h: h.signal("run_now", True))

    # -- what the API shows: from the index, which every worker writes ---------------------------
    def progress(self, name: str) -> ProgressState:
        """The pass a worker runs now (the sync's lease is held), else the last run.

        ``records``: records the running scan has read so far (its pass id on their index rows),
        or the run's ``read`` counters."""
        runs = self.store.runs(name, limit=1)
        last = runs[0] if runs else None
        holder = holder_of(self.store.engine, name)
        if holder is not None and holder.expires_at > time.time():
            run = last if last is not None and last.get("status") == "running" else None
            kind = str(run["kind"]) if run else "pass"
            records = max(_read(run.get("counters")), self._seen(name, int(run["id"]))) if run else 0
            started = (_epoch(run.get("started_at")) if run else None) or holder.acquired_at
            return ProgressState(running=True, kind=kind, phase=f"{name}: {kind} pass on a worker", done=records,
                                 phase_done=records, started=started)
        if last is None:
            return ProgressState()
        return ProgressState(kind=str(last["kind"]), done=_read(last.get("counters")))

    def _seen(self, name: str, run_id: int) -> int:
        with self.store.engine.connect() as c:
            q = select(func.count()).select_from(links).where(
                links.c.sync == name, or_(links.c.left_seen == run_id, links.c.right_seen == run_id))
            return int(c.execute(q).scalar() or 0)

    def busy(self, name: str) -> bool:
        return self.progress(name).running

    def problem(self, name: str) -> dict[str, str] | None:
        """Why the last finished run failed, when an app could not be used (a run left "running" by
        a lost workflow is passed over)."""
        for run in self.store.runs(name, limit=5):
            if run.get("status") != "running":
                return problem_of_run(run)
        return None

    # -- jobs: workflow signals and updates instead of in-process passes ------------------------
    async def request_pass(self, name: str, *, full: bool = False) -> None:
        try:
            await self._to_workflow(name, lambda h: h.signal("run_now", full))
        except Exception as e:
            log.error("sync %s: could not ask Temporal at %s for a pass: %s", name, self.address, e)
            raise PassNotRequested(f"Temporal at {self.address} could not be reached: {e}") from e

    async def run_pass(self, name: str, *, full: bool = False) -> PassResult | None:
        try:
            await self._to_workflow(name, lambda h: h.signal("run_now", full))
        except Exception:
            log.exception("sync %s: could not ask Temporal at %s for a pass", name, self.address)
            raise
        return None

    async def sync_records(self, name: str, side: Side, ids: list[str], *, resend: bool = False,
                           kind: str = "records") -> PassResult | None:
        res = await self._to_workflow(
            name, lambda h: h.execute_update("sync_records", args=[side.value, list(ids), resend]))
        return _result(res)

    async def sync_activity(self, name: str, activity: ActivityId) -> PassResult | None:
        res = await self._to_workflow(
            name, lambda h: h.execute_update("sync_activity", args=[activity.kind, activity.id]))
        return _result(res)

    async def resync_deleted(self, name: str, side: Side) -> PassResult | None:
        res = await self._to_workflow(name, lambda h: h.execute_update("resync_deleted", side.value))
        return _result(res)

    async def _webhook_worker(self, slot: SyncSlot) -> None:
        """Webhook ids go to the sync's workflow as ``records`` signals (it batches and syncs them)."""
        name = slot.cfg.name
        while not self.stopping:
            await slot.wake.wait()
            slot.wake.clear()
            if self.stopping:
                return
            await self.connected.wait()  # Temporal not reached yet: the ids stay queued
            await asyncio.sleep(self.webhook_delay)
            for side in (Side.LEFT, Side.RIGHT):
                ids = sorted(slot.queue[side])
                slot.queue[side].clear()
                self.metrics.queue_depth.set(self.queue_depth())
                for i in range(0, len(ids), 1000):
                    chunk = ids[i:i + 1000]
                    # also in the index: a scan step syncs them between its pages, while the
                    # workflow's queue waits for the scan to end (the records job then drops them)
                    try:
                        self.store.add_pending(name, side, chunk)
                    except Exception:  # the workflow still gets them, after the scan
                        log.warning("sync %s: could not keep %d webhook ids in the index", name, len(chunk),
                                    exc_info=True)
                    try:
                        await self._to_workflow(name, functools.partial(_signal_records, side=side.value, ids=chunk))
                    except Exception:  # Temporal unreachable: the next incremental pass finds the change
                        log.exception("sync %s: could not signal %d webhook ids", name, len(chunk))
