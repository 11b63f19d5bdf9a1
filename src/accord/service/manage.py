"""Creating, editing and deleting apps and syncs while the service runs (API and setup flow).

Both the REST API and the dashboard's setup flow go through :func:`save_sync` and
:func:`delete_sync`, so a sync saved in the browser is checked exactly like one posted
as JSON: the config rules with key paths first, then both apps' schemas (type clashes,
read-only targets, unknown fields) — and only then stored, with its initial sync started.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from accord import catalog
from accord.checks import Findings, check_sync
from accord.config import ConfigError, ConfigIssue, SyncConfig, SyncOverlap
from accord.model import ObjectSchema, Pipeline
from accord.runner import SyncRunner
from accord.service.core import Service


class Conflict(Exception):
    """The change is refused as it stands (HTTP 409)."""


class Stale(Conflict):
    """An edit made on settings that have changed since (HTTP 412 where the API's If-Match said so)."""


async def check_with_apps(svc: Service, s: SyncConfig) -> None:
    """Compile the sync against both apps' live schemas; fatal issues raise ConfigError."""
    await sync_findings(svc, s)


async def sync_findings(svc: Service, s: SyncConfig) -> Findings:
    """What ``accord check`` says of the sync (accord/checks.py, read only: stages are added by
    the sync's passes); its errors raise ConfigError, with the notes of a sync that may be saved."""
    try:
        runner = SyncRunner(s, svc.store, svc.session.connector(s.left.app), svc.session.connector(s.right.app))
        found = await check_sync(runner)
    except ConfigError as e:
        raise ConfigError("sync", [ConfigIssue(i.path.lstrip("."), i.message) for i in e.issues]) from e
    except Exception as e:  # an app that cannot be reached or refuses the credentials
        raise ConfigError("sync", [ConfigIssue("", f"cannot read the apps' schemas: {type(e).__name__}: {e}")]) from e
    if found.errors:
        # an object an app does not have: its schema cannot be read (as for an unreachable app)
        raise ConfigError("sync", [ConfigIssue(i.path.lstrip("."), f"cannot read the apps' schemas: {i.message}"
                                               if i.path.endswith(".object") else i.message) for i in found.errors])
    return found


def fingerprint(s: SyncConfig) -> str:
    """Every setting of a sync, hashed: an edit opened on one fingerprint saves only over the same
    (the setup flow's Draft.base)."""
    return hashlib.sha256(json.dumps(s.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


async def save_sync(svc: Service, body: Any, *, replacing: str | None = None, base: str | None = None) -> SyncConfig:
    """Create (or replace) a sync made through the API; saving (re)starts its initial sync.

    ``base``: the :func:`fingerprint` of the settings the edit started from. Saved over other
    settings (someone else saved meanwhile, or another tab), it is refused: it would silently
    undo their change."""
    if replacing is not None:
        src = svc.registry.source_of_sync(replacing)
        if src is None:
            raise KeyError(replacing)
        if src == "file":
            raise Conflict(f"sync {replacing!r} is defined in {svc.registry.file_cfg.source}; edit the file instead")
        now = next((x for x in svc.registry.current().syncs if x.name == replacing), None)
        if base and now is not None and fingerprint(now) != base:
            raise Stale(f"sync {replacing!r} was changed since this edit was opened (by someone else, or in "
                           "another tab), so saving would undo that change: nothing was saved. Open Edit sync "
                           "again to start from its current settings.")
    try:
        _, s = svc.registry.check_sync(body, replacing=replacing)
    except SyncOverlap as e:
        raise Conflict(str(e)) from e
    await check_with_apps(svc, s)
    svc.registry.save_sync(s)
    await svc.reload(svc.registry.current(), restart={s.name})
    return s


async def delete_sync(svc: Service, name: str) -> None:
    src = svc.registry.source_of_sync(name)
    if src is None:
        raise KeyError(name)
    if src == "file":
        raise Conflict(f"sync {name!r} is defined in {svc.registry.file_cfg.source}; remove it from the file instead")
    users = [s.name for s in svc.cfg.syncs if name in s.associations]
    if users:
        raise Conflict(f"sync {name!r} is used for associations by {', '.join(users)}")
    svc.registry.delete_sync(name)
    await svc.reload(svc.registry.current())


async def rename_sync(svc: Service, old: str, new: str) -> SyncConfig:
    """Rename a sync made through the API, its index with it (pairs, keys, cursors, runs): the
    renamed sync goes on from its pairs and creates nothing twice. Deleting it and creating it
    again under the new name would start from an empty index (every deal created again)."""
    src = svc.registry.source_of_sync(old)
    if src is None:
        raise KeyError(old)
    if src == "file":
        raise Conflict(f"sync {old!r} is defined in {svc.registry.file_cfg.source}; rename it there, then move its "
                       f"index with `accord rename {old} NEW`")
    cur = svc.registry.current()
    s = cur.sync(old)
    try:
        renamed = SyncConfig.model_validate({**s.model_dump(mode="json", exclude_none=True), "name": new})
    except ValidationError as e:
        raise ConfigError("sync", [ConfigIssue("name", "letters, digits, _ . - only (up to 200)")]) from e
    if new == old:
        return s
    if any(x.name == new for x in cur.syncs):
        raise ConfigError("sync", [ConfigIssue("name", f"another sync is named {new!r}: choose another name")])
    if svc.store.has_pairs(new):
        raise ConfigError("sync", [ConfigIssue("name", f"the index still holds the pairs of an earlier sync named "
                                                       f"{new!r} (`accord forget {new}` drops them): choose another name")])
    users = [x for x in cur.syncs if old in x.associations]
    if in_file := [x.name for x in users if svc.registry.source_of_sync(x.name) == "file"]:
        raise Conflict(f"sync {old!r} is named for associations by {', '.join(in_file)} in "
                       f"{svc.registry.file_cfg.source}; rename it there too")
    # Stop it and the syncs that name it (a running pass ends after its batch), move the index,
    # then the settings: a crash in between leaves a sync whose passes the index guard refuses,
    # saying how to finish.
    stopped = {old, *(x.name for x in users)}
    await svc.reload(cur.model_copy(update={"syncs": [x for x in cur.syncs if x.name not in stopped]}), forget=False)
    svc.store.rename_sync(old, new)
    configs = {new: renamed.model_dump(mode="json", exclude_none=True)}
    for x in users:  # syncs that keep their associations through it follow the new name
        followed = x.model_copy(update={"associations": [new if a == old else a for a in x.associations]})
        configs[x.name] = followed.model_dump(mode="json", exclude_none=True)
    svc.store.rename_managed_sync(old, new, configs)
    await svc.reload(svc.registry.current())
    return renamed


async def save_app(svc: Service, name: str, body: Any) -> None:
    if svc.registry.source_of_app(name) == "file":
        raise Conflict(f"app {name!r} is defined in {svc.registry.file_cfg.source}; edit the file instead")
    app = svc.registry.check_app(name, body)
    svc.registry.save_app(name, app)
    await svc.reload(svc.registry.current())


async def delete_app(svc: Service, name: str) -> None:
    src = svc.registry.source_of_app(name)
    if src is None:
        raise KeyError(name)
    if src == "file":
        raise Conflict(f"app {name!r} is defined in {svc.registry.file_cfg.source}; remove it from the file instead")
    users = [s.name for s in svc.cfg.syncs if name in (s.left.app, s.right.app)]
    if users:
        raise Conflict(f"app {name!r} is used by sync(s) {', '.join(users)}; delete them first")
    svc.registry.delete_app(name)
    await svc.reload(svc.registry.current())


def known_objects(vendor: str) -> list[str]:
    """Objects the catalog has default mappings for (a sync may name others)."""
    return [obj for (v, obj) in catalog.OBJECTS if v == vendor]


async def describe(svc: Service, app: str, obj: str) -> ObjectSchema:
    return await svc.session.connector(app).describe(obj)


async def pipelines(svc: Service, app: str, obj: str) -> list[Pipeline]:
    try:
        return await svc.session.connector(app).pipelines(obj)
    except NotImplementedError:
        return []


def fields_json(schema: ObjectSchema) -> list[dict[str, Any]]:
    return [{"name": f.name, "label": f.label or f.name, "type": str(f.type), "writable": f.writable,
             "required": f.required, "options": [{"value": o.value, "label": o.label} for o in f.options]}
            for f in sorted(schema.fields.values(), key=lambda f: (f.label or f.name).casefold())]
