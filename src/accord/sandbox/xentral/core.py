"""The xentral sandbox's state: settings, faults, the rate window and the instance handle the routes share."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from accord.sandbox import faults
from accord.sandbox.xentral.store import Store


@dataclass
class SandboxSettings:
    token: str | None = None  # None: any non-empty bearer token is accepted
    rate_limit: int = 100  # requests per rolling window (xentral: 100 per minute)
    rate_window: float = 60.0
    timezone: str = "Europe/Berlin"  # the instance's clock: logdatei is local time
    records: int = 0
    seed: int = 0


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    latency: float = 0.0  # seconds added to every API request (a slow instance)
    retry_after: float | None = 1.0
    seed: int = 0
    # the next calls' faults, in order: 429, 500, 500_applied, reset_applied, or NAME:KIND for the
    # next call of that kind (accord.sandbox.faults), before any drawn at random
    queue: list[str] = field(default_factory=list)
    retry_after_date: bool = False  # Retry-After as an HTTP date, not seconds


class RateWindow:
    """Rolling-window hit counts (what current xentral enforces per API account)."""

    def __init__(self) -> None:
        self.hits: deque[float] = deque()

    def hit(self, limit: int, window: float) -> tuple[bool, int, float]:
        now = time.monotonic()
        while self.hits and self.hits[0] <= now - window:
            self.hits.popleft()
        if len(self.hits) >= limit:
            return False, 0, self.hits[0] + window - now
        self.hits.append(now)
        return True, limit - len(self.hits), 0.0


class XentralCore:
    """One emulated xentral instance without its HTTP face: the store, settings, faults, counters and
    rate window the routes share, and the methods to seed, edit and inspect it as a person would.
    :class:`~accord.sandbox.xentral.app.XentralSandbox` adds the ASGI app."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings()
        for k, v in overrides.items():
            setattr(self.settings, k, v)
        self.store = Store(timezone=self.settings.timezone)
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self.lock = threading.Lock()  # guards the fault draw and the rate window
        self._rng = random.Random(0)
        self.window = RateWindow()
        self.in_flight = 0  # API requests being answered right now
        if self.settings.records:
            self.seed(self.settings.records, self.settings.seed)

    # -- state ------------------------------------------------------------------------------------
    def seed(self, records: int, seed: int = 0) -> dict[str, Any]:
        from accord.sandbox.xentral.seed import seed as seeding

        return seeding(self.store, records, seed)

    def reset(self) -> None:
        self.store.reset()
        self.counters.clear()
        self.faults = Faults()
        self.window = RateWindow()

    def set_faults(self, **kw: Any) -> Faults:
        for k, v in kw.items():
            if not hasattr(self.faults, k):
                raise ValueError(f"unknown fault {k}")
            setattr(self.faults, k, v)
        self._rng = random.Random(self.faults.seed)
        return self.faults

    # -- what a person does in xentral's UI (no API call, no rate limit) ----------------------------
    def create_group(self, name: str, kennziffer: str | None = None) -> str:
        kz = kennziffer or "".join(ch for ch in name.lower() if ch.isalnum() or ch in "-_") or "gruppe"
        return str(self.store.create_group({"name": name, "kennziffer": kz}).id)

    def group_id(self, name: str) -> str:
        g = self.store.group_by_name(name)
        if g is None:
            raise KeyError(name)
        return str(g.id)

    def delete_group(self, name: str) -> None:
        self.store.delete_group(int(self.group_id(name)))

    def rename_group(self, name: str, new_name: str) -> str:
        """Rename a group as a user does in xentral (its id stays); returns its id."""
        gid = self.group_id(name)
        with self.store.lock:
            self.store.groups[int(gid)].cols["name"] = new_name
        return gid

    def label_free_field(self, column: str, label: str) -> None:
        with self.store.lock:
            if column not in self.store.free_field_labels:
                raise KeyError(column)
            self.store.free_field_labels[column] = label

    def user_create_address(self, props: dict[str, Any], groups: list[str] = ()) -> str:  # type: ignore[assignment]
        body = dict(props)
        body.setdefault("name", " ".join(str(props.get(k) or "") for k in ("vorname", "nachname")).strip()
                        or str(props.get("email") or "Unbenannt"))
        body["gruppen"] = [{"id": self.group_id(g)} for g in groups]
        return str(self.store.create_address(body).id)

    def user_update_address(self, aid: str | int, props: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            return self.store.address_wire(self.store.update_address(int(aid), props))

    def user_delete_address(self, aid: str | int) -> None:
        self.store.delete_address(int(aid))

    def add_to_group(self, aid: str | int, group: str) -> None:
        self.store.set_membership(int(aid), int(self.group_id(group)), True)

    def remove_from_group(self, aid: str | int, group: str) -> None:
        self.store.set_membership(int(aid), int(self.group_id(group)), False)

    def address(self, aid: str | int) -> dict[str, Any] | None:
        with self.store.lock:
            a = self.store.addresses.get(int(aid))
            return self.store.address_wire(a) if a else None

    def addresses(self, *, deleted: bool = False) -> list[dict[str, Any]]:
        with self.store.lock:
            return [self.store.address_wire(a) for a in self.store.addresses.values() if a.deleted == deleted]

    def members(self, group: str) -> list[str]:
        gid = int(self.group_id(group))
        with self.store.lock:
            return [str(a.id) for a in self.store.addresses.values() if gid in a.groups and not a.deleted]

    def create_board(self, name: str, stages: list[str]) -> tuple[str, list[str]]:
        b = self.store.create_board(name)
        ids = [str(self.store.create_stage({"name": s, "view": b.id, "sort": i + 1}).id) for i, s in enumerate(stages)]
        return str(b.id), ids

    def stage_id(self, board: str, label: str) -> str:
        with self.store.lock:
            b = next(b for b in self.store.boards.values() if b.name == board)
            return str(next(s.id for s in self.store.stages.values() if s.view == b.id and s.name == label))

    def board_stages(self, board: str) -> list[dict[str, Any]]:
        """The stages of a board, as the API lists them (by ``sort``)."""
        with self.store.lock:
            b = next(b for b in self.store.boards.values() if b.name == board)
            return [s.wire() for s in sorted(self.store.stages.values(), key=lambda s: (s.sort, s.id)) if s.view == b.id]

    def user_create_resubmission(self, props: dict[str, Any]) -> str:
        body = {"datum_erinnerung": self.store.local_now().date().isoformat(), "zeit_erinnerung": "09:00:00", **props}
        return str(self.store.create_resubmission(body).id)

    def user_update_resubmission(self, rid: str | int, props: dict[str, Any]) -> dict[str, Any]:
        return self.store.update_resubmission(int(rid), props).wire()

    def user_delete_resubmission(self, rid: str | int) -> None:
        self.store.delete_resubmission(int(rid))

    def resubmission(self, rid: str | int) -> dict[str, Any] | None:
        with self.store.lock:
            r = self.store.resubmissions.get(int(rid))
            return r.wire() if r else None

    def resubmissions(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [r.wire() for r in self.store.resubmissions.values()]

    # -- gatekeeping ------------------------------------------------------------------------------
    def draw_fault(self, kind: str = "") -> str | None:
        queued = faults.take(self.faults.queue, kind, self.lock)
        if queued is not None:
            return queued
        with self.lock:
            r = self._rng.random()
        for name, rate in (("429", self.faults.rate_429), ("500", self.faults.rate_500)):
            if r < rate:
                return name
            r -= rate
        return None
