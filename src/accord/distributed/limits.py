"""Per-app rate limits shared by every worker: the connectors' limiters backed by PostgreSQL buckets.

A rate limit belongs to the app credential, however many processes spend it: HubSpot's 190
requests per rolling 10 s (and search's 5/s, and an OAuth app's per-second limit), Snov.io's
60 a minute, xentral's 100 a minute, a Salesforce org's ``rate_limit``. Every HTTP connector
declares its limits (:meth:`~accord.connectors.http.HttpConnector.rate_limits`); in
distributed mode :func:`share_limits` hands it :class:`SharedLimiters`, which backs each one
with a bucket in PostgreSQL keyed by vendor, credential and limit: a window limit by a
:func:`~accord.index.buckets.window_bucket`, a rate by a plain bucket. A 429 blocks every worker.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from accord.connectors import registry
from accord.connectors.base import Connector
from accord.connectors.limits import Limiter, RateLimit
from accord.index.buckets import TokenBucket, window_bucket


class SharedWindow:
    """A window limit (acquire / release / block) over a bucket in PostgreSQL."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    async def acquire(self) -> None:
        await self.bucket.acquire()

    def release(self) -> None:
        self.bucket.release()

    def block(self, seconds: float) -> None:
        self.bucket.block(seconds)


class SharedLimiters:
    """A :class:`~accord.connectors.limits.LimiterFactory` whose limiters live in PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def make(self, key: str, limit: RateLimit) -> Limiter:
        if limit.smooth:
            rate = limit.limit / limit.window
            return TokenBucket(self.engine, key, rate, max(1.0, rate))
        return SharedWindow(window_bucket(self.engine, key, max(1, round(limit.limit)), limit.window))


def share_limits(engine: Engine, name: str, app: Any, conn: Connector) -> None:
    """Make ``conn`` (the connector of app ``name``, settings ``app``) take the app's rate limits,
    as its vendor declares them, from the shared buckets."""
    vendor = registry.find(getattr(app, "type", None))
    conn.use_limiters(SharedLimiters(engine), vendor.limits(app) if vendor is not None else None)
