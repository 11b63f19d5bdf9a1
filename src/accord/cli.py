"""The ``accord`` command line (SPEC §4). Exit codes: 0 ok, 1 other error (deletes held for a confirmation
included), 2 config (a list, group or table the config names is gone included), 3 app unreachable/auth."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from accord import redact

# Each command imports what it uses: `accord --help` and `accord sandbox` load neither the index
# (SQLAlchemy) nor the runner, and no command loads what only another needs (~1 s of CPU a start).
if TYPE_CHECKING:
    from rich.progress import Progress

    from accord.config import Config
    from accord.index import Store
    from accord.index.store import IndexUnavailable, Link
    from accord.model import Side
    from accord.runner import PassResult, SyncRunner
    from accord.session import Session

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Accord: two-way record sync for CRM and sales apps.")
out = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
T = TypeVar("T")

ConfigOpt = Annotated[Path, typer.Option("-c", "--config", help="Path to accord.yaml")]
SyncOpt = Annotated[str | None, typer.Option("--sync", help="Only this sync")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _fail(code: int, message: str) -> typer.Exit:
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(path: Path, require_apps: bool = True) -> Config:
    from accord.config import ConfigError, load_config

    try:
        cfg = load_config(path, require_apps=require_apps)
    except ConfigError as e:
        raise _fail(EXIT_CONFIG, e.render()) from e
    from accord.service.managed import secrets_of

    redact.register(v for a in cfg.apps.values() for v in secrets_of(a))  # masked in every log line
    redact.register(c.client_secret for c in cfg.oauth.values() if c.client_secret)
    return cfg


def _index_failure(cfg: Config, e: IndexUnavailable) -> typer.Exit:
    """Exit 3 for a database server that cannot be reached or refuses the login, else 2."""
    return _fail(EXIT_UNREACHABLE if e.unreachable else EXIT_CONFIG, redact.scrub(f"{cfg.source}: state: {e}"))


def _store(cfg: Config) -> Store:
    """The config's index, or exit 2/3 saying what to fix in ``state:``."""
    from accord.index import Store
    from accord.index.store import IndexUnavailable

    try:
        return Store(cfg.state)
    except IndexUnavailable as e:
        raise _index_failure(cfg, e) from e


def _run(cfg: Config, coro: Callable[[Session], Awaitable[T]], session: Session | None = None) -> T:
    """Run a coroutine against an opened session, turning failures into exit codes."""
    from accord.config import ConfigError
    from accord.index.store import IndexUnavailable
    from accord.model import AuthError, ConnectorError, ContainerMissing, DeletesHeld, UnreachableError
    from accord.runner import STOPPED
    from accord.session import Session

    async def main() -> T:
        s = session or Session(cfg)
        try:
            return await coro(s)
        finally:
            await s.aclose()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt as e:
        raise _fail(EXIT_INTERRUPTED, STOPPED) from e
    except IndexUnavailable as e:
        raise _index_failure(cfg, e) from e
    except ConfigError as e:
        e.file = cfg.source if not e.file or e.file in {s.name for s in cfg.syncs} else e.file
        raise _fail(EXIT_CONFIG, e.render()) from e
    except ContainerMissing as e:
        # the config names a list, group or table that is gone: nothing was written
        raise _fail(EXIT_CONFIG, f"{cfg.source}: {e.key}: {e}\nhint: {e.hint}") from e
    except DeletesHeld as e:
        raise _fail(EXIT_ERROR, f"{cfg.source}: {e}\nhint: {e.hint}") from e
    except (AuthError, UnreachableError) as e:
        hint = getattr(e, "hint", "")
        raise _fail(EXIT_UNREACHABLE, f"{cfg.source}: {e}" + (f"\nhint: {hint}" if hint else "")) from e
    except ConnectorError as e:
        raise _fail(EXIT_ERROR, f"{cfg.source}: {e}") from e


def _selected(cfg: Config, sync: str | None) -> list[str]:
    if sync is None:
        return [s.name for s in cfg.syncs]
    if sync not in {s.name for s in cfg.syncs}:
        raise _fail(EXIT_CONFIG, f"{cfg.source}: syncs: no sync named {sync!r}")
    return [sync]


def _run_order(cfg: Config, names: list[str]) -> list[str]:
    """``names`` in the order their passes run one after another: each sync after the syncs its
    ``associations:`` name (accord.ordering), so a line items sync listed first still finds its
    deals and products paired in the same run."""
    from accord.ordering import run_order

    return [s.name for s in run_order([cfg.sync(n) for n in names])]


class RichProgress:
    """Progress bars for passes (record totals are unknown up front, so bars count up)."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress
        self.task: Any = None

    def phase(self, name: str, total: int | None = None) -> None:
        if self.task is not None:
            self.p.update(self.task, total=self.p.tasks[-1].completed or 1, completed=self.p.tasks[-1].completed or 1)
        self.task = self.p.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.p.advance(self.task, n)

    def finish(self) -> None:
        self.phase("done")
        self.p.remove_task(self.task)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[RichProgress | None]:
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=False) as p:
        rp = RichProgress(p)
        yield rp
        rp.finish()


@app.command()
def check(config: ConfigOpt = Path("accord.yaml")) -> None:
    """Validate the config, the apps' schemas, the mappings and the connections; never writes to an app.

    Everything the dashboard's pickers would have prevented is an error (exit 2) with a "did you
    mean": objects, fields, enumeration values, lists, groups, stages, value maps."""
    cfg = _load(config)

    async def body(s: Session) -> list[str]:
        from accord.checks import app_findings, check_sync
        from accord.config import ConfigError, ConfigIssue, twice_created

        notes: list[str] = []
        errors: list[ConfigIssue] = []
        runners = [s.runner(sc.name) for sc in cfg.syncs]  # (a container renamed in its app: their index knows it)
        for name in cfg.apps:
            conn = s.connector(name)
            await conn.check()
            bad, more = await app_findings(conn, f"apps.{name}", runners)
            errors += bad
            notes += more
        for sc in cfg.syncs:
            found = await check_sync(s.runner(sc.name))
            errors += found.errors
            notes += [f"{sc.name}: {n}" for n in found.notes]
            if found.spec is not None and not found.errors:
                n = len(found.spec.mappings)
                notes.append(f"{sc.name}: ok ({n} field mapping{'s' if n != 1 else ''}, {found.spec.direction})")
        notes += [f"{sc.name}: {why}" for sc, why in twice_created(cfg.syncs)]
        if errors:
            for line in notes:
                out.print(line, markup=False, highlight=False, soft_wrap=True)
            raise ConfigError(cfg.source, errors)
        return notes

    for line in _run(cfg, body):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def sync(
    config: ConfigOpt = Path("accord.yaml"),
    sync: SyncOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Re-scan both apps against the index")] = False,
    json_out: JsonOpt = False,
    direction: Annotated[str | None, typer.Option(
        "--direction", help="Manual sync of existing data: a full pass that only writes left-to-right or "
                            "right-to-left; later passes keep the sync's own direction")] = None,
    background: Annotated[bool, typer.Option("--background", help="Run detached; output goes to --log")] = False,
    log_file: Annotated[Path | None, typer.Option("--log", help="Output file of --background")] = None,
    confirm_deletes: Annotated[bool, typer.Option(
        "--confirm-deletes", "--confirm", help="Confirm what the sync holds, then run the pass: carry out the "
                                               "deletes (more than its delete_guard allows), create a vanished list "
                                               "or group again, or start a sync with no match key")] = False,
) -> None:
    """One pass per sync (initial if never run, else incremental) and exit.

    Exit codes: 0 ok, 1 deletes (or an unmatched start) held for a confirmation (or another error), 2 config error
    (a Snov.io list, xentral group, HubSpot list or SQL table the config names is gone),
    3 app unreachable or credentials refused."""
    cfg = _load(config)
    names = _selected(cfg, sync)
    if direction not in (None, "left-to-right", "right-to-left"):
        raise _fail(EXIT_CONFIG, "--direction: use left-to-right or right-to-left")
    for name in names if direction else []:
        if cfg.sync(name).direction not in ("two-way", direction):
            raise _fail(EXIT_CONFIG, f"{cfg.source}: {name}: a {cfg.sync(name).direction} sync cannot copy {direction}")
    if background:
        import subprocess

        log_path = log_file or config.parent / f"accord-sync-{sync or 'all'}.log"
        argv = [sys.executable, "-m", "accord.cli", "sync", "-c", str(config), "--json",
                *(["--sync", sync] if sync else []), *(["--full"] if full else []),
                *(["--direction", direction] if direction else []),
                *(["--confirm-deletes"] if confirm_deletes else [])]
        with open(log_path, "ab") as fh:  # the child keeps its own descriptor
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        out.print(f"sync running in the background: pid {proc.pid}, log {log_path}", markup=False, highlight=False)
        return

    from accord.index.sync_state import sync_enabled
    from accord.model import ContainerMissing, DeletesHeld
    from accord.report import activities_line, events_lines, summary_table

    async def body(s: Session) -> list[PassResult]:
        results = []
        stopped: list[tuple[str, Exception]] = []  # a sync held or missing its list: the others still run
        with progress_bar(not json_out and sys.stderr.isatty()) as bar:
            for name in _run_order(cfg, names):
                if not sync_enabled(cfg.sync(name).enabled, s.store.sync_state(name)):
                    err.print(f"{name}: disabled{'' if cfg.sync(name).enabled else f' (enabled: false in {cfg.source})'}, skipped")
                    continue
                try:
                    results.append(await _one_pass(s, name, direction, full, confirm_deletes, bar))
                except (DeletesHeld, ContainerMissing) as e:
                    stopped.append((name, e))
        # told in the user's order, whatever order the passes ran in
        results.sort(key=lambda r: names.index(r.sync))
        stopped.sort(key=lambda x: names.index(x[0]))
        if json_out:
            out.print_json(json.dumps([r.as_dict() for r in results]))
        elif results:
            out.print(summary_table(results, s.store))
            for line in events_lines(results):
                out.print(line, markup=False, highlight=False)
            for r in results:
                if (activities := activities_line(r)) is not None:
                    out.print(activities, markup=False, highlight=False)
        if stopped:
            held = [e for _, e in stopped]
            first = next((x for x in held if isinstance(x, ContainerMissing)), held[0])
            for other in held:
                if other is not first:
                    err.print(f"{cfg.source}: {other}\nhint: {getattr(other, 'hint', '')}", markup=False,
                              highlight=False, soft_wrap=True)
            raise first
        return results

    _run(cfg, body)


async def _one_pass(s: Session, name: str, direction: str | None, full: bool, confirm: bool,
                    bar: RichProgress | None) -> PassResult:
    if direction:
        if confirm:
            _confirm_now(s, name)
        return await s.directed_pass(name, direction, bar)
    runner = s.runner(name, bar)
    try:
        return await runner.run(full=full, confirm_deletes=confirm)
    finally:  # said even when the pass then stops (the container created again, then deletes held)
        if runner.confirmed is not None:
            err.print(_confirmed_line(name, runner.confirmed), markup=False, highlight=False)
        elif confirm:
            err.print(f"{name}: nothing confirmed (no deletes held, or none Accord can carry out)", markup=False,
                      highlight=False)


def _confirm_now(s: Session, name: str) -> None:
    from accord.index.holds import NotConfirmable

    try:
        err.print(_confirmed_line(name, s.store.confirm_deletes(name)), markup=False, highlight=False)
    except NotConfirmable as e:
        err.print(f"{name}: {e}", markup=False, highlight=False)


def _confirmed_line(name: str, hold: dict[str, Any]) -> str:
    if hold.get("kind") == "container":
        return f"{name}: confirmed: {hold.get('container')} will be created again, empty"
    if hold.get("kind") == "unmatched":
        return f"{name}: confirmed: this pass creates the records of each app in the other"
    return f"{name}: {hold.get('confirmed', 0)} held deletes confirmed; this pass carries them out"


@app.command()
def plan(config: ConfigOpt = Path("accord.yaml"), sync: SyncOpt = None, json_out: JsonOpt = False) -> None:
    """Dry run: what a pass would create, update and delete. Writes nothing to any app or to the index."""
    import tempfile

    from accord.connectors.dry import DryConnector
    from accord.index import Store
    from accord.model import DeletesHeld
    from accord.report import plan_table
    from accord.runner import PassResult
    from accord.session import Session

    cfg = _load(config)
    names = _selected(cfg, sync)
    real = _store(cfg)
    # the dry run works on a copy of these syncs' rows alone: a renamed sync is refused here,
    # as its pass would be (accord.runner.index_guard), not planned as creating everything again
    from accord.config import ConfigError
    from accord.runner.index_guard import index_issue

    paths = {s.name: f"syncs[{i}]" for i, s in enumerate(cfg.syncs)}
    if issues := [i for n in names if (i := index_issue(real, cfg.sync(n), paths[n])) is not None]:
        real.close()
        raise _fail(EXIT_CONFIG, ConfigError(cfg.source, issues).render())
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Store(f"sqlite:///{tmp}/plan.db")
        for name in names:
            real.clone_sync(name, scratch)
        real.close()
        session = Session(cfg, store=scratch)
        session.connectors = {a: DryConnector(session.connector(a)) for a in cfg.apps}

        async def body(s: Session) -> list[dict[str, Any]]:
            out = []
            for n in _run_order(cfg, names):  # as `accord sync` runs them: its parents' dry creates first
                runner = s.runner(n)
                try:
                    out.append((await runner.run()).as_dict())
                except DeletesHeld as e:  # what the real pass would hold, not delete
                    if e.hold.get("kind") == "unmatched":  # it writes nothing until confirmed: what it would then
                        s.store.confirm_deletes(n)
                        then = (await s.runner(n).run()).as_dict()
                        out.append({**then, "kind": "held", "deletes_held": e.hold})
                        continue
                    out.append({**PassResult(n, "held", runner.counters).as_dict(), "deletes_held": e.hold})
            return sorted(out, key=lambda r: names.index(r["sync"]))

        results = _run(cfg, body, session)
    if json_out:
        out.print_json(json.dumps(results))
        return
    out.print(plan_table(results))
    for r in results:  # a pass that would wait for a confirmation: why, and how to give it
        if (held := r.get("deletes_held")) and held.get("kind") == "unmatched":
            out.print(f"{held['message']}\nThe plan shows what it does once confirmed. hint: {held['hint']}",
                      markup=False, highlight=False, soft_wrap=True)


@app.command()
def status(config: ConfigOpt = Path("accord.yaml"), json_out: JsonOpt = False) -> None:
    """Per sync: records syncing, failing and excluded, the last run and its lag."""
    cfg = _load(config)
    store = _store(cfg)
    rows: list[dict[str, Any]] = []
    from datetime import UTC, datetime

    from accord.engine.values import parse_ts
    from accord.index.sync_state import sync_enabled
    from accord.report import status_notes, status_table
    from accord.runner.index_guard import index_issue, pairs

    for i, s in enumerate(cfg.syncs):
        state = store.sync_state(s.name)
        refused = index_issue(store, s, f"syncs[{i}]")  # what its next pass would be refused for
        runs = store.runs(s.name, limit=1)
        last = runs[0] if runs else None
        finished = parse_ts(last["finished_at"]) if last and last["finished_at"] else None
        rows.append({
            "sync": s.name,
            "enabled": sync_enabled(s.enabled, state),
            "initial_done": bool(state and state.initial_done),
            "counts": store.counts(s.name),
            "reasons": store.reason_counts(s.name),
            "last_run": _last_run(last) if last else None,
            "deletes_held": store.deletes_hold(s.name),
            "lag_seconds": round((datetime.now(UTC) - finished).total_seconds(), 1) if finished else None,
            "refused": f"{refused.path}: {refused.message}" if refused else None,
        })
    configured = {s.name for s in cfg.syncs}
    # pairs of syncs the file no longer has (a sync renamed or removed): kept until renamed or forgotten
    left_over = [(n, c) for n in store.sync_names() if n not in configured and (c := store.pair_count(n))]
    store.close()
    if json_out:
        out.print_json(json.dumps(rows))
        return
    out.print(status_table(rows))
    for line in status_notes(rows):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    for name, n in left_over:
        out.print(f"In the index but not in {cfg.source}: sync {name!r} ({pairs(n)}). `accord rename {name} NEW` "
                  f"gives them to a sync renamed NEW; `accord forget {name}` drops them.", markup=False, highlight=False)


def _last_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run of the history as ``accord status`` shows it: with what it did with HubSpot
    activities, when the sync copies some (accord.runner.activities)."""
    out = {k: run[k] for k in ("kind", "status", "started_at", "finished_at", "error")}
    if activities := (run.get("counters") or {}).get("activities"):
        out["activities"] = activities
    return out


def write_export(links: list[Link], fmt: str, target: Path | None) -> None:
    from accord.exports import render_export

    if fmt == "xlsx" and target is None:
        raise _fail(EXIT_CONFIG, "--format xlsx needs -o FILE")
    data = render_export(links, fmt)
    if target is None:
        sys.stdout.write(data.decode())
    else:
        target.write_bytes(data)


FOUND_MAX = 1000  # records `accord records --find` lists: a search is for finding a few, an export for all


@app.command()
def records(
    # `accord records excluded`, as people type it, or --status excluded
    which: Annotated[str | None, typer.Argument(help="the status: syncing, failing, excluded or queued (or --status)",
                                                show_default=False, metavar="STATUS")] = None,
    config: ConfigOpt = Path("accord.yaml"),
    sync: Annotated[str, typer.Option("--sync")] = "",
    status: Annotated[str, typer.Option("--status", help="syncing, failing, excluded or queued")] = "failing",
    fmt: Annotated[str, typer.Option("--format", help="csv, json or xlsx")] = "csv",
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    reason: Annotated[str | None, typer.Option(
        "--reason", help="only one excluded reason or error category, as `accord status` lists them "
                         "(no_match_key, validation …)")] = None,
    find: Annotated[str | None, typer.Option(
        "--find", help="instead of a status: the records of any status that an id of either app (exactly), or a "
                       "part of an email or a name, finds (the first 1,000)")] = None,
) -> None:
    """List or export the records of one status with their errors and reasons, or find records."""
    from accord.exports import FORMATS

    cfg = _load(config)
    if fmt not in FORMATS:
        raise _fail(EXIT_CONFIG, f"--format: unknown format {fmt!r}; use csv, json or xlsx")
    if which is not None:
        status = which
    if status not in ("syncing", "failing", "excluded", "queued"):
        raise _fail(EXIT_CONFIG, f"{'STATUS' if which is not None else '--status'}: unknown status {status!r}; "
                                 "use syncing, failing, excluded or queued")
    name = _selected(cfg, sync or None)[0] if sync else cfg.syncs[0].name if cfg.syncs else ""
    if find is not None and not find.strip():
        raise _fail(EXIT_CONFIG, "--find: give an id, or a part of an email or a name")
    store = _store(cfg)
    links = store.find_records(name, find, limit=FOUND_MAX)[0] if find else store.records(name, status, reason=reason)
    store.close()
    write_export(links, fmt, output)


@app.command()
def resync(
    config: ConfigOpt = Path("accord.yaml"),
    sync: Annotated[str, typer.Option("--sync")] = "",
    deleted_in: Annotated[str | None, typer.Option("--deleted-in", help="the app (or left / right) whose deleted records to recreate")] = None,
    record: Annotated[str | None, typer.Option(
        "--record", help="a record id of either app, indexed or not; in a sync with activities: also a HubSpot "
                         "activity, as TYPE:ID (calls:123) or its id (HubSpot's, or its Salesforce Task/Event "
                         "id), when no record of the sync has that id")] = None,
    list_name: Annotated[str | None, typer.Option(
        "--list", help="sync every member of this list now (the sync's inclusion list, or another list)")] = None,
    side: Annotated[str | None, typer.Option(
        "--side", help="the app (or left / right) of --record or --list, when Accord cannot tell")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="apply (default: preview only)")] = False,
) -> None:
    """Recreate deleted records (preview unless --yes), or sync one record (or HubSpot activity) or a whole list now."""
    from accord.model import Side
    from accord.runner import ManualSyncRefused

    cfg = _load(config)
    name = _selected(cfg, sync)[0]
    spec = cfg.sync(name)
    # app names first; "left" / "right" still work (an app named so means that app)
    apps = {"left": Side.LEFT, "right": Side.RIGHT, spec.left.app: Side.LEFT, spec.right.app: Side.RIGHT}
    if sum(x is not None for x in (deleted_in, record, list_name)) != 1:
        raise _fail(EXIT_CONFIG, f"give one of --deleted-in {spec.left.app}|{spec.right.app}, --record ID or --list NAME")
    for opt, value in (("--deleted-in", deleted_in), ("--side", side)):
        if value is not None and value not in apps:
            raise _fail(EXIT_CONFIG, f"{opt}: use {spec.left.app} or {spec.right.app} (or left or right)")
    on = apps[side] if side else None

    async def body(s: Session) -> None:
        runner = s.runner(name)
        if deleted_in is not None:
            await _resync_deleted(runner, apps[deleted_in], yes, {Side.LEFT: spec.left.app, Side.RIGHT: spec.right.app})
            return
        try:
            if record is not None:
                res = await runner.sync_record(record, on)
            else:
                listed, members, res = await runner.sync_list(list_name or None, on)
                err.print(f"{name}: {members} member(s) of the list {listed!r} synced", markup=False, highlight=False)
        except ManualSyncRefused as e:
            raise _fail(EXIT_CONFIG, f"{cfg.source}: {name}: {e}") from e
        out.print_json(json.dumps(res.as_dict()))

    _run(cfg, body)


async def _resync_deleted(runner: SyncRunner, side: Side, yes: bool, app: dict[Side, str]) -> None:
    preview = await runner.deleted_preview(side)
    if not yes:
        out.print(f"{len(preview)} record(s) deleted in {app[side]} would be recreated from {app[side.other]}:",
                  markup=False)
        for lk in preview[:50]:
            out.print(f"  {lk.label or ''} ({app[side.other]} id {lk.id_of(side.other)})", markup=False)
        out.print("Run again with --yes to recreate them.")
        return
    result = await runner.resync_deleted(side)
    out.print(f"recreated {result.counters.created[side.value]} record(s) in {app[side]}", markup=False)


def _old_pairs(cfg: Config, store: Store, old: str) -> int:
    """How many pairs the index holds under ``old``, a sync ``rename`` and ``forget`` may
    touch: in the index, not in the config or made in the dashboard, and no pass running."""
    import time

    from accord.index.leases import holder_of

    if old in {s.name for s in cfg.syncs}:
        raise _fail(EXIT_CONFIG, f"{cfg.source}: sync {old!r} is configured: remove it from the file first")
    if old in {m["name"] for m in store.managed_syncs()}:
        raise _fail(EXIT_CONFIG, f"sync {old!r} was made in the dashboard: change or delete it there")
    if store.sync_state(old) is None and not store.has_pairs(old):
        raise _fail(EXIT_CONFIG, f"the index ({cfg.state}) has no sync {old!r}")
    h = holder_of(store.engine, old)
    if h is not None and h.expires_at > time.time():
        raise _fail(EXIT_ERROR, f"sync {old!r} is running in {h.describe()}: stop that process first")
    return store.pair_count(old)


@app.command()
def rename(old: str, new: str, config: ConfigOpt = Path("accord.yaml")) -> None:
    """Move the index of a sync renamed in the config file to its new name (pairs, cursors, runs)."""
    from accord.config import sync_sides
    from accord.index.sync_state import overlap

    cfg = _load(config)
    if new not in {s.name for s in cfg.syncs}:
        raise _fail(EXIT_CONFIG, f"{cfg.source}: no sync named {new!r}: rename it in the file first, then here")
    store = _store(cfg)
    try:
        n = _old_pairs(cfg, store, old)
        was = store.sync_state(old)
        if was is not None and was.objects is not None and not overlap(was.objects, sync_sides(cfg.sync(new))):
            raise _fail(EXIT_CONFIG, f"sync {old!r} paired other objects than {new!r} does: its pairs are no "
                                     f"use to it (drop them with `accord forget {old}`)")
        store.rename_sync(old, new)
    except ValueError as e:  # NEW has pairs of its own (rename_sync checks in its transaction)
        raise _fail(EXIT_CONFIG, f"{e}: rename cannot merge two indexes") from e
    finally:
        store.close()
    out.print(f"{new}: now holds the {n:,} pairs, cursors and run history of {old!r}; its next pass reads both apps "
              "against them (a full pass: nothing is created twice)", markup=False, highlight=False)


@app.command()
def forget(old: str, config: ConfigOpt = Path("accord.yaml"),
           yes: Annotated[bool, typer.Option("--yes", help="drop them (default: say what would be dropped)")] = False) -> None:
    """Drop the index of a sync no longer in the config file (preview unless --yes)."""
    cfg = _load(config)
    store = _store(cfg)
    try:
        n = _old_pairs(cfg, store, old)
        if not yes:
            out.print(f"sync {old!r}: {n:,} pairs would be dropped from the index. A sync made over the same objects "
                      "then starts afresh: it matches records by key and creates the others again in both apps "
                      "(deals have no key: all of them). Run again with --yes to drop them.", markup=False, highlight=False)
            return
        store.delete_sync(old)
    finally:
        store.close()
    out.print(f"sync {old!r}: its {n:,} pairs are dropped from the index", markup=False, highlight=False)


@app.command()
def erase(
    who: Annotated[str, typer.Argument(help="the person: an e-mail (a record's label) or a record id of either app")],
    config: ConfigOpt = Path("accord.yaml"),
    sync: Annotated[list[str] | None, typer.Option("--sync", help="only this sync (repeatable)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="drop them (default: say what would be dropped)")] = False,
) -> None:
    """Erase a person from the index (GDPR), once deleted in the apps (preview unless --yes)."""
    from accord.index.erase import erase as erase_person
    from accord.index.leases import SyncBusy
    from accord.model import Side

    cfg = _load(config, require_apps=False)
    unknown = [n for n in sync or [] if n not in {s.name for s in cfg.syncs}]
    if unknown:
        raise _fail(EXIT_CONFIG, f"--sync {unknown[0]!r}: no such sync in {config}")
    syncs = {s.name: {Side.LEFT: s.left.app, Side.RIGHT: s.right.app} for s in cfg.syncs
             if not sync or s.name in sync}
    store = _store(cfg)
    try:
        done = erase_person(store, syncs, who, apply=yes)
    except SyncBusy as e:
        raise _fail(EXIT_ERROR, f"{e}: run `accord erase` again when its pass is done") from e
    finally:
        store.close()
    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    for name, rows in done.dropped.items():
        verb = "dropped from" if yes else "would be dropped from"
        say(f"sync {name!r}: {len(rows)} row{'s' if len(rows) != 1 else ''} of {who!r} {verb} the index")
    for name, kept in done.kept.items():
        for _, why in kept:
            say(f"sync {name!r}: a row of {who!r} is kept, {why}")
    if not done.dropped and not done.kept:
        say(f"{who!r}: nothing in the index names it (an e-mail must match a record's label exactly)")
    elif done.dropped and not yes:
        say("Run again with --yes to drop them.")
    if done.kept:
        raise typer.Exit(EXIT_ERROR)


@app.command("copy-index")
def copy_index(
    to: Annotated[str, typer.Argument(help="the new index's database URL (postgresql+psycopg://… or sqlite:///…), empty")],
    config: ConfigOpt = Path("accord.yaml"),
) -> None:
    """Copy the whole index to another database (SQLite to PostgreSQL); then point state: at it."""
    from accord.index import Store
    from accord.index.copy import CopyRefused
    from accord.index.copy import copy_index as copy
    from accord.index.store import IndexUnavailable

    cfg = _load(config, require_apps=False)
    source = _store(cfg)
    try:
        target = Store(to)
    except IndexUnavailable as e:
        source.close()
        raise _fail(EXIT_UNREACHABLE if e.unreachable else EXIT_CONFIG, redact.scrub(f"{to}: {e}")) from e
    try:
        done = copy(source, target)
    except CopyRefused as e:
        raise _fail(EXIT_CONFIG, str(e)) from e
    finally:
        source.close()
        target.close()
    total = sum(done.rows.values())
    out.print(f"copied {total:,} rows ({done.rows.get('links', 0):,} pairs) in {done.seconds:.1f} s to {redact.scrub(to)}",
              markup=False, highlight=False)
    out.print(f"Next: stop every Accord process using {cfg.state!r}, set `state:` in {cfg.source} to the new URL and "
              "start them again. Keep the old index until then: nothing is deleted from it.",
              markup=False, highlight=False, soft_wrap=True)


def _toggle(config: Path, name: str, enabled: bool) -> None:
    cfg = _load(config)
    _selected(cfg, name)
    if enabled and not cfg.sync(name).enabled:
        raise _fail(EXIT_CONFIG, f"{cfg.source}: sync {name!r} has enabled: false there, which always wins: "
                                 "remove that line (or set it to true) to turn it on")
    store = _store(cfg)
    from accord.config import config_hash, sync_sides

    store.ensure_sync(name, config_hash(cfg.sync(name)), enabled, sync_sides(cfg.sync(name)))
    store.set_enabled(name, enabled)
    store.close()
    out.print(f"{name}: {'enabled' if enabled else 'disabled'}")


@app.command()
def enable(name: str, config: ConfigOpt = Path("accord.yaml")) -> None:
    """Turn a sync on."""
    _toggle(config, name, True)


@app.command()
def disable(name: str, config: ConfigOpt = Path("accord.yaml")) -> None:
    """Turn a sync off without losing its index."""
    _toggle(config, name, False)


@app.command()
def run(
    config: ConfigOpt = Path("accord.yaml"),
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8080,
    reconcile: Annotated[str, typer.Option("--reconcile", help="full reconciliation period, e.g. 1d, 6h")] = "1d",
    secret_key_file: Annotated[Path | None, typer.Option(
        "--secret-key-file", help="key sealing app credentials stored by the service "
        "(default: accord.key beside the config, created 0600; ACCORD_SECRET_KEY wins)")] = None,
    temporal: TemporalOpt = None,
    namespace: NamespaceOpt = "default",
    task_queue: TaskQueueOpt = "accord",
    api_docs: Annotated[bool, typer.Option(
        "--api-docs", help="serve the interactive API docs at /docs (Swagger UI, loaded from a CDN)")] = False,
) -> None:
    """The service: scheduler, webhook receivers, REST API, dashboard and /metrics."""
    import os

    from accord.config import parse_duration
    from accord.index.store import IndexUnavailable
    from accord.service import StartupError, serve
    from accord.service.web import MIN_TOKEN_LENGTH

    if config.exists():
        cfg = _load(config, require_apps=False)  # apps may all be connected on the dashboard
    else:
        from accord.config import empty_config

        cfg = empty_config(config)
        out.print(f"No {config}: starting with no apps and no syncs; connect apps on the dashboard's Apps page "
                  "(/apps).", markup=False, highlight=False, soft_wrap=True)
    try:
        period = parse_duration(reconcile)
    except ValueError as e:
        raise _fail(EXIT_CONFIG, f"--reconcile: {e}") from e
    token = os.environ.get("ACCORD_API_TOKEN", "")
    if token and len(token.strip()) < MIN_TOKEN_LENGTH:
        raise _fail(EXIT_CONFIG, f"ACCORD_API_TOKEN: {len(token.strip())} characters is too short to resist guessing; "
                    f"use at least {MIN_TOKEN_LENGTH} random characters (e.g. openssl rand -base64 24), "
                    "or unset it to have one generated")
    if temporal:
        _require_postgres(cfg)
    try:
        serve(cfg, host=host, port=port, reconcile=period, key_file=secret_key_file, token=token.strip(),
              say=lambda m: out.print(m, markup=False, highlight=False, soft_wrap=True),
              temporal=temporal, namespace=namespace, task_queue=task_queue, api_docs=api_docs)
    except StartupError as e:
        raise _fail(EXIT_CONFIG, f"{e.key}: {e}") from e
    except IndexUnavailable as e:
        raise _index_failure(cfg, e) from e


TemporalOpt = Annotated[str | None, typer.Option(
    "--temporal", help="HOST:PORT of a Temporal frontend: run distributed (the index must be on PostgreSQL)")]
NamespaceOpt = Annotated[str, typer.Option("--namespace", help="Temporal namespace")]
TaskQueueOpt = Annotated[str, typer.Option("--task-queue", help="Temporal task queue shared by the workers")]


def _require_postgres(cfg: Config) -> None:
    from accord.distributed import DistributedError, require_postgres

    try:
        require_postgres(cfg)
    except DistributedError as e:
        raise _fail(EXIT_CONFIG, str(e)) from e


@app.command()
def worker(
    temporal: Annotated[str, typer.Option("--temporal", help="HOST:PORT of a Temporal frontend")],
    config: ConfigOpt = Path("accord.yaml"),
    namespace: NamespaceOpt = "default",
    task_queue: TaskQueueOpt = "accord",
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="activities run at once")] = 8,
    # hidden: the tests' worker started before Temporal retries sooner than the 5 s default
    connect_retry: Annotated[float | None, typer.Option("--connect-retry", min=0.1, hidden=True)] = None,
) -> None:
    """A Temporal worker: runs the sync workflows' passes (start as many as you need; docs/deploy.md)."""
    import logging

    from accord.distributed.client import CONNECT_RETRY
    from accord.distributed.worker import run_worker

    cfg = _load(config)
    _require_postgres(cfg)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "alembic"):  # a line per API call / migration step drowns what matters
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        asyncio.run(run_worker(cfg, temporal, namespace=namespace, task_queue=task_queue, concurrency=concurrency,
                               say=lambda m: out.print(m, markup=False, highlight=False, soft_wrap=True),
                               connect_retry=connect_retry or CONNECT_RETRY))
    except (ConnectionError, RuntimeError) as e:
        raise _fail(EXIT_UNREACHABLE, f"Temporal at {temporal}: {e}") from e


@app.command()
def demo(
    records: Annotated[int, typer.Option("--records", help="records per object and app")] = 1000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="exit after the summary")] = False,
    port: Annotated[int, typer.Option("--port")] = 8080,
    state: Annotated[str | None, typer.Option("--state", help="index URL (default: a temporary SQLite file)")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 7,
) -> None:
    """Seed two apps with overlapping, conflicting records, sync them, show the summary, keep syncing."""
    from accord.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(records=records, serve=not no_serve, port=port, state=state, seed=seed,
                                          console=out, progress=progress_bar)))


@app.command()
def sandbox(
    vendors: Annotated[list[str], typer.Argument(help="hubspot, salesforce, snovio and/or xentral")],
    port: Annotated[int, typer.Option("--port", help="first port; further vendors take the next ones")] = 8101,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    records: Annotated[int, typer.Option("--records", help="records seeded per object (0 = empty)")] = 100,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    token: Annotated[str | None, typer.Option("--token", help="accept only this bearer token")] = None,
    token_ttl: Annotated[float | None, typer.Option(
        "--token-ttl", help="seconds an OAuth access token lives (HubSpot, Salesforce, Snov.io), e.g. 30 to "
        "watch renewals", min=1)] = None,
) -> None:
    """Run vendor API sandboxes over HTTP (Salesforce over TLS, as its clients require)."""
    from accord.connectors import registry

    available = registry.with_sandbox()
    unknown = [v for v in vendors if v not in available]
    if unknown:
        raise _fail(EXIT_CONFIG, f"unknown sandbox {unknown[0]!r}; available: {', '.join(available)}")
    served_by = {v: registry.vendor(v).sandbox for v in vendors}
    lasting = [v for v, box in served_by.items() if token_ttl is not None and box is not None and not box.expiring]
    if lasting:
        raise _fail(EXIT_CONFIG, f"--token-ttl: the {lasting[0]} sandbox's tokens do not expire")
    if len(vendors) > 1:
        from accord.sandbox.launcher import run_together

        # one process per vendor; SIGTERM/SIGINT (or one of them exiting) stops them all
        code = run_together([[sys.executable, "-m", "accord.cli", "sandbox", v, "--port", str(port + i), "--host", host,
                              "--records", str(records), "--seed", str(seed), *(["--token", token] if token else []),
                              *(["--token-ttl", str(token_ttl)] if token_ttl is not None else [])]
                             for i, v in enumerate(vendors)])
        if code:
            raise typer.Exit(code)
        return
    served = registry.vendor(vendors[0]).sandbox
    assert served is not None
    if served.banner:
        out.print(served.banner.format(host=host, port=port, records=records))
    served.serve(host=host, port=port, records=records, seed=seed, token=token, token_ttl=token_ttl)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
