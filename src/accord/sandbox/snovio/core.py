"""The Snov.io sandbox's state: settings, faults, the rate window and the account handle the routes share."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from accord.sandbox import faults
from accord.sandbox.snovio import seed as seeding
from accord.sandbox.snovio.campaigns import Campaigns
from accord.sandbox.snovio.store import ProspectInput, Store


@dataclass
class SandboxSettings:
    client_id: str | None = None  # None: any non-empty client id is accepted
    client_secret: str | None = None  # None: any non-empty secret is accepted
    token_ttl: float = 3600.0  # seconds an access token lives (Snov.io: one hour)
    rate_limit: int = 60  # requests per rolling window, for the whole account
    rate_window: float = 60.0
    max_per_page: int = 100
    records: int = 0
    seed: int = 0


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    retry_after: float | None = 1.0  # Retry-After sent with injected 429s (None: omitted)
    seed: int = 0
    # the next calls' faults, in order: 429, 500, 500_applied, reset_applied, or NAME:KIND for the
    # next call of that kind (accord.sandbox.faults), before any drawn at random
    queue: list[str] = field(default_factory=list)
    retry_after_date: bool = False  # Retry-After as an HTTP date, not seconds


class RateWindow:
    """Rolling-window hit log: at most ``limit`` requests in any ``window`` seconds."""

    def __init__(self) -> None:
        self.hits: deque[float] = deque()

    def hit(self, limit: int, window: float) -> tuple[bool, float]:
        now = time.monotonic()
        while self.hits and self.hits[0] <= now - window:
            self.hits.popleft()
        if len(self.hits) >= limit:
            return False, self.hits[0] + window - now
        self.hits.append(now)
        return True, 0.0


class SnovioCore:
    """One emulated Snov.io account without its HTTP face: the store, settings, faults, counters and
    rate window the routes share, and the methods to seed, edit and inspect it as a user would.
    :class:`~accord.sandbox.snovio.app.SnovioSandbox` adds the ASGI app."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings()
        for k, v in overrides.items():
            if not hasattr(self.settings, k):
                raise TypeError(f"unknown setting {k}")
            setattr(self.settings, k, v)
        self.store = Store()
        self.campaigns = Campaigns(self.store)  # drip campaigns and their recipients' email events
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self.lock = threading.Lock()  # guards counters, the fault draw and the rate window
        self._rng = random.Random(self.settings.seed)
        self.window = RateWindow()
        if self.settings.records:
            self.seed(self.settings.records, self.settings.seed)

    # -- state --------------------------------------------------------------------------------
    def seed(self, records: int, seed: int = 0) -> dict[str, Any]:
        out = seeding.seed(self.store, records, seed)
        out["campaigns"] = self.campaigns.seed(seed)
        return out

    def reset(self) -> None:
        self.store.reset()
        self.campaigns.reset()
        self.counters.clear()
        self.window = RateWindow()

    # -- a user in the Snov.io app ---------------------------------------------------------------
    def create_list(self, name: str) -> int:
        return self.store.create_list(name).id

    def list_id(self, name: str) -> int:
        lst = self.store.list_by_name(name)
        if lst is None:
            raise KeyError(name)
        return lst.id

    def delete_list(self, list_id: int) -> bool:
        return self.store.delete_list(list_id)

    def rename_list(self, list_id: int, name: str) -> None:
        """Rename a list as a user does in Snov.io (its id stays)."""
        self.store.rename_list(list_id, name)

    def add_field(self, name: str, type_: str = "string") -> None:
        self.store.add_field(name, type_)

    def delete_field(self, name: str) -> bool:
        return self.store.delete_field(name)

    def user_add(self, list_id: int, *, emails: list[str], phones: list[str] | None = None,
                 custom: dict[str, str] | None = None, **values: str) -> str:
        """Create a prospect in a list (the first email is the primary one)."""
        inp = ProspectInput(email=emails[0], values=dict(values), phones=phones, custom=dict(custom or {}))
        with self.store.lock:
            p, _, _ = self.store.add_prospect(list_id, inp, update_contact=True, source="user")
            for e in emails[1:]:
                if e.lower() not in (x.lower() for x in p.emails):
                    p.emails.append(e)
            return p.id

    def user_update(self, pid: str, *, phones: list[str] | None = None, custom: dict[str, str] | None = None,
                    emails: list[str] | None = None, **values: str) -> None:
        with self.store.lock:
            p, _ = self.store.update_prospect(pid, ProspectInput(values=dict(values), phones=phones,
                                                                 custom=dict(custom or {})))
            if emails is not None:
                p.emails = list(emails)
                p.updated = self.store.clock()

    def user_delete(self, pid: str) -> bool:
        return self.store.delete_prospect(pid)

    def remove_from_list(self, pid: str, list_id: int) -> bool:
        return self.store.remove_from_list(pid, list_id)

    def prospects(self, list_id: int | None = None) -> list[dict[str, Any]]:
        with self.store.lock:
            if list_id is None:
                return [self.store.prospect_json(p) for p in self.store.prospects.values()]
            lst = self.store.live_list(list_id)
            return [self.store.prospect_json(self.store.prospects[i]) for i in lst.members]

    def by_email(self, list_id: int | None = None) -> dict[str, dict[str, Any]]:
        """Prospects keyed by their primary email (lower-cased)."""
        return {p["emails"][0]["email"].lower(): p for p in self.prospects(list_id)}

    def expire_tokens(self) -> int:
        return self.store.expire_tokens()

    # -- knobs ------------------------------------------------------------------------------------
    def set_faults(self, **kw: Any) -> Faults:
        for k, v in kw.items():
            if not hasattr(self.faults, k):
                raise ValueError(f"unknown fault {k}")
            setattr(self.faults, k, v)
        self._rng = random.Random(self.faults.seed)
        return self.faults

    def clear_faults(self) -> None:
        self.faults = Faults()

    def draw_fault(self, kind: str = "") -> str | None:
        f = self.faults
        queued = faults.take(f.queue, kind, self.lock)
        if queued is not None:
            return queued
        with self.lock:
            r = self._rng.random()
        if r < f.rate_429:
            return "429"
        if r < f.rate_429 + f.rate_500:
            return "500"
        return None

    def credentials_ok(self, client_id: str, secret: str) -> bool:
        s = self.settings
        return bool(client_id and secret) and s.client_id in (None, client_id) and s.client_secret in (None, secret)
