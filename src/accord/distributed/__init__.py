"""Distributed mode: Accord's passes as Temporal workflows and activities, the index on PostgreSQL.

One long-lived workflow per sync (:mod:`accord.distributed.workflows`) decides *when* to run
what — the initial/full scan in resumable steps, incremental passes on timers, webhook record
batches delivered as signals — and the activities (:mod:`accord.distributed.activities`) run
the same :class:`~accord.runner.SyncRunner` code as the embedded mode. Workers are plain
``accord worker`` processes; any number of them share one task queue, one PostgreSQL index
(pair locks, a lease per sync) and per-app rate limits (token buckets in PostgreSQL).
See docs/deploy.md.
"""

from __future__ import annotations

from accord.config import Config

TASK_QUEUE = "accord"


class DistributedError(Exception):
    """The configuration cannot run in distributed mode."""


def require_postgres(cfg: Config) -> None:
    """Distributed mode needs the index on PostgreSQL: every worker and the service share it."""
    if not cfg.state.startswith("postgresql"):
        raise DistributedError(
            f"{cfg.source}: state: distributed mode (--temporal) needs the sync index on PostgreSQL, e.g. "
            f"state: postgresql+psycopg://accord@db/accord — {cfg.state.split(':', 1)[0]} is a single-process index")


def workflow_id(sync: str, task_queue: str = TASK_QUEUE) -> str:
    """The sync's workflow id; the task queue names the deployment, so two can share a namespace."""
    return f"{task_queue}:{sync}"
