"""``accord.yaml``: parsing, ``${VAR}`` expansion and validation with exact key paths.

Errors are collected, not raised one at a time, and each names the key path the way a
user reads the file: ``syncs[0].mappings[2].right: field 'Foo' is mapped twice``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SerializeAsAny, ValidationError, field_serializer, field_validator

from accord import catalog
from accord.connectors import registry
from accord.connectors.settings import AppSettings, Duration, Strict, Verify
from accord.connectors.settings import parse_duration as parse_duration  # for callers of its old home

Direction = Literal["two-way", "left-to-right", "right-to-left"]
Rule = Literal[
    "two-way",
    "prefer-left-unless-blank",
    "prefer-right-unless-blank",
    "always-left",
    "always-right",
    "fill-blanks-only",
    "fill-blanks-only-left",  # writes into the left app only fill empty fields; the right follows the winner
    "fill-blanks-only-right",
    "none",
]
# HubSpot engagement objects a HubSpot contacts ↔ Salesforce Contact/Lead sync can copy to Salesforce
ActivityType = Literal["calls", "emails", "meetings", "notes", "tasks"]
ACTIVITY_TYPES: tuple[ActivityType, ...] = ("calls", "emails", "meetings", "notes", "tasks")
FilterOp = Literal["eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "set", "not_set"]

# Apps: the settings model of each vendor lives in its connector module (accord.connectors.registry).
_Strict = Strict
AppConfig = AppSettings  # one ``apps:`` entry, of whichever vendor


def _app_types() -> list[str]:
    return registry.names()


# Contact/Lead routing: one sync of HubSpot contacts with Salesforce Contacts and Leads together
# (``object: [Contact, Lead]``), held as this one object name; the Salesforce connector routes it
ROUTED = "Contact+Lead"
ROUTED_PARTS = ("Contact", "Lead")


class SideRef(_Strict):
    app: str
    object: str
    # with ``object: [Contact, Lead]``: what a record new to Salesforce is created as (default Lead)
    new_records_as: Literal["Lead", "Contact"] | None = None

    @field_validator("object", mode="before")
    @classmethod
    def _routed(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            if sorted(str(x) for x in v) == list(ROUTED_PARTS):
                return ROUTED
            raise ValueError("a list of objects can only be [Contact, Lead]: a Salesforce side that syncs HubSpot "
                             "contacts with Contacts and Leads; name one object otherwise")
        return v

    @field_serializer("object")
    def _dump_object(self, v: str) -> str | list[str]:
        return list(ROUTED_PARTS) if v == ROUTED else v

    @property
    def routed(self) -> bool:
        return self.object == ROUTED

    def connector_object(self) -> str:
        """The object name the connector is given: a routed side carries what new records are created as."""
        return f"{ROUTED}>{self.new_records_as}" if self.routed and self.new_records_as == "Contact" else self.object

    def label(self) -> str:
        return object_label(self.object)


def object_label(object: str) -> str:
    """An object as people name it: a routed side (``Contact+Lead``, as the connector is given it
    ``Contact+Lead>Contact`` too) is "Contacts and Leads"."""
    return "Contacts and Leads" if object.split(">")[0] == ROUTED else object


class MappingConfig(_Strict):
    left: str
    right: str
    rule: Rule | None = None
    direction: Direction | None = None
    values: dict[str, str] | None = None  # enumeration value map, left value -> right value
    # right value -> left value, where the way back differs from the inverse of ``values``
    # (several right values onto one left value)
    values_to_left: dict[str, str] | None = None


class FilterConfig(_Strict):
    field: str
    op: FilterOp = "eq"
    value: Any = None


class Filters(_Strict):
    left: list[FilterConfig] = Field(default_factory=list)
    right: list[FilterConfig] = Field(default_factory=list)


class Constants(_Strict):
    to_left: dict[str, Any] = Field(default_factory=dict)
    to_right: dict[str, Any] = Field(default_factory=dict)


class Inclusion(_Strict):
    side: Literal["left", "right"]
    list: str


class DeleteGuard(_Strict):
    """How many deletes a pass may carry out without a confirmation (README, "Deletes").

    A pass that would delete or archive more than ``share`` of the sync's linked pairs, and
    more than ``floor`` records (so small syncs still work), holds its deletes until an admin
    confirms them. ``share`` is a fraction (0.1) or a percentage ("10%"); 1 turns the guard off.
    """

    share: float = Field(default=0.10, gt=0, le=1)
    floor: int = Field(default=25, ge=0)

    @field_validator("share", mode="before")
    @classmethod
    def _percent(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().endswith("%"):
            try:
                return float(v.strip()[:-1]) / 100
            except ValueError:
                raise ValueError(f"not a percentage: {v!r} (use e.g. 10%)") from None
        return v

    def limit(self, pairs: int) -> int:
        """The most deletes a pass over ``pairs`` linked pairs carries out unconfirmed."""
        return max(self.floor, int(self.share * pairs))


class MatchKey(_Strict):
    left: str
    right: str


class SyncConfig(_Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")  # 200: the index's column
    left: SideRef
    right: SideRef
    direction: Direction = "two-way"
    winner: str | None = None
    match: Literal["none"] | list[str | MatchKey] | None = None
    require_match_key: bool = True
    defaults: bool = True
    mappings: list[MappingConfig] = Field(default_factory=list)
    constants: Constants = Field(default_factory=Constants)
    filters: Filters = Field(default_factory=Filters)
    inclusion: Inclusion | None = None
    created_after: datetime | None = None
    deletes: Literal["mark", "propagate"] | None = None
    delete_guard: DeleteGuard = Field(default_factory=DeleteGuard)
    stages: Literal["auto"] | dict[str, str] | None = None
    associations: list[str] = Field(default_factory=list)  # syncs of the associated objects
    # event sync: the other app's email events and activities become HubSpot timeline events
    # (one-way; a sync of HubSpot contacts with Snov.io prospects or Salesforce contacts/leads)
    events: bool = False
    # HubSpot activities copied one way to Salesforce Tasks / Events (accord.runner.activities);
    # empty: off. Only on a HubSpot contacts ↔ Salesforce Contact or Lead sync.
    activities: list[ActivityType] = Field(default_factory=list)
    enabled: bool = True
    # this sync's own incremental-pass interval; default: the shorter poll of its two apps
    poll: Duration | None = None

    @field_validator("poll", mode="before")
    @classmethod
    def _poll_duration(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)


NotifyEvent = Literal["initial_sync", "failing", "credentials"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("initial_sync", "failing", "credentials")


class Notifications(_Strict):
    """Who is told, and when (accord.service.notify): ``urls`` in apprise's scheme — e-mail
    (``mailtos://user:password@smtp.example.com?to=ops@example.com``), Slack, Microsoft Teams
    and most chat services; ``events``: an initial sync done, failing records of a sync rising
    past ``failing_threshold``, an app refusing its credentials."""

    urls: list[str] = Field(min_length=1)
    events: list[NotifyEvent] = Field(default_factory=lambda: list(NOTIFY_EVENTS))
    failing_threshold: int = Field(default=25, ge=0)
    dashboard_url: str | None = None  # the dashboard as people reach it (default: accord run's --host/--port)


class OAuthClient(_Strict):
    """An OAuth app the dashboard's *Connect* buttons sign in with (``oauth:`` in accord.yaml, by
    vendor type): a HubSpot public app's or a Salesforce connected app's client id and secret.
    ``base_url``: HubSpot's API URL or Salesforce's login URL (a sandbox's, a My Domain);
    ``authorize_url``: the consent page, when it is not the vendor's usual one."""

    client_id: str = Field(min_length=1)
    client_secret: str | None = None
    base_url: str | None = None
    authorize_url: str | None = None
    scope: str | None = None
    verify: Verify = True  # a CA bundle for a sandbox's or a proxy's certificate


class Config(_Strict):
    state: str = "sqlite:///accord.db"
    apps: dict[str, SerializeAsAny[AppSettings]]
    syncs: list[SyncConfig] = Field(default_factory=list)
    notifications: Notifications | None = None
    oauth: dict[str, OAuthClient] = Field(default_factory=dict)
    source: str = Field(default="accord.yaml", exclude=True)

    @field_validator("apps", mode="before")
    @classmethod
    def _vendor_settings(cls, v: Any) -> Any:
        """Entries given as mappings are read by their vendor's settings model (parse_config has
        already done so, with the error paths users read)."""
        if not isinstance(v, dict):
            return v
        out: dict[Any, Any] = {}
        for name, app in v.items():
            found = registry.find(app.get("type")) if isinstance(app, dict) else None
            out[name] = found.settings.model_validate(app) if found is not None else app
        return out

    @field_validator("state")
    @classmethod
    def _database_url(cls, v: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(v).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as e:
            raise ValueError(f"not a database URL SQLAlchemy can use ({e}); e.g. sqlite:///accord.db") from None
        return v

    def sync(self, name: str) -> SyncConfig:
        for s in self.syncs:
            if s.name == name:
                return s
        raise KeyError(name)

    def vendor(self, app: str) -> str:
        return self.apps[app].type


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    message: str


class ConfigError(Exception):
    def __init__(self, file: str, issues: Sequence[ConfigIssue]) -> None:
        self.file = file
        self.issues = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return "\n".join(f"{where}{i.path}: {i.message}" if i.path else f"{where}{i.message}" for i in self.issues)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(node: Any, path: str, env: dict[str, str], issues: list[ConfigIssue]) -> Any:
    """Replace ``${VAR}`` (or ``${VAR:-default}``) in every string from the environment."""
    if isinstance(node, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            issues.append(ConfigIssue(path, f"environment variable {name} is not set"))
            return ""
        return _VAR.sub(sub, node)
    if isinstance(node, dict):
        return {k: _expand(v, _join(path, str(k)), env, issues) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, f"{path}[{i}]", env, issues) for i, v in enumerate(node)]
    return node


_MAX_NODES, _MAX_DEPTH = 100_000, 50


def _small(doc: Any) -> bool:
    """Guard against alias bombs and absurd nesting: walks at most _MAX_NODES values."""
    stack, seen = [(doc, 0)], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > _MAX_NODES or depth > _MAX_DEPTH:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def _join(path: str, key: str) -> str:
    if not key or not key.isprintable() or any(c in key for c in " .[]'\""):
        return f"{path}[{key!r}]"  # quoted: a key can't break the path or the error's line
    return f"{path}.{key}" if path else key


def _loc_path(loc: Sequence[int | str], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _input_loc(loc: Sequence[int | str], data: Any) -> list[int | str]:
    """The parts of a pydantic error location that are keys or indexes of the document: union
    members add tags (``list[union[str,MatchKey]]``, ``literal['none']``) that are not."""
    out: list[int | str] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            out.append(part)
    return out


def _pydantic_issues(err: ValidationError, prefix: str, skip_tags: bool = False, data: Any = None) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    for e in err.errors():
        loc = list(e["loc"])
        if skip_tags:
            loc = [p for p in loc if p not in _app_types()]
        if data is not None:
            loc = _input_loc(loc, data)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        issue = ConfigIssue(_loc_path(loc, prefix), msg)
        if issue not in out:
            out.append(issue)
    return out


def unknown_type(kind: Any) -> str:
    return f"unknown app type {kind!r}; one of {', '.join(_app_types())}"


def app_settings(body: dict[str, Any]) -> AppSettings:
    """One ``apps:`` entry read by its vendor's settings model; ConfigError names the key paths."""
    vendor = registry.find(body.get("type"))
    if vendor is None:
        raise ConfigError("app", [ConfigIssue("type", unknown_type(body.get("type")))])
    try:
        return vendor.settings.model_validate(body)
    except ValidationError as e:
        raise ConfigError("app", _pydantic_issues(e, "")) from e


def parse_config(raw: Any, file: str = "accord.yaml", env: dict[str, str] | None = None,
                 require_apps: bool = True) -> Config:
    """Validate a loaded YAML document; raise :class:`ConfigError` listing every problem.
    ``require_apps=False`` (``accord run``): the apps may all be connected from the dashboard."""
    issues: list[ConfigIssue] = []
    if not isinstance(raw, dict):
        raise ConfigError(file, [ConfigIssue("", "the file must be a mapping with 'apps' and 'syncs'")])
    if not _small(raw):
        raise ConfigError(file, [ConfigIssue("", f"too large: more than {_MAX_NODES:,} values or {_MAX_DEPTH} levels "
                                                 "once YAML aliases are expanded")])
    raw = _expand(raw, "", dict(os.environ) if env is None else env, issues)
    apps_raw = raw.get("apps")
    if apps_raw is None and not require_apps:
        apps_raw = {}
    apps: dict[str, Any] = {}
    if not isinstance(apps_raw, dict) or (not apps_raw and require_apps):
        issues.append(ConfigIssue("apps", "at least one app is required"))
    else:
        for name, body in apps_raw.items():
            path = _join("apps", str(name))
            if not isinstance(body, dict):
                issues.append(ConfigIssue(path, "must be a mapping"))
                continue
            kind = body.get("type")
            vendor = registry.find(kind)
            if vendor is None:
                issues.append(ConfigIssue(f"{path}.type", unknown_type(kind)))
                continue
            try:
                apps[name] = vendor.settings.model_validate(body)
            except ValidationError as e:
                issues.extend(_pydantic_issues(e, path, data=body))
    rest = {k: v for k, v in raw.items() if k != "apps"}
    try:
        cfg = Config.model_validate({**rest, "apps": apps, "source": file}) if not issues else None
    except ValidationError as e:
        issues.extend(_pydantic_issues(e, "", skip_tags=True, data={**rest, "apps": apps}))
        cfg = None
    if cfg is not None:
        issues.extend(semantic_issues(cfg))
        issues.extend(notification_issues(cfg))
    if issues or cfg is None:
        # A missing variable already explains why its key is empty: one message per key.
        env_paths = {i.path for i in issues if i.message.startswith("environment variable")}
        issues = [i for i in issues if i.path not in env_paths or i.message.startswith("environment variable")]
        raise ConfigError(file, issues)
    return cfg


def empty_config(path: str | Path) -> Config:
    """The configuration of ``accord run`` without an accord.yaml: no apps, no syncs, the index
    beside where the file would be."""
    return Config.model_validate({"state": f"sqlite:///{Path(path).resolve().parent / 'accord.db'}", "apps": {},
                                  "source": str(path)})


def load_config(path: str | Path, env: dict[str, str] | None = None, require_apps: bool = True) -> Config:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError as e:
        # the first thing a new user meets without a config: say where one comes from
        where = "here" if p.parent == Path(".") else f"in {p.resolve().parent}"
        raise ConfigError(str(path), [ConfigIssue("", (
            f"no such file {where}. Write one (README, \"Configuration reference\"), pass its path with -c, "
            "or try Accord first with `accord demo`; `accord run` without one starts the dashboard, where "
            "apps and syncs are set up in the browser"))]) from e
    except OSError as e:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read: {e.strerror}")]) from e
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), [ConfigIssue("", f"not UTF-8 text: {e.reason} at byte {e.start}")]) from e
    try:
        duplicates = _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
        if duplicates:
            raise ConfigError(str(path), duplicates)
        raw = yaml.safe_load(text)
        if raw is None and not require_apps:  # an empty file: nothing configured yet
            raw = {}
    # the constructors raise ValueError for impossible dates; the parser recurses per nesting level
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as e:
        mark, problem = getattr(e, "problem_mark", None), getattr(e, "problem", None)
        if isinstance(e, RecursionError):
            msg = "nested too deeply"
        elif mark is not None and problem:  # one line: where, and what
            msg = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
        else:
            msg = " ".join(str(e).split())
        raise ConfigError(str(path), [ConfigIssue("", f"not valid YAML: {msg}")]) from e
    return _sqlite_files_beside(parse_config(raw, str(path), env, require_apps), p)


def _sqlite_files_beside(cfg: Config, file: Path) -> Config:
    """Relative SQLite paths (``state: sqlite:///accord.db``, an SQL app's ``url``) and a memory
    app's ``path`` name files beside the config, not in the working directory: a cron job or a service started
    elsewhere must open the same index, not start a new one (every sync would start over and
    create each record no key matches again: every deal). A file that exists only where the
    working directory would have put it is a config error, never silently left behind."""
    issues: list[ConfigIssue] = []

    def beside_config(key: str, path: str, shown: str, *, also: str = "", absolute: str = "") -> Path | None:
        """``path`` (relative) beside the config; None, with the issue noted, if it exists only in
        the working directory. ``shown``: the value as written; ``also``: what moves with the file."""
        there, here = (file.resolve().parent / path), (Path.cwd() / path).resolve()
        if there != here and here.exists() and not there.exists():
            issues.append(ConfigIssue(key, (
                f"{shown} is a path relative to this file's folder, {there}, which does not exist, while {here} does: "
                f"move {path} there{also}, or write the absolute path {absolute}{here}")))
            return None
        return there

    def sqlite_beside(key: str, url: str) -> str:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        db = u.database
        if u.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:") \
                or Path(db).is_absolute():
            return url
        there = beside_config(key, db, url, also=" (with its -wal and -shm files, Accord stopped)", absolute="sqlite:///")
        return url if there is None else u.set(database=str(there)).render_as_string(hide_password=False)

    def file_beside(key: str, path: str) -> str:  # a memory app's JSON file
        there = None if Path(path).is_absolute() else beside_config(key, path, path)
        return path if there is None else str(there)

    state = sqlite_beside("state", cfg.state)
    apps = {name: a.model_copy(update={"url": sqlite_beside(f"apps.{name}.url", url)})
            if getattr(a, "type", None) == "sql" and isinstance(url := getattr(a, "url", None), str)
            else a.model_copy(update={"path": file_beside(f"apps.{name}.path", path)})
            if getattr(a, "type", None) == "memory" and isinstance(path := getattr(a, "path", None), str) else a
            for name, a in cfg.apps.items()}
    if issues:
        raise ConfigError(cfg.source, issues)
    return cfg.model_copy(update={"state": state, "apps": apps})


def _duplicate_keys(root: yaml.Node | None) -> list[ConfigIssue]:
    """Keys given twice in one mapping (YAML would silently keep the last), with both lines.
    Each node is visited once, so aliases cannot make the walk explode."""
    issues: list[tuple[int, ConfigIssue]] = []
    stack: list[tuple[yaml.Node, str]] = [(root, "")] if root is not None else []
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                if key.value in first:
                    issues.append((line, ConfigIssue(_join(path, key.value), f"duplicate key {key.value!r}: given on "
                                                     f"line {first[key.value]} and again on line {line}; keep one")))
                else:
                    first[key.value] = line
                stack.append((value, _join(path, key.value)))
    return [issue for _, issue in sorted(issues, key=lambda x: x[0])]


def notification_issues(cfg: Config) -> list[ConfigIssue]:
    """Notification URLs apprise cannot use (the URL itself is not repeated: it holds credentials)."""
    if cfg.notifications is None:
        return []
    import logging

    import apprise

    quiet = logging.getLogger("apprise")
    level, quiet.level = quiet.level, logging.CRITICAL  # apprise would log the URL it refuses
    try:
        bad = [i for i, url in enumerate(cfg.notifications.urls) if not apprise.Apprise().add(url)]
    finally:
        quiet.level = level
    return [ConfigIssue(f"notifications.urls[{i}]", "not a notification URL Accord can use; e.g. "
                        "mailtos://user:password@smtp.example.com?to=you@example.com (e-mail), "
                        "slack://TokenA/TokenB/TokenC or msteams://… (see the apprise documentation)") for i in bad]


def semantic_issues(cfg: Config) -> list[ConfigIssue]:
    """Checks that need the whole document: references, double mappings, locked mappings."""
    issues: list[ConfigIssue] = []
    seen: set[str] = set()
    for i, s in enumerate(cfg.syncs):
        p = f"syncs[{i}]"
        if s.name in seen:
            issues.append(ConfigIssue(f"{p}.name", f"sync name {s.name!r} is used twice"))
        seen.add(s.name)
        for side in ("left", "right"):
            ref: SideRef = getattr(s, side)
            if ref.app not in cfg.apps:
                issues.append(ConfigIssue(f"{p}.{side}.app", f"unknown app {ref.app!r}; defined: {', '.join(cfg.apps)}"))
        if s.winner is not None and s.winner not in (s.left.app, s.right.app, "left", "right"):
            issues.append(ConfigIssue(f"{p}.winner", f"winner must be {s.left.app!r} or {s.right.app!r}"))
        issues.extend(_routing_issues(cfg, s, p))
        if s.left.app == s.right.app and s.left.object == s.right.object:
            issues.append(ConfigIssue(f"{p}.right", "a sync needs two different sides"))
        if s.inclusion and s.direction != "two-way":
            src = "left" if s.direction == "left-to-right" else "right"
            if s.inclusion.side != src:
                issues.append(ConfigIssue(f"{p}.inclusion.side", f"in a {s.direction} sync the list must be on the {src} side"))
        names = {x.name: x for x in cfg.syncs}
        for j, a in enumerate(s.associations):
            t = names.get(a)
            if t is None:
                issues.append(ConfigIssue(f"{p}.associations[{j}]", f"no sync named {a!r}"))
            elif (t.left.app, t.right.app) != (s.left.app, s.right.app):
                issues.append(ConfigIssue(f"{p}.associations[{j}]",
                                          f"sync {a!r} must pair the same apps on the same sides ({s.left.app} ↔ {s.right.app})"))
        if any(ref.app not in cfg.apps for ref in (s.left, s.right)):
            continue
        if s.events and event_app_side(cfg, s) is None:
            issues.append(ConfigIssue(f"{p}.events", "event sync needs HubSpot contacts on one side and Snov.io "
                                      "prospects or Salesforce Contact or Lead on the other"))
        elif s.events:
            hub = s.left.app if event_app_side(cfg, s) == "right" else s.right.app
            if not getattr(cfg.apps[hub], "app_id", None):
                issues.append(ConfigIssue(f"{p}.events", f"event sync writes timeline events of a HubSpot app: set "
                                          f"apps.{hub}.app_id (and developer_api_key, its developer account's key)"))
        issues.extend(_activity_issues(cfg, s, p))
        issues.extend(_mapping_issues(cfg, s, p))
    for i, other in overlapping_syncs(cfg.syncs):
        issues.append(ConfigIssue(f"syncs[{i}].right", overlap_message(cfg.syncs[i], other)))
    return issues


def _routing_issues(cfg: Config, s: SyncConfig, p: str) -> list[ConfigIssue]:
    """``[Contact, Lead]`` only as a Salesforce side facing HubSpot contacts; ``new_records_as`` only with it."""
    issues: list[ConfigIssue] = []
    for side in ("left", "right"):
        ref: SideRef = getattr(s, side)
        other: SideRef = getattr(s, "right" if side == "left" else "left")
        if ref.app not in cfg.apps or other.app not in cfg.apps:
            continue
        if ref.routed and (cfg.vendor(ref.app) != "salesforce" or cfg.vendor(other.app) != "hubspot"
                           or other.object != "contacts"):
            issues.append(ConfigIssue(f"{p}.{side}.object", "[Contact, Lead] is a Salesforce side synced with HubSpot "
                                      "contacts only (Contact/Lead routing); name one object here"))
        if ref.new_records_as is not None and not ref.routed:
            issues.append(ConfigIssue(f"{p}.{side}.new_records_as", "only with object: [Contact, Lead]"))
    return issues


class SyncOverlap(ValueError):
    """A sync pairs the same two objects as another sync (the message names it)."""


def object_pair(s: SyncConfig) -> frozenset[tuple[str, str]]:
    """The two (app, object) sides of a sync, unordered: A ↔ B and B ↔ A are the same pair."""
    return frozenset({(s.left.app, s.left.object.casefold()), (s.right.app, s.right.object.casefold())})


def _object_pairs(s: SyncConfig) -> list[frozenset[tuple[str, str]]]:
    """The object pairs a sync covers: a Contact/Lead side covers both its objects."""
    def objects(ref: SideRef) -> list[str]:
        return [o.casefold() for o in ROUTED_PARTS] if ref.routed else [ref.object.casefold()]
    return [frozenset({(s.left.app, lo), (s.right.app, ro)}) for lo in objects(s.left) for ro in objects(s.right)]


def sync_sides(s: SyncConfig) -> dict[str, list[Any]]:
    """Each side's app and object(s) as the index keeps them (schema.syncs.objects):
    ``{"left": [app, [object, …]], "right": [app, [object, …]]}``, objects case-folded."""
    return {side: [ref.app, sorted(o.casefold() for o in _objects(ref))] for side, ref in (("left", s.left), ("right", s.right))}


def overlapping_syncs(syncs: Sequence[SyncConfig]) -> list[tuple[int, SyncConfig]]:
    """(index, the earlier sync) of every sync that pairs the same two objects as an earlier one.

    Two syncs over one object pair each create what the other created, and never stop:
    refused everywhere a sync is saved. Hub and spoke (one object synced with two others) is fine.
    """
    first: dict[frozenset[tuple[str, str]], SyncConfig] = {}
    out: list[tuple[int, SyncConfig]] = []
    for i, s in enumerate(syncs):
        keys = _object_pairs(s)  # a [Contact, Lead] sync overlaps a Contact sync and a Lead sync
        earlier = next((first[k] for k in keys if k in first), None)
        if earlier is not None:
            out.append((i, earlier))
        else:
            first.update({k: s for k in keys})
    return out


def overlap_message(s: SyncConfig, other: SyncConfig) -> str:
    return (f"sync {s.name!r} pairs {s.left.app} {s.left.label()} with {s.right.app} {s.right.label()}, "
            f"as sync {other.name!r} already does; two syncs on one object pair would create each record "
            f"again in both apps: change {other.name!r} instead, or pick other objects")


def twice_created(syncs: Sequence[SyncConfig]) -> list[tuple[SyncConfig, str]]:
    """(the later sync, why) for two syncs that would each create every record of one object in
    the same other app, as two different objects (HubSpot contacts → Salesforce Contact in one,
    → Lead in the other): each record would be in that app twice, for good.

    Not an error (filters or a one-way direction may split the records legitimately): a note of
    ``accord check`` and of the setup flow's review. Syncs that start every record of the shared
    side (no filter, no inclusion list there) and may create from it are the ones meant."""
    out: list[tuple[SyncConfig, str]] = []
    for j, t in enumerate(syncs):
        for s in syncs[:j]:
            said = _twice_created(s, t)
            if said is not None:
                out.append((t, said))
    return out


def _twice_created(s: SyncConfig, t: SyncConfig) -> str | None:
    for ss, ts in ((a, b) for a in ("left", "right") for b in ("left", "right")):
        shared, mine = getattr(s, ss), getattr(t, ts)
        if (shared.app, shared.object.casefold()) != (mine.app, mine.object.casefold()):
            continue
        so, to = _other(ss), _other(ts)
        there, here = getattr(s, so), getattr(t, to)
        if there.app != here.app or {o.casefold() for o in _objects(there)} & {o.casefold() for o in _objects(here)}:
            continue  # other apps (hub and spoke), or the same objects (an overlap, refused apart)
        if not (_creates_all_of(s, ss) and _creates_all_of(t, ts)):
            continue
        people = {o.casefold() for o in (*_objects(there), *_objects(here))} == {"contact", "lead"}
        one = ("use one sync with object [Contact, Lead] (each HubSpot contact becomes a Lead or a Contact, "
               "never both)" if people else "sync it with one of them")
        return (f"sync {t.name!r} and sync {s.name!r} each create every {mine.app} {mine.label()} record in "
                f"{here.app}, as {here.label()} here and as {there.label()} there: each would be in {here.app} "
                f"twice. To avoid that, {one}, or give both syncs filters on {mine.app} that split its records.")
    return None


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


def _creates_all_of(s: SyncConfig, side: str) -> bool:
    """``s`` may create records of ``side`` in the other app, and starts every one of them."""
    creates = s.direction in ("two-way", f"{side}-to-{_other(side)}")
    narrowed = bool(getattr(s.filters, side)) or (s.inclusion is not None and s.inclusion.side == side)
    return s.enabled and creates and not narrowed


def _objects(ref: SideRef) -> list[str]:
    """The object(s) of a side: one name, or several (Salesforce Contact and Lead)."""
    return list(ROUTED_PARTS) if ref.routed else [ref.object]


def activity_sides(cfg: Config, s: SyncConfig) -> tuple[str, str] | None:
    """("left"/"right" of HubSpot contacts, of Salesforce Contact/Lead) when the sync pairs them, else None."""
    for h, f in (("left", "right"), ("right", "left")):
        href, fref = getattr(s, h), getattr(s, f)
        if (cfg.vendor(href.app) == "hubspot" and _objects(href) == ["contacts"]
                and cfg.vendor(fref.app) == "salesforce"
                and all(o.casefold() in ("contact", "lead") for o in _objects(fref))):
            return h, f
    return None


def _activity_issues(cfg: Config, s: SyncConfig, p: str) -> list[ConfigIssue]:
    """``activities`` rides on a HubSpot contacts ↔ Salesforce Contact/Lead sync that may write to Salesforce."""
    if not s.activities:
        return []
    sides = activity_sides(cfg, s)
    if sides is None:
        return [ConfigIssue(f"{p}.activities", "activities sync only on a sync of HubSpot contacts with Salesforce "
                            "Contact or Lead (HubSpot calls, emails, meetings, notes and tasks become Salesforce "
                            "Tasks and Events); remove the key here or put it on such a sync")]
    source = {"left-to-right": "left", "right-to-left": "right"}.get(s.direction)
    if source is not None and source != sides[0]:
        return [ConfigIssue(f"{p}.activities", f"activities are copied from HubSpot to Salesforce, but this "
                            f"{s.direction} sync never writes to Salesforce; remove the key or change the direction")]
    if len(set(s.activities)) != len(s.activities):
        return [ConfigIssue(f"{p}.activities", "an activity type is listed twice")]
    return []


def _mapping_issues(cfg: Config, s: SyncConfig, p: str) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    defaults = catalog.default_mappings(cfg.vendor(s.left.app), s.left.object, cfg.vendor(s.right.app), s.right.object)
    required = [d for d in defaults if d.required]
    used_left: dict[str, str] = {}
    used_right: dict[str, str] = {}
    for j, m in enumerate(s.mappings):
        mp = f"{p}.mappings[{j}]"
        for side, field, used in (("left", m.left, used_left), ("right", m.right, used_right)):
            if field in used:
                issues.append(ConfigIssue(f"{mp}.{side}", f"field {field!r} is mapped twice (also in {used[field]})"))
            else:
                used[field] = f"mappings[{j}]"
        if s.defaults:
            for d in required:
                if (m.left == d.left) != (m.right == d.right):
                    side = "right" if m.left == d.left else "left"
                    issues.append(ConfigIssue(
                        f"{mp}.{side}",
                        f"{d.left} ↔ {d.right} is a required mapping and cannot be changed",
                    ))
                elif m.left == d.left and m.right == d.right and m.rule == "none":
                    issues.append(ConfigIssue(f"{mp}.rule", f"{d.left} ↔ {d.right} is required and cannot be turned off"))
        for k in s.constants.to_left:
            if k == m.left and m.direction != "left-to-right" and s.direction != "left-to-right":
                issues.append(ConfigIssue(_join(f"{p}.constants.to_left", k), f"field {k!r} is both mapped and a constant"))
        for k in s.constants.to_right:
            if k == m.right and m.direction != "right-to-left" and s.direction != "right-to-left":
                issues.append(ConfigIssue(_join(f"{p}.constants.to_right", k), f"field {k!r} is both mapped and a constant"))
    if not s.defaults:
        for d in required:
            if not any(m.left == d.left and m.right == d.right for m in s.mappings):
                issues.append(ConfigIssue(f"{p}.mappings", f"required mapping {d.left} ↔ {d.right} is missing"))
    return issues


EVENT_SOURCES = {("snovio", "prospects"), ("salesforce", "contact"), ("salesforce", "lead"), ("salesforce", ROUTED.casefold())}


def event_app_side(cfg: Config, s: SyncConfig) -> Literal["left", "right"] | None:
    """The side whose app's events a sync with ``events: true`` carries to HubSpot (the other
    side holds HubSpot contacts), or None when the sync's pair has no event sync."""
    def hubspot_contacts(ref: SideRef) -> bool:
        return cfg.vendor(ref.app) == "hubspot" and ref.object.casefold() == "contacts"

    def source(ref: SideRef) -> bool:
        return (cfg.vendor(ref.app), ref.object.casefold()) in EVENT_SOURCES

    if hubspot_contacts(s.left) and source(s.right):
        return "right"
    if hubspot_contacts(s.right) and source(s.left):
        return "left"
    return None


def effective_winner(s: SyncConfig) -> Literal["left", "right"]:
    """The side whose value wins a conflict: configured, else the one-way source, else left."""
    if s.winner == "left" or (s.winner == s.left.app and s.left.app != s.right.app):
        return "left"
    if s.winner in ("right", s.right.app):
        return "right"
    return "right" if s.direction == "right-to-left" else "left"


def effective_deletes(s: SyncConfig, left_vendor: str, right_vendor: str) -> Literal["mark", "propagate"]:
    """Configured, else ``propagate`` for a one-way sync, else the vendor pair's default
    (catalog.PAIR_RULES: Snov.io's integrations sync deletes both ways), else ``mark``."""
    if s.deletes:
        return s.deletes
    if s.direction != "two-way":
        return "propagate"
    return catalog.pair_rules(left_vendor, right_vendor).deletes or "mark"


def config_hash(s: SyncConfig) -> str:
    """Fingerprint of what changes sync results; saving a different one restarts the initial sync."""
    # the delete guard only decides when deletes wait for a confirmation, never what syncs;
    # nor does event sync: turning it on or off never restarts the record sync; activities have
    # their own cursors (a type turned on is read in full by the next pass), so turning one on or
    # off does not restart the contacts' initial sync either
    body = s.model_dump(mode="json", exclude={"enabled", "delete_guard", "events", "activities"})
    for side in ("left", "right"):
        if body[side].get("new_records_as") is None:
            body[side].pop("new_records_as", None)  # a key added later: absent, an index keeps its hash
    for m in body.get("mappings", []):
        if m.get("values_to_left") is None:
            m.pop("values_to_left", None)  # a key added later: absent, an index keeps its hash
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
