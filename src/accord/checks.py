"""``accord check`` and every save of a sync (REST API, setup flow): a sync against the apps themselves.

Read only — nothing is written to any app (stages ``stages: auto`` would add are only listed,
a list is only looked up). Errors are everything the setup flow's pickers would have
prevented: an object, a field, an option of an enumeration, a list, a stage the app does not
have, each with a "did you mean" (engine/validate.py); notes are what the sync will do that a
person should know before the first write (default mappings whose field is missing, values
with no counterpart, stages to add).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.config import ConfigError, ConfigIssue
from accord.connectors.base import Connector, account_or_none
from accord.engine.mapping import SyncSpec, Unmapped, unmapped_values
from accord.engine.options import suggestion
from accord.engine.validate import stage_issues, sync_issues, unmapped_note
from accord.model import AuthError, ConnectorError, ContainerMissing, ObjectSchema, Side, UnreachableError
from accord.runner import SyncRunner
from accord.runner.deletes import both_hold_records, follow_renamed_container, never_had_container, unmatched
from accord.runner.index_guard import index_issue
from accord.runner.pairing import renamed_list
from accord.runner.scan import counts_up_to_floor


@dataclass
class Findings:
    errors: list[ConfigIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    spec: SyncSpec | None = None
    unmapped: list[Unmapped] = field(default_factory=list)
    schemas: dict[Side, ObjectSchema] = field(default_factory=dict)


async def _object_issue(conn: Connector, obj: str, path: str, e: ConnectorError) -> ConfigIssue:
    """The object cannot be described: name the app's objects (the closest first) instead of the HTTP answer."""
    try:
        known = await conn.list_objects()
    except (NotImplementedError, ConnectorError):
        known = []
    names = [o.value for o in known]
    hint = suggestion(obj, names, {o.value: o.label for o in known})
    listed = f" (objects: {', '.join(names[:15])}{', …' if len(names) > 15 else ''})" if names and not hint else ""
    said = "" if names else f" ({e})"  # the app's own words only when it cannot list its objects
    return ConfigIssue(f"{path}.object", f"app {conn.name!r} has no object {obj!r}{hint}{listed}{said}")


async def check_sync(runner: SyncRunner) -> Findings:
    """Everything wrong with the runner's sync, and what a person should know before its first pass.

    Auth, reachability and vanished containers raise as in a pass; an object the app does not
    have, anything else the sync names that the apps lack, and a sync renamed or with its
    sides changed under its pairs (accord.runner.index_guard) are ``errors`` (all of them)."""
    try:
        out = await _sync_findings(runner)
    except ContainerMissing as e:
        never_had_container(runner.ctx, e)  # a table not made yet: "create it", not "restore it"
        raise
    if (misfit := index_issue(runner.ctx.store, runner.cfg, runner.ctx.path, runner.accounts)) is not None:
        out.errors.insert(0, misfit)
    return out


async def _sync_findings(runner: SyncRunner) -> Findings:
    ctx, cfg, path = runner.ctx, runner.cfg, runner.ctx.path
    out = Findings()
    for side in (Side.LEFT, Side.RIGHT):
        try:
            out.schemas[side] = await ctx.conn[side].describe(ctx.obj[side])
        except (AuthError, UnreachableError, ContainerMissing):
            raise
        except ConnectorError as e:
            out.errors.append(await _object_issue(ctx.conn[side], ctx.obj[side], f"{path}.{side.value}", e))
    if out.errors:
        return out
    left, right = out.schemas[Side.LEFT], out.schemas[Side.RIGHT]
    compiled: list[ConfigIssue] = []
    try:
        out.spec = await runner.prepare(write=False)
    except ConfigError as e:
        compiled = e.issues
    mine = sync_issues(cfg, left, right, path)
    mine += await _stage_issues(runner)
    inclusion, renamed = await _inclusion_issues(runner)
    mine += inclusion
    out.notes += renamed
    if out.spec is not None and (waits := await _unmatched_start_note(runner)):
        out.notes.append(waits)
    # the schemas' own reasons (with "did you mean") replace compile_sync's for the same key
    seen = {i.path for i in mine}
    out.errors = mine + [i for i in compiled if i.path not in seen]
    if out.spec is not None:
        out.notes += [f"mapping {b.path} is skipped: {b.reason}" for b in out.spec.broken if b.default]
        if runner.stage_copy is not None:
            out.notes.append(f"stages: auto {runner.stage_copy.describe()}")
        out.unmapped = unmapped_values(out.spec, left, right)
        out.notes += [unmapped_note(cfg, u, left, right) for u in out.unmapped]
    return out


async def _stage_issues(runner: SyncRunner) -> list[ConfigIssue]:
    if not isinstance(runner.cfg.stages, dict):
        return []
    ctx = runner.ctx
    try:
        pipes = [await ctx.conn[s].pipelines(ctx.obj[s]) for s in (Side.LEFT, Side.RIGHT)]
    except NotImplementedError:
        return []
    return stage_issues(runner.cfg, pipes[0], pipes[1], ctx.path)


async def _inclusion_issues(runner: SyncRunner) -> tuple[list[ConfigIssue], list[str]]:
    """The inclusion list is one of the app's lists (looked up, never created); a list renamed
    in the app since a pass found it is a note (the sync follows it), not an error."""
    inc, ctx = runner.cfg.inclusion, runner.ctx
    if inc is None:
        return [], []
    side = Side(inc.side)
    conn, obj = ctx.conn[side], ctx.obj[side]
    try:
        lists = await conn.inclusion_lists(obj)
    except NotImplementedError:
        return [ConfigIssue(f"{ctx.path}.inclusion.side", f"app {conn.name!r} has no inclusion lists for {obj}; "
                                                          "choose a list in the other app, or no list")], []
    names = [o.value for o in lists]
    if inc.list in names or inc.list.casefold() in {n.casefold() for n in names}:
        return [], []
    if (now := await renamed_list(ctx, side, inc.list)) is not None:
        return [], [f"{ctx.path}.inclusion.list: the {conn.name} list {inc.list!r} is now named {now!r} there; "
                    f"the sync follows it: write the new name here"]
    hint = suggestion(inc.list, names)
    listed = f" (lists: {', '.join(repr(n) for n in names[:10])}{', …' if len(names) > 10 else ''})" \
        if names and not hint else "" if names else " (it has none)"
    return [ConfigIssue(f"{ctx.path}.inclusion.list", f"app {conn.name!r} has no {obj} list {inc.list!r} (a sync "
                                                      f"stops on an inclusion list that does not exist){hint}{listed}")], []


async def _unmatched_start_note(runner: SyncRunner) -> str | None:
    """The first pass will wait for a confirmation (accord.runner.deletes.guard_unmatched_start):
    no match key, nothing indexed yet, and both apps hold records."""
    ctx = runner.ctx
    if not unmatched(ctx) or not both_hold_records(await counts_up_to_floor(ctx)):
        return None
    return (f"{ctx.path + '.' if ctx.path else ''}match: no match key, and both apps already hold records: the first pass waits for a "
            "confirmation before it creates each record of one app in the other (records synced before would "
            "be there twice); set match: so that twins pair up, or confirm (accord sync --confirm)")


async def app_findings(conn: Connector, key: str, runners: Sequence[SyncRunner] = ()) -> tuple[list[ConfigIssue], list[str]]:
    """The app's own settings that name something in it (a xentral group, a Snov.io list): errors
    for a misspelling (a similar name exists), notes for one a first pass would create. A
    container renamed in the app since a pass of one of ``runners`` (the syncs of the config)
    found it is a note, not an error: the syncs follow it by the id their index remembers."""
    errors, notes = await conn.setting_issues()
    if (errors or notes) and (renamed := await _renamed_container(conn, runners)) is not None:
        (old, now), names = renamed
        setting = conn.container_setting
        syncs = f"the sync {names[0]!r} follows" if len(names) == 1 else \
            f"the syncs {', '.join(repr(n) for n in names)} follow"
        errors, notes = [], [f"{key}.{setting}: the {conn.name} {setting} {old!r} is now named {now!r} there; "
                             f"{syncs} it: write the new name here"]
    if account := await account_or_none(conn):  # which portal or org: "is this the right token?"
        notes = [f"{conn.name}: signs in to {account}", *notes]
    return [ConfigIssue(f"{key}.{k}" if k else key, msg) for k, msg in errors], notes


async def _renamed_container(conn: Connector, runners: Sequence[SyncRunner]) -> tuple[tuple[str, str], list[str]] | None:
    """(the configured name, the name now) of ``conn``'s container if a sync of ``runners`` follows
    it under another name, with the names of the syncs on that app."""
    found: tuple[str, str] | None = None
    names: list[str] = []
    for runner in runners:
        for side in (Side.LEFT, Side.RIGHT):
            if runner.ctx.conn[side] is conn:
                names.append(runner.cfg.name)
                found = found or await follow_renamed_container(runner.ctx, side)
    return None if found is None else (found, names)
