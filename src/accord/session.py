"""Wiring for the imperative shell: a config, its index and its connectors, opened together."""

from __future__ import annotations

from accord.associations import AssociationTarget
from accord.config import Config, SyncConfig, config_hash, effective_deletes, sync_sides
from accord.connectors import Connector, build_connector
from accord.index import Store
from accord.model import Side
from accord.ordering import activity_parents
from accord.runner import PassResult, Progress, SyncRunner


class Session:
    def __init__(self, cfg: Config, *, store: Store | None = None, connectors: dict[str, Connector] | None = None,
                 read_ahead_cap: int | None = None) -> None:
        self.cfg = cfg
        self.store = store or Store(cfg.state)
        self.connectors: dict[str, Connector] = dict(connectors or {})
        self.read_ahead_cap = read_ahead_cap  # at most this many pages read ahead by any scan (None: the apps' own)

    def connector(self, app: str) -> Connector:
        if app not in self.connectors:
            conn = build_connector(app, self.cfg.apps[app])
            if self.read_ahead_cap is not None:
                conn.read_ahead = min(conn.read_ahead, self.read_ahead_cap)
            self.connectors[app] = conn
        return self.connectors[app]

    def runner(self, sync: str, progress: Progress | None = None, lease_wait: float | None = None) -> SyncRunner:
        s = self.cfg.sync(sync)
        index = next(i for i, x in enumerate(self.cfg.syncs) if x.name == sync)
        targets = [_target(self.cfg.sync(a)) for a in s.associations if a in {x.name for x in self.cfg.syncs}]
        return SyncRunner(s, self.store, self.connector(s.left.app), self.connector(s.right.app),
                          progress=progress, path=f"syncs[{index}]", associations=targets, lease_wait=lease_wait,
                          activity_targets=self.activity_targets(s) if s.activities else None)

    def activity_targets(self, s: SyncConfig) -> list[AssociationTarget]:
        """The syncs an activity's company and deal are translated through (accord.ordering.activity_parents)."""
        return [_target(t) for t in activity_parents(self.cfg.syncs, s)]

    async def directed_pass(self, sync: str, direction: str, progress: Progress | None = None) -> PassResult:
        """Copy existing records one way (Snov.io's "manual sync"), keeping the sync's own settings for later passes."""
        sc = self.cfg.sync(sync)
        if sc.direction not in ("two-way", direction):
            raise ValueError(f"a {sc.direction} sync cannot copy {direction}")
        # deletes keep the sync's policy: a one-way copy must not start propagating deletes
        deletes = effective_deletes(sc, self.cfg.vendor(sc.left.app), self.cfg.vendor(sc.right.app))
        one_way = sc.model_copy(update={"direction": direction, "deletes": deletes})
        index = next(i for i, x in enumerate(self.cfg.syncs) if x.name == sync)
        runner = SyncRunner(one_way, self.store, self.connector(sc.left.app), self.connector(sc.right.app),
                            progress=progress, path=f"syncs[{index}]")
        own = await self.runner(sync).prepare()
        runner.spec = (await runner.prepare()).keyed_like(own)  # bases stay the sync's own
        result = await runner.run(full=True)
        # the copy is not a config change: the sync's own fingerprint stays, its initial sync done
        self.store.ensure_sync(sync, config_hash(sc), True, sync_sides(sc))
        self.store.set_initial_done(sync, True)
        result.kind = f"manual {direction}"
        return result

    async def aclose(self) -> None:
        for c in self.connectors.values():
            await c.aclose()
        self.store.close()


def _target(t: SyncConfig) -> AssociationTarget:
    """Sync ``t`` as the target of another sync's associations (or activities): its objects per side."""
    return AssociationTarget(t.name, {Side.LEFT: t.left.object, Side.RIGHT: t.right.object})
