"""A deal sync's stages: the stage map its planner uses and, with ``stages: auto`` where one app
can add stages to its pipeline (xentral's boards), the other app's stages copied there 1:1.

xentral's HubSpot module in its "Automatisch" mode takes HubSpot's deal stages over 1:1
(seed 003): its installation adds each stage of HubSpot's first pipeline that the board lacks,
named by the stage's label. Accord does the same when it compiles the sync for a pass; a check
(``write=False``) only reports what it would add.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from accord.engine.stages import copied_stage_map, missing_stages, resolve_stage_map
from accord.index.leases import SyncLease
from accord.model import (
    AuthError,
    ConnectorError,
    Pipeline,
    RateLimited,
    Side,
    TransientError,
    UnreachableError,
)
from accord.runner.context import RunContext

log = logging.getLogger("accord.runner")

L, R = Side.LEFT, Side.RIGHT


@dataclass(frozen=True)
class StageCopy:
    """Stages of the other app's pipeline that ``stages: auto`` adds to one app's pipeline."""

    side: Side  # the app that gets the stages
    app: str
    pipeline: str  # the label of the pipeline (board) that gets them
    source: str  # the label of the pipeline they come from
    labels: tuple[str, ...]
    created: bool  # False: not created (a check, or the app refused: see ``problem``)
    problem: str | None = None

    def describe(self) -> str:
        names = ", ".join(self.labels)
        if self.problem is not None:
            return f"could not add {len(self.labels)} stages of {self.source} to {self.app} {self.pipeline}: {self.problem}"
        verb = "added" if self.created else "would add (at the start of the next pass)"
        return f"{verb} {len(self.labels)} stages of {self.source} to {self.app} {self.pipeline}: {names}"


def copy_target(ctx: RunContext) -> Side | None:
    """The side whose pipeline copies the other's stages: with ``stages: auto``, when exactly one
    app can add stages."""
    if ctx.cfg.stages != "auto":
        return None
    can = [s for s in (L, R) if ctx.conn[s].creates_stages(ctx.obj[s])]
    return can[0] if len(can) == 1 else None


def _writable(ctx: RunContext, side: Side) -> bool:
    """A one-way sync never writes to its source, stages included."""
    return {"left-to-right": L, "right-to-left": R}.get(ctx.cfg.direction) is not side


async def resolve_stages(ctx: RunContext, *, write: bool,
                         lease_wait: float | None = None) -> tuple[dict[str, str] | None, StageCopy | None]:
    """The sync's stage map (left stage ids → right stage ids), and the stages copied (or, with
    ``write=False``, to be copied) into the target app's pipeline, if any."""
    pipes = {L: await ctx.conn[L].pipelines(ctx.obj[L]), R: await ctx.conn[R].pipelines(ctx.obj[R])}
    target = copy_target(ctx)
    if target is None:
        return resolve_stage_map(ctx.cfg.stages or "auto", pipes[L], pipes[R]), None
    src, dst = pipes[target.other], pipes[target]
    copy = None
    if not dst:
        log.warning("sync %s: %s has no pipeline (board) to copy %s's stages to", ctx.cfg.name,
                    ctx.conn[target].name, ctx.conn[target.other].name)
    elif src and _writable(ctx, target) and (labels := missing_stages(src[0], dst[:1])):
        copy = StageCopy(target, ctx.conn[target].name, dst[0].label, src[0].label, tuple(labels), False)
        if write:
            dst, copy = await _add_stages(ctx, copy, dst, lease_wait)
    pairs = copied_stage_map(src, dst)
    return (pairs if target is R else {v: k for k, v in pairs.items()}), copy


async def _add_stages(ctx: RunContext, copy: StageCopy, dst: list[Pipeline],
                      lease_wait: float | None) -> tuple[list[Pipeline], StageCopy]:
    """Add the stages, under the sync's lease (two processes must not both add them); an app that
    refuses leaves the copy with a ``problem`` (its deals stay unmapped, the rest syncs)."""
    conn, board = ctx.conn[copy.side], dst[0]
    own = None
    if ctx.lease is None or not ctx.lease.held:
        own = SyncLease(ctx.store.engine, ctx.cfg.name)
        await own.acquire(timeout=lease_wait)
    try:
        stages = await conn.ensure_stages(ctx.obj[copy.side], board.id, copy.labels)
    except (AuthError, UnreachableError, RateLimited, TransientError):
        raise  # the pass fails and is retried as any other
    except ConnectorError as e:
        log.warning("sync %s: stages: auto could not add stages to %s %s: %s", ctx.cfg.name, conn.name, board.label, e)
        return dst, StageCopy(copy.side, copy.app, copy.pipeline, copy.source, copy.labels, False, str(e))
    finally:
        if own is not None:
            own.release()
    known = {s.id for s in board.stages}
    added = tuple(s for s in stages if s.id not in known)
    log.info("sync %s: stages: auto added %d stages to %s %s: %s", ctx.cfg.name, len(added), conn.name, board.label,
             ", ".join(s.label for s in added))
    return ([Pipeline(board.id, board.label, board.stages + added), *dst[1:]],
            StageCopy(copy.side, copy.app, copy.pipeline, copy.source, copy.labels, True))
