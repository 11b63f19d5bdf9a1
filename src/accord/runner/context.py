"""What the phases of a pass share: the run context and the plain data they hand each other.

The phase modules (scan, pairing, incremental, apply) are functions of a :class:`RunContext`
rather than methods of one runner object; :class:`~accord.runner.facade.SyncRunner` owns the
context and calls them. This module imports none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from accord.associations import AssociationTarget
from accord.config import SyncConfig
from accord.connectors.base import Connector
from accord.engine.mapping import SyncSpec
from accord.engine.matching import match_keys
from accord.engine.planner import PairPlan
from accord.index.leases import SyncLease
from accord.index.runs import PageLedger
from accord.index.store import Link, PageWrite, Store
from accord.model import Counters, Record, Side

L, R = Side.LEFT, Side.RIGHT


class Progress(Protocol):
    def phase(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class PageLocks(Protocol):
    """Locks on the record pairs of a page, shared by processes on one index (accord.index.locks)."""

    async def acquire(self, keys: Iterable[str]) -> None: ...
    def release(self) -> None: ...


class NoProgress:
    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass(slots=True, eq=False)
class RunContext:
    """One sync's connectors, index and the state of its current pass."""

    cfg: SyncConfig
    store: Store
    conn: dict[Side, Connector]
    obj: dict[Side, str]
    progress: Progress = field(default_factory=NoProgress)
    path: str = ""
    associations: list[AssociationTarget] = field(default_factory=list)
    locks: PageLocks | None = None  # several processes on one index (distributed mode): lock each page's pairs
    spec: SyncSpec | None = None
    members: frozenset[str] | None = None  # the inclusion list, loaded at the start of a pass
    # Records of the side without the inclusion list this pass met for the first time (None: not
    # collected, in an initial sync or without a list); their first match syncs once (seed 004)
    new_records: set[str] | None = None
    counters: Counters = field(default_factory=Counters)
    pass_id: int = 0
    # links planned in an incremental pass, for its association sync; None otherwise (a scan
    # pass associates every linked pair, and collecting its ids would grow with the index)
    touched: set[str] | None = None
    # links whose write failed in this incremental pass: not tried again before the next pass
    # (an echo of the other record, the retry phase), which would count one failure two or three
    # times and spend the row's bounded retries (incremental.retry_conditions) in one pass
    failed_now: set[str] | None = None
    keys_memo: dict[int, tuple[Record, Side, list[str]]] = field(default_factory=dict)
    # record ids a person asked to resync: a create whose outcome was unknown may be sent again
    resend_unknown: set[str] = field(default_factory=set)
    lease: SyncLease | None = None  # held while a pass runs: pages are saved only while it is ours
    # called between the pages of a pass (it holds the lease): the service syncs webhook
    # records there, so they do not wait for the pass to end (service/core.py)
    on_page: Callable[[], Awaitable[None]] | None = None
    scanning: bool = False  # a scan pass (initial or full) is running: see sync_between_pages
    # a pass run in steps (accord.distributed): each save also writes the counters it added, and
    # a scan page's last save its cursor (accord.index.runs.PageLedger)
    ledger: PageLedger | None = None

    @property
    def fence(self) -> Callable[[Any], None] | None:
        """The lease's check, run in each save's transaction (accord.index.leases)."""
        return self.lease.fence if self.lease is not None else None

    def save(self, w: PageWrite, cursor: tuple[Side, str] | None = None, *, page_end: bool = False) -> None:
        """Save one page's index changes, fenced by the sync's lease (accord.index.leases);
        ``page_end``: the last save of a scan page (the ledger's mark goes with it)."""
        self.store.save(self.cfg.name, w, cursor, fence=self.fence, ledger=self.ledger, page_end=page_end)

    async def between_pages(self) -> None:
        if self.on_page is not None:
            await self.on_page()

    def require_spec(self) -> SyncSpec:
        assert self.spec is not None, "call prepare() first"
        return self.spec

    def keys(self, rec: Record, side: Side) -> list[str]:
        """The match keys of ``rec`` on ``side``."""
        # A record's keys are asked for up to four times while one page is indexed, planned and
        # its intents saved: remembered for the record object (Records are frozen).
        hit = self.keys_memo.get(id(rec))
        if hit is not None and hit[0] is rec and hit[1] is side:
            return hit[2]
        keys = match_keys(rec.properties, self.require_spec().match, side.value)
        if len(self.keys_memo) >= 4096:
            self.keys_memo.clear()
        self.keys_memo[id(rec)] = (rec, side, keys)
        return keys


@dataclass
class Item:
    """A planned pair on its way through the writes."""

    link: Link
    plan: PairPlan
    records: dict[Side, Record | None]
    stored: dict[Side, Record | None] = field(default_factory=dict)  # records as the apps stored our writes
    intent_keys: list[str] = field(default_factory=list)


def snapshot(rec: Record) -> dict[str, Any]:
    """What phase 1 keeps of a left record, so phases 2 and 3 need not read it again."""
    return {"p": dict(rec.properties), "u": rec.updated_at, "c": rec.created_at}


def from_snapshot(link: Link) -> Record | None:
    if link.left_id is None or link.snapshot is None:
        return None
    s = link.snapshot
    return Record(link.left_id, s["p"], s.get("u"), s.get("c"))


def tombstone(rid: str) -> Record:
    return Record(rid, {}, archived=True)
