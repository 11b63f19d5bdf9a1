"""Carrying out plans: intents, batched writes, idempotent creates, in-flight bases.

Creates are idempotent: the intent (pending side + the record's match keys registered on
the target side) is committed before the create is sent, so a pass interrupted between the
create and the index write finds the created record by key and links it instead of
creating a second copy. Every write's planned bases are saved with it as ``in_flight`` until
it is confirmed, and settled per mapping by what landed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.associations import sync_associations, waits_for_association
from accord.engine.mapping import SyncSpec
from accord.engine.matching import MatchKeySpec
from accord.engine.planner import PairPlan
from accord.engine.values import canon
from accord.index.holds import DEFERRED
from accord.index.schema import links as links_t
from accord.index.store import Link, PageWrite
from accord.model import (
    ConnectorError,
    ErrorCategory,
    ExcludedReason,
    Record,
    Side,
    Status,
    WriteError,
    WriteOutcomeUnknown,
    WriteResult,
)
from accord.parents import Missing, create_references
from accord.parents import resolve as resolve_parents
from accord.runner.context import Item, RunContext

log = logging.getLogger("accord.runner")

L, R = Side.LEFT, Side.RIGHT

Failed = dict[str, set[Side]]  # link id → the sides whose write failed


# -- in-flight bases --------------------------------------------------------------------
def in_flight(plan: PairPlan) -> dict[str, Any] | None:
    """What the index must remember about a plan's writes until they are confirmed."""
    if plan.left_base is None or plan.right_base is None:
        return None
    # side names spelled out: an enum's .value is a slow descriptor, and this runs per write
    wrote: dict[str, Any] = {}
    if upd := plan.update[L]:
        wrote["left"] = dict(upd)
    if upd := plan.update[R]:
        wrote["right"] = dict(upd)
    if plan.create is not None:
        wrote["left" if plan.create is L else "right"] = dict(plan.create_props)
    return {"left": plan.left_base, "right": plan.right_base, "wrote": wrote}


def settle_in_flight(spec: SyncSpec, link: Link, landed: Callable[[Side, str, Any], bool]) -> None:
    """Writes sent but not confirmed (the pass died, or the batch failed after sending), or
    confirmed for some sides only (per-record failures).

    Per mapping: if each value written to a side landed there, both sides take the bases
    planned with the writes; otherwise the old bases stand (the write is redone, or the
    user's edit since then is settled as a conflict). Without this, a field the engine had
    synced and a user then edited looked changed on both sides, and the conflict rule could
    throw the user's edit away.
    """
    flight = link.in_flight or {}
    wrote = {s: (flight.get("wrote") or {}).get(s.value) or {} for s in (L, R)}
    planned = {s: flight.get(s.value) or {} for s in (L, R)}
    # The pair was planned under the flight's mappings: like any plan, that drops the bases of
    # other mappings (their fields may have been written under another mapping since).
    bases = {s: b if b is None or not flight else {k: v for k, v in b.items() if k in planned[s]}
             for s, b in ((L, link.left_base), (R, link.right_base))}
    for m in spec.mappings:
        if all(landed(s, m.field(s), wrote[s][m.field(s)]) for s in (L, R) if m.field(s) in wrote[s]):
            k = m.base_key  # writes are by field, bases by mapping
            for s in (L, R):
                if k in planned[s]:
                    bases[s] = {**(bases[s] or {}), k: planned[s][k]}
    link.left_base, link.right_base, link.in_flight = bases[L], bases[R], None


def _landed_unless(failed: set[Side]) -> Callable[[Side, str, Any], bool]:
    return lambda side, field, value: side not in failed


# -- carrying out plans -----------------------------------------------------------------
@dataclass
class _Writes:
    """A page's plans sorted by the writes they need."""

    creates: dict[Side, list[Item]] = field(default_factory=lambda: {L: [], R: []})
    updates: dict[Side, list[Item]] = field(default_factory=lambda: {L: [], R: []})
    archives: dict[Side, list[Item]] = field(default_factory=lambda: {L: [], R: []})
    writing: list[Item] = field(default_factory=list)


async def apply(ctx: RunContext, items: list[Item], w: PageWrite, cursor: tuple[Side, str] | None = None) -> None:
    """Carry out a page's plans: save what needs no write, send the writes, save their outcome."""
    if ctx.touched is not None:
        ctx.touched.update(it.link.id for it in items)
    writes = _sort(ctx, items, w)
    if ctx.associations and (writes.creates[L] or writes.creates[R]):
        await _parents_first(ctx, writes, w)
    if writes.writing:
        w = _save_before_sending(ctx, writes, w)
    try:
        failed = await _send(ctx, writes, w)
        _settle(ctx, writes.writing, failed, w)
        ctx.save(w, cursor, page_end=True)  # a scan page's last save (its cursor is kept with it)
    except BaseException:
        if w.intent is not None:
            # the page stops here: its intent becomes rows now rather than at the next pass's
            # start, so that whatever this process does next (a webhook batch between pages)
            # sees them. Best effort: the index may be what failed.
            with contextlib.suppress(Exception):
                ctx.store.replay_intents(ctx.cfg.name, ctx.fence)
        raise


def _sort(ctx: RunContext, items: list[Item], w: PageWrite) -> _Writes:
    """Settle the plans without writes in ``w``; sort the others by write."""
    counters = ctx.counters
    out = _Writes()
    for it in items:
        link, plan = it.link, it.plan
        if not plan.writes:
            link.snapshot = None  # only needed until the pair is planned: keeps index rows small
        if not plan.writes or link.id in w.new:
            w.touch(link)
        if plan.deleted is not None:
            link.set_deleted(plan.deleted, True)
        elif link.reason in DEFERRED:
            # a record whose delete was waiting is there again: its delete is off
            link.left_deleted = link.right_deleted = False
        else:
            for s in (L, R):  # a record read live is not deleted (restored from a recycle bin)
                if (rec := it.records.get(s)) is not None and not rec.archived and rec.id == link.id_of(s):
                    link.set_deleted(s, False)
        counters.conflicts += plan.conflicts
        if plan.status == Status.EXCLUDED and plan.reason:
            counters.exclude(plan.reason)
        if not plan.writes:
            _set_status(ctx, link, plan)
            if plan.left_base is not None:  # merged: syncing, or synced once outside the inclusion list
                link.left_base, link.right_base = plan.left_base, plan.right_base
                counters.unchanged += 1
            continue
        out.writing.append(it)
        if plan.create:
            out.creates[plan.create].append(it)
        for s in (L, R):
            if plan.update[s]:
                out.updates[s].append(it)
        if plan.archive:
            out.archives[plan.archive].append(it)
    return out


async def _parents_first(ctx: RunContext, writes: _Writes, w: PageWrite) -> None:
    """Creates that must name their parent (OpportunityLineItem.OpportunityId) carry it; those
    whose parent is not paired yet wait, queued, and are planned again by a later pass."""
    for s in (L, R):
        refs = create_references(ctx.conn[s], ctx.obj[s], s, ctx.associations) if writes.creates[s] else []
        if not refs:
            continue
        src = {it.link.id: str(it.link.id_of(s.other)) for it in writes.creates[s]}
        found = await resolve_parents(ctx.store, ctx.conn, ctx.obj, s, refs, list(src.values()))
        waiting: set[str] = set()
        for it in writes.creates[s]:
            got = found[src[it.link.id]]
            if isinstance(got, dict):
                it.plan.create_props.update(got)
                continue
            waiting.add(it.link.id)
            if isinstance(got, Missing):  # nothing to wait for: the record itself lacks the parent
                it.link.set_status(Status.FAILING, category=ErrorCategory.VALIDATION.value, message=got.message,
                                   hint=got.hint)
                ctx.counters.failed[s.value] += 1
            else:
                it.link.set_status(Status.QUEUED, ExcludedReason.WAITING_FOR_ASSOCIATION.value, message=got)
            it.link.snapshot = None
            w.touch(it.link)
        if waiting:
            for lists in (writes.creates, writes.updates, writes.archives):
                for side in (L, R):
                    lists[side] = [it for it in lists[side] if it.link.id not in waiting]
            writes.writing = [it for it in writes.writing if it.link.id not in waiting]


def _save_before_sending(ctx: RunContext, writes: _Writes, w: PageWrite) -> PageWrite:
    """Save everything decided so far with the create intents and the bases the writes will set,
    before anything is sent; returns the PageWrite for what follows.

    If the pass dies between a write and the final save, the next plan of the pair settles
    what landed (settle_in_flight).

    Saved as one intent row (Store.write_intent): the page's last save writes its rows once,
    as they end up, and deletes the intent; ``w`` goes on collecting the outcomes. A pass run
    in steps (``ctx.ledger``: distributed mode) saves the rows themselves, with the counters
    they add, and goes on with a fresh PageWrite.
    """
    if writes.creates[L] or writes.creates[R]:
        _record_intents(ctx, writes.creates, w)
    for it in writes.writing:
        it.link.in_flight = in_flight(it.plan)
        if it.link.id not in w.new:
            w.pending[it.link.id] = it.link
    if ctx.ledger is None:
        ctx.store.write_intent(ctx.cfg.name, w, ctx.fence)
        return w
    ctx.save(w)
    return PageWrite()


async def _send(ctx: RunContext, writes: _Writes, w: PageWrite) -> Failed:
    """Send the writes side by side, in batches; returns the sides each failed link failed on."""
    failed: Failed = {}
    for s in (L, R):
        if creates := writes.creates[s]:
            results = await _batched(ctx, s, "create", [it.plan.create_props for it in creates])
            for it, res in zip(creates, results, strict=True):
                _after_create(ctx, it, s, res, w, failed)
        if updates := writes.updates[s]:
            results = await _batched(ctx, s, "update", [(str(it.link.id_of(s)), it.plan.update[s]) for it in updates])
            for it, res in zip(updates, results, strict=True):
                _after_write(ctx, it, s, res, failed)
        if archives := writes.archives[s]:
            results = await _batched(ctx, s, "archive", [str(it.link.id_of(s)) for it in archives])
            for it, res in zip(archives, results, strict=True):
                if res.ok:
                    it.link.set_deleted(s, True)
                    ctx.counters.archived[s.value] += 1
                else:
                    _fail(ctx, it, s, res, failed)
    return failed


def _settle(ctx: RunContext, writing: list[Item], failed: Failed, w: PageWrite) -> None:
    """The pairs' status and bases after their writes."""
    matched = _matched_bases(ctx.require_spec())
    for it in writing:
        link, plan = it.link, it.plan
        # kept through the save before the writes: a scan step resumed after a crash
        # replans the pair from it (and settles what landed)
        link.snapshot = None
        w.touch(link)
        if link.id in failed:
            # Per mapping, writes to the sides that succeeded are synced (both bases move)
            # and the others not: a base moved on one side only would turn a later edit
            # of the field there into a conflict.
            link.attempts += 1
            settle_in_flight(ctx.require_spec(), link, _landed_unless(failed[link.id]))
            continue
        _set_status(ctx, link, plan)
        link.attempts = 0
        link.in_flight = None
        if plan.status == Status.SYNCING or plan.left_base is not None:  # see _sort
            for s in (L, R):
                before = link.base(s)
                _set_base(ctx, it, s)
                if matched[s] and before is not None and link.base(s) is not None:
                    _follow_key_change(ctx, link, s, matched[s], before, w)


def _matched_bases(spec: SyncSpec) -> dict[Side, list[tuple[MatchKeySpec, str]]]:
    """Per side, each match key whose field is mapped, with the base key its value is kept under."""
    out: dict[Side, list[tuple[MatchKeySpec, str]]] = {}
    for s in (L, R):
        by_field = dict(spec.based(s))
        out[s] = [(m, by_field[m.field(s.value)]) for m in spec.match if m.field(s.value) in by_field]
    return out


def _follow_key_change(ctx: RunContext, link: Link, side: Side, matched: list[tuple[MatchKeySpec, str]],
                       before: Mapping[str, Any], w: PageWrite) -> None:
    """The pair's match keys follow its record's new e-mail (name, domain …): the old key is
    released and the new one taken (unless another pair holds it). Else a new record with the old
    e-mail — an address handed on, a person back — would be a "duplicate" of this pair's record
    for good, which no longer has it."""
    after = link.base(side)
    assert after is not None
    gone: list[str] = []
    came: list[str] = []
    for m, k in matched:
        if before.get(k) == after.get(k):
            continue  # (the usual case: one comparison per match key)
        old, new = m.normalise(before.get(k)), m.normalise(after.get(k))
        if old != new:
            gone += [f"{m.name}:{old}"] if old else []
            came += [f"{m.name}:{new}"] if new else []
    if not gone and not came:
        return
    sv = side.value
    owners = ctx.store.key_owners(ctx.cfg.name, side, gone + came)
    added = {k for s_, k, _ in w.add_keys if s_ == sv}
    w.drop_keys += [(sv, k) for k in gone if owners.get(k) == link.id and k not in came]
    w.add_keys += [(sv, k, link.id) for k in came if k not in owners and k not in added]


def _set_status(ctx: RunContext, link: Link, plan: PairPlan) -> None:
    """The pair's status as planned; a pair waiting for an associated record stays so: the
    association step after the records says when it no longer waits (before, a pass that read
    the pair again set it syncing, and that step queued it again: a count that flickered)."""
    if not (plan.status == Status.SYNCING and ctx.associations and waits_for_association(link)):
        link.set_status(plan.status, plan.reason, plan.category, plan.message, plan.hint)


def _set_base(ctx: RunContext, it: Item, side: Side) -> None:
    link, base = it.link, it.plan.base(side)
    written = it.stored.get(side)
    if base is not None and written is not None:
        # The app may normalise what we wrote (case, formats): its stored value is the base.
        stored = written.properties
        base = {**base, **{k: canon(stored[f]) for f, k in ctx.require_spec().based(side) if f in stored}}
    if side is L:
        link.left_base = base
    else:
        link.right_base = base


def _record_intents(ctx: RunContext, creates: dict[Side, list[Item]], w: PageWrite) -> None:
    """Commit "about to create on side S" with the record's keys, before sending the create."""
    name = ctx.cfg.name
    for s, items in creates.items():
        if not items:
            continue
        src_side = s.other
        wanted = {it.link.id: ctx.keys(rec, src_side) for it in items if (rec := it.records[src_side]) is not None}
        owned = ctx.store.key_owners(name, s, [k for ks in wanted.values() for k in ks])
        sv = s.value
        taken = set(owned) | {k for side_, k, _ in w.add_keys if side_ == sv}
        for it in items:
            it.link.pending = sv
            for k in wanted.get(it.link.id, []):
                if k not in taken:
                    w.add_keys.append((sv, k, it.link.id))
                    it.intent_keys.append(k)
                    taken.add(k)
            if it.link.id not in w.new:
                w.pending[it.link.id] = it.link


async def _batched(ctx: RunContext, side: Side, op: str, payload: list[Any]) -> list[WriteResult]:
    conn = ctx.conn[side]
    out: list[WriteResult] = []
    for i in range(0, len(payload), conn.batch_size):
        chunk = payload[i:i + conn.batch_size]
        res = await (_create(ctx, side, chunk) if op == "create" else getattr(conn, op)(ctx.obj[side], chunk))
        if len(res) != len(chunk):
            raise ConnectorError(f"{conn.name}: {op} returned {len(res)} results for {len(chunk)} records")
        out.extend(res)
    return out


# -- creates carried out once -----------------------------------------------------------
async def _create(ctx: RunContext, side: Side, chunk: list[dict[str, Any]], tries: int = 5) -> list[WriteResult]:
    """Create records; when the app's answer was lost (WriteOutcomeUnknown) the outcomes the
    connector still knows are kept, the rest are looked up by match key, and only the ones
    not there are sent again, so a create is carried out once. A record without a match key
    cannot be looked up: it is never sent again but fails with ``outcome_unknown`` (it may
    exist in the app) until a person resyncs it."""
    results: list[WriteResult | None] = [None] * len(chunk)
    todo = list(range(len(chunk)))
    for attempt in range(tries):
        try:
            res = await ctx.conn[side].create(ctx.obj[side], [chunk[i] for i in todo])
        except WriteOutcomeUnknown as e:
            if e.results is not None and len(e.results) == len(todo):
                for i, known in zip(todo, e.results, strict=True):
                    results[i] = known
                todo = [i for i in todo if results[i] is None]
            if attempt == tries - 1 and todo:
                raise
            log.warning("sync %s: %s; looking the records up before sending them again", ctx.cfg.name, e)
            there = await _created(ctx, side, [chunk[i] for i in todo])
            found = [(i, rec) for i, rec in zip(todo, there, strict=True) if rec is not None]
            for (i, _), done in zip(found, await _complete(ctx, side, [(chunk[i], rec) for i, rec in found]),
                                    strict=True):
                results[i] = done
            for i, rec in zip(todo, there, strict=True):
                if rec is None and not ctx.keys(Record("", chunk[i]), side):
                    results[i] = WriteResult.failure(_outcome_unknown(ctx, side))
            todo = [i for i in todo if results[i] is None]
            if not todo:
                break
            continue
        if len(res) != len(todo):
            break  # reported by _batched
        for i, r in zip(todo, res, strict=True):
            results[i] = r
        break
    return [r for r in results if r is not None]


async def _complete(ctx: RunContext, side: Side, found: list[tuple[dict[str, Any], Record]]) -> list[WriteResult]:
    """Records a create whose answer was lost did make, as created. A value the record lacks of
    what the create sent is written by an update: the create may have landed only in part (a
    Salesforce product's price is a second request, to its price book entry), and a record
    lacking a value its pair's base holds would read as that value blanked in the app. If the
    update fails, the record still counts as created (it exists): the next pass plans the
    difference again."""
    refs = set(ctx.conn[side].create_references(ctx.obj[side]).values())  # fixed at create
    diffs = [{f: v for f, v in props.items() if f not in refs and canon(v) != canon(rec.properties.get(f))}
             for props, rec in found]
    out = [WriteResult.success(rec.id, rec) for _, rec in found]
    todo = [i for i, d in enumerate(diffs) if d]
    if not todo:
        return out
    try:
        res = await ctx.conn[side].update(ctx.obj[side], [(found[i][1].id, diffs[i]) for i in todo])
    except WriteOutcomeUnknown:
        return out
    for i, r in zip(todo, res, strict=False):
        rec = found[i][1]
        if r.ok:
            out[i] = WriteResult.success(rec.id, Record(rec.id, {**rec.properties, **diffs[i]}))
        else:
            log.warning("sync %s: %s %s was found after a lost answer, but completing it failed: %s",
                        ctx.cfg.name, ctx.obj[side], rec.id, r.error.message if r.error else "")
    return out


def _outcome_unknown(ctx: RunContext, side: Side) -> WriteError:
    app = (ctx.cfg.left if side is L else ctx.cfg.right).app
    return WriteError(ErrorCategory.OUTCOME_UNKNOWN,
                      f"the answer of {app} to this create was lost, and the record has no match key to look it up "
                      f"by: it may have been created in {app}",
                      hint=f"Look for the record in {app}. If it is not there, resync this record to create it; "
                           "Accord does not send it again by itself, which could create it twice.")


async def _created(ctx: RunContext, side: Side, items: list[dict[str, Any]]) -> list[Record | None]:
    """The record each create would have made, if the app has one with its match key that
    the index does not know yet."""
    spec = ctx.require_spec()
    found: dict[str, list[Record]] = {}
    for key in spec.match:
        f = key.field(side.value)
        values = list(dict.fromkeys(v for p in items if (v := canon(p.get(f))) is not None))
        if values:
            for r in await ctx.conn[side].find(ctx.obj[side], f, values, spec.fields(side)):
                for k in ctx.keys(r, side):
                    found.setdefault(k, []).append(r)
    known = ctx.store.links_by_record(ctx.cfg.name, side, [r.id for rs in found.values() for r in rs])
    used: set[str] = set()
    out: list[Record | None] = []
    for props in items:
        rec = next((r for k in ctx.keys(Record("", props), side) for r in found.get(k, [])
                    if r.id not in known and r.id not in used), None)
        if rec is not None:
            used.add(rec.id)
        out.append(rec)
    return out


# -- outcomes ---------------------------------------------------------------------------
def _after_create(ctx: RunContext, it: Item, s: Side, res: WriteResult, w: PageWrite, failed: Failed) -> None:
    link = it.link
    link.pending = None
    if res.ok and res.id:
        link.set_id(s, res.id)
        it.stored[s] = res.record
        ctx.counters.created[s.value] += 1
    else:
        # The intent's keys must not block a later create or match.
        w.drop_keys.extend((s.value, k) for k in it.intent_keys)
        _fail(ctx, it, s, res, failed)


def _after_write(ctx: RunContext, it: Item, s: Side, res: WriteResult, failed: Failed) -> None:
    if res.ok:
        it.stored[s] = res.record
        ctx.counters.updated[s.value] += 1
    else:
        _fail(ctx, it, s, res, failed)


def _fail(ctx: RunContext, it: Item, s: Side, res: WriteResult, failed: Failed) -> None:
    err = res.error
    ctx.counters.failed[s.value] += 1
    failed.setdefault(it.link.id, set()).add(s)
    if ctx.failed_now is not None:
        ctx.failed_now.add(it.link.id)
    # a connector knows only its own app: "correct it in the source app" names the app the
    # value came from, as accord.yaml names it
    hint = (err.hint if err else None) or None
    if hint is not None:
        hint = hint.replace("the source app", ctx.require_spec().app(s.other))
    it.link.set_status(
        Status.FAILING,
        category=(err.category.value if err else ErrorCategory.UNKNOWN.value),
        message=(err.message if err else "the app rejected the write"),
        hint=hint,
    )


# -- associations -----------------------------------------------------------------------
async def associate(ctx: RunContext, only: set[str] | None) -> None:
    """Associations of the pairs of this pass (``None``: every linked pair, after a scan)."""
    spec = ctx.require_spec()
    writable = {L: spec.writes_to(L), R: spec.writes_to(R)}
    owed: set[str] = set()
    if only is not None and ctx.associations:
        owed = set(ctx.store.owed_associations(ctx.cfg.name))  # owed by an earlier pass
        only = only | owed
    for target in ctx.associations:
        others = frozenset(t.sync for t in ctx.associations if t.sync != target.sync)
        chunks = (ctx.store.iter_links(ctx.cfg.name, links_t.c.left_id.is_not(None), links_t.c.right_id.is_not(None))
                  if only is None else _owed_or_touched(ctx, target.sync, sorted(only), owed))
        for chunk in chunks:
            res = await sync_associations(ctx.store, ctx.cfg.name, chunk, ctx.conn, ctx.obj, target,
                                          spec.winner, writable, others)
            for k, v in res.written.items():
                ctx.counters.associated[k] += v


def _owed_or_touched(ctx: RunContext, target: str, ids: Sequence[str], owed: set[str]) -> Iterator[list[Link]]:
    """The links of ``ids``, in batches. An owed pair whose link is gone since (merged into
    another, unlinked) is forgotten: left owed, it would be looked up by every pass, and enough
    of them would crowd the pairs really owed out of ``owed_associations``' limit."""
    for ids_ in _batches(ids, 500):
        found = ctx.store.links_by_id(ids_)
        gone = [i for i in ids_ if i in owed and i not in found]
        if gone:
            ctx.store.forget_association_bases(ctx.cfg.name, target, gone)
        yield list(found.values())


def owe_associations(ctx: RunContext, touched: set[str]) -> None:
    """A pass that stopped before the associations of the pairs it synced: their records left
    the change feed, so the pairs are marked owed and the next pass syncs their associations.
    Best effort: the index may be what failed."""
    with contextlib.suppress(Exception):
        for target in ctx.associations:
            ctx.store.owe_associations(ctx.cfg.name, target.sync, sorted(touched))


def rewind_cursors(ctx: RunContext, before: dict[Side, str | None]) -> None:
    """A scan pass that stopped in its associations: the change cursors go back to where they
    were before it, so the next incremental pass reads the changed records again and syncs
    their associations (re-reading a record in step writes nothing). Best effort."""
    with contextlib.suppress(Exception):
        for s, cursor in before.items():
            if cursor is not None:
                ctx.store.set_cursor(ctx.cfg.name, s, cursor)


def _batches(items: Sequence[str], n: int) -> list[list[str]]:
    return [list(items[i:i + n]) for i in range(0, len(items), n)]
