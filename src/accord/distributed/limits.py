"""Per-app rate limits shared by every worker: the connectors' limiters backed by PostgreSQL buckets.

HubSpot's limit belongs to the private app (its token): 190 requests per rolling 10 s on
Professional, however many processes send them. Each worker's HubSpot connector therefore
takes its tokens from one :func:`~accord.index.buckets.window_bucket` per credential (and one
for the search endpoints' per-second limit); a 429 from HubSpot blocks every worker. A
Salesforce app with ``rate_limit`` gets a plain bucket of that many requests per second.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine

from accord.connectors.base import Connector
from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow
from accord.connectors.salesforce import SalesforceConnector
from accord.index.buckets import TokenBucket, window_bucket


class SharedWindow(RollingWindow):
    """HubSpot's limiter interface (acquire / release / block) over a bucket in PostgreSQL."""

    def __init__(self, bucket: TokenBucket) -> None:
        super().__init__(1, 1.0)
        self.bucket = bucket

    async def acquire(self) -> None:
        await self.bucket.acquire()

    def release(self) -> None:
        self.bucket.release()

    def block(self, seconds: float) -> None:
        self.bucket.block(seconds)


def _credential(*parts: str) -> str:
    """A bucket key naming the app and credential without storing the secret."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def share_limits(engine: Engine, name: str, app: Any, conn: Connector) -> None:
    """Make ``conn`` (the connector of app ``name``) take its rate limit from the shared buckets."""
    if isinstance(conn, HubSpotConnector):
        key = f"hubspot:{_credential(conn.base_url, app.token)}"
        conn.limits = Limits(SharedWindow(window_bucket(engine, f"{key}:general", int(app.rate_limit), 10.0)),
                             SharedWindow(window_bucket(engine, f"{key}:search", max(1, round(app.search_rate)), 1.0)))
    elif isinstance(conn, SalesforceConnector) and getattr(app, "rate_limit", None):
        rate = float(app.rate_limit)
        key = f"salesforce:{_credential(app.instance_url, app.access_token)}"
        conn.limiter = TokenBucket(engine, key, rate, max(1.0, rate))
