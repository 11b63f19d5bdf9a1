"""The workflow: one long-lived ``AccordSync`` per sync, deciding when each pass runs.

It runs one job at a time — as the embedded service's per-sync lock does — so a sync's
pairs are only ever worked on by one activity, whichever worker runs it:

1. replies owed to updates (``resync_deleted``, ``sync_records``, ``sync_activity`` from the API);
2. webhook record ids received as ``records`` signals (batched for ``webhook_delay``);
3. a scan pass in progress: the next step (``scan_step`` activities, one phase at most each,
   every page heartbeated with its cursor), then ``finish_scan``;
4. a full pass when requested or every ``reconcile`` seconds; an incremental pass every
   ``interval`` seconds (``begin_pass`` turns either into the initial scan if the sync has
   never finished one, or its config changed).

Between jobs it sleeps on a durable timer, woken by signals. After ``jobs_per_run`` jobs (or
when Temporal suggests it) it continues as new, carrying the queue, the schedule and any scan
in progress, so its event history stays small however long it lives.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from accord.distributed.types import (
        BeginPass,
        FailedPass,
        PassPlan,
        PassSummary,
        RecordsJob,
        ScanJob,
        ScanProgress,
        SyncCarry,
        SyncInput,
        SyncParams,
    )

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30), maximum_attempts=8,
                    non_retryable_error_types=["ConfigError", "AuthError", "DistributedError"])
RECORDS_BATCH = 100


@dataclass
class _Request:
    """An update waiting for its turn (``resync_deleted``, ``sync_records``, ``sync_activity``) and its reply."""

    kind: str
    side: str
    ids: list[str] = field(default_factory=list)
    resend: bool = False
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


@workflow.defn(name="AccordSync")
class SyncWorkflow:
    def __init__(self) -> None:
        self.params = SyncParams("")
        self.carry = SyncCarry()
        self.requests: list[_Request] = []
        self.job = "starting"
        self.last: dict[str, Any] | None = None

    # -- signals, updates, queries ----------------------------------------------------------
    @workflow.signal
    def records(self, side: str, ids: list[str]) -> None:
        """Webhook record ids of one side of this sync."""
        q = self.carry.queued.setdefault(side, [])
        have = set(q)
        q.extend(i for i in dict.fromkeys(ids) if i not in have)
        del q[self.params.max_queued:]  # beyond the cap, the next incremental pass's change feed has them

    @workflow.signal
    def run_now(self, full: bool) -> None:
        if full:
            self.carry.full_requested = True
        else:
            self.carry.next_incremental = workflow.time()

    @workflow.signal
    def configure(self, params: SyncParams) -> None:
        """New schedule settings (the service was restarted with a changed config)."""
        if params.interval != self.params.interval and self.carry.next_incremental is not None:
            self.carry.next_incremental = min(self.carry.next_incremental, workflow.time() + params.interval)
        self.params = params

    @workflow.update
    async def resync_deleted(self, side: str) -> dict[str, Any]:
        return await self._request(_Request("resync_deleted", side))

    @workflow.update
    async def sync_records(self, side: str, ids: list[str], resend: bool = False) -> dict[str, Any]:
        return await self._request(_Request("sync_records", side, list(ids), resend))

    @workflow.update
    async def sync_activity(self, kind: str, activity_id: str) -> dict[str, Any]:
        """One HubSpot activity of the sync now (its type as the request's side)."""
        return await self._request(_Request("sync_activity", kind, [activity_id]))

    @workflow.query
    def status(self) -> dict[str, Any]:
        scan = self.carry.scan
        return {"job": self.job, "queued": {k: len(v) for k, v in self.carry.queued.items()},
                "scan": None if scan is None else {"kind": scan.kind, "run_id": scan.run_id, **scan.state},
                "passes": self.carry.passes, "last": self.last}

    async def _request(self, req: _Request) -> dict[str, Any]:
        self.requests.append(req)
        await workflow.wait_condition(lambda: req.done)
        if req.error is not None:
            raise workflow_error(req.error)
        assert req.result is not None
        return req.result

    # -- the loop -------------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: SyncInput) -> None:
        self.params, self.carry = inp.params, inp.carry
        c = self.carry
        now = workflow.time()
        c.next_incremental = now if c.next_incremental is None else c.next_incremental
        c.next_full = now + self.params.reconcile if c.next_full is None else c.next_full
        jobs = 0
        while True:
            if jobs >= self.params.jobs_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(lambda: not self.requests)
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(SyncInput(self.params, self.carry))
            if await self._next_job():
                jobs += 1
                continue
            self.job = "waiting"
            due = min(c.next_incremental or 0.0, c.next_full or 0.0) - workflow.time()
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._wanted, timeout=max(due, 0.001))

    def _wanted(self) -> bool:
        c = self.carry
        return bool(self.requests or c.queued.get("left") or c.queued.get("right") or c.full_requested
                    or (c.next_incremental is not None and c.next_incremental <= workflow.time()))

    async def _next_job(self) -> bool:
        """Run the most urgent job, if any is due; False if there is nothing to do now."""
        c, p = self.carry, self.params
        if self.requests:
            req = self.requests.pop(0)
            self.job = req.kind
            try:
                job = RecordsJob(p.sync, req.side, req.ids, req.resend)
                res: PassSummary = await workflow.execute_activity(
                    req.kind, job, result_type=PassSummary, **self._opts(3600))
                req.result = res.as_dict()
            except ActivityError as e:
                req.error = _cause(e)
            return True
        if c.scan is None and (c.queued.get("left") or c.queued.get("right")):
            self.job = "webhooks"
            await workflow.sleep(p.webhook_delay)  # let the rest of a burst arrive: one batch
            for side in ("left", "right"):
                ids, c.queued[side] = c.queued.get(side, []), []
                for i in range(0, len(ids), RECORDS_BATCH):
                    await self._run("sync_records", RecordsJob(p.sync, side, ids[i:i + RECORDS_BATCH]))
            return True
        if c.scan is not None:
            await self._scan_step(c.scan)
            return True
        now = workflow.time()
        full = c.full_requested or (c.next_full is not None and c.next_full <= now)
        if full or (c.next_incremental is not None and c.next_incremental <= now):
            c.full_requested = False
            c.next_incremental = now + p.interval
            if full:
                c.next_full = now + p.reconcile
            self.job = "begin_pass"
            try:
                plan: PassPlan = await workflow.execute_activity(
                    "begin_pass", BeginPass(p.sync, full), result_type=PassPlan, **self._opts(600))
            except ActivityError as e:
                workflow.logger.warning("sync %s: could not start a pass: %s", p.sync, _cause(e))
                return True
            if plan.kind == "scan":
                c.scan = plan.scan
            elif plan.kind == "incremental":
                inc = await self._run("incremental", p.sync, timeout=6 * 3600)
                if inc is not None and inc.resync:  # the change feed lost track: scan instead
                    c.full_requested = True
            return True
        return False

    async def _scan_step(self, scan: ScanProgress) -> None:
        c, p = self.carry, self.params
        self.job = f"scan:{scan.state.get('phase')}"
        try:
            if scan.state.get("phase") != "done":
                c.scan = await workflow.execute_activity(
                    "scan_step", ScanJob(p.sync, scan, p.step_seconds), result_type=ScanProgress,
                    heartbeat_timeout=timedelta(seconds=p.heartbeat_timeout), **self._opts(p.step_seconds + 3600))
                return
            self.job = "finish_scan"
            res: PassSummary = await workflow.execute_activity(
                "finish_scan", ScanJob(p.sync, scan), result_type=PassSummary,
                heartbeat_timeout=timedelta(seconds=p.heartbeat_timeout), **self._opts(6 * 3600))
            c.scan = None
            c.passes += 1
            self.last = res.as_dict()
        except ActivityError as e:
            # Retries are spent (an app down for a while): record it, keep the scan, go on later.
            error = _cause(e)
            workflow.logger.warning("sync %s: scan step failed: %s", p.sync, error)
            scan.failed = True
            await self._run("fail_pass", FailedPass(scan.run_id, scan.counters, error), timeout=60)
            await workflow.sleep(min(p.interval, 300.0))

    async def _run(self, activity: str, arg: Any, timeout: float = 3600) -> PassSummary | None:
        self.job = activity
        try:
            res: PassSummary = await workflow.execute_activity(
                activity, arg, result_type=PassSummary,
                heartbeat_timeout=timedelta(seconds=self.params.heartbeat_timeout), **self._opts(timeout))
        except ActivityError as e:
            workflow.logger.warning("sync %s: %s failed: %s", self.params.sync, activity, _cause(e))
            return None
        if activity in ("incremental",):
            self.carry.passes += 1
        self.last = res.as_dict() if res is not None else None
        return res

    @staticmethod
    def _opts(timeout: float) -> dict[str, Any]:
        return {"start_to_close_timeout": timedelta(seconds=timeout), "retry_policy": RETRY}


def _cause(e: BaseException) -> str:
    while e.__cause__ is not None:
        e = e.__cause__
    return str(e)


def workflow_error(message: str) -> Exception:
    from temporalio.exceptions import ApplicationError

    return ApplicationError(message, non_retryable=True)
