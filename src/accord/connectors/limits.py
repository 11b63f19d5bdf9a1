"""Rate limiters for the HTTP connectors, and where they come from.

A vendor *declares* its limits as :class:`RateLimit` values (HubSpot: 190 requests per
rolling 10 s and 5 searches a second; Snov.io: 60 a minute; …). A :class:`LimiterFactory`
turns each into a :class:`Limiter` keyed by app credential and limit name:

* :data:`LOCAL` (the default): one :class:`RollingWindow` per key for the whole process, so
  every connector of one app (one credential) shares it, whatever its thread or event loop;
* the distributed mode's factory (:mod:`accord.distributed.limits`): buckets in PostgreSQL,
  shared by every worker process, for every vendor.

A limiter is held for one request: ``acquire`` before it is sent, ``release`` once it is
answered (or failed); ``block`` pauses every user of the limit (the app answered 429, so
something else spends the same limit).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Limiter(Protocol):
    async def acquire(self) -> None: ...

    def release(self) -> None: ...

    def block(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class RateLimit:
    """One limit an app enforces: at most ``limit`` requests in any ``window`` seconds.

    ``smooth``: the app counts a rate rather than a window (Salesforce's ``rate_limit``,
    requests per second): a shared bucket may then save up ``limit`` requests as a burst.
    """

    name: str
    limit: float
    window: float = 1.0
    smooth: bool = False


class LimiterFactory(Protocol):
    def make(self, key: str, limit: RateLimit) -> Limiter:
        """The limiter for ``limit`` of the app credential ``key``: the same one for every caller
        of this factory that names the same key (the first caller's settings win)."""
        ...


class RollingWindow:
    """At most ``limit`` requests in any ``window`` seconds, as HubSpot counts them.

    A token bucket of capacity N refilled at N/10 s can let 2N requests into one rolling
    10-second window, so this keeps a log instead. A request holds its slot from send until
    ``window`` seconds after its response: the server saw it arrive somewhere in between,
    so the limit holds on the server's clock too, whatever the latency. Thread-safe and
    free of asyncio primitives, so one instance can be shared across event loops.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = max(1, limit), window
        self._lock = threading.Lock()
        self._done: deque[float] = deque()
        self._in_flight = 0
        self._blocked_until = 0.0

    def _wait(self) -> float:
        now = time.monotonic()
        while self._done and self._done[0] <= now - self.window:
            self._done.popleft()
        if now < self._blocked_until:
            return self._blocked_until - now
        if len(self._done) + self._in_flight < self.limit:
            self._in_flight += 1
            return 0.0
        return self._done[0] + self.window - now if self._done else 0.02

    async def acquire(self) -> None:
        while True:
            with self._lock:
                wait = self._wait()
            if wait <= 0:
                return
            await asyncio.sleep(max(wait, 0.002))

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._done.append(time.monotonic())

    def block(self, seconds: float) -> None:
        """Pause every user of this window (the server said 429: someone else shares the app)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)


class LearnedLimit:
    """A limit the app announces in its answers instead of in its documentation (HubSpot's
    ``X-HubSpot-RateLimit-Secondly`` for OAuth apps): no limit until an answer names one, then
    the factory's limiter for it (learned again when the app announces another)."""

    def __init__(self, make: Callable[[int], Limiter]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self.limit: int | None = None
        self._inner: Limiter | None = None
        self._unheld = 0  # acquired while there was no limiter: their releases give nothing back

    def learn(self, limit: int) -> None:
        if limit < 1 or limit == self.limit:
            return
        inner = self._make(limit)
        with self._lock:
            self.limit, self._inner = limit, inner

    async def acquire(self) -> None:
        with self._lock:
            inner = self._inner
            if inner is None:
                self._unheld += 1
                return
        await inner.acquire()

    def release(self) -> None:
        with self._lock:
            inner = self._inner
            if self._unheld:
                self._unheld -= 1
                return
        if inner is not None:
            inner.release()

    def block(self, seconds: float) -> None:
        with self._lock:
            inner = self._inner
        if inner is not None:
            inner.block(seconds)


class LocalLimiters:
    """One rolling window per key in this process (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[str, Limiter] = {}

    def make(self, key: str, limit: RateLimit) -> Limiter:
        with self._lock:
            if key not in self._made:
                self._made[key] = RollingWindow(max(1, round(limit.limit)), limit.window)
            return self._made[key]


LOCAL = LocalLimiters()

__all__ = ["LOCAL", "LearnedLimit", "Limiter", "LimiterFactory", "LocalLimiters", "RateLimit", "RollingWindow"]
