"""The data the workflow and its activities exchange (plain dataclasses: Temporal stores them as JSON).

Nothing here imports the engine: the workflow code runs in Temporal's deterministic sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncParams:
    """How one sync's workflow schedules its work (set by whoever starts it: ``accord run --temporal``)."""

    sync: str
    interval: float = 300.0  # seconds between incremental passes
    reconcile: float = 86400.0  # seconds between full passes
    heartbeat_timeout: float = 30.0  # a worker silent this long is presumed dead; its activity moves on
    step_seconds: float = 30.0  # a scan step hands its cursor back to the workflow this often
    webhook_delay: float = 0.2  # webhook ids arriving within this delay are synced as one batch
    jobs_per_run: int = 200  # continue-as-new after this many jobs (keeps the history small)
    max_queued: int = 5000  # webhook ids kept per side; beyond, the next incremental pass finds them


@dataclass
class ScanProgress:
    """A scan pass in progress: its run row, the runner's ScanState and the counters so far."""

    run_id: int
    kind: str  # initial | full
    state: dict[str, Any]
    counters: dict[str, Any]
    failed: bool = False  # a step failed: the next one first settles the creates it may have sent


@dataclass
class SyncCarry:
    """What one run of the workflow hands to the next across continue-as-new."""

    scan: ScanProgress | None = None
    queued: dict[str, list[str]] = field(default_factory=lambda: {"left": [], "right": []})
    full_requested: bool = False
    next_incremental: float | None = None  # workflow clock, epoch seconds
    next_full: float | None = None
    passes: int = 0  # passes completed by this workflow (all runs)


@dataclass
class SyncInput:
    params: SyncParams
    carry: SyncCarry = field(default_factory=SyncCarry)


@dataclass
class BeginPass:
    sync: str
    full: bool = False


@dataclass
class PassPlan:
    """What ``begin_pass`` found to do: ``scan`` (with its progress), ``incremental`` or ``disabled``."""

    kind: str
    scan: ScanProgress | None = None


@dataclass
class ScanJob:
    sync: str
    scan: ScanProgress
    step_seconds: float = 30.0


@dataclass
class RecordsJob:
    sync: str
    side: str  # left | right; for ``sync_activity``, the activity type (calls …) of ``ids``
    ids: list[str] = field(default_factory=list)
    resend: bool = False  # a person asked to resync them (a create whose outcome was unknown may be resent)


@dataclass
class FailedPass:
    run_id: int
    counters: dict[str, Any]
    error: str


@dataclass
class PassSummary:
    """A finished pass, as the run log has it (``resync``: the change feed asked for a full pass)."""

    sync: str
    kind: str
    run_id: int | None = None
    counters: dict[str, Any] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)
    resync: bool = False
    # per HubSpot activity type, what the pass did (as PassResult.activities); None: the sync copies none
    activities: dict[str, dict[str, int]] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"sync": self.sync, "kind": self.kind, "run_id": self.run_id, "broken_mappings": self.broken,
               **self.counters}
        if self.activities is not None:
            out["activities"] = self.activities
        return out
