"""Rate limits shared by every process that calls one app: a token bucket in PostgreSQL.

One row per bucket in ``accord_rate_buckets`` (an UNLOGGED table created on first use: it
holds no sync data, and a crash that empties it only refills the buckets). Each API call
takes a token with a single ``UPDATE … RETURNING``: the row's lock serialises the callers,
PostgreSQL's clock is the only clock (workers' clocks may differ), and a caller that finds
the bucket empty still takes its token, in debt, and sleeps until the debt is paid — so
waiting callers are served in order and nobody polls.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("accord.index.buckets")

_CREATE = text("""
CREATE UNLOGGED TABLE IF NOT EXISTS accord_rate_buckets (
    key text PRIMARY KEY,
    tokens double precision NOT NULL,
    stamp double precision NOT NULL,
    blocked_until double precision NOT NULL DEFAULT 0
)""")
_INIT = text("""
INSERT INTO accord_rate_buckets (key, tokens, stamp)
VALUES (:key, :capacity, extract(epoch FROM clock_timestamp()))
ON CONFLICT (key) DO NOTHING""")
_TAKE = text("""
WITH t AS (SELECT extract(epoch FROM clock_timestamp()) AS now)
UPDATE accord_rate_buckets b
   SET tokens = least(:capacity, b.tokens + greatest(t.now - b.stamp, 0) * :rate) - :n,
       stamp = t.now
  FROM t
 WHERE b.key = :key
RETURNING b.tokens, greatest(b.blocked_until - t.now, 0)""")
_BLOCK = text("""
UPDATE accord_rate_buckets
   SET blocked_until = greatest(blocked_until, extract(epoch FROM clock_timestamp()) + :seconds)
 WHERE key = :key""")


def ensure_table(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        raise ValueError("shared rate limits need the index on PostgreSQL")
    for attempt in range(3):
        try:
            with engine.begin() as c:
                c.execute(_CREATE)
            return
        except DBAPIError:  # two processes creating it at once: one of them loses the race
            if attempt == 2:
                raise


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up; one token per request."""

    def __init__(self, engine: Engine, key: str, rate: float, capacity: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        ensure_table(engine)
        self.engine, self.key, self.rate, self.capacity = engine, key, float(rate), float(capacity)
        with engine.begin() as c:
            c.execute(_INIT, {"key": key, "capacity": self.capacity})
        self.waited = 0.0  # seconds this process spent waiting for tokens

    def take(self, n: float = 1.0) -> float:
        """Take ``n`` tokens now; returns the seconds to wait before using them."""
        with self.engine.begin() as c:
            row = c.execute(_TAKE, {"key": self.key, "rate": self.rate, "capacity": self.capacity, "n": n}).one()
        tokens, blocked = float(row[0]), float(row[1])
        return max(-tokens / self.rate if tokens < 0 else 0.0, blocked)

    async def acquire(self) -> None:
        wait = self.take()
        if wait > 0:
            self.waited += wait
            await asyncio.sleep(wait)

    def release(self) -> None:
        """Nothing to give back: a token is spent when the request is sent."""

    def block(self, seconds: float) -> None:
        """Every process waits ``seconds`` (the app answered 429: something else spends the same limit)."""
        with self.engine.begin() as c:
            c.execute(_BLOCK, {"key": self.key, "seconds": float(seconds)})


def window_bucket(engine: Engine, key: str, limit: int, window: float) -> TokenBucket:
    """A bucket that never lets more than ``limit`` requests into any ``window`` seconds.

    A bucket holding ``capacity`` tokens refilled at ``rate`` admits at most
    ``capacity + rate × window`` requests in a window; a tenth of the limit is kept as the
    burst and the rest spread over the window plus a margin (a tenth, at most half a second:
    the server's window starts when a request arrives, not when it is sent).
    """
    capacity = max(1.0, float(limit // 10))
    rate = max(limit - capacity, 1.0) / (window + min(0.5, window / 10))
    return TokenBucket(engine, key, rate, capacity)
