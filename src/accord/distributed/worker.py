"""``accord worker``: one Temporal worker process running Accord's workflows and activities."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from accord.config import Config
from accord.distributed import TASK_QUEUE, require_postgres
from accord.distributed.activities import SyncActivities, WorkerContext
from accord.distributed.workflows import SyncWorkflow

log = logging.getLogger("accord.distributed")


def build_worker(client: Client, ctx: WorkerContext, *, task_queue: str = TASK_QUEUE, concurrency: int = 8,
                 identity: str | None = None) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[SyncWorkflow], activities=SyncActivities(ctx).all(),
                  max_concurrent_activities=concurrency, identity=identity,
                  # on SIGTERM a running step gets this long to finish its page before it is cancelled
                  graceful_shutdown_timeout=timedelta(seconds=10))


async def run_worker(cfg: Config, address: str, *, namespace: str = "default", task_queue: str = TASK_QUEUE,
                     concurrency: int = 8, identity: str | None = None,
                     say: Callable[[str], None] = print) -> None:
    """Serve ``task_queue`` until SIGINT/SIGTERM."""
    require_postgres(cfg)
    client = await Client.connect(address, namespace=namespace)
    ctx = WorkerContext(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    worker = build_worker(client, ctx, task_queue=task_queue, concurrency=concurrency, identity=identity)
    try:
        async with worker:
            say(f"worker {identity or client.identity} on {address} (namespace {namespace}, "
                f"task queue {task_queue}, {concurrency} activities at a time)")
            await stop.wait()
            say("stopping: running activities get 10 s to finish their page")
    finally:
        await ctx.aclose()
