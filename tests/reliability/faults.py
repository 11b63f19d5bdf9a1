"""A fault-injecting wrapper around any connector, for the convergence fuzzer.

It injects, at the connector interface the runner sees, what a vendor API and the network
do to a sync after the connector's own retries have given up:

* ``429`` / ``500``: the call fails before the app did anything (RateLimited / TransientError);
* ``timeout``: a write is applied, then the answer is lost (the client timed out);
* ``reset``: a write batch is applied up to a random item, then the connection drops;
* ``partial``: a write batch half-succeeds: some items come back as transient per-record
  failures (HubSpot's 207 multi-status) and were not applied.

Reads (scan and change-feed pages, batch reads, look-ups, cursors) fail with the first two
kinds or with a reset before returning anything.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from accord.connectors.base import Associated, AssociationKind, Connector
from accord.model import (
    ErrorCategory,
    ObjectSchema,
    Page,
    Pipeline,
    RateLimited,
    Record,
    TransientError,
    Value,
    WriteError,
    WriteOutcomeUnknown,
    WriteResult,
)

T = TypeVar("T")
READ_KINDS = ("429", "500", "reset")
WRITE_KINDS = ("429", "500", "timeout", "reset", "partial")


@dataclass
class FaultPlan:
    """Shared by the connectors of one world: off, or on with a per-call rate."""

    rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    injected: Counter[str] = field(default_factory=Counter)

    def set(self, rate: float, seed: int) -> None:
        self.rate, self.rng = rate, random.Random(seed)

    def off(self) -> None:
        self.rate = 0.0

    def draw(self, kinds: Sequence[str]) -> str | None:
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(list(kinds))
        self.injected[kind] += 1
        return kind


def _raise(name: str, kind: str, what: str, unknown: bool = False) -> None:
    if unknown:
        raise WriteOutcomeUnknown(f"{name}: {what}: {kind} after sending (injected); it may have been carried out")
    if kind == "429":
        raise RateLimited(f"{name}: {what}: HTTP 429 (injected)", retry_after=0)
    if kind == "500":
        raise TransientError(f"{name}: {what}: HTTP 500 (injected)")
    if kind == "timeout":
        raise TransientError(f"{name}: {what}: timed out (injected)")
    raise TransientError(f"{name}: {what}: connection reset by peer (injected)")


class FaultyConnector(Connector):
    def __init__(self, inner: Connector, plan: FaultPlan) -> None:
        super().__init__(inner.name)
        self.inner, self.plan = inner, plan
        self.vendor = inner.vendor
        self.batch_size = inner.batch_size

    def _read_fault(self, what: str) -> None:
        kind = self.plan.draw(READ_KINDS)
        if kind is not None:
            _raise(self.name, kind, what)

    async def describe(self, object: str) -> ObjectSchema:
        return await self.inner.describe(object)

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        async for page in self.inner.scan(object, fields):
            self._read_fault("scan")
            yield page

    async def change_cursor(self, object: str) -> str:
        self._read_fault("change cursor")
        return await self.inner.change_cursor(object)

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        async for page in self.inner.changes(object, cursor, fields):
            self._read_fault("changes")
            yield page

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        self._read_fault("read")
        return await self.inner.read(object, ids, fields)

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        self._read_fault("find")
        return await self.inner.find(object, field, values, fields)

    async def _write(self, what: str, items: Sequence[T],
                     call: Callable[[Sequence[T]], Awaitable[list[WriteResult]]]) -> list[WriteResult]:
        kind = self.plan.draw(WRITE_KINDS)
        # A create is not repeatable: after a 5xx, a time-out or a reset a connector cannot
        # tell whether it happened and says so (as the HubSpot connector does).
        unknown = what == "create" and kind in ("500", "timeout", "reset")
        if kind in ("429", "500"):
            _raise(self.name, kind, what, unknown)
        if kind == "timeout":
            await call(items)
            _raise(self.name, kind, what, unknown)
        if kind == "reset":
            cut = self.plan.rng.randint(0, len(items))
            if cut:
                await call(items[:cut])
            _raise(self.name, kind, what, unknown)
        if kind == "partial" and len(items) > 0:
            failed = {i for i in range(len(items)) if self.plan.rng.random() < 0.5}
            done = iter(await call([it for i, it in enumerate(items) if i not in failed]))
            err = WriteError(ErrorCategory.TRANSIENT, "internal error (injected 207 entry)", "Retried later.")
            return [WriteResult.failure(err) if i in failed else next(done) for i in range(len(items))]
        return await call(items)

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        return await self._write("create", items, lambda chunk: self.inner.create(object, chunk))

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        return await self._write("update", items, lambda chunk: self.inner.update(object, chunk))

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        return await self._write("archive", ids, lambda chunk: self.inner.archive(object, chunk))

    async def list_members(self, object: str, list_name: str) -> frozenset[str]:
        return await self.inner.list_members(object, list_name)

    async def pipelines(self, object: str) -> list[Pipeline]:
        return await self.inner.pipelines(object)

    async def associations(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, list[str]]:
        return await self.inner.associations(from_object, ids, to_object)

    def association_kind(self, from_object: str, to_object: str) -> AssociationKind:
        return self.inner.association_kind(from_object, to_object)

    async def associated(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, Associated]:
        self._read_fault("associations")
        return await self.inner.associated(from_object, ids, to_object)

    async def associate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        return await self._write("associate", pairs, lambda chunk: self.inner.associate(from_object, to_object, chunk))

    async def make_primary(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        return await self._write("associate", pairs, lambda chunk: self.inner.make_primary(from_object, to_object, chunk))

    async def dissociate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        return await self._write("dissociate", pairs, lambda chunk: self.inner.dissociate(from_object, to_object, chunk))

    async def aclose(self) -> None:
        await self.inner.aclose()

