"""Service state: the apps (with their encrypted configuration) and syncs made through the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from accord.index.db import IndexDB, now_iso
from accord.index.schema import managed_apps, managed_syncs


class ManagedConfig(IndexDB):
    def managed_apps(self) -> dict[str, tuple[str, str]]:
        """name → (type, encrypted config)."""
        with self.engine.connect() as c:
            return {r.name: (r.type, r.secret) for r in c.execute(select(managed_apps).order_by(managed_apps.c.name))}

    def put_managed_app(self, name: str, type: str, secret: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(managed_apps).where(managed_apps.c.name == name))
            c.execute(insert(managed_apps).values(name=name, type=type, secret=secret,
                                                  created_at=now_iso(), updated_at=now_iso()))

    def delete_managed_app(self, name: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(managed_apps).where(managed_apps.c.name == name))

    def managed_syncs(self) -> list[dict[str, Any]]:
        """The stored sync configs, oldest first."""
        with self.engine.connect() as c:
            rows = c.execute(select(managed_syncs).order_by(managed_syncs.c.created_at, managed_syncs.c.name))
            return [dict(r.config) for r in rows]

    def put_managed_sync(self, name: str, config: dict[str, Any]) -> None:
        with self.engine.begin() as c:
            row = c.execute(select(managed_syncs.c.created_at).where(managed_syncs.c.name == name)).first()
            c.execute(delete(managed_syncs).where(managed_syncs.c.name == name))
            c.execute(insert(managed_syncs).values(name=name, config=config, updated_at=now_iso(),
                                                   created_at=row.created_at if row else now_iso()))

    def rename_managed_sync(self, old: str, new: str, configs: dict[str, dict[str, Any]]) -> None:
        """``old``'s row renamed ``new`` and the ``configs`` given (by their new names) written, in
        one transaction; each row keeps its place (created_at): a sync is read after those it names."""
        with self.engine.begin() as c:
            c.execute(update(managed_syncs).where(managed_syncs.c.name == old).values(name=new))
            for name, config in configs.items():
                c.execute(update(managed_syncs).where(managed_syncs.c.name == name)
                          .values(config=config, updated_at=now_iso()))

    def delete_managed_sync(self, name: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(managed_syncs).where(managed_syncs.c.name == name))
