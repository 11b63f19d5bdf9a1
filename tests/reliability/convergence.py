"""The convergence fuzzer's world: two apps, a two-way sync, users, faults and a reference model.

Users create, edit, clear and delete contacts on both sides; passes (incremental or full)
and webhook deliveries run with or without injected faults (``faults.py``). After every
step the world compares both apps with a **reference model of the sync rules** and records
a violation when what it sees could not have come from any legal sync history.

The reference model (README "Behaviour decisions") works per contact and mapped field. Its
state is ``(exists left, exists right, left value, right value, left base, right base,
linked, dead)``; since a faulty pass may or may not have synced a given pair, the model
keeps the *set* of states any legal schedule could have reached:

* a user edit changes the value on its side in every state; a create makes the record
  exist; a delete makes the pair dead (``deletes: mark``: nothing is written any more);
* a pass or webhook delivery *may* sync each pair: every state is kept and its synced
  successor added. Syncing follows the rules: a record on one side only is created on the
  other (blanks left out); a field changed on one side since the base takes that side's
  value (clears included); a field changed on both sides takes the winner's value unless it
  is blank, then the other side's (the ``two-way`` rule: either side's, since "most recent
  record change" depends on timings the model does not track); a never-synced pair (no base)
  takes the winner's value unless it is blank, then the other side's, whatever the rule;
  after syncing, both bases are the new value;
* what the apps show then prunes the set: states whose visible part (exists, values)
  differs are dropped. An empty set means the apps reached a state no legal history leads
  to: a lost update, an invented value, a write to the wrong side. Duplicates (two live
  records with one email on one side) and records no user created are violations too.

At the end, faults stop and two passes run; then every live pair must be equal, the model
must accept the state as *synced* (each state's synced successor, not just any state),
the index must agree with both apps, and a full pass must write nothing.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from faults import FaultPlan, FaultyConnector

from accord.config import parse_config
from accord.connectors.base import Connector
from accord.connectors.memory import LEAD_STATUSES, MemoryApp
from accord.engine.values import canon
from accord.index import Store
from accord.index.store import Link
from accord.model import ConnectorError, Side, Status, Value
from accord.runner import SyncRunner

L, R = Side.LEFT, Side.RIGHT
SYNC = "contacts"


class _NoBase:
    def __repr__(self) -> str:
        return "∅"


NB = _NoBase()


class State(NamedTuple):
    """One field of one pair, as one legal history leaves it."""

    ex_l: bool  # a live record exists in the left app
    ex_r: bool
    lv: Value  # the values the apps hold
    rv: Value
    bl: Any  # the bases (NB: never synced)
    br: Any
    linked: bool
    dead: bool  # deleted in one app and marked: nothing is written any more
    # a sync whose writes were sent but not confirmed: (side written or None, the value)
    flight: tuple[Side | None, Value] | None = None

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


# -- field kinds and user values ----------------------------------------------------------------------------
KINDS = {"first_name": "text", "last_name": "text", "phone": "text", "city": "text", "job_title": "text",
         "lead_status": "enum", "score": "number", "vip": "bool"}
RULES = {"job_title": "two-way"}  # every other field: the sync's winner


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


# -- the reference model ---------------------------------------------------------------------------------------
def _settle(st: State) -> State:
    """Writes in flight are settled as the runner does: a value written that the app still
    holds landed (the planned bases hold); anything else and the old bases stand."""
    if st.flight is None:
        return st
    side, v = st.flight
    if side is None or (st.exists(side) and st.value(side) == v):
        return st._replace(bl=v, br=v, linked=True, flight=None)
    return st._replace(flight=None)


def merge(st: State, rule: str | None, winner: Side) -> Value:
    """The value both sides hold after a sync of a pair that exists on both sides."""
    if not st.linked or st.bl is NB or st.br is NB:
        # no base for the mapping (a new pair): nothing may be lost, whatever the rule: the
        # winner's value unless it is blank, then the other side's
        w, o = (st.lv, st.rv) if winner is L else (st.rv, st.lv)
        return w if w is not None else o
    ch_l = st.lv != st.bl
    ch_r = st.rv != st.br
    if ch_l and not ch_r:
        return st.lv
    if ch_r and not ch_l:
        return st.rv
    if not (ch_l or ch_r) or st.lv == st.rv:
        return st.lv
    w, o = (st.lv, st.rv) if winner is L else (st.rv, st.lv)
    # the winner's blank never overwrites; under "two-way" the newer side's blank does
    return w if w is not None or rule == "two-way" else o


def sync_steps(st: State, rule: str | None, winner: Side) -> set[State]:
    """The states one sync of this field may leave: confirmed, or with its writes unconfirmed
    (the pass failed after sending them, or a per-record failure hit the other side)."""
    if st.dead or not (st.ex_l or st.ex_r):
        return {st}
    st = _settle(st)
    if st.ex_l != st.ex_r:  # a record on one side only: created on the other
        src = L if st.ex_l else R
        v = st.value(src)
        return {State(True, True, v, v, v, v, True, False),
                State(True, True, v, v, st.bl, st.br, st.linked, False, (src.other, v))}
    # "two-way": either side may hold the most recent record change (once there is a base)
    based = st.linked and st.bl is not NB and st.br is not NB
    news = {merge(st, rule, L), merge(st, rule, R)} if rule == "two-way" and based else {merge(st, rule, winner)}
    out = set()
    for v in news:
        out.add(State(True, True, v, v, v, v, True, False))
        wrote = L if st.lv != v else R if st.rv != v else None
        out.add(st._replace(lv=v, rv=v, flight=(wrote, v)))
    return out


@dataclass
class Entity:
    email: str
    states: dict[str, set[State]]
    dead: bool = False
    users: set[Side] = field(default_factory=set)  # sides a user created it on
    tainted: set[str] = field(default_factory=set)  # fields no longer modelled (after a violation)
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

    @property
    def total(self) -> int:
        return sum(self.ops.values())


class World:
    """Two memory apps behind fault injectors, synced two-way by a runner over an SQLite index."""

    def __init__(self, *, winner: Side = L, page_size: int = 3, batch_size: int = 2, store_url: str = "sqlite://",
                 users: tuple[UserApp, UserApp] | None = None, connectors: tuple[Connector, Connector] | None = None,
                 config: dict[str, Any] | None = None, faults: Callable[[float, int], None] | None = None,
                 fault_counts: Callable[[], Counter[str]] | None = None) -> None:
        self.winner = winner
        self.plan = FaultPlan()  # faults at the connector interface; or ``faults`` sets them in the apps
        self._faults, self._fault_counts = faults, fault_counts
        if users is None or connectors is None:
            a = MemoryApp("a", page_size=page_size, batch_size=batch_size)
            b = MemoryApp("b", page_size=page_size + 1, batch_size=batch_size)
            users, connectors = (MemoryUser(a), MemoryUser(b)), (a, b)
        self.users = {L: users[0], R: users[1]}
        self.kinds = {f: KINDS[f] for f in users[0].fields if f in KINDS}
        self.options: tuple[str, ...] = getattr(users[0], "options", LEAD_STATUSES)
        self.conn = {L: FaultyConnector(connectors[0], self.plan), R: FaultyConnector(connectors[1], self.plan)}
        body = config or {
            "apps": {"a": {"type": "memory"}, "b": {"type": "memory"}},
            "syncs": [{"name": SYNC, "left": {"app": "a", "object": "contacts"},
                       "right": {"app": "b", "object": "contacts"}, "winner": "a" if winner is L else "b",
                       "mappings": [{"left": "job_title", "right": "job_title", "rule": "two-way"},
                                    {"left": "score", "right": "score"}, {"left": "vip", "right": "vip"}]}],
        }
        self.cfg = parse_config(body, env={}).syncs[0]
        self.store = Store(store_url)
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
        for email, ent in self.entities.items():
            got = {s: seen[s].get(email) for s in (L, R)}
            for f, states in ent.states.items():
                if f in ent.tainted:
                    continue
                if final:
                    states = {n for st in states for n in sync_steps(st, RULES.get(f), self.winner)}
                obs = (got[L] is not None, got[R] is not None, got[L][1][f] if got[L] else None,
                       got[R][1][f] if got[R] else None)
                kept = {st for st in states if st.visible() == obs}
                if not kept:
                    want = sorted({_show(st.visible()) for st in states})
                    self.violate(f"{email}.{f}: the apps show {_show(obs)}, which no legal sync history reaches; "
                                 f"the rules allow {', '.join(want)}", email)
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

    def create(self, side: Side, pick: int, twin: bool, values: Mapping[str, int | None]) -> None:
        """A user creates a contact; with ``twin``, one that so far exists in the other app only."""
        self.stats.ops["create"] += 1
        candidates = sorted(e for e in self.seen[side.other] if e not in self.seen[side] and not self.entities[e].dead)
        if twin and candidates:
            email = candidates[pick % len(candidates)]
        else:
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
            ent.states[f] = {_created(st, side, canon(props[f])) for st in states if not st.exists(side)}
        self._prune()

    def edit(self, side: Side, pick: int, changes: Mapping[str, int | None]) -> None:
        """A user edits (or clears, with None) fields of a live record."""
        self.stats.ops["edit"] += 1
        ent = self._pick_live(side, pick)
        if ent is None or not any(f in self.kinds for f in changes):
            return
        props = {f: user_value(f, v, self.options) for f, v in changes.items() if f in self.kinds}
        self.users[side].update(self._rid(side, ent.email), {self._field(side, f): v for f, v in props.items()})
        ent.log.append(f"#{self.stats.total} edit in {side}: {props}")
        for f, v in props.items():
            ent.states[f] = {st.with_value(side, canon(v)) for st in ent.states[f] if st.exists(side)}
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
        for ent in self.entities.values():
            ent.log.append(f"#{self.stats.total} {what}")
            for f, states in ent.states.items():
                ent.states[f] = states | {n for st in states for n in sync_steps(st, RULES.get(f), self.winner)}
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

    async def sync(self, full: bool, fault_rate: float = 0.0, seed: int = 0) -> None:
        self.stats.ops["full" if full else "incremental"] += 1
        self.faults_on(fault_rate, seed)
        ok = await self._guarded(self.runner.run(full=full))
        self._may_sync(f"{'full' if full else 'incremental'} pass, faults {fault_rate:.2f}: {'ok' if ok else 'failed'}")

    async def webhook(self, side: Side, drop: float, fault_rate: float = 0.0, seed: int = 0) -> None:
        """Webhooks for the records changed in ``side`` since the last delivery; each dropped with ``drop``."""
        self.stats.ops["webhook"] += 1
        ids = self.users[side].changed_since(self.marks[side])
        self.marks[side] = self.users[side].mark()
        self.faults_on(fault_rate, seed)
        rng = random.Random(seed)
        kept = [i for i in ids if rng.random() >= drop]
        if kept:
            await self._guarded(self.runner.sync_records(side, kept))
        else:
            self.faults_off()
        self._may_sync(f"webhooks from {side}: {len(kept)} of {len(ids)} delivered")

    # -- the end --------------------------------------------------------------------------------------------------
    async def converge(self) -> list[str]:
        """Faults stop, two passes run; then every check. Returns the violations found (all steps)."""
        self.faults_off()
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
        seen = self.observe()
        for email, ent in self.entities.items():
            a, b = seen[L].get(email), seen[R].get(email)
            if ent.dead or (a is None and b is None):
                continue
            if a is None or b is None:
                self.violate(f"{email} exists in the {'right' if a is None else 'left'} app only after convergence",
                             email)
            elif a[1] != b[1]:
                diff = {f: (a[1][f], b[1][f]) for f in self.kinds if a[1][f] != b[1][f]}
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
    return {gone, gone._replace(bl=NB, br=NB, dead=False, flight=None)}


# -- random driving (the soak run, and a fixed-seed smoke test) ---------------------------------------------
OPS = ("create", "edit", "delete", "incremental", "full", "webhook")
WEIGHTS = (3.0, 5.0, 0.4, 3.0, 0.8, 1.5)


def _changes(rng: random.Random, kinds: Mapping[str, str], many: bool) -> dict[str, int | None]:
    fields = rng.sample(sorted(kinds), k=rng.randint(1, len(kinds) if many else 3))
    return {f: (None if rng.random() < 0.2 else rng.randrange(100_000)) for f in fields}


async def random_step(w: World, rng: random.Random, fault_rate: float) -> None:
    """One operation: mostly edits, creates and passes; 70% of passes and deliveries see faults."""
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
    else:
        await w.webhook(side, rng.choice((0.0, 0.3, 1.0)), rate, seed)


async def random_episode(w: World, rng: random.Random, steps: int, fault_rate: float) -> World:
    """``steps`` random operations, then convergence and the final checks (``w.violations``)."""
    try:
        for _ in range(steps):
            await random_step(w, rng, fault_rate)
        await w.converge()
    finally:
        await w.aclose()
    return w
