"""Wiring for the imperative shell: a config, its index and its connectors, opened together."""

from __future__ import annotations

from accord.associations import AssociationTarget
from accord.config import Config
from accord.connectors import Connector, build_connector
from accord.index import Store
from accord.model import Side
from accord.runner import Progress, SyncRunner


class Session:
    def __init__(self, cfg: Config, *, store: Store | None = None, connectors: dict[str, Connector] | None = None) -> None:
        self.cfg = cfg
        self.store = store or Store(cfg.state)
        self.connectors: dict[str, Connector] = dict(connectors or {})

    def connector(self, app: str) -> Connector:
        if app not in self.connectors:
            self.connectors[app] = build_connector(app, self.cfg.apps[app])
        return self.connectors[app]

    def runner(self, sync: str, progress: Progress | None = None) -> SyncRunner:
        s = self.cfg.sync(sync)
        index = next(i for i, x in enumerate(self.cfg.syncs) if x.name == sync)
        targets = [AssociationTarget(t.name, {Side.LEFT: t.left.object, Side.RIGHT: t.right.object})
                   for t in (self.cfg.sync(a) for a in s.associations if a in {x.name for x in self.cfg.syncs})]
        return SyncRunner(s, self.store, self.connector(s.left.app), self.connector(s.right.app),
                          progress=progress, path=f"syncs[{index}]", associations=targets)

    async def aclose(self) -> None:
        for c in self.connectors.values():
            await c.aclose()
        self.store.close()
