"""Compile a sync's configuration and both apps' schemas into the plain spec the planner runs.

Type compatibility, read-only fields, per-mapping directions and enumeration value maps
are all resolved here, once, so the merge itself only compares and copies values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from accord import catalog
from accord.config import ConfigIssue, SyncConfig, effective_deletes, effective_winner
from accord.engine.filters import Filter, compile_filters
from accord.engine.matching import MatchKeySpec, key_spec
from accord.engine.options import pair_options
from accord.engine.values import compatible
from accord.model import FieldSchema, FieldType, ObjectSchema, Side, Value


@dataclass(frozen=True)
class FieldMap:
    left: str
    right: str
    rule: str  # "default" (the sync's winner) or a per-mapping rule from SPEC §2
    to_right: bool
    to_left: bool
    left_type: FieldType
    right_type: FieldType
    lr_values: dict[str, str] | None = None
    rl_values: dict[str, str] | None = None
    required: bool = False
    left_calculated: bool = False
    right_calculated: bool = False
    key: str | None = None  # the base key to use instead of the computed one (see keyed_like)
    # the values an enumeration field accepts (empty: any); a value the map leaves outside them
    # is not written, since the app would refuse the whole record for it (see ``accepts``)
    left_options: frozenset[str] = frozenset()
    right_options: frozenset[str] = frozenset()

    def field(self, side: Side) -> str:
        return self.left if side is Side.LEFT else self.right

    def type(self, side: Side) -> FieldType:
        return self.left_type if side is Side.LEFT else self.right_type

    def flows_to(self, side: Side) -> bool:
        return self.to_left if side is Side.LEFT else self.to_right

    def calculated(self, side: Side) -> bool:
        return self.left_calculated if side is Side.LEFT else self.right_calculated

    def values_to(self, side: Side) -> dict[str, str] | None:
        """Enumeration value map used when writing *to* ``side``."""
        return self.rl_values if side is Side.LEFT else self.lr_values

    def accepts(self, side: Side, value: Value) -> bool:
        """Whether ``side``'s field takes ``value`` (canonical, converted): an enumeration takes
        its options only. A value with no counterpart is left out of the write instead of
        failing the record (``accord check`` lists such values, with the value map to add)."""
        options = self.left_options if side is Side.LEFT else self.right_options
        if not options or value is None:
            return True
        if isinstance(value, list):
            return all(str(v) in options for v in value)
        return str(value) in options

    @cached_property
    def plain(self) -> bool:
        """Values cross unchanged both ways (same type, no value map): ``convert`` is the identity."""
        return self.left_type == self.right_type and (
            self.left_type != FieldType.ENUM or (self.lr_values is None and self.rl_values is None))

    @cached_property
    def base_key(self) -> str:
        """The key of this mapping's values in a pair's stored bases.

        A base only means something for the exact mapping it was recorded under: repointed
        to another field, given another value map, rule or direction, the old base would make
        an untouched value look like a deliberate clear (or keep two differing values "in
        step" forever). So the key names both fields and, when anything but a plain two-way
        copy, a digest of what decides how values cross; a mapping with no base under its key
        is merged as in an initial sync (see ``merge.merge_field``).
        """
        if self.key is not None:
            return self.key
        key = f"{self.left}|{self.right}"
        if self.plain and self.rule == "default" and self.to_left and self.to_right:
            return key
        how = repr((str(self.left_type), str(self.right_type), self.rule, self.to_left, self.to_right,
                    sorted((self.lr_values or {}).items()), sorted((self.rl_values or {}).items())))
        return f"{key}|{hashlib.sha1(how.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class BrokenMapping:
    path: str
    reason: str

    @property
    def default(self) -> bool:
        """One of the vendor pair's default mappings (catalog), not one the config names: an app
        without one of its fields (a table without that column) is normal, not a fault."""
        return "(default " in self.path


@dataclass(frozen=True)
class SyncSpec:
    name: str
    direction: str
    winner: Side
    deletes: str
    mappings: tuple[FieldMap, ...]
    match: tuple[MatchKeySpec, ...] = ()
    require_match_key: bool = True
    constants: dict[Side, dict[str, Any]] = field(default_factory=dict)
    filters: dict[Side, tuple[Filter, ...]] = field(default_factory=dict)
    inclusion_side: Side | None = None
    created_after: str | None = None
    stage_field: dict[Side, str] = field(default_factory=dict)
    broken: tuple[BrokenMapping, ...] = ()
    # a record created in the other app that meets a list-side record outside the inclusion
    # list syncs the pair once (catalog.PAIR_RULES; HubSpot–Salesforce, seed 004)
    match_once_outside_list: bool = False
    # the apps as accord.yaml names them, for messages people read ("deleted in salesforce")
    apps: dict[Side, str] = field(default_factory=lambda: {Side.LEFT: "the left app", Side.RIGHT: "the right app"})
    inclusion_list: str | None = None

    def app(self, side: Side) -> str:
        return self.apps[side]

    @cached_property
    def left_fields(self) -> tuple[str, ...]:
        return tuple(m.left for m in self.mappings)

    @cached_property
    def right_fields(self) -> tuple[str, ...]:
        return tuple(m.right for m in self.mappings)

    def mapped(self, side: Side) -> tuple[str, ...]:
        """The mapped field names of ``side``, in mapping order."""
        return self.left_fields if side is Side.LEFT else self.right_fields

    @cached_property
    def _based(self) -> dict[Side, tuple[tuple[str, str], ...]]:
        return {s: tuple((m.field(s), m.base_key) for m in self.mappings) for s in (Side.LEFT, Side.RIGHT)}

    def based(self, side: Side) -> tuple[tuple[str, str], ...]:
        """(field of ``side``, base key) of every mapping, in mapping order: a side's values
        are stored in a pair's base under the mapping's key, not the bare field name."""
        return self._based[side]

    @cached_property
    def _flows(self) -> dict[Side, tuple[tuple[str, str, bool, FieldMap], ...]]:
        return {dst: tuple((m.field(dst.other), m.field(dst), m.plain, m) for m in self.mappings if m.flows_to(dst))
                for dst in (Side.LEFT, Side.RIGHT)}

    def flows_to(self, dst: Side) -> tuple[tuple[str, str, bool, FieldMap], ...]:
        """(source field, target field, copied as is, mapping) of each mapping that writes to ``dst``:
        worked out once, not per record (planning a create walks these for every record)."""
        return self._flows[dst]

    def writes_to(self, side: Side) -> bool:
        """Whether the sync's direction lets the engine write to ``side`` at all."""
        return side in self._writable

    @cached_property
    def _writable(self) -> frozenset[Side]:
        src = {"left-to-right": Side.LEFT, "right-to-left": Side.RIGHT}.get(self.direction)
        return frozenset(s for s in (Side.LEFT, Side.RIGHT) if src is None or src is not s)

    @cached_property
    def _label_fields(self) -> dict[Side, tuple[tuple[str, ...], ...]]:
        out: dict[Side, tuple[tuple[str, ...], ...]] = {}
        for s in (Side.LEFT, Side.RIGHT):
            mapped = [m.field(s) for m in self.mappings]
            keys = [k.field(s.value) for k in self.match]
            by_norm: dict[str, str] = {}
            for f in (*keys, *mapped):
                by_norm.setdefault(_norm_field(f), f)
            first = next((by_norm[n] for n in _FIRST_NAMES if n in by_norm), None)
            last = next((by_norm[n] for n in _LAST_NAMES if n in by_norm), None)
            person = tuple(f for f in (first, last) if f)
            name = person or next(((by_norm[n],) for n in _NAMES if n in by_norm), ())
            groups = [(k,) for k in keys] + ([name] if name else []) + [(f,) for f in mapped[:1]]
            out[s] = tuple(dict.fromkeys(groups))
        return out

    def match_fields(self, side: Side) -> list[str]:
        """``side``'s fields the match keys read, each once, in order (for messages: "email")."""
        return list(dict.fromkeys(k.field(side.value) for k in self.match))

    def label_fields(self, side: Side) -> tuple[tuple[str, ...], ...]:
        """The fields that name a record of ``side`` in the index, in order: each match field
        (email, domain), then the record's name: a person's first and last name, else the one
        name of a company, deal or ticket, then the first mapped field. The first of these
        with a value is the label; a group of several fields is their values joined by a space
        ("Ann Lee"), the blank ones left out (``runner.pairing._label``)."""
        return self._label_fields[side]

    @cached_property
    def merge_order(self) -> tuple[tuple[FieldMap, str, bool], ...]:
        """(mapping, base key, values cross unchanged) of each mapping: what merging a pair walks."""
        return tuple((m, m.base_key, m.plain) for m in self.mappings)

    def keyed_like(self, other: SyncSpec) -> SyncSpec:
        """This spec with ``other``'s base keys for the mappings they share: a one-off pass under
        a variant of a sync's config (a manual one-way copy) reads and leaves the sync's own
        bases, instead of bases the sync's next pass would not know."""
        keys = {(m.left, m.right): m.base_key for m in other.mappings}
        maps = tuple(replace(m, key=keys.get((m.left, m.right))) for m in self.mappings)
        return replace(self, mappings=maps)

    def fields(self, side: Side) -> tuple[str, ...]:
        """Every field of ``side`` the engine reads: mapped, match, filter, stage and constant fields."""
        names: dict[str, None] = {}
        for m in self.mappings:
            names[m.field(side)] = None
        for k in self.match:
            names[k.field(side.value)] = None
        for f in self.filters.get(side, ()):
            names[f.field] = None
        for c in self.constants.get(side, {}):
            names[c] = None
        if side in self.stage_field:
            names[self.stage_field[side]] = None
        return tuple(names)


# Fields that name a record, by their name lower-cased without "_", "-" or spaces, in order of
# preference: HubSpot firstname/lastname, Salesforce FirstName/LastName, Snov.io first_name/last_name;
# a company's, deal's or product's name (HubSpot dealname), a ticket's or case's subject.
_FIRST_NAMES = ("firstname", "givenname")
_LAST_NAMES = ("lastname", "familyname", "surname")
_NAMES = ("name", "fullname", "dealname", "subject")


def _norm_field(f: str) -> str:
    return f.lower().replace("_", "").replace("-", "").replace(" ", "")


def _enum_map(src: FieldSchema, dst: FieldSchema) -> dict[str, str] | None:
    """Default option map: same value, else same label, else a similar label (engine/options.py)."""
    if not (src.options and dst.options):
        return None
    return pair_options(src.options, dst.options)


def _invert(m: dict[str, str] | None) -> dict[str, str] | None:
    if m is None:
        return None
    out: dict[str, str] = {}
    for k, v in m.items():
        out.setdefault(v, k)
    return out


def compile_sync(
    cfg: SyncConfig,
    left_vendor: str,
    right_vendor: str,
    left_schema: ObjectSchema,
    right_schema: ObjectSchema,
    stage_map: dict[str, str] | None = None,
    path: str = "",
) -> tuple[SyncSpec, list[ConfigIssue]]:
    """Build the :class:`SyncSpec`; return it with the *fatal* issues found (type clashes …).

    Mappings whose field does not exist in the app's schema are kept out of the spec and
    listed in ``spec.broken``: the rest of the sync goes on without them.
    """
    issues: list[ConfigIssue] = []
    broken: list[BrokenMapping] = []
    stage_fields = _stage_fields(cfg, left_vendor, right_vendor)
    maps: list[FieldMap] = []
    for p, m, required, known in _entries(cfg, left_vendor, right_vendor, path):
        lf, rf = left_schema.get(m.left), right_schema.get(m.right)
        if lf is None or rf is None:
            side, name, obj = ("left", m.left, cfg.left.label()) if lf is None else ("right", m.right, cfg.right.label())
            broken.append(BrokenMapping(f"{p}.{side}", f"field {name!r} does not exist on {obj}"))
            continue
        fm = _field_map(cfg, p, m, required, lf, rf, (stage_fields, stage_map), known, issues)
        if fm is not None:
            maps.append(fm)

    match = _match_specs(cfg, left_vendor, right_vendor, issues, path)
    spec = SyncSpec(
        name=cfg.name,
        direction=cfg.direction,
        winner=Side(effective_winner(cfg)),
        deletes=effective_deletes(cfg, left_vendor, right_vendor),
        mappings=tuple(maps),
        match=match,
        require_match_key=cfg.require_match_key and bool(match),
        constants={Side.LEFT: dict(cfg.constants.to_left), Side.RIGHT: dict(cfg.constants.to_right)},
        filters={Side.LEFT: compile_filters(cfg.filters.left), Side.RIGHT: compile_filters(cfg.filters.right)},
        inclusion_side=Side(cfg.inclusion.side) if cfg.inclusion else None,
        created_after=cfg.created_after.isoformat() if cfg.created_after else None,
        stage_field=stage_fields if stage_map is not None else {},
        broken=tuple(broken),
        match_once_outside_list=catalog.pair_rules(left_vendor, right_vendor).match_once_outside_list,
        apps={Side.LEFT: cfg.left.app, Side.RIGHT: cfg.right.app},
        inclusion_list=cfg.inclusion.list if cfg.inclusion else None,
    )
    issues.extend(_constant_issues(spec, left_schema, right_schema, path))
    return spec, issues


def _entries(cfg: SyncConfig, left_vendor: str, right_vendor: str,
             path: str) -> list[tuple[str, Any, bool, dict[str, str] | None]]:
    """(key path, mapping-like, required, the catalog's value map) of the catalog's defaults the
    user did not map, then the user's."""
    defaults = catalog.default_mappings(left_vendor, cfg.left.object, right_vendor, cfg.right.object) if cfg.defaults else []
    user_left = {m.left for m in cfg.mappings}
    user_right = {m.right for m in cfg.mappings}
    entries: list[tuple[str, Any, bool, dict[str, str] | None]] = []
    for d in defaults:
        if d.left in user_left or d.right in user_right:
            continue  # the user's own mapping of this field replaces a non-required default
        entries.append((f"{path}.mappings(default {d.left} ↔ {d.right})", d, d.required, d.values))
    for j, m in enumerate(cfg.mappings):
        same = next((d for d in defaults if d.left == m.left and d.right == m.right), None)
        if same is not None and same.rule and m.rule is None:
            m = m.model_copy(update={"rule": same.rule})  # a restated default keeps its rule unless given one
        entries.append((f"{path}.mappings[{j}]", m, same is not None and same.required, same.values if same else None))
    return entries


def _stage_fields(cfg: SyncConfig, left_vendor: str, right_vendor: str) -> dict[Side, str]:
    """The two deal stage fields, when both objects are deals with a known stage field."""
    stage_left = catalog.object_info(left_vendor, cfg.left.object)
    stage_right = catalog.object_info(right_vendor, cfg.right.object)
    if stage_left and stage_right and stage_left.kind == "deal" and "stage" in stage_left.concepts:
        return {Side.LEFT: stage_left.concepts["stage"], Side.RIGHT: stage_right.concepts["stage"]}
    return {}


def _field_map(cfg: SyncConfig, p: str, m: Any, required: bool, lf: FieldSchema, rf: FieldSchema,
               stages: tuple[dict[Side, str], dict[str, str] | None], known: dict[str, str] | None,
               issues: list[ConfigIssue]) -> FieldMap | None:
    """The compiled mapping ``m`` (at key path ``p``) between existing fields, or None when it
    is switched off (rule ``none``) or cannot flow either way (an issue says why)."""
    is_user = not isinstance(m, catalog.DefaultMapping)
    rule = getattr(m, "rule", None) or "default"
    if rule == "none":
        return None
    flows = _flows(cfg, p, m, is_user, rule, lf, rf, issues)
    if flows is None:
        return None
    to_r, to_l = flows
    lr, rl = _value_maps(m, is_user, lf, rf, stages, known)
    # both option lists known (never a plain copy then: such mappings always have value maps); not
    # the deal stages: the stage map decides (stages: auto may add stages after the schema was read)
    stage_fields, stage_map = stages
    is_stage = bool(stage_fields) and stage_map is not None and (m.left, m.right) == (
        stage_fields[Side.LEFT], stage_fields[Side.RIGHT])
    enums = lf.type == FieldType.ENUM and rf.type == FieldType.ENUM and bool(lf.options and rf.options) and not is_stage
    return FieldMap(
        left=m.left, right=m.right, rule=rule, to_right=to_r, to_left=to_l,
        left_type=lf.type, right_type=rf.type, lr_values=lr, rl_values=rl, required=required,
        left_calculated=lf.calculated, right_calculated=rf.calculated,
        left_options=frozenset(o.value for o in lf.options) if enums else frozenset(),
        right_options=frozenset(o.value for o in rf.options) if enums else frozenset(),
    )


def _flows(cfg: SyncConfig, p: str, m: Any, is_user: bool, rule: str, lf: FieldSchema, rf: FieldSchema,
           issues: list[ConfigIssue]) -> tuple[bool, bool] | None:
    """Whether values of ``m`` flow (to the right, to the left) given the sync's and the
    mapping's directions, its rule, the two types and which side is writable; None (and
    an issue, when it is an error) when they flow neither way or not the way asked."""
    can_r, can_l = compatible(lf.type, rf.type)
    want_r = cfg.direction in ("two-way", "left-to-right") and rule != "always-right"
    want_l = cfg.direction in ("two-way", "right-to-left") and rule != "always-left"
    mdir = getattr(m, "direction", None) if is_user else None
    if mdir == "left-to-right":
        want_l = False
    elif mdir == "right-to-left":
        want_r = False
    to_r = want_r and can_r and rf.writable
    to_l = want_l and can_l and lf.writable
    if not (to_r or to_l):
        if not (can_r or can_l) or (mdir == "left-to-right" and not can_r) or (mdir == "right-to-left" and not can_l):
            reason = f"type-incompatible: {m.left} ({lf.type}) ↔ {m.right} ({rf.type})"
            if can_r or can_l:
                reason += " can only flow " + ("left to right" if can_r else "right to left")
            issues.append(ConfigIssue(f"{p}.right", reason))
        elif not (lf.writable or rf.writable):
            issues.append(ConfigIssue(f"{p}.right", f"{m.left} and {m.right} are both read-only"))
        elif is_user:
            issues.append(ConfigIssue(f"{p}.right", f"{m.left} ↔ {m.right} cannot flow in this sync's direction ({cfg.direction})"))
        return None
    if (mdir == "left-to-right" and not to_r) or (mdir == "right-to-left" and not to_l):
        issues.append(ConfigIssue(f"{p}.direction", f"{m.left} ↔ {m.right} cannot flow {mdir}: the target is read-only"))
        return None
    return to_r, to_l


def _value_maps(m: Any, is_user: bool, lf: FieldSchema, rf: FieldSchema,
                stages: tuple[dict[Side, str], dict[str, str] | None],
                known: dict[str, str] | None) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The enumeration value maps (left to right, right to left) of ``m``.

    The deal stage fields take the stage map. Others pair the two fields' options by value,
    label and similar label (engine/options.py), the catalog's map between the two vendors
    (``known``) first, and the user's ``values`` (and ``values_to_left``) over both: a user
    map adds to the defaults and overrides them, so "the value map to add" is only the values
    the defaults leave out.
    """
    if lf.type != FieldType.ENUM or rf.type != FieldType.ENUM:
        return None, None
    stage_fields, stage_map = stages
    if stage_fields and m.left == stage_fields[Side.LEFT] and m.right == stage_fields[Side.RIGHT] and stage_map is not None:
        lr: dict[str, str] | None = dict(stage_map)
    else:
        lr = _enum_map(lf, rf)
        if known:
            # the catalog's pairs of options both apps have, first: on the way back the first
            # value naming a target wins
            lopts, ropts = {o.value for o in lf.options}, {o.value for o in rf.options}
            ok = {k: v for k, v in known.items() if k in lopts and v in ropts}
            lr = {**ok, **{k: v for k, v in (lr or {}).items() if k not in ok}}
        user = getattr(m, "values", None) if is_user else None
        if user:
            lr = {**user, **{k: v for k, v in (lr or {}).items() if k not in user}}
    rl = _invert(lr)
    if lr is not None and lf.options and rf.options:
        # values written to the left come from the right side's options
        rl = {**(_enum_map(rf, lf) or {}), **(rl or {})}
    back = getattr(m, "values_to_left", None) if is_user else None
    if back:
        rl = {**(rl or {}), **back}
    return lr, rl


@dataclass(frozen=True)
class Unmapped:
    """Options of one side that a mapping carries to the other side as no value it accepts."""

    mapping: FieldMap
    to: Side  # the side the values would be written to
    values: tuple[str, ...]  # the source side's option values, in the app's order


def unmapped_values(spec: SyncSpec, left: ObjectSchema, right: ObjectSchema) -> list[Unmapped]:
    """Per enumeration mapping and direction, the source options that have no counterpart among
    the target's options: they are not written (``FieldMap.accepts``). Deal stages are left out
    (a deal in an unmapped stage is excluded with its own reason)."""
    out: list[Unmapped] = []
    stage = set(spec.stage_field.items())
    for m in spec.mappings:
        if m.left_type != FieldType.ENUM or m.right_type != FieldType.ENUM or (Side.LEFT, m.left) in stage:
            continue
        for dst in (Side.RIGHT, Side.LEFT):
            src_field = (left if dst is Side.RIGHT else right).get(m.field(dst.other))
            if not m.flows_to(dst) or src_field is None:
                continue
            vmap = m.values_to(dst)
            missing = tuple(o.value for o in src_field.options
                            if not m.accepts(dst, vmap.get(o.value, o.value) if vmap is not None else o.value))
            if missing:
                out.append(Unmapped(m, dst, missing))
    return out


def _constant_issues(spec: SyncSpec, left_schema: ObjectSchema, right_schema: ObjectSchema,
                     path: str) -> list[ConfigIssue]:
    """Constants written to a field that does not exist or is read-only."""
    issues: list[ConfigIssue] = []
    for side in (Side.LEFT, Side.RIGHT):
        schema = left_schema if side is Side.LEFT else right_schema
        for name in spec.constants[side]:
            f = schema.get(name)
            if f is None or not f.writable:
                issues.append(ConfigIssue(f"{path}.constants.to_{side.value}.{name}",
                                          f"field {name!r} {'does not exist' if f is None else 'is read-only'}"))
    return issues


def _match_specs(cfg: SyncConfig, lv: str, rv: str, issues: list[ConfigIssue], path: str) -> tuple[MatchKeySpec, ...]:
    if cfg.match == "none":
        return ()
    li, ri = catalog.object_info(lv, cfg.left.object), catalog.object_info(rv, cfg.right.object)
    names: list[Any] = list(cfg.match) if cfg.match is not None else (
        list(catalog.DEFAULT_MATCH.get(li.kind, ())) if li and ri and li.kind == ri.kind else [])
    out = []
    for i, n in enumerate(names):
        if isinstance(n, str):
            lf = li.concepts.get(n) if li else None
            rf = ri.concepts.get(n) if ri else None
            if lf is None or rf is None:
                issues.append(ConfigIssue(f"{path}.match[{i}]", f"unknown match key {n!r} for these objects; use {{left: FIELD, right: FIELD}}"))
                continue
            out.append(key_spec(n, lf, rf))
        else:
            out.append(key_spec(f"custom.{n.left}.{n.right}", n.left, n.right))
    return tuple(out)
