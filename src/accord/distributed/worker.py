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
from accord.distributed.client import CONNECT_RETRY, connect
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
                     say: Callable[[str], None] = print, connect_retry: float = CONNECT_RETRY) -> None:
    """Serve ``task_queue`` until SIGINT/SIGTERM; while Temporal cannot be reached, wait for it."""
    require_postgres(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    ctx = WorkerContext(cfg)  # the index and config first: their errors need no Temporal to show
    try:
        client = await _until_connected(address, namespace, connect_retry, say, stop)
        if client is None:
            say("stopped before Temporal could be reached")
            return
        worker = build_worker(client, ctx, task_queue=task_queue, concurrency=concurrency, identity=identity)
        async with worker:
            say(f"worker {identity or client.identity} on {address} (namespace {namespace}, "
                f"task queue {task_queue}, {concurrency} activities at a time)")
            await stop.wait()
            say("stopping: running activities get 10 s to finish their page")
    finally:
        await ctx.aclose()


async def _until_connected(address: str, namespace: str, retry: float, say: Callable[[str], None],
                           stop: asyncio.Event) -> Client | None:
    """A client once Temporal answers; None if ``stop`` is set first."""
    connecting = asyncio.ensure_future(connect(address, namespace=namespace, retry=retry, say=say))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (connecting, stopping):
            if not t.done():
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
    return connecting.result() if connecting.done() and not connecting.cancelled() else None
