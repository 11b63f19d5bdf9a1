"""accord.yaml reloaded while the service runs: when the file changes, or on SIGHUP.

The new file is validated first — by the same rules as ``accord check``: the file's own rules
with key paths, then every added or changed sync compiled against both apps' live schemas
(nothing is written to an app). A file that fails is refused: the error is logged and shown
on the dashboard, and the running configuration is kept. A file that passes is applied like
a restart would: added syncs start, changed ones stop after their current batch and start
their initial sync again (records are matched, not created twice), removed ones stop (their
index is kept, as after a restart). The index (``state:``) cannot change without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accord import redact
from accord.config import Config, ConfigError, ConfigIssue, load_config
from accord.service.core import Service
from accord.session import Session

log = logging.getLogger("accord.service")


@dataclass
class ReloadOutcome:
    """The last reload's result, for the log and the dashboard."""

    ok: bool
    message: str
    at: float


class ConfigReloader:
    """Watches ``path`` (every ``interval`` seconds) and reloads it on change or SIGHUP."""

    def __init__(self, service: Service, path: str | Path, *, interval: float = 2.0,
                 say: Callable[[str], None] | None = None) -> None:
        self.service = service
        self.say = say  # `accord run` prints a reload on its terminal (its errors are logged)
        self.path = Path(path)
        self.interval = interval
        self.last: ReloadOutcome | None = None
        self._digest = self._read_digest()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def problem(self) -> str | None:
        """Why the file on disk is not the running configuration (None: it is)."""
        return self.last.message if self.last is not None and not self.last.ok else None

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="config-reloader")
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
            # only the main thread's loop can handle signals (tests serve from another thread)
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.trigger)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def trigger(self) -> None:
        """SIGHUP: reload now, even if the file looks unchanged."""
        self._digest = None
        self._wake.set()

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            digest = self._read_digest()
            if digest is None or digest == self._digest:
                continue  # unchanged, or missing for a moment (an editor replacing it)
            self._digest = digest
            try:
                await self.reload()
            except Exception:  # never let the watcher die: the next change tries again
                log.exception("reloading %s failed", self.path)

    # -- one reload --------------------------------------------------------------------------
    async def reload(self) -> ReloadOutcome:
        """Validate the file and switch to it, or refuse it and keep the running configuration."""
        async with self._lock:
            try:
                new = load_config(self.path)
                if new.state != self.service.registry.file_cfg.state:
                    raise ConfigError(str(self.path), [ConfigIssue("state", "the index cannot change while the service "
                                                                     "runs; restart accord run to use another one")])
                changed = await self._check(new)
            except ConfigError as e:
                problems = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in e.issues)
                self.last = ReloadOutcome(False, f"{self.path} was not reloaded (the running configuration is kept): "
                                                 f"{problems}", time.time())
                log.error("%s", self.last.message)
                return self.last
            self.last = ReloadOutcome(True, f"{self.path} reloaded: {changed}", time.time())
            log.info("%s", self.last.message)
            if self.say is not None:
                self.say(self.last.message)
            return self.last

    async def _check(self, new: Config) -> str:
        """Check the added and changed syncs against the apps' schemas; then switch. Returns what changed."""
        svc = self.service
        old_file = svc.registry.file_cfg
        svc.registry.file_cfg = new
        try:
            merged = svc.registry.current()
        finally:
            svc.registry.file_cfg = old_file
        running = {s.name: s for s in svc.cfg.syncs}
        changed_apps = {a for a in merged.apps if merged.apps[a] != svc.cfg.apps.get(a)}
        touched = [s.name for s in merged.syncs if running.get(s.name) != s or {s.left.app, s.right.app} & changed_apps]
        await _compile(svc, merged, touched, changed_apps, str(self.path))
        removed = [n for n in running if n not in {s.name for s in merged.syncs}]
        svc.registry.file_cfg = new
        await svc.reload(merged, forget=False)
        parts = [f"{'added or changed' if touched else 'no sync changed'}{': ' + ', '.join(touched) if touched else ''}"]
        if removed:
            parts.append(f"stopped: {', '.join(removed)}")
        return "; ".join(parts)


async def _compile(svc: Service, cfg: Config, names: list[str], changed_apps: set[str], file: str) -> None:
    """Compile ``names`` against both apps' live schemas (read only), with the new credentials of
    ``changed_apps``; ConfigError names the sync's key paths in the file."""
    keep = {a: c for a, c in svc.session.connectors.items() if a in cfg.apps and a not in changed_apps}
    scratch = Session(cfg, store=svc.store, connectors=keep)
    try:
        for name in names:
            runner = scratch.runner(name)
            try:
                await runner.prepare(write=False)
            except ConfigError as e:
                raise ConfigError(file, [ConfigIssue(i.path, i.message) for i in e.issues]) from e
            except Exception as e:  # an app that cannot be reached or refuses the credentials
                raise ConfigError(file, [ConfigIssue(runner.ctx.path, redact.scrub(
                    f"cannot read the apps' schemas: {type(e).__name__}: {e}"))]) from e
    finally:
        for app, conn in scratch.connectors.items():
            if keep.get(app) is not conn:
                with contextlib.suppress(Exception):
                    await conn.aclose()
