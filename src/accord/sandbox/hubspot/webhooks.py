"""Webhooks v3 delivery: an outbox drained by a background thread.

Events are batched (≤ 100 per POST), signed with ``X-HubSpot-Signature-v3`` and retried
with exponential backoff, each retry bumping ``attemptNumber`` as HubSpot does. A thread
(not an asyncio task) delivers, so delivery works whatever loop, if any, the caller runs,
and ``flush()`` can block until the outbox is empty.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from accord.sandbox.hubspot.schema import OBJECT_TYPE_IDS, SINGULAR

# the generic subscriptions' objectTypeId of each legacy prefix (contact → 0-1 …)
TYPE_IDS = {SINGULAR[t]: type_id for t, type_id in OBJECT_TYPE_IDS.items()}


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(app secret, method + uri + body + timestamp))."""
    msg = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()


@dataclass
class WebhookConfig:
    url: str | None = None
    secret: str = "sandbox-app-secret"
    app_id: int = 1000001
    # propertyChange subscriptions: None means "every property" (HubSpot needs one per property)
    properties: set[str] | None = None
    max_attempts: int = 10  # HubSpot retries up to 10 times over 24 hours
    backoff: float = 1.0  # seconds before the first retry, doubled each time (shortened from HubSpot's)
    batch_size: int = 100
    timeout: float = 5.0
    drop_rate: float = 0.0  # fault injection: share of batches silently lost
    # "legacy": contact.creation, company.propertyChange …; "generic": the generic webhook
    # subscriptions' object.creation / object.propertyChange / object.deletion with objectTypeId
    style: str = "legacy"


def generic(event: dict[str, Any]) -> dict[str, Any]:
    """A legacy event (``contact.creation``) as the generic subscriptions send it
    (``object.creation`` with ``objectTypeId`` ``0-1``)."""
    prefix, _, action = str(event["subscriptionType"]).partition(".")
    if prefix == "object":  # a custom object's event is generic already
        return event
    return {**event, "subscriptionType": f"object.{action}", "objectTypeId": TYPE_IDS[prefix]}


@dataclass
class WebhookStats:
    delivered: int = 0  # events acknowledged with 2xx
    dropped: int = 0  # events lost by fault injection
    failed_attempts: int = 0  # POSTs answered non-2xx or not at all
    given_up: int = 0  # events dropped after max_attempts
    batches: list[list[dict[str, Any]]] = field(default_factory=list)  # last delivered batches, for inspection


class WebhookDispatcher:
    def __init__(self, config: WebhookConfig, portal_id: int, seed: int = 0) -> None:
        self.config = config
        self.portal_id = portal_id
        self.stats = WebhookStats()
        self._rng = random.Random(seed)
        self._cond = threading.Condition()
        self._pending: deque[dict[str, Any]] = deque()
        self._retries: list[tuple[float, int, list[dict[str, Any]]]] = []  # heap of (due, seq, batch)
        self._seq = itertools.count()
        self._event_ids = itertools.count(1)
        self._in_flight = 0
        self._stop = False
        self._thread: threading.Thread | None = None

    def subscription_id(self, subscription_type: str) -> int:
        return 100000 + zlib.crc32(subscription_type.encode()) % 900000

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        cfg = self.config
        if not cfg.url:
            return  # no subscription configured: HubSpot sends nothing
        with self._cond:
            for ev in events:
                if ev["subscriptionType"].endswith(".propertyChange") and cfg.properties is not None \
                        and ev.get("propertyName") not in cfg.properties:
                    continue
                if cfg.style == "generic":
                    ev = generic(ev)
                self._pending.append({"eventId": next(self._event_ids),
                                      "subscriptionId": self.subscription_id(ev["subscriptionType"]),
                                      "portalId": self.portal_id, "appId": cfg.app_id, "attemptNumber": 0, **ev})
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._run, daemon=True, name="hubspot-webhooks")
            self._thread.start()

    def idle(self) -> bool:
        return not self._pending and not self._retries and self._in_flight == 0

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered, dropped or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.idle():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        with self._cond:
            self._pending.clear()
            self._retries.clear()
            self.stats = WebhookStats()
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _next_batch(self) -> list[dict[str, Any]] | None:
        """Under the lock: a due retry, else up to batch_size pending events, else None."""
        now = time.monotonic()
        if self._retries and self._retries[0][0] <= now:
            return heapq.heappop(self._retries)[2]
        if self._pending:
            n = min(self.config.batch_size, len(self._pending))
            return [self._pending.popleft() for _ in range(n)]
        return None

    def _run(self) -> None:
        with httpx.Client(timeout=self.config.timeout) as client:
            while True:
                with self._cond:
                    batch = self._next_batch()
                    while batch is None and not self._stop:
                        wait = self._retries[0][0] - time.monotonic() if self._retries else 0.5
                        self._cond.wait(max(0.001, min(wait, 0.5)))
                        batch = self._next_batch()
                    if self._stop:
                        return
                    assert batch is not None
                    self._in_flight += 1
                try:
                    self._deliver(client, batch)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _deliver(self, client: httpx.Client, batch: list[dict[str, Any]]) -> None:
        cfg = self.config
        if cfg.drop_rate and self._rng.random() < cfg.drop_rate:
            self.stats.dropped += len(batch)
            return
        ok = False
        if cfg.url:
            body = json.dumps(batch, separators=(",", ":")).encode()
            ts = str(int(time.time() * 1000))
            headers = {"Content-Type": "application/json", "X-HubSpot-Signature-Version": "v3",
                       "X-HubSpot-Request-Timestamp": ts,
                       "X-HubSpot-Signature-v3": sign_v3(cfg.secret, "POST", cfg.url, body, ts)}
            try:
                ok = client.post(cfg.url, content=body, headers=headers).is_success
            except httpx.HTTPError:
                ok = False
        if ok:
            self.stats.delivered += len(batch)
            self.stats.batches = [*self.stats.batches[-49:], batch]
            return
        self.stats.failed_attempts += 1
        attempt = batch[0]["attemptNumber"] + 1
        if attempt >= cfg.max_attempts:
            self.stats.given_up += len(batch)
            return
        retry = [{**ev, "attemptNumber": attempt} for ev in batch]
        due = time.monotonic() + cfg.backoff * 2 ** (attempt - 1) * (0.5 + self._rng.random())
        with self._cond:
            heapq.heappush(self._retries, (due, next(self._seq), retry))
