"""The convergence fuzzer's world: two apps, a sync, users, operators, faults and a reference model.

Users create, edit, clear and delete contacts on both sides; passes (incremental or full)
and webhook deliveries run with or without injected faults (``faults.py``); operators
change the sync's config as a saved config does (a new runner over the same index, so the
next pass restarts the initial sync): they add, remove, repoint and re-rule mappings,
change the winner, the direction and the filters, and disable and enable the sync. After
every step the world compares both apps with a **reference model of the sync rules** and
records a violation when what it sees could not have come from any legal sync history.

The reference model (README "Behaviour decisions", docs/reliability.md "Config changes
never lose a value") works per contact and *slot*: a slot is one left field and the right
field it is paired with (the slot's name is its left field). Its state is ``(exists left,
exists right, left value, right value, left base, right base, linked, dead)``, plus writes
in flight and the bases the index may still hold under mapping keys that are no longer
current; since a faulty pass may or may not have synced a given pair, the model keeps the
*set* of states any legal schedule could have reached:

* a user edit changes the value on its side in every state; a create makes the record
  exist; a delete makes the pair dead (``deletes: mark``: nothing is written any more; in a
  one-way sync deletes propagate: the source's delete may archive the target);
* a pass or webhook delivery *may* sync each pair: every state is kept and its synced
  successor added. Syncing follows the rules of the slot's mapping under the current config
  (its rule, the directions it flows in, the sync's effective winner):
  - a record on one side only is created on the other (blanks and fields the mapping does
    not carry there left out), unless the sync never writes to that side (one-way);
  - with a base: a field changed on one side since its base takes that side's value (clears
    included) where the mapping flows; changed on both sides, the winner's value unless it
    is blank, then the other side's (``two-way``: either side's, since "most recent record
    change" depends on timings the model does not track);
  - with no base (a new pair, or a mapping new under its key): values that agree stay; else
    the winner's non-blank value (the source's, where the mapping flows one way only) is
    written where the mapping flows, a blank never overwrites;
  - ``fill-blanks-only`` only ever fills a blank; a removed mapping (``none``) is not synced;
  - after syncing, each side's base is the value that side holds (they differ when a
    one-way mapping leaves the target's own value alone);
* a config change gives each slot whose mapping key changed (added, repointed, re-ruled,
  turned one way or back) no base: the old base is stashed under its old key (the index
  keeps it until the pair is next planned) and a base stashed under the new key comes back
  (a key restored before any pass planned the pair); repointed slots combine the left part
  of one slot's states with the right part of another's (a product) with no writes in flight;
* what the apps show then prunes the set: states whose visible part (exists, values)
  differs are dropped. An empty set means the apps reached a state no legal history leads
  to: a lost update, an invented value, a write to the wrong side. Duplicates (two live
  records with one email on one side) and records no user created are violations too.

At the end the sync is enabled, faults stop and two passes run; then every live pair must
be equal in the slots that flow both ways (the others as the model says), the model must
accept the state as *synced* (each state's synced successor, not just any state), the
index must agree with both apps, and a full pass must write nothing.

Engine bugs found here whose fix is not in yet are listed in ``KNOWN_BUGS`` (each pinned by
an xfail test in test_config_changes.py): users are steered around them, or the model
tolerates them, unless the world is built with ``hit_known_bugs`` (``bench/soak.py
--hit-known-bugs``). ``World.race`` runs a second process's pass on the same index at the same
time; ``World.overlap`` tries to add a second sync on the same object pair.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol

from faults import FaultPlan, FaultyConnector

from accord.config import ConfigError, config_hash, parse_config
from accord.connectors.base import Connector
from accord.connectors.memory import LEAD_STATUSES, MemoryApp
from accord.engine.values import canon
from accord.index import Store
from accord.index.leases import SyncBusy
from accord.index.store import Link
from accord.model import ConnectorError, Side, Status, Value
from accord.runner import SyncRunner

L, R = Side.LEFT, Side.RIGHT
SYNC = "contacts"


class _NoBase:
    def __repr__(self) -> str:
        return "∅"


NB = _NoBase()

Flight = tuple[Side | None, Value, Any, Any]  # (side written or None, the value, planned left base, planned right base)
Stashed = tuple[Any, Any, Any, Flight | None]  # (mapping key, left base, right base, writes in flight)


class State(NamedTuple):
    """One slot of one pair, as one legal history leaves it."""

    ex_l: bool  # a live record exists in the left app
    ex_r: bool
    lv: Value  # the values the apps hold (the slot's left field, its right field)
    rv: Value
    bl: Any  # the bases under the slot's current mapping key (NB: none)
    br: Any
    linked: bool
    dead: bool  # deleted in one app and marked: nothing is written any more
    # a sync whose writes were sent but not confirmed
    flight: Flight | None = None
    # bases the index may still hold under this slot's earlier mapping keys (dropped when the
    # pair is next planned; a key restored before that gets its base back)
    stash: frozenset[Stashed] = frozenset()

    def exists(self, side: Side) -> bool:
        return self.ex_l if side is L else self.ex_r

    def value(self, side: Side) -> Value:
        return self.lv if side is L else self.rv

    def with_value(self, side: Side, v: Value) -> State:
        return self._replace(lv=v) if side is L else self._replace(rv=v)

    def visible(self) -> tuple[bool, bool, Value, Value]:
        return self.ex_l, self.ex_r, self.lv if self.ex_l else None, self.rv if self.ex_r else None

# -- the apps as users see them ---------------------------------------------------------------------------
class UserApp(Protocol):
    """One app from the users' side: records by email, edits by id, a change marker for webhooks."""

    fields: dict[str, str]  # model field -> the app's field
    # optional ``required``: model fields the app cannot hold blank (users of both apps never clear them)

    def live(self) -> list[tuple[str, dict[str, Value]]]: ...
    def create(self, props: Mapping[str, Value]) -> str: ...
    def update(self, rid: str, props: Mapping[str, Value]) -> None: ...
    def delete(self, rid: str) -> None: ...
    def mark(self) -> int: ...
    def changed_since(self, mark: int) -> list[str]: ...


class MemoryUser:
    fields = {f: f for f in ("email", "first_name", "last_name", "phone", "city", "job_title", "lead_status",
                             "score", "vip")}

    def __init__(self, app: MemoryApp) -> None:
        self.app = app

    def live(self) -> list[tuple[str, dict[str, Value]]]:
        return [(r.id, dict(r.properties)) for r in self.app.live(SYNC)]

    def create(self, props: Mapping[str, Value]) -> str:
        return self.app.user_create(SYNC, props)

    def update(self, rid: str, props: Mapping[str, Value]) -> None:
        self.app.user_update(SYNC, rid, props)

    def delete(self, rid: str) -> None:
        self.app.user_delete(SYNC, rid)

    def mark(self) -> int:
        return self.app.seq

    def changed_since(self, mark: int) -> list[str]:
        return [rid for rid, row in self.app.objects[SYNC].records.items() if row["s"] > mark]


# -- field kinds, user values and the operators' choices ---------------------------------------------------
KINDS = {"first_name": "text", "last_name": "text", "phone": "text", "city": "text", "job_title": "text",
         "lead_status": "enum", "score": "number", "vip": "bool"}
RULES = {"job_title": "two-way"}  # every other field: the sync's winner
REQUIRED = frozenset({"first_name", "last_name"})  # locked by the catalog: never repointed, re-ruled or removed
# what an operator may give a mapping: (rule, the mapping's own direction); "none" removes it
RULE_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("default", None), ("two-way", None), ("fill-blanks-only", None), ("none", None),
    ("default", "left-to-right"), ("default", "right-to-left"), ("two-way", "right-to-left"),
    ("always-left", None), ("always-right", None), ("prefer-left-unless-blank", None),
    ("prefer-right-unless-blank", None), ("fill-blanks-only-left", None), ("fill-blanks-only-right", None))
DIRECTIONS = ("two-way", "left-to-right", "right-to-left")
# operator actions, as counted in Stats.ops ("race" and "overlap" are counted apart: World.race, World.overlap)
CONFIG_OPS = ("repoint", "rule", "add", "remove", "winner", "direction", "filter", "disable", "enable")
# Engine bugs this fuzzer found whose fix is not in yet, each pinned by an xfail test: unless a world
# is built with ``hit_known_bugs``, users are steered around what triggers them (Stats.steered) or,
# where no steering is possible, the model tolerates them (said so below).
KNOWN_BUGS: dict[str, str] = {}  # none open: scan-twin, stale-base and archive-died were fixed in the runner


def user_value(f: str, token: int | None, options: tuple[str, ...] = LEAD_STATUSES) -> Value:
    """A value for field ``f`` from an integer drawn by the fuzzer (None clears the field)."""
    if token is None:
        return None
    kind = KINDS[f]
    if kind == "enum":
        return options[token % len(options)]
    if kind == "number":
        return token % 1000
    if kind == "bool":
        return token % 2 == 0
    return f"{f[:2]}{token % 10_000}"


@dataclass(frozen=True)
class Slot:
    """A left field's mapping: the right field it is paired with, its rule, its own direction."""

    right: str
    rule: str = "default"  # "default" (the winner), a per-mapping rule (README), "none" (not mapped)
    direction: str | None = None


class Flow(NamedTuple):
    """What a slot's mapping does under the current config: what the model merges with."""

    rule: str  # "none": not mapped
    to_l: bool  # the mapping writes to the left app
    to_r: bool
    winner: Side  # the sync's effective winner
    write_l: bool  # the sync writes to the left app at all (creates, archives)
    write_r: bool
    propagate: bool  # deletes propagate (one-way syncs) instead of being marked

    def flows_to(self, side: Side) -> bool:
        return self.to_l if side is L else self.to_r

    def writes_to(self, side: Side) -> bool:
        return self.write_l if side is L else self.write_r


# -- the reference model ---------------------------------------------------------------------------------------
def _settle(st: State) -> State:
    """Writes in flight are settled as the runner does: a value written that the app still
    holds landed (the planned bases hold); anything else and the old bases stand."""
    if st.flight is None:
        return st
    side, v, pbl, pbr = st.flight
    if side is None or (st.exists(side) and st.value(side) == v):
        return st._replace(bl=pbl, br=pbr, linked=True, flight=None)
    return st._replace(flight=None)


def _push(st: State, fl: Flow, v: Value, dst: Side) -> tuple[Value, Value]:
    """The values after writing ``v`` to ``dst`` (where the mapping flows there)."""
    if not fl.flows_to(dst):
        return st.lv, st.rv
    return (v, st.rv) if dst is L else (st.lv, v)


def outcomes(st: State, fl: Flow) -> set[tuple[Value, Value]]:
    """The (left, right) values a sync of a pair that exists on both sides may leave."""
    lv, rv = st.lv, st.rv
    if fl.rule == "fill-blanks-only":  # needs no base: a value only ever fills a blank
        if lv is None and rv is not None:
            return {_push(st, fl, rv, L)}
        if rv is None and lv is not None:
            return {_push(st, fl, lv, R)}
        return {(lv, rv)}
    if lv == rv:
        return {(lv, rv)}
    if fl.rule.startswith("prefer-"):  # needs no base: the preferred side's value unless it is blank
        pref = L if fl.rule == "prefer-left-unless-blank" else R
        if st.value(pref) is not None:
            return {_push(st, fl, st.value(pref), pref.other)}
        return {_push(st, fl, st.value(pref.other), pref)}
    if fl.rule.startswith("fill-blanks-only-"):
        # as the winner decides, but the guarded app's values are never overwritten (nor cleared)
        guard = L if fl.rule == "fill-blanks-only-left" else R
        out = outcomes(st, fl._replace(rule="default"))
        return {(st.lv if guard is L and nl != st.lv and st.lv is not None else nl,
                 st.rv if guard is R and nr != st.rv and st.rv is not None else nr) for nl, nr in out}
    always = {"always-left": L, "always-right": R}.get(fl.rule)
    if not st.linked or st.bl is NB or st.br is NB:
        # no base for the mapping: nothing may be lost, whatever the rule: the winner's (the
        # always-* rule's side's) non-blank value, the source's where the mapping flows one way;
        # a blank never overwrites
        w = always or fl.winner
        w = w if fl.flows_to(w.other) else w.other
        src = w if st.value(w) is not None else w.other
        return {_push(st, fl, st.value(src), src.other)} if st.value(src) is not None else {(lv, rv)}
    if always is not None:
        # that side's value always wins, clears included; a blank that never held a value is no clear
        if st.value(always) is None and (st.bl if always is L else st.br) is None:
            return {(lv, rv)}
        return {_push(st, fl, st.value(always), always.other)}
    ch_l, ch_r = lv != st.bl, rv != st.br
    if ch_l and not ch_r:
        return {_push(st, fl, lv, R)}
    if ch_r and not ch_l:
        return {_push(st, fl, rv, L)}
    if not ch_l:
        return {(lv, rv)}
    if fl.rule == "two-way":  # the newer side's value, blanks included
        return {_push(st, fl, lv, R), _push(st, fl, rv, L)}
    # the winner's blank never overwrites: the other side's value fills it
    src = fl.winner if st.value(fl.winner) is not None else fl.winner.other
    return {_push(st, fl, st.value(src), src.other)}


def _unflown(stash: frozenset[Stashed]) -> frozenset[Stashed]:
    """The stash as the engine leaves it (known bug "stale-base") once the pair was planned but
    its writes died or failed: the old keys stay, their writes in flight are settled away."""
    return frozenset((k, b1, b2, None) for k, b1, b2, _ in stash)


def sync_steps(st: State, fl: Flow, stale: bool = False) -> set[State]:
    """The states one sync of this slot may leave: confirmed, or with its writes unconfirmed
    (the pass failed after sending them, or a per-record failure hit the other side).

    Planning the pair drops the bases of its earlier mapping keys (the stash); ``stale``
    tolerates the known bug "stale-base" (kept when the plan's writes died or failed).
    """
    if not (st.ex_l or st.ex_r):
        return {st}
    if st.dead:
        gone = R if st.ex_l else L
        if fl.propagate and fl.writes_to(gone.other) and st.exists(gone.other):
            # a one-way sync propagates its source's deletes: the target is archived
            return {st, (st._replace(ex_r=False, rv=None) if gone is L else st._replace(ex_l=False, lv=None))}
        return {st}
    if st.ex_l != st.ex_r:  # a record on one side only: created on the other
        st = _settle(st)
        src = L if st.ex_l else R
        dst = src.other
        if not fl.writes_to(dst):
            return {st}  # a target-side record of a one-way sync: indexed for matching only
        made = _created(st, dst, None)
        if fl.rule == "none":
            return {made._replace(linked=True, stash=frozenset()), made}
        v = st.value(src)
        dv = v if fl.flows_to(dst) else None
        pbl, pbr = (v, dv) if src is L else (dv, v)
        made = made.with_value(dst, dv)
        return {made._replace(bl=pbl, br=pbr, linked=True, flight=None, stash=frozenset()),
                made._replace(flight=(dst, dv, pbl, pbr))}
    kept = {st._replace(stash=frozenset())}
    if st.stash and stale:
        kept.add(st._replace(stash=_unflown(st.stash)))
    if fl.rule == "none":  # not synced; planning the pair drops the bases of other keys
        return {s._replace(linked=True) for s in kept}
    st = _settle(st)
    out = set()
    for lv, rv in outcomes(st, fl):
        for s in kept:
            out.add(s._replace(lv=lv, rv=rv, bl=lv, br=rv, linked=True, flight=None))
        wrote = L if lv != st.lv else R if rv != st.rv else None
        if wrote is not None:
            out.add(st._replace(lv=lv, rv=rv, flight=(wrote, lv if wrote is L else rv, lv, rv),
                                stash=_unflown(st.stash) if stale else frozenset()))
    return out


def _rekey(st: State, old: Any, new: Any) -> State:
    """The slot's mapping key changed from ``old`` to ``new`` (None: not mapped)."""
    stash = {e[0]: e for e in st.stash}
    if old is not None and (st.bl is not NB or st.br is not NB or st.flight is not None):
        stash[old] = (old, st.bl, st.br, st.flight)
    back = stash.pop(new, None) if new is not None else None
    bl, br, flight = (back[1], back[2], back[3]) if back is not None else (NB, NB, None)
    return st._replace(bl=bl, br=br, flight=flight, stash=frozenset(stash.values()))


def _joined(left: State, right: State, old: Any, new: Any) -> State:
    """A repointed slot: ``left``'s left field with ``right``'s right field (its old slot's)."""
    st = _rekey(left, old, new)
    return st._replace(ex_r=right.ex_r, rv=right.rv, linked=left.linked and right.linked)


@dataclass
class Entity:
    email: str
    states: dict[str, set[State]]
    dead: bool = False
    users: set[Side] = field(default_factory=set)  # sides a user created it on
    tainted: set[str] = field(default_factory=set)  # slots no longer modelled (after a violation)
    log: list[str] = field(default_factory=list)

    @staticmethod
    def new(email: str, kinds: Mapping[str, str]) -> Entity:
        empty = State(False, False, None, None, NB, NB, False, False)
        return Entity(email, {f: {empty} for f in kinds})


# -- the world -------------------------------------------------------------------------------------------------
@dataclass
class Stats:
    ops: Counter[str] = field(default_factory=Counter)
    passes_failed: int = 0
    steered: int = 0  # user operations changed to steer around a known engine bug (KNOWN_BUGS)

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    @property
    def config_changes(self) -> int:
        """Operator actions: mapping, winner, direction and filter changes, disable and enable."""
        return sum(self.ops[k] for k in CONFIG_OPS)

class World:
    """Two memory apps behind fault injectors, synced by a runner over an SQLite index."""

    def __init__(self, *, winner: Side = L, page_size: int = 3, batch_size: int = 2, store_url: str | None = None,
                 users: tuple[UserApp, UserApp] | None = None, connectors: tuple[Connector, Connector] | None = None,
                 config: dict[str, Any] | None = None, faults: Callable[[float, int], None] | None = None,
                 fault_counts: Callable[[], Counter[str]] | None = None, hit_known_bugs: bool = False) -> None:
        self.avoid = frozenset() if hit_known_bugs else frozenset(KNOWN_BUGS)
        self.plan = FaultPlan()  # faults at the connector interface; or ``faults`` sets them in the apps
        self._faults, self._fault_counts = faults, fault_counts
        if users is None or connectors is None:
            a = MemoryApp("a", page_size=page_size, batch_size=batch_size)
            b = MemoryApp("b", page_size=page_size + 1, batch_size=batch_size)
            users, connectors = (MemoryUser(a), MemoryUser(b)), (a, b)
        self.users = {L: users[0], R: users[1]}
        self.kinds = {f: KINDS[f] for f in users[0].fields if f in KINDS}
        # fields an app cannot hold blank: a user of the other app clearing one would make a
        # record the app rejects (correct, but not what the model describes), so none does
        self.never_blank: frozenset[str] = frozenset().union(*(getattr(u, "required", frozenset()) for u in users))
        self.options: tuple[str, ...] = getattr(users[0], "options", LEAD_STATUSES)
        self.conn = {L: FaultyConnector(connectors[0], self.plan), R: FaultyConnector(connectors[1], self.plan)}
        # the config file minus what operators change (winner, direction, filters, mappings)
        self._base: dict[str, Any] = config or {
            "apps": {"a": {"type": "memory"}, "b": {"type": "memory"}},
            "syncs": [{"name": SYNC, "left": {"app": "a", "object": "contacts"},
                       "right": {"app": "b", "object": "contacts"}}],
        }
        # what operators change; every slot not required is stated in the config's mappings
        self.winner_cfg: Side | None = winner
        self.direction = "two-way"
        self.filters: frozenset[Side] = frozenset()
        self.slots = {f: Slot(f, RULES.get(f, "default")) for f in self.kinds}
        self.cfg = parse_config(self._body(), env={}).syncs[0]
        # an index in a file, as a real one is: a second process (``race``) opens it too, and the
        # sync's lease is only taken on an index another process can open
        self._tmp = tempfile.mkdtemp(prefix="accord-fuzz-") if store_url is None else None
        self.store_url = store_url or f"sqlite:///{self._tmp}/index.db"
        self.store = Store(self.store_url)
        self.runner = self._runner()
        self.entities: dict[str, Entity] = {}
        self.emails = itertools.count(1)
        self.marks = {s: self.users[s].mark() for s in (L, R)}
        self.violations: list[str] = []
        self.stats = Stats()
        self.seen: dict[Side, dict[str, tuple[str, dict[str, Value]]]] = {L: {}, R: {}}

    def _runner(self) -> SyncRunner:
        return SyncRunner(self.cfg, self.store, self.conn[L], self.conn[R])

    async def aclose(self) -> None:
        for c in self.conn.values():
            await c.aclose()
        self.store.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- the config, as operators see it ----------------------------------------------------------------------
    @property
    def winner(self) -> Side:
        """The effective winner: as configured, else the source of a one-way sync, else the left app."""
        if self.winner_cfg is not None:
            return self.winner_cfg
        return R if self.direction == "right-to-left" else L

    def _body(self) -> dict[str, Any]:
        body = copy.deepcopy(self._base)
        sync = body["syncs"][0]
        for k in ("winner", "direction", "filters", "mappings"):
            sync.pop(k, None)
        if self.winner_cfg is not None:
            sync["winner"] = sync["left" if self.winner_cfg is L else "right"]["app"]
        if self.direction != "two-way":
            sync["direction"] = self.direction
        if self.filters:
            # filters every record passes: the restart is exercised without modelling exclusions
            sync["filters"] = {s.value: [{"field": self._field(s, "email"), "op": "set"}] for s in sorted(self.filters)}
        mappings = []
        for f, slot in self.slots.items():
            if f in REQUIRED:
                continue  # the catalog's default mapping
            m: dict[str, Any] = {"left": self._field(L, f), "right": self._field(R, slot.right)}
            if slot.rule != "default":
                m["rule"] = slot.rule
            if slot.direction is not None:
                m["direction"] = slot.direction
            mappings.append(m)
        sync["mappings"] = mappings
        return body

    def writes_to(self, side: Side) -> bool:
        """Whether the sync's direction lets the engine write to ``side`` at all."""
        return self.direction == "two-way" or self.direction == ("left-to-right" if side is R else "right-to-left")

    def flow(self, f: str) -> Flow:
        slot = self.slots[f]
        to_r = self.direction in ("two-way", "left-to-right")
        to_l = self.direction in ("two-way", "right-to-left")
        mapped = slot.rule != "none"
        return Flow(slot.rule, mapped and to_l and slot.direction != "left-to-right" and slot.rule != "always-left",
                    mapped and to_r and slot.direction != "right-to-left" and slot.rule != "always-right",
                    self.winner, to_l, to_r, self.direction != "two-way")

    def key(self, f: str) -> Any:
        """The slot's mapping key, as the engine's ``FieldMap.base_key`` tells mappings apart."""
        fl = self.flow(f)
        return None if fl.rule == "none" else (f, self.slots[f].right, fl.rule, fl.to_l, fl.to_r)

    def _slot_of_right(self) -> dict[str, str]:
        return {slot.right: f for f, slot in self.slots.items()}

    def _valid(self) -> bool:
        """A config ``accord check`` accepts: every mapping flows somewhere."""
        return all(fl.to_l or fl.to_r for f in self.slots if (fl := self.flow(f)).rule != "none")

    def _reconfigure(self, kind: str, what: str, change: Callable[[], None]) -> bool:
        """Apply an operator's change as a saved config: a new runner over the same index (the
        next pass restarts the initial sync); the model re-keys each slot whose mapping changed."""
        old = (self.winner_cfg, self.direction, self.filters, dict(self.slots))
        old_keys = {f: self.key(f) for f in self.slots}
        old_rights = {f: slot.right for f, slot in self.slots.items()}
        old_slot_of = self._slot_of_right()
        change()
        if not self._valid():  # refused, as `accord check` and the setup flow refuse it
            self.winner_cfg, self.direction, self.filters, self.slots = old
            return False
        self.stats.ops[kind] += 1
        self.cfg = parse_config(self._body(), env={}).syncs[0]
        self.runner = self._runner()
        new_keys = {f: self.key(f) for f in self.slots}
        for ent in self.entities.values():
            ent.log.append(f"#{self.stats.total} config: {what}")
            before = dict(ent.states)
            for f, slot in self.slots.items():
                if slot.right != old_rights[f]:
                    donor = old_slot_of[slot.right]  # the slot that held this right field
                    if donor in ent.tainted or f in ent.tainted:
                        ent.tainted |= {f, donor}
                        ent.states[f] = set()
                        continue
                    ent.states[f] = {_joined(a, b, old_keys[f], new_keys[f])
                                     for a in before[f] for b in before[donor] if a.dead == b.dead}
                elif new_keys[f] != old_keys[f]:
                    ent.states[f] = {_rekey(st, old_keys[f], new_keys[f]) for st in before[f]}
        self._prune()
        return True

    def repoint(self, a: str, b: str) -> None:
        """Slots ``a`` and ``b`` swap their right fields (city_l↔city_r + phone_l↔phone_r become
        city_l↔phone_r + phone_l↔city_r); swapping again restores them."""
        if a == b or REQUIRED & {a, b} or self.kinds[a] != self.kinds[b]:
            return

        def swap() -> None:
            sa, sb = self.slots[a], self.slots[b]
            self.slots[a], self.slots[b] = replace(sa, right=sb.right), replace(sb, right=sa.right)

        self._reconfigure("repoint", f"repoint {a}↔{self.slots[b].right}, {b}↔{self.slots[a].right}", swap)

    def set_rule(self, f: str, rule: str, direction: str | None = None) -> None:
        """A mapping's rule (or its own direction) changes; rule "none" removes it, another rule adds it back."""
        old = self.slots[f]
        if f in REQUIRED or (old.rule, old.direction) == (rule, direction):
            return
        kind = "remove" if rule == "none" else "add" if old.rule == "none" else "rule"

        def change() -> None:
            self.slots[f] = replace(old, rule=rule, direction=direction)

        self._reconfigure(kind, f"{f}↔{old.right}: rule {rule}, direction {direction or 'the sync'}", change)

    def set_winner(self, winner: Side | None) -> None:
        if winner != self.winner_cfg:
            self._reconfigure("winner", f"winner {winner or 'unset'}", lambda: setattr(self, "winner_cfg", winner))

    def set_direction(self, direction: str) -> None:
        """The sync's direction changes; mapping directions it would contradict are dropped
        with it (a config that keeps them is refused)."""
        if direction == self.direction:
            return
        against = {"left-to-right": "right-to-left", "right-to-left": "left-to-right"}.get(direction)

        def change() -> None:
            self.direction = direction
            for f, slot in self.slots.items():
                if slot.direction == against:
                    self.slots[f] = replace(slot, direction=None)

        self._reconfigure("direction", f"direction {direction}", change)

    def set_filters(self, sides: Iterable[Side]) -> None:
        new = frozenset(sides)
        if new != self.filters:
            self._reconfigure("filter", f"filters on {sorted(s.value for s in new)}",
                              lambda: setattr(self, "filters", new))

    def enabled(self) -> bool:
        state = self.store.sync_state(SYNC)
        return state is None or bool(state.enabled)

    def set_enabled(self, on: bool) -> None:
        """Disable or enable the sync (stored in the index): a disabled sync runs no pass and
        takes no webhook."""
        if on == self.enabled():
            return
        if self.store.sync_state(SYNC) is None:
            self.store.ensure_sync(SYNC, config_hash(self.cfg), True)
        self.store.set_enabled(SYNC, on)
        self.stats.ops["enable" if on else "disable"] += 1
        for ent in self.entities.values():
            ent.log.append(f"#{self.stats.total} {'enabled' if on else 'disabled'}")

    # -- observing ------------------------------------------------------------------------------------------
    def _field(self, side: Side, f: str) -> str:
        return self.users[side].fields[f]

    def observe(self) -> dict[Side, dict[str, tuple[str, dict[str, Value]]]]:
        """Live records per side by email; duplicates and unknown records are violations."""
        out: dict[Side, dict[str, tuple[str, dict[str, Value]]]] = {}
        for side in (L, R):
            seen: dict[str, tuple[str, dict[str, Value]]] = {}
            for rid, props in self.users[side].live():
                email = str(props.get(self._field(side, "email")) or "").lower()
                if email in seen:
                    self.violate(f"duplicate: two live records with {email} in the {side} app "
                                 f"({seen[email][0]} and {rid})", email)
                    continue
                if email not in self.entities:
                    self.violate(f"the {side} app has a record no user created: {email!r} {props}", None)
                    continue
                seen[email] = (rid, {f: canon(props.get(self._field(side, f))) for f in self.kinds})
            out[side] = seen
        return out

    def violate(self, message: str, email: str | None) -> None:
        ent = self.entities.get(email) if email else None
        trail = ("\n    history: " + "\n             ".join(ent.log[-12:])) if ent else ""
        self.violations.append(message + trail)

    def _prune(self, final: bool = False) -> None:
        self.seen = seen = self.observe()
        flows = {f: self.flow(f) for f in self.slots}
        for email, ent in self.entities.items():
            got = {s: seen[s].get(email) for s in (L, R)}
            for f, states in ent.states.items():
                if f in ent.tainted:
                    continue
                if final:
                    states = {n for st in states for n in sync_steps(st, flows[f], "stale-base" in self.avoid)}
                rf = self.slots[f].right
                obs = (got[L] is not None, got[R] is not None, got[L][1][f] if got[L] else None,
                       got[R][1][rf] if got[R] else None)
                kept = {st for st in states if st.visible() == obs}
                if not kept:
                    want = sorted({_show(st.visible()) for st in states})
                    self.violate(f"{email}.{f}↔{rf}: the apps show {_show(obs)}, which no legal sync history "
                                 f"reaches; the rules allow {', '.join(want) or 'nothing'}", email)
                    ent.tainted.add(f)
                ent.states[f] = kept

    # -- user operations ----------------------------------------------------------------------------------------
    def _pick_live(self, side: Side, pick: int) -> Entity | None:
        live = sorted(self.seen[side])
        return self.entities[live[pick % len(live)]] if live else None

    def _rid(self, side: Side, email: str) -> str:
        for rid, props in self.users[side].live():
            if str(props.get(self._field(side, "email")) or "").lower() == email:
                return rid
        raise AssertionError(f"{email} is not live in the {side} app")

    def _indexed_unpaired(self, side: Side, email: str) -> bool:
        """The index holds ``side``'s record of ``email`` without a record of the other side."""
        rid = self.seen[side][email][0]
        link = self.store.links_by_record(SYNC, side, [rid]).get(rid)
        return link is not None and link.id_of(side.other) is None

    def create(self, side: Side, pick: int, twin: bool, values: Mapping[str, int | None]) -> None:
        """A user creates a contact; with ``twin``, one that so far exists in the other app only."""
        self.stats.ops["create"] += 1
        candidates = sorted(e for e in self.seen[side.other] if e not in self.seen[side] and not self.entities[e].dead)
        email = candidates[pick % len(candidates)] if twin and candidates else ""
        if side is L and email and "scan-twin" in self.avoid and self._indexed_unpaired(R, email):
            self.stats.steered += 1
            email = ""
        if not email:
            email = f"c{next(self.emails)}@example.com"
            self.entities[email] = Entity.new(email, self.kinds)
        ent = self.entities[email]
        props = {f: user_value(f, values.get(f), self.options) for f in self.kinds}
        # first and last name are required by the app: never blank on create
        props["first_name"] = props["first_name"] or "First"
        props["last_name"] = props["last_name"] or "Last"
        self.users[side].create({self._field(side, "email"): email,
                                 **{self._field(side, f): v for f, v in props.items()}})
        ent.users.add(side)
        ent.log.append(f"#{self.stats.total} create in {side}: {props}")
        for f, states in ent.states.items():
            v = canon(props[f if side is L else self.slots[f].right])
            ent.states[f] = {_created(st, side, v) for st in states if not st.exists(side)}
        self._prune()

    def edit(self, side: Side, pick: int, changes: Mapping[str, int | None]) -> None:
        """A user edits (or clears, with None) fields of a live record."""
        self.stats.ops["edit"] += 1
        ent = self._pick_live(side, pick)
        if ent is None or not any(f in self.kinds for f in changes):
            return
        props = {f: user_value(f, v, self.options) for f, v in changes.items()
                 if f in self.kinds and not (v is None and f in self.never_blank)}
        if not props:
            return
        self.users[side].update(self._rid(side, ent.email), {self._field(side, f): v for f, v in props.items()})
        ent.log.append(f"#{self.stats.total} edit in {side}: {props}")
        slot_of = self._slot_of_right()
        for f, v in props.items():
            s = f if side is L else slot_of[f]
            ent.states[s] = {st.with_value(side, canon(v)) for st in ent.states[s] if st.exists(side)}
        self._prune()

    def delete(self, side: Side, pick: int) -> None:
        self.stats.ops["delete"] += 1
        ent = self._pick_live(side, pick)
        if ent is None:
            return
        self.users[side].delete(self._rid(side, ent.email))
        ent.dead = True
        ent.log.append(f"#{self.stats.total} delete in {side}")
        for f, states in ent.states.items():
            ent.states[f] = {n for st in states if st.exists(side) for n in _deleted(st, side)}
        self._prune()

    # -- sync operations ------------------------------------------------------------------------------------------
    def _may_sync(self, what: str) -> None:
        flows = {f: self.flow(f) for f in self.slots}
        for ent in self.entities.values():
            ent.log.append(f"#{self.stats.total} {what}")
            for f, states in ent.states.items():
                ent.states[f] = states | {n for st in states
                                          for n in sync_steps(st, flows[f], "stale-base" in self.avoid)}
        self._prune()

    def faults_on(self, rate: float, seed: int) -> None:
        if self._faults is not None:
            self._faults(rate, seed)
        else:
            self.plan.set(rate, seed)

    def faults_off(self) -> None:
        if self._faults is not None:
            self._faults(0.0, 0)
        self.plan.off()

    def injected(self) -> Counter[str]:
        return self._fault_counts() if self._fault_counts is not None else Counter(self.plan.injected)

    async def _guarded(self, coro: Any) -> bool:
        try:
            await coro
            return True
        except ConnectorError:
            self.stats.passes_failed += 1
            # the process "restarts": a fresh runner, as after a crash
            self.runner = self._runner()
            return False
        finally:
            self.faults_off()

    def _steer(self, fault_rate: float) -> float:
        """Faults are left out while they could trigger a known engine bug (KNOWN_BUGS)."""
        if fault_rate and "archive-died" in self.avoid and self.direction == "right-to-left" and any(
                ent.dead and email in self.seen[L] and email not in self.seen[R] for email, ent in self.entities.items()):
            self.stats.steered += 1  # a right delete to propagate: its archive must not die
            return 0.0
        return fault_rate

    async def sync(self, full: bool, fault_rate: float = 0.0, seed: int = 0) -> None:
        self.stats.ops["full" if full else "incremental"] += 1
        if not self.enabled():
            return  # a disabled sync runs no pass (the scheduler skips it)
        fault_rate = self._steer(fault_rate)
        self.faults_on(fault_rate, seed)
        ok = await self._guarded(self.runner.run(full=full))
        self._may_sync(f"{'full' if full else 'incremental'} pass, faults {fault_rate:.2f}: {'ok' if ok else 'failed'}")

    async def webhook(self, side: Side, drop: float, fault_rate: float = 0.0, seed: int = 0) -> None:
        """Webhooks for the records changed in ``side`` since the last delivery; each dropped with ``drop``."""
        self.stats.ops["webhook"] += 1
        ids = self.users[side].changed_since(self.marks[side])
        self.marks[side] = self.users[side].mark()
        if not self.enabled():
            return  # a disabled sync takes no webhook; the next pass reads the changes
        fault_rate = self._steer(fault_rate)
        self.faults_on(fault_rate, seed)
        rng = random.Random(seed)
        kept = [i for i in ids if rng.random() >= drop]
        if kept:
            await self._guarded(self.runner.sync_records(side, kept))
        else:
            self.faults_off()
        self._may_sync(f"webhooks from {side}: {len(kept)} of {len(ids)} delivered")

    async def race(self, fault_rate: float = 0.0, seed: int = 0, *, full: tuple[bool, bool] = (False, False),
                   wait: bool = True, webhook: Side | None = None) -> None:
        """A second process on the same index: its own runner (its own Store on the index file)
        runs a pass — or a webhook delivery of records changed in ``webhook`` — at the same time
        as this process's pass. The sync's lease must keep them apart: the second waits for the
        first (``wait``, as ``accord sync`` does) or is skipped (as ``accord run`` skips a pass
        another process runs). The model lets each of the two passes sync or not."""
        self.stats.ops["race"] += 1
        if not self.enabled():
            return
        fault_rate = self._steer(fault_rate)
        other = SyncRunner(self.cfg, Store(self.store_url), self.conn[L], self.conn[R], lease_wait=None if wait else 0)
        if webhook is not None:
            ids = self.users[webhook].changed_since(self.marks[webhook])
            self.marks[webhook] = self.users[webhook].mark()
            second: Any = other.sync_records(webhook, ids) if ids else other.run(full=full[1])
        else:
            second = other.run(full=full[1])
        self.faults_on(fault_rate, seed)
        try:
            first_ok, second_ok = await asyncio.gather(self._guarded(self.runner.run(full=full[0])),
                                                       self._racer(second))
        finally:
            other.store.close()
        self._may_sync(f"pass raced by a second process (faults {fault_rate:.2f}): "
                       f"{'ok' if first_ok else 'failed'} / {second_ok}")
        self._may_sync("the second process's pass")

    async def _racer(self, coro: Any) -> str:
        try:
            await coro
            return "ok"
        except SyncBusy:
            return "skipped: the first held the lease"
        except ConnectorError:
            self.stats.passes_failed += 1
            return "failed"

    def overlap(self) -> None:
        """An operator tries to add a second sync on the same object pair: the config is refused."""
        self.stats.ops["overlap"] += 1
        body = self._body()
        twin = copy.deepcopy(body["syncs"][0])
        twin["name"] = f"{SYNC}-again"
        twin["left"], twin["right"] = twin["right"], twin["left"]
        twin.pop("mappings", None)
        twin.pop("winner", None)
        body["syncs"].append(twin)
        try:
            parse_config(body, env={})
        except ConfigError as e:
            if not any("already does" in i.message for i in e.issues):
                self.violate(f"a second sync on the same object pair was refused for another reason: {e}", None)
            return
        self.violate("a second sync on the same object pair was accepted", None)

    # -- the end --------------------------------------------------------------------------------------------------
    async def converge(self) -> list[str]:
        """The sync is enabled, faults stop, two passes run; then every check. Returns the
        violations found (all steps)."""
        self.faults_off()
        if not self.enabled():
            self.store.set_enabled(SYNC, True)
        for _ in range(2):
            try:
                await self.runner.run()
            except ConnectorError as e:
                self.violate(f"a fault-free pass failed: {e}", None)
        self._may_sync("convergence passes")
        self._prune(final=True)
        self._check_equal()
        self._check_index()
        res = await self.runner.run(full=True)
        c = res.counters
        writes = sum(c.created.values()) + sum(c.updated.values()) + sum(c.archived.values())
        if writes:
            self.violate(f"a full pass after convergence still wrote: {c.as_dict()}", None)
        return self.violations

    def _check_equal(self) -> None:
        """Every live pair exists on both sides (but where a one-way sync never writes) and is
        equal in the slots that flow both ways under the winner or ``two-way``."""
        seen = self.observe()
        both = [f for f in self.slots if (fl := self.flow(f)).to_l and fl.to_r and fl.rule in ("default", "two-way")]
        for email, ent in self.entities.items():
            a, b = seen[L].get(email), seen[R].get(email)
            if ent.dead or (a is None and b is None):
                continue
            if a is None or b is None:
                if self.writes_to(L if a is None else R):
                    self.violate(f"{email} exists in the {'right' if a is None else 'left'} app only after "
                                 f"convergence", email)
            else:
                diff = {f: (a[1][f], b[1][self.slots[f].right]) for f in both
                        if a[1][f] != b[1][self.slots[f].right]}
                if diff:
                    self.violate(f"{email} differs after convergence: {diff}", email)

    def _check_index(self) -> None:
        seen = self.observe()
        links: list[Link] = [lk for chunk in self.store.iter_links(SYNC) for lk in chunk]
        by_id = {s: {lk.id_of(s): lk for lk in links if lk.id_of(s)} for s in (L, R)}
        spec = self.runner.spec
        for side in (L, R):
            for email, (rid, _) in seen[side].items():
                if rid not in by_id[side]:
                    self.violate(f"the index has no row for {side} record {rid} ({email})", email)
        ids = {s: {rid: email for email, (rid, _) in seen[s].items()} for s in (L, R)}
        for lk in links:
            if lk.status != Status.SYNCING:
                ent = self.entities.get(next((ids[s].get(lk.id_of(s) or "") for s in (L, R)
                                              if lk.id_of(s) in ids[s]), "") or "")
                only = L if lk.right_id is None else R if lk.left_id is None else None
                if lk.status is None and only is not None and not self.writes_to(only.other):
                    continue  # a target-side record of a one-way sync: indexed for matching only
                if ent is not None and not ent.dead:
                    self.violate(f"link {lk.id} of a live, undeleted pair is {lk.status}/{lk.reason or lk.category}: "
                                 f"{lk.message}", ent.email)
                continue
            el, er = ids[L].get(lk.left_id or ""), ids[R].get(lk.right_id or "")
            if el is None or er is None or el != er:
                self.violate(f"syncing link {lk.id} pairs {lk.left_id} ({el}) with {lk.right_id} ({er})", el or er)
                continue
            if spec is None:
                continue
            for side, base in ((L, lk.left_base), (R, lk.right_base)):
                current = seen[side][el][1]
                keys = dict(spec.based(side))  # a side's field -> its mapping's key in the bases
                for f in self.kinds:
                    key = keys.get(self._field(side, f))
                    if key is not None and canon((base or {}).get(key)) != current[f]:
                        self.violate(f"index base of {el}.{f} on the {side} is {(base or {}).get(key)!r}, "
                                     f"the app holds {current[f]!r}", el)


def _show(v: tuple[bool, bool, Value, Value]) -> str:
    left = repr(v[2]) if v[0] else "(none)"
    right = repr(v[3]) if v[1] else "(none)"
    return f"left {left} / right {right}"


def _created(st: State, side: Side, value: Value) -> State:
    return (st._replace(ex_l=True) if side is L else st._replace(ex_r=True)).with_value(side, value)


def _deleted(st: State, side: Side) -> set[State]:
    """A user deletes the record on ``side``: a synced pair is marked (nothing more is written).

    A pair that never synced may be marked too (the index may have paired the records), or
    not: then the other app's record is a record of its own and may be created here again.
    """
    gone = (st._replace(ex_l=False, lv=None) if side is L else st._replace(ex_r=False, rv=None))._replace(dead=True)
    if st.linked:
        return {gone}
    return {gone, gone._replace(bl=NB, br=NB, dead=False, flight=None, stash=frozenset())}


# -- random driving (the soak run, and a fixed-seed smoke test) ---------------------------------------------
# "config" is an operator action (see CONFIG_WEIGHTS); "race" is a second process on the same index
# (World.race): its weight gives about 200 races in a 10,000-operation soak (target ≥ 100)
OPS = ("create", "edit", "delete", "incremental", "full", "webhook", "config", "race")
WEIGHTS = (3.0, 5.0, 0.4, 3.0, 0.8, 1.5, 1.2, 0.3)
CONFIG_WEIGHTS = {"repoint": 1.0, "rule": 1.6, "winner": 0.6, "direction": 0.6, "filter": 0.4, "disable": 0.3,
                  "overlap": 0.1}


def _changes(rng: random.Random, kinds: Mapping[str, str], many: bool) -> dict[str, int | None]:
    fields = rng.sample(sorted(kinds), k=rng.randint(1, len(kinds) if many else 3))
    return {f: (None if rng.random() < 0.2 else rng.randrange(100_000)) for f in fields}


def operator_step(w: World, rng: random.Random) -> None:
    """One operator action, drawn by CONFIG_WEIGHTS."""
    kind = rng.choices(list(CONFIG_WEIGHTS), list(CONFIG_WEIGHTS.values()))[0]
    free = sorted(f for f in w.slots if f not in REQUIRED)
    if kind == "repoint":
        text = [f for f in free if w.kinds[f] == "text"]
        if len(text) >= 2:
            a, b = rng.sample(text, 2)
            w.repoint(a, b)
    elif kind == "rule":
        removed = [f for f in free if w.slots[f].rule == "none"]
        if removed and rng.random() < 0.5:  # a removed mapping is added back (its key may revive a base)
            w.set_rule(rng.choice(removed), *rng.choice(RULE_CHOICES[:3]))
        else:
            w.set_rule(rng.choice(free), *rng.choice(RULE_CHOICES))
    elif kind == "winner":
        w.set_winner(rng.choice((L, R, None)))
    elif kind == "direction":
        # mostly back to two-way: one-way syncs leave the apps apart where the target edits
        one_way = ("left-to-right", "right-to-left")
        w.set_direction(rng.choice(one_way) if w.direction == "two-way" or rng.random() < 0.3 else "two-way")
    elif kind == "filter":
        w.set_filters(s for s in (L, R) if rng.random() < 0.5)
    elif kind == "overlap":
        w.overlap()
    else:
        w.set_enabled(False)


async def random_step(w: World, rng: random.Random, fault_rate: float) -> None:
    """One operation: mostly edits, creates and passes; 70% of passes and deliveries see faults;
    about one in fifteen is an operator's config change."""
    if not w.enabled() and rng.random() < 0.15:
        w.set_enabled(True)  # a disabled sync is enabled again after a few operations
        return
    op = rng.choices(OPS, WEIGHTS)[0]
    side = rng.choice((L, R))
    rate = fault_rate if rng.random() < 0.7 else 0.0
    seed = rng.randrange(1 << 30)
    if op == "create":
        w.create(side, rng.randrange(1000), twin=rng.random() < 0.3, values=_changes(rng, w.kinds, many=True))
    elif op == "edit":
        w.edit(side, rng.randrange(1000), _changes(rng, w.kinds, many=False))
    elif op == "delete":
        w.delete(side, rng.randrange(1000))
    elif op in ("incremental", "full"):
        await w.sync(op == "full", rate, seed)
    elif op == "webhook":
        await w.webhook(side, rng.choice((0.0, 0.3, 1.0)), rate, seed)
    elif op == "config":
        operator_step(w, rng)
    else:
        await w.race(rate, seed, full=(rng.random() < 0.3, rng.random() < 0.3), wait=rng.random() < 0.5,
                     webhook=rng.choice((None, L, R)))


async def random_episode(w: World, rng: random.Random, steps: int, fault_rate: float) -> World:
    """``steps`` random operations, then convergence and the final checks (``w.violations``)."""
    try:
        for _ in range(steps):
            await random_step(w, rng, fault_rate)
        await w.converge()
    finally:
        await w.aclose()
    return w


# -- associations ---------------------------------------------------------------------------------------------
# A world of its own: companies and contacts on two memory apps, synced two-way (the contacts
# sync associated with the companies sync), where users add, move and remove contact→company
# associations on either side between passes with faults.
#
# The reference model works per contact and company, as the slots above do per field: an
# *association slot* holds ``(left has it, right has it, left base, right base)`` (a base is
# whether that side held it after the last association pass that saved the pair's base). A
# pass may sync each slot: a change on one side since its base goes to the other side; a
# change on both sides that disagrees takes the winner's; the synced successor has the values
# as bases. Since a pair's base is saved only when all its writes landed, a pass may also
# leave a slot's write landed with its old bases (another write of the pair failed) or do
# nothing. The set of states each slot may be in is pruned by what the apps show; an empty
# set is a violation. At the end, after fault-free passes, both sides must hold the same
# associations and a full pass must write none.
AssocState = tuple[bool, bool, bool, bool]  # (left has it, right has it, left base, right base)


def assoc_steps(st: AssocState, winner: Side) -> set[AssocState]:
    """What one pass may leave of a slot: nothing done, the write landed with the old bases, synced."""
    lv, rv, bl, br = st
    cl, cr = lv != bl, rv != br
    if lv == rv or not (cl or cr):
        return {st, (lv, rv, lv, rv)}
    src_value = (lv if winner is L else rv) if cl and cr else (lv if cl else rv)
    return {st, (src_value, src_value, bl, br), (src_value, src_value, src_value, src_value)}


ASSOC_OPS = ("associate", "dissociate", "move", "incremental", "full", "edit")
ASSOC_WEIGHTS = (3.0, 2.0, 2.0, 2.5, 1.0, 0.8)


class AssocWorld:
    """Companies and contacts on two memory apps; users change contact→company associations."""

    def __init__(self, *, winner: Side = L, companies: int = 4, contacts: int = 4, page_size: int = 3,
                 batch_size: int = 2) -> None:
        from accord.session import Session

        self.winner = winner
        self.plan = FaultPlan()
        self.apps = {L: MemoryApp("a", page_size=page_size, batch_size=batch_size),
                     R: MemoryApp("b", page_size=page_size + 1, batch_size=batch_size)}
        self.conn = {s: FaultyConnector(self.apps[s], self.plan) for s in (L, R)}
        self._tmp = tempfile.mkdtemp(prefix="accord-assoc-fuzz-")
        syncs: list[dict[str, Any]] = [
            {"name": o, "left": {"app": "a", "object": o}, "right": {"app": "b", "object": o},
             "winner": "a" if winner is L else "b"} for o in ("companies", "contacts")]
        syncs[1]["associations"] = ["companies"]
        cfg = parse_config({"state": f"sqlite:///{self._tmp}/index.db", "apps": {"a": {"type": "memory"},
                            "b": {"type": "memory"}}, "syncs": syncs}, env={})
        self.session = Session(cfg, connectors={"a": self.conn[L], "b": self.conn[R]})
        self.names = [f"co{i}" for i in range(companies)]
        self.emails = [f"p{i}@example.com" for i in range(contacts)]
        for n in self.names:
            self.apps[L].user_create("companies", {"name": n, "domain": f"{n}.com"})
        for e in self.emails:
            self.apps[L].user_create("contacts", {"first_name": "F", "last_name": "L", "email": e})
        self.states: dict[tuple[str, str], set[AssocState]] = {
            (e, n): {(False, False, False, False)} for e in self.emails for n in self.names}
        self.violations: list[str] = []
        self.stats = Stats()
        self.log: list[str] = []
        self._runners: dict[str, Any] = {}

    def runner(self, name: str) -> Any:
        if name not in self._runners:
            self._runners[name] = self.session.runner(name)
        return self._runners[name]

    async def setup(self) -> None:
        """Both syncs' first passes, fault-free: every contact and company exists on both sides."""
        await self.runner("companies").run()
        await self.runner("contacts").run()

    async def aclose(self) -> None:
        self.session.store.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def injected(self) -> Counter[str]:
        return Counter(self.plan.injected)

    # -- what the apps show ----------------------------------------------------------------------------------
    def _ids(self, side: Side, obj: str, key: str) -> dict[str, str]:
        return {str(r.properties[key]): r.id for r in self.apps[side].live(obj)}

    def observe(self) -> dict[tuple[str, str], tuple[bool, bool]]:
        out: dict[tuple[str, str], tuple[bool, bool]] = {}
        held: dict[Side, dict[str, set[str]]] = {}
        for s in (L, R):
            contact = self._ids(s, "contacts", "email")
            company = {v: k for k, v in self._ids(s, "companies", "name").items()}
            links = self.apps[s].links.get(("contacts", "companies"), {})
            held[s] = {e: {company[c] for c in links.get(contact[e], set())} for e in self.emails}
        for e in self.emails:
            for n in self.names:
                out[(e, n)] = (n in held[L][e], n in held[R][e])
        return out

    def _prune(self, final: bool = False) -> None:
        seen = self.observe()
        for key, states in self.states.items():
            if final:
                states = {n for st in states for n in assoc_steps(st, self.winner)}
            kept = {st for st in states if st[:2] == seen[key]}
            if not kept:
                self.violations.append(
                    f"{key[0]}↔{key[1]}: the apps show left {seen[key][0]} / right {seen[key][1]}, which no legal "
                    f"sync history reaches; the rules allow {sorted({st[:2] for st in states})}\n    history: "
                    + "\n             ".join(self.log[-12:]))
                kept = {(*seen[key], *seen[key])}  # report once, go on from what the apps show
            self.states[key] = kept

    # -- user operations -------------------------------------------------------------------------------------
    def _user(self, side: Side, email: str, name: str, on: bool) -> None:
        contact = self._ids(side, "contacts", "email")[email]
        company = self._ids(side, "companies", "name")[name]
        app = self.apps[side]
        if on:
            app.user_associate("contacts", contact, "companies", company)
        else:
            app.user_dissociate("contacts", contact, "companies", company)
        app.user_update("contacts", contact, {})  # the contact shows as changed (as HubSpot's modified date)
        i = 0 if side is L else 1
        self.states[(email, name)] = {(*st[:i], on, *st[i + 1:]) for st in self.states[(email, name)]}  # type: ignore[misc]
        self.log.append(f"#{self.stats.total} {side} {'adds' if on else 'removes'} {email}→{name}")

    def change(self, op: str, side: Side, rng: random.Random) -> None:
        self.stats.ops[op] += 1
        email = rng.choice(self.emails)
        seen = self.observe()
        has = [n for n in self.names if seen[(email, n)][0 if side is L else 1]]
        lacks = [n for n in self.names if n not in has]
        if op in ("dissociate", "move") and has:
            self._user(side, email, rng.choice(has), False)
        if op in ("associate", "move") and lacks:
            self._user(side, email, rng.choice(lacks), True)
        self._prune()

    async def sync(self, full: bool, fault_rate: float, seed: int) -> None:
        self.stats.ops["full" if full else "incremental"] += 1
        self.plan.set(fault_rate, seed)
        try:
            await self.runner("contacts").run(full=full)
            ok = "ok"
        except ConnectorError:
            self.stats.passes_failed += 1
            self._runners.pop("contacts")  # the process "restarts"
            ok = "failed"
        finally:
            self.plan.off()
        self.log.append(f"#{self.stats.total} {'full' if full else 'incremental'} pass, faults {fault_rate:.2f}: {ok}")
        for key, states in self.states.items():
            self.states[key] = {n for st in states for n in assoc_steps(st, self.winner)}
        self._prune()

    async def converge(self) -> list[str]:
        self.plan.off()
        for _ in range(2):
            try:
                await self.runner("contacts").run()
            except ConnectorError as e:
                self.violations.append(f"a fault-free pass failed: {e}")
        self._prune(final=True)
        for key, (lv, rv) in self.observe().items():
            if lv != rv:
                self.violations.append(f"{key[0]}↔{key[1]} differs after convergence: left {lv} / right {rv}\n    "
                                       "history: " + "\n             ".join(self.log[-14:]))
        res = await self.runner("contacts").run(full=True)
        if sum(res.counters.associated.values()):
            self.violations.append(f"a full pass after convergence still wrote associations: {res.counters.associated}")
        return self.violations


async def random_assoc_episode(w: AssocWorld, rng: random.Random, steps: int, fault_rate: float) -> AssocWorld:
    """Set-up, ``steps`` random association changes and passes, then convergence and its checks."""
    try:
        await w.setup()
        for _ in range(steps):
            op = rng.choices(ASSOC_OPS, ASSOC_WEIGHTS)[0]
            rate = fault_rate if rng.random() < 0.7 else 0.0
            if op in ("incremental", "full"):
                await w.sync(op == "full", rate, rng.randrange(1 << 30))
            elif op == "edit":  # a contact's field edited: its pair is planned by the next incremental pass
                w.stats.ops[op] += 1
                side = rng.choice((L, R))
                rid = w._ids(side, "contacts", "email")[rng.choice(w.emails)]
                w.apps[side].user_update("contacts", rid, {"phone": str(rng.randrange(10_000))})
            else:
                w.change(op, rng.choice((L, R)), rng)
        await w.converge()
    finally:
        await w.aclose()
    return w
