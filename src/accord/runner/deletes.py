"""The delete guard: a pass deletes nothing as it goes; at its end it carries out the deletes it
found, or holds them for a confirmation (README, "Deletes"; docs/reliability.md).

* While a pass runs, a plan that would delete or archive a record is deferred
  (:func:`accord.runner.pairing.hold_back`): the pair is ``queued/delete_pending`` with the
  side found deleted, and nothing is written to the apps.
* At the end of the pass (:func:`settle_deletes`) the pending deletes are counted against the
  sync's linked pairs. Up to the limit (``delete_guard``: 10 % of the pairs, at least 25) they
  are carried out as before; above it they are held (``delete_held``), the sync gets a hold
  (accord.index.holds) and the pass fails with :class:`~accord.model.DeletesHeld`.
* A confirmation (``accord sync --confirm-deletes``, the dashboard, the API) turns the pairs
  held at that moment into ``delete_confirmed``; the next pass carries them out, after checking
  that their records are still gone. A later mass delete is held again.
* A container gone (:class:`~accord.model.ContainerMissing`: a list, a group, a table) stops
  the pass before anything is written and is a hold of its own; the container is created
  again only for a sync that never ran, or once that hold is confirmed (:func:`open_pass`).
* The first pass of a sync with no match key, into two apps that both hold records, waits for
  a confirmation too (:func:`guard_unmatched_start`): it would create every record of each app
  in the other, a copy of each if they were synced before (an index lost).

While a hold is on, deletes found by later passes join it: nothing is deleted until an admin
confirms, or until the held records come back (their pairs sync again and the hold lifts).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from accord.engine.planner import PairPlan, plan_deleted
from accord.index.db import now_iso
from accord.index.holds import (
    CONTAINER,
    DELETE_CONFIRMED,
    DELETE_HELD,
    DELETE_PENDING,
    MASS,
    UNMATCHED,
)
from accord.index.schema import links as links_t
from accord.index.store import Link, PageWrite
from accord.model import ContainerMissing, DeletesHeld, ExcludedReason, Record, Side, Status
from accord.runner.apply import apply
from accord.runner.context import Item, RunContext
from accord.runner.incremental import process_changed
from accord.runner.pairing import pair_locks, still_there

log = logging.getLogger("accord.runner")

L, R = Side.LEFT, Side.RIGHT

MASS_DELETE, CONTAINER_MISSING = "mass_delete", "container_missing"  # the holds' categories
UNMATCHED_START = "unmatched_start"
UNMATCHED_FLOOR = 25  # records in each app from which an unmatched start waits (as the delete guard's floor)


# -- containers ------------------------------------------------------------------------------
async def open_pass(ctx: RunContext) -> None:
    """Before a pass reads anything: both containers are there (ContainerMissing if not).

    A missing container is created only for a sync that never ran (no index rows, initial
    sync not done) or when its hold was confirmed; a container that is back lifts its hold.
    """
    name = ctx.cfg.name
    hold = ctx.store.deletes_hold(name)
    state = ctx.store.sync_state(name)
    fresh = not (state is not None and state.initial_done) and not ctx.store.has_links(name)
    create = fresh or bool(hold and hold.get("kind") == CONTAINER and hold.get("confirmed"))
    for s in (L, R):
        await _check_container(ctx, s, create)
    if hold and hold.get("kind") == CONTAINER:
        # deletes found while it was gone (held) are counted afresh at the end of this pass
        ctx.store.set_deletes_hold(name, None, ctx.fence)
        log.info("sync %s: %s is there again; its hold is lifted", name, hold.get("container"))


async def _check_container(ctx: RunContext, side: Side, create: bool) -> None:
    """``side``'s container is there; one renamed in the app since a pass found it (the index
    remembers its id under the name the config gives) is followed, with a warning, rather than
    taken for gone: a Snov.io list renamed must not lead to "create it again, empty"."""
    conn, obj = ctx.conn[side], ctx.obj[side]
    try:
        await conn.check_container(obj, create=create)
    except ContainerMissing:
        renamed = await follow_renamed_container(ctx, side)
        if renamed is None:
            raise
        log.warning("sync %s: %s's %r is now named %r there; syncing with it (write the new name in the config)",
                    ctx.cfg.name, conn.name, *renamed)
        return
    if (found := conn.container_key(obj)) is not None:
        ctx.store.remember_id(ctx.cfg.name, _container_slot(side), *found)


async def follow_renamed_container(ctx: RunContext, side: Side) -> tuple[str, str] | None:
    """(the name the config gives, the name it has now) if ``side``'s container is one a pass
    found under the configured name and that has been renamed in the app since; the connector
    then uses it (Connector.follow_container). None: no id remembered, or that one is gone."""
    known = ctx.store.remembered_id(ctx.cfg.name, _container_slot(side))
    if known is None:
        return None
    now = await ctx.conn[side].follow_container(ctx.obj[side], *known)
    return None if now is None else (known[0], now)


def _container_slot(side: Side) -> str:
    return f"container:{side.value}"


def never_had_container(ctx: RunContext, e: ContainerMissing) -> bool:
    """The sync never ran (no pass finished its initial sync, no pairs), so the missing container
    lost it nothing: ``e``'s hint becomes what to check or create (``fresh_hint``), not what to
    restore. A container Accord may create is created by such a sync's first pass instead."""
    state = ctx.store.sync_state(ctx.cfg.name)
    if (state is not None and state.initial_done) or ctx.store.has_links(ctx.cfg.name) or e.creatable:
        return False
    e.hint = e.fresh_hint or (f"Check the name: {e.app} has no {e.container.removeprefix('the ')}. Create it "
                              f"there, or change {e.key or 'the configuration'}.")
    return True


def container_gone(ctx: RunContext, e: ContainerMissing) -> dict[str, Any] | None:
    """Hold the sync for a vanished container (before anything was written); returns the hold.

    A sync that never ran lost nothing: the container never existed for it (a name mistyped, a
    table not made yet). Nothing is held, and the hint says what to check or create rather
    than what to restore. None then."""
    if e.key is None:
        # the connector could not name the key: the sync's object on the app's side
        side = next((s for s in (L, R) if ctx.conn[s].name == e.app), L)
        e.key = f"{ctx.path}.{side.value}.object" if ctx.path else f"{side.value}.object"
    if never_had_container(ctx, e):
        log.info("sync %s: %s: %s — %s", ctx.cfg.name, e.key, e, e.hint)
        return None
    hint = e.hint or f"Restore {e.container} in {e.app}, or change {e.key} in the configuration."
    if e.creatable:
        hint += (f" To start over without it, confirm (accord sync --sync {ctx.cfg.name} --confirm-deletes, the "
                 "dashboard or the API): Accord creates it again, empty, and the records it held count as deleted "
                 "(held for another confirmation when they are more than the delete guard allows).")
    was = ctx.store.deletes_hold(ctx.cfg.name) or {}
    same = was.get("kind") == CONTAINER and was.get("key") == e.key  # still the same: the id shown stays valid
    hold = {"kind": CONTAINER, "id": was["id"] if same else ctx.pass_id, "since": was["since"] if same else now_iso(),
            "category": CONTAINER_MISSING,
            "message": f"{e.key}: {e}", "hint": hint,
            "app": e.app, "container": e.container, "key": e.key, "confirmable": e.creatable, "confirmed": False,
            "count": 0, "targets": {"left": 0, "right": 0}}
    ctx.store.set_deletes_hold(ctx.cfg.name, hold, ctx.fence)
    e.hint = hint
    # said once: logged at info here, said as the error by whoever catches it (the CLI, the service's log)
    log.info("sync %s: %s — %s", ctx.cfg.name, hold["message"], hint)
    return hold


# -- an unmatched start -------------------------------------------------------------------------
def unmatched(ctx: RunContext) -> bool:
    """The sync matches no records (no match key: deals by default, ``match: none``) and its
    index holds no row of it: its first pass would create every record of each app in the other."""
    return not ctx.require_spec().match and not ctx.store.has_links(ctx.cfg.name)


def both_hold_records(found: dict[Side, int]) -> bool:
    """``found`` (records per app, counted up to UNMATCHED_FLOOR): enough in both for an
    unmatched start to wait for a confirmation."""
    return min(found.values()) >= UNMATCHED_FLOOR


def unmatched_start_possible(ctx: RunContext) -> bool:
    """Whether this scan may be the unmatched start :func:`guard_unmatched_start` holds
    (:func:`unmatched`). A confirmed hold is lifted here and lets the pass go on."""
    name = ctx.cfg.name
    hold = ctx.store.deletes_hold(name)
    if hold is not None and hold.get("kind") == UNMATCHED and hold.get("confirmed"):
        ctx.store.set_deletes_hold(name, None, ctx.fence)
        return False
    if unmatched(ctx):
        return True
    if hold is not None and hold.get("kind") == UNMATCHED:  # a match key set since, or rows indexed: lifted
        ctx.store.set_deletes_hold(name, None, ctx.fence)
    return False


def guard_unmatched_start(ctx: RunContext, found: dict[Side, int]) -> None:
    """Hold the start of a sync with no match key (DeletesHeld, before anything is written) when
    both apps hold at least UNMATCHED_FLOOR records (``found``: counted up to it).

    Such a pass creates every record of each app in the other. For a first sync that may be
    wanted; but if the records were synced before — an index that is gone (a new server or
    database, a sync deleted and made again) or another tool — each would be there twice, and
    no later pass can tell the copies apart. A sync with a match key pairs them instead."""
    name = ctx.cfg.name
    if not both_hold_records(found):
        hold = ctx.store.deletes_hold(name)
        if hold is not None and hold.get("kind") == UNMATCHED:
            ctx.store.set_deletes_hold(name, None, ctx.fence)  # (records deleted since)
        return
    apps = {s: ctx.conn[s].name for s in (L, R)}
    creates = " and ".join(f"each record of {apps[s.other]} in {apps[s]}" for s in (R, L)
                           if ctx.require_spec().writes_to(s))
    was = ctx.store.deletes_hold(name) or {}
    same = was.get("kind") == UNMATCHED
    key = f"{ctx.path}.match" if ctx.path else "match"
    message = (f"sync {name}: both apps already hold records ({ctx.obj[L]} in {apps[L]}, {ctx.obj[R]} in "
               f"{apps[R]}: at least {UNMATCHED_FLOOR} each) and this sync has no match key: its first pass would "
               f"create {creates}. Nothing was written.")
    hint = (f"If these records were synced before (by another tool, or by Accord with an index that is gone: a new "
            f"server or database, a sync deleted and made again), that would make a copy of each: set {key} so "
            f"that twins pair up (e.g. the name field of each app), or point state: at the old index. If they are "
            f"not copies of each other, confirm: accord sync --sync {name} --confirm, the Confirm button on the "
            f"sync's dashboard page, or POST /api/syncs/{name}/confirm-deletes.")
    hold = {"kind": UNMATCHED, "id": was["id"] if same else ctx.pass_id, "since": was["since"] if same else now_iso(),
            "category": UNMATCHED_START, "message": message, "hint": hint, "key": key, "confirmable": True,
            "confirmed": False, "found": {s.value: found[s] for s in (L, R)}, "count": 0,
            "targets": {"left": 0, "right": 0}}
    ctx.store.set_deletes_hold(name, hold, ctx.fence)
    raise _held(ctx, hold)


# -- the end of a pass -----------------------------------------------------------------------
async def settle_deletes(ctx: RunContext, *, quiet: bool = False) -> None:
    """Carry out the deletes the pass found, or hold them (DeletesHeld). ``quiet``: a pass
    that found no new delete does not fail because of a hold already on (webhook batches)."""
    name, store = ctx.cfg.name, ctx.store
    counts = store.deferred_counts(name)
    if counts.get(DELETE_CONFIRMED):
        await _carry_out(ctx, (DELETE_CONFIRMED,), check=True)
    pending, held = counts.get(DELETE_PENDING, 0), counts.get(DELETE_HELD, 0)
    hold = store.deletes_hold(name)
    if hold is None and pending + held == 0:
        return  # the usual case: two small indexed queries per pass
    guard = ctx.cfg.delete_guard
    if hold is None:
        if pending + held <= guard.floor or pending + held <= guard.limit(store.linked_pairs(name)):
            await _carry_out(ctx, (DELETE_PENDING, DELETE_HELD), check=False)
            return
    elif not pending:
        if hold.get("kind") == MASS and held == 0:
            store.set_deletes_hold(name, None, ctx.fence)  # every held record came back
            log.info("sync %s: the held deletes' records are back; the hold is lifted", name)
            return
        if hold.get("kind") == MASS and held != hold.get("count"):
            hold = _hold(ctx, hold, int(hold.get("id") or 0))  # some came back: fewer, same hold
        if quiet:
            return
        raise _held(ctx, hold)
    base = hold if hold is not None else {"kind": MASS, "category": MASS_DELETE, "since": now_iso()}
    raise _held(ctx, _hold(ctx, base, ctx.pass_id))  # new deletes: a new hold id


def _hold(ctx: RunContext, base: dict[str, Any], hold_id: int) -> dict[str, Any]:
    """Hold the pending deletes with those held already, as hold ``hold_id``; returns the hold."""
    pairs, guard = ctx.store.linked_pairs(ctx.cfg.name), ctx.cfg.delete_guard
    hold = ctx.store.hold_deletes(ctx.cfg.name, {**base, "id": hold_id, "pairs": pairs, "limit": guard.limit(pairs),
                                                 "share": guard.share, "floor": guard.floor}, ctx.fence)
    if hold["kind"] == MASS:
        hold["message"], hold["hint"] = _mass_text(ctx, hold)
        ctx.store.set_deletes_hold(ctx.cfg.name, hold, ctx.fence)
    return hold


def _held(ctx: RunContext, hold: dict[str, Any]) -> DeletesHeld:
    msg, prefix = str(hold.get("message")), f"sync {ctx.cfg.name}: "
    # info: whoever catches it says it as a warning or an error (the CLI's exit message, the
    # service's "pass stopped"); a warning here printed the same sentence twice
    log.info("%s", msg if msg.startswith(prefix) else prefix + msg)
    return DeletesHeld(str(hold.get("message")), str(hold.get("hint") or ""), hold)


def _mass_text(ctx: RunContext, hold: dict[str, Any]) -> tuple[str, str]:
    name, t = ctx.cfg.name, hold["targets"]
    apps = {L: ctx.conn[L].name, R: ctx.conn[R].name}
    where = " and ".join(f"{t[s.value]} in {apps[s]} ({ctx.obj[s]})" for s in (L, R) if t[s.value])
    gone_from = " and ".join(apps[s.other] for s in (L, R) if t[s.value])
    message = (f"sync {name}: {hold['count']} deletes held, nothing deleted: {where} would be deleted, more than "
               f"the delete guard allows ({hold['limit']}: {hold['share']:.0%} of {hold['pairs']} linked pairs, "
               f"at least {hold['floor']})")
    hint = (f"Check why so many records vanished from {gone_from} (a deleted list or table, a bulk delete, an import "
            f"gone wrong). If the deletes are intended, confirm them: accord sync --sync {name} --confirm-deletes, "
            f"the Confirm deletes button on the sync's dashboard page, or POST /api/syncs/{name}/confirm-deletes. "
            f"If not, restore the records in {gone_from} (or recreate them: accord resync --sync {name} "
            "--deleted-in SIDE): their pairs sync again and the hold lifts.")
    return message, hint


# -- carrying deletes out --------------------------------------------------------------------
async def _carry_out(ctx: RunContext, reasons: tuple[str, ...], *, check: bool) -> None:
    """Archive the surviving record of each pair with one of ``reasons``; with ``check``, pairs
    whose deleted record is there again (restored since the hold) sync instead."""
    name = ctx.cfg.name
    # deferred pairs are always queued: the (sync, status, id) index finds them without
    # reading every row of the sync
    for chunk in ctx.store.iter_links(name, links_t.c.status == Status.QUEUED.value, links_t.c.reason.in_(reasons),
                                      chunk=200):
        if check:
            chunk = await _still_gone(ctx, chunk)
        async with pair_locks(ctx, None, links=chunk):
            fresh = ctx.store.links_by_id([lk.id for lk in chunk]) if ctx.locks is not None else \
                {lk.id: lk for lk in chunk}
            items, w = [], PageWrite()
            for lk in chunk:
                link = fresh.get(lk.id)
                if link is None or link.reason not in reasons:
                    continue  # synced (or deleted) by another process meanwhile
                plan = _delete_plan(ctx, link)
                if plan is None:
                    link.set_status(Status.EXCLUDED, ExcludedReason.DELETED.value, message="deleted in both apps")
                    w.touch(link)
                    continue
                items.append(Item(link, plan, {L: None, R: None}))
            await apply(ctx, items, w)


def _delete_plan(ctx: RunContext, link: Link) -> PairPlan | None:
    """What the pair's delete is now (the sync's ``deletes`` may have changed since); None:
    both records are gone."""
    gone = L if link.left_deleted else R if link.right_deleted else None
    if gone is None or link.deleted(gone.other) or link.id_of(gone.other) is None:
        return None
    return plan_deleted(ctx.require_spec(), gone, Record(str(link.id_of(gone.other)), {}))


async def _still_gone(ctx: RunContext, chunk: Sequence[Link]) -> list[Link]:
    """The pairs whose deleted record is still gone; the others are synced as a change."""
    out = list(chunk)
    for gone in (L, R):
        ids = [str(lk.id_of(gone)) for lk in chunk if lk.deleted(gone) and lk.id_of(gone)]
        back = await still_there(ctx, gone, ids)
        if back:
            log.info("sync %s: %d records held for deletion are back in the %s app: synced, not deleted",
                     ctx.cfg.name, len(back), gone.value)
            await process_changed(ctx, gone, list(back.values()), force=True)
            out = [lk for lk in out if not (lk.deleted(gone) and lk.id_of(gone) in back)]
    return out

