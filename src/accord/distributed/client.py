"""Starting and talking to the sync workflows (what ``accord run --temporal`` does)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from accord.config import Config, SyncConfig
from accord.distributed import TASK_QUEUE, workflow_id
from accord.distributed.types import SyncInput, SyncParams
from accord.ordering import run_order

DAY = 86400.0
CONNECT_RETRY = 5.0  # seconds between attempts to reach Temporal

log = logging.getLogger("accord.distributed")


def _reason(e: BaseException) -> str:
    """The operating system's words for a failed connect ("Connection refused"), else the message."""
    m = re.search(r'message: "([^"]+)"', str(e))
    return m.group(1) if m else str(e)[:300]


async def connect(address: str, *, namespace: str = "default", retry: float = CONNECT_RETRY,
                  say: Callable[[str], None] = log.warning) -> Client:
    """A client of Temporal at ``address``, waiting while it cannot be reached (a line every
    ``retry`` seconds): a worker or ``accord run`` started before Temporal, or while it restarts,
    comes up with it instead of exiting. Cancel the call to stop waiting."""
    t0 = time.monotonic()
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except RuntimeError as e:
            if "Failed client connect" not in str(e):  # not a connection failure: waiting cannot help
                raise
            say(f"Temporal at {address} cannot be reached ({_reason(e)}); trying again in {retry:g} s "
                f"(waiting for {time.monotonic() - t0:.0f} s)")
        await asyncio.sleep(retry)


def interval_of(cfg: Config, s: SyncConfig) -> float:
    """A sync's incremental-pass interval: its own ``poll``, else the shorter ``poll`` of its apps."""
    if s.poll is not None:
        return s.poll
    return min(cfg.apps[s.left.app].poll, cfg.apps[s.right.app].poll)


def params_for(cfg: Config, s: SyncConfig, *, reconcile: float = DAY, **overrides: Any) -> SyncParams:
    return SyncParams(s.name, interval=interval_of(cfg, s), reconcile=reconcile, **overrides)


async def ensure_workflow(client: Client, params: SyncParams, *, task_queue: str = TASK_QUEUE) -> WorkflowHandle[Any, Any]:
    """Start the sync's workflow unless it runs already; either way it gets ``params``."""
    handle = await client.start_workflow("AccordSync", SyncInput(params), id=workflow_id(params.sync, task_queue),
                                         task_queue=task_queue,
                                         id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    await handle.signal("configure", params)
    return handle


async def ensure_workflows(client: Client, cfg: Config, *, task_queue: str = TASK_QUEUE, reconcile: float = DAY,
                           **overrides: Any) -> dict[str, WorkflowHandle[Any, Any]]:
    # started parents first (accord.ordering): the workflows then run side by side, each on its own schedule
    return {s.name: await ensure_workflow(client, params_for(cfg, s, reconcile=reconcile, **overrides),
                                          task_queue=task_queue) for s in run_order(cfg.syncs)}


def handle_of(client: Client, sync: str, task_queue: str = TASK_QUEUE) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id(sync, task_queue))
