"""What the setup flow's pickers prevent, checked against the two apps' schemas (pure, no I/O).

``accord check``, the REST API and the setup flow refuse a sync whose mappings, value maps,
filters, constants, match keys or stage map name a field, an option or a stage the app does
not have, each with a "did you mean" when a name is close. (A field that disappears *later*
is a broken mapping at run time, skipped with a warning: README, "Broken mappings".)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from accord.config import ConfigIssue, SyncConfig
from accord.engine.mapping import Unmapped
from accord.engine.options import did_you_mean, suggestion
from accord.model import FieldSchema, FieldType, ObjectSchema, Pipeline, Side

_VALUE_OPS = frozenset({"eq", "neq", "in", "not_in"})  # ops whose value must be one of an enumeration's options


def key(path: str, name: str) -> str:
    """``path.name``, or ``path['name']`` when the name would break the path."""
    if not name or not name.isprintable() or any(c in name for c in " .[]'\""):
        return f"{path}[{name!r}]"
    return f"{path}.{name}"


class Where:
    """One side of a sync as the messages name it: the app, the object and its fields."""

    def __init__(self, app: str, schema: ObjectSchema) -> None:
        self.app, self.schema = app, schema

    @property
    def where(self) -> str:
        return f"{self.app} {self.schema.object}"

    def missing(self, name: str) -> str | None:
        """Why ``name`` is not a field here (with the closest one), or None when it is."""
        if self.schema.get(name) is not None:
            return None
        labels = {n: f.label for n, f in self.schema.fields.items() if f.label and f.label.casefold() != n.casefold()}
        near = did_you_mean(name, self.schema.fields, labels)
        hint = "" if near is None else f"; did you mean {near!r}" + (f" ({labels[near]})?" if near in labels else "?")
        return f"{self.where} has no field {name!r}{hint}"

    def bad_option(self, f: FieldSchema, value: Any) -> str | None:
        """Why ``value`` is not one of enumeration ``f``'s options, or None (not an enumeration, or it is)."""
        if f.type != FieldType.ENUM or not f.options or value is None:
            return None
        values = {o.value for o in f.options}
        if str(value) in values:
            return None
        labels = {o.value: o.label for o in f.options}
        by_label = next((o.value for o in f.options if o.label.casefold() == str(value).casefold()), None)
        hint = f"; did you mean {by_label!r} (its label is {value!r})?" if by_label else suggestion(str(value), values, labels)
        return f"{value!r} is not one of the values of {self.app} {f.label or f.name}{hint}"


def sync_issues(cfg: SyncConfig, left: ObjectSchema, right: ObjectSchema, path: str = "") -> list[ConfigIssue]:
    """Every name in ``cfg`` the two schemas do not have (see the module's docstring)."""
    sides = {Side.LEFT: Where(cfg.left.app, left), Side.RIGHT: Where(cfg.right.app, right)}
    issues = _mapping_issues(cfg, sides, path)
    issues += _filter_issues(cfg, sides, path)
    issues += _constant_issues(cfg, sides, path)
    issues += _match_issues(cfg, sides, path)
    return issues


def _mapping_issues(cfg: SyncConfig, sides: Mapping[Side, Where], path: str) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    for j, m in enumerate(cfg.mappings):
        mp = f"{path}.mappings[{j}]"
        fields: dict[Side, FieldSchema | None] = {}
        for side, name in ((Side.LEFT, m.left), (Side.RIGHT, m.right)):
            why = sides[side].missing(name)
            if why:
                out.append(ConfigIssue(f"{mp}.{side.value}", why))
            fields[side] = sides[side].schema.get(name)
        lf, rf = fields[Side.LEFT], fields[Side.RIGHT]
        if lf is None or rf is None:
            continue
        for attr, src, dst, src_f, dst_f in (("values", Side.LEFT, Side.RIGHT, lf, rf),
                                             ("values_to_left", Side.RIGHT, Side.LEFT, rf, lf)):
            vmap: dict[str, str] | None = getattr(m, attr)
            if not vmap:
                continue
            if src_f.type != FieldType.ENUM or dst_f.type != FieldType.ENUM:
                out.append(ConfigIssue(f"{mp}.{attr}", f"a value map needs two enumerations; {m.left} is "
                                                       f"{lf.type} and {m.right} is {rf.type}"))
                continue
            for k, v in vmap.items():
                for f, side, value in ((src_f, src, k), (dst_f, dst, v)):
                    why = sides[side].bad_option(f, value)
                    if why:
                        out.append(ConfigIssue(key(f"{mp}.{attr}", str(k)), why))
    return out


def _filter_issues(cfg: SyncConfig, sides: Mapping[Side, Where], path: str) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    for side in (Side.LEFT, Side.RIGHT):
        for i, fl in enumerate(cfg.filters.left if side is Side.LEFT else cfg.filters.right):
            fp = f"{path}.filters.{side.value}[{i}]"
            why = sides[side].missing(fl.field)
            if why:
                out.append(ConfigIssue(f"{fp}.field", why))
                continue
            f = sides[side].schema.fields[fl.field]
            if fl.op in _VALUE_OPS:
                values = fl.value if isinstance(fl.value, list) else [fl.value]
                for v in values:
                    bad = sides[side].bad_option(f, v)
                    if bad:
                        out.append(ConfigIssue(f"{fp}.value", bad))
    return out


def _constant_issues(cfg: SyncConfig, sides: Mapping[Side, Where], path: str) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    for side, consts in ((Side.LEFT, cfg.constants.to_left), (Side.RIGHT, cfg.constants.to_right)):
        for name, value in consts.items():
            cp = key(f"{path}.constants.to_{side.value}", name)
            why = sides[side].missing(name)
            if why:
                out.append(ConfigIssue(cp, why))
                continue
            f = sides[side].schema.fields[name]
            if not f.writable:
                out.append(ConfigIssue(cp, f"{sides[side].where} field {f.label or name} ({name}) is read-only"))
            bad = sides[side].bad_option(f, value)
            if bad:
                out.append(ConfigIssue(cp, bad))
    return out


def _match_issues(cfg: SyncConfig, sides: Mapping[Side, Where], path: str) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    if not isinstance(cfg.match, list):
        return out
    for i, k in enumerate(cfg.match):
        if isinstance(k, str):
            continue  # a concept name: compile_sync says when the objects lack it
        for side, name in ((Side.LEFT, k.left), (Side.RIGHT, k.right)):
            why = sides[side].missing(name)
            if why:
                out.append(ConfigIssue(f"{path}.match[{i}].{side.value}", why))
    return out


def stage_issues(cfg: SyncConfig, left: Sequence[Pipeline], right: Sequence[Pipeline], path: str = "") -> list[ConfigIssue]:
    """An explicit stage map naming a stage (by id or label) the app does not have."""
    if not isinstance(cfg.stages, dict):
        return []
    out: list[ConfigIssue] = []
    for k, v in cfg.stages.items():
        for app, pipes, name in ((cfg.left.app, left, str(k)), (cfg.right.app, right, str(v))):
            ids = [s.id for p in pipes for s in p.stages]
            labels = [s.label for p in pipes for s in p.stages]
            if not pipes or name in ids or name.casefold() in {x.casefold() for x in labels}:
                continue
            out.append(ConfigIssue(key(f"{path}.stages", str(k)),
                                   f"{app} has no deal stage {name!r}{suggestion(name, labels + ids)}"))
    return out


def _label(f: FieldSchema | None, name: str) -> str:
    return (f.label or name) if f is not None else name


def unmapped_note(cfg: SyncConfig, u: Unmapped, left: ObjectSchema, right: ObjectSchema) -> str:
    """One sentence about options written nowhere, with the value map that would carry them."""
    src, dst = u.to.other, u.to
    apps = {Side.LEFT: cfg.left.app, Side.RIGHT: cfg.right.app}
    schemas = {Side.LEFT: left, Side.RIGHT: right}
    src_name, dst_name = u.mapping.field(src), u.mapping.field(dst)
    dst_f = schemas[dst].get(dst_name)
    shown = ", ".join(u.values[:12]) + (f" and {len(u.values) - 12} more" if len(u.values) > 12 else "")
    attr = "values" if dst is Side.RIGHT else "values_to_left"
    example = ", ".join(f"{v}: …" for v in u.values[:3]) + (", …" if len(u.values) > 3 else "")
    options = [o.value for o in dst_f.options] if dst_f is not None else []
    choices = ", ".join(options[:12]) + (", …" if len(options) > 12 else "")
    return (f"{len(u.values)} {apps[src]} {_label(schemas[src].get(src_name), src_name)} value(s) have no counterpart "
            f"in {apps[dst]} {_label(dst_f, dst_name)} and are not written to {apps[dst]}: {shown}. To sync them, "
            f"add the value map to mappings: {{left: {u.mapping.left}, right: {u.mapping.right}, {attr}: {{{example}}}}}, "
            f"each … one of {apps[dst]}'s values ({choices})")
