"""The dashboard's setup flow: create or edit a sync in five steps, like HubSpot's.

This module holds the draft and what each step does to it; the pages are served by
:mod:`accord.service.routes.setup`.

1. *Apps and objects*: a name, the two connected apps and an object of each.
2. *Direction*: two-way or one-way, and the app that wins a conflict.
3. *Field mappings*: the defaults (required ones locked), custom mappings added or
   removed — a type-incompatible pair is refused with the reason — and, for deals, the
   stage mapping with auto-map.
4. *Filters*: property filters per side, an inclusion list, a start time.
5. *Review*: what will sync, the settings as YAML, then *Save & sync*.

The draft travels between steps as JSON in a hidden field (no server-side session), and
every step is checked by the same code the REST API uses (:mod:`accord.service.manage`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, Field

from accord import catalog
from accord.config import ConfigError, ConfigIssue, Rule, SyncConfig, SyncOverlap
from accord.engine.stages import auto_map_stages
from accord.model import ObjectSchema, Pipeline
from accord.service import manage
from accord.service.core import Service

STEPS = ("objects", "direction", "mappings", "filters", "review")
RULES = tuple(a for a in get_args(Rule) if a != "none")  # "none" is the mapping table's Remove
OPS = ("eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "set", "not_set")
_EDITED_KEYS = {"name", "left", "right", "direction", "winner", "mappings", "stages", "filters", "inclusion",
                "created_after"}


class Draft(BaseModel):
    editing: str | None = None  # the sync being edited (its name cannot change)
    name: str = ""
    left_app: str = ""
    left_object: str = ""
    right_app: str = ""
    right_object: str = ""
    direction: str = "two-way"
    winner: str = ""
    mappings: list[dict[str, Any]] = Field(default_factory=list)
    stages: str | dict[str, str] | None = None
    filters_left: list[dict[str, Any]] = Field(default_factory=list)
    filters_right: list[dict[str, Any]] = Field(default_factory=list)
    inclusion_side: str = ""
    inclusion_list: str = ""
    created_after: str = ""
    keep: dict[str, Any] = Field(default_factory=dict)  # settings the flow does not edit (constants, match…)

    @classmethod
    def from_sync(cls, s: SyncConfig) -> Draft:
        raw = s.model_dump(mode="json", exclude_none=True)
        return cls(
            editing=s.name, name=s.name, left_app=s.left.app, left_object=s.left.object, right_app=s.right.app,
            right_object=s.right.object, direction=s.direction, winner=s.winner or "",
            mappings=raw.get("mappings", []), stages=raw.get("stages"),
            filters_left=raw.get("filters", {}).get("left", []), filters_right=raw.get("filters", {}).get("right", []),
            inclusion_side=s.inclusion.side if s.inclusion else "", inclusion_list=s.inclusion.list if s.inclusion else "",
            created_after=s.created_after.isoformat() if s.created_after else "",
            keep={k: v for k, v in raw.items() if k not in _EDITED_KEYS},
        )

    def config(self) -> dict[str, Any]:
        """The sync's settings as accord.yaml would hold them."""
        out: dict[str, Any] = {"name": self.name, "left": {"app": self.left_app, "object": self.left_object},
                               "right": {"app": self.right_app, "object": self.right_object},
                               "direction": self.direction}
        if self.winner:
            out["winner"] = self.winner
        if self.mappings:
            out["mappings"] = self.mappings
        if self.stages is not None:
            out["stages"] = self.stages
        if self.filters_left or self.filters_right:
            out["filters"] = {k: v for k, v in (("left", self.filters_left), ("right", self.filters_right)) if v}
        if self.inclusion_side and self.inclusion_list:
            out["inclusion"] = {"side": self.inclusion_side, "list": self.inclusion_list}
        if self.created_after:
            out["created_after"] = self.created_after
        return {**self.keep, **out}


# -- checks ---------------------------------------------------------------------------------
async def draft_issues(svc: Service, d: Draft) -> list[ConfigIssue]:
    """Everything wrong with the draft: config rules first, then the apps' schemas."""
    try:
        _, s = svc.registry.check_sync(d.config(), replacing=d.editing)
        await manage.check_with_apps(svc, s)
    except ConfigError as e:
        return e.issues
    except SyncOverlap as e:
        return [ConfigIssue("right", str(e))]
    return []


def mapping_index(path: str) -> int | None:
    if path.startswith("mappings["):
        return int(path[len("mappings["):path.index("]")])
    return None


# -- view models ------------------------------------------------------------------------------
class Schemas(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    left: ObjectSchema
    right: ObjectSchema
    left_pipelines: list[Pipeline] = Field(default_factory=list)
    right_pipelines: list[Pipeline] = Field(default_factory=list)


async def load_schemas(svc: Service, d: Draft) -> Schemas:
    left = await manage.describe(svc, d.left_app, d.left_object)
    right = await manage.describe(svc, d.right_app, d.right_object)
    sch = Schemas(left=left, right=right)
    if catalog.kind_of(svc.cfg.vendor(d.left_app), d.left_object) == "deal":
        sch.left_pipelines = await manage.pipelines(svc, d.left_app, d.left_object)
        sch.right_pipelines = await manage.pipelines(svc, d.right_app, d.right_object)
    return sch


def mapping_rows(svc: Service, d: Draft) -> list[dict[str, Any]]:
    """Defaults first (required ones locked, others removable), then the custom mappings."""
    defaults = catalog.default_mappings(svc.cfg.vendor(d.left_app), d.left_object,
                                        svc.cfg.vendor(d.right_app), d.right_object)
    rows: list[dict[str, Any]] = []
    custom = list(enumerate(d.mappings))
    for dm in defaults:
        over = next(((i, m) for i, m in custom if m.get("left") == dm.left or m.get("right") == dm.right), None)
        if over is not None and not (over[1].get("left") == dm.left and over[1].get("right") == dm.right):
            continue  # a custom mapping of one of its fields replaces the default
        off = over is not None and over[1].get("rule") == "none"
        rows.append({"left": dm.left, "right": dm.right, "concept": dm.concept, "required": dm.required,
                     "default": True, "off": off, "rule": (over[1].get("rule") if over and not off else None) or "",
                     "index": over[0] if over else None})
    shown = {r["index"] for r in rows if r["index"] is not None}
    for i, m in custom:
        if i not in shown:
            rows.append({"left": m.get("left"), "right": m.get("right"), "concept": "", "required": False,
                         "default": False, "off": False, "rule": m.get("rule") or "", "index": i})
    return rows


def stage_rows(sch: Schemas, d: Draft) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    if not (sch.left_pipelines and sch.right_pipelines):
        return [], []
    current = auto_map_stages(sch.left_pipelines, sch.right_pipelines) if not isinstance(d.stages, dict) else d.stages
    rights = [{"id": s.id, "label": f"{p.label}: {s.label}"} for p in sch.right_pipelines for s in p.stages]
    rows = [{"id": s.id, "label": f"{p.label}: {s.label}", "target": current.get(s.id, "")}
            for p in sch.left_pipelines for s in p.stages]
    return rows, rights


# -- form input ---------------------------------------------------------------------------------
def say(i: ConfigIssue) -> str:
    return f"{i.path}: {i.message}" if i.path else i.message


def apply_step(d: Draft, step: str, f: dict[str, str], action: str, auto_stages: dict[str, str] | None) -> str | None:
    """Fold one step's form fields into the draft; a message when the input cannot be used."""
    if step == "objects":
        if d.editing is None:
            d.name = f.get("name", "").strip()
        d.left_app, d.left_object = f.get("left_app", ""), f.get("left_object", "").strip()
        d.right_app, d.right_object = f.get("right_app", ""), f.get("right_object", "").strip()
        if not (d.name and d.left_object and d.right_object):
            return "Give the sync a name and pick an object in each app."
        if d.winner not in ("", d.left_app, d.right_app):
            d.winner = ""
    elif step == "direction":
        d.direction = f.get("direction", "two-way")
        d.winner = f.get("winner", "")
    elif step == "mappings":
        _apply_mappings(d, f, action, auto_stages)
    elif step == "filters":
        return _apply_filters(d, f, action)
    return None


def _apply_mappings(d: Draft, f: dict[str, str], action: str, auto_stages: dict[str, str] | None) -> None:
    for i, m in enumerate(d.mappings):  # rule changes of the custom rows on screen
        rule = f.get(f"rule_{i}")
        if rule is not None and m.get("rule") != "none":
            m.pop("rule", None)
            if rule:
                m["rule"] = rule
    if action == "add":
        new = {"left": f.get("new_left", ""), "right": f.get("new_right", "")}
        if f.get("new_rule"):
            new["rule"] = f["new_rule"]
        d.mappings.append(new)
    elif action.startswith("remove:") and action[7:].isdigit() and int(action[7:]) < len(d.mappings):
        d.mappings.pop(int(action[7:]))
    elif action.startswith(("off:", "restore:")):  # a non-required default turned off / back on
        left, _, right = action.split(":", 1)[1].partition("|")
        d.mappings = [m for m in d.mappings if not (m.get("left") == left and m.get("right") == right)]
        if action.startswith("off:"):
            d.mappings.append({"left": left, "right": right, "rule": "none"})
    if action == "auto_stages":
        d.stages = "auto"
    elif "stage_mode" in f and auto_stages is not None:  # the stage table was on screen
        picked = {k[len("stage_"):]: v for k, v in f.items() if k.startswith("stage_") and k != "stage_mode" and v}
        d.stages = ("auto" if d.stages is not None else None) if picked == auto_stages else picked


def _apply_filters(d: Draft, f: dict[str, str], action: str) -> str | None:
    if action == "filter_add":
        side = f.get("filter_side", "left")
        fl: dict[str, Any] = {"field": f.get("filter_field", "").strip(), "op": f.get("filter_op", "eq")}
        if not fl["field"]:
            return "Pick the field to filter on."
        if fl["op"] not in ("set", "not_set"):
            raw = f.get("filter_value", "")
            fl["value"] = [v.strip() for v in raw.split(",")] if fl["op"] in ("in", "not_in") else raw
        (d.filters_left if side == "left" else d.filters_right).append(fl)
    elif action.startswith("filter_remove:"):
        side, _, idx = action[len("filter_remove:"):].partition(":")
        rows = d.filters_left if side == "left" else d.filters_right
        if idx.isdigit() and int(idx) < len(rows):
            rows.pop(int(idx))
    d.inclusion_side = f.get("inclusion_side", "")
    d.inclusion_list = f.get("inclusion_list", "").strip()
    if d.inclusion_side and not d.inclusion_list:
        return "Name the list (or choose no inclusion list)."
    created = f.get("created_after", "").strip()
    if created:
        try:
            datetime.fromisoformat(created)
        except ValueError:
            return f"Start time {created!r} is not a date and time."
    d.created_after = created
    return None

