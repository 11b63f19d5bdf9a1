"""A dry-run wrapper: reads go to the real app, writes are counted and never sent."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping, Sequence

from accord.connectors.base import ApiCounters, Connector
from accord.model import ObjectSchema, Page, Pipeline, Record, Value, WriteResult


class DryConnector(Connector):
    def __init__(self, inner: Connector) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.vendor = inner.vendor
        self.batch_size = inner.batch_size
        self._ids = itertools.count(1)

    async def describe(self, object: str) -> ObjectSchema:
        return await self.inner.describe(object)

    async def check(self) -> None:
        await self.inner.check()

    def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        return self.inner.scan(object, fields)

    async def change_cursor(self, object: str) -> str:
        return await self.inner.change_cursor(object)

    def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        return self.inner.changes(object, cursor, fields)

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        return await self.inner.read(object, [i for i in ids if not i.startswith("dry-")], fields)

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        return await self.inner.find(object, field, values, fields)

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        return [WriteResult.success(f"dry-{next(self._ids)}") for _ in items]

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        return [WriteResult.success(rid) for rid, _ in items]

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        return [WriteResult.success(rid) for rid in ids]

    async def list_members(self, object: str, list_name: str) -> frozenset[str]:
        return await self.inner.list_members(object, list_name)

    async def pipelines(self, object: str) -> list[Pipeline]:
        return await self.inner.pipelines(object)

    async def associations(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, list[str]]:
        # records the dry run "created" exist nowhere: they have no associations yet
        return await self.inner.associations(from_object, [i for i in ids if not i.startswith("dry-")], to_object)

    async def associate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        return [WriteResult.success(a) for a, _ in pairs]

    def counters(self) -> ApiCounters:
        return self.inner.counters()  # the reads go to the real app
