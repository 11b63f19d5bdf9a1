"""The dashboard's setup flow: create or edit a sync in six steps, like HubSpot's.

This module holds the draft and what each step's form does to it; what each step shows of
the two apps (objects, fields, options, lists, stages) is :mod:`accord.service.setup_views`,
the pages :mod:`accord.service.routes.setup`.

1. *Apps and objects*: a name, the two connected apps and an object of each, picked from the
   objects each app has.
2. *Direction*: two-way or one-way, the app that wins a conflict, and for HubSpot contacts
   with Snov.io prospects or Salesforce contacts/leads "Sync events from <app> to HubSpot".
3. *Field mappings*: the defaults (required ones locked), custom mappings picked from both
   apps' fields (replacing a default is shown and confirmed), value maps of enumerations,
   constant fields, and for deals the stage mapping with auto-map.
4. *Records*: filters per side (values picked from enumerations), an inclusion list picked
   from the app's lists, a start time, the match keys and "only records with a match key".
5. *Deletes and schedule*: delete handling, the delete guard, associations, the poll interval, and
   for a HubSpot contacts ↔ Salesforce Contact/Lead sync the HubSpot activity types copied to
   Salesforce (one checkbox per type).
6. *Review*: every setting, the settings as YAML, what check says, then *Save & sync*.

Every setting of a sync has a control; none asks for a field name to be typed. The draft
travels between steps as JSON in a hidden field (no server-side session); every step is
checked by the same code the REST API and ``accord check`` use (:mod:`accord.checks`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, Field

from accord import catalog
from accord.config import (
    ACTIVITY_TYPES,
    EVENT_SOURCES,
    ROUTED,
    ConfigError,
    ConfigIssue,
    Rule,
    SyncConfig,
    SyncOverlap,
    twice_created,
)
from accord.service import manage
from accord.service.core import Service

STEPS = ("objects", "direction", "mappings", "filters", "options", "review")
TITLES = {"objects": "Apps and objects", "direction": "Direction", "mappings": "Field mappings",
          "filters": "Records", "options": "Deletes and schedule", "review": "Review"}
RULES = tuple(a for a in get_args(Rule) if a != "none")  # "none" is the mapping table's Remove
OPS = {"eq": "is", "neq": "is not", "in": "is one of", "not_in": "is none of", "gt": "is more than",
       "gte": "is at least", "lt": "is less than", "lte": "is at most", "contains": "contains",
       "set": "has a value", "not_set": "is empty"}  # filter ops, as the filter table says them
# the key paths each step's controls set: a step's "Next" stops on the issues of its own keys
STEP_KEYS = {"objects": ("name", "left", "right", ""), "direction": ("events",), "mappings": ("mappings", "constants", "stages"),
             "filters": ("filters", "inclusion", "match", "created_after"),
             "options": ("deletes", "delete_guard", "associations", "poll", "activities")}
_EDITED_KEYS = {"name", "left", "right", "direction", "winner", "mappings", "stages", "filters", "inclusion",
                "created_after", "match", "require_match_key", "constants", "deletes", "delete_guard",
                "associations", "poll", "events", "activities"}
Form = dict[str, list[str]]


def one(f: Form, key: str, default: str = "") -> str:
    values = f.get(key)
    return values[0] if values else default


class Draft(BaseModel):
    editing: str | None = None  # the sync being edited (its name cannot change)
    base: str = ""  # manage.fingerprint of its settings when the edit opened: saved only over those
    name: str = ""
    left_app: str = ""
    left_object: str = ""
    right_app: str = ""
    right_object: str = ""
    # a "Contacts and Leads" side (object [Contact, Lead]): what new records are created as; "": Lead
    new_records_as: str = ""
    direction: str = "two-way"
    winner: str = ""
    events: bool = False  # "Sync events from <app> to HubSpot" (offered where event_app says)
    mappings: list[dict[str, Any]] = Field(default_factory=list)
    stages: str | dict[str, str] | None = None
    filters_left: list[dict[str, Any]] = Field(default_factory=list)
    filters_right: list[dict[str, Any]] = Field(default_factory=list)
    inclusion_side: str = ""
    inclusion_list: str = ""
    created_after: str = ""
    match: Any = None  # None: the objects' default keys; "none"; or [{left, right}]
    require_match_key: bool = True
    constants_left: dict[str, Any] = Field(default_factory=dict)  # written to the left app
    constants_right: dict[str, Any] = Field(default_factory=dict)
    deletes: str = ""  # "": the pair's default
    guard_share: str = ""  # percent; "": the default
    guard_floor: str = ""
    associations: list[str] = Field(default_factory=list)
    activities: list[str] = Field(default_factory=list)  # HubSpot activity types copied to Salesforce
    poll: str = ""  # "": the shorter poll of the two apps
    keep: dict[str, Any] = Field(default_factory=dict)  # settings the flow has no control for (enabled …)
    # the flow's own state, never saved: picks of the "add" controls between refreshes, a
    # mapping waiting for its confirmation, the mapping whose value map is open
    ui: dict[str, str] = Field(default_factory=dict)
    pending: dict[str, Any] | None = None
    values_for: str = ""

    @classmethod
    def from_sync(cls, s: SyncConfig) -> Draft:
        raw = s.model_dump(mode="json", exclude_none=True)
        guard = raw.get("delete_guard") or {}
        return cls(
            editing=s.name, base=manage.fingerprint(s), name=s.name, left_app=s.left.app, left_object=s.left.object, right_app=s.right.app,
            right_object=s.right.object, new_records_as=s.left.new_records_as or s.right.new_records_as or "",
            direction=s.direction, winner=s.winner or "", events=s.events,
            mappings=raw.get("mappings", []), stages=raw.get("stages"),
            filters_left=raw.get("filters", {}).get("left", []), filters_right=raw.get("filters", {}).get("right", []),
            inclusion_side=s.inclusion.side if s.inclusion else "", inclusion_list=s.inclusion.list if s.inclusion else "",
            created_after=s.created_after.isoformat() if s.created_after else "",
            match=raw.get("match"), require_match_key=s.require_match_key,
            constants_left=dict(s.constants.to_left), constants_right=dict(s.constants.to_right),
            deletes=s.deletes or "",
            guard_share=_percent(guard.get("share")) if "delete_guard" in s.model_fields_set else "",
            guard_floor=str(guard.get("floor", "")) if "delete_guard" in s.model_fields_set else "",
            associations=list(s.associations), activities=list(s.activities), poll=seconds_text(s.poll),
            keep={k: v for k, v in raw.items() if k not in _EDITED_KEYS},
        )

    def config(self) -> dict[str, Any]:
        """The sync's settings as accord.yaml would hold them (only what differs from the defaults)."""
        out: dict[str, Any] = {"name": self.name, "left": {"app": self.left_app, "object": self.left_object},
                               "right": {"app": self.right_app, "object": self.right_object},
                               "direction": self.direction}
        optional: dict[str, Any] = {
            "winner": self.winner or None, "events": True if self.events else None, "match": self.match,
            "require_match_key": None if self.require_match_key else False,
            "mappings": self.mappings or None, "stages": self.stages,
            "constants": {k: v for k, v in (("to_left", self.constants_left), ("to_right", self.constants_right)) if v}
            or None,
            "filters": {k: v for k, v in (("left", self.filters_left), ("right", self.filters_right)) if v} or None,
            "inclusion": {"side": self.inclusion_side, "list": self.inclusion_list}
            if self.inclusion_side and self.inclusion_list else None,
            "created_after": self.created_after or None, "deletes": self.deletes or None,
            "delete_guard": self._guard(), "associations": self.associations or None,
            "activities": self.activities or None, "poll": self.poll or None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        for side in ("left", "right"):
            if self.new_records_as and out[side]["object"] == ROUTED:
                out[side]["new_records_as"] = self.new_records_as
        return {**self.keep, **out}

    def _guard(self) -> dict[str, Any] | None:
        guard: dict[str, Any] = {}
        if self.guard_share:
            guard["share"] = f"{self.guard_share}%"
        if self.guard_floor:
            guard["floor"] = int(self.guard_floor) if self.guard_floor.isdigit() else self.guard_floor
        return guard or None

    def app(self, side: str) -> str:
        return self.left_app if side == "left" else self.right_app


def event_app(d: Draft, vendors: tuple[str, str]) -> str:
    """The app whose events the draft's sync can carry to HubSpot's timeline ("" if none):
    the pairs of accord.config.event_app_side, by the apps' types."""
    objects = (d.left_object.casefold(), d.right_object.casefold())
    for i in (0, 1):
        other = 1 - i
        if vendors[i] == "hubspot" and objects[i] == "contacts" and (vendors[other], objects[other]) in EVENT_SOURCES:
            return d.app("right" if other else "left")
    return ""


def _percent(share: Any) -> str:
    return f"{float(share) * 100:g}" if share is not None else ""


def seconds_text(poll: float | None) -> str:
    """A poll interval as accord.yaml writes it: 900.0 → ``15m``."""
    if poll is None:
        return ""
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if poll >= n and poll % n == 0:
            return f"{int(poll // n)}{unit}"
    return f"{poll:g}s"


# -- checks ---------------------------------------------------------------------------------
async def review_findings(svc: Service, d: Draft) -> tuple[list[ConfigIssue], list[str]]:
    """Everything wrong with the draft (config rules first, then what ``accord check`` says), and
    check's notes on a sync that may be saved (values with no counterpart …)."""
    try:
        _, s = svc.registry.check_sync(d.config(), replacing=d.editing)
        found = await manage.sync_findings(svc, s)
    except ConfigError as e:
        return e.issues, []
    except SyncOverlap as e:
        return [ConfigIssue("right", str(e))], []
    others = [x for x in svc.registry.current().syncs if x.name != s.name]
    return [], found.notes + [why for t, why in twice_created([*others, s]) if t is s]


async def draft_issues(svc: Service, d: Draft) -> list[ConfigIssue]:
    return (await review_findings(svc, d))[0]


def step_issues(step: str, issues: list[ConfigIssue]) -> list[ConfigIssue]:
    keys = STEP_KEYS.get(step, ())
    return [i for i in issues if i.path.split(".")[0].split("[")[0] in keys]


def mapping_index(path: str) -> int | None:
    if path.startswith("mappings["):
        return int(path[len("mappings["):path.index("]")])
    return None


# a draft's top-level keys as the steps' forms name them ("name: a sync named … exists" read
# like a config path); deeper paths (mappings[2].right) are shown beside their row
_FIELD_WORDS = {"name": "Sync name", "left": "First app", "right": "Second app", "direction": "Direction",
                "winner": "Conflicts", "match": "Matching", "filters": "Filters", "inclusion": "Inclusion list",
                "created_after": "Only records created after", "deletes": "Deletes", "poll": "Look for changes every"}


def say(i: ConfigIssue) -> str:
    return f"{_FIELD_WORDS.get(i.path, i.path)}: {i.message}" if i.path else i.message


# -- form input ---------------------------------------------------------------------------------
def apply_step(d: Draft, step: str, f: Form, action: str, vendors: tuple[str, str],
               auto_stages: dict[str, str] | None) -> str | None:
    """Fold one step's form fields into the draft; a message when the input cannot be used.
    ``vendors``: the two apps' types; ``auto_stages``: the stage map ``stages: auto`` gives."""
    d.ui.update({k: one(f, k) for k in f if k.startswith(("new_", "const_", "filter_", "match_"))})
    if step == "objects":
        return _apply_objects(d, f, action)
    if step == "direction":
        d.direction = one(f, "direction", "two-way")
        d.winner = one(f, "winner")
        d.events = one(f, "events") == "on" and bool(event_app(d, vendors))
    elif step == "mappings":
        return _apply_mappings(d, f, action, vendors, auto_stages)
    elif step == "filters":
        return _apply_filters(d, f, action)
    elif step == "options":
        return _apply_options(d, f)
    return None


def _apply_objects(d: Draft, f: Form, action: str) -> str | None:
    if d.editing is None:
        d.name = one(f, "name").strip()
    for side in ("left", "right"):
        app, obj = one(f, f"{side}_app"), one(f, f"{side}_object").strip()
        if app != d.app(side):
            obj = ""  # another app: its objects are others (the page shows them now)
        setattr(d, f"{side}_app", app)
        setattr(d, f"{side}_object", obj)
    if d.winner not in ("", d.left_app, d.right_app):
        d.winner = ""
    new_as = one(f, "new_records_as")
    d.new_records_as = new_as if new_as in ("Lead", "Contact") and ROUTED in (d.left_object, d.right_object) else ""
    if action == "next" and not (d.name and d.left_object and d.right_object):
        return "Give the sync a name and pick an object in each app."
    return None


def _apply_mappings(d: Draft, f: Form, action: str, vendors: tuple[str, str],
                    auto_stages: dict[str, str] | None) -> str | None:
    for i, m in enumerate(d.mappings):  # rule and direction changes of the custom rows on screen
        if f"rule_{i}" in f and m.get("rule") != "none":
            _set(m, "rule", one(f, f"rule_{i}"))
        if f"dir_{i}" in f:
            _set(m, "direction", one(f, f"dir_{i}"))
    for k in [k for k in f if k.startswith("drule_")]:  # rule changes of the default rows
        _default_rule(d, one(f, "dkey_" + k[len("drule_"):]), one(f, k))
    error = None
    if action == "add":
        error = _stage_new_mapping(d, f, vendors)
    elif action == "confirm_add" and d.pending is not None:
        _add_mapping(d, d.pending)
        d.pending = None
    elif action == "cancel_add":
        d.pending = None
    elif action.startswith("remove:") and action[7:].isdigit() and int(action[7:]) < len(d.mappings):
        d.mappings.pop(int(action[7:]))
    elif action.startswith(("off:", "restore:")):  # a non-required default turned off / back on
        left, _, right = action.split(":", 1)[1].partition("|")
        d.mappings = [m for m in d.mappings if not (m.get("left") == left and m.get("right") == right)]
        if action.startswith("off:"):
            d.mappings.append({"left": left, "right": right, "rule": "none"})
    elif action.startswith("values:"):
        d.values_for = action[len("values:"):]
    elif action == "values_close":
        d.values_for = ""
    elif action == "const_add":
        error = _add_constant(d, f)
    elif action.startswith("const_remove:"):
        side, _, field = action[len("const_remove:"):].partition(":")
        (d.constants_left if side == "left" else d.constants_right).pop(field, None)
    _apply_stages(d, f, action, auto_stages)
    return error


def _default_rule(d: Draft, key: str, rule: str) -> None:
    """A default mapping's rule: restated as a mapping of the user's with that rule ("": the default's own)."""
    left, _, right = key.partition("|")
    entry = next((m for m in d.mappings if (m.get("left"), m.get("right")) == (left, right)), None)
    if entry is None:
        if rule:
            d.mappings.append({"left": left, "right": right, "rule": rule})
    elif entry.get("rule") != "none":
        _set(entry, "rule", rule)
        if set(entry) == {"left", "right"}:
            d.mappings.remove(entry)


def _set(m: dict[str, Any], key: str, value: str) -> None:
    m.pop(key, None)
    if value:
        m[key] = value


def _stage_new_mapping(d: Draft, f: Form, vendors: tuple[str, str]) -> str | None:
    """A new custom mapping: added at once, or held for a confirmation when it replaces a default
    (the default then stops syncing its other field; a required one cannot be replaced)."""
    new: dict[str, Any] = {"left": one(f, "new_left"), "right": one(f, "new_right")}
    if not (new["left"] and new["right"]):
        return "Pick a field in each app."
    for key in ("rule", "direction"):
        if one(f, f"new_{key}"):
            new[key] = one(f, f"new_{key}")
    replaced = replaced_defaults(d, new, vendors)
    required = [r for r in replaced if r.required]
    if required:
        r = required[0]
        return (f"{r.left} ↔ {r.right} is a required mapping and cannot be replaced: map "
                f"{new['left'] if new['left'] != r.left else new['right']} with another field.")
    if replaced:
        d.pending = new
    else:
        _add_mapping(d, new)
    d.ui = {k: v for k, v in d.ui.items() if not k.startswith("new_")}
    return None


def replaced_defaults(d: Draft, new: dict[str, Any], vendors: tuple[str, str]) -> list[catalog.DefaultMapping]:
    """The default mappings a new mapping would replace: those sharing exactly one of its fields
    (and not already switched off)."""
    defaults = catalog.default_mappings(vendors[0], d.left_object, vendors[1], d.right_object)
    off = {(m.get("left"), m.get("right")) for m in d.mappings if m.get("rule") == "none"}
    return [x for x in defaults if (x.left == new["left"]) != (x.right == new["right"]) and (x.left, x.right) not in off]


def _add_mapping(d: Draft, new: dict[str, Any]) -> None:
    """Append ``new``; a default switched off that shares a field with it is dropped (``new``
    replaces it anyway, and one field may be mapped only once)."""
    d.mappings = [m for m in d.mappings if not (m.get("rule") == "none" and (
        m.get("left") == new["left"] or m.get("right") == new["right"]))]
    d.mappings.append(new)


def _add_constant(d: Draft, f: Form) -> str | None:
    side, field = one(f, "const_side", "right"), one(f, "const_field")
    if not field:
        return "Pick the field the constant is written to."
    raw = one(f, "const_value")
    value: Any = {"true": True, "false": False}.get(raw, raw) if one(f, "const_type") == "bool" else raw
    if one(f, "const_type") == "number":
        try:
            value = float(raw) if "." in raw else int(raw)
        except ValueError:
            return f"{raw!r} is not a number."
    (d.constants_left if side == "left" else d.constants_right)[field] = value
    d.ui = {k: v for k, v in d.ui.items() if not k.startswith("const_")}
    return None


def _apply_stages(d: Draft, f: Form, action: str, auto_stages: dict[str, str] | None) -> None:
    if action == "auto_stages":
        d.stages = "auto"
    elif "stage_mode" in f and auto_stages is not None:  # the stage table was on screen
        picked = {k[len("stage_"):]: one(f, k) for k in f if k.startswith("stage_") and k != "stage_mode" and one(f, k)}
        d.stages = ("auto" if d.stages is not None else None) if picked == auto_stages else picked


def _apply_filters(d: Draft, f: Form, action: str) -> str | None:
    if action == "filter_add":
        error = _add_filter(d, f)
        if error:
            return error
    elif action.startswith("filter_remove:"):
        side, _, idx = action[len("filter_remove:"):].partition(":")
        rows = d.filters_left if side == "left" else d.filters_right
        if idx.isdigit() and int(idx) < len(rows):
            rows.pop(int(idx))
    d.inclusion_side = one(f, "inclusion_side")
    d.inclusion_list = one(f, "inclusion_list").strip() if d.inclusion_side else ""
    mode = one(f, "match_mode", "default")
    if mode != "keys":  # "keys": the concept names accord.yaml gave, kept as they are
        d.match = "none" if mode == "none" else [{"left": one(f, "match_left"), "right": one(f, "match_right")}] \
            if mode == "custom" and one(f, "match_left") and one(f, "match_right") else None
    d.require_match_key = one(f, "require_match_key") == "on"
    created = one(f, "created_after").strip()
    if created:
        try:
            datetime.fromisoformat(created)
        except ValueError:
            return f"Start time {created!r} is not a date and time."
    d.created_after = created
    if action == "next" and d.inclusion_side and not d.inclusion_list:
        return "Pick the list (or choose no inclusion list)."
    return None


def _add_filter(d: Draft, f: Form) -> str | None:
    side = one(f, "filter_side", "left")
    fl: dict[str, Any] = {"field": one(f, "filter_field"), "op": one(f, "filter_op", "eq")}
    if not fl["field"]:
        return "Pick the field to filter on."
    if fl["op"] not in ("set", "not_set"):
        picked = [v for v in f.get("filter_value", []) if v != ""]
        if fl["op"] in ("in", "not_in"):
            fl["value"] = [v.strip() for p in picked for v in p.split(",") if v.strip()]
        else:
            fl["value"] = picked[0] if picked else ""
    (d.filters_left if side == "left" else d.filters_right).append(fl)
    d.ui = {k: v for k, v in d.ui.items() if k not in ("filter_field", "filter_value", "filter_op")}
    return None


def _apply_options(d: Draft, f: Form) -> str | None:
    d.deletes = one(f, "deletes") if one(f, "deletes") in ("mark", "propagate") else ""
    d.guard_share, d.guard_floor = one(f, "guard_share").strip(), one(f, "guard_floor").strip()
    d.associations = [a for a in f.get("associations", []) if a]
    if "activities_shown" in f:  # the checkboxes were on screen (only for HubSpot contacts ↔ Salesforce)
        d.activities = [a for a in ACTIVITY_TYPES if a in f.get("activities", [])]
    d.poll = one(f, "poll")
    if d.guard_share:
        try:
            share = float(d.guard_share)
        except ValueError:
            return f"The delete guard's share {d.guard_share!r} is not a number."
        if not 0 < share <= 100:
            return "The delete guard's share is a percentage between 0 (exclusive) and 100."
    if d.guard_floor and not d.guard_floor.isdigit():
        return f"The delete guard's floor {d.guard_floor!r} is not a whole number."
    return None
