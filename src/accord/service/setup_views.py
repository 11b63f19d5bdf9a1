"""What the setup flow's steps show of the two apps: objects, fields with labels and types,
enumeration options, lists, stages, the compiled mappings (their arrows), value maps and the
values with no counterpart. Read only; the draft and the forms are :mod:`accord.service.setup_flow`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from accord import catalog, redact
from accord.config import ACTIVITY_TYPES, ROUTED, SyncConfig, effective_deletes
from accord.connectors import registry
from accord.engine.mapping import FieldMap, SyncSpec, compile_sync, unmapped_values
from accord.engine.stages import auto_map_stages, resolve_stage_map
from accord.engine.validate import unmapped_note
from accord.model import FieldSchema, FieldType, ObjectSchema, Option, Pipeline, Side
from accord.service import manage
from accord.service.core import Service
from accord.service.setup_flow import (
    OPS,
    RULES,
    STEPS,
    TITLES,
    Draft,
    Form,
    event_app,
    one,
    review_findings,
    seconds_text,
)

log = logging.getLogger("accord.service")
POLLS = ("30s", "1m", "5m", "15m", "30m", "1h", "6h", "1d")
NOT_SYNCED = ""  # the value editor's "no counterpart" choice


@dataclass
class Schemas:
    left: ObjectSchema
    right: ObjectSchema
    left_pipelines: list[Pipeline] = field(default_factory=list)
    right_pipelines: list[Pipeline] = field(default_factory=list)

    def of(self, side: str) -> ObjectSchema:
        return self.left if side == "left" else self.right


def vendors(svc: Service, d: Draft) -> tuple[str, str]:
    return (svc.cfg.apps[d.left_app].type if d.left_app in svc.cfg.apps else "",
            svc.cfg.apps[d.right_app].type if d.right_app in svc.cfg.apps else "")


async def objects_of(svc: Service, app: str) -> list[Option]:
    """The app's objects, those with default mappings first; the catalog's when the app cannot list them."""
    if app not in svc.cfg.apps:
        return []
    known = manage.known_objects(svc.cfg.apps[app].type)
    try:
        live = await svc.session.connector(app).list_objects()
    except Exception as e:  # unreachable: the objects Accord knows still let the flow go on
        log.warning("setup: cannot list the objects of %s: %s", app, redact.scrub(str(e)))
        live = [Option(o, o) for o in known]
    first = [o for o in live if o.value in known] + [Option(o, o) for o in known if o not in {x.value for x in live}]
    return first + sorted((o for o in live if o.value not in known), key=lambda o: o.label.casefold())


async def load_schemas(svc: Service, d: Draft) -> Schemas:
    sch = Schemas(await manage.describe(svc, d.left_app, d.left_object),
                  await manage.describe(svc, d.right_app, d.right_object))
    if catalog.kind_of(svc.cfg.vendor(d.left_app), d.left_object) == "deal" or d.stages is not None:
        sch.left_pipelines = await manage.pipelines(svc, d.left_app, d.left_object)
        sch.right_pipelines = await manage.pipelines(svc, d.right_app, d.right_object)
    return sch


def fields_of(schema: ObjectSchema, *, writable: bool = False) -> list[dict[str, Any]]:
    """The fields as pickers list them, sorted by label: ``text`` is the label and the type (the API
    name only where two fields share a label)."""
    out = [f for f in manage.fields_json(schema) if f["writable"] or not writable]
    seen: dict[str, int] = {}
    for f in out:
        seen[f["label"].casefold()] = seen.get(f["label"].casefold(), 0) + 1
    for f in out:
        twin = f" · {f['name']}" if seen[f["label"].casefold()] > 1 else ""
        f["text"] = f"{f['label']}{twin} ({f['type']}{'' if f['writable'] else ', read-only'})"
    return out


def label(schema: ObjectSchema, name: str) -> str:
    f = schema.get(name)
    return (f.label or name) if f is not None else name


def compiled(svc: Service, d: Draft, sch: Schemas, strip: tuple[str, str] | None = None) -> SyncSpec | None:
    """The draft compiled against both schemas (None when it is not a valid sync yet); ``strip``:
    without the user's value maps of that mapping (the default pairing)."""
    body = d.config()
    body["name"] = body.get("name") or "draft"
    if strip is not None:
        body["mappings"] = [{k: v for k, v in m.items() if k not in ("values", "values_to_left")}
                            if (m.get("left"), m.get("right")) == strip else m for m in body.get("mappings", [])]
    try:
        cfg = SyncConfig.model_validate(body)
    except ValidationError:
        return None
    lv, rv = vendors(svc, d)
    stages = resolve_stage_map(d.stages or "auto", sch.left_pipelines, sch.right_pipelines) \
        if sch.left_pipelines and sch.right_pipelines else None
    spec, _ = compile_sync(cfg, lv, rv, sch.left, sch.right, stages)
    return spec


def arrow(d: Draft, fm: FieldMap | None) -> tuple[str, str]:
    """The direction values of a mapping flow, as an arrow and in words."""
    if fm is None:
        return "×", "not synced"
    if fm.to_right and fm.to_left:
        return "↔", "two-way"
    if fm.to_right:
        return "→", f"{d.left_app} to {d.right_app} only"
    return "←", f"{d.right_app} to {d.left_app} only"


def mapping_rows(svc: Service, d: Draft, sch: Schemas, spec: SyncSpec | None) -> list[dict[str, Any]]:
    """Defaults first (required ones locked, others removable), then the custom mappings; each with
    both fields' labels and types and the arrow of the direction its values flow."""
    lv, rv = vendors(svc, d)
    defaults = catalog.default_mappings(lv, d.left_object, rv, d.right_object)
    flows = {(m.left, m.right): m for m in (spec.mappings if spec else ())}
    custom = list(enumerate(d.mappings))
    rows: list[dict[str, Any]] = []
    for dm in defaults:
        over = next(((i, m) for i, m in custom if m.get("left") == dm.left or m.get("right") == dm.right), None)
        if over is not None and not (over[1].get("left") == dm.left and over[1].get("right") == dm.right):
            continue  # a custom mapping of one of its fields replaces the default
        off = over is not None and over[1].get("rule") == "none"
        rows.append(_row(d, sch, flows, dm.left, dm.right, default=True, required=dm.required, off=off,
                         index=over[0] if over else None, entry=over[1] if over else {}))
        rows[-1]["default_rule"] = dm.rule or ""
    shown = {r["index"] for r in rows if r["index"] is not None}
    rows += [_row(d, sch, flows, m.get("left", ""), m.get("right", ""), default=False, required=False, off=False,
                  index=i, entry=m) for i, m in custom if i not in shown]
    return rows


def _row(d: Draft, sch: Schemas, flows: dict[tuple[str, str], FieldMap], left: str, right: str, *, default: bool,
         required: bool, off: bool, index: int | None, entry: dict[str, Any]) -> dict[str, Any]:
    lf, rf = sch.left.get(left), sch.right.get(right)
    fm = None if off else flows.get((left, right))
    sign, words = arrow(d, fm)
    # a value map for enumerations with options on both sides (deal stages have the stage table)
    enum = fm is not None and bool(fm.left_options and fm.right_options)
    return {"left": left, "right": right, "left_label": label(sch.left, left), "right_label": label(sch.right, right),
            "left_type": str(lf.type) if lf else "missing", "right_type": str(rf.type) if rf else "missing",
            "arrow": sign, "flow": words, "default": default, "required": required, "off": off, "index": index,
            "rule": entry.get("rule") if entry.get("rule") != "none" else "", "direction": entry.get("direction", ""),
            "enum": enum and not off, "has_values": bool(entry.get("values") or entry.get("values_to_left"))}


def unmapped_rows(d: Draft, sch: Schemas, spec: SyncSpec | None) -> list[dict[str, Any]]:
    """Values with no counterpart, per mapping and direction, with the button that opens their value map."""
    if spec is None:
        return []
    cfg = SyncConfig.model_validate({**d.config(), "name": d.name or "draft"})
    return [{"text": unmapped_note(cfg, u, sch.left, sch.right).split(". To sync them")[0] + ".",
             "key": f"{u.mapping.left}|{u.mapping.right}", "values": u.values}
            for u in unmapped_values(spec, sch.left, sch.right)]


def value_editor(svc: Service, d: Draft, sch: Schemas, spec: SyncSpec | None) -> dict[str, Any] | None:
    """The value map of the mapping ``d.values_for``: per direction it flows, each source option with
    the target option it is written as (preselected: the current map; "not synced" when none)."""
    left, _, right = d.values_for.partition("|")
    fm = next((m for m in (spec.mappings if spec else ()) if (m.left, m.right) == (left, right)), None)
    base = compiled(svc, d, sch, strip=(left, right))
    default = next((m for m in (base.mappings if base else ()) if (m.left, m.right) == (left, right)), None)
    lf, rf = sch.left.get(left), sch.right.get(right)
    if fm is None or lf is None or rf is None:
        return None
    tables = []
    for dst, src_f, dst_f, key in ((Side.RIGHT, lf, rf, "lr"), (Side.LEFT, rf, lf, "rl")):
        if not fm.flows_to(dst):
            continue
        now, dflt = fm.values_to(dst) or {}, (default.values_to(dst) or {}) if default else {}
        rows = []
        for i, o in enumerate(src_f.options):
            target = now.get(o.value, o.value)
            paired = dflt.get(o.value, o.value)
            rows.append({"i": i, "value": o.value, "label": o.label or o.value,
                         "target": target if fm.accepts(dst, target) else NOT_SYNCED,
                         "may_skip": not (default is not None and default.accepts(dst, paired))})
        tables.append({"key": key, "to": d.app(dst.value), "from": d.app(dst.other.value),
                       "src_label": src_f.label or src_f.name, "dst_label": dst_f.label or dst_f.name,
                       "rows": rows, "choices": [{"value": o.value, "label": o.label or o.value} for o in dst_f.options]})
    return {"left": left, "right": right, "left_label": lf.label or left, "right_label": rf.label or right,
            "tables": tables}


def save_values(svc: Service, d: Draft, sch: Schemas, f: Form) -> None:
    """The value map editor's choices into the draft: only what differs from the default pairing,
    as ``values`` / ``values_to_left`` of the mapping (a default is restated to carry them)."""
    left, _, right = d.values_for.partition("|")
    lf, rf = sch.left.get(left), sch.right.get(right)
    base = compiled(svc, d, sch, strip=(left, right))
    default = next((m for m in (base.mappings if base else ()) if (m.left, m.right) == (left, right)), None)
    if lf is None or rf is None or default is None:
        return
    chosen: dict[str, dict[str, str]] = {}
    for key, dst, src_f in (("lr", Side.RIGHT, lf), ("rl", Side.LEFT, rf)):
        dflt = default.values_to(dst) or {}
        picks = {o.value: one(f, f"{key}_{i}") for i, o in enumerate(src_f.options) if f"{key}_{i}" in f}
        chosen[key] = {k: v for k, v in picks.items() if v != NOT_SYNCED and dflt.get(k, k) != v}
    entry = next((m for m in d.mappings if (m.get("left"), m.get("right")) == (left, right)), None)
    if entry is None:
        entry = {"left": left, "right": right}
        d.mappings.append(entry)
    for attr, key in (("values", "lr"), ("values_to_left", "rl")):
        entry.pop(attr, None)
        if chosen[key]:
            entry[attr] = chosen[key]
    if set(entry) == {"left", "right"} and any((x.left, x.right) == (left, right) for x in catalog.default_mappings(
            *_vendor_objects(svc, d))):
        d.mappings.remove(entry)  # a default restated with nothing of its own
    d.values_for = ""


def _vendor_objects(svc: Service, d: Draft) -> tuple[str, str, str, str]:
    lv, rv = vendors(svc, d)
    return lv, d.left_object, rv, d.right_object


def stage_rows(sch: Schemas, d: Draft) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    if not (sch.left_pipelines and sch.right_pipelines):
        return [], []
    current = auto_map_stages(sch.left_pipelines, sch.right_pipelines) if not isinstance(d.stages, dict) else d.stages
    rights = [{"id": s.id, "label": f"{p.label}: {s.label}"} for p in sch.right_pipelines for s in p.stages]
    rows = [{"id": s.id, "label": f"{p.label}: {s.label}", "target": current.get(s.id, "")}
            for p in sch.left_pipelines for s in p.stages]
    return rows, rights


def constant_rows(d: Draft, sch: Schemas) -> list[dict[str, Any]]:
    return [{"side": side, "app": d.app(side), "field": name, "label": label(sch.of(side), name), "value": value}
            for side, consts in (("left", d.constants_left), ("right", d.constants_right))
            for name, value in consts.items()]


def value_control(schema: ObjectSchema, name: str) -> dict[str, Any]:
    """How the value of field ``name`` is picked: its options, true/false, or typed (text, number, date)."""
    f: FieldSchema | None = schema.get(name)
    if f is None:
        return {"kind": "none"}
    if f.type == FieldType.ENUM and f.options:
        return {"kind": "enum", "options": [{"value": o.value, "label": o.label or o.value} for o in f.options]}
    if f.type == FieldType.BOOL:
        return {"kind": "bool"}
    return {"kind": {FieldType.NUMBER: "number", FieldType.DATE: "date", FieldType.DATETIME: "datetime-local"}.get(
        f.type, "text"), "type": str(f.type)}


async def list_choices(svc: Service, d: Draft) -> tuple[list[Option] | None, str]:
    """The lists of the inclusion side's app and object, or None and why there are none."""
    if not d.inclusion_side:
        return None, ""
    app, obj = d.app(d.inclusion_side), d.left_object if d.inclusion_side == "left" else d.right_object
    try:
        return await svc.session.connector(app).inclusion_lists(obj), ""
    except NotImplementedError:
        return None, f"{app} has no inclusion lists for {obj}."
    except Exception as e:
        return None, redact.scrub(f"cannot read the lists of {app}: {e}")


def match_info(svc: Service, d: Draft) -> list[dict[str, str]]:
    """The objects' default match keys, as field labels of both sides."""
    lv, rv = vendors(svc, d)
    li, ri = catalog.object_info(lv, d.left_object), catalog.object_info(rv, d.right_object)
    if not (li and ri and li.kind == ri.kind):
        return []
    return [{"left": li.concepts[c], "right": ri.concepts[c]} for c in catalog.DEFAULT_MATCH.get(li.kind, ())
            if c in li.concepts and c in ri.concepts]


def options_info(svc: Service, d: Draft) -> dict[str, Any]:
    lv, rv = vendors(svc, d)
    body = {**d.config(), "name": d.name or "draft", "deletes": None}
    try:
        default_deletes = effective_deletes(SyncConfig.model_validate(body), lv, rv)
    except ValidationError:
        default_deletes = "mark"
    apps = [svc.cfg.apps[a] for a in (d.left_app, d.right_app) if a in svc.cfg.apps]
    poll = min((a.poll for a in apps), default=300.0)
    peers = [s.name for s in svc.cfg.syncs if s.name != (d.editing or d.name)
             and (s.left.app, s.right.app) == (d.left_app, d.right_app)]
    return {"default_deletes": default_deletes, "default_poll": seconds_text(poll), "polls": POLLS, "peers": peers,
            "activity_types": activity_choices(svc, d)}


ACTIVITY_LABELS = {"calls": "Calls", "emails": "E-mails", "meetings": "Meetings (as Events)", "notes": "Notes",
                   "tasks": "Tasks"}


def activity_choices(svc: Service, d: Draft) -> list[tuple[str, str]]:
    """(type, label) of the HubSpot activities the sync may copy to Salesforce: every type when
    it pairs HubSpot contacts with Salesforce Contact or Lead, else none (no checkboxes)."""
    lv, rv = vendors(svc, d)
    pairs = {(lv, d.left_object.casefold()), (rv, d.right_object.casefold())}
    salesforce = {("salesforce", "contact"), ("salesforce", "lead"), ("salesforce", ROUTED.casefold())}
    if ("hubspot", "contacts") in pairs and pairs & salesforce:
        return [(a, ACTIVITY_LABELS[a]) for a in ACTIVITY_TYPES]
    return []


def rule_text(d: Draft) -> dict[str, str]:
    """The mapping rules in words with the apps' names: the config's values (``always-left``) stay
    the options' values, people read "always hubspot's value"."""
    left, right = d.left_app or "the first app", d.right_app or "the second app"
    return {"two-way": "the most recent change", "prefer-left-unless-blank": f"{left}'s value, unless blank",
            "prefer-right-unless-blank": f"{right}'s value, unless blank", "always-left": f"always {left}'s value",
            "always-right": f"always {right}'s value", "fill-blanks-only": "only fill blank fields",
            "fill-blanks-only-left": f"only fill blank fields in {left}",
            "fill-blanks-only-right": f"only fill blank fields in {right}"}


def _vendor_label(type: str) -> str:
    """How people name an app's vendor ("HubSpot"); the type itself for one without a vendor entry."""
    v = registry.find(type)
    return v.label if v is not None else type


async def step_context(svc: Service, d: Draft, step: str) -> dict[str, Any]:
    """What the template of ``step`` needs beyond the draft (schemas: ``load_schemas`` may raise)."""
    ctx: dict[str, Any] = {"steps": STEPS, "titles": TITLES, "rules": RULES, "ops": OPS, "rule_text": rule_text(d),
                           "apps": {n: a.type for n, a in svc.cfg.apps.items()},
                           "vendor_labels": {n: _vendor_label(a.type) for n, a in svc.cfg.apps.items()}}
    if step == "objects":
        ctx["objects"] = {side: await objects_of(svc, d.app(side)) for side in ("left", "right")}
        return ctx
    if step == "direction":
        ctx["event_app"] = event_app(d, vendors(svc, d))
        return ctx
    sch = await load_schemas(svc, d)
    spec = compiled(svc, d, sch)
    ctx.update(left_fields=fields_of(sch.left), right_fields=fields_of(sch.right), sch=sch,
               rows=mapping_rows(svc, d, sch, spec), unmapped=unmapped_rows(d, sch, spec),
               constants=constant_rows(d, sch))
    ctx["stage_rows"], ctx["right_stages"] = stage_rows(sch, d)
    if step == "mappings":
        p = d.pending or {}
        ctx["replaced"] = [r for r in ctx["rows"] if r["default"] and not r["off"] and p
                           and (r["left"] == p.get("left")) != (r["right"] == p.get("right"))]
        if p:
            with_new = d.model_copy(update={"mappings": [*d.mappings, p]})
            new = compiled(svc, with_new, sch)
            fm = next((m for m in (new.mappings if new else ()) if (m.left, m.right) == (p.get("left"), p.get("right"))),
                      None)
            ctx["pending_arrow"] = arrow(d, fm)
        ctx["editor"] = value_editor(svc, d, sch, spec) if d.values_for else None
        side = d.ui.get("const_side", "right")
        ctx["const_fields"] = fields_of(sch.of(side), writable=True)
        ctx["const_control"] = value_control(sch.of(side), d.ui.get("const_field", ""))
    if step in ("filters", "review"):
        ctx["lists"], ctx["lists_note"] = await list_choices(svc, d)
        ctx["match_default"] = match_info(svc, d)
        side = d.ui.get("filter_side", "left")
        ctx["filter_control"] = value_control(sch.of(side), d.ui.get("filter_field", ""))
    if step in ("options", "review"):
        ctx.update(options_info(svc, d))
    if step == "review":
        ctx["yaml"] = yaml.safe_dump({"syncs": [d.config()]}, sort_keys=False, allow_unicode=True)
        # whether records are matched by a key at all: tickets, deals are paired by link only
        ctx["has_match_key"] = d.match != "none" and bool(d.match or match_info(svc, d))
        ctx["issues"], notes = await review_findings(svc, d)
        ctx["notes"] = [n for n in notes if "no counterpart" not in n]  # those are ``unmapped``, with a button
    return ctx
