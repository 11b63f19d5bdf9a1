"""A dry-run wrapper: reads go to the real app, writes are counted and never sent."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping, Sequence

from accord.connectors.base import ApiCounters, Associated, AssociationKind, Connector
from accord.model import (
    ContainerMissing,
    ObjectSchema,
    Option,
    Page,
    Pipeline,
    Record,
    Stage,
    Value,
    WriteResult,
)


async def _no_pages() -> AsyncIterator[Page]:
    return
    yield  # an async generator with no page


class DryConnector(Connector):
    def __init__(self, inner: Connector) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.vendor = inner.vendor
        self.batch_size = inner.batch_size
        self._ids = itertools.count(1)
        self._unmade: set[str] = set()  # objects whose container the pass would create: read as empty

    async def describe(self, object: str) -> ObjectSchema:
        return await self.inner.describe(object)

    async def check(self) -> None:
        await self.inner.check()

    async def account(self) -> str | None:
        return await self.inner.account()

    async def check_container(self, object: str, *, create: bool) -> None:
        """Never creates a container; one the pass would create is read as empty."""
        try:
            await self.inner.check_container(object, create=False)
        except ContainerMissing as e:
            if not (create and e.creatable):
                raise
            self._unmade.add(object)

    def container_key(self, object: str) -> tuple[str, str] | None:
        return self.inner.container_key(object)

    async def follow_container(self, object: str, name: str, key: str) -> str | None:
        return await self.inner.follow_container(object, name, key)

    def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        return _no_pages() if object in self._unmade else self.inner.scan(object, fields)

    async def change_cursor(self, object: str) -> str:
        return "" if object in self._unmade else await self.inner.change_cursor(object)

    def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        return _no_pages() if object in self._unmade else self.inner.changes(object, cursor, fields)

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        if object in self._unmade:
            return []
        return await self.inner.read(object, [i for i in ids if not i.startswith("dry-")], fields)

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        return [] if object in self._unmade else await self.inner.find(object, field, values, fields)

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        return [WriteResult.success(f"dry-{next(self._ids)}") for _ in items]

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        return [WriteResult.success(rid) for rid, _ in items]

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        return [WriteResult.success(rid) for rid in ids]

    async def list_objects(self) -> list[Option]:
        return await self.inner.list_objects()

    async def inclusion_lists(self, object: str) -> list[Option]:
        return await self.inner.inclusion_lists(object)

    async def list_members(self, object: str, list_name: str) -> frozenset[str]:
        return await self.inner.list_members(object, list_name)

    def list_key(self, object: str, list_name: str) -> str | None:
        return self.inner.list_key(object, list_name)

    async def list_name_of(self, object: str, key: str) -> str | None:
        return await self.inner.list_name_of(object, key)

    async def pipelines(self, object: str) -> list[Pipeline]:
        return await self.inner.pipelines(object)

    async def associations(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, list[str]]:
        # records the dry run "created" exist nowhere: they have no associations yet
        return await self.inner.associations(from_object, [i for i in ids if not i.startswith("dry-")], to_object)

    async def associate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        return [WriteResult.success(a) for a, _ in pairs]

    def association_kind(self, from_object: str, to_object: str) -> AssociationKind:
        return self.inner.association_kind(from_object, to_object)

    def holds_associations(self, object: str, id: str) -> bool:
        return self.inner.holds_associations(object, id)

    def create_references(self, object: str) -> dict[str, str]:
        # a plan shows a line item whose deal or product is not paired yet as waiting, as the sync would
        return self.inner.create_references(object)

    async def associated(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, Associated]:
        found = await self.inner.associated(from_object, [i for i in ids if not i.startswith("dry-")], to_object)
        return {i: found.get(i, Associated([])) for i in ids}

    async def make_primary(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        return [WriteResult.success(a) for a, _ in pairs]

    async def dissociate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        return [WriteResult.success(a) for a, _ in pairs]

    def creates_stages(self, object: str) -> bool:
        return self.inner.creates_stages(object)

    async def ensure_stages(self, object: str, pipeline: str, labels: Sequence[str]) -> list[Stage]:
        """The stages the app has, and made-up ones for the labels it lacks (never created)."""
        have = {s.label.casefold().strip(): s for p in await self.inner.pipelines(object) if p.id == pipeline
                for s in p.stages}
        return [have.get(label.casefold().strip()) or Stage(f"dry-stage-{next(self._ids)}", label) for label in labels]

    def counters(self) -> ApiCounters:
        return self.inner.counters()  # the reads go to the real app
