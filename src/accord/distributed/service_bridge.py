"""``accord run --temporal``: the service starts and signals the sync workflows instead of running passes.

Everything the service shows (status, records, run history, exports) comes from the shared
PostgreSQL index as before. What changes is who does the work: at start-up every sync's
workflow is started (or found running) with the schedule from the config; webhook record ids
become ``records`` signals, "sync now" a ``run_now`` signal, and "resync deleted" / "sync this
record" are workflow updates whose reply is the pass's result. No pass runs in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from temporalio.client import Client, WorkflowHandle

from accord.config import Config
from accord.distributed import TASK_QUEUE, require_postgres
from accord.distributed.client import ensure_workflow, handle_of, params_for
from accord.model import Counters, Side
from accord.runner import PassResult
from accord.service.core import Service, SyncSlot

log = logging.getLogger("accord.service")


def _result(d: dict[str, Any]) -> PassResult:
    counters = Counters(**{k: v for k, v in d.items() if k in Counters.__dataclass_fields__})
    return PassResult(str(d.get("sync")), str(d.get("kind")), counters, d.get("run_id"),
                      list(d.get("broken_mappings") or []))


class TemporalService(Service):
    def __init__(self, cfg: Config, address: str, *, namespace: str = "default", task_queue: str = TASK_QUEUE,
                 workflow_options: dict[str, Any] | None = None, **kw: Any) -> None:
        require_postgres(cfg)
        kw["schedule"] = False  # the workflows keep the schedule
        super().__init__(cfg, **kw)
        self.address, self.namespace, self.task_queue = address, namespace, task_queue
        self.workflow_options = dict(workflow_options or {})  # SyncParams overrides (tests: shorter timeouts)
        self.client: Client | None = None

    def _handle(self, name: str) -> WorkflowHandle[Any, Any]:
        assert self.client is not None, "start() first"
        return handle_of(self.client, name, self.task_queue)

    async def _ensure(self) -> None:
        assert self.client is not None
        for s in self.cfg.syncs:
            await ensure_workflow(self.client, params_for(self.cfg, s, reconcile=self.reconcile, **self.workflow_options),
                                  task_queue=self.task_queue)

    async def start(self) -> None:
        self.client = await Client.connect(self.address, namespace=self.namespace)
        await self._ensure()
        await super().start()  # webhook batchers only (schedule=False): they signal, see _webhook_worker

    async def reload(self, cfg: Config, restart: set[str] | frozenset[str] = frozenset(), *,
                     forget: bool = True) -> None:
        removed = [n for n in self.slots if n not in {s.name for s in cfg.syncs}]
        await super().reload(cfg, restart, forget=forget)
        if self.client is None:
            return
        for name in removed:
            with contextlib.suppress(Exception):
                await self._handle(name).terminate("the sync was removed")
        await self._ensure()
        for name in restart:
            await self._handle(name).signal("run_now", True)

    # -- jobs: workflow signals and updates instead of in-process passes ------------------------
    async def run_pass(self, name: str, *, full: bool = False) -> PassResult | None:
        await self._handle(name).signal("run_now", full)
        return None

    async def sync_records(self, name: str, side: Side, ids: list[str], *, resend: bool = False,
                           kind: str = "records") -> PassResult | None:
        res = await self._handle(name).execute_update("sync_records", args=[side.value, list(ids), resend])
        return _result(res)

    async def resync_deleted(self, name: str, side: Side) -> PassResult | None:
        res = await self._handle(name).execute_update("resync_deleted", side.value)
        return _result(res)

    async def _webhook_worker(self, slot: SyncSlot) -> None:
        """Webhook ids go to the sync's workflow as ``records`` signals (it batches and syncs them)."""
        while not self.stopping:
            await slot.wake.wait()
            slot.wake.clear()
            if self.stopping:
                return
            await asyncio.sleep(self.webhook_delay)
            for side in (Side.LEFT, Side.RIGHT):
                ids = sorted(slot.queue[side])
                slot.queue[side].clear()
                self.metrics.queue_depth.set(self.queue_depth())
                for i in range(0, len(ids), 1000):
                    try:
                        await self._handle(slot.cfg.name).signal("records", args=[side.value, ids[i:i + 1000]])
                    except Exception:  # Temporal unreachable: the next incremental pass finds the change
                        log.exception("sync %s: could not signal %d webhook ids", slot.cfg.name, len(ids[i:i + 1000]))
