"""Pairing and planning: which index row each record belongs to, and what to do with the pair.

A record is paired by id, by a create this sync started (a pending intent), or by match key
with a record of the other app; a record whose key another record of its app already owns is
a duplicate and gets an excluded row of its own. Each pair then goes through the pure
planner (accord.engine.planner).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

from accord.config import ConfigError, ConfigIssue
from accord.engine.planner import PairInput, PairPlan, plan_pair
from accord.engine.values import canon
from accord.index.holds import DELETE_CONFIRMED, DELETE_HELD, DELETE_PENDING
from accord.index.store import Link, PageWrite
from accord.model import ContainerMissing, ErrorCategory, ExcludedReason, Record, Side, Status
from accord.runner.apply import settle_in_flight
from accord.runner.context import Item, RunContext, from_snapshot, snapshot, tombstone

L, R = Side.LEFT, Side.RIGHT
log = logging.getLogger("accord.runner")


# -- the inclusion list -----------------------------------------------------------------
async def load_members(ctx: RunContext) -> None:
    """At the start of a pass: the inclusion list's members, and an empty set of the records the
    pass meets for the first time on the other side (after the initial sync, where it matters)."""
    spec = ctx.require_spec()
    ctx.new_records = None
    if spec.inclusion_side is None or ctx.cfg.inclusion is None:
        ctx.members = None
        return
    if spec.match_once_outside_list:
        state = ctx.store.sync_state(ctx.cfg.name)
        ctx.new_records = set() if state is not None and state.initial_done else None
    side, name = spec.inclusion_side, ctx.cfg.inclusion.list
    conn, obj = ctx.conn[side], ctx.obj[side]
    try:
        try:
            ctx.members = await conn.list_members(obj, name)
            now = name
        except ContainerMissing:
            # renamed in the app (its id unchanged): followed, as HubSpot's own syncs follow a
            # list by id; the config's name is then stale, which the log and `accord check` say
            renamed = await renamed_list(ctx, side, name)
            if renamed is None:
                raise
            log.warning("sync %s: the %s list %r is now named %r there; syncing with it (write the new name in "
                        "%s.inclusion.list)", ctx.cfg.name, conn.name, name, renamed, ctx.path)
            ctx.members = await conn.list_members(obj, renamed)
            now = renamed
    except NotImplementedError as e:
        raise ConfigError(ctx.cfg.name, [ConfigIssue(f"{ctx.path}.inclusion", str(e))]) from e
    except ContainerMissing as e:
        # an empty (or missing) list would make every pair "not in the list": stop instead
        e.key = e.key or f"{ctx.path}.inclusion.list"
        raise
    if (key := conn.list_key(obj, now)) is not None:
        ctx.store.remember_id(ctx.cfg.name, _list_slot(side), name, key)


def _list_slot(side: Side) -> str:
    return f"inclusion_list:{side.value}"


async def renamed_list(ctx: RunContext, side: Side, name: str) -> str | None:
    """The name the list the config calls ``name`` has now, if it was renamed in the app since a
    pass last found it (the index remembers its id); None if not, or if it is gone. An id
    remembered under another name belongs to a list the config no longer names: never followed."""
    known = ctx.store.remembered_id(ctx.cfg.name, _list_slot(side))
    return await ctx.conn[side].list_name_of(ctx.obj[side], known[1]) if known and known[0] == name else None


def _met_first(ctx: RunContext, side: Side, rec: Record) -> None:
    """``rec`` of ``side`` is new to the index: remember it if its side is the one without the list."""
    if ctx.new_records is not None and side is not ctx.require_spec().inclusion_side:
        ctx.new_records.add(rec.id)


def _new_match(ctx: RunContext, link: Link, recs: dict[Side, Record | None]) -> bool:
    """Whether the pair's record without the list is one this pass met first (taken once)."""
    side = ctx.require_spec().inclusion_side
    if ctx.new_records is None or side is None or link.linked:
        return False
    rec = recs.get(side.other)
    if rec is None or rec.id not in ctx.new_records:
        return False
    ctx.new_records.discard(rec.id)
    return recs.get(side) is not None


def _in_list(ctx: RunContext, recs: dict[Side, Record | None]) -> bool | None:
    spec = ctx.require_spec()
    if spec.inclusion_side is None or ctx.members is None:
        return None
    rec = recs.get(spec.inclusion_side)
    return None if rec is None else rec.id in ctx.members


# -- locks of a page's pairs ------------------------------------------------------------
@contextlib.asynccontextmanager
async def pair_locks(ctx: RunContext, side: Side | None, records: Sequence[Record] = (),
                     links: Sequence[Link] = ()) -> AsyncIterator[None]:
    """Hold the locks of one page's pairs (only with ``locks``): its records' ids and match keys,
    then the ids of their twins as the index has them once those are held."""
    locks = ctx.locks
    if locks is None:
        yield
        return
    keys: set[str] = set()
    if side is not None:
        keys |= {f"{side.value}:{r.id}" for r in records}
        keys |= {f"key:{k}" for r in records if not r.archived for k in ctx.keys(r, side)}
    for lk in links:
        keys |= {f"{s.value}:{i}" for s in (L, R) if (i := lk.id_of(s)) is not None}
        if (snap := from_snapshot(lk)) is not None:
            keys |= {f"key:{k}" for k in ctx.keys(snap, L)}
    try:
        while True:
            await locks.acquire(keys)
            rows = (ctx.store.links_by_record(ctx.cfg.name, side, [r.id for r in records]).values()
                    if side is not None else ctx.store.links_by_id([lk.id for lk in links]).values())
            more = {f"{s.value}:{i}" for lk in rows for s in (L, R) if (i := lk.id_of(s)) is not None} - keys
            if not more:
                break
            keys |= more
        yield
    finally:
        locks.release()


# -- index rows -------------------------------------------------------------------------
def _label(ctx: RunContext, rec: Record, side: Side) -> str | None:
    """How the record lists name a record: its email (a match field), else "Ann Lee" (its
    name fields), else its first mapped field (``SyncSpec.label_fields``)."""
    for fields in ctx.require_spec().label_fields(side):
        label = " ".join(str(v) for f in fields if (v := canon(rec.properties.get(f))) is not None)
        if label:
            return label[:320]
    return None


def index_left(ctx: RunContext, records: Sequence[Record], *, save: bool = True) -> PageWrite:
    """Phase 1: ids, match keys and snapshots of one page of left records (saved unless not ``save``)."""
    name, p = ctx.cfg.name, ctx.pass_id
    existing = ctx.store.links_by_record(name, L, [r.id for r in records])
    freed = _free_fixed_duplicates(ctx, L, records, existing)
    keys = {r.id: ctx.keys(r, L) for r in records if r.id not in existing}
    wanted = [k for ks in keys.values() for k in ks]
    owners = ctx.store.key_owners(name, L, wanted)
    # right records indexed unpaired (a one-way target, a filtered record): a new left twin links to them
    theirs = ctx.store.key_owners(name, R, wanted)
    owner_links = ctx.store.links_by_id(list(set(owners.values()) | set(theirs.values())))
    w = PageWrite()
    w.drop_links += freed
    local: dict[str, Link] = {}
    for rec in records:
        link = existing.get(rec.id)
        if link is None:
            ks = keys[rec.id]
            owner = next((local[k] for k in ks if k in local), None) or next(
                (owner_links[owners[k]] for k in ks if k in owners and owners[k] in owner_links), None)
            if owner is not None and owner.left_id is None and owner.pending == "left":
                link = owner  # the create we started last time did happen: adopt it
                link.left_id, link.pending = rec.id, None
                ctx.counters.created[L.value] += 1  # written by this pass (a step that died before saving it)
                w.touch(link)
            elif owner is not None and _takes_place_of_deleted(ctx, owner, L, rec):
                link = owner
                w.touch(link)
                for k in ks:
                    local[k] = link
            elif owner is not None:
                link = Link(name, left_id=rec.id, label=_label(ctx, rec, L))
                _mark_duplicate(ctx, link, L, owner.left_id or owner.right_id)
                w.add(link)
            else:
                twin = _unpaired_twin(ks, theirs, owner_links)
                if twin is not None:  # claimed: its left_id is set, so no later record of the page takes it
                    link = twin
                    link.left_id = rec.id
                    w.touch(link)
                else:
                    link = Link(name, left_id=rec.id, status=Status.QUEUED, label=_label(ctx, rec, L))
                    w.add(link)
                for k in ks:
                    local[k] = link
                    w.add_keys.append(("left", k, link.id))
        else:
            w.touch(link)
            if link.reason == ExcludedReason.DUPLICATE and link.right_id is None and link.hint is None:
                link.hint = _duplicate_hint(ctx, L)  # excluded by a version that gave duplicates no hint
        link.snapshot = snapshot(rec)
        link.left_seen = p
        if link.left_deleted and not rec.archived:
            link.left_deleted = False
    if save:
        ctx.save(w)
    return w


def _free_fixed_duplicates(ctx: RunContext, side: Side, records: Sequence[Record], existing: dict[str, Link]) -> list[str]:
    """Duplicates (excluded, never paired) whose match keys no other record of their app has any
    more: someone gave one of the two another e-mail, as the duplicate's hint says. Their rows are
    taken out of ``existing`` and their ids returned, to be dropped: each record is then paired
    (or created in the other app) as a new one. A duplicate read again with the same keys stays
    excluded (a look-back re-read must never create it)."""
    unpaired = _never_paired_duplicates(ctx, side, {r.id: lk for r in records
                                                     if not r.archived and (lk := existing.get(r.id)) is not None})
    dups = [r for r in records if r.id in unpaired]
    if not dups:
        return []
    keys = {r.id: ctx.keys(r, side) for r in dups}
    owned = ctx.store.key_owners(ctx.cfg.name, side, [k for ks in keys.values() for k in ks])
    # a key whose owner's record of this app is gone frees it too: the pair the duplicate was
    # excluded for ended by a delete (one of two duplicates deleted, found before the duplicate
    # could take over: accord.runner.pairing.survivors); as a new record it takes that one's place
    owners = ctx.store.links_by_id(sorted(set(owned.values()))) if owned else {}
    live = {k for k, lid in owned.items() if lid not in owners or not _record_gone(owners[lid], side)}
    freed = {r.id for r in dups if keys[r.id] and not any(k in live for k in keys[r.id])}
    for r in dups:  # those that stay name the record that has their key now (another may have taken it over)
        holder = next((owners[owned[k]].id_of(side) for k in keys[r.id] if k in live and owned[k] in owners), None)
        if r.id not in freed and holder is not None and holder not in (existing[r.id].message or ""):
            _mark_duplicate(ctx, existing[r.id], side, holder)
    return [existing.pop(rid).id for rid in freed]


def _never_paired_duplicates(ctx: RunContext, side: Side, rows: Mapping[str, Link]) -> set[str]:
    """The keys of ``rows`` (records of ``side`` by id) whose row is a duplicate that never
    paired: excluded as one, no twin, no create pending, and owning no match keys. A row that
    owns keys paired once: a pair a merge or a conversion ended keeps its twin excluded for good
    (a new e-mail there must not create the merged-away person again)."""
    other = side.other
    dups = {rid: lk for rid, lk in rows.items()
            if lk.reason == ExcludedReason.DUPLICATE and lk.id_of(other) is None and lk.pending is None}
    paired_once = ctx.store.keys_of([lk.id for lk in dups.values()]) if dups else {}
    return {rid for rid, lk in dups.items() if lk.id not in paired_once}


def _unpaired_twin(keys: Sequence[str], theirs: dict[str, str], links: dict[str, Link]) -> Link | None:
    """A right record indexed unpaired (a one-way target, a filtered record) with one of ``keys``:
    a new left record links to it instead of being created again on the right."""
    for k in keys:
        t = links.get(theirs[k]) if k in theirs else None
        if t is not None and t.left_id is None and t.reason != ExcludedReason.DUPLICATE:
            return t
    return None


def pair(ctx: RunContext, side: Side, records: Sequence[Record], w: PageWrite) -> list[tuple[Record, Link, str | None]]:
    """Find or create the index row of each record: by id, by a pending create, or by match key.

    Returns (record, row, duplicate-of) triples; duplicates get their own excluded row.
    """
    name = ctx.cfg.name
    other = side.other
    sv = side.value  # once: an enum's .value is a slow descriptor
    existing = ctx.store.links_by_record(name, side, [r.id for r in records])
    w.drop_links += _free_fixed_duplicates(ctx, side, records, existing)
    keys = {r.id: ctx.keys(r, side) for r in records if r.id not in existing and not r.archived}
    wanted = [k for ks in keys.values() for k in ks]
    own = ctx.store.key_owners(name, side, wanted)
    theirs = ctx.store.key_owners(name, other, wanted)
    rows = ctx.store.links_by_id(list(set(own.values()) | set(theirs.values())))
    local: dict[str, Link] = {}
    claimed: set[str] = set()  # rows paired with a record of this page already
    out: list[tuple[Record, Link, str | None]] = []
    for rec in records:
        link = existing.get(rec.id)
        if link is not None:
            w.touch(link)
            if link.reason == ExcludedReason.DUPLICATE and link.id_of(other) is None and not rec.archived:
                # A duplicate read again (a change, a look-back window): it stays excluded
                # and is never created in the other app.
                if link.hint is None:  # excluded by a version that gave duplicates no hint
                    link.hint = _duplicate_hint(ctx, side)
                ctx.counters.exclude(ExcludedReason.DUPLICATE)
                out.append((rec, link, link.message or "duplicate"))
                continue
            out.append((rec, link, None))
            continue
        if rec.archived:
            continue  # a delete of a record the index never saw: nothing to do
        ks = keys[rec.id]
        owner = next((local[k] for k in ks if k in local), None) or next(
            (rows[own[k]] for k in ks if k in own and own[k] in rows), None)
        if owner is not None and owner.id_of(side) is None and owner.pending == sv:
            owner.set_id(side, rec.id)
            owner.pending = None
            ctx.counters.created[side.value] += 1  # our create, whose outcome was never saved
            w.touch(owner)
            out.append((rec, owner, None))
            continue
        if owner is not None and owner.id not in claimed and _takes_place_of_deleted(ctx, owner, side, rec):
            claimed.add(owner.id)
            w.touch(owner)
            for k in ks:
                local[k] = owner
            out.append((rec, owner, None))
            continue
        if owner is not None and owner.id_of(side) not in (None, rec.id):
            out.append((rec, _duplicate(ctx, side, rec, owner, w), owner.id_of(side)))
            continue
        _met_first(ctx, side, rec)
        match = next((rows[theirs[k]] for k in ks if k in theirs and theirs[k] in rows
                      and rows[theirs[k]].id_of(side) is None
                      and rows[theirs[k]].reason != ExcludedReason.DUPLICATE
                      and theirs[k] not in claimed), None)
        if match is not None:
            link = match
            claimed.add(link.id)
            link.set_id(side, rec.id)
            w.touch(link)
            ctx.counters.linked += 1
        else:
            link = Link(name, label=_label(ctx, rec, side))
            link.set_id(side, rec.id)
            w.add(link)
        for k in ks:
            if k not in own:
                local[k] = link
                w.add_keys.append((sv, k, link.id))
        out.append((rec, link, None))
    return out


async def follow_moves(ctx: RunContext, side: Side, records: Sequence[Record],
                       known: Mapping[str, Link] | None = None) -> list[Record]:
    """``records`` with the moved ones (``Record.moved_to``: a Salesforce Lead converted into a
    Contact) replaced by the records they moved to, once their pairs follow them in the index.

    A pair follows its record to the new id; a row the new id already had on its own (the Contact
    met before the conversion was, excluded as a duplicate of this pair's key) gives way, so
    nothing is created twice. If the new id already syncs with another record, the pair ends
    there: it stays excluded (duplicate) rather than create its record again. ``known``: rows the
    caller holds by this side's id, changed in place so its later saves agree. Saved at once: a
    pairing by id must find the new id."""
    rows = dict(known or {})
    if gone := [r.id for r in records if r.archived and not r.moved_to]:
        # one of two duplicates deleted: its pair moves to the other, as to a merge's survivor
        found = await survivors(ctx, side, gone, rows)
        records = [*(Record(r.id, {}, moved_to=found[r.id].id) if r.id in found else r for r in records),
                   *found.values()]
    moved = {r.id: str(r.moved_to) for r in records if r.moved_to}
    if not moved:
        return list(records)
    name, other = ctx.cfg.name, side.other
    rows.update(ctx.store.links_by_record(name, side, [i for i in moved if i not in rows]))
    there = ctx.store.links_by_record(name, side, sorted(set(moved.values())))
    w = PageWrite()
    follow: list[str] = []
    for old, new in moved.items():
        link = rows.get(old)
        if link is None or link.id_of(side) != old:
            continue  # a record the index never paired: its new record comes as any other
        taken = there.get(new)
        if taken is not None and taken.id != link.id:
            if link.id_of(other) is None:  # this row pairs nothing (a duplicate Lead): it gives way
                w.drop_links.append(link.id)
                continue
            if taken.id_of(other) is None and taken.pending is None:
                w.drop_links.append(taken.id)
            else:
                app, other_app, twin = ctx.conn[side].name, ctx.conn[other].name, taken.id_of(other)
                link.set_id(side, None)
                link.set_status(Status.EXCLUDED, ExcludedReason.DUPLICATE,
                                message=f"{old} became {new} in {app} (merged or converted), and {new} already syncs "
                                        f"with {twin} in {other_app}",
                                hint=f"Nothing was deleted: {link.id_of(other)} in {other_app} is kept as it is. If it "
                                     f"is the same as {twin}, merge the two in {other_app} too; otherwise delete it "
                                     "there or leave it")
                w.touch(link)
                continue
        link.set_id(side, new)
        there[new] = link
        w.touch(link)
        follow.append(new)
    ctx.save(w)
    out = [r for r in records if not r.moved_to]
    have = {r.id for r in out}  # (a merge's record comes with the moves to it)
    if follow := [i for i in dict.fromkeys(follow) if i not in have]:
        got = await ctx.conn[side].read(ctx.obj[side], follow, ctx.require_spec().fields(side))
        out += [r for r in got if r.moved_to is None]
    return out


async def restart_restored(ctx: RunContext, side: Side, candidates: Sequence[tuple[Record, Link]]) -> list[Link]:
    """Pairs deleted in both apps whose ``side`` record is back (restored from the app's recycle
    bin, e.g. after a delete Accord propagated): each starts over from that record, so the
    next plan finds or creates its twin again instead of keeping it ``deleted`` for good.

    Only a read by id confirms a restore: a lagging search (HubSpot's) may still list a record
    deleted seconds ago, and taking that for a restore would bring a deleted record back."""
    other = side.other
    # (a scan that saw the record has cleared its side's deleted flag already: the status says it ended)
    back = [(r, lk) for r, lk in candidates if not r.archived and lk.id_of(side) == r.id and lk.deleted(other)
            and lk.status == Status.EXCLUDED and lk.reason == ExcludedReason.DELETED]
    if not back:
        return []
    live = await still_there(ctx, side, [r.id for r, _ in back])
    out = []
    for rec, link in back:
        if rec.id in live:
            link.set_id(other, None)
            link.left_deleted = link.right_deleted = False
            link.left_base = link.right_base = None  # nothing synced between it and a twin to come
            link.set_status(Status.QUEUED, message=f"restored in {ctx.conn[side].name}")
            out.append(link)
    return out


async def follow_twin_moves(ctx: RunContext, side: Side, found: dict[str, Record], links: Sequence[Link],
                            asked: Sequence[str] = ()) -> tuple[dict[str, Record], set[str]]:
    """``found`` (``side``'s records of ``links``, read by ``asked`` ids) with those moved since (a
    converted Lead, a merged record, a deleted one whose duplicate lives on: :func:`survivors`)
    followed by their pairs first (:func:`follow_moves`), and the ids of the links whose pair
    such a move ended."""
    gone = [i for i in asked if i not in found]
    if not gone and not any(r.moved_to for r in found.values()):
        return found, set()
    known = {str(lk.id_of(side)): lk for lk in links if lk.id_of(side)}
    before = {lk.id: lk.id_of(side) for lk in links}
    recs = await follow_moves(ctx, side, [*found.values(), *(tombstone(i) for i in gone)], known)
    found = {r.id: r for r in recs if not r.archived or r.id not in gone}  # the deleted stay out, as before
    return found, {lk.id for lk in links if ended_by_move(lk, side, before[lk.id])}


async def survivors(ctx: RunContext, side: Side, gone: Sequence[str], rows: dict[str, Link]) -> dict[str, Record]:
    """Of ``side``'s records found deleted (by id; ``rows``: their index rows, completed here),
    those whose pair the other record of a duplicate can take over: a live record of the same
    app with the deleted one's match key that the index holds as a never-paired duplicate (the
    person's other record: someone deleted one of two duplicates). By deleted id.

    The pair then moves to it, as to the record a merge kept, instead of the delete crossing to
    the other app (``deletes: propagate``) or the pair ending *failing: deleted* while the
    duplicate stays excluded, "a duplicate of" a record that is gone. Read from the app: a
    duplicate's row holds no key."""
    spec = ctx.require_spec()
    if not spec.match:
        return {}
    rows.update(ctx.store.links_by_record(ctx.cfg.name, side, [i for i in gone if i not in rows]))
    pairs = {i: rows[i] for i in gone if i in rows and rows[i].linked and rows[i].id_of(side) == i}
    if not pairs:
        return {}
    owned = ctx.store.keys_of([lk.id for lk in pairs.values()])
    keys = {i: [k for s, k in owned.get(lk.id, []) if s == side.value] for i, lk in pairs.items()}
    found: dict[str, Record] = {}
    for m in spec.match:
        values = sorted({k[len(m.name) + 1:] for ks in keys.values() for k in ks if k.startswith(f"{m.name}:")})
        if values:
            for r in await ctx.conn[side].find(ctx.obj[side], m.field(side.value), values, spec.fields(side)):
                if not r.archived and r.id not in pairs:
                    found.setdefault(r.id, r)
    if not found:
        return {}
    dups = _never_paired_duplicates(ctx, side, ctx.store.links_by_record(ctx.cfg.name, side, list(found)))
    out: dict[str, Record] = {}
    for r in found.values():
        if r.id not in dups:
            continue
        mine = set(ctx.keys(r, side))
        gone_id = next((i for i, ks in keys.items() if i not in out and mine & set(ks)), None)
        if gone_id is not None:
            out[gone_id] = r
            log.info("sync %s: %s record %s was deleted; %s, its duplicate there, takes its place in the pair",
                     ctx.cfg.name, spec.app(side), gone_id, r.id)
    return out


def ended_by_move(link: Link, side: Side, before: str | None) -> bool:
    """A pair :func:`follow_moves` ended: its ``side`` record (``before`` its move) moved onto one
    that syncs with another record."""
    return before is not None and link.id_of(side) is None and link.reason == ExcludedReason.DUPLICATE


def _duplicate(ctx: RunContext, side: Side, rec: Record, owner: Link, w: PageWrite) -> Link:
    """An excluded row of its own for a record whose match key ``owner``'s record of its app has."""
    dup = Link(ctx.cfg.name, label=_label(ctx, rec, side))
    dup.set_id(side, rec.id)
    _mark_duplicate(ctx, dup, side, owner.id_of(side))
    w.add(dup)
    ctx.counters.exclude(ExcludedReason.DUPLICATE)
    return dup


def _mark_duplicate(ctx: RunContext, link: Link, side: Side, of: str | None) -> None:
    """Excluded as a duplicate of ``of`` (same app, same match key), with what a person can do."""
    link.set_status(Status.EXCLUDED, ExcludedReason.DUPLICATE, message=f"same match key as {of}, which syncs instead",
                    hint=_duplicate_hint(ctx, side))


def _duplicate_hint(ctx: RunContext, side: Side) -> str:
    spec = ctx.require_spec()
    fields = " or ".join(spec.match_fields(side)) or "match key"
    app = spec.app(side)
    return (f"If the two are the same, merge them in {app}: the merged record syncs on and nothing is lost. "
            f"If not, give one of them another {fields} in {app}.")


def _record_gone(owner: Link, side: Side) -> bool:
    """``owner``'s record of ``side`` was deleted, and a pass said so (the pair *failing: deleted*,
    or *excluded: deleted* in both apps); a delete still held for a confirmation is not yet."""
    return owner.id_of(side) is not None and owner.deleted(side) and (
        (owner.status == Status.FAILING and owner.category == ErrorCategory.DELETED)
        or (owner.status == Status.EXCLUDED and owner.reason == ExcludedReason.DELETED))


def _takes_place_of_deleted(ctx: RunContext, owner: Link, side: Side, rec: Record) -> bool:
    """A new record whose match key belongs to a pair whose record of ``side`` was deleted (the
    same person deleted, then created again or imported anew) takes that record's place in the
    pair; it is not a duplicate of a record that is gone. With the twin in the other app still
    there (``deletes: mark``) the two pair up; with the twin deleted too, the row starts afresh
    and the record is created in the other app. Either way the pair merges as in a first sync
    (the bases were the old record's). False: ``owner``'s record of ``side`` is not deleted."""
    if not _record_gone(owner, side):
        return False
    other, was = side.other, owner.id_of(side)
    owner.set_id(side, rec.id)
    owner.set_deleted(side, False)
    if owner.deleted(other):  # deleted in both apps: nothing left of the old pair
        owner.set_id(other, None)
        owner.set_deleted(other, False)
        if other is L:
            owner.left_seen = None
        else:
            owner.right_seen = None
    owner.left_base = owner.right_base = None
    owner.pending, owner.in_flight, owner.attempts = None, None, 0
    owner.label = _label(ctx, rec, side)
    owner.set_status(Status.QUEUED)
    log.info("sync %s: %s record %s has the match key of deleted %s: it takes its place", ctx.cfg.name,
             ctx.require_spec().app(side), rec.id, was)
    return True


# -- planning ---------------------------------------------------------------------------
def plan(ctx: RunContext, link: Link, recs: dict[Side, Record | None]) -> Item:
    spec = ctx.require_spec()
    if link.in_flight is not None and link.left_id is not None and link.right_id is not None:
        # Did the unconfirmed writes land? A value written that the app still holds did.
        settle_in_flight(spec, link, lambda s, f, v: (rec := recs.get(s)) is not None and not rec.archived
                         and canon(rec.properties.get(f)) == canon(v))
    has_key = True
    if spec.require_match_key and not link.linked:
        src = recs[L] if recs[L] is not None else recs[R]
        side = L if recs[L] is not None else R
        has_key = src is None or src.archived or bool(ctx.keys(src, side))
    p = plan_pair(spec, PairInput(
        left=recs[L], right=recs[R], left_base=link.left_base, right_base=link.right_base,
        linked=link.linked, in_list=_in_list(ctx, recs), has_key=has_key,
        new_match=_new_match(ctx, link, recs), marked_deleted=_marked_deleted(link)))
    if p.create is not None and link.category == ErrorCategory.OUTCOME_UNKNOWN and not (
            {link.left_id, link.right_id} & ctx.resend_unknown):
        # the create may have happened: it waits for a person's resync rather than risk a twin
        p = PairPlan(status=Status.FAILING, category=link.category, message=link.message, hint=link.hint)
    return Item(link, hold_back(link, p, spec.apps) if p.archive is not None else p, recs)


def _marked_deleted(link: Link) -> Side | None:
    """The side whose delete a pass found and marked (the pair ``failing``, category deleted)."""
    if link.status == Status.FAILING and link.category == ErrorCategory.DELETED:
        return next((s for s in (L, R) if link.deleted(s)), None)
    return None


def hold_back(link: Link, p: PairPlan, apps: dict[Side, str]) -> PairPlan:
    """A plan that deletes a record, deferred to the end of the pass (accord.runner.deletes):
    the pair waits, queued, with the side found deleted, and writes nothing yet."""
    assert p.archive is not None
    gone = p.deleted if p.deleted is not None else p.archive.other
    # a pair already held (or confirmed) stays so: a confirmation covers the deletes it saw
    reason = link.reason if link.reason in (DELETE_HELD, DELETE_CONFIRMED) else DELETE_PENDING
    return PairPlan(status=Status.QUEUED, reason=reason, deleted=gone,
                    message=f"deleted in {apps[gone]}; to be deleted in {apps[gone.other]} too")


# -- the other app ----------------------------------------------------------------------
async def find_twins(ctx: RunContext, side: Side, unmatched: list[tuple[Record, Link]], w: PageWrite) -> dict[str, Record]:
    """Incremental creates: a record the other app has but the index has not seen yet is linked, not duplicated."""
    spec = ctx.require_spec()
    other = side.other
    key = spec.match[0]
    values = [canon(rec.properties.get(key.field(side.value))) for rec, _ in unmatched]
    values = [v for v in values if v is not None]
    if not values:
        return {}
    found = await ctx.conn[other].find(ctx.obj[other], key.field(other.value), values, spec.fields(other))
    known = ctx.store.links_by_record(ctx.cfg.name, other, [r.id for r in found])
    by_key: dict[str, Record] = {}
    for r in found:
        if r.id in known:
            continue
        for k in ctx.keys(r, other):
            by_key.setdefault(k, r)
    out: dict[str, Record] = {}
    for rec, link in unmatched:
        twin = next((by_key[k] for k in ctx.keys(rec, side) if k in by_key), None)
        if twin is not None and twin.id not in out:
            _met_first(ctx, other, twin)
            if link.pending == other.value:
                ctx.counters.created[other.value] += 1  # our create, whose outcome was never saved
            else:
                ctx.counters.linked += 1
            link.set_id(other, twin.id)
            link.pending = None
            w.touch(link)
            out[twin.id] = twin
    return out


async def adopt_duplicates(ctx: RunContext, side: Side, wanting: Sequence[tuple[Record, Link]],
                           w: PageWrite) -> dict[str, Record]:
    """Pairs about to create their record again on ``side`` (deleted records resynced) whose key a
    record of ``side`` has that was excluded as a duplicate of the deleted one: the pair takes
    that record instead of creating a third with the same key (the one deleted was the synced of
    two duplicates). Returns the adopted records by link id; their excluded rows are dropped."""
    spec = ctx.require_spec()
    if not wanting or not spec.match:
        return {}
    other, key = side.other, spec.match[0]
    values = [v for rec, _ in wanting if (v := canon(rec.properties.get(key.field(other.value)))) is not None]
    if not values:
        return {}
    found = [r for r in await ctx.conn[side].find(ctx.obj[side], key.field(side.value), values, spec.fields(side))
             if not r.archived]
    known = ctx.store.links_by_record(ctx.cfg.name, side, [r.id for r in found])
    unpaired = _never_paired_duplicates(ctx, side, known)
    by_key: dict[str, tuple[Record, Link]] = {}
    for r in found:
        if r.id in unpaired:
            for k in ctx.keys(r, side):
                by_key.setdefault(k, (r, known[r.id]))
    out: dict[str, Record] = {}
    taken: set[str] = set()
    for rec, link in wanting:
        hit = next((by_key[k] for k in ctx.keys(rec, other) if k in by_key and by_key[k][0].id not in taken), None)
        if hit is not None:
            twin, dup = hit
            taken.add(twin.id)
            w.drop_links.append(dup.id)
            link.set_id(side, twin.id)
            w.touch(link)
            ctx.counters.linked += 1
            out[link.id] = twin
    return out


async def still_there(ctx: RunContext, side: Side, ids: Sequence[str]) -> dict[str, Record]:
    """Of records a full scan did not return, those a read by id still finds.

    A scan can miss a record without it being deleted (HubSpot's search lags behind
    records created seconds ago; an app may page inconsistently while records change),
    so a pair is only treated as deleted once its record is not there by id either.
    """
    if not ids:
        return {}
    recs = await ctx.conn[side].read(ctx.obj[side], ids, ctx.require_spec().fields(side))  # it batches by itself
    return {rec.id: rec for rec in recs if not rec.archived}
